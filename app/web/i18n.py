"""UI text: Simplified Chinese first, English on request (?lang=en, remembered in the session)."""
from flask import request, session

EN = {
    "阳光发改 · 不见面审批": "Sunshine DRC · No-meeting approval",
    "省发展和改革委员会 政务服务平台": "Provincial Development and Reform Commission service platform",
    "登录": "Sign in", "退出": "Sign out", "用户名": "User name", "密码": "Password",
    "电子监察": "Electronic supervision", "工作日历": "Working-day calendar", "首页": "Home",
    "部门": "Department", "事项": "Matter", "颜色": "Colour", "全部": "All", "黄牌": "Yellow", "红牌": "Red",
    "开始日期": "From", "结束日期": "To", "筛选": "Filter", "导出 CSV": "Export CSV",
    "预警记录": "Warnings", "办件编号": "Case no.", "监察内容": "Content", "规则": "Rule",
    "预警时间": "Time", "期限": "Deadline", "状态": "Status", "处理结果": "Result", "责任部门": "Responsible",
    "按期办结率（按部门）": "On-time rate by department", "按期办结率（按事项）": "On-time rate by matter",
    "办结环节数": "Steps finished", "按期": "On time", "按期率": "Rate", "超期办件": "Overdue cases",
    "法定期限": "Statutory deadline", "承诺期限": "Promised deadline", "暂无": "None",
    "年份": "Year", "日期": "Date", "类型": "Kind", "名称": "Name", "法定节假日": "Holiday",
    "调休上班": "Adjusted workday", "恢复为普通日": "Back to the weekday rule", "保存": "Save",
    "导入年度文件": "Import a year file", "导入": "Import", "备注（文号）": "Note (notice no.)",
    "已有数据的年份": "Years with data", "来源": "Source", "操作": "Action",
    "文件格式：每行 YYYY-MM-DD,holiday|workday,名称": "File format: one line per day YYYY-MM-DD,holiday|workday,name",
    "已部署事项": "Deployed matters", "事项名称": "Matter", "基本编码": "Basic code", "办件类型": "Case type",
    "法定时限": "Statutory limit", "承诺时限": "Promised limit", "版本": "Version", "个工作日": " working days",
    "尚未部署事项": "No matter deployed yet", "接口文档": "API document", "即办件": "Immediate", "承诺件": "Promised",
    "开启": "Open", "已处理": "Resolved",
}


def current_lang() -> str:
    lang = request.args.get("lang")
    if lang in {"zh", "en"}:
        session["lang"] = lang
    return session.get("lang", "zh")


def gettext(text: str) -> str:
    return EN.get(text, text) if current_lang() == "en" else text
