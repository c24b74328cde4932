"""Designer-written form patterns cannot hang the server: patterns that can backtrack exponentially
are refused at deploy (naming the form and the field), never applied at run time if an older form
still has one, and input past a length cap is refused before any pattern runs. Field keys and group
paths end with \\Z, so a trailing newline is no longer a valid name."""
import json
import time
from pathlib import Path

import pytest

from app.domain.errors import InvalidModel, ValidationError
from app.services.cases.registry import load_forms
from app.engine.forms import MAX_PATTERN_INPUT, check_form_schema, risky_pattern, validate_submission

ROOT = Path(__file__).resolve().parents[2]

CATASTROPHIC = [r"(a+)+$", r"^(a*)*$", r"(a?a?)+$", r"^(\d+)*$", r"(x+x+)+y", r"^([a-z]+\.)+com$",
                r"(a|a)*$", r"^(a|ab)*$", r"(a|b?)+$", r"(.*a){20}", r"^(?:\d|[0-5]x)+$", r"(?=a+)+"]
SAFE = [r"^1\d{10}$", r"^\d{6}$", r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$",
        r"^\d{4}-\d{6}-\d{2}-\d{2}-\d{6}$", r"(a|b)+", r"(ab|cd)*", r"(中|国)+", r"\d{4}(-\d{4})*",
        r"[a-z]+@[a-z]+\.[a-z]{2,6}", r"(\w|_)+", r"^[\u4e00-\u9fa5]{2,20}$"]


def form_with(pattern, key="code", **rules):
    return {"id": "f_apply", "type": "default", "components": [
        {"type": "textfield", "key": key, "label": "代码", "validate": {"pattern": pattern, **rules}}]}


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_catastrophic_patterns_are_refused_at_check_time_naming_form_and_field(pattern):
    problems = check_form_schema(form_with(pattern), "f_apply")
    assert len(problems) == 1, problems
    assert problems[0].startswith("f_apply: field 'code' pattern") and "unsafe" in problems[0]
    assert risky_pattern(pattern)


@pytest.mark.parametrize("pattern", SAFE)
def test_ordinary_patterns_pass(pattern):
    assert check_form_schema(form_with(pattern), "f_apply") == []


def test_every_shipped_form_passes_the_check():
    forms, problems = load_forms(ROOT / "forms")  # as deployed: the shared fragments expanded
    assert forms and problems == []
    for form_id, form in forms.items():
        assert check_form_schema(form, form_id) == [], form_id


def test_a_catastrophic_pattern_in_a_nested_group_is_found():
    form = {"id": "g", "components": [{"type": "group", "path": "cs", "components": [
        {"type": "textarea", "key": "opinion", "validate": {"pattern": r"(\w+\s?)+$"}}]}]}
    problems = check_form_schema(form, "g")
    assert len(problems) == 1 and problems[0].startswith("g/cs: field 'opinion'")


def test_deploy_refuses_the_form_and_writes_nothing(app):
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import ProcessVersion
    from app.services.cases.registry import deploy
    from tests.fixtures.build import form, linear_process, matter
    forms = {"t_re_start": form("t_re_start", [{"type": "textfield", "key": "project_name", "label": "名称",
                                                "validate": {"pattern": r"^(\w+\s?)+$"}}]),
             "t_re_step": form("t_re_step", [{"type": "textfield", "key": "opinion", "label": "意见"}])}
    forms["t_re_start"]["id"] = "t_re_start"
    bpmn = linear_process("t_re", 1).encode()
    with app.app_context():
        before = db.session.execute(select(func.count()).select_from(ProcessVersion)).scalar()
        with pytest.raises(InvalidModel) as err:
            deploy(bpmn, matter("t_re"), forms, filename="t_re.bpmn")
        messages = [(e["file"], e["message"]) for e in err.value.errors]
        assert any(f == "t_re_start.form.json" and "'project_name'" in m and "unsafe" in m for f, m in messages), \
            messages
        db.session.rollback()
        assert db.session.execute(select(func.count()).select_from(ProcessVersion)).scalar() == before


def test_an_old_form_with_a_catastrophic_pattern_is_not_applied_at_run_time():
    form = form_with(r"(a+)+$")  # deployed before the check: never run on applicant input
    started = time.perf_counter()
    with pytest.raises(ValidationError) as err:
        validate_submission(form, {"code": "a" * 26 + "!"})
    assert time.perf_counter() - started < 0.5
    assert "unsafe" in err.value.details["code"][0]


def test_input_longer_than_the_cap_is_refused_before_the_pattern_runs():
    form = form_with(r"^\d+$")
    assert validate_submission(form, {"code": "1" * MAX_PATTERN_INPUT}) == {"code": "1" * MAX_PATTERN_INPUT}
    with pytest.raises(ValidationError) as err:
        validate_submission(form, {"code": "1" * (MAX_PATTERN_INPUT + 1)})
    assert err.value.details["code"] == [
        f"最多 {MAX_PATTERN_INPUT} 个字符才能校验格式 (longer than {MAX_PATTERN_INPUT} characters, "
        f"the pattern is not applied)"]


def test_the_fields_own_max_length_is_the_cap_and_is_reported_once():
    form = form_with(r"^\d+$", maxLength=6)
    assert validate_submission(form, {"code": "123456"}) == {"code": "123456"}
    with pytest.raises(ValidationError) as err:
        validate_submission(form, {"code": "1234567"})
    assert err.value.details["code"] == ["最多 6 个字符 (too long)"]


def test_an_overlong_email_is_refused():
    form = {"id": "f", "components": [{"type": "textfield", "key": "mail", "validate": {"validationType": "email"}}]}
    assert validate_submission(form, {"mail": "a@b.cn"}) == {"mail": "a@b.cn"}
    with pytest.raises(ValidationError):
        validate_submission(form, {"mail": "a" * 250 + "@b.cn"})


@pytest.mark.parametrize("component", [{"type": "textfield", "key": "name\n"},
                                       {"type": "group", "path": "cs\n", "components": []}])
def test_keys_and_paths_with_a_trailing_newline_are_refused(component):
    problems = check_form_schema({"id": "f", "components": [component]}, "f")
    assert problems and "is not a valid name" in problems[0]
