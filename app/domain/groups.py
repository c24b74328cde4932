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
    "foreign_investment": "利用外资和境外投资处 经办人",
    "foreign_investment_chief": "利用外资和境外投资处 处长",
    "high_tech": "创新和高技术发展处 经办人",
    "high_tech_chief": "创新和高技术发展处 处长",
    "price": "价格认定中心 经办人",
    "price_chief": "价格认定中心 主任",
    "credit": "社会信用体系建设处 经办人",
    "credit_chief": "社会信用体系建设处 处长",
    "legal": "政策研究和法规处 经办人",
    "legal_chief": "政策研究和法规处 处长",
    "assess_center": "省工程咨询中心（技术评估） 评估人员",
    "leader": "委领导",
    "head": "委主要负责人",
    "cs_natural_resources": "自然资源厅",
    "cs_ecology": "生态环境厅",
    "cs_housing": "住房和城乡建设厅",
    "cs_water": "水利厅",
    "cs_industry": "工业和信息化厅",
    "cs_finance": "财政厅",
    "cs_emergency": "应急管理厅",
    "cs_commerce": "商务厅",
    "cs_transport": "交通运输厅",
    "cs_market": "市场监督管理局",
    # platform roles that are not BPMN lanes
    "admin": "系统管理员",
    "inspector": "电子监察",
    "designer": "流程设计",
}


def is_known_group(code: str) -> bool:
    return code in GROUPS
