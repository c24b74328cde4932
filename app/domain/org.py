"""Organisation code sets: roles, regions, and how a user's roles in departments become the
candidate-group codes that BPMN files name.

A candidate group is ``<department code>`` for the department's handlers (经办人),
``<department code>_chief`` for its chief (处长), ``<department code>_liaison`` for its liaison
(联络员); platform roles are groups of their own name (``window``, ``leader``, ``head``, ``inspector``,
``designer``, ``admin``). A task is visible to a group only in the task's region."""
from __future__ import annotations

import re

ROLES: dict[str, tuple[str, str, bool]] = {
    # code: (zh name, en name, needs a department)
    "window_clerk": ("窗口人员", "Window clerk", False),
    "handler": ("经办人", "Handler", True),
    "chief": ("处长", "Division chief", True),
    "leader": ("委领导", "Commission leader", False),
    "head": ("委主要负责人", "Head of the commission", False),
    "liaison": ("联络员", "Liaison", True),
    "inspector": ("电子监察", "Inspector", False),
    "designer": ("流程设计", "Process designer", False),
    "admin": ("系统管理员", "Administrator", False),
}

#: Jiangsu and its 13 prefecture-level cities (GB/T 2260)
REGIONS: list[tuple[str, str, str | None, str]] = [
    ("320000", "江苏省", None, "province"),
    ("320100", "南京市", "320000", "city"), ("320200", "无锡市", "320000", "city"),
    ("320300", "徐州市", "320000", "city"), ("320400", "常州市", "320000", "city"),
    ("320500", "苏州市", "320000", "city"), ("320600", "南通市", "320000", "city"),
    ("320700", "连云港市", "320000", "city"), ("320800", "淮安市", "320000", "city"),
    ("320900", "盐城市", "320000", "city"), ("321000", "扬州市", "320000", "city"),
    ("321100", "镇江市", "320000", "city"), ("321200", "泰州市", "320000", "city"),
    ("321300", "宿迁市", "320000", "city"),
    ("320102", "玄武区", "320100", "county"), ("320505", "虎丘区", "320500", "county"),
]

REGION_RE = re.compile(r"^\d{6}$")
DEPT_CODE_RE = re.compile(r"^[a-z][a-z0-9_]{1,40}$")
PROVINCE = "320000"


def region_level(code: str) -> str:
    """province / city / county from the shape of a GB/T 2260 code."""
    if not REGION_RE.match(code or ""):
        raise ValueError(f"行政区划代码应为 6 位数字: {code!r}")
    if code[2:] == "0000":
        return "province"
    if code[4:] == "00":
        return "city"
    return "county"


def group_for(role_code: str, department_code: str | None) -> str:
    """The candidate-group code a role in a department gives."""
    if role_code not in ROLES:
        raise ValueError(f"unknown role {role_code!r}")
    if role_code == "handler":
        return department_code
    if role_code == "chief":
        return f"{department_code}_chief"
    if role_code == "liaison":
        return f"{department_code}_liaison"
    if role_code == "window_clerk":
        return "window"
    return role_code


def inbox_keys(username: str, groups, region_code: str) -> list[str]:
    """The task_candidates keys whose rows form a user's 待办."""
    return [f"u:{username}"] + sorted(f"g:{g}@{region_code}" for g in groups)
