"""Notices to people, written to the notification outbox in the caller's transaction (delivered
later by a sender job; SMS through Twilio in the portal issue). Idempotent by key."""
from __future__ import annotations

from flask import current_app

from ...extensions import db
from ...models import Case, Notification, User
from ..common.clock import clock_now
from ..common.db_support import insert_once
from .phones import normalize_phone

TEMPLATES = {
    "special_procedure": "【阳光发改】您的办件{case_no}已进入特别程序（{kind}），预计{duration}{unit}，期间不计入审批时限。原因：{reason}",
    "extension": "【阳光发改】经委领导批准，您的办件{case_no}审批期限延长{days}个工作日，延长后期限为{due}。理由：{reason}",
    "warning_yellow": "【督办提醒】办件{case_no}「{step}」将于{due}到期，请及时办理。",
    "warning_red": "【超期警告】办件{case_no}「{step}」已超过期限{due}，请立即办理并说明情况。",
    "urge": "【催办】办件{case_no}「{step}」请尽快办理。",
    "assigned": "【待办】办件{case_no}「{step}」已交由您办理。",
    "returned": "【退回】办件{case_no}已退回至「{step}」，理由：{reason}",
    # the applicant's moments (DOMAIN.md §5); the SMS helper module may refine the wording
    "submitted": "【阳光发改】您的申请「{matter}」已提交，办件编号{case_no}。可凭办件编号和短信验证码查询进度。",
    "received": "【阳光发改】办件{case_no}的材料已收讫，电子回执已出具，承诺办结日期{promised_due}。",
    "accepted": "【阳光发改】您的办件{case_no}已受理，承诺于{promised_due}前办结。",
    "correction_requested": "【阳光发改】您的办件{case_no}需补正材料{count}项，请登录查看一次性告知书并补正，补正期间不计入审批时限。",
    "decided": "【阳光发改】您的办件{case_no}已办结，结果：{result}。请登录查看并对本次服务进行评价。",
    "result_sent": "【阳光发改】您的办件{case_no}的办理结果原件已寄出，快递单号{tracking_no}。",
    "verification_code": "【阳光发改】您的验证码为{code}，{minutes}分钟内有效，仅用于{purpose}，请勿告诉他人。",
}


def sms_configured() -> bool:
    """Twilio settings present: SMS are sent; otherwise they stay in the development outbox."""
    cfg = current_app.config
    return bool(cfg.get("TWILIO_ACCOUNT_SID") and cfg.get("TWILIO_AUTH_TOKEN")
                and (cfg.get("TWILIO_FROM_NUMBER") or cfg.get("TWILIO_MESSAGING_SERVICE_SID")))


def _add(key: str, channel: str, recipient: str, template: str, case: Case | None, **values) -> bool:
    text = TEMPLATES[template].format(case_no=case.case_no if case else "", **values)
    now = clock_now()
    # an SMS waits for the sender job (pending) or, without Twilio settings, stays in the dev outbox
    status = "pending" if channel != "sms" or sms_configured() else "dev"
    return insert_once(Notification, "key", key=key[:160], channel=channel, recipient=recipient[:64],
                       template=template, case_id=case.id if case else None, text=text, payload=values,
                       created_at=now, status=status, attempts=0, next_attempt_at=now if channel == "sms" else None)


def notify_phone(phone: str, template: str, key: str, **values) -> bool:
    """An SMS to a phone number (E.164) that is not tied to a case (verification codes). In the
    caller's transaction; idempotent by ``key``; True when written now."""
    return _add(f"{key}:sms", "sms", phone, template, None, **values)


def notify_applicant(case: Case, template: str, key: str, **values) -> None:
    """In-app notice to the applicant, and an SMS to their phone (account, or the form's contact).
    A case forwarded in from a lower level's platform (转报) sends no SMS: the applicant hears of it
    from the platform they applied to, which passes each level's step on (one SMS per moment)."""
    user = db.session.get(User, case.applicant_id)
    _add(f"{key}:internal", "internal", user.username if user else str(case.applicant_id), template, case, **values)
    if case.origin_region:
        return
    phone = (user.phone if user else None) or (case.data or {}).get("contact_phone")
    if phone and isinstance(phone, str):
        _add(f"{key}:sms", "sms", normalize_phone(phone) or phone.strip(), template, case, **values)


def notify_staff(case: Case | None, recipients: list[str], template: str, key: str, **values) -> None:
    """In-app notices to users or groups (``g:<group>``)."""
    for recipient in recipients:
        _add(f"{key}:{recipient}", "internal", recipient, template, case, **values)
