"""Template helpers for what pages show (issue 19), registered app-wide:

- ``{{ name|matter_label(process_id) }}``: a matter's name in the page language. The English name
  is kept with the matter — the ``nameEn`` extension property of the BPMN process (editable in the
  designer's properties panel, read by app/engine/parser.py into the version's ``summary["name_en"]``).
  With ``?lang=en`` the latest version's English name is shown, found by process id, else by the
  Chinese name (rows that carry only the name); Chinese otherwise, and whenever no English name is
  kept. Notices and SMS are legal texts and keep the Chinese name: they do not use this.
- ``{{ limit|limit_text }}``: a time limit of the guide (``{"value": 20, "unit": "working_day"}``) as one
  phrase in the page language (20个工作日 / 20 working days); ``{{ items|join_list }}``: names joined with
  、 in Chinese and ", " in English.
- ``{{ events|fold_drafts }}``: the staff trail (``CaseEvent`` rows, oldest first) with consecutive
  暂存 (``draft``) events of the same person on the same step folded into one row (``count`` > 1,
  ``first_at`` … ``at``, ``times``) — presentation only; the trail itself is untouched. The applicant
  side folds its own saves into one row "暂存（N 次）" too (app/web/portal/cases.py); both read the
  msgid ``DRAFTS_LABEL``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask import Blueprint, g
from sqlalchemy import select

from ..extensions import db
from ..models import Matter, ProcessVersion
from ..services.common.clock import today_beijing
from .i18n import N_, current_lang, gettext

bp = Blueprint("display", __name__)

#: the one row of several 暂存 (applicant and staff sides), with the count
DRAFTS_LABEL = "暂存（%d 次）"


# -- the matter's name in the page language ----------------------------------------------------------
def english_names() -> tuple[dict[str, str], dict[str, str]]:
    """({process id: English name}, {Chinese name: English name}) of the deployed matters' latest
    versions, read once per request."""
    cached = g.get("_matter_names_en")
    if cached is None:
        by_id: dict[str, str] = {}
        by_name: dict[str, str] = {}
        rows = db.session.execute(select(Matter.process_id, Matter.name, ProcessVersion.summary)
                                  .join(ProcessVersion, ProcessVersion.id == Matter.latest_version_id))
        for pid, name, summary in rows:
            english = (summary or {}).get("name_en") if isinstance(summary, dict) else None
            if english:
                by_id[pid] = english
                by_name.setdefault(name, english)
        cached = g._matter_names_en = (by_id, by_name)
    return cached


def matter_name_in(lang: str, name, process_id: str | None = None) -> str:
    """``name`` (the Chinese name, as stored) in ``lang``: the kept English name for 'en', if any."""
    if lang != "en":
        return name
    by_id, by_name = english_names()
    if process_id and process_id in by_id:
        return by_id[process_id]
    return by_name.get(name, name) if isinstance(name, str) else name


@bp.app_template_filter("matter_label")
def matter_label(name, process_id: str | None = None) -> str:
    return matter_name_in(current_lang(), name, process_id)


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


@bp.app_template_global("today_label")
def today_label() -> str:
    """Today in Beijing in the page language's format (the printed guide's date)."""
    day = today_beijing()
    if current_lang() == "en":
        return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"
    return f"{day.year}年{day.month}月{day.day}日"


# -- time limits and lists in the page language --------------------------------------------------------
LIMIT_UNITS = {"working_day": N_("%(n)s个工作日"), "natural_day": N_("%(n)s个自然日"), "month": N_("%(n)s个月")}
#: the start form's field types shown in the guide (app/services/portal/catalog.py FIELD_TYPES), marked here
#: for extraction: the guide translates them with ``tr``
FIELD_TYPE_NAMES = (N_("文本"), N_("多行文本"), N_("数字"), N_("勾选"), N_("多选"), N_("单选"), N_("下拉选择"),
                    N_("日期"), N_("文件"))


@bp.app_template_filter("limit_text")
def limit_text(limit) -> str:
    """A time limit ({value, unit}) as one phrase in the page language; '' for none."""
    if not limit or limit.get("value") in (None, ""):
        return ""
    unit = LIMIT_UNITS.get(limit.get("unit"))
    return gettext(unit, n=limit["value"]) if unit else str(limit["value"])


@bp.app_template_filter("join_list")
def join_list(items) -> str:
    """Names joined the page language's way: 、 in Chinese, a comma in English."""
    return (", " if current_lang() == "en" else "、").join(str(i) for i in items or ())


@bp.app_template_filter("colon")
def colon(label: str) -> str:
    """A label followed by the page language's colon (法定时限： / Statutory limit: ) before content."""
    return f"{label}: " if current_lang() == "en" else f"{label}："


# -- the staff trail with its 暂存 folded --------------------------------------------------------------
@dataclass
class FoldedDrafts:
    """Several consecutive 暂存 of one person on one step, shown as one trail row (the attributes the
    trail template reads of a CaseEvent)."""
    events: list = field(default_factory=list)
    action: str = "draft"
    opinion: None = None
    data_change: None = None
    to_status: None = None

    @property
    def count(self) -> int:
        return len(self.events)

    @property
    def at(self) -> datetime:
        return self.events[-1].at

    @property
    def first_at(self) -> datetime:
        return self.events[0].at

    @property
    def times(self) -> list[datetime]:
        return [ev.at for ev in self.events]

    @property
    def actor(self) -> str:
        return self.events[0].actor

    @property
    def step_name(self):
        return self.events[0].step_name

    @property
    def task_id(self):
        return self.events[0].task_id


def _same_drafter(a, b) -> bool:
    return a.action == b.action == "draft" and a.actor == b.actor and a.task_id == b.task_id


@bp.app_template_filter("fold_drafts")
def fold_drafts(events) -> list:
    """``events`` with each run of consecutive 暂存 of the same person on the same step as one
    FoldedDrafts (a single 暂存 stays the event itself)."""
    out: list = []
    for ev in events or ():
        last = out[-1] if out else None
        if last is not None and _same_drafter(last.events[-1] if isinstance(last, FoldedDrafts) else last, ev):
            if not isinstance(last, FoldedDrafts):
                last = out[-1] = FoldedDrafts(events=[last])
            last.events.append(ev)
        else:
            out.append(ev)
    return out
