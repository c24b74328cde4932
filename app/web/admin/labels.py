"""What the administration pages show for codes (issue 19): a role's name in the page language
beside its code, a candidate group as the department's name (content, as the agency wrote it) and the
role's name, weekday names and the source of a calendar day. Codes are shown in <code> next to the
name, never alone."""
from __future__ import annotations

from datetime import date

from babel.dates import format_date
from markupsafe import Markup, escape

from ...domain.org import ROLES
from .. import i18n

# the role names of app/domain/org.py ROLES, marked for extraction (English in app/translations)
ROLE_NAMES = {"window_clerk": i18n.N_("窗口人员"), "handler": i18n.N_("经办人"), "chief": i18n.N_("处长"),
              "leader": i18n.N_("委领导"), "head": i18n.N_("委主要负责人"), "liaison": i18n.N_("联络员"),
              "inspector": i18n.N_("电子监察"), "designer": i18n.N_("流程设计"), "admin": i18n.N_("系统管理员")}
#: candidate groups that are a platform role of their own (app/domain/org.py group_for)
ROLE_GROUPS = {"window": "window_clerk", "leader": "leader", "head": "head", "inspector": "inspector",
               "designer": "designer", "admin": "admin"}
#: where a calendar day came from (CalendarDay.source)
SOURCE_NAMES = {"chinesecalendar": i18n.N_("开源软件包"), "demo": i18n.N_("演示数据"), "import": i18n.N_("年度文件导入"),
                "admin": i18n.N_("管理员设置")}
#: what a certificate audit row records (CertAudit.action)
AUDIT_ACTIONS = {"policy": i18n.N_("策略变更"), "bind": i18n.N_("绑定证书"), "unbind": i18n.N_("解除绑定")}
_LOCALES = {"zh": "zh_CN", "en": "en"}


def role_name(code: str) -> str:
    """A role's name in the page language (the code itself for a role the platform does not know)."""
    name = ROLE_NAMES.get(code) or (ROLES.get(code) or (None,))[0]
    return i18n.gettext(name) if name else code


def _zh(text: str) -> Markup:
    return Markup('<span lang="zh-CN">%s</span>') % text


def role_html(code: str) -> Markup:
    """The role's name with its code beside it."""
    return Markup("%s <code>%s</code>") % (role_name(code), code)


def group_html(code: str, dept_names: dict[str, str]) -> Markup:
    """A candidate group: the department's name (content: marked Chinese) · the role's name, the code beside."""
    role, dept = None, None
    if code in ROLE_GROUPS:
        role = ROLE_GROUPS[code]
    elif code in dept_names:
        role, dept = "handler", code
    else:
        for suffix, r in (("_chief", "chief"), ("_liaison", "liaison")):
            if code.endswith(suffix) and code[: -len(suffix)] in dept_names:
                role, dept = r, code[: -len(suffix)]
    if role is None:
        return Markup("<code>%s</code>") % code
    label = Markup("%s · %s") % (_zh(dept_names[dept]), role_name(role)) if dept else escape(role_name(role))
    return Markup('<span class="group">%s <code>%s</code></span>') % (label, code)


def weekday(day: date) -> str:
    """The short weekday name in the page language: 周四 / Thu."""
    return format_date(day, "EEE", locale=_LOCALES.get(i18n.current_lang(), "zh_CN"))


def source_html(source: str) -> Markup:
    """Where a calendar day came from, in words; the package's name in <code>."""
    name = SOURCE_NAMES.get(source)
    if name is None:
        return Markup("<code>%s</code>") % source
    if source == "chinesecalendar":
        return Markup("%s <code>chinesecalendar</code>") % i18n.gettext(name)
    return escape(i18n.gettext(name))


def audit_action(action: str) -> str:
    name = AUDIT_ACTIONS.get(action)
    return i18n.gettext(name) if name else action


def helpers() -> dict:
    """The template globals of the administration pages (a blueprint's context processor)."""
    return {"role_name": role_name, "role_html": role_html, "group_html": group_html, "weekday": weekday,
            "source_html": source_html, "zh": _zh, "audit_action": audit_action}
