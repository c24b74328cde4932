"""The 省市县 network: the other platforms this deployment exchanges cases with (its peers)."""
from sqlalchemy import Boolean, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow


class FederationPeer(db.Model):
    """Another level's platform: its region (GB/T 2260), level, base URL and the public key its
    messages are signed with. A disabled peer's messages are refused and none are sent to it."""
    __tablename__ = "federation_peers"
    region: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    level: Mapped[str] = mapped_column(String(8))  # province | city | county
    base_url: Mapped[str] = mapped_column(String(300))
    #: ``ed25519:<base64 of the 32-byte raw public key>``
    public_key: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at = mapped_column(UTCDateTime, default=utcnow)
    updated_at = mapped_column(UTCDateTime, default=utcnow)
    last_ping_at = mapped_column(UTCDateTime, nullable=True)
    last_ping_error: Mapped[str | None] = mapped_column(Text, nullable=True)
