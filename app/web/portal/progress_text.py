"""The applicant's progress card and timeline in the page language (issue 19).

app/services/portal/progress.py writes its texts in Chinese (the JSON API keeps them); the pages
show them through these template filters, which translate by the row's code (status, action, todo
key, deadline state) rather than by the Chinese text, and keep what is content — BPMN step names,
opinions, material names, file names — as authored, marked ``lang="zh-CN"``."""
from __future__ import annotations

import re

from flask import Blueprint
from markupsafe import Markup, escape

from .. import i18n
from ..display import limit_text
from ..i18n import N_, current_lang

bp = Blueprint("progress_text", __name__)

#: the card's one-line hint by case status (progress.STATUS_HINTS)
HINTS = {
    "submitted": N_("申请已提交，等待窗口收件审查"), "received": N_("窗口正在进行收件审查"),
    "correction": N_("需要您补正材料（补正期间不计入审批时限）"), "accepted": N_("已受理，正在审查"),
    "special_procedure": N_("特别程序中（不计入审批时限）"), "approved": N_("已办结：准予许可"),
    "rejected": N_("已办结：不予受理/不予许可"), "withdrawn": N_("您已撤回申请"), "closed": N_("已归档"),
    "terminated": N_("办件已终止"), "draft": N_("尚未提交"),
}
#: the timeline's row label by action (progress.PUBLIC_ACTIONS)
ACTIONS = {
    "create": N_("已提交申请"), "submit": N_("已提交申请"), "reject": N_("不予受理/不予许可"),
    "suspend": N_("特别程序开始"), "resume": N_("特别程序结束"), "extend": N_("延长审批"), "withdraw": N_("撤回申请"),
    "mail_submit": N_("上传快递收件材料"), "mail_confirm": N_("纸质材料已收讫，出具电子回执"),
    "mail_refuse": N_("快递收件材料被退回"), "result_upload": N_("办理结果文书已上传"),
    "result_mail": N_("结果原件已寄出"), "level_step": N_("转报与上级办理"),
    "deemed_accept": N_("逾期未一次性告知补正，依法视为受理"), "complete": N_("提交补正材料"),
}
BY = {"申请人": N_("申请人"), "系统": N_("系统"), "办理机关": N_("办理机关")}
#: special procedures (services/cases/special_procedures.SUSPENDING_KINDS and the extension)
PROCEDURES = (N_("补正"), N_("专家评审"), N_("委托评估"), N_("听证"), N_("检验检测"), N_("现场核查"),
              N_("征求有关部门书面意见"), N_("其他特别程序"), N_("延长审批"))
#: the applicant's files by kind (services/portal/intake.KIND_LABELS)
FILE_KINDS = (N_("快递面单"), N_("材料清单"), N_("承诺书"), N_("电子回执"), N_("办理结果"))
NEXT_STEPS = {"correction": N_("请按一次性告知书补正材料"), "receipt": N_("下载电子回执单"),
              "mail_wait": N_("快递收件材料已提交，等待窗口核对"), "evaluate": N_("请对本次服务进行评价（好差评）")}
_STATUS_ROW = re.compile(r"^办件状态：(.+)$")
_MAIL = re.compile(r"^请邮寄纸质材料（(.*)），并上传快递面单、材料清单和签署的承诺书$")
_MAIL_REFUSED = re.compile(r"^快递收件材料被退回（(.*)），请重新上传$")
_RESULT = re.compile(r"^下载办理结果：(.*)$")
_PLANNED = re.compile(r"^(\d+)(个工作日|日)$")


def content(text) -> Markup:
    """Authored Chinese content inside translated text: marked with its language."""
    return Markup('<span lang="zh-CN">%s</span>') % text if text else Markup("")


def _phrase(msgid: str, **parts) -> Markup:
    """A translated phrase whose %(name)s parts are content (escaped, marked zh-CN)."""
    return escape(i18n.gettext(msgid)) % {k: content(v) for k, v in parts.items()}


@bp.app_template_filter("card_hint")
def card_hint(card: dict) -> str:
    msgid = HINTS.get(card.get("status"))
    return i18n.gettext(msgid) if msgid else card.get("hint") or ""


@bp.app_template_filter("deadline_note")
def deadline_note(d: dict) -> str:
    """剩余 3 个工作日 / 已超期 2 个工作日 / 受理后开始计算 … of a deadline (progress._deadline)."""
    state, remaining = d.get("state"), d.get("remaining")
    if state == "not_started":
        return i18n.gettext("受理后开始计算")
    if state == "suspended":
        return i18n.gettext("已暂停")
    if state == "stopped":
        return i18n.gettext("已办结")
    if remaining is None:
        return i18n.gettext("工作日历缺失，剩余天数暂无法计算") if d.get("note") else ""
    if remaining >= 0:
        return i18n.gettext("剩余 %(n)s 个工作日", n=remaining)
    return i18n.gettext("已超期 %(n)s 个工作日", n=-remaining)


@bp.app_template_filter("planned_text")
def planned_text(planned: str) -> str:
    m = _PLANNED.match(planned or "")
    if not m:
        return planned or ""
    return limit_text({"value": int(m.group(1)), "unit": "working_day" if m.group(2) == "个工作日" else "natural_day"})


@bp.app_template_filter("event_label")
def event_label(ev: dict) -> Markup:
    """The timeline row's label: by its action; a status change names the status; a forwarding step's
    text (written by the upper level's platform) is content."""
    action, label = ev.get("action"), ev.get("label") or ""
    if action == "status":
        m = _STATUS_ROW.match(label)
        status = i18n.gettext(m.group(1)) if m else label
        return Markup(escape(i18n.gettext("办件状态：%(status)s", status=status)))
    if action == "level_step" and label != "转报与上级办理":
        return content(label)
    if action in ACTIONS:
        return Markup(escape(i18n.gettext(ACTIONS[action])))
    return Markup(escape(label))  # the folded drafts row is already in the page language


@bp.app_template_filter("event_by")
def event_by(by: str) -> str:
    return i18n.gettext(BY[by]) if by in BY else by


@bp.app_template_filter("todo_text")
def todo_text(item: dict) -> Markup:
    key, text = item.get("key"), item.get("text") or ""
    if key in NEXT_STEPS:
        return Markup(escape(i18n.gettext(NEXT_STEPS[key])))
    for pattern, msgid, name in ((_MAIL, "请邮寄纸质材料（%(names)s），并上传快递面单、材料清单和签署的承诺书", "names"),
                                 (_MAIL_REFUSED, "快递收件材料被退回（%(reason)s），请重新上传", "reason"),
                                 (_RESULT, "下载办理结果：%(file)s", "file")):
        m = pattern.match(text)
        if m:
            return _phrase(msgid, **{name: m.group(1)})
    return content(text)


@bp.app_template_filter("content_paren")
def content_paren(text) -> Markup:
    """（content） in Chinese, " (content)" in English, the content marked zh-CN."""
    if not text:
        return Markup("")
    if current_lang() == "en":
        return Markup(" (%s)") % content(text)
    return Markup("（%s）") % content(text)
