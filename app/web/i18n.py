"""UI text: Simplified Chinese first, English on request (?lang=en, remembered in the session).

The msgids are the Chinese text itself; the English is in the gettext catalog
``app/translations/en/LC_MESSAGES/messages.po`` (Flask-Babel). ``scripts/i18n`` extracts the msgids from
the Python code, the templates and the page scripts, updates the catalog and compiles it
(``pybabel extract/update/compile``); ``tests/web/test_translations.py`` fails on a msgid without English.
Text that reaches ``_()`` from data (status codes' labels, the names of code-set values) is marked where it
is written with ``N_`` so that extraction finds it.
"""
from __future__ import annotations

import logging
import os
import tempfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_datetime as _format_datetime
from babel.messages.extract import extract_javascript
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import request, session
from flask_babel import Babel
from flask_babel import gettext as _gettext

LANGS = ("zh", "en")
BEIJING = ZoneInfo("Asia/Shanghai")
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
DATETIME_FORMATS = {"zh": "yyyy-MM-dd HH:mm", "en": "d MMM yyyy, HH:mm"}
log = logging.getLogger("yg.i18n")
babel = Babel(configure_jinja=False)  # templates get our _ (app/web/__init__.py)


def N_(text: str) -> str:
    """Marks a msgid for extraction where it is written; translated later, where it is shown, by gettext."""
    return text


def current_lang() -> str:
    lang = request.args.get("lang")
    if lang in LANGS:
        session["lang"] = lang
    return session.get("lang", "zh")


def gettext(text: str, **variables) -> str:
    """The page language's text of a Chinese msgid (the msgid itself in Chinese or when no English is kept)."""
    return _gettext(text, **variables) if text else text


def format_time(ts: datetime | None) -> str:
    """A moment in Beijing time in the page language's format: 2026-03-04 09:30, or 4 Mar 2026, 09:30."""
    if ts is None:
        return ""
    lang = current_lang()
    return _format_datetime(ts, DATETIME_FORMATS[lang], tzinfo=BEIJING, locale="zh_CN" if lang == "zh" else "en")


def page_script_texts() -> dict[str, str]:
    """The English of the page scripts' msgids (their t("中文") calls), for base.html's yg-i18n element on
    English pages; empty in Chinese. The msgids are read from static/js once per process."""
    if current_lang() != "en":
        return {}
    global _SCRIPT_MSGIDS
    if _SCRIPT_MSGIDS is None:
        found = set()
        for path in Path(__file__).resolve().parent.glob("**/static/js/*.js"):
            with path.open("rb") as f:
                for _line, _func, msg, _c in extract_javascript(f, {"t": None}, [], {}):
                    msg = msg[0] if isinstance(msg, tuple) else msg  # t('… {n}', {n: 'x'}): string arguments too
                    if isinstance(msg, str) and msg:
                        found.add(msg)
        _SCRIPT_MSGIDS = sorted(found)
    return {text: gettext(text) for text in _SCRIPT_MSGIDS}


_SCRIPT_MSGIDS: list[str] | None = None


def init_app(app) -> None:
    """Flask-Babel with the page language of the session, the catalogs compiled when missing or stale."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "zh")
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai")
    babel.init_app(app, locale_selector=_locale, default_translation_directories=str(compiled_catalogs()))


def _locale() -> str:
    try:
        return current_lang()
    except RuntimeError:  # outside a request (CLI, scheduler): the default language
        return "zh"


def compiled_catalogs() -> Path:
    """The directory holding compiled catalogs: app/translations itself once ``scripts/i18n compile`` (run by
    scripts/setup) has written the .mo files; else each stale catalog is compiled here, or into a temporary
    directory when the source tree is read-only."""
    stale = [po for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")
             if not po.with_suffix(".mo").exists() or po.with_suffix(".mo").stat().st_mtime < po.stat().st_mtime]
    if not stale:
        return TRANSLATIONS
    try:
        for po in stale:
            _compile(po, po.with_suffix(".mo"))
        return TRANSLATIONS
    except OSError:
        target = Path(tempfile.mkdtemp(prefix="yg-translations-"))
        for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
            mo = target / po.relative_to(TRANSLATIONS).with_suffix(".mo")
            mo.parent.mkdir(parents=True, exist_ok=True)
            _compile(po, mo)
        log.info("translations compiled into %s (the source tree is read-only)", target)
        return target


def _compile(po: Path, mo: Path) -> None:
    with po.open("rb") as f:
        catalog = read_po(f)
    tmp = mo.with_name(f"{mo.name}.{os.getpid()}.tmp")  # processes starting together each write their own
    with tmp.open("wb") as f:
        write_mo(f, catalog)
    tmp.replace(mo)


# Labels written in app/domain and app/services (statuses, history actions, outcomes, code-set values, the
# names of sign-in methods) that reach _() from data: marked here for extraction.
MSGIDS = (N_("省发展和改革委员会 政务服务平台"), N_("首页"), N_("责任部门"), N_("抄送给我"), N_("即将到期"), N_("请填写意见；不予许可时填写理由"),
    N_("不予许可"), N_("不予受理/不予许可"), N_("创建申请"), N_("接收消息"), N_("状态变更"), N_("委派交回"), N_("前加签"), N_("后加签"),
    N_("上传附件"), N_("延长审批"), N_("流程异常"), N_("重试"), N_("定时"), N_("已减签"), N_("补正"), N_("已提交"), N_("已收件"),
    N_("已受理"), N_("准予许可/办结"), N_("已归档"), N_("已终止"), N_("会议纪要"), N_("专家评审意见"), N_("部门意见"), N_("材料扫描件"),
    N_("其他"), N_("转报"), N_("下级转报"), N_("上下级平台"), N_("上级办理进展"), N_("转报与上级办理"), N_("逾期视为办结"), N_("逾期视为受理"),
    N_("未能视为办结"), N_("视为办结期限重新计算"), N_("特别程序环节（已在挂起中）"), N_("特别程序超出最长期限"), N_("逾期视为办结（系统）"), N_("逾期未一次性告知补正，依法视为受理"),
    N_("法定办结时限"), N_("承诺办结时限"), N_("是否必需"), N_("原件份数"), N_("复印件份数"), N_("来源/出具单位"), N_("备注"), N_("需纸质材料"),
    N_("成功"), N_("部分条目被拒绝"), N_("失败"), N_("进行中"), N_("已接受"), N_("已忽略"), N_("法人"), N_("统一身份认证（OpenID Connect）"),
    N_("统一身份认证（票据）"), N_("申请"), N_("受理"), N_("特别程序结束"), N_("办结"), N_("送达"), N_("盖章签发决定文书"), N_("盖章签发受理通知书"),
    N_("盖章签发不予受理决定书"), N_("颁发电子证照"))
