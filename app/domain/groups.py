"""Candidate-group codes: departments (处室) and roles named in BPMN ``camunda:candidateGroups``."""
import re

GROUP_CODE_RE = re.compile(r"^[a-z][a-z0-9_.-]*$")

GROUPS: dict[str, str] = {
    "window": "政务服务大厅窗口",
    "investment": "固定资产投资处 经办人",
    "investment_chief": "固定资产投资处 处长",
    "energy_saving": "资源节约和环境保护处 经办人",
    "energy_saving_chief": "资源节约和环境保护处 处长",
    "power": "能源局电力处 经办人",
    "power_chief": "能源局电力处 处长",
    "leader": "委领导",
    "head": "委主要负责人",
    "cs_natural_resources": "自然资源厅",
    "cs_ecology": "生态环境厅",
    "cs_housing": "住房和城乡建设厅",
    "cs_water": "水利厅",
    "cs_industry": "工业和信息化厅",
    "cs_finance": "财政厅",
    "cs_emergency": "应急管理厅",
    # platform roles that are not BPMN lanes
    "admin": "系统管理员",
    "inspector": "电子监察",
    "designer": "流程设计",
}


def is_known_group(code: str) -> bool:
    return code in GROUPS
