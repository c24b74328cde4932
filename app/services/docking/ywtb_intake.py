"""Applications from the 一张网's unified entry (统一申办受理): the gateway POSTs an application with
its materials to ``/api/ywtb/applications`` (signed); it becomes a case here, with the same checks as
an application made on our portal, once per 申办流水号, and is answered with our case number.

Order of the checks (each refusal a 4xx with a code, recorded in ``inbox_refusals``, nothing else
written; see ywtb.authenticate for the signature's):
1. configured (503 ``not_configured``), signed (401 ``missing`` / ``unknown_key`` / ``stale`` /
   ``bad_signature``);
2. the payload's shape (422 ``bad_payload``, with every problem by field);
3. the 申办流水号 already taken: the first answer again (``duplicate``), nothing fetched or changed;
4. the matter by implementation code, else basic code (422 ``unknown_matter``); every material named
   by an entry of its materials list (422 ``unknown_material``);
5. the materials — inline Base64 ``content`` or a ``url`` on the gateway's own host, fetched signed —
   checked against their declared SHA-256 (422 ``material_hash_mismatch``) and their type by content
   (PDF, JPG, PNG, OFD: 422 ``bad_material``); a gateway that cannot serve one now: 503
   ``material_unavailable`` (the gateway sends the application again later);
6. in the inbox's transaction (message id = the 申办流水号, channel ``ywtb``, peer ``ywtb``): the
   applicant's account found by credit code / ID number, or created (409 ``mobile_in_use`` when the
   mobile belongs to another account); the start form checked as the portal's submission checks it
   (app/services/portal/applications: ``validate_start_data`` and ``missing_materials``; 422 ``bad_form`` /
   ``missing_material``); the applicant named in the form must be the applicant sent (422
   ``applicant_mismatch``); then the case is submitted (cases/lifecycle ``submit_in_transaction``: the submission
   hooks run as for every submission — a refusal there keeps its status and code, e.g. the project
   platform's ``project_owner_mismatch``)."""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from ...domain.errors import DomainError, ValidationError
from ...domain.idcodes import credit_code_problem, id_number_problem
from ...extensions import db
from ...models import Case, CaseFile, Matter, ProcessVersion, User
from ...models.accounts import ApplicantProfile
from ...models.docking_ywtb import YwtbApplication
from ...models.exchange import InboxMessage
from ..cases.hooks import prepare_submit
from ..cases.lifecycle import handling_region, identity_fields, submit_in_transaction
from ..cases.steps import now, record_event
from ..common.blobs import keep_blob, safe_filename, sniff
from ..common.clock import clock_now
from ..identity.actors import actor_from_user
from ..messaging import inbox
from ..portal.applicants import mobile_problem
from ..portal.applications import validate_start_data, missing_materials, start_form
from ..portal.catalog import materials_of
from . import ywtb
from .http import Rejected, Unavailable
from .ywtb import CHANNEL, GatewayRefusal

PEER = "ywtb"
KIND = "application"
MATERIALS_MAX = 50
SERIAL = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_\-]{0,35}\Z")
SHA256 = re.compile(r"^[0-9a-f]{64}\Z")
#: applicant type as the 一张网 writes it (申请人类型: 1 自然人, 2 法人) or by name
APPLICANT_TYPES = {"1": "individual", "2": "enterprise", "individual": "individual", "enterprise": "enterprise"}


@dataclass(frozen=True)
class Material:
    name: str
    filename: str
    sha256: str
    url: str | None
    content: bytes | None


@dataclass(frozen=True)
class Application:
    serial_no: str
    matter_code: str
    channel: str
    applicant: dict
    form: dict
    materials: tuple[Material, ...]


def serial_no_of(case_id: int) -> str | None:
    """The 一张网's 申办流水号 of a case that came from its unified entry, else None."""
    return db.session.execute(select(YwtbApplication.serial_no).where(YwtbApplication.case_id == case_id)).scalar()


def channel_of(case_id: int) -> str | None:
    return db.session.execute(select(YwtbApplication.channel).where(YwtbApplication.case_id == case_id)).scalar()


# -- 2. the payload's shape -----------------------------------------------------------------------

def _text(raw: dict, key: str, errors: dict, *, max_len: int, required: bool = True, field: str | None = None) -> str:
    value = raw.get(key)
    field = field or key
    if value is None or value == "":
        if required:
            errors.setdefault(field, []).append("必填 (required)")
        return ""
    if not isinstance(value, str) or len(value.strip()) > max_len:
        errors.setdefault(field, []).append(f"应为不超过 {max_len} 个字符的文本")
        return ""
    return value.strip()


def _applicant(raw, errors: dict) -> dict:
    if not isinstance(raw, dict):
        errors["applicant"] = ["应为对象 (object expected)"]
        return {}
    kind = APPLICANT_TYPES.get(str(raw.get("type", "")).strip().lower())
    if kind is None:
        errors["applicant.type"] = ["应为 1（自然人）/ 2（法人），或 individual / enterprise"]
    a = {"kind": kind, "name": _text(raw, "name", errors, max_len=200, field="applicant.name"),
         "mobile": _text(raw, "mobile", errors, max_len=20, field="applicant.mobile"),
         "contact_person": _text(raw, "contact_person", errors, max_len=50, required=False, field="applicant.contact_person"),
         "legal_representative": _text(raw, "legal_representative", errors, max_len=50, required=False,
                                       field="applicant.legal_representative")}
    if a["mobile"] and mobile_problem(a["mobile"]):
        errors["applicant.mobile"] = [mobile_problem(a["mobile"])]
    if kind == "enterprise":
        a["credit_code"] = _text(raw, "credit_code", errors, max_len=18, field="applicant.credit_code").upper()
        problem = a["credit_code"] and credit_code_problem(a["credit_code"])
        if problem:
            errors["applicant.credit_code"] = [problem]
    elif kind == "individual":
        a["id_number"] = _text(raw, "id_number", errors, max_len=18, field="applicant.id_number").upper()
        problem = a["id_number"] and id_number_problem(a["id_number"], clock_now().date())
        if problem:
            errors["applicant.id_number"] = [problem]
    return a


def _material(raw, i: int, errors: dict) -> Material | None:
    field = f"materials.{i}"
    if not isinstance(raw, dict):
        errors[field] = ["应为对象 (object expected)"]
        return None
    before = len(errors)
    name = _text(raw, "name", errors, max_len=200, field=f"{field}.name")
    filename = _text(raw, "filename", errors, max_len=200, required=False, field=f"{field}.filename")
    sha = raw.get("sha256")
    if not isinstance(sha, str) or not SHA256.match(sha.lower()):
        errors[f"{field}.sha256"] = ["应为 64 位十六进制 SHA-256"]
    url, content = raw.get("url"), raw.get("content")
    if (url is None) == (content is None):
        errors[f"{field}.url"] = ["url（一张网上的下载地址）与 content（Base64 内容）必须且只能给出一个"]
    elif url is not None and not ywtb.on_gateway(url):
        errors[f"{field}.url"] = ["材料地址应在一张网网关（YWTB_BASE_URL）的主机上"]
    elif content is not None:
        try:
            content = base64.b64decode(content, validate=True) if isinstance(content, str) else None
        except (binascii.Error, ValueError):
            content = None
        if not content:
            errors[f"{field}.content"] = ["应为非空的 Base64 内容"]
        elif len(content) > current_app.config["FILE_MAX_BYTES"]:
            errors[f"{field}.content"] = [f"超过 {current_app.config['FILE_MAX_BYTES']} 字节"]
    if len(errors) > before:
        return None
    return Material(name, filename or name, sha.lower(), url, content)


def parse(body: bytes) -> Application:
    """The application's fields, checked for shape. Raises GatewayRefusal ``bad_payload``."""
    raw = ywtb.json_object(body)
    errors: dict = {}
    serial = raw.get("serial_no")
    if not isinstance(serial, str) or not SERIAL.match(serial):
        errors["serial_no"] = ["申办流水号应为 1–36 位字母、数字、下划线或连字符"]
    code = _text(raw, "matter_code", errors, max_len=40)
    channel = _text(raw, "channel", errors, max_len=8, required=False)
    applicant = _applicant(raw.get("applicant"), errors)
    form = raw.get("form")
    if not isinstance(form, dict):
        errors["form"] = ["应为对象 (object expected)"]
    items = raw.get("materials", [])
    materials = []
    if not isinstance(items, list) or len(items) > MATERIALS_MAX:
        errors["materials"] = [f"应为至多 {MATERIALS_MAX} 项的列表"]
    else:
        materials = [_material(m, i, errors) for i, m in enumerate(items)]
    if errors:
        raise GatewayRefusal("bad_payload", "申报数据格式不正确：" + "；".join(sorted(errors))[:300], 422, errors)
    return Application(serial, code, channel, applicant, form, tuple(materials))


def _serial_hint(body: bytes) -> str:
    """The 申办流水号 of a payload refused for its shape, for the refusal's row (as far as readable)."""
    try:
        raw = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return ""
    serial = raw.get("serial_no") if isinstance(raw, dict) else None
    return serial[:64] if isinstance(serial, str) else ""


# -- 4. the matter, 5. the materials ---------------------------------------------------------------

def find_matter(code: str) -> Matter | None:
    """An active, deployed matter by implementation code, else basic code (also the first segment of
    a dashed implementation code: ``<basic>-<region>-…``)."""
    live = (Matter.active.is_(True), Matter.latest_version_id.is_not(None))
    for column, value in ((Matter.implementation_code, code), (Matter.basic_code, code),
                          (Matter.basic_code, code.split("-", 1)[0] if "-" in code else None)):
        if value:
            row = db.session.execute(select(Matter).where(column == value, *live).order_by(Matter.process_id)
                                     .limit(1)).scalar()
            if row is not None:
                return row
    return None


def _check_matter(app_in: Application) -> tuple[Matter, ProcessVersion]:
    matter = find_matter(app_in.matter_code)
    if matter is None:
        raise GatewayRefusal("unknown_matter", f"本平台没有事项编码为 {app_in.matter_code} 的在办事项", 422,
                             {"matter_code": ["unknown"]})
    version = db.session.get(ProcessVersion, matter.latest_version_id)
    names = {m["name"] for m in materials_of(version.matter or {})}
    unknown = {f"materials.{i}.name": ["不是本事项材料清单中的一项"] for i, m in enumerate(app_in.materials)
               if m.name not in names}
    if unknown:
        raise GatewayRefusal("unknown_material", "材料不在事项的材料清单中：" + "、".join(
            m.name for m in app_in.materials if m.name not in names)[:300], 422, unknown)
    return matter, version


def _fetch(m: Material, i: int) -> dict:
    """The material's bytes (inline or fetched from the gateway), checked and stored once by SHA-256."""
    if m.content is not None:
        blob = m.content
    else:
        try:
            blob = ywtb.fetch(m.url, current_app.config["FILE_MAX_BYTES"])
        except Unavailable as exc:
            raise GatewayRefusal("material_unavailable", f"材料「{m.name}」暂时无法从一张网下载：{exc}"[:500], 503) from None
        except Rejected as exc:
            raise GatewayRefusal("bad_material", f"一张网拒绝提供材料「{m.name}」：{exc}"[:500], 422,
                                 {f"materials.{i}.url": [str(exc)[:200]]}) from None
    digest = hashlib.sha256(blob).hexdigest()
    if digest != m.sha256:
        raise GatewayRefusal("material_hash_mismatch", f"材料「{m.name}」的 SHA-256 与声明的不符（内容被替换或损坏）",
                             422, {f"materials.{i}.sha256": [f"实际为 {digest}"]})
    ctype = sniff(blob[:16], blob)
    if ctype is None:
        raise GatewayRefusal("bad_material", f"材料「{m.name}」不是 PDF、JPG、PNG 或 OFD 文件（按内容识别）", 422,
                             {f"materials.{i}": ["type"]})
    _, key = keep_blob(blob)
    return {"filename": safe_filename(m.filename, ctype), "content_type": ctype, "size": len(blob),
            "sha256": digest, "storage_key": key}


# -- 6. in the inbox's transaction -------------------------------------------------------------------

def applicant_account(a: dict) -> User:
    """The applicant's account here, by credit code / ID number; created when there is none."""
    column, code = (ApplicantProfile.credit_code, a["credit_code"]) if a["kind"] == "enterprise" else \
        (ApplicantProfile.id_number, a["id_number"])
    profile = db.session.execute(select(ApplicantProfile).where(column == code)).scalar_one_or_none()
    if profile is not None:
        return db.session.get(User, profile.user_id)
    if db.session.execute(select(ApplicantProfile.user_id).where(ApplicantProfile.mobile == a["mobile"])).first():
        raise GatewayRefusal("mobile_in_use", f"手机号 {a['mobile']} 已是本平台另一申请人账户的手机号，不能为"
                                              f"{a['name']}新建账户（请申请人在本平台登录后办理，或联系服务大厅）", 409)
    ts = clock_now()
    enterprise = a["kind"] == "enterprise"
    user = User(username=f"ap-{secrets.token_hex(6)}", display_name=a["name"][:128], kind="applicant", groups=[],
                org_code=code if enterprise else None, phone=a["mobile"], created_at=ts,
                region_code=current_app.config["REGION_CODE"])
    db.session.add(user)
    db.session.flush()
    db.session.add(ApplicantProfile(user_id=user.id, kind=a["kind"], name=a["name"], credit_code=code if enterprise else None,
                                    id_number=None if enterprise else code,
                                    legal_representative=a.get("legal_representative") or None,
                                    contact_person=a.get("contact_person") or None, mobile=a["mobile"],
                                    created_at=ts, updated_at=ts))
    db.session.flush()
    return user


def _form_data(app_in: Application, form_def: dict | None) -> dict:
    """The form as sent, with the applicant's name and code filled in where the form has them and the
    gateway left them out (as the portal prefills them from the account). Refuses a form that names
    another applicant."""
    keys = {c.get("key") for c in _components(form_def)}
    data, a = dict(app_in.form), app_in.applicant
    code = a.get("credit_code") if a["kind"] == "enterprise" else None
    if "applicant_name" in keys and not data.get("applicant_name"):
        data["applicant_name"] = a["name"]
    if code and "applicant_code" in keys and not data.get("applicant_code"):
        data["applicant_code"] = code
    if code and data.get("applicant_code") not in (None, "", code):
        raise GatewayRefusal("applicant_mismatch", "申请表中的统一社会信用代码与申请人不一致", 422,
                             {"applicant_code": [f"应为申请人的 {code}"]})
    return data


def _components(form_def: dict | None) -> list[dict]:
    out, stack = [], list((form_def or {}).get("components") or [])
    while stack:
        comp = stack.pop()
        if isinstance(comp, dict):
            out.append(comp)
            stack.extend(comp.get("components") or [])
    return out


def _apply(app_in: Application, files: list[dict]) -> tuple[dict, int]:
    matter, version = _check_matter(app_in)
    user = applicant_account(app_in.applicant)
    actor = actor_from_user(user)
    form_def = start_form(version)
    try:
        clean = validate_start_data(form_def, _form_data(app_in, form_def), partial=False)
        ident = identity_fields(actor, clean)
    except ValidationError as exc:
        raise GatewayRefusal("bad_form", f"申请表未通过校验：{exc.message}", 422, exc.details) from None
    ts = now()
    case = Case(process_id=matter.process_id, version_id=version.id, applicant_id=user.id, status="draft", data=clean,
                created_at=ts, updated_at=ts, region_code=handling_region(clean), **ident)
    db.session.add(case)
    db.session.flush()
    record_event(case, "ywtb", "ywtb_in", opinion=f"一张网统一申办受理转入（申办流水号 {app_in.serial_no}）",
                 data_change={"serial_no": app_in.serial_no, "matter_code": app_in.matter_code,
                              "sha256": [f["sha256"] for f in files]})
    for m, f in zip(app_in.materials, files):
        db.session.add(CaseFile(case_id=case.id, uploaded_by="ywtb", kind="scan", material=m.name, note=None,
                                created_at=ts, **f))
    db.session.flush()
    missing = missing_materials(case, version)
    if missing:
        raise GatewayRefusal("missing_material", "缺少必需材料：" + "；".join(v[0] for v in missing.values())[:300],
                             422, missing)
    db.session.add(YwtbApplication(serial_no=app_in.serial_no, case_id=case.id, matter_code=app_in.matter_code,
                                   channel=app_in.channel, received_at=ts))
    db.session.flush()
    try:
        submit_in_transaction(case, version, actor)
    except DomainError as exc:  # a submission hook refused (the project platform's owner check …): its code
        code = "bad_form" if isinstance(exc, ValidationError) and exc.code == ValidationError.code else exc.code
        raise GatewayRefusal(code, exc.message, exc.status if 400 <= exc.status < 600 else 422, exc.details) from None
    return {"case_no": case.case_no, "serial_no": app_in.serial_no}, case.id


def _received(serial: str) -> bool:
    return db.session.execute(select(InboxMessage.id).where(
        InboxMessage.key == f"{CHANNEL}:{PEER}:{serial}")).first() is not None


def receive_application(headers, method: str, path: str, query: str, body: bytes,
                        remote_addr: str = "") -> tuple[dict, bool]:
    """One application from the gateway: checked (see the module's doc), then applied once. Returns
    (answer ``{"case_no", "serial_no"}``, duplicate). Raises GatewayRefusal (recorded)."""
    ywtb.authenticate(headers, method, path, query, body, remote_addr, peer=PEER, kind=KIND)
    context = {"peer": PEER, "kind": KIND, "remote_addr": remote_addr}
    try:
        app_in = parse(body)
    except GatewayRefusal as refusal:
        ywtb.refuse(refusal, message_id=_serial_hint(body), **context)
    if not _received(app_in.serial_no):
        try:
            _check_matter(app_in)
            db.session.rollback()  # no transaction (on SQLite: no lock) held across the downloads
            files = [_fetch(m, i) for i, m in enumerate(app_in.materials)]
        except GatewayRefusal as refusal:
            ywtb.refuse(refusal, message_id=app_in.serial_no, **context)
        prepare_submit(app_in.form)  # outside systems asked (the 项目代码) before the inbox's transaction
    else:
        files = []  # a repeat: answered with the first answer, nothing fetched
    return inbox.receive(CHANNEL, PEER, app_in.serial_no, None, KIND, lambda: _apply(app_in, files),
                         remote_addr=remote_addr)
