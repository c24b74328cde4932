"""Browser sign-in (session cookie) with an optional TOTP second step, the account security page
(enroll / disable TOTP), and CSRF protection of every HTML form.

A signed-in session holds the user id and the user's session version (``sv``); every request checks
the version against the database (``current_actor``), so sign-out and a password change end every
copy of the cookie on the server side. The session cookie is HttpOnly, SameSite=Lax and, outside
development, Secure (app/config.py)."""
from __future__ import annotations

import secrets
from dataclasses import replace
from functools import wraps

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for
from markupsafe import Markup

from ..domain.errors import Conflict, NotAuthenticated, NotAuthorized, RateLimited, ValidationError
from ..services.common.clock import clock_now
from ..services.identity.assurance import level_of
from ..services.identity.auth import (AccountLocked, BadCredentials, SecondFactorRequired, actor_for_session,
                                      authenticate, end_sessions, session_version, take_password_changes,
                                      verify_second_factor)
from . import i18n

bp = Blueprint("auth", __name__, template_folder="templates")
PENDING_SECONDS = 300  # how long a correct password waits for its code



def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """Every state-changing HTML request carries the session's token (the JSON API uses bearer tokens)."""
    if request.method in {"POST", "PUT", "PATCH", "DELETE"} and not request.path.startswith("/api/"):
        sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token")
        expected = session.get("csrf", "")
        # compared as bytes: compare_digest refuses str with non-ASCII characters (a 500 otherwise)
        if not sent or not isinstance(expected, str) or not secrets.compare_digest(
                sent.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")):
            abort(400, description="表单已过期，请刷新页面后重试 (CSRF token missing or wrong)")


def current_actor():
    """The signed-in actor, or None — also when the session's version is no longer the user's (it
    was signed out, or the password changed, since: the cookie may be a captured copy)."""
    if "actor" not in g:
        g.actor = actor_for_session(session.get("uid"), session.get("sv"))
        if g.actor is not None:
            method = session.get("amr") or "password"
            g.actor = replace(g.actor, auth_method=method, assurance=int(session.get("loa") or level_of(method)))
        if g.actor is None and "uid" in session:
            session.pop("uid", None)
            session.pop("sv", None)
    return g.actor


@bp.after_app_request
def keep_own_session(response):
    """A password change ends every session of its user (services.identity.auth.set_password) — but
    the session that made the change, its user's own, carries on with the new version."""
    changed = take_password_changes()
    actor = g.get("actor")
    if changed and actor is not None and actor.id in changed and session.get("uid") == actor.id:
        session["sv"] = session_version(actor.id)
    return response


def client_ip() -> str:
    """The address sign-in attempts are counted by (the proxy's, unless one in front sets remote_addr)."""
    return (request.remote_addr or "unknown")[:64]


def login_url(next_path: str) -> str:
    """Where to sign in: applicants' pages (the portal) have their own sign-in by SMS code."""
    endpoint = "portal.login" if request.path.startswith(("/portal", "/progress", "/p/")) else "auth.login"
    return url_for(endpoint, next=next_path)


def login_required(check=None):
    """Page decorator: sign-in required, and ``check(actor)`` must hold (else 403)."""
    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            actor = current_actor()
            if actor is None:
                return redirect(login_url(request.full_path))
            if check is not None and not check(actor):
                raise NotAuthorized("无权访问该页面")
            return view(*args, **kwargs)
        return wrapped
    return decorate


def _safe_next(target: str | None) -> str:
    target = target or "/"
    # browsers drop tabs and newlines inside a URL and read "\\" as "/": "/\t/evil.example" is "//evil.example"
    if not target.startswith("/") or target.startswith("//") or any(c < " " or c in "\\\x7f" for c in target):
        return "/"
    return target


#: groups that are platform roles, not approval work (a user holding only these has no 待办 of note)
_NON_WORK_GROUPS = frozenset({"designer", "inspector", "admin"})


def landing_url(actor) -> str:
    """Where a user lands after sign-in when no page asked for one: administrators on the admin
    page, staff with approval work on their 工作台, designers on /designer, inspectors on
    /supervision, applicants on 我的办件."""
    if actor is None:
        return "/"
    if actor.is_applicant:
        return url_for("portal_cases.my_cases")
    if actor.is_admin:
        return url_for("admin_matters.index")
    groups = set(actor.groups)
    if groups - _NON_WORK_GROUPS or not groups:
        return url_for("home.workbench")
    if "designer" in groups:
        return url_for("designer.index")
    return url_for("supervision.index")


def _landing(actor, target: str | None) -> str:
    """The page asked for (``next``), else the actor's own landing page."""
    target = _safe_next(target)
    return landing_url(actor) if target == "/" else target


def sign_in(uid: int, method: str, level: int | None = None, **values) -> None:
    """A new signed-in session of ``uid``, recording how the user was identified (``amr``) and the
    level of assurance reached (``loa``, app/services/identity/assurance.py)."""
    _fresh_session(uid=uid, amr=method, loa=level if level is not None else level_of(method), **values)


def _fresh_session(**values) -> None:
    """A new session (nothing planted before sign-in survives) holding ``values``; a signed-in
    ``uid`` or a ``pending_uid`` gets the user's current session version beside it."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    if values.get("uid") and "sv" not in values:
        values["sv"] = session_version(values["uid"])
    if values.get("pending_uid") and "pending_sv" not in values:
        values["pending_sv"] = session_version(values["pending_uid"])
    session.update(values)


def _refused(template: str, exc: NotAuthenticated | RateLimited):
    """The sign-in page again with the error: 401, or 429 with Retry-After."""
    response = current_app.make_response((render_template(template, error=exc.message), exc.status))
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Staff sign-in. An unknown user, a wrong password and a locked account get the same page;
    failed attempts per IP address are limited (429)."""
    if request.method == "POST":
        try:
            actor = authenticate(request.form.get("username", ""), request.form.get("password", ""), client_ip())
        except SecondFactorRequired as exc:
            _fresh_session(pending_uid=exc.user_id, pending_sv=exc.version, pending_at=clock_now().timestamp(),
                           pending_next=_safe_next(request.args.get("next")))
            return redirect(url_for("auth.login_code"))
        except (NotAuthenticated, RateLimited) as exc:
            return _refused("auth/login.html", exc)
        sign_in(actor.id, "password")
        return redirect(_landing(actor, request.args.get("next")))
    return render_template("auth/login.html", error=None)


def _qr_svg(text: str) -> str:
    """An inline SVG QR code (segno, pure Python) for an authenticator app to scan."""
    import segno
    return segno.make(text, error="m").svg_inline(scale=4, border=2)


def _pending_uid() -> int | None:
    uid, at = session.get("pending_uid"), session.get("pending_at")
    if not uid or at is None or clock_now().timestamp() - float(at) > PENDING_SECONDS:
        return None
    return uid


@bp.route("/login/code", methods=["GET", "POST"])
def login_code():
    """The second step: a correct password is waiting in the session for the TOTP code."""
    uid = _pending_uid()
    if uid is None:
        _drop_pending()
        return redirect(url_for("auth.login"))
    if request.method == "POST":
        try:
            actor = verify_second_factor(uid, request.form.get("code", ""), client_ip(), session.get("pending_sv", 0))
        except (NotAuthenticated, RateLimited) as exc:
            if isinstance(exc, (AccountLocked, BadCredentials)):
                _drop_pending()  # locked or signed out meanwhile: the password has to be given again
            return _refused("auth/login_code.html", exc)
        target = session.get("pending_next")
        sign_in(actor.id, "password+totp")
        return redirect(_landing(actor, target))
    return render_template("auth/login_code.html", error=None)


def _drop_pending() -> None:
    for key in ("pending_uid", "pending_sv", "pending_at", "pending_next"):
        session.pop(key, None)


@bp.post("/logout")
def logout():
    """Sign out here and, server-side, everywhere: the user's session version goes up, so a copy of
    this cookie (or another browser's) no longer signs anyone in."""
    actor = current_actor()
    if actor is not None:
        end_sessions(actor.id)
    session.clear()
    return redirect(url_for("auth.login"))


@bp.get("/account/security")
@login_required()
def security():
    return _security_page()


def _security_page(status: int = 200, **extra):
    from ..domain import totp
    from ..services.identity.org import get_user
    user = get_user(current_actor().id)
    pending = None
    if not user.totp_enabled and user.totp_secret and session.get("enrolling"):
        uri = totp.otpauth_uri(user.totp_secret, user.username)
        pending = {"secret": user.totp_secret, "uri": uri, "qr": Markup(_qr_svg(uri))}
    return render_template("auth/security.html", user=user, pending=pending,
                           message=request.args.get("msg"), **extra), status


@bp.post("/account/security/enroll")
@login_required()
def security_enroll():
    from ..services.identity.org import begin_enrollment
    try:
        begin_enrollment(current_actor())
    except Conflict as exc:
        return _security_page(409, error=exc.message)
    session["enrolling"] = True
    return redirect(url_for("auth.security"))


@bp.post("/account/security/confirm")
@login_required()
def security_confirm():
    from ..services.identity.org import confirm_enrollment
    try:
        confirm_enrollment(current_actor(), request.form.get("code", ""))
    except (ValidationError, Conflict) as exc:
        return _security_page(422, error=exc.message)
    session.pop("enrolling", None)
    return redirect(url_for("auth.security", msg="两步验证已开启"))


@bp.post("/account/security/disable")
@login_required()
def security_disable():
    """Turning the second factor off asks for the password again."""
    from ..services.identity.auth import password_matches
    from ..services.identity.org import disable_totp
    if not password_matches(current_actor().id, request.form.get("password", "")):
        return _security_page(422, error="当前密码不正确 (wrong password)")
    disable_totp(current_actor(), current_actor().id)
    session.pop("enrolling", None)
    return redirect(url_for("auth.security", msg="两步验证已关闭"))
