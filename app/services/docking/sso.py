"""Unified identity (统一身份认证): what the two protocols of the provincial identity platform share.

The protocol adapters (``sso_oidc``: OpenID Connect; ``sso_cas``: the CAS-style ticket flow) turn
what the provider answered into the attributes of ``check_identity``; this module checks them and
signs the applicant in:

- an identity already linked (table ``docking_identities``, by provider and subject) signs in to its
  account — as long as the account is active and still has the code the provider asserts;
- the first time, it is linked to the applicant account with the same 统一社会信用代码 (法人) or
  公民身份号码 (自然人) **and** the same verified mobile; an account with the code but another
  mobile is not linked (``mobile_mismatch``: sign in by SMS once and link on the profile page, or ask
  the hall) — a credit code alone proves nothing about who holds the account;
- with no account of that code, an account is made from the provider's attributes (as
  app/services/portal/applicants.register makes one), the mobile counting as verified by the
  provider; a mobile that already belongs to another account is refused (``mobile_taken``).

Every refusal is an ``SsoError`` (a machine-readable ``code``, a zh_CN message) raised before
anything is written. ``link_account`` links an identity to the signed-in applicant's own account
(profile page), when the provider asserts that account's code.

Staff (only with IDENTITY_STAFF, checked by the caller) sign in by a link only: their accounts hold
no ID number to match, so a staff member first signs in with the password and links the identity
(a natural person's) on the account security page (``link_staff``); ``sign_in_staff`` then goes by
that link. Nothing is ever created for staff."""
from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ...domain.errors import DomainError
from ...domain.idcodes import credit_code_problem, id_number_problem
from ...extensions import db
from ...models import User
from ...models.accounts import ApplicantProfile
from ...models.docking_identity import DockingIdentity
from ..common.clock import clock_now
from ..identity.actors import Actor, actor_from_user
from ..identity.assurance import level_for_acr
from ..portal.applicants import mobile_problem

PROVIDERS = {"oidc": "统一身份认证（OpenID Connect）", "cas": "统一身份认证（票据）"}
KINDS = {"enterprise": "法人", "individual": "自然人"}
#: how providers name the two kinds of user (法人 / 自然人); anything else is refused
KIND_ALIASES = {
    "enterprise": "enterprise", "legal": "enterprise", "legal_person": "enterprise", "corporation": "enterprise",
    "法人": "enterprise", "2": "enterprise",
    "individual": "individual", "natural": "individual", "natural_person": "individual", "person": "individual",
    "自然人": "individual", "1": "individual",
}
HALL = "如有疑问请联系政务服务大厅窗口"
#: how long a sign-in may stay at the provider (both protocols)
PENDING_SECONDS = 600
UNAVAILABLE = "统一身份认证平台暂时无法访问，请稍后再试，或使用短信验证码登录"


def protocol_settings(url_key: str, id_key: str, secret_key: str, timeout_key: str,
                      label: str) -> tuple[str, str, str, float]:
    """(base URL, client id / service code, secret, timeout) of one protocol; SsoError when it is not set."""
    cfg = current_app.config
    if not cfg.get(url_key):
        raise SsoError("not_configured", f"本平台未配置统一身份认证（{label}）", 404)
    return cfg[url_key].rstrip("/"), cfg[id_key], cfg[secret_key], float(cfg.get(timeout_key) or 10)


def check_state(pending: dict | None, args) -> None:
    """The callback's ``state`` against the one the session kept, within PENDING_SECONDS."""
    state = args.get("state") or ""
    if not isinstance(pending, dict) or not pending.get("s"):
        raise SsoError("state_mismatch", "登录请求已失效或不是从本平台发起，请重新登录", 400)
    if not hmac.compare_digest(str(pending["s"]).encode(), state.encode("utf-8", "surrogatepass")):
        raise SsoError("state_mismatch", "登录请求的 state 不符（可能是伪造的回调），已拒绝。请重新登录", 400)
    if time.time() - float(pending.get("t") or 0) > PENDING_SECONDS:
        raise SsoError("state_mismatch", "登录已超时，请重新登录", 400)


class SsoError(DomainError):
    """A unified-identity sign-in refused; ``code`` says why (state_mismatch, bad_ticket, bad_token,
    bad_signature, provider_unavailable, provider_refused, missing_attributes, bad_attributes,
    mobile_unverified, mobile_mismatch, mobile_taken, code_mismatch, account_inactive, subject_taken,
    not_linked, not_applicant, not_configured)."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.status = code, status


@dataclass(frozen=True)
class Identity:
    """An identity as the provider asserts it, checked."""
    provider: str
    subject: str
    kind: str            # enterprise (法人) | individual (自然人)
    name: str
    code: str            # 统一社会信用代码 (法人) or 公民身份号码 (自然人)
    mobile: str
    level: str = ""      # level of assurance (OIDC acr, the CAS platform's level)
    mobile_verified: bool = True
    legal_representative: str = ""

    @property
    def kind_label(self) -> str:
        return KINDS[self.kind]


@dataclass(frozen=True)
class SignIn:
    actor: Actor
    identity: Identity
    #: linked (by an earlier sign-in), matched (an existing account, linked now), created (a new account)
    origin: str
    second_factor: bool = False   # the account has a TOTP second factor: ask for it before signing in

    @property
    def assurance(self) -> int:
        """Our level of assurance for the provider's claim (``acr`` / CAS ``level``) by the configured
        IDENTITY_ACR_LEVELS map (default: assurance.DEFAULT_ACR_LEVELS, "L3" 实人认证 → HIGH)."""
        return level_for_acr(self.identity.level, current_app.config.get("IDENTITY_ACR_LEVELS"))

    def session_record(self) -> dict:
        """What the web session keeps to show how the applicant signed in."""
        return {"u": self.actor.id, "p": self.identity.provider, "k": self.identity.kind,
                "l": self.identity.level, "n": self.identity.name}


def _text(attrs: dict, key: str, limit: int) -> str:
    value = attrs.get(key)
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise SsoError("bad_attributes", f"统一身份认证平台返回的属性 {key} 格式不正确")
    value = value.strip()
    if len(value) > limit:
        raise SsoError("bad_attributes", f"统一身份认证平台返回的属性 {key} 过长")
    return value


def check_identity(provider: str, attrs: dict) -> Identity:
    """The provider's attributes (``subject``, ``kind``, ``name``, ``code``, ``mobile``, ``level``,
    ``mobile_verified``, ``legal_representative``), checked: the code by its check character, the
    mobile by its form. Raises SsoError missing_attributes / bad_attributes."""
    if provider not in PROVIDERS:
        raise SsoError("not_configured", "未知的统一身份认证方式")
    if not isinstance(attrs, dict):
        raise SsoError("bad_attributes", "统一身份认证平台返回的用户信息格式不正确")
    values = {k: _text(attrs, k, n) for k, n in (("subject", 255), ("kind", 32), ("name", 200), ("code", 18),
                                                   ("mobile", 20), ("level", 32), ("legal_representative", 50))}
    missing = [label for key, label in (("subject", "用户标识"), ("kind", "用户类型"), ("name", "名称"),
                                        ("code", "统一社会信用代码或身份证号码"), ("mobile", "手机号码"))
               if not values[key]]
    if missing:
        raise SsoError("missing_attributes", "统一身份认证平台未提供登录所需的信息：" + "、".join(missing)
                       + "。请在统一身份认证平台完善资料后再试，或使用短信验证码登录", 502)
    kind = KIND_ALIASES.get(values["kind"].lower())
    if kind is None:
        raise SsoError("bad_attributes", f"统一身份认证平台返回的用户类型 {values['kind'][:32]} 无法识别（应为法人或自然人）", 502)
    code = values["code"].upper()
    problem = credit_code_problem(code) if kind == "enterprise" else id_number_problem(code, clock_now().date())
    if problem:
        raise SsoError("bad_attributes", "统一身份认证平台返回的证件号码未通过校验：" + problem, 502)
    problem = mobile_problem(values["mobile"])
    if problem:
        raise SsoError("bad_attributes", "统一身份认证平台返回的手机号码未通过校验：" + problem, 502)
    verified = attrs.get("mobile_verified", True)  # absent: the platform verifies mobiles at registration
    verified = verified is True or (isinstance(verified, (str, int)) and str(verified).lower() in ("true", "1"))
    return Identity(provider, values["subject"], kind, values["name"], code, values["mobile"], values["level"],
                    verified, values["legal_representative"])


def _link(provider: str, subject: str) -> DockingIdentity | None:
    return db.session.execute(select(DockingIdentity).where(
        DockingIdentity.provider == provider, DockingIdentity.subject == subject)).scalar_one_or_none()


def _profile_by_code(identity: Identity) -> ApplicantProfile | None:
    column = ApplicantProfile.credit_code if identity.kind == "enterprise" else ApplicantProfile.id_number
    return db.session.execute(select(ApplicantProfile).where(column == identity.code)).scalar_one_or_none()


def _profile_code(profile: ApplicantProfile) -> str | None:
    return profile.credit_code if profile.kind == "enterprise" else profile.id_number


def _code_label(identity: Identity) -> str:
    return "统一社会信用代码" if identity.kind == "enterprise" else "身份证号码"


def _usable(user: User | None) -> User:
    if user is not None and user.kind == "staff":
        raise SsoError("not_applicant", "该统一身份认证账号已关联工作人员账户，请从工作人员登录页登录", 409)
    if user is None or not user.active or user.kind != "applicant":
        raise SsoError("account_inactive", "对应的申请人账户已停用，无法登录。" + HALL, 403)
    return user


def sign_in(identity: Identity) -> SignIn:
    """Sign the provider's identity in to its applicant account: by its link, else by the same code
    and verified mobile (and link it), else a new account. Raises SsoError (nothing written).
    Commits."""
    now = clock_now()
    link = _link(identity.provider, identity.subject)
    if link is not None:
        user = _usable(db.session.get(User, link.user_id))
        profile = db.session.get(ApplicantProfile, user.id)
        if profile is None or profile.kind != identity.kind or _profile_code(profile) != identity.code:
            raise SsoError("code_mismatch", f"统一身份认证平台返回的{_code_label(identity)}与已关联账户的不一致，"
                                            "已拒绝登录。" + HALL, 409)
        origin = "linked"
    else:
        profile = _profile_by_code(identity)
        if not identity.mobile_verified:
            raise SsoError("mobile_unverified", "统一身份认证平台尚未核验您的手机号码，无法关联或创建账户。"
                                                "请先在统一身份认证平台完成手机号核验，或使用短信验证码登录", 409)
        if profile is not None:
            user = _usable(db.session.get(User, profile.user_id))
            if profile.mobile != identity.mobile:
                raise SsoError("mobile_mismatch", f"本平台已有该{_code_label(identity)}的账户，但其验证手机号与统一身份"
                                                  "认证平台登记的手机号不一致，未自动关联。请先用短信验证码登录该账户，"
                                                  "在“个人资料”页关联统一身份认证；或联系政务服务大厅窗口", 409)
            origin = "matched"
        else:
            if db.session.execute(select(ApplicantProfile.user_id).where(
                    ApplicantProfile.mobile == identity.mobile)).first():
                raise SsoError("mobile_taken", "统一身份认证平台登记的手机号已是本平台另一账户的登录手机号，"
                                               "无法新建账户。请用短信验证码登录该账户，或联系政务服务大厅窗口", 409)
            user, origin = None, "created"
    try:
        if user is None:
            user = _create_account(identity, now)
        if link is None:
            link = DockingIdentity(provider=identity.provider, subject=identity.subject, user_id=user.id,
                                   kind=identity.kind, name=identity.name, level=identity.level, origin=origin,
                                   first_seen=now, last_seen=now, sign_ins=1)
            db.session.add(link)
        else:
            link.sign_ins = (link.sign_ins or 0) + 1
        link.name, link.level, link.last_seen = identity.name, identity.level, now
        db.session.commit()
    except IntegrityError:  # the same identity or account made by a sign-in at the same moment
        db.session.rollback()
        raise SsoError("conflict", "登录请求冲突，请重新登录", 409) from None
    except BaseException:
        db.session.rollback()
        raise
    return SignIn(actor_from_user(user), identity, origin, bool(user.totp_enabled))


def _create_account(identity: Identity, now) -> User:
    """A new applicant account as portal registration makes one (username ``ap-…``, the profile's
    name, mobile and code mirrored on the user). Flushes, does not commit."""
    enterprise = identity.kind == "enterprise"
    user = User(username=f"ap-{secrets.token_hex(6)}", display_name=identity.name, kind="applicant", groups=[],
                org_code=identity.code if enterprise else None, phone=identity.mobile, created_at=now)
    db.session.add(user)
    db.session.flush()
    db.session.add(ApplicantProfile(
        user_id=user.id, kind=identity.kind, name=identity.name,
        credit_code=identity.code if enterprise else None, id_number=None if enterprise else identity.code,
        legal_representative=(identity.legal_representative or None) if enterprise else None,
        contact_person=None if enterprise else identity.name, mobile=identity.mobile,
        created_at=now, updated_at=now))
    db.session.flush()
    return user


def link_account(actor: Actor, identity: Identity) -> DockingIdentity:
    """Link the identity to the signed-in applicant's own account (from the profile page): the
    provider must assert this account's kind and code; the identity must not be linked to another
    account. Raises SsoError. Commits."""
    profile = db.session.get(ApplicantProfile, actor.id) if actor and actor.is_applicant and actor.id else None
    if profile is None:
        raise SsoError("account_inactive", "只有申请人账户可以关联统一身份认证", 403)
    if profile.kind != identity.kind or _profile_code(profile) != identity.code:
        raise SsoError("code_mismatch", f"统一身份认证平台返回的{_code_label(identity)}与本账户的不一致，未关联。"
                                        "请用本账户对应的法人或个人身份登录统一身份认证平台", 409)
    return _save_link(profile.user_id, identity)


def _save_link(user_id: int, identity: Identity) -> DockingIdentity:
    """Link the identity to ``user_id`` by the signed-in owner's own act (origin ``linked``), unless
    it is linked to another account. Commits."""
    link = _link(identity.provider, identity.subject)
    if link is not None and link.user_id != user_id:
        raise SsoError("subject_taken", "该统一身份认证账号已关联本平台的另一个账户。" + HALL, 409)
    now = clock_now()
    try:
        if link is None:
            link = DockingIdentity(provider=identity.provider, subject=identity.subject, user_id=user_id,
                                   kind=identity.kind, name=identity.name, level=identity.level, origin="linked",
                                   first_seen=now, last_seen=now, sign_ins=0)
            db.session.add(link)
        link.name, link.level, link.last_seen = identity.name, identity.level, now
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise SsoError("conflict", "关联请求冲突，请重试", 409) from None
    except BaseException:
        db.session.rollback()
        raise
    return link


def linked_identities(actor: Actor) -> list[dict]:
    """The identities linked to the actor's account, for the profile / account security page."""
    if actor is None or not actor.id:
        return []
    rows = db.session.execute(select(DockingIdentity).where(DockingIdentity.user_id == actor.id)
                              .order_by(DockingIdentity.first_seen)).scalars()
    return [{"provider": r.provider, "provider_label": PROVIDERS.get(r.provider, r.provider),
             "kind_label": KINDS.get(r.kind, r.kind), "name": r.name, "level": r.level,
             "first_seen": r.first_seen, "last_seen": r.last_seen} for r in rows]


def _linked_staff(identity: Identity) -> tuple[DockingIdentity, User]:
    link = _link(identity.provider, identity.subject)
    user = db.session.get(User, link.user_id) if link is not None else None
    if user is None or user.kind != "staff":
        raise SsoError("not_linked", "该统一身份认证账号尚未关联工作人员账户。请先用用户名和密码登录，"
                                     "在“账户安全”页关联统一身份认证", 403)
    if not user.active:
        raise SsoError("account_inactive", "该工作人员账户已停用，无法登录", 403)
    return link, user


def sign_in_staff(identity: Identity) -> SignIn:
    """A staff member signs in by the identity linked to their account (``link_staff``). Raises
    SsoError not_linked / account_inactive (nothing written). Commits."""
    link, user = _linked_staff(identity)
    try:
        link.sign_ins = (link.sign_ins or 0) + 1
        link.name, link.level, link.last_seen = identity.name, identity.level, clock_now()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return SignIn(actor_from_user(user), identity, "linked", bool(user.totp_enabled))


def link_staff(actor: Actor, identity: Identity) -> DockingIdentity:
    """Link a natural person's identity to the signed-in staff member's own account (account
    security page). Raises SsoError. Commits."""
    if actor is None or not actor.is_staff or not actor.id:
        raise SsoError("account_inactive", "只有工作人员账户可以在此关联统一身份认证", 403)
    if identity.kind != "individual":
        raise SsoError("code_mismatch", "工作人员请以个人（自然人）身份登录统一身份认证平台后关联", 409)
    return _save_link(actor.id, identity)
