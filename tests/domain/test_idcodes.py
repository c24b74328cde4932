"""Check characters of 统一社会信用代码 (GB 32100) and 公民身份号码 (GB 11643)."""
from datetime import date

from app.domain.idcodes import credit_code_problem, id_number_check_char, id_number_problem, is_id_number
from tests.services.portal.helpers import credit_code, wrong_check


def test_published_credit_codes_pass():
    # the commission's own code (shipped metadata) and a well-known enterprise's
    assert credit_code_problem("113200000140003784") is None
    assert credit_code_problem("91350100M000100Y43") is None


def test_credit_code_with_wrong_check_character_is_refused():
    code = credit_code()
    assert credit_code_problem(code) is None
    assert "校验位" in credit_code_problem(wrong_check(code))


def test_credit_code_shape_errors_say_what_is_wrong():
    assert "18 位" in credit_code_problem("91320100MA1XYZ")
    assert "不允许的字符" in credit_code_problem("91320100MA1XYZ12OI")
    assert "请填写" in credit_code_problem("")


def test_id_number_check_digit_per_gb11643():
    # the standard's worked example: 11010519491231002 → X
    assert id_number_check_char("11010519491231002") == "X"
    assert is_id_number("11010519491231002X")
    assert "校验位" in id_number_problem("110105194912310021")


def test_id_number_shape_and_birth_date():
    assert "18 位" in id_number_problem("11010519491231002")
    assert "数字" in id_number_problem("1101051949123100AX")
    first17 = "11010519491331002"  # month 13
    assert "出生日期" in id_number_problem(first17 + id_number_check_char(first17))
    future = "11010520990101002"
    assert "出生日期" in id_number_problem(future + id_number_check_char(future), today=date(2026, 3, 2))
    assert id_number_problem("11010519491231002x") is not None  # lower-case x refused
