"""Mobile identity in the browser (issue 17): sign a phone in from a session the user already has,
and the list of the user's signed-in devices.

PC side (signed in): ``/account/devices`` lists the live sessions (method, level, since, user agent)
with 「退出该设备」, the phones' pending one-time requests (approve / refuse), and 「在手机上登录」,
which shows a QR code of a one-time URL (``/account/devices/qr/<id>``, on PUBLIC_BASE_URL when
configured); when a phone has opened it the page asks 「确认在手机上登录？」 with the phone's user agent
and address. Approving (a QR code or a pending request) needs the 6-digit code shown on the phone,
typed in (services/identity/mobile.decide: never shown on the approving screen; 3 wrong codes deny the
request); refusing needs none.

Phone side (no session needed): ``/m/qr/<token>`` (the QR code's URL; a button, so that a link
preview cannot use the token up), ``/m/login`` (user name → a one-time request his trusted devices
see), ``/m/wait`` (the code; reloads until decided, signs in once approved: methods mobile-qr / mobile-link, level
capped at SUBSTANTIAL, app/services/identity/assurance.py).

Every signed-in session carries its trusted device's id (``did``): a request hook checks the user,
the session version and the device in one statement (services/identity/devices.session_actor) and
puts the actor in ``g`` for ``current_actor``; a signed-in session without one — signed in by
password, certificate, SSO or SMS code, or from before devices were kept — gets its device row at the
end of its request (the one that signed it in, else its next successful one), so no session goes on
unchecked.
The waiting pages (the PC's QR page, the phone's) reload themselves every 2 seconds (no script)."""
from __future__ import annotations

from dataclasses import replace

from flask import (Blueprint, current_app, flash, g, redirect, render_template, request, session,
                   url_for)
from markupsafe import Markup

from ..domain.errors import Conflict, NotFound, RateLimited, ValidationError
from ..services.identity import devices, mobile
from ..services.common.urls import public_url
from ..services.identity.assurance import describe, level_of
from . import i18n
from .auth import _qr_svg, client_ip, current_actor, login_required, sign_in

bp = Blueprint("auth_mobile", __name__, template_folder="templates")
PHONE_KEY = "mreq"     # the phone's session: {"r": request id, "s": binding secret}
QR_KEY = "mqr"         # the PC's session: {"r": request id, "t": URL token} while the QR code is shown

# msgids shown through _() from data: marked for `scripts/i18n extract`; English in app/translations
_MSGIDS = (i18n.N_("认证等级"), i18n.N_("设备"), i18n.N_("已同意该手机登录"), i18n.N_("返回"), i18n.N_("登录请求已被拒绝"),
    i18n.N_("登录请求已失效，请重新发起"), i18n.N_("未认证"), i18n.N_("一般"), i18n.N_("较高"), i18n.N_("高"), i18n.N_("密码 + 动态验证码"),
    i18n.N_("统一身份认证 + 动态验证码"), i18n.N_("扫码登录（手机）"), i18n.N_("一次性链接（手机）"), i18n.N_("访问令牌"))


# -- the device check on every request ---------------------------------------------------------------
@bp.before_app_request
def _device_gate():
    """A session carrying a device id is valid only while that device is not ended (one without gets
    its row at the end of this request: ``_device_register``)."""
    uid, did = session.get("uid"), session.get("did")
    if uid is None or did is None:
        return
    if "actor" in g:  # someone asked before us: check the device on its own
        ok = g.actor is not None and devices.is_active(did, uid)
        actor = g.actor if ok else None
    else:
        actor, state = devices.session_actor(uid, session.get("sv"), did)
        if state == "foreign":
            session.pop("did", None)  # not this user's: the session gets a row of its own (_device_register)
        if actor is not None:
            method = session.get("amr") or "password"
            actor = replace(actor, auth_method=method, assurance=int(session.get("loa") or level_of(method)))
    if actor is None:
        for key in ("uid", "sv", "did", "amr", "loa"):
            session.pop(key, None)
    g.actor = actor


@bp.after_app_request
def _device_register(response):
    """A signed-in session without a device id gets its trusted device row: one signed in by this
    request, or one from before devices were kept (or whose row could not be written) on its next
    successful request — from then on it is checked like every other (``_device_gate``). A refused
    request (4xx, 5xx) writes nothing: bad input changes nothing."""
    uid = session.get("uid")
    if uid is None or session.get("did") or response.status_code >= 400:
        return response
    try:
        if g.get("actor") is None or g.actor.id != session.get("uid"):
            g.pop("actor", None)  # worked out before this request signed in: ask again
        actor = current_actor()
        if actor is not None and actor.id == session.get("uid"):
            method = session.get("amr") or "password"
            session["did"] = devices.register(actor.id, method, int(session.get("loa") or level_of(method)),
                                              request.user_agent.string, client_ip())
    except Exception:  # never turn a page into an error for the bookkeeping
        current_app.logger.exception("trusted device not recorded")
    return response


@bp.app_context_processor
def _assurance_globals():
    def session_assurance() -> str:
        """"扫码登录（手机）/较高": how this session was identified, and its level."""
        actor = current_actor()
        if actor is None:
            return ""
        method, level = describe(actor.auth_method, actor.assurance).split("/", 1)
        return f"{i18n.gettext(method)}/{i18n.gettext(level)}"
    return {"session_assurance": session_assurance}


# -- a device by name: "Chrome · Linux" from its User-Agent (the raw string stays in a title) ------------
_BROWSERS = (("MicroMessenger", "WeChat"), ("Edg", "Edge"), ("OPR", "Opera"), ("Firefox", "Firefox"),
             ("FxiOS", "Firefox"), ("CriOS", "Chrome"), ("HeadlessChrome", "Chrome"), ("Chrome", "Chrome"),
             ("Version", "Safari"))
_SYSTEMS = (("iPhone", "iPhone"), ("iPad", "iPad"), ("HarmonyOS", "HarmonyOS"), ("Android", "Android"),
            ("CrOS", "ChromeOS"), ("Windows", "Windows"), ("Mac OS X", "macOS"), ("Macintosh", "macOS"),
            ("Linux", "Linux"))


@bp.app_template_filter("device_name")
def device_name(user_agent: str | None) -> str:
    """The browser and system a User-Agent names ("Chrome · Linux", "Safari · iPhone"); 未知设备 when neither."""
    ua = user_agent or ""
    browser = next((name for token, name in _BROWSERS if f"{token}/" in ua), None)
    system = next((name for token, name in _SYSTEMS if token in ua), None)
    return " · ".join(p for p in (browser, system) if p) or i18n.gettext("未知设备")


# -- PC side: the devices page, the QR code, decisions -----------------------------------------------
def _own_device() -> str:
    """This session's trusted device id (a session signed in before devices were kept gets one now)."""
    if not session.get("did"):
        actor = current_actor()
        session["did"] = devices.register(actor.id, actor.auth_method, actor.assurance, request.user_agent.string,
                                          client_ip())
    return session["did"]


def _staff(actor) -> bool:
    return actor.is_staff


@bp.get("/account/devices")
@login_required()
def devices_page():
    return _devices_page()


def _devices_page(status: int = 200, error: str | None = None):
    actor = current_actor()
    return render_template("mobile/devices.html", devices=devices.list_for(actor, session.get("did")),
                           pending=mobile.pending_for(actor) if actor.is_staff else [], error=error), status


@bp.post("/account/devices/qr")
@login_required(_staff)
def qr_start():
    try:
        started = mobile.start_qr(current_actor(), _own_device())
    except (Conflict, RateLimited) as exc:
        return _devices_page(exc.status, exc.message)
    session[QR_KEY] = {"r": started.request_id, "t": started.secret}
    return redirect(url_for("auth_mobile.qr_page", request_id=started.request_id))


@bp.get("/account/devices/qr/<request_id>")
@login_required(_staff)
def qr_page(request_id):
    try:
        view = mobile.request_for(current_actor(), request_id)
    except NotFound as exc:
        return _devices_page(404, exc.message)
    return _qr_page(view)


def _qr_page(view: dict, status: int = 200, error: str | None = None):
    shown = session.get(QR_KEY) or {}
    url = qr = None
    if view["status"] == "waiting" and shown.get("r") == view["id"]:
        url = public_url(url_for("auth_mobile.phone_qr", token=shown.get("t", "")))
        qr = Markup(_qr_svg(url))
    return render_template("mobile/qr.html", req=view, url=url, qr=qr, error=error), status


@bp.post("/account/devices/requests/<request_id>/decide")
@login_required(_staff)
def decide(request_id):
    approve = request.form.get("decision") == "approve"
    try:
        result = mobile.decide(current_actor(), _own_device(), request_id, approve, request.form.get("code"))
    except ValidationError as exc:  # a wrong or missing code: ask again where it was typed
        if session.get(QR_KEY, {}).get("r") == request_id:
            return _qr_page(mobile.request_for(current_actor(), request_id), exc.status, exc.message)
        return _devices_page(exc.status, exc.message)
    except (NotFound, Conflict) as exc:
        return _devices_page(exc.status, exc.message)
    if session.get(QR_KEY, {}).get("r") == request_id:
        session.pop(QR_KEY, None)
        return redirect(url_for("auth_mobile.qr_page", request_id=request_id))
    flash("已同意该手机登录" if result["status"] == "approved" else "已拒绝该登录请求", "ok")
    return redirect(url_for("auth_mobile.devices_page"))


@bp.post("/account/devices/<device_id>/end")
@login_required()
def end_device(device_id):
    try:
        devices.end(current_actor(), device_id)
    except NotFound as exc:
        return _devices_page(404, exc.message)
    if device_id == session.get("did"):
        session.clear()
        return redirect(url_for("auth.login"))
    return redirect(url_for("auth_mobile.devices_page"))


# -- phone side ----------------------------------------------------------------------------------------
def _phone_page(template: str, status: int = 200, **values):
    return render_template(template, **values), status


@bp.route("/m/qr/<token>", methods=["GET", "POST"])
def phone_qr(token):
    if request.method == "GET":
        return _phone_page("mobile/phone_open.html", token=token)
    try:
        started = mobile.open_qr(token, request.user_agent.string, client_ip())
    except NotFound as exc:
        return _phone_page("mobile/phone_done.html", 410, message=exc.message)
    session[PHONE_KEY] = {"r": started.request_id, "s": started.secret, "c": started.code}
    return redirect(url_for("auth_mobile.phone_wait"))


@bp.route("/m/login", methods=["GET", "POST"])
def phone_login():
    if request.method == "GET":
        return _phone_page("mobile/phone_login.html", error=None)
    try:
        started = mobile.start_link(request.form.get("username", ""), request.user_agent.string, client_ip())
    except (ValidationError, RateLimited) as exc:
        response = current_app.make_response(_phone_page("mobile/phone_login.html", exc.status, error=exc.message))
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    session[PHONE_KEY] = {"r": started.request_id, "s": started.secret, "c": started.code}
    return redirect(url_for("auth_mobile.phone_wait"))


def _phone_request() -> tuple[str | None, str | None]:
    held = session.get(PHONE_KEY)
    if not isinstance(held, dict):
        return None, None
    return held.get("r"), held.get("s")


@bp.get("/m/wait")
def phone_wait():
    request_id, secret = _phone_request()
    if request_id is None:
        return redirect(url_for("auth_mobile.phone_login"))
    state = mobile.phone_state(request_id, secret)
    if state == "approved":
        try:
            done = mobile.collect(request_id, secret, request.user_agent.string, client_ip())
        except Conflict as exc:
            session.pop(PHONE_KEY, None)
            return _phone_page("mobile/phone_done.html", 409, message=exc.message)
        sign_in(done.user_id, done.method, level=done.level, did=done.device_id)
        return redirect(url_for("inbox.index"))
    if state == "opened":
        return _phone_page("mobile/phone_wait.html", code=session[PHONE_KEY].get("c", ""))
    session.pop(PHONE_KEY, None)
    message = "登录请求已被拒绝" if state == "denied" else "登录请求已失效，请重新发起"
    return _phone_page("mobile/phone_done.html", 403 if state == "denied" else 410, message=message)
