"""Mainland China mobile numbers (手机号): shape check and E.164 form."""
from __future__ import annotations

import re

_MOBILE = re.compile(r"1[3-9]\d{9}")


def normalize_phone(raw) -> str | None:
    """``13812345678``, ``+86 138-1234-5678``, ``8613812345678`` → ``+8613812345678``; None when it is
    not a mainland mobile number."""
    if not isinstance(raw, str) or len(raw) > 32:
        return None
    s = re.sub(r"[\s\-()]", "", raw)
    if s.startswith("+86"):
        s = s[3:]
    elif s.startswith("0086"):
        s = s[4:]
    elif len(s) == 13 and s.startswith("86"):
        s = s[2:]
    return f"+86{s}" if _MOBILE.fullmatch(s) else None


def mask_phone(phone: str) -> str:
    """+8613812345678 → 138****5678 (for lists seen by people)."""
    local = phone[3:] if phone.startswith("+86") else phone
    return local[:3] + "****" + local[-4:] if len(local) >= 8 else local
