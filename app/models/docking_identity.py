"""Docking (issue 15): unified identity (统一身份认证). An identity of the provincial identity
platform (``provider`` oidc | cas, and its ``subject``: the OIDC ``sub`` or the CAS user id) linked
to a local applicant account, once: later sign-ins find the account by this link
(app/services/docking/sso.py)."""
from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow


class DockingIdentity(db.Model):
    __tablename__ = "docking_identities"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))   # oidc | cas
    subject: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: as the provider asserted them at the last sign-in: enterprise (法人) | individual (自然人),
    #: the name, the level of assurance
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(32), default="")
    #: how the link was made: matched (an existing account, same code and mobile), created (a new
    #: account), linked (by the signed-in applicant from the profile page)
    origin: Mapped[str] = mapped_column(String(16))
    first_seen = mapped_column(UTCDateTime, default=utcnow)
    last_seen = mapped_column(UTCDateTime, default=utcnow)
    sign_ins: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (UniqueConstraint("provider", "subject", name="uq_docking_identities_subject"),
                      Index("ix_docking_identities_user", "user_id"))
