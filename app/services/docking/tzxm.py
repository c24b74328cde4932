"""The national investment project online platform (全国投资项目在线审批监管平台): the 项目代码 lookup.

``lookup(code)`` asks the platform, with a signed GET (signing.py, credentials TZXM_APP_ID /
TZXM_SECRET) of ``{TZXM_BASE_URL}/api/projects/<code>``, for the project: name, 项目单位 (owner's
统一社会信用代码 and name), 建设地点 (region code and text), 总投资 (万元), 所属行业 (GB/T 4754 code and
name) and 建设规模及内容. Its answers:

- 200 with the project object → a ``Project``;
- 404 → ``ProjectNotFound`` (code ``project_not_found``): the platform does not know the code;
- anything the platform did not answer usefully (down, 5xx, timeout, a body that is not the
  project) → ``ProjectUnavailable`` (code ``project_unverifiable``, "暂时无法核验");
- another 4xx (a refused signature …) → ``ProjectUnavailable`` too, with the platform's reason:
  the applicant can do nothing about it, operators can.

The shape check of a code stays in app/domain/codes.is_project_code (the check character's
algorithm is in the paid text of GB/T 40058): a code of the right shape is accepted when the
platform confirms it.

What the platform returned is kept in ``docking_projects`` (``remember``) with ``fetched_at``: the
project page shows it, and a submission during an outage of the platform uses a record fetched at
most ``OUTAGE_GRACE`` ago (``lookup_or_cached``). A record is never used for longer than that
without the platform confirming it again."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from flask import current_app

from ...domain.codes import is_credit_code, is_project_code
from ...domain.errors import ValidationError
from ...extensions import db
from ...models.docking_projects import DockingProject
from ..common.clock import clock_now
from ..portal.applications import PROJECT_CODE_MESSAGE
from . import http

#: a submission while the platform is down may use a record fetched this recently
OUTAGE_GRACE = timedelta(hours=24)
#: the project page asks the platform again when its record is older than this
PAGE_REFRESH = timedelta(hours=1)
PATH = "/api/projects/"

#: GB/T 4754 (国民经济行业分类) division (门类 letter + 2 digits) → the start forms' ``industry`` value
_DIVISIONS = {
    "energy": ("B06", "B07", "C25", "D44", "D45"),
    "chemical": ("C26", "C27", "C28", "C29"),
    "steel": ("C31",), "nonferrous": ("C32",), "building_materials": ("C30", "B10"),
    "machinery": ("C33", "C34", "C35", "C36", "C37", "C38", "C40", "C43"),
    "electronics": ("C39", "I63", "I64", "I65"),
    "light_textile": tuple(f"C{n}" for n in range(13, 25)),
    "transport": tuple(f"G{n}" for n in range(53, 61)),
    "water_conservancy": ("N76",),
    "urban": ("D46", "E47", "E48", "E49", "E50", "N78", "K70"),
    "agriculture": ("A01", "A02", "A03", "A04", "A05"),
}
INDUSTRY_BY_DIVISION = {div: value for value, divs in _DIVISIONS.items() for div in divs}
_INDUSTRY_CODE = re.compile(r"^[A-T](\d{2})")


class ProjectError(ValidationError):
    """A project code that cannot be used: ``code`` says why (machine-readable), the message says it
    in Chinese; ``details`` names the ``project_code`` field, so the start form shows it there."""

    def __init__(self, message: str, code: str, status: int = 422):
        super().__init__(message, details={"project_code": [message]})
        self.code, self.status = code, status


class ProjectNotFound(ProjectError):
    def __init__(self, code: str):
        super().__init__(f"投资项目在线审批监管平台没有项目代码 {code} 的项目，请核对项目代码", "project_not_found", 422)


class ProjectUnavailable(ProjectError):
    def __init__(self, reason: str = ""):
        super().__init__("投资项目在线审批监管平台暂时无法访问，项目代码暂时无法核验，请稍后再试", "project_unverifiable", 503)
        self.reason = reason


class ProjectNotOwned(ProjectError):
    def __init__(self):
        super().__init__("项目单位与申请人不一致：该项目代码不属于您的单位，不能以此项目申报", "project_owner_mismatch", 403)


@dataclass(frozen=True)
class Project:
    code: str
    name: str
    owner_code: str
    owner_name: str
    region_code: str = ""
    location: str = ""
    total_investment: float | None = None
    industry_code: str = ""
    industry_name: str = ""
    construction_content: str = ""
    fetched_at: object = None
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    def as_dict(self) -> dict:
        out = asdict(self)
        out.pop("raw")
        out["fetched_at"] = self.fetched_at.isoformat() if self.fetched_at else None
        return out

    @property
    def industry(self) -> str:
        """The start forms' ``industry`` value of the GB/T 4754 code (``other`` when not mapped)."""
        m = _INDUSTRY_CODE.match(self.industry_code or "")
        if not m:
            return "other"
        fallback = "services" if self.industry_code[0] in "FHIJKLMOPQRS" else "other"
        return INDUSTRY_BY_DIVISION.get(self.industry_code[:3], fallback)

    def prefill(self) -> dict:
        """The start form's fields this project fills (keys of the shipped forms)."""
        out = {"project_code": self.code, "project_name": self.name, "applicant_name": self.owner_name,
               "applicant_code": self.owner_code, "industry": self.industry}
        if re.fullmatch(r"\d{6}", self.region_code or ""):
            out["region_code"] = self.region_code
        if self.location:
            out["location_detail"] = self.location
        if self.total_investment is not None:
            out["total_investment"] = self.total_investment
        if self.construction_content:
            out["construction_content"] = self.construction_content
        return out


def configured() -> bool:
    return bool(current_app.config.get("TZXM_BASE_URL"))


def credentials() -> tuple[str, str] | None:
    app_id, secret = current_app.config.get("TZXM_APP_ID"), current_app.config.get("TZXM_SECRET")
    return (app_id, secret) if app_id and secret else None


def _text(value, max_len: int) -> str:
    return value.strip()[:max_len] if isinstance(value, str) else ""


def parse_project(code: str, body) -> Project:
    """The platform's project object (the answer's ``data``, or the answer itself) as a Project.
    Raises ProjectUnavailable('bad_answer') when it is not the project asked for."""
    data = body.get("data") if isinstance(body, dict) and isinstance(body.get("data"), dict) else body
    if not isinstance(data, dict):
        raise ProjectUnavailable("bad_answer: not an object")
    owner = data.get("owner") if isinstance(data.get("owner"), dict) else {}
    location = data.get("location") if isinstance(data.get("location"), dict) else {}
    industry = data.get("industry") if isinstance(data.get("industry"), dict) else {}
    got_code, name = _text(data.get("project_code"), 24), _text(data.get("project_name"), 200)
    owner_code, owner_name = _text(owner.get("credit_code"), 18), _text(owner.get("name"), 200)
    if got_code != code or not name or not is_credit_code(owner_code) or not owner_name:
        raise ProjectUnavailable(f"bad_answer: not the project {code} (project_code, project_name, owner)")
    total = data.get("total_investment")
    try:
        total = float(Decimal(str(total))) if total is not None and not isinstance(total, bool) else None
    except (InvalidOperation, ValueError):
        total = None
    if total is not None and not 0 <= total < 1e12:
        total = None
    return Project(code=code, name=name, owner_code=owner_code, owner_name=owner_name,
                   region_code=_text(location.get("region_code"), 12), location=_text(location.get("text"), 300),
                   total_investment=total, industry_code=_text(industry.get("code"), 20),
                   industry_name=_text(industry.get("name"), 100),
                   construction_content=_text(data.get("construction_content"), 5000), fetched_at=clock_now(),
                   raw=data)


def lookup(code: str) -> Project:
    """Ask the platform for the project of ``code``. Raises ProjectError: ``project_code_format``
    (not a 项目代码's shape: the platform is not asked), ProjectNotFound, ProjectUnavailable (also when
    TZXM_BASE_URL is not set). Writes nothing."""
    if not is_project_code(code or ""):
        raise ProjectError(PROJECT_CODE_MESSAGE, "project_code_format")
    base = (current_app.config.get("TZXM_BASE_URL") or "").rstrip("/")
    if not base:
        raise ProjectUnavailable("not_configured")
    try:
        answer = http.request("GET", base + PATH + code, credentials=credentials(),
                              timeout=float(current_app.config.get("TZXM_TIMEOUT_SECONDS", 10)),
                              max_bytes=256 * 1024)
        if answer.status_code == 404:
            raise ProjectNotFound(code)
        http.check(answer)
        return parse_project(code, answer.json())
    except http.Unavailable as exc:
        raise ProjectUnavailable(f"{exc.code}: {exc}") from None
    except http.Rejected as exc:
        raise ProjectUnavailable(f"{exc.code}: {exc}") from None


# -- the stored records ----------------------------------------------------------------------------

def _from_row(row: DockingProject) -> Project:
    return Project(code=row.code, name=row.name, owner_code=row.owner_code, owner_name=row.owner_name,
                   region_code=row.region_code or "", location=row.location or "",
                   total_investment=float(row.total_investment) if row.total_investment is not None else None,
                   industry_code=row.industry_code or "", industry_name=row.industry_name or "",
                   construction_content=row.construction_content or "", fetched_at=row.fetched_at,
                   raw=dict(row.raw or {}))


def cached(code: str) -> Project | None:
    """The stored record of ``code`` (any age), or None."""
    row = db.session.get(DockingProject, code) if is_project_code(code or "") else None
    return _from_row(row) if row is not None else None


def remember(project: Project) -> None:
    """Store (or refresh) the platform's record of the project, in the caller's transaction."""
    row = db.session.get(DockingProject, project.code)
    if row is None:
        row = DockingProject(code=project.code)
        db.session.add(row)
    row.name, row.owner_code, row.owner_name = project.name, project.owner_code, project.owner_name
    row.region_code, row.location = project.region_code, project.location
    row.total_investment = Decimal(str(project.total_investment)) if project.total_investment is not None else None
    row.industry_code, row.industry_name = project.industry_code, project.industry_name
    row.construction_content, row.raw = project.construction_content, project.raw
    row.fetched_at = project.fetched_at or clock_now()
    db.session.flush()


def forget(code: str) -> None:
    """Drop the stored record (the platform no longer knows the code), in the caller's transaction."""
    row = db.session.get(DockingProject, code)
    if row is not None:
        db.session.delete(row)
        db.session.flush()


def lookup_or_cached(code: str) -> tuple[Project, bool]:
    """The platform's answer, or — while the platform is unavailable — the stored record when it was
    fetched within OUTAGE_GRACE. Returns (project, from_cache). Raises as ``lookup``."""
    try:
        return lookup(code), False
    except ProjectUnavailable:
        stored = cached(code)
        if stored is not None and stored.fetched_at and clock_now() - stored.fetched_at <= OUTAGE_GRACE:
            return stored, True
        raise
