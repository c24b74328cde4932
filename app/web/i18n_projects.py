"""English UI text of the docking pages (projects); merged into app/web/i18n.EN."""
EN = {
    "项目": "Project", "项目代码": "Project code", "项目单位": "Project owner", "建设地点": "Location",
    "总投资（万元）": "Total investment (10k CNY)", "所属行业": "Industry", "建设规模及内容": "Scale and content",
    "一次填报、多次使用：本项目在本平台办理的全部事项": "Fill in once, use many times: every matter of this project on this platform",
    "信息来源：全国投资项目在线审批监管平台": "Source: national investment project online platform",
    "获取时间": "Fetched", "平台暂时无法访问，显示的是最近一次获取的信息":
        "The platform cannot be reached now: the last information fetched is shown",
    "本项目的办件": "Cases of this project", "批复文号": "Document no.", "本项目在本平台暂无办件": "No case of this project yet",
    "本项目的全部办件": "All cases of this project",
    "正在向投资项目在线审批监管平台查询项目信息…": "Asking the investment project platform for the project…",
    "已从投资项目在线审批监管平台带出项目信息：": "Filled in from the investment project platform: ",
    "项目信息查询失败，请稍后再试或手工填写": "The project could not be looked up: try again later or fill it in by hand",
}
