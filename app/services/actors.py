"""Who is acting. Passed explicitly into every service."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from sqlalchemy import select

from ..domain.errors import NotAuthenticated
from ..extensions import db
from ..models import User


@dataclass(frozen=True)
class Actor:
    id: int | None
    username: str
    kind: str                     # staff | applicant | system
    groups: frozenset = field(default_factory=frozenset)
    display_name: str = ""

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"

    @property
    def is_applicant(self) -> bool:
        return self.kind == "applicant"

    @property
    def is_admin(self) -> bool:
        return "admin" in self.groups or self.kind == "system"

    @property
    def is_inspector(self) -> bool:
        return "inspector" in self.groups


SYSTEM = Actor(id=None, username="system", kind="system", groups=frozenset({"admin"}), display_name="系统")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def actor_from_user(user: User) -> Actor:
    return Actor(id=user.id, username=user.username, kind=user.kind, groups=frozenset(user.groups or ()),
                 display_name=user.display_name)


def actor_for_token(token: str | None) -> Actor:
    """The actor owning an API bearer token. Raises NotAuthenticated."""
    if not token:
        raise NotAuthenticated("需要登录 (missing bearer token)")
    row = db.session.execute(select(User.id, User.username, User.kind, User.groups, User.display_name, User.active)
                             .where(User.token_hash == hash_token(token))).first()
    if row is None or not row.active:
        raise NotAuthenticated("令牌无效 (invalid token)")
    return Actor(id=row.id, username=row.username, kind=row.kind, groups=frozenset(row.groups or ()),
                 display_name=row.display_name)
