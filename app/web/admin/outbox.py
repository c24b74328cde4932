"""The development SMS outbox (/dev/outbox) and Twilio's status callback (/api/twilio/status).

Without Twilio settings (the embedded default) SMS are not sent; this page shows them so that a
person trying the platform can read the code "sent to their phone" — but it holds every code,
sign-in codes of any phone included, so it answers only administrators, or, in development
(``is_development``), a request made on this machine (a loopback address, not passed on by a
proxy). Everyone else gets 404. With Twilio configured only administrators see it, codes masked."""
from __future__ import annotations

from ipaddress import ip_address

from flask import Blueprint, abort, current_app, render_template, request

from ...config import is_development
from ...services.common.clock import BEIJING
from ...services.messaging.notify import sms_configured
from ...services.messaging.sms import apply_status_callback, recent_sms
from .. import i18n
from ..auth import current_actor

bp = Blueprint("outbox", __name__, template_folder="templates")

# msgids shown through _() from data: marked for `scripts/i18n extract`; English in app/translations
_MSGIDS = (i18n.N_("短信内容"), i18n.N_("发送状态"), i18n.N_("开发模式（未发送）"), i18n.N_("待发送"), i18n.N_("已发送"), i18n.N_("发送失败"))

STATUS_TEXT = {"dev": "开发模式（未发送）", "pending": "待发送", "sending": "发送中", "sent": "已发送", "failed": "发送失败"}


def _from_this_machine() -> bool:
    """A loopback client that no proxy stands in for (a proxy on this host would make everyone local)."""
    if any(request.headers.get(h) for h in ("X-Forwarded-For", "X-Real-IP", "Forwarded")):
        return False
    try:
        return ip_address((request.remote_addr or "").split("%")[0]).is_loopback
    except ValueError:
        return False


def _may_read_outbox(actor) -> bool:
    if actor is not None and actor.is_admin:
        return True
    return not sms_configured() and is_development(current_app.config) and _from_this_machine()


@bp.get("/dev/outbox")
def dev_outbox():
    if not _may_read_outbox(current_actor()):
        abort(404)
    phone = (request.args.get("phone") or "").strip()[:32]
    rows = recent_sms(phone or None, limit=100)
    if sms_configured():  # real phones get real codes: nobody (admins included) reads one here
        rows = [_masked(n) for n in rows]
    return render_template("outbox/index.html", rows=rows, phone=phone, configured=sms_configured(),
                           status_text=STATUS_TEXT, tz=BEIJING)


def _masked(n):
    """A read-only copy of an outbox row with any verification code hidden (the row is not touched)."""
    from types import SimpleNamespace

    from ...services.messaging.sms import mask_code
    fields = {c.key: getattr(n, c.key) for c in n.__table__.columns}
    fields["text"] = mask_code(n.text or "")
    return SimpleNamespace(**fields)


@bp.post("/api/twilio/status")
def twilio_status():
    """Twilio's StatusCallback: checks X-Twilio-Signature against TWILIO_STATUS_CALLBACK_URL (the URL
    Twilio was given) or this request's URL, then records MessageStatus for MessageSid."""
    from twilio.request_validator import RequestValidator
    if not sms_configured():
        abort(404)
    url = current_app.config.get("TWILIO_STATUS_CALLBACK_URL") or request.url
    params = request.form.to_dict()
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not RequestValidator(current_app.config["TWILIO_AUTH_TOKEN"]).validate(url, params, signature):
        abort(403)
    found = apply_status_callback(params.get("MessageSid", ""), params.get("MessageStatus", ""),
                                  params.get("ErrorCode") or None)
    return ("", 204) if found else ("", 404)
