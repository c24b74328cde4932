"""The signed daily roots: sealed by the CLI, checked by verify, a forged signature or root and a
deleted tail (with the case's head moved back too) named; the case's proof checks."""
from __future__ import annotations

import base64

import pytest
from sqlalchemy import text

from app.extensions import db
from app.models import Case
from app.models.trail import TrailRoot
from app.services.trail import merkle
from app.services.trail.roots import leaf_bytes, proof_for_case, seal_due

from .helpers import close, drive_beian, run_verify, trail_api


@pytest.fixture
def sealed(db_url):
    api = trail_api(db_url)
    case = drive_beian(api)
    api.clock.advance(days=1)
    out = api.app.test_cli_runner().invoke(args=["trail", "seal-day"])
    assert out.exit_code == 0 and "2026-03-02 日根已签署：1 个办件" in out.output, out.output
    yield api, case
    close(api)


def sql(api, stmt, **params):
    with api.app.app_context():
        db.session.execute(text(stmt), params)
        db.session.commit()


def test_sealed_root_verifies_and_proves_the_case(sealed):
    api, case = sealed
    code, out = run_verify(api)
    assert code == 0 and "1 个日根" in out and "全部一致" in out, out
    with api.app.app_context():
        proof = proof_for_case(db.session.get(Case, case["id"]))
        row = db.session.query(TrailRoot).one()
        c = db.session.get(Case, case["id"])
        assert proof["ok"] and proof["inclusion_ok"] and proof["tree_size"] == 1 and proof["index"] == 0
        assert proof["leaf"]["seq"] == c.trail_seq and proof["leaf"]["head"] == c.trail_head
        assert merkle.leaf_hash(leaf_bytes(c.id, c.case_no, c.trail_seq, c.trail_head)).hex() == row.root_hash
        assert seal_due() == []  # the scheduler's job: nothing left to sign
    again = api.app.test_cli_runner().invoke(args=["trail", "seal-day", "--day", "2026-03-02"])
    assert again.exit_code != 0 and "已签署" in again.output
    today = api.app.test_cli_runner().invoke(args=["trail", "seal-day", "--day", "2026-03-03"])
    assert today.exit_code != 0 and "尚未结束" in today.output
    bad = api.app.test_cli_runner().invoke(args=["trail", "seal-day", "--day", "3月2日"])
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output


def test_the_scheduler_job_catches_up_on_missed_days(db_url):
    api = trail_api(db_url)
    try:
        drive_beian(api)
        api.clock.advance(days=3)  # 2, 3 and 4 March ended: three roots, the first with the case
        with api.app.app_context():
            rows = seal_due()
            assert [(str(r.day), r.tree_size) for r in rows] == [("2026-03-02", 1), ("2026-03-03", 0), ("2026-03-04", 0)]
            assert seal_due() == []
    finally:
        close(api)


def test_a_forged_signature_is_named(sealed):
    api, _ = sealed
    sql(api, "UPDATE trail_roots SET signature = :s", s=base64.b64encode(b"\x01" * 64).decode())
    code, out = run_verify(api)
    assert code == 1 and "2026-03-02 日根的签名无效" in out, out


def test_a_root_signed_by_another_key_is_named(sealed, db_url):
    api, _ = sealed
    from app.services.federation.protocol import new_seed, private_key_from_seed
    from app.services.trail.roots import key_id, statement
    other = private_key_from_seed(new_seed())
    with api.app.app_context():
        row = db.session.query(TrailRoot).one()
        kid = key_id(other.public_key())
        sig = base64.b64encode(other.sign(statement(row.day, row.tree_size, row.root_hash, kid))).decode()
        db.session.rollback()
    sql(api, "UPDATE trail_roots SET signature = :s, key_id = :k", s=sig, k=kid)
    code, out = run_verify(api)
    assert code == 1 and "不是本平台的密钥" in out, out


def test_a_changed_root_or_leaf_is_named(sealed):
    api, _ = sealed
    sql(api, "UPDATE trail_roots SET root_hash = :h", h="00" * 32)
    code, out = run_verify(api)
    assert code == 1 and "签名无效" in out and "日根与其叶子不符" in out, out


def test_a_deleted_tail_with_the_head_moved_back_is_caught_by_the_root(sealed):
    """Deleting the last rows and setting the case's head to the new last row leaves a consistent
    chain: only the signed root still says how far it went."""
    api, case = sealed
    with api.app.app_context():
        n = db.session.get(Case, case["id"]).trail_seq
    sql(api, f"DELETE FROM case_events WHERE case_id = :c AND seq >= {n - 1}", c=case["id"])
    sql(api, f"UPDATE cases SET trail_seq = {n - 2}, trail_head = (SELECT row_hash FROM case_events "
             f"WHERE case_id = :c AND seq = {n - 2}) WHERE id = :c", c=case["id"])
    code, out = run_verify(api)
    assert code == 1 and f"第 {n - 2} 条之后缺少记录（2026-03-02 签署的日根已记到第 {n} 条）" in out, out
