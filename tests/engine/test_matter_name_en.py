"""The matter's English name (issue 19): the process's ``nameEn`` extension property, read into the
version's summary (``name_en``, whitespace collapsed); absent, the summary has none; over 200
characters, the model is refused naming the process."""
from app.engine.parser import check_model
from tests.engine.test_parser import FORMS, USER, chain, errors, model


def named(value: str) -> bytes:
    props = ('<bpmn:extensionElements><camunda:properties>'
             f'<camunda:property name="nameEn" value="{value}"/></camunda:properties></bpmn:extensionElements>')
    return model(props + chain(USER.format(n=1)))


def test_the_english_name_is_read_into_the_summary():
    m = check_model(named("  Filing of   enterprise investment projects "), "p.bpmn", FORMS, expected_id="p")
    assert m.summary["name_en"] == "Filing of enterprise investment projects"


def test_no_english_name_no_key():
    m = check_model(model(chain(USER.format(n=1))), "p.bpmn", FORMS, expected_id="p")
    assert "name_en" not in m.summary


def test_a_too_long_english_name_is_refused():
    found = errors(named("x" * 201))
    assert any(el == "p" and "nameEn" in msg for el, msg in found), found
