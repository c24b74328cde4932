"""Is every msgid of the UI translated? Extracts the msgids of app/ as ``scripts/i18n extract`` does (with
app/translations/babel.cfg) and compares them with each catalog. ``python -m app.web.i18n_check`` prints the
missing ones per language and exits 1 when there are any (tests/web/test_translations.py)."""
from __future__ import annotations

import sys
from configparser import ConfigParser
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "app" / "translations"
KEYWORDS = {"_": None, "gettext": None, "N_": None}
JS_KEYWORDS = {"t": None}  # the page scripts' t("中文", {params}) of static/js/i18n.js (t is too common in Python)


def msgids() -> dict[str, str]:
    """Every msgid of the code → the first place it is used (path:line)."""
    cfg = ConfigParser()
    cfg.read(TRANSLATIONS / "babel.cfg")
    method_map = [(section.split(":", 1)[1].strip(), section.split(":", 1)[0].strip()) for section in cfg.sections()]
    found: dict[str, str] = {}
    for methods, keywords in (([m for m in method_map if m[1] != "javascript"], KEYWORDS),
                              ([m for m in method_map if m[1] == "javascript"], JS_KEYWORDS)):
        for path, line, msg, _comments, _ctx in extract_from_dir(str(ROOT), method_map=methods, keywords=keywords):
            text = msg if isinstance(msg, str) else msg[0]
            if text:
                found.setdefault(text, f"{path}:{line}")
    return found


def write_template(path: Path) -> int:
    """The catalog template (messages.pot) of every msgid, sorted; the number of msgids."""
    catalog = Catalog(project="yangguang-fagai", charset="utf-8")
    ids = msgids()
    for text in sorted(ids):
        catalog.add(text, flags=("python-format",) if "%(" in text else ())
    with path.open("wb") as f:
        write_po(f, catalog, width=120, omit_header=True)
    return len(ids)


def missing() -> dict[str, list[tuple[str, str]]]:
    """Per language: the (msgid, where) pairs its catalog does not translate (absent, empty or fuzzy)."""
    ids = msgids()
    out = {}
    for po in sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")):
        with po.open("rb") as f:
            catalog = read_po(f)
        done = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
        out[po.parts[-3]] = [(i, where) for i, where in sorted(ids.items(), key=lambda kv: kv[1]) if i not in done]
    return out


if __name__ == "__main__":
    if sys.argv[1:2] == ["--pot"]:
        print(write_template(Path(sys.argv[2])), "msgids")
        sys.exit(0)
    gaps = missing()
    for lang, rows in gaps.items():
        for text, where in rows:
            print(f"{lang}\t{where}\t{text}")
    sys.exit(1 if any(gaps.values()) else 0)
