"""Supervision pages (电子监察) for inspectors: warnings with filters, on-time rates, overdue cases, CSV;
and, across levels, what the cities and counties below report of their cases (per region, with a
drill-down per region: /supervision/regions/<code>).

Everything is shown by name (rules, matters, departments, case statuses by their labels), times in
Beijing time; below 600 px each table row is a card of "label: value" lines (CSS only)."""
from __future__ import annotations

from datetime import date, datetime, time

from flask import Blueprint, Response, render_template, request

from ...domain.case_status import LABELS as STATUS_LABELS
from ...domain.errors import ValidationError
from ...domain.groups import GROUPS
from ...services.cases.registry import list_matters
from ...services.clocks import supervision as svc
from ...services.common.clock import BEIJING
from ...services.docking import operations as docking_ops
from ...services.federation import report_views
from .. import i18n
from ..auth import current_actor, login_required

bp = Blueprint("supervision", __name__, url_prefix="/supervision", template_folder="templates")

# msgids shown through _() from data: marked for `scripts/i18n extract`; English in app/translations
_MSGIDS = (i18n.N_("环节时限即将到期（黄牌）"), i18n.N_("环节超期（红牌）"), i18n.N_("承诺办结期限即将到期（黄牌）"), i18n.N_("超承诺办结期限（红牌）"),
    i18n.N_("法定办结期限即将到期（黄牌）"), i18n.N_("超法定办结期限（红牌）"), i18n.N_("次年工作日历未导入"), i18n.N_("工作日历缺失"), i18n.N_("按期办结于 {}"),
    i18n.N_("超期办结于 {}"), i18n.N_("办件状态：{}"), i18n.N_("未指定部门"), i18n.N_("规则编码"))


def _status(code: str | None) -> str:
    """A case status by its label, in the UI's language."""
    return i18n.gettext(STATUS_LABELS.get(code, code or ""))


def _names() -> dict:
    return {"rule_name": lambda rule_id: i18n.gettext(svc.rule_name(rule_id)),
            "result_text": lambda result: svc.result_text(result, i18n.gettext),
            "status_label": _status}


def _group_labels() -> dict[str, str]:
    """The candidate groups' labels (department · role) in the UI's language."""
    return {code: i18n.gettext(label) for code, label in GROUPS.items()}


def _day(name: str) -> datetime | None:
    raw = request.args.get(name) or ""
    if not raw:
        return None
    try:
        return datetime.combine(date.fromisoformat(raw), time(0), BEIJING)
    except ValueError:
        raise ValidationError("日期格式应为 YYYY-MM-DD", details={name: ["YYYY-MM-DD"]}) from None


def _filters() -> dict:
    return {"department": request.args.get("department") or None,
            "process_id": request.args.get("process_id") or None,
            "colour": request.args.get("colour") or None, "since": _day("since"), "until": _day("until")}


def _raw_filters() -> dict:
    return {k: request.args.get(k) for k in ("department", "process_id", "colour", "since", "until")
            if request.args.get(k)}


@bp.get("")
@login_required(lambda a: a.is_inspector or a.is_admin)
def index():
    actor = current_actor()
    error, events = None, []
    try:
        filters = _filters()
        events = svc.list_events(actor, limit=500, **filters)
    except ValidationError as exc:
        error, filters = exc.message, {}
    return render_template("supervision/index.html", events=events, f=_raw_filters(), error=error,
                           overdue=svc.overdue_cases(actor), reports=report_views.region_summaries(actor),
                           rates=svc.on_time_rates(actor, since=filters.get("since"), until=filters.get("until")),
                           groups=[(c, n) for c, n in _group_labels().items() if c not in {"admin", "designer", "inspector"}],
                           group_names=_group_labels(), matters=list_matters(), matter_names=svc.matter_names(), tz=BEIJING,
                           docking_alerts=docking_ops.alerts(), **_names())


@bp.get("/export.csv")
@login_required(lambda a: a.is_inspector or a.is_admin)
def export():
    body = svc.export_csv(current_actor(), **_filters())
    return Response(body, mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": "attachment; filename=supervision.csv"})


@bp.get("/regions/<region>")
@login_required(lambda a: a.is_inspector or a.is_admin)
def region(region: str):
    """The cases a lower-level region reported, the overdue ones first (404 when none)."""
    return render_template("supervision/region.html", r=report_views.region_cases(current_actor(), region), tz=BEIJING,
                           **_names())
