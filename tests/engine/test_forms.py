"""Server-side validation of submitted data against form-js schemas."""
import pytest

from app.domain.errors import ValidationError
from app.engine.forms import check_form_schema, validate_submission

FORM = {"id": "f", "type": "default", "components": [
    {"type": "textfield", "key": "name", "validate": {"required": True, "maxLength": 5}},
    {"type": "textfield", "key": "code", "validate": {"pattern": r"^\d{4}$"}},
    {"type": "number", "key": "amount", "validate": {"min": 0, "max": 100}},
    {"type": "checkbox", "key": "ok"},
    {"type": "radio", "key": "choice", "values": [{"label": "A", "value": "a"}, {"label": "B", "value": "b"}]},
    {"type": "checklist", "key": "many", "values": [{"label": "X", "value": "x"}, {"label": "Y", "value": "y"}]},
    {"type": "datetime", "key": "day", "subtype": "date"},
    {"type": "group", "path": "cs", "components": [
        {"type": "textarea", "key": "opinion", "validate": {"required": True}}]},
    {"type": "text", "text": "说明"},
]}


def errors_of(data, **kw):
    with pytest.raises(ValidationError) as err:
        validate_submission(FORM, data, **kw)
    return err.value.details


def test_valid_data_passes_and_is_returned():
    data = {"name": "abc", "code": "1234", "amount": 5, "ok": True, "choice": "a", "many": ["x"],
            "day": "2026-01-31", "cs": {"opinion": "同意"}}
    assert validate_submission(FORM, data) == data


@pytest.mark.parametrize("data,field", [
    ({"cs": {"opinion": "x"}}, "name"),
    ({"name": "abcdef", "cs": {"opinion": "x"}}, "name"),
    ({"name": "a", "code": "12a4", "cs": {"opinion": "x"}}, "code"),
    ({"name": "a", "amount": "5", "cs": {"opinion": "x"}}, "amount"),
    ({"name": "a", "amount": True, "cs": {"opinion": "x"}}, "amount"),
    ({"name": "a", "amount": 101, "cs": {"opinion": "x"}}, "amount"),
    ({"name": "a", "ok": "yes", "cs": {"opinion": "x"}}, "ok"),
    ({"name": "a", "choice": "c", "cs": {"opinion": "x"}}, "choice"),
    ({"name": "a", "many": ["x", "z"], "cs": {"opinion": "x"}}, "many"),
    ({"name": "a", "day": "31/01/2026", "cs": {"opinion": "x"}}, "day"),
    ({"name": "a", "cs": {}}, "cs.opinion"),
    ({"name": "a", "cs": "text"}, "cs"),
    ({"name": "a", "cs": {"opinion": "x"}, "evil": 1}, "evil"),
    ({"name": "a", "cs": {"opinion": "x", "dept": "cs_finance"}}, "cs.dept"),
])
def test_each_bad_field_is_reported_by_name(data, field):
    assert field in errors_of(data)


def test_a_draft_skips_required_but_not_types():
    assert validate_submission(FORM, {}, partial=True) == {}
    assert "amount" in errors_of({"amount": "x"}, partial=True)


def test_non_object_payload_is_refused():
    with pytest.raises(ValidationError):
        validate_submission(FORM, ["not", "an", "object"])


def test_schema_check_reports_bad_keys_and_patterns():
    bad = {"id": "g", "components": [{"type": "textfield", "key": "1bad"},
                                     {"type": "textfield", "key": "p", "validate": {"pattern": "("}},
                                     {"type": "magic", "key": "m"}]}
    problems = " | ".join(check_form_schema(bad, "f"))
    assert "must equal the file name" in problems and "1bad" in problems
    assert "pattern does not compile" in problems and "magic" in problems
