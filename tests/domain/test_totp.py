"""RFC 6238 TOTP: the RFC's SHA-1 vectors, drift window, replay refusal, URI."""
import base64

import pytest

from app.domain import totp

RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()


@pytest.mark.parametrize("t, code", [
    (59, "94287082"), (1111111109, "07081804"), (1111111111, "14050471"),
    (1234567890, "89005924"), (2000000000, "69279037"), (20000000000, "65353130"),
])
def test_rfc6238_sha1_vectors(t, code):
    assert totp.code_at(RFC_SECRET, t, digits=8) == code
    assert totp.code_at(RFC_SECRET, t) == code[-6:]


def test_new_secret_is_160_bit_base32():
    s = totp.new_secret()
    assert len(s) == 32 and len(base64.b32decode(s)) == 20
    assert s != totp.new_secret()


def test_verify_accepts_one_step_either_side_and_no_more():
    s = totp.new_secret()
    t = 1_772_000_000
    step = t // 30
    assert totp.verify(s, totp.code_at(s, t), t) == step
    assert totp.verify(s, totp.code_at(s, t - 30), t) == step - 1
    assert totp.verify(s, totp.code_at(s, t + 30), t) == step + 1
    assert totp.verify(s, totp.code_at(s, t - 60), t) is None
    assert totp.verify(s, totp.code_at(s, t + 60), t) is None
    assert totp.verify(s, "12345", t) is None and totp.verify(s, "abcdef", t) is None
    assert totp.verify(s, "", t) is None and totp.verify("", "123456", t) is None


def test_verify_refuses_a_replayed_or_older_step():
    s = totp.new_secret()
    t = 1_772_000_000
    code = totp.code_at(s, t)
    used = totp.verify(s, code, t)
    assert totp.verify(s, code, t, last_step=used) is None
    assert totp.verify(s, code, t + 20, last_step=used) is None
    assert totp.verify(s, totp.code_at(s, t - 30), t, last_step=used) is None
    assert totp.verify(s, totp.code_at(s, t + 30), t + 30, last_step=used) == used + 1


def test_otpauth_uri():
    uri = totp.otpauth_uri("JBSWY3DPEHPK3PXP", "invest1")
    assert uri.startswith("otpauth://totp/%E9%98%B3%E5%85%89%E5%8F%91%E6%94%B9%3Ainvest1?")
    assert "secret=JBSWY3DPEHPK3PXP" in uri and "digits=6" in uri and "period=30" in uri
    assert "issuer=%E9%98%B3%E5%85%89%E5%8F%91%E6%94%B9" in uri
