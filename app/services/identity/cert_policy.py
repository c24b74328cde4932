"""Per-role policy of certificate sign-in (kept in ``cert_role_policies``, edited at /admin/users/policy):
a role can require its holders to sign in with a certificate (their password sign-in is refused), and can
require HIGH assurance (a certificate sign-in) for their decisions. Also the audit of every change to
bindings and policy (``cert_audit``).

This module imports no other sign-in module: the password sign-in (auth.py) asks it whether a user may
use a password at all."""
from __future__ import annotations

import time

from flask import current_app
from sqlalchemy import select

from ...domain.errors import NotAuthenticated, NotAuthorized, ValidationError
from ...domain.org import ROLES
from ...extensions import db
from ...models.certs import CertAudit, CertRolePolicy
from ..common.clock import clock_now
from .assurance import HIGH, LOW

CERTIFICATE_REQUIRED = ("您的角色要求使用数字证书登录，不能使用密码登录：请插入数字证书（USB Key），"
                        "在登录页点击“数字证书登录” (certificate sign-in required for your role)")


class CertificateRequired(NotAuthenticated):
    """A right password of a user whose role requires certificate sign-in."""

    def __init__(self):
        super().__init__(CERTIFICATE_REQUIRED, details={"reason": "certificate_required"})


def roles_of(groups) -> set[str]:
    """The role codes behind candidate groups (the inverse of app.domain.org.group_for)."""
    roles = set()
    for group in groups or ():
        if group == "window":
            roles.add("window_clerk")
        elif group in ROLES and not ROLES[group][2]:
            roles.add(group)
        elif group.endswith("_chief"):
            roles.add("chief")
        elif group.endswith("_liaison"):
            roles.add("liaison")
        else:
            roles.add("handler")
    return roles


def policies() -> dict[str, CertRolePolicy]:
    return {p.role_code: p for p in db.session.execute(select(CertRolePolicy)).scalars()}


POLICY_CACHE_SECONDS = 5.0  # another process's policy change is seen within this time; this process's at once


def _cache() -> dict:
    return current_app.extensions.setdefault("cert_policy_cache", {})


def _policy_flags() -> dict[str, tuple[bool, bool]]:
    """role code → (require_certificate, decision_high), read at most every POLICY_CACHE_SECONDS per process:
    the check runs on every task completion, which should not cost a statement."""
    now = time.monotonic()
    hit = _cache().get("flags")
    if hit is not None and hit[0] > now:
        return hit[1]
    flags = {row.role_code: (bool(row.require_certificate), bool(row.decision_high)) for row in db.session.execute(
        select(CertRolePolicy.role_code, CertRolePolicy.require_certificate, CertRolePolicy.decision_high))}
    _cache()["flags"] = (now + POLICY_CACHE_SECONDS, flags)
    return flags


def _matching(groups) -> list[tuple[bool, bool]]:
    roles = roles_of(groups)
    if not roles:
        return []
    flags = _policy_flags()
    return [flags[role] for role in roles if role in flags]


def certificate_required(groups) -> bool:
    """Whether a user with these candidate groups must sign in with a certificate."""
    return any(require for require, _high in _matching(groups))


def refuse_password(user) -> None:
    """Raise CertificateRequired when ``user`` (a staff ``User`` whose password was right) must use
    a certificate instead."""
    if user.kind == "staff" and certificate_required(user.groups):
        raise CertificateRequired()


def decision_assurance_required(actor) -> int:
    """The level of assurance (assurance.py) the actor's decisions need: HIGH when a role the actor
    holds asks for it (or requires certificate sign-in altogether), else LOW. The task completion path
    calls ``assurance.require(actor, decision_assurance_required(actor), "作出决定")``."""
    if actor is None or not getattr(actor, "is_staff", False):
        return LOW
    return HIGH if any(require or high for require, high in _matching(actor.groups)) else LOW


def audit(actor, action: str, user_id: int | None, detail: str) -> None:
    """One audit row (in the caller's transaction)."""
    db.session.add(CertAudit(at=clock_now(), actor=(getattr(actor, "username", None) or "system")[:64],
                             action=action, user_id=user_id, detail=detail[:1000]))


def audit_log(user_id: int | None = None, limit: int = 50) -> list[CertAudit]:
    query = select(CertAudit).order_by(CertAudit.at.desc(), CertAudit.id.desc()).limit(limit)
    if user_id is not None:
        query = query.where(CertAudit.user_id == user_id)
    return list(db.session.execute(query).scalars())


def set_policy(actor, role_code: str, *, require_certificate: bool, decision_high: bool) -> CertRolePolicy:
    """Set a role's policy (administrators only), audited. Commits."""
    if actor is None or not actor.is_admin:
        raise NotAuthorized("只有系统管理员可以设置证书登录策略 (administrators only)")
    if role_code not in ROLES:
        raise ValidationError("角色不存在 (unknown role)", details={"role": ["角色不存在"]})
    try:
        policy = db.session.get(CertRolePolicy, role_code)
        if policy is None:
            policy = CertRolePolicy(role_code=role_code)
            db.session.add(policy)
        policy.require_certificate, policy.decision_high = bool(require_certificate), bool(decision_high)
        policy.updated_by, policy.updated_at = actor.username[:64], clock_now()
        audit(actor, "policy", None, f"{role_code} ({ROLES[role_code][0]}): 须证书登录={'是' if require_certificate else '否'}"
                                     f"，决定须高等级认证={'是' if decision_high else '否'}")
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    _cache().clear()
    return policy
