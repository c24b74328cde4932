"""The envelope: canonical bytes, signatures, and every malformed field named."""
import base64
import json
import uuid
from datetime import datetime, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.services.federation.protocol import (
    ProtocolError,
    canonical,
    open_envelope,
    parse_public_key,
    private_key_from_seed,
    public_key_text,
    seal,
    verify,
)

TS = datetime(2026, 12, 2, 8, 0, 0, tzinfo=timezone.utc)


def envelope(key, **body):
    return seal(key, message_id=str(uuid.uuid4()), sender="320500", recipient="320000", seq=3, ts=TS,
                kind="progress", body=body or {"case_no": "3205002026120200001", "status": "accepted"})


def test_canonical_bytes_sort_keys_drop_whitespace_and_keep_chinese_as_utf8():
    assert canonical({"b": 1, "a": {"d": [True, None], "c": "转报"}}) == \
        '{"a":{"c":"转报","d":[true,null]},"b":1}'.encode("utf-8")


@pytest.mark.parametrize("value", [1.5, float("nan"), 2 ** 53, {1: "x"}, b"x"])
def test_values_without_a_canonical_form_are_refused(value):
    with pytest.raises(ProtocolError) as err:
        canonical({"v": value})
    assert err.value.code == "bad_envelope"


def test_a_sealed_envelope_verifies_and_any_change_breaks_it():
    key = Ed25519PrivateKey.generate()
    raw = envelope(key)
    env = open_envelope(json.loads(json.dumps(raw)))  # as received over the wire
    verify(env, key.public_key())
    for field, value in [("seq", 4), ("to", "320100"), ("ts", "2026-12-02T08:00:01Z"),
                         ("body", {"case_no": "3205002026120200001", "status": "rejected"})]:
        forged = dict(raw, **{field: value})
        with pytest.raises(ProtocolError) as err:
            verify(open_envelope(forged), key.public_key())
        assert err.value.code == "bad_signature" and err.value.status == 401
    with pytest.raises(ProtocolError):
        verify(env, Ed25519PrivateKey.generate().public_key())  # another platform's key


@pytest.mark.parametrize("change, code", [
    (lambda e: e.pop("seq"), "bad_envelope"),
    (lambda e: e.update(extra=1), "bad_envelope"),
    (lambda e: e.update(v=2), "unsupported_version"),
    (lambda e: e.update(alg="sm2"), "unsupported_algorithm"),
    (lambda e: e.update(id="not-a-uuid"), "bad_envelope"),
    (lambda e: e.update({"from": "32050"}), "bad_envelope"),
    (lambda e: e.update(seq=0), "bad_envelope"),
    (lambda e: e.update(seq=True), "bad_envelope"),
    (lambda e: e.update(ts="2026-12-02 08:00:00"), "bad_envelope"),
    (lambda e: e.update(ts="2026-02-30T08:00:00Z"), "bad_envelope"),
    (lambda e: e.update(kind="drop_table"), "unknown_kind"),
    (lambda e: e.update(body=[1]), "bad_envelope"),
    (lambda e: e.update(sig="AAAA"), "bad_signature"),
    (lambda e: e.update(sig=12), "bad_signature"),
    (lambda e: e.update(body={"x": 0.5}), "bad_envelope"),
])
def test_each_malformed_field_is_named(change, code):
    raw = envelope(Ed25519PrivateKey.generate())
    change(raw)
    with pytest.raises(ProtocolError) as err:
        open_envelope(raw)
    assert err.value.code == code, err.value.message


def test_public_keys_and_seeds_round_trip_and_bad_ones_are_refused():
    key = Ed25519PrivateKey.generate()
    text = public_key_text(key.public_key())
    assert parse_public_key(text).public_bytes_raw() == key.public_key().public_bytes_raw()
    seed = base64.b64encode(key.private_bytes_raw()).decode()
    assert private_key_from_seed(seed).public_key().public_bytes_raw() == key.public_key().public_bytes_raw()
    for bad in ["", "rsa:AAAA", "ed25519:!!!", "ed25519:" + base64.b64encode(b"x" * 31).decode(), None]:
        with pytest.raises(ValueError):
            parse_public_key(bad)
    with pytest.raises(ValueError):
        private_key_from_seed(base64.b64encode(b"x" * 16).decode())
