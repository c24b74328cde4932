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

# 工作台 (app/web/inbox.py and templates/inbox)
EN.update({
    "工作台": "Workbench", "待办": "To do", "已办": "Done", "我经手的": "Handled by me", "抄送给我": "Copied to me",
    "上一页": "Previous", "下一页": "Next", "第": "Page", "页": "", "分页": "Pages", "清除": "Clear",
    "名称或统一社会信用代码": "Name or credit code", "项目代码": "Project code", "项目名称": "Project",
    "申请人": "Applicant", "环节": "Step", "时间": "Time", "标记": "Marks", "办件状态": "Case status",
    "即将到期": "Due soon", "已超期": "Overdue", "无时限": "No limit", "环节时限": "Step due",
    "待签收": "Unclaimed", "已签收": "Claimed", "已委派": "Delegated to", "委派": "Delegate",
    "委派已交回": "Delegation returned", "有暂存": "Draft saved", "催办": "Urge", "未读": "Unread", "已读": "Read",
    "加签": "Add signers", "等待加签意见": "Waiting for added signers", "已办结": "Finished", "已撤销": "Cancelled",
    "办理人": "Handler", "表单": "Form", "办理": "Handle", "意见": "Opinion", "办理意见": "Opinion",
    "加签意见": "Signer's opinion", "请填写意见；不予许可时填写理由": "Your opinion; the reason when refusing",
    "签收": "Claim", "签收后该任务从其他候选人的待办中移除": "Claiming removes the task from the other candidates' lists",
    "同意": "Approve", "不予许可": "Refuse", "不予受理/不予许可": "Refused", "办理完毕，交回": "Done, hand back",
    "暂存": "Save draft", "更多操作": "More actions", "退回": "Return", "退回到": "Return to",
    "退回理由": "Reason for returning", "转办": "Transfer", "转办给（用户名）": "Transfer to (user name)",
    "委派给（用户名）": "Delegate to (user name)", "说明": "Note",
    "加签人（用户名，逗号分隔）": "Signers (user names, comma separated)",
    "前加签：加签人先签署意见，再回到我": "Before: the signers give their opinions first, then it comes back to me",
    "后加签：我先办理，加签人签署后流转": "After: I complete now, the case moves on once they signed",
    "意见（后加签必填）": "Opinion (required for 'after')", "减签": "Remove signer", "抄送": "Copy to",
    "抄送给（用户名，逗号分隔）": "Copy to (user names, comma separated)", "附言": "Note",
    "催办说明": "Reminder note", "请尽快办理": "Please handle soon", "取消签收": "Unclaim", "收回委派": "Take back delegation",
    "收回": "Take back", "撤回": "Withdraw", "撤回理由": "Reason for withdrawing", "管理操作": "Administration",
    "挂起": "Suspend", "挂起理由": "Reason for suspending", "激活": "Resume", "终止": "Terminate",
    "终止理由": "Reason for terminating", "流程图": "Process diagram", "当前环节": "Current step",
    "已办环节": "Steps done", "会签意见": "Countersign opinions", "结果": "Result", "办理过程": "Case history",
    "材料与附件": "Files", "文件": "File", "大小": "Size", "上传人": "Uploaded by", "暂无附件": "No files",
    "文件（PDF、JPG、PNG、OFD）": "File (PDF, JPG, PNG, OFD)", "上传": "Upload", "申请信息": "Application",
    "只读": "Read only", "没有正在办理的环节": "No open step", "查看": "View", "已挂起": "Suspended",
    # history actions, outcomes, statuses, file kinds
    "创建申请": "Created", "接收消息": "Message received", "提交申请": "Submitted", "状态变更": "Status", "委派交回": "Delegation handed back",
    "前加签": "Signers added (before)", "后加签": "Signers added (after)", "上传附件": "File attached",
    "延长审批": "Extension", "流程异常": "Incident", "重试": "Retry", "定时": "Timer", "已减签": "Signer removed",
    "补正": "Correction", "已提交": "Submitted", "已收件": "Received", "已受理": "Accepted", "补正中": "In correction",
    "特别程序": "Special procedure", "准予许可/办结": "Approved", "已撤回": "Withdrawn", "已归档": "Archived",
    "已终止": "Terminated", "会议纪要": "Meeting minutes", "专家评审意见": "Expert review", "部门意见": "Department opinion",
    "材料扫描件": "Scan", "其他": "Other",
})

# 转报 between platforms (the staff case page)
EN.update({
    "撤回转报": "Recall the forwarding", "撤回理由": "Reason for the recall", "最近一次撤回转报": "Latest recall",
    "待送达上级平台": "Not yet delivered to the upper platform",
    "上级平台已同意撤回，等待其确认结果": "The upper platform agreed; waiting for its confirmation",
    "上级平台已受理，未能撤回": "The upper platform had accepted the case: not recalled",
    "未能送达上级平台": "Could not be delivered to the upper platform",
    "上级平台尚未受理时可撤回；上级确认后本办件继续办理。":
        "A forwarded case can be recalled until the upper platform accepts it; once it confirms, this case goes on.",
    "转报": "Forwarded", "下级转报": "Forwarded in", "上下级平台": "Other level", "上级办理进展": "Upper level's step",
    "转报与上级办理": "Forwarding and the upper levels",
    "逾期视为办结": "Deemed done (time limit passed)", "逾期视为受理": "Deemed accepted (time limit passed)",
    "未能视为办结": "Could not be deemed done", "特别程序环节（已在挂起中）": "Excluded phase (clock already paused)",
    "特别程序超出最长期限": "Excluded phase over its maximum", "逾期视为办结（系统）": "Deemed done (system)",
    "逾期未一次性告知补正，依法视为受理": "No notice of missing materials in time: accepted by law",
})

# supervision across levels (app/web/admin/supervision.py, templates/supervision)
EN.update({
    "下级平台办件监督": "Cases of the cities and counties", "地区": "Region", "报送办件": "Cases reported",
    "按期办结": "Decided on time", "在办超期": "Open, overdue", "最近报送": "Last report",
    "超期": "Overdue", "超期办结": "Decided late", "受理日期": "Accepted", "办结日期": "Decided", "原办件": "Origin case",
    "仅列出前 %d 件": "first %d listed",
    "各市县平台报送的办件：按期率 = 按期办结 / 有法定期限的已办结办件；在办超期按本平台今日计算。":
        "Cases reported by the city and county platforms: rate = decided on time / decided cases with a statutory "
        "limit; open overdue cases are counted with today's date here.",
    "每一级的办件各有其法定期限；转报的办件在“原办件”列注明下级的原办件编号。":
        "Each level's case has its own statutory clock; a forwarded case names its origin case of the level below.",
})

# docking with outside systems (issue 15): each adapter's pages keep their text in their own file
from . import i18n_catalog, i18n_identity, i18n_projects, i18n_ywtb  # noqa: E402

for _part in (i18n_catalog, i18n_identity, i18n_projects, i18n_ywtb):
    EN.update(_part.EN)
