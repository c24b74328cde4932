"""Who is acting. Passed explicitly into every service."""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select

from ...domain.codes import is_credit_code
from ...domain.errors import NotAuthenticated
from ...extensions import db
from ...models import User
from ...models.accounts import ApplicantProfile


@dataclass(frozen=True)
class Actor:
    id: int | None
    username: str
    kind: str                     # staff | applicant | system
    groups: frozenset = field(default_factory=frozenset)
    display_name: str = ""
    region_code: str = "320000"
    #: how this request's user was identified (app/services/identity/assurance.py) and the level reached
    auth_method: str = "token"
    assurance: int = 1

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


SYSTEM = Actor(id=None, username="system", kind="system", groups=frozenset({"admin"}), display_name="系统",
               auth_method="system", assurance=3)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def actor_from_user(user: User) -> Actor:
    return Actor(id=user.id, username=user.username, kind=user.kind, groups=frozenset(user.groups or ()),
                 display_name=user.display_name, region_code=user.region_code or "320000")


TOKEN_CACHE_SECONDS = 5.0


def actor_for_token(token: str | None) -> Actor:
    """The actor owning an API bearer token. Raises NotAuthenticated.

    A valid token's actor is remembered for TOKEN_CACHE_SECONDS in this process (one query less per
    request); a revoked token or a changed group stops working within that time."""
    if not token:
        raise NotAuthenticated("需要登录 (missing bearer token)")
    digest = hash_token(token)
    cache = current_app.extensions.setdefault("token_cache", {})
    hit = cache.get(digest)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    row = db.session.execute(select(User.id, User.username, User.kind, User.groups, User.display_name, User.active,
                             User.region_code)
                             .where(User.token_hash == digest)).first()
    if row is None or not row.active:
        cache.pop(digest, None)
        raise NotAuthenticated("令牌无效 (invalid token)")
    actor = Actor(id=row.id, username=row.username, kind=row.kind, groups=frozenset(row.groups or ()),
                  display_name=row.display_name, region_code=row.region_code or "320000")
    if len(cache) > 10_000:
        cache.clear()
    cache[digest] = (now + TOKEN_CACHE_SECONDS, actor)
    return actor


def verified_credit_code(user_id: int | None) -> str | None:
    """The verified 统一社会信用代码 of an applicant account (an enterprise's profile, or the ``users``
    row that mirrors it), None for an individual or an account without one. What an applicant types
    into a form never counts: the project owner check and the 前置事项 check both read this."""
    if user_id is None:
        return None
    profile = db.session.get(ApplicantProfile, user_id)
    if profile is not None:
        ok = profile.kind == "enterprise" and is_credit_code(profile.credit_code or "")
        return profile.credit_code if ok else None
    user = db.session.get(User, user_id)
    return user.org_code if user is not None and is_credit_code(user.org_code or "") else None
