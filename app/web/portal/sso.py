"""Sign-in through the province's unified identity platform (统一身份认证): OpenID Connect and the
CAS-style ticket flow (app/services/docking/sso*.py), for applicants.

- ``/portal/sso/<oidc|cas>/login``: to the provider (``next``: where to go after; ``link=1``: link
  the identity to the signed-in account instead of signing in; ``staff=1``: a staff member signs in
  by a linked identity — only with IDENTITY_STAFF);
- ``/portal/sso/<oidc|cas>/callback``: back from it; the pending request (state, nonce, PKCE
  verifier) is taken out of the session first, so a callback is good once. A good identity gets the
  portal's own sign-in session (``_fresh_session``: uid and session version) plus ``sso`` — how the
  applicant signed in (provider, 法人/自然人, level, name), shown in the portal's navigation;
- sign-out: the header's ``POST /logout`` (app/web/auth.py) is followed by ``/portal/sso/signed-out``
  when the session came from the identity platform: the local session is already ended there, and
  the page sends the browser on to the provider's logout (a page, not a redirect: the form-action
  CSP would stop a form's redirect to another site).

Every refusal (state, ticket, token, signature, provider down, attributes, account mismatch) is a
page with the zh_CN message and its code; no session is made and nothing is written."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for

from ...services.common.clock import clock_now
from ...services.docking import sso, sso_cas, sso_oidc
from ...services.identity.assurance import LOW, SUBSTANTIAL
from ...services.identity.auth import end_sessions
from ..auth import _fresh_session, _safe_next, current_actor, sign_in

bp = Blueprint("portal_sso", __name__, template_folder="templates")
PROTOCOLS = {"oidc": sso_oidc, "cas": sso_cas}


def _error(exc: sso.SsoError):
    return render_template("portal_sso/error.html", message=exc.message, code=exc.code), exc.status


def _protocol(name: str):
    module = PROTOCOLS.get(name)
    if module is None or not module.configured():
        raise sso.SsoError("not_configured", "本平台未配置该统一身份认证方式", 404)
    return module


def _callback(name: str) -> str:
    return url_for("portal_sso.callback", protocol=name, _external=True)


@bp.get("/portal/sso/<protocol>/login")
def login(protocol):
    """``link=1``: link to the signed-in account; ``staff=1``: a staff sign-in (IDENTITY_STAFF)."""
    mode = "link" if request.args.get("link") == "1" else "staff" if request.args.get("staff") == "1" else "applicant"
    try:
        module = _protocol(protocol)
        actor = current_actor()
        if mode == "staff" and not current_app.config.get("IDENTITY_STAFF"):
            raise sso.SsoError("not_configured", "本平台未开放工作人员通过统一身份认证登录", 404)
        if mode == "link" and (actor is None or not (actor.is_applicant or (
                actor.is_staff and current_app.config.get("IDENTITY_STAFF")))):
            raise sso.SsoError("account_inactive", "请先登录本平台账户，再关联统一身份认证", 401)
        url, pending = module.begin(_callback(protocol))
    except sso.SsoError as exc:
        return _error(exc)
    home = url_for("inbox.index") if mode == "staff" else url_for("portal.catalog_page")
    pending.update(p=protocol, mode=mode, next=_safe_next(request.args.get("next") or home))
    session["sso_pending"] = pending
    return redirect(url)


#: the longest ID token kept in the session (signed cookie, 4 KB in all) as the logout's id_token_hint
ID_TOKEN_KEPT_MAX = 1800


@bp.get("/portal/sso/<protocol>/callback")
def callback(protocol):
    pending = session.pop("sso_pending", None)  # good once, whatever comes of it
    if not isinstance(pending, dict) or pending.get("p") != protocol:
        pending = None
    id_token = None
    try:
        module = _protocol(protocol)
        if module is sso_oidc:
            identity, id_token = sso_oidc.finish(_callback(protocol), pending, request.args)
        else:
            identity = sso_cas.finish(pending, request.args)
        if pending.get("mode") == "link":
            return _link(identity)
        if pending.get("mode") == "staff":
            if not current_app.config.get("IDENTITY_STAFF"):
                raise sso.SsoError("not_configured", "本平台未开放工作人员通过统一身份认证登录", 404)
            result = sso.sign_in_staff(identity)
        else:
            result = sso.sign_in(identity)
    except sso.SsoError as exc:
        return _error(exc)
    record = result.session_record()
    if id_token and len(id_token) > ID_TOKEN_KEPT_MAX:  # the cookie holds 4 KB: a big token is not kept,
        id_token = None                                   # the logout then goes by client_id alone (RP-initiated)
    if result.second_factor:  # TOTP enrolled: the sign-in waits for the code (app/web/auth.py)
        _fresh_session(pending_uid=result.actor.id, pending_at=clock_now().timestamp(), pending_next=pending["next"],
                       sso_after_code=dict(record, h=id_token, a=result.assurance))
        return redirect(url_for("auth.login_code"))
    sign_in(result.actor.id, "sso", level=result.assurance, sso=dict(record, h=id_token))
    if result.origin == "created":
        flash("已通过统一身份认证创建申请人账户，请在“个人资料”中补充联系人等信息", "ok")
    return redirect(pending["next"])


def _link(identity: sso.Identity):
    actor = current_actor()
    if actor is None:
        raise sso.SsoError("account_inactive", "登录已失效，请重新登录后再关联", 401)
    if actor.is_staff:
        if not current_app.config.get("IDENTITY_STAFF"):
            raise sso.SsoError("not_configured", "本平台未开放工作人员通过统一身份认证登录", 404)
        sso.link_staff(actor, identity)
        target = url_for("auth.security")
    else:
        sso.link_account(actor, identity)
        target = url_for("portal.profile")
    flash(f"已关联统一身份认证：{identity.kind_label} · {identity.name}", "ok")
    return redirect(target)


def _provider_logout(record: dict) -> str | None:
    back = url_for("portal.catalog_page", _external=True)
    if record.get("p") == "oidc" and sso_oidc.configured():
        return sso_oidc.logout_url(record.get("h"), back)
    if record.get("p") == "cas" and sso_cas.configured():
        return sso_cas.logout_url(back)
    return None


@bp.post("/portal/sso/logout")
def logout():
    """Sign out here (every session of the user, as /logout does) and then at the provider."""
    actor = current_actor()
    record = session.get("sso") or {}
    if actor is not None:
        end_sessions(actor.id)
    session.clear()
    session["sso_signed_out"] = {"p": record.get("p"), "h": record.get("h")}
    return redirect(url_for("portal_sso.signed_out"))


@bp.get("/portal/sso/signed-out")
def signed_out():
    record = session.pop("sso_signed_out", None) or {}
    target = _provider_logout(record) if record.get("p") else None
    if target is None:
        return redirect(url_for("portal.catalog_page"))
    return render_template("portal_sso/signed_out.html", target=target)


# -- hooks on the app's own sign-out and second step ------------------------------------------------
@bp.before_app_request
def _remember_sso():
    if request.method == "POST" and request.endpoint == "auth.logout":
        g.sso_ending = session.get("sso")
    elif request.method == "POST" and request.endpoint == "auth.login_code":
        g.sso_after_code = session.get("sso_after_code")


@bp.after_app_request
def _carry_sso(response):
    ending, after_code = g.get("sso_ending"), g.get("sso_after_code")
    if ending and response.status_code in (301, 302, 303) and "uid" not in session:
        session["sso_signed_out"] = {"p": ending.get("p"), "h": ending.get("h")}
        response.headers["Location"] = url_for("portal_sso.signed_out")
    elif after_code and response.status_code in (302, 303) and session.get("uid") == after_code.get("u"):
        session["sso"] = after_code
        # the code came after the identity platform: keep its level (at least SUBSTANTIAL, two factors)
        session["amr"], session["loa"] = "sso+totp", max(int(after_code.get("a") or LOW), SUBSTANTIAL)
    return response


@bp.app_context_processor
def _sso_globals():
    def sso_badge():
        """How the signed-in applicant signed in, when through the identity platform."""
        record = session.get("sso")
        actor = current_actor()
        if not isinstance(record, dict) or actor is None or record.get("u") != actor.id:
            return None
        return {"kind": sso.KINDS.get(record.get("k"), ""), "name": record.get("n") or "",
                "level": record.get("l") or "", "provider": record.get("p")}

    def sso_providers():
        return [name for name, module in PROTOCOLS.items() if module.configured()]

    def sso_links():
        return sso.linked_identities(current_actor())

    def sso_staff_providers():
        return sso_providers() if current_app.config.get("IDENTITY_STAFF") else []
    return {"sso_badge": sso_badge, "sso_providers": sso_providers, "sso_links": sso_links,
            "sso_staff_providers": sso_staff_providers}
