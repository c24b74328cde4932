"""The public home page (办事大厅) and the staff's 工作台.

``/`` is where everyone starts: entries by audience (个人 / 法人, GB/T 39046 A.4 service objects), by
handling department and by topic (the catalog's 事项分类), the catalog search, 进度查询, 结果公示,
咨询投诉 and the service phone numbers (SERVICE_PHONES). Every entry is a link into the catalog
(``/portal/?object=…``, ``?dept=…``, ``?category=…``) or another public page.

``/workbench`` is the staff's landing after sign-in: the counts of 待办, 即将超期 and 已超期 (read
through the inbox service), the most urgent tasks, and the entries of the signed-in user's roles.
The deployed matters' developer table is the administrators' (app/web/admin/matters.py)."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, current_app, render_template

from ..config import DEFAULT_SERVICE_PHONES, parse_service_phones
from ..services.cases.registry import list_matters
from ..services.identity.org import department_names, role_for_group
from ..services.inbox import lists as inbox_svc
from ..services.portal import catalog
from . import i18n
from .auth import current_actor, landing_url, login_required

bp = Blueprint("home", __name__, template_folder="templates")

#: GB/T 39046 A.4 service objects by audience: 个人 (natural persons) and 法人 (everyone else:
#: enterprises, institutions, social organisations, unincorporated enterprises, government bodies…)
PERSON_OBJECTS = ("1",)
ORG_OBJECTS = ("2", "3", "4", "5", "6", "9")
AUDIENCES = (("person", "个人办事", PERSON_OBJECTS), ("org", "法人办事", ORG_OBJECTS))
MATTERS_PER_AUDIENCE = 6  # the matters an audience block names before "more"
URGENT_ROWS = 5  # the most urgent 待办 the 工作台 lists
COLOUR_SCAN = 100  # 即将超期 / 已超期 are counted exactly up to this, then shown as "100+"

# msgids shown through _() from data: marked for `scripts/i18n extract`; English in app/translations
_MSGIDS = (i18n.N_("个人办事"), i18n.N_("法人办事"), i18n.N_("政务服务便民热线"), i18n.N_("即将超期"), i18n.N_("已超期"), i18n.N_("抄送未读"),
    i18n.N_("固定资产投资处"), i18n.N_("资源节约和环境保护处"), i18n.N_("能源局电力处"), i18n.N_("利用外资和境外投资处"), i18n.N_("创新和高技术发展处"),
    i18n.N_("价格认定中心"), i18n.N_("社会信用体系建设处"), i18n.N_("政策研究和法规处"), i18n.N_("省工程咨询中心（技术评估）"))


def service_phones() -> list[tuple[str, str]]:
    """SERVICE_PHONES as (number, label) pairs: the setting (a list of pairs, or the environment's
    text form), or the default hotline."""
    value = current_app.config.get("SERVICE_PHONES")
    if isinstance(value, str):
        return parse_service_phones(value)
    if value:
        return [(str(n), str(label)) for n, label in value]
    return parse_service_phones(DEFAULT_SERVICE_PHONES)


def _audiences(matters: list[dict]) -> list[dict]:
    """个人 / 法人 blocks: per service object with matters, its count; the first matters by name."""
    labels = catalog.SERVICE_OBJECTS
    out = []
    for key, label, codes in AUDIENCES:
        mine = [m for m in matters if set(m["service_object"]) & set(codes)]
        objects = [{"code": c, "label": labels[c], "count": sum(c in m["service_object"] for m in mine)}
                   for c in codes]
        out.append({"key": key, "label": label, "count": len(mine), "objects": [o for o in objects if o["count"]],
                    "matters": mine[:MATTERS_PER_AUDIENCE], "more": len(mine) > MATTERS_PER_AUDIENCE})
    return out


def _departments(matters: list[dict]) -> list[dict]:
    """The departments that handle a deployed matter (a chief's or liaison's group counts for its
    department; the hall and the leadership are no department of their own here), by name."""
    counts: dict[str, int] = {}
    for m in matters:
        depts = set()
        for group in m["departments"]:
            _role, dept = role_for_group(group)
            if dept and dept in m["departments"]:  # the catalog filters by the handlers' group
                depts.add(dept)
        for dept in depts:
            counts[dept] = counts.get(dept, 0) + 1
    names = department_names(counts)
    rows = [{"code": code, "name": names.get(code, code), "count": n} for code, n in counts.items()]
    return sorted(rows, key=lambda r: (-r["count"], r["name"]))


def _topics(matters: list[dict]) -> list[dict]:
    """The catalog's categories with deployed matters, in the catalog's order."""
    return [{"code": items[0]["category"], "label": label, "count": len(items)}
            for label, items in catalog.grouped(matters) if items[0]["category"]]


@bp.get("/")
def index():
    matters = catalog.list_catalog()
    actor = current_actor()
    return render_template("home/index.html", total=len(matters), audiences=_audiences(matters),
                           departments=_departments(matters), topics=_topics(matters), phones=service_phones(),
                           landing=landing_url(actor) if actor is not None and actor.is_staff else None)


def _day(d: date) -> str:
    """A date as people read it: 2026年3月4日, or 4 Mar 2026 in English."""
    return d.strftime("%d %b %Y").lstrip("0") if i18n.current_lang() == "en" else f"{d.year}年{d.month}月{d.day}日"


def _colour_count(actor, colour: str) -> str:
    """How many of the actor's 待办 are in ``colour``: exact up to COLOUR_SCAN, then "100+"."""
    page = inbox_svc.list_inbox(actor, "todo", inbox_svc.Filters(colour=colour), per_page=COLOUR_SCAN,
                                with_counts=False)
    return f"{COLOUR_SCAN}+" if page.has_next else str(len(page.rows))


def _entries(actor) -> list[tuple[str, str]]:
    """(label, endpoint) of the pages the actor's roles open, besides the inbox."""
    out = [("评价整改/咨询", "feedback.rectifications")]
    if actor.is_admin or "designer" in actor.groups:
        out.append(("流程设计", "designer.index"))
    if actor.is_inspector or actor.is_admin:
        out.append(("电子监察", "supervision.index"))
    if actor.is_admin:
        out.append(("系统管理", "admin_matters.index"))
    return out


@bp.get("/workbench")
@login_required(lambda a: a.is_staff)
def workbench():
    actor = current_actor()
    counts = inbox_svc.counts(actor)
    urgent = inbox_svc.list_inbox(actor, "todo", per_page=URGENT_ROWS, with_counts=False)
    tiles = [("待办", inbox_svc.badge(counts, "todo"), {}, "todo"),
             ("即将超期", _colour_count(actor, "yellow"), {"colour": "yellow"}, "yellow"),
             ("已超期", _colour_count(actor, "red"), {"colour": "red"}, "red"),
             ("抄送未读", inbox_svc.badge(counts, "cc"), {"tab": "cc"}, "cc")]
    matters = {m.process_id: m.name for m in list_matters()}
    return render_template("home/workbench.html", tiles=tiles, urgent=urgent, matters=matters,
                           entries=_entries(actor), inbox_counts=counts, day=_day,
                           colours={"red": "已超期", "yellow": "即将超期", "green": "", "none": "无时限"})
