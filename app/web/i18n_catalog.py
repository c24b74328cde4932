"""English UI text of the docking pages (catalog); merged into app/web/i18n.EN."""
EN = {
    "事项目录同步": "Matter catalog sync", "一张网": "the provincial government-service network",
    "一张网事项目录中的条目与本平台已部署版本的差异。接受后生成新版本（经设计器的检查和场景测试部署），运行中的办件仍按原版本办理；不会自动修改任何版本。":
        "Where the network's catalog entry of a matter differs from the version deployed here. Accepting deploys a "
        "new version (through the designer's checks and scenario tests); running cases stay on their version. "
        "Nothing is ever changed automatically.",
    "一张网条目": "Network entry", "事项": "Matter", "全量拉取（忽略上次的时间戳）": "Full pull (ignore the last time stamp)",
    "处理": "Decision", "处理人": "Decided by", "字段": "Field", "已处理": "Decided", "当前版本": "Current version",
    "当前部署的版本已与该条目一致。": "The deployed version already agrees with this entry.",
    "待处理的差异": "Differences to review", "忽略": "Dismiss",
    "拉取事项目录": "Pull the catalog", "拒绝": "Refused", "接受": "Accept", "接受为新版本": "Accept into a new version",
    "在设计器中修改后部署": "Edit in the designer, then deploy",
    "操作人": "By", "收到": "Received", "新存": "Stored", "新版本": "New version", "更新时间": "Updated",
    "最近的拉取": "Recent pulls", "有差异": "Differing", "结果": "Outcome",
    "未配置一张网地址（YWTB_CATALOG_URL 或 YWTB_BASE_URL）。": "The network's address is not configured "
                                                        "(YWTB_CATALOG_URL or YWTB_BASE_URL).",
    "本平台（当前版本）": "Here (current version)", "没有待处理的差异。": "No difference to review.",
    "申请材料": "Materials", "还没有拉取过。": "No pull yet.",
    "基本编码": "Basic code", "实施编码": "Implementation code",
    "法定办结时限": "Statutory time limit", "承诺办结时限": "Promised time limit", 
    "材料名称": "Material", "是否必需": "Required", "原件份数": "Originals", "复印件份数": "Copies",
    "来源/出具单位": "Issuer", "备注": "Notes", "需纸质材料": "Paper required",
    "成功": "OK", "部分条目被拒绝": "Some entries refused", "失败": "Failed", "进行中": "Running",
    "已接受": "Accepted", "已忽略": "Dismissed",
    "个自然日": " calendar days", "个月": " months",
}
