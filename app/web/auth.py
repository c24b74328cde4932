"""Browser sign-in (session cookie) with an optional TOTP second step, the account security page
(enroll / disable TOTP), and CSRF protection of every HTML form."""
from __future__ import annotations

import secrets
from functools import wraps

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for
from markupsafe import Markup

from ..domain.errors import Conflict, NotAuthenticated, NotAuthorized, ValidationError
from ..services.common.clock import clock_now
from ..services.identity.auth import SecondFactorRequired, actor_for_user_id, authenticate, verify_second_factor
from . import i18n

bp = Blueprint("auth", __name__, template_folder="templates")
PENDING_SECONDS = 300  # how long a correct password waits for its code

i18n.EN.update({
    "动态验证码": "One-time code", "两步验证": "Two-step verification", "验证": "Verify",
    "账户安全": "Account security", "已开启": "Enabled", "未开启": "Not enabled",
    "开启两步验证": "Enable two-step verification", "关闭两步验证": "Disable two-step verification",
    "密钥": "Secret", "确认开启": "Confirm", "取消": "Cancel", "当前密码": "Current password",
    "请输入身份验证器应用显示的 6 位数字": "Enter the 6 digits your authenticator app shows",
    "在身份验证器应用（如 Microsoft Authenticator、Google 身份验证器）中添加账户：扫描二维码，或手动输入下面的密钥，或打开下面的链接。":
        "Add an account in your authenticator app (Microsoft Authenticator, Google Authenticator…): "
        "scan the QR code, type the secret below or open the link.", "二维码": "QR code",
    "然后输入应用显示的 6 位数字确认。": "Then confirm with the 6 digits it shows.",
    "登录时除密码外还需输入身份验证器应用上的动态验证码。":
        "Signing in asks for the code of your authenticator app as well as the password.",
})


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """Every state-changing HTML request carries the session's token (the JSON API uses bearer tokens)."""
    if request.method in {"POST", "PUT", "PATCH", "DELETE"} and not request.path.startswith("/api/"):
        sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token")
        if not sent or not secrets.compare_digest(sent, session.get("csrf", "")):
            abort(400, description="表单已过期，请刷新页面后重试 (CSRF token missing or wrong)")


def current_actor():
    if "actor" not in g:
        g.actor = actor_for_user_id(session.get("uid"))
    return g.actor


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


def _fresh_session(**values) -> None:
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    session.update(values)


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        try:
            actor = authenticate(request.form.get("username", ""), request.form.get("password", ""))
        except SecondFactorRequired as exc:
            _fresh_session(pending_uid=exc.user_id, pending_at=clock_now().timestamp(),
                           pending_next=_safe_next(request.args.get("next")))
            return redirect(url_for("auth.login_code"))
        except NotAuthenticated as exc:
            error = exc.message
        else:
            _fresh_session(uid=actor.id)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", error=error), (401 if error else 200)


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
        for key in ("pending_uid", "pending_at", "pending_next"):
            session.pop(key, None)
        return redirect(url_for("auth.login"))
    error = None
    if request.method == "POST":
        try:
            actor = verify_second_factor(uid, request.form.get("code", ""))
        except NotAuthenticated as exc:
            error = exc.message
            if "锁定" in error:  # locked: the password has to be given again after the lock
                for key in ("pending_uid", "pending_at", "pending_next"):
                    session.pop(key, None)
        else:
            target = session.get("pending_next")
            _fresh_session(uid=actor.id)
            return redirect(_safe_next(target))
    return render_template("auth/login_code.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout():
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
