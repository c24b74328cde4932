"""The catalog of shipped matters (issue 16, 应上尽上): built from the law, so every matter says
where it comes from; codes are unique; each family's matters share their common parts (the
library's sub-processes, the forms' fragments) instead of copying them."""
import json
from collections import Counter

from lxml import etree

from app.engine.matter import CATEGORIES, check_matter
from tests.conftest import ROOT

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
#: the five matters shipped before the library existed (built as single files)
FIRST_FIVE = {"jnsc_jieneng", "xhd_rending", "xmgl_beian", "xmgl_hezhun", "zjsq_zhongyang"}
METAS = {p.name.split(".")[0]: json.loads(p.read_text(encoding="utf-8"))
         for p in sorted((ROOT / "processes").glob("*.matter.json"))}


def test_every_matter_checks_and_its_codes_are_its_own():
    for pid, meta in METAS.items():
        clean, problems = check_matter(meta, pid)
        assert problems == [], (pid, problems)
        assert clean["category"] in CATEGORIES, pid
    for key in ("basic_code", "implementation_code"):
        twice = [code for code, n in Counter(m[key] for m in METAS.values()).items() if n > 1]
        assert twice == [], (key, twice)


def test_every_new_matter_says_its_source_family_and_the_source_of_each_material():
    new = {pid: m for pid, m in METAS.items() if pid not in FIRST_FIVE}
    assert len(new) >= 20
    for pid, meta in new.items():
        assert meta.get("source") and meta.get("family"), pid
        assert all(m.get("source") for m in meta["materials"] if m.get("required")), pid
        assert any(r.get("field") == "involves_state_secret" for r in meta.get("offline_rules") or ()), pid


def test_the_new_matters_are_built_from_the_shared_parts():
    for pid in METAS:
        if pid in FIRST_FIVE:
            continue
        root = etree.parse(str(ROOT / "processes" / f"{pid}.bpmn")).getroot()
        called = {el.get("calledElement") for el in root.iter(f"{BPMN}callActivity")}
        assert "lib_window" in called, pid  # the common 受理 is one file for every matter
        own_window = [t.get("id") for t in root.iter(f"{BPMN}userTask") if t.get("id") == "window_review"]
        assert own_window == [], pid
        apply_form = json.loads((ROOT / "forms" / f"{pid}_apply.form.json").read_text(encoding="utf-8"))
        fragments = [c.get("$fragment") for c in apply_form["components"] if "$fragment" in c]
        assert fragments and fragments[-1] == "secret_and_commitment", pid
