import pytest

from app.domain.case_status import CaseStatus, can_transition
from app.domain.codes import credit_code_check_char, format_case_no, is_credit_code, is_project_code


def test_project_code_shape():
    assert is_project_code("2603-141124-89-05-346948")
    for bad in ["2603-141124-89-05-34694", "2603141124890534694800", "abcd-141124-89-05-346948", None, 5]:
        assert not is_project_code(bad)


def test_credit_code_check_character():
    assert is_credit_code("91350100M000100Y43")  # a published example
    base = "91320000MA1XY0000"
    assert is_credit_code(base + credit_code_check_char(base))
    wrong = "0" if credit_code_check_char(base) != "0" else "1"
    assert not is_credit_code(base + wrong)
    assert not is_credit_code("91320000MA1XY00I1")  # I is not in the character set
    assert not is_credit_code("short")


def test_case_number_format():
    assert format_case_no("320000", "20261126", 42) == "320000-20261126-000042"
    with pytest.raises(ValueError):
        format_case_no("320000", "20261126", 0)


@pytest.mark.parametrize("a,b,ok", [
    ("draft", "submitted", True), ("submitted", "received", True), ("received", "correction", True),
    ("correction", "received", True), ("accepted", "special_procedure", True), ("accepted", "approved", True),
    ("approved", "closed", True), ("approved", "accepted", False), ("closed", "draft", False),
    ("draft", "approved", False), ("rejected", "approved", False), ("withdrawn", "accepted", False)])
def test_status_transitions(a, b, ok):
    assert can_transition(CaseStatus(a), CaseStatus(b)) is ok
