"""Value checks for the codes that travel with a case."""
import re

PROJECT_CODE_RE = re.compile(r"^\d{4}-\d{6}-\d{2}-\d{2}-\d{6}$")
_CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
CASE_NO_RE = re.compile(r"^\d{6}-\d{8}-\d{6}$")


def is_project_code(value: str) -> bool:
    """项目代码 (GB/T 40058-2021): 24 characters; only the shape is checked, segments are opaque."""
    return isinstance(value, str) and bool(PROJECT_CODE_RE.match(value))


def credit_code_check_char(first17: str) -> str:
    total = sum(_CREDIT_CHARS.index(c) * w for c, w in zip(first17, _CREDIT_WEIGHTS))
    return _CREDIT_CHARS[(31 - total % 31) % 31]


def is_credit_code(value: str) -> bool:
    """统一社会信用代码 (GB 32100-2015): 18 characters with a check character."""
    if not isinstance(value, str) or len(value) != 18:
        return False
    if any(c not in _CREDIT_CHARS for c in value):
        return False
    return credit_code_check_char(value[:17]) == value[17]


def format_case_no(region: str, day: str, serial: int) -> str:
    """办件编号: ``<region 6>-<YYYYMMDD>-<serial 6>``, e.g. ``320000-20261126-000042``.

    The region is the receiving agency's GB/T 2260 code, the day is the submission day (Beijing time),
    the serial counts that region's cases of that day from 1."""
    if serial < 1 or serial > 999_999:
        raise ValueError("case serial out of range")
    return f"{region}-{day}-{serial:06d}"
