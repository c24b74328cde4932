"""Check characters of the identity codes an applicant registers with, with a message that says
what is wrong (not only yes/no).

* 统一社会信用代码 (GB 32100-2015): 18 characters from 0-9 and 20 capital letters (no I, O, Z, S, V);
  the 18th is a check character computed modulo 31 (``app.domain.codes.credit_code_check_char``).
* 公民身份号码 (GB 11643-1999): 17 digits (6 address code, 8 birth date, 3 sequence) and a check
  character (ISO 7064 MOD 11-2: weights 2^(17-i) mod 11, remainder → "10X98765432")."""
from __future__ import annotations

from datetime import date

from .codes import _CREDIT_CHARS, credit_code_check_char, is_credit_code  # noqa: F401  (one definition)

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def credit_code_problem(value: str) -> str | None:
    """None for a valid 统一社会信用代码, else what is wrong with it (Chinese, with English)."""
    if not isinstance(value, str) or not value:
        return "请填写统一社会信用代码 (required)"
    if len(value) != 18:
        return f"统一社会信用代码应为 18 位，当前 {len(value)} 位 (must be 18 characters)"
    bad = sorted({c for c in value if c not in _CREDIT_CHARS})
    if bad:
        return f"统一社会信用代码含有不允许的字符 {''.join(bad)}（只允许数字和除 I、O、Z、S、V 外的大写字母）"
    expected = credit_code_check_char(value[:17])
    if value[17] != expected:
        return "统一社会信用代码校验位不正确，请核对 (check character does not match)"
    return None


def id_number_check_char(first17: str) -> str:
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS)) % 11]


def id_number_problem(value: str, today: date | None = None) -> str | None:
    """None for a valid 18-digit 公民身份号码, else what is wrong with it."""
    if not isinstance(value, str) or not value:
        return "请填写身份证号码 (required)"
    if len(value) != 18:
        return f"身份证号码应为 18 位，当前 {len(value)} 位 (must be 18 characters)"
    if not value[:17].isdigit() or not value[:17].isascii() or not (value[17].isdigit() or value[17] == "X"):
        return "身份证号码前 17 位应为数字，最后一位为数字或大写 X (digits, last may be X)"
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return "身份证号码中的出生日期不正确 (birth date is not a date)"
    if born.year < 1900 or (today is not None and born > today):
        return "身份证号码中的出生日期不正确 (birth date out of range)"
    if id_number_check_char(value[:17]) != value[17]:
        return "身份证号码校验位不正确，请核对 (check character does not match)"
    return None


def is_id_number(value: str) -> bool:
    return id_number_problem(value) is None
