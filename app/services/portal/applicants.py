"""Applicant accounts (申请人账户): enterprises (统一社会信用代码, GB 32100) and individuals (公民身份
号码, GB 11643), registered with a mobile number verified by an SMS code; sign-in with an SMS code
or, once set on the profile, a password (argon2id, the lockout rules of app/services/auth.py).

SMS codes come from app/services/sms_codes.py (purposes ``register`` and ``login``; a change of
mobile uses ``register`` with the subject ``mobile:<user id>``); attempts per IP are limited with
app/services/rate_limit.py. Every function checks its input and raises ValidationError (422,
``details`` per field), Conflict (409, duplicate account), NotAuthenticated (401) or RateLimited
(429) and then changes nothing (except the rate-limit and code-attempt counters, which must count)."""
from __future__ import annotations

import re
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ...domain.errors import Conflict, NotAuthenticated, NotFound, ValidationError
from ...domain.idcodes import credit_code_problem, id_number_problem
from ...extensions import db
from ...models import User
from ...models.accounts import ApplicantProfile
from ..common.clock import clock_now
from ..identity.actors import Actor, actor_from_user
from ..identity.auth import (BadCredentials, SecondFactorRequired, _locked_message, authenticate, count_attempt,
                             forgive_attempt, password_matches, set_password)
from ..identity.rate_limit import hit
from ..identity.sms_codes import request_code, verify_code

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
KINDS = {"enterprise": "企业（法人）", "individual": "个人（自然人）"}
LOGIN_IP_LIMIT = (20, 600)     # failed sign-in attempts per IP: 20 in 10 minutes
REGISTER_IP_LIMIT = (10, 3600)  # registrations per IP: 10 an hour
BAD_LOGIN = "手机号或验证码不正确 (wrong mobile number or code)"
BAD_PASSWORD_LOGIN = ("手机号或密码不正确，或账户因多次登录失败已暂时锁定，请稍后再试 "
                      "(wrong mobile number or password, or the account is locked for a while)")
LIMITS = {"name": 200, "legal_representative": 50, "contact_person": 50, "email": 120, "address": 200}


def _text(data: dict, key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError("请求格式不正确", details={key: ["应为文本 (string expected)"]})
    return value.strip()


def mobile_problem(mobile: str) -> str | None:
    if not mobile:
        return "请填写手机号码 (required)"
    if not MOBILE_RE.match(mobile):
        return "手机号码应为 11 位数字，以 1 开头 (11-digit mainland mobile number)"
    return None


def _contact_errors(clean: dict, errors: dict, kind: str) -> None:
    for key, limit in LIMITS.items():
        if len(clean.get(key) or "") > limit:
            errors.setdefault(key, []).append(f"最多 {limit} 个字符 (too long)")
    if not clean.get("name"):
        errors.setdefault("name", []).append("请填写名称 (required)")
    if kind == "enterprise":
        for key, label in (("legal_representative", "法定代表人"), ("contact_person", "联系人")):
            if not clean.get(key):
                errors.setdefault(key, []).append(f"请填写{label} (required)")
    if clean.get("email") and not EMAIL_RE.match(clean["email"]):
        errors.setdefault("email", []).append("邮箱格式不正确 (not an e-mail address)")


def _profile_by_mobile(mobile: str) -> ApplicantProfile | None:
    return db.session.execute(select(ApplicantProfile).where(ApplicantProfile.mobile == mobile)).scalar_one_or_none()


def _duplicates(kind: str, credit_code: str | None, id_number: str | None, mobile: str,
                exclude_user: int | None = None) -> dict:
    found = {}
    checks = [("mobile", ApplicantProfile.mobile, mobile, "该手机号码已注册，请直接登录 (mobile already registered)")]
    if credit_code:
        checks.append(("credit_code", ApplicantProfile.credit_code, credit_code,
                       "该统一社会信用代码已注册账户 (credit code already registered)"))
    if id_number:
        checks.append(("id_number", ApplicantProfile.id_number, id_number,
                       "该身份证号码已注册账户 (ID number already registered)"))
    for field, column, value, message in checks:
        stmt = select(ApplicantProfile.user_id).where(column == value)
        if exclude_user is not None:
            stmt = stmt.where(ApplicantProfile.user_id != exclude_user)
        if db.session.execute(stmt).first():
            found[field] = [message]
    return found


def check_registration(data: dict) -> dict:
    """The registration fields, cleaned; raises ValidationError (bad fields) or Conflict (an account
    with this credit code / ID number / mobile exists)."""
    if not isinstance(data, dict):
        raise ValidationError("请求格式不正确", details={"_schema": ["object expected"]})
    kind = _text(data, "kind")
    errors: dict[str, list[str]] = {}
    if kind not in KINDS:
        raise ValidationError("请选择账户类型（企业或个人）", details={"kind": ["enterprise / individual"]})
    clean = {k: _text(data, k) for k in ("name", "legal_representative", "contact_person", "email", "address")}
    clean["kind"] = kind
    clean["mobile"] = _text(data, "mobile")
    problem = mobile_problem(clean["mobile"])
    if problem:
        errors["mobile"] = [problem]
    if kind == "enterprise":
        clean["credit_code"] = _text(data, "credit_code").upper()
        problem = credit_code_problem(clean["credit_code"])
        if problem:
            errors["credit_code"] = [problem]
        clean["id_number"] = None
    else:
        clean["id_number"] = _text(data, "id_number").upper()
        problem = id_number_problem(clean["id_number"], clock_now().date())
        if problem:
            errors["id_number"] = [problem]
        clean["credit_code"] = None
        clean["legal_representative"] = None
    _contact_errors(clean, errors, kind)
    if errors:
        raise ValidationError("注册信息未通过校验", details=errors)
    dup = _duplicates(kind, clean["credit_code"], clean["id_number"], clean["mobile"])
    if dup:
        raise Conflict(next(iter(dup.values()))[0], details=dup)
    return clean


def request_registration_code(mobile: str, ip: str) -> None:
    """Send a registration code to ``mobile`` (refused when the number already has an account).
    Raises ValidationError, Conflict, RateLimited."""
    mobile = (mobile or "").strip() if isinstance(mobile, str) else ""
    problem = mobile_problem(mobile)
    if problem:
        raise ValidationError(problem, details={"mobile": [problem]})
    if _profile_by_mobile(mobile) is not None:
        raise Conflict("该手机号码已注册，请直接登录 (mobile already registered)",
                       details={"mobile": ["该手机号码已注册，请直接登录"]})
    request_code(mobile, "register", ip)


def register(data: dict, code: str, ip: str) -> Actor:
    """Create an applicant account once its fields are valid, it is no duplicate and ``code`` is the
    SMS code sent to its mobile for ``register``. Returns the new actor. Commits."""
    clean = check_registration(data)
    hit(f"portal-register:{ip}", *REGISTER_IP_LIMIT)
    if not isinstance(code, str) or not code.strip():
        raise ValidationError("请输入短信验证码", details={"code": ["必填 (required)"]})
    verify_code(clean["mobile"], "register", code.strip())
    now = clock_now()
    user = User(username=f"ap-{secrets.token_hex(6)}", display_name=clean["name"], kind="applicant", groups=[],
                org_code=clean["credit_code"], phone=clean["mobile"], created_at=now)
    try:
        db.session.add(user)
        db.session.flush()
        db.session.add(ApplicantProfile(
            user_id=user.id, kind=clean["kind"], name=clean["name"], credit_code=clean["credit_code"],
            id_number=clean["id_number"], legal_representative=clean["legal_representative"] or None,
            contact_person=clean["contact_person"] or None, mobile=clean["mobile"], email=clean["email"] or None,
            address=clean["address"] or None, created_at=now, updated_at=now))
        db.session.commit()
    except IntegrityError:  # the same account registered at the same moment
        db.session.rollback()
        raise Conflict("该账户已注册 (account already registered)") from None
    except BaseException:
        db.session.rollback()
        raise
    return actor_from_user(user)


def request_login_code(mobile: str, ip: str) -> None:
    """Send a sign-in code. The answer is the same whether or not an account has this number (no
    code is delivered then). Raises ValidationError (not a mobile number), RateLimited."""
    mobile = (mobile or "").strip() if isinstance(mobile, str) else ""
    problem = mobile_problem(mobile)
    if problem:
        raise ValidationError(problem, details={"mobile": [problem]})
    profile = _profile_by_mobile(mobile)
    user = db.session.get(User, profile.user_id) if profile else None
    request_code(mobile, "login", ip, deliver=bool(user and user.active))


def _applicant_by_mobile(mobile: str) -> User | None:
    profile = _profile_by_mobile(mobile) if isinstance(mobile, str) and MOBILE_RE.match(mobile) else None
    user = db.session.get(User, profile.user_id) if profile else None
    return user if user is not None and user.active and user.kind == "applicant" else None


def login_with_code(mobile: str, code: str, ip: str) -> Actor:
    """Sign in with the SMS code sent for ``login``. Raises NotAuthenticated (the same message for
    an unknown number and a wrong code; a locked account is named only to whoever holds the right
    code, i.e. the phone), RateLimited (failed attempts per IP). Commits."""
    attempt = count_attempt(ip, "portal-login", LOGIN_IP_LIMIT)
    mobile = (mobile or "").strip() if isinstance(mobile, str) else ""
    code = (code or "").strip() if isinstance(code, str) else ""
    user = _applicant_by_mobile(mobile)
    if not code:
        raise NotAuthenticated("请输入短信验证码 (enter the code)")
    try:
        verify_code(mobile, "login", code)
    except ValidationError as exc:
        raise NotAuthenticated(exc.message or BAD_LOGIN) from None
    if user is None:
        raise NotAuthenticated(BAD_LOGIN)
    locked = _locked_message(user, clock_now())
    if locked:
        raise NotAuthenticated(locked)
    forgive_attempt(attempt)
    return actor_from_user(user)


def login_with_password(mobile: str, password: str, ip: str) -> Actor:
    """Sign in with mobile + password (only for accounts that set one). The lockout and second
    factor of app/services/identity/auth.authenticate apply (SecondFactorRequired); an unknown number,
    a wrong password and a locked account get one answer. Failed attempts per IP are limited
    (RateLimited). Commits."""
    attempt = count_attempt(ip, "portal-login", LOGIN_IP_LIMIT)
    user = _applicant_by_mobile((mobile or "").strip() if isinstance(mobile, str) else "")
    try:
        actor = authenticate(user.username if user else "", password if isinstance(password, str) else "")
    except SecondFactorRequired:
        forgive_attempt(attempt)
        raise
    except BadCredentials:
        raise BadCredentials(BAD_PASSWORD_LOGIN) from None
    forgive_attempt(attempt)
    return actor


def get_profile(actor: Actor) -> ApplicantProfile:
    """The signed-in applicant's profile. Raises NotFound for anyone else (staff, old demo accounts
    without a profile)."""
    profile = db.session.get(ApplicantProfile, actor.id) if actor and actor.is_applicant and actor.id else None
    if profile is None:
        raise NotFound("没有申请人资料 (no applicant profile)")
    return profile


def profile_out(profile: ApplicantProfile) -> dict:
    return {"kind": profile.kind, "kind_label": KINDS.get(profile.kind, ""), "name": profile.name,
            "credit_code": profile.credit_code, "id_number": profile.id_number,
            "legal_representative": profile.legal_representative, "contact_person": profile.contact_person,
            "mobile": profile.mobile, "email": profile.email, "address": profile.address}


def update_profile(actor: Actor, data: dict) -> ApplicantProfile:
    """Edit the contact data (name of the contact person, legal representative, e-mail, address;
    the name itself for an individual). Identity codes and the mobile are not changed here. Commits."""
    profile = get_profile(actor)
    if not isinstance(data, dict):
        raise ValidationError("请求格式不正确", details={"_schema": ["object expected"]})
    clean = {k: _text(data, k) for k in ("legal_representative", "contact_person", "email", "address")}
    clean["name"] = _text(data, "name") if profile.kind == "individual" and "name" in data else profile.name
    errors: dict[str, list[str]] = {}
    _contact_errors(clean, errors, profile.kind)
    if errors:
        raise ValidationError("资料未通过校验", details=errors)
    try:
        user = db.session.get(User, profile.user_id)
        profile.name = user.display_name = clean["name"]
        if profile.kind == "enterprise":
            profile.legal_representative = clean["legal_representative"]
        profile.contact_person = clean["contact_person"] or None
        profile.email = clean["email"] or None
        profile.address = clean["address"] or None
        profile.updated_at = clock_now()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return profile


def request_mobile_change_code(actor: Actor, new_mobile: str, ip: str) -> None:
    """Send a code to the new number (it must not belong to another account). Raises
    ValidationError, Conflict, RateLimited."""
    profile = get_profile(actor)
    new_mobile = (new_mobile or "").strip() if isinstance(new_mobile, str) else ""
    problem = mobile_problem(new_mobile)
    if problem:
        raise ValidationError(problem, details={"mobile": [problem]})
    if new_mobile == profile.mobile:
        raise ValidationError("新号码与当前号码相同", details={"mobile": ["与当前号码相同 (same number)"]})
    if _duplicates(profile.kind, None, None, new_mobile, exclude_user=profile.user_id):
        raise Conflict("该手机号码已被其他账户使用", details={"mobile": ["该手机号码已被其他账户使用 (in use)"]})
    request_code(new_mobile, "register", ip, subject=f"mobile:{profile.user_id}")


def change_mobile(actor: Actor, new_mobile: str, code: str) -> ApplicantProfile:
    """Switch the account to ``new_mobile`` once ``code`` (sent to it) is right. Commits."""
    profile = get_profile(actor)
    new_mobile = (new_mobile or "").strip() if isinstance(new_mobile, str) else ""
    problem = mobile_problem(new_mobile)
    if problem:
        raise ValidationError(problem, details={"mobile": [problem]})
    if _duplicates(profile.kind, None, None, new_mobile, exclude_user=profile.user_id):
        raise Conflict("该手机号码已被其他账户使用", details={"mobile": ["该手机号码已被其他账户使用 (in use)"]})
    if not isinstance(code, str) or not code.strip():
        raise ValidationError("请输入短信验证码", details={"code": ["必填 (required)"]})
    verify_code(new_mobile, "register", code.strip(), subject=f"mobile:{profile.user_id}")
    try:
        profile = get_profile(actor)
        profile.mobile = new_mobile
        db.session.get(User, profile.user_id).phone = new_mobile
        profile.updated_at = clock_now()
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("该手机号码已被其他账户使用", details={"mobile": ["in use"]}) from None
    except BaseException:
        db.session.rollback()
        raise
    return profile


def set_applicant_password(actor: Actor, password: str, confirm: str, current: str | None = None) -> None:
    """Set (or change: then ``current`` must be right) the optional password. Commits."""
    profile = get_profile(actor)
    user = db.session.get(User, profile.user_id)
    if user.password_hash and not password_matches(user.id, current or ""):
        raise ValidationError("当前密码不正确", details={"current": ["当前密码不正确 (wrong password)"]})
    if not isinstance(password, str) or password != confirm:
        raise ValidationError("两次输入的密码不一致", details={"confirm": ["两次输入的密码不一致 (passwords differ)"]})
    try:
        set_password(user, password)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def prefill(actor: Actor) -> dict:
    """Start-form values taken from the profile (only keys a form has are used by the caller)."""
    profile = db.session.get(ApplicantProfile, actor.id) if actor.is_applicant and actor.id else None
    if profile is None:
        return {"applicant_name": actor.display_name} if actor.display_name else {}
    out = {"applicant_name": profile.name, "contact_person": profile.contact_person or "",
           "contact_phone": profile.mobile}
    if profile.kind == "enterprise":
        out.update(applicant_code=profile.credit_code, legal_representative=profile.legal_representative or "")
    else:
        out["contact_person"] = profile.contact_person or profile.name
    return {k: v for k, v in out.items() if v}
