"""Matter metadata (``processes/<id>.matter.json``): the service-guide fields of GB/T 39046-2020."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, ValidationError as MaValidationError, fields, validate

from ..domain.codes import is_credit_code

MATTER_TYPES = {"01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "20"}
LEVELS = {"1", "2", "3", "4"}
CASE_TYPES = {"1", "2"}
#: the results a 前置事项 (``requires``) may ask for: only a decision granted counts as a result
REQUIRED_STATUSES = {"approved"}
UNITS = {"working_day", "natural_day", "month"}
#: the portal's categories of a DRC's matters (事项分类): code → name
CATEGORIES = {"project": "投资项目管理", "energy": "节能审查", "government_investment": "政府投资",
              "funds": "资金申请", "bidding": "招标投标", "foreign": "外商及境外投资", "certification": "资格认定",
              "price": "价格管理", "credit": "信用管理", "concession": "特许经营", "forward": "转报事项"}


class _Limit(Schema):
    value = fields.Integer(required=True, validate=validate.Range(min=0, max=3650))
    unit = fields.String(required=True, validate=validate.OneOf(sorted(UNITS)))
    note = fields.String(load_default="")


class _Body(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    credit_code = fields.String(required=True, validate=validate.Length(equal=18))


class _Material(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    issuer = fields.String(load_default="")
    originals = fields.Integer(load_default=0, validate=validate.Range(min=0, max=100))
    copies = fields.Integer(load_default=0, validate=validate.Range(min=0, max=100))
    required = fields.Boolean(required=True)
    paper_required = fields.Boolean(load_default=False)
    notes = fields.String(load_default="")
    #: the legal source that asks for this material (国家发展改革委令第2号第三十八条 …)
    source = fields.String(validate=validate.Length(max=300))


class _Extension(Schema):
    """延长审批 of this matter: how many working days at most, approved by whom, on which basis.
    Absent: the general rule of 行政许可法 art. 42 (10 working days, a commission leader)."""
    max_days = fields.Integer(required=True, validate=validate.Range(min=1, max=60))
    approver = fields.String(required=True, validate=validate.OneOf(["leader", "head"]))
    basis = fields.String(required=True, validate=validate.Length(min=1, max=500))


#: the general extension (行政许可法第四十二条): once, 10 working days, approved by a commission leader
GENERAL_EXTENSION = {"max_days": 10, "approver": "leader", "basis": "《中华人民共和国行政许可法》第四十二条"}


class _OfflineRule(Schema):
    """A case this matter is not handled online for (e.g. a project involving state secrets): when the
    start form's ``field`` equals ``equals``, the submission is refused with ``instruction`` (where and
    how to apply instead), which the service guide shows too."""
    field = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,63}$"))
    equals = fields.Raw(load_default=True)
    instruction = fields.String(required=True, validate=validate.Length(min=1, max=500))


class _Requirement(Schema):
    """A matter whose result this one depends on (前置事项, e.g. the 可研 of a 政府投资项目 needs the
    approved 项目建议书 of the same 项目代码): a submission is refused with ``message`` unless the
    same applicant has a case of ``matter`` in ``status`` for the same project code. The matter need
    not be deployed yet (both may be deployed in one run): only the shape is checked here."""
    matter = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z_][A-Za-z0-9_]{0,63}\Z"))
    status = fields.String(load_default="approved", validate=validate.OneOf(sorted(REQUIRED_STATUSES)))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    message = fields.String(required=True, validate=validate.Length(min=1, max=500))
    basis = fields.String(load_default="", validate=validate.Length(max=500))


class _Faq(Schema):
    q = fields.String(required=True)
    a = fields.String(required=True)


class _Result(Schema):
    name = fields.String(required=True)
    type = fields.String(load_default="")


class MatterSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    process_id = fields.String(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    basic_code = fields.String(required=True, validate=validate.Length(min=1, max=10))
    implementation_code = fields.String(required=True, validate=validate.Length(min=1, max=24))
    matter_type = fields.String(required=True, validate=validate.OneOf(sorted(MATTER_TYPES)))
    exercise_level = fields.String(required=True, validate=validate.OneOf(sorted(LEVELS)))
    case_type = fields.String(required=True, validate=validate.OneOf(sorted(CASE_TYPES)))
    implementing_body = fields.Nested(_Body, required=True)
    legal_basis = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    statutory_limit = fields.Nested(_Limit, required=True)
    promised_limit = fields.Nested(_Limit, required=True)
    service_object = fields.List(fields.String(), load_default=list)
    handling_forms = fields.List(fields.String(), load_default=list)
    departments = fields.List(fields.String(), load_default=list)
    joint_departments = fields.List(fields.String(), load_default=list)
    acceptance_conditions = fields.List(fields.String(), load_default=list)
    process_description = fields.String(load_default="")
    result = fields.Nested(_Result, required=True)
    fees = fields.String(load_default="不收费")
    special_procedures = fields.List(fields.String(), load_default=list)
    #: the family the matter is built from (its shared sub-processes and form fragments): hezhun,
    #: beian, shenpi, zijin, rending, zhuanbao … (free text: the catalog groups by it)
    family = fields.String(validate=validate.Length(max=40))
    #: where the matter and its limits come from (the law that creates it): the catalog is built from
    #: the law, not from the official list, so every matter says its source
    source = fields.String(validate=validate.Length(max=1000))
    category = fields.String(load_default="", validate=validate.OneOf(["", *sorted(CATEGORIES)]))
    extension = fields.Nested(_Extension, load_default=None)
    offline_rules = fields.List(fields.Nested(_OfflineRule), load_default=list)
    # no default: a matter without prerequisites keeps its stored form (and hash: no new version on redeploy)
    requires = fields.List(fields.Nested(_Requirement))
    place = fields.String(load_default="")
    hours = fields.String(load_default="")
    consult_phone = fields.String(load_default="")
    supervise_phone = fields.String(load_default="")
    faq = fields.List(fields.Nested(_Faq), load_default=list)
    materials = fields.List(fields.Nested(_Material), required=True, validate=validate.Length(min=1))


def _flatten(messages, prefix="") -> list[str]:
    out = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            out += _flatten(value, f"{prefix}{key}.")
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out.append(f"{prefix.rstrip('.')}: {'; '.join(messages)}")
    elif isinstance(messages, list):
        for m in messages:
            out += _flatten(m, prefix)
    else:
        out.append(f"{prefix.rstrip('.')}: {messages}")
    return out


def check_matter(data: object, process_id: str) -> tuple[dict | None, list[str]]:
    """Validate metadata; returns (clean data, problems)."""
    try:
        clean = MatterSchema().load(data if isinstance(data, dict) else {})
    except MaValidationError as exc:
        return None, _flatten(exc.messages)
    problems = []
    if clean["process_id"] != process_id:
        problems.append(f"process_id {clean['process_id']!r} must equal the BPMN process id {process_id!r}")
    if clean["statutory_limit"]["unit"] == clean["promised_limit"]["unit"] and \
            clean["promised_limit"]["value"] > clean["statutory_limit"]["value"]:
        problems.append("promised_limit must not exceed statutory_limit (承诺时限不得超过法定时限)")
    for i, rule in enumerate(clean["offline_rules"]):
        if not isinstance(rule["equals"], (bool, str, int)) or isinstance(rule["equals"], float):
            problems.append(f"offline_rules.{i}.equals: a boolean, a string or an integer")
    seen = set()
    for i, req in enumerate(clean.get("requires") or ()):
        if req["matter"] == clean["process_id"]:
            problems.append(f"requires.{i}.matter: 事项不能以自身为前置事项")
        if req["matter"] in seen:
            problems.append(f"requires.{i}.matter: 前置事项 {req['matter']!r} 重复")
        seen.add(req["matter"])
    if not is_credit_code(clean["implementing_body"]["credit_code"]):
        problems.append("implementing_body.credit_code: 统一社会信用代码校验位不正确")
    return (clean if not problems else None), problems
