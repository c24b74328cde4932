"""Shared helpers of the portal tests (catalog, accounts, applying)."""
from __future__ import annotations

import io
import re

from sqlalchemy import select

from app.domain.codes import credit_code_check_char
from app.domain.idcodes import id_number_check_char
from app.extensions import db
from app.models import Notification, User
from app.models.accounts import ApplicantProfile

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64


def credit_code(body: str = "91320100MA1XYW12") -> str:
    first17 = (body + "0" * 17)[:17]
    return first17 + credit_code_check_char(first17)


def id_number(first17: str = "32010619900307123") -> str:
    return first17 + id_number_check_char(first17)


def wrong_check(code: str, alphabet: str = "0123456789") -> str:
    return code[:17] + next(c for c in alphabet if c != code[17])


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def last_code(app, mobile: str) -> str | None:
    """The verification code last sent to ``mobile`` (read from the notifications outbox)."""
    with app.app_context():
        row = db.session.execute(select(Notification).where(
            Notification.template == "verification_code", Notification.recipient == f"+86{mobile}")
            .order_by(Notification.id.desc())).scalars().first()
        return row.payload.get("code") if row else None


def make_applicant(app, mobile="13900000001", kind="enterprise", name="江苏示范能源有限公司", code=None) -> int:
    """An applicant account straight in the database (the registration itself is tested elsewhere)."""
    with app.app_context():
        user = User(username=f"ap-{mobile}", display_name=name, kind="applicant", groups=[], phone=mobile,
                    org_code=(code or credit_code()) if kind == "enterprise" else None)
        db.session.add(user)
        db.session.flush()
        db.session.add(ApplicantProfile(
            user_id=user.id, kind=kind, name=name, mobile=mobile,
            credit_code=(code or credit_code()) if kind == "enterprise" else None,
            id_number=id_number() if kind == "individual" else None,
            legal_representative="张三" if kind == "enterprise" else None, contact_person="李四"))
        db.session.commit()
        return user.id


def signed_in(app, user_id: int):
    """A test client whose session is that user's, with a known CSRF token ``t``."""
    c = app.test_client()
    with c.session_transaction() as s:
        s["uid"] = user_id
        s["csrf"] = "t"
    return c


def upload(data: bytes, name: str):
    return (io.BytesIO(data), name)
