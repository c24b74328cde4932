"""The development SMS outbox (/dev/outbox) and Twilio's status callback (/api/twilio/status).

Without Twilio settings (the embedded default) SMS are not sent; this page shows them so that a
person trying the platform can read the code "sent to their phone". With Twilio configured only
administrators see it (404 for everyone else)."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request

from ...services.common.clock import BEIJING
from ...services.messaging.notify import sms_configured
from ...services.messaging.sms import apply_status_callback, recent_sms
from .. import i18n
from ..auth import current_actor

bp = Blueprint("outbox", __name__, template_folder="templates")

i18n.EN.update({
    "短信发件箱（开发）": "SMS outbox (development)", "手机号": "Phone", "短信内容": "Text",
    "发送状态": "Status", "尝试次数": "Attempts", "错误": "Error", "按手机号筛选": "Filter by phone",
    "未配置短信通道，短信不会真正发出，仅在此显示。": "No SMS provider is configured: messages are not sent, only shown here.",
    "短信已通过 Twilio 发送，本页仅管理员可见。": "SMS are sent through Twilio; only administrators see this page.",
    "开发模式（未发送）": "Development (not sent)", "待发送": "Pending", "发送中": "Sending", "已发送": "Sent",
    "发送失败": "Failed", "暂无短信": "No SMS", "最近短信": "Recent SMS", "清除": "Clear",
})

STATUS_TEXT = {"dev": "开发模式（未发送）", "pending": "待发送", "sending": "发送中", "sent": "已发送", "failed": "发送失败"}


@bp.get("/dev/outbox")
def dev_outbox():
    actor = current_actor()
    if sms_configured() and not (actor and actor.is_admin):
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
