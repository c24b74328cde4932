"""The administrators' page (系统管理): every back-office page in one place, and the table of the
deployed matters (what ``/`` showed before it became the public 办事大厅)."""
from __future__ import annotations

from flask import Blueprint, render_template

from ...engine.matter import CATEGORIES
from ...services.cases.registry import list_matters
from ...services.portal.catalog import CASE_TYPES, UNITS
from .. import i18n
from ..auth import login_required

bp = Blueprint("admin_matters", __name__, url_prefix="/admin", template_folder="templates")
admin_only = login_required(lambda a: a.is_admin)

#: the admin page's sections: (heading, [(label, endpoint, note)])
SECTIONS = (
    ("组织与用户", (("用户管理", "admin_users.users", "账户、角色与所属部门"),
                ("部门管理", "admin_users.departments", "处室、窗口与会签部门"),
                ("证书登录策略", "admin_users.cert_policy_page", "哪些角色须用数字证书登录"))),
    ("事项与流程", (("已部署事项", "admin_matters.matters", "事项、编码、时限与版本"),
                ("流程设计", "designer.index", "建模、检查与发布"),
                ("事项清单（公众视角）", "portal.catalog_page", "申请人看到的事项清单"))),
    ("运行与监督", (("工作日历", "admin.calendar", "法定节假日与调休"),
                ("电子监察", "supervision.index", "预警、按期办结率"),
                ("外部系统对接", "integrations_admin.index", "一网通办、投资项目在线审批监管平台等"),
                ("省市县互联", "federation_admin.index", "上下级平台与消息"),
                ("短信发件箱", "outbox.dev_outbox", "未接入短信网关时的短信（仅开发与管理员）"))),
)

# msgids shown through _() from data: marked for `scripts/i18n extract`; English in app/translations
_MSGIDS = (i18n.N_("组织与用户"), i18n.N_("事项与流程"), i18n.N_("运行与监督"), i18n.N_("事项清单（公众视角）"), i18n.N_("省市县互联"),
    i18n.N_("短信发件箱"), i18n.N_("账户、角色与所属部门"), i18n.N_("处室、窗口与会签部门"), i18n.N_("哪些角色须用数字证书登录"), i18n.N_("事项、编码、时限与版本"),
    i18n.N_("建模、检查与发布"), i18n.N_("申请人看到的事项清单"), i18n.N_("法定节假日与调休"), i18n.N_("预警、按期办结率"),
    i18n.N_("一网通办、投资项目在线审批监管平台等"), i18n.N_("上下级平台与消息"), i18n.N_("未接入短信网关时的短信（仅开发与管理员）"))


@bp.get("/")
@admin_only
def index():
    return render_template("admin_home/index.html", sections=SECTIONS,
                           matter_count=sum(1 for m in list_matters() if m.latest_version is not None))


@bp.get("/matters")
@admin_only
def matters():
    rows = []
    for m in list_matters():
        meta = (m.latest_version.matter or {}) if m.latest_version else {}
        rows.append({"process_id": m.process_id, "name": m.name, "basic_code": m.basic_code,
                     "case_type": CASE_TYPES.get(str(m.case_type or ""), ""),
                     "category": CATEGORIES.get(meta.get("category") or "", ""),
                     "version": m.latest_version.number if m.latest_version else None,
                     "statutory": _limit(meta.get("statutory_limit")), "promised": _limit(meta.get("promised_limit"))})
    return render_template("admin_home/matters.html", matters=rows)


def _limit(limit) -> tuple | None:
    """(value, unit label) of a time limit of the metadata, or None."""
    if not isinstance(limit, dict) or limit.get("value") is None:
        return None
    return limit.get("value"), UNITS.get(limit.get("unit"), "")
