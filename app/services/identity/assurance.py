"""How a user was identified, and how sure we are (level of assurance, LoA).

Every browser session records the sign-in method (``amr``) and its level (``loa``) beside the user id;
the actor of a request carries both (``Actor.auth_method`` / ``Actor.assurance``). Sensitive operations
(decisions where a role's policy asks for it, seals) call :func:`require` with the level they need.

Levels, after the usual three (eIDAS / GB/T 31504 style):
- 1 LOW: something you know (password; an SMS code of an applicant)
- 2 SUBSTANTIAL: two factors (password + TOTP), or a phone confirmed by a trusted session
- 3 HIGH: a key you hold in hardware (a CA certificate on a USB key), or the unified identity's
  real-name verification where it says so
"""
from __future__ import annotations

from ...domain.errors import NotAuthorized

LOW, SUBSTANTIAL, HIGH = 1, 2, 3
LEVEL_NAMES = {0: "未认证", LOW: "一般", SUBSTANTIAL: "较高", HIGH: "高"}

#: sign-in method → its level (a method not listed counts as LOW)
METHODS = {
    "password": LOW,
    "sms": LOW,
    "password+totp": SUBSTANTIAL,
    "certificate": HIGH,
    "sso": LOW,            # raised by the identity provider's own claim (app/services/docking/sso*.py)
    "sso+totp": SUBSTANTIAL,  # the identity platform, then the account's own TOTP code
    "mobile-qr": SUBSTANTIAL,
    "mobile-link": SUBSTANTIAL,
    "token": LOW,          # an API bearer token
    "system": HIGH,
}
METHOD_NAMES = {"password": "密码", "sms": "短信验证码", "password+totp": "密码 + 动态验证码",
                "certificate": "数字证书", "sso": "统一身份认证", "sso+totp": "统一身份认证 + 动态验证码", "mobile-qr": "扫码登录（手机）",
                "mobile-link": "一次性链接（手机）", "token": "访问令牌", "system": "系统"}


#: a phone signed in by a trusted session gets at most this level: it is a second device vouched for
#: by the first, not a key held in hardware — the USB key (HIGH) stays with the PC, and a session
#: confirmed from a HIGH session must not turn a lost phone into a HIGH credential
PHONE_CAP = SUBSTANTIAL

#: operations that always need more than a password, for the callers to name. Decisions are not here:
#: their level is the per-role policy's (cert_policy.decision_assurance_required, checked on every completion)
SENSITIVE = {"seal": HIGH, "certificate-binding": SUBSTANTIAL}
SENSITIVE_NAMES = {"seal": "加盖电子印章", "certificate-binding": "绑定数字证书"}

#: the unified identity platform's level claim (OIDC ``acr``, the CAS ``level`` attribute) → our level;
#: IDENTITY_ACR_LEVELS in the configuration replaces it. "L3" = real-name verified with face
#: recognition (实人认证), "L2" = real-name verified and signed in with a second factor (实名核验 + 短信),
#: "L1" = registered only; a claim the map does not name counts as LOW
DEFAULT_ACR_LEVELS = {"L1": LOW, "L2": SUBSTANTIAL, "L3": HIGH}


def level_of(method: str | None) -> int:
    return METHODS.get(method or "", LOW)


def require(actor, level: int, what: str) -> None:
    """Refuse ``what`` unless the actor's sign-in reached ``level``."""
    if actor.assurance < level:
        raise NotAuthorized(
            f"{what}需要{LEVEL_NAMES[level]}等级的身份认证（当前：{METHOD_NAMES.get(actor.auth_method, '未知')}，"
            f"{LEVEL_NAMES.get(actor.assurance, '未认证')}）：请使用数字证书登录后再操作")


def phone_level(confirming_level: int) -> int:
    """The level of a phone session confirmed by a session of ``confirming_level`` (never above PHONE_CAP)."""
    return max(LOW, min(int(confirming_level or LOW), PHONE_CAP))


def level_for_acr(acr: str | None, mapping: dict | None = None) -> int:
    """Our level for the identity provider's claim (LOW for a claim the map does not name)."""
    table = DEFAULT_ACR_LEVELS if mapping is None else mapping
    value = table.get((acr or "").strip(), LOW)
    try:
        value = int(value)
    except (TypeError, ValueError):
        return LOW
    return value if value in (LOW, SUBSTANTIAL, HIGH) else LOW


def describe(method: str | None, level: int | None) -> str:
    """"扫码登录（手机）/较高": how a session was identified and its level, for pages."""
    return f"{METHOD_NAMES.get(method or '', method or '未知')}/{LEVEL_NAMES.get(int(level or 0), '未认证')}"


def allows(actor, operation: str) -> bool:
    """Whether the actor's sign-in is strong enough for ``operation`` (a key of SENSITIVE): for pages
    to offer the step-up (certificate sign-in) before the user tries."""
    return actor is not None and actor.assurance >= SENSITIVE.get(operation, LOW)


def require_for(actor, operation: str) -> None:
    """``require`` for a named sensitive operation (SENSITIVE): raises NotAuthorized with the step-up
    advice when the sign-in is not strong enough."""
    require(actor, SENSITIVE.get(operation, HIGH), SENSITIVE_NAMES.get(operation, operation))
