"""Candidate-group codes: departments (处室) and roles named in BPMN ``camunda:candidateGroups``."""
import re


def N_(text: str) -> str:
    """Marks a label as a msgid (extracted by ``scripts/i18n``); translated where it is shown (gettext, the ``tr``
    template filter). The domain does not import the web layer."""
    return text


GROUP_CODE_RE = re.compile(r"^[a-z][a-z0-9_.-]*$")

GROUPS: dict[str, str] = {
    "window": N_("政务服务大厅窗口"),
    "investment": N_("固定资产投资处 经办人"),
    "investment_chief": N_("固定资产投资处 处长"),
    "energy_saving": N_("资源节约和环境保护处 经办人"),
    "energy_saving_chief": N_("资源节约和环境保护处 处长"),
    "power": N_("能源局电力处 经办人"),
    "power_chief": N_("能源局电力处 处长"),
    "foreign_investment": N_("利用外资和境外投资处 经办人"),
    "foreign_investment_chief": N_("利用外资和境外投资处 处长"),
    "high_tech": N_("创新和高技术发展处 经办人"),
    "high_tech_chief": N_("创新和高技术发展处 处长"),
    "price": N_("价格认定中心 经办人"),
    "price_chief": N_("价格认定中心 主任"),
    "credit": N_("社会信用体系建设处 经办人"),
    "credit_chief": N_("社会信用体系建设处 处长"),
    "legal": N_("政策研究和法规处 经办人"),
    "legal_chief": N_("政策研究和法规处 处长"),
    "assess_center": N_("省工程咨询中心（技术评估） 评估人员"),
    "leader": N_("委领导"),
    "head": N_("委主要负责人"),
    "cs_natural_resources": N_("自然资源厅"),
    "cs_ecology": N_("生态环境厅"),
    "cs_housing": N_("住房和城乡建设厅"),
    "cs_water": N_("水利厅"),
    "cs_industry": N_("工业和信息化厅"),
    "cs_finance": N_("财政厅"),
    "cs_emergency": N_("应急管理厅"),
    "cs_commerce": N_("商务厅"),
    "cs_transport": N_("交通运输厅"),
    "cs_market": N_("市场监督管理局"),
    # platform roles that are not BPMN lanes
    "admin": N_("系统管理员"),
    "inspector": N_("电子监察"),
    "designer": N_("流程设计"),
}


def is_known_group(code: str) -> bool:
    return code in GROUPS
