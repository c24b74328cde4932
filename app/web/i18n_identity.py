"""English UI text of the docking pages (identity); merged into app/web/i18n.EN."""
EN = {
    "统一身份认证": "Unified identity",
    "统一身份认证登录": "Sign in with the unified identity",
    "统一身份认证登录未完成": "Unified identity sign-in not completed",
    "已有政务服务网账号（法人或个人）？": "Have a government-services account (enterprise or person)?",
    "票据": "ticket",
    "错误代码": "Error code",
    "返回登录页": "Back to sign-in",
    "已退出": "Signed out",
    "您已退出本平台，正在前往统一身份认证平台退出登录…":
        "You are signed out here; now signing out of the unified identity platform…",
    "前往统一身份认证平台退出": "Sign out of the unified identity platform",
    "登录方式": "Signed in with",
    "经统一身份认证登录": "Signed in with the unified identity",
    "法人": "Legal person",
    "自然人": "Natural person",
    "认证级别": "assurance level",
    "退出统一身份认证": "Sign out (unified identity)",
    "最近登录": "last sign-in",
    "本账户尚未关联统一身份认证。关联后可用政务服务网账号直接登录。":
        "This account is not linked to the unified identity yet. Once linked, you can sign in with your "
        "government-services account.",
    "关联统一身份认证": "Link the unified identity",
    "统一身份认证（OpenID Connect）": "Unified identity (OpenID Connect)",
    "统一身份认证（票据）": "Unified identity (ticket)",
    "首次使用请先用用户名和密码登录，在“账户安全”页关联统一身份认证。":
        "The first time, sign in with your user name and password and link the unified identity on the "
        "account security page.",
}
