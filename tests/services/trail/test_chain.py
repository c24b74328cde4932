"""The hash chain of case_events on a shipped matter: clean after a whole run, and every altered,
removed or inserted row named by ``flask trail verify`` after SQL changes behind the app's back."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text

from app.domain.trail_chain import GENESIS, hash_of
from app.extensions import db
from app.models import Case, CaseEvent, CaseFile

from .helpers import close, drive_beian, run_verify, trail_api


@pytest.fixture
def run(db_url):
    api = trail_api(db_url)
    case = drive_beian(api)
    yield api, case
    close(api)


def sql(api, stmt, **params):
    with api.app.app_context():
        db.session.execute(text(stmt), params)
        db.session.commit()


def test_a_whole_run_is_chained_and_verifies_clean(run):
    api, case = run
    with api.app.app_context():
        rows = db.session.execute(select(CaseEvent).where(CaseEvent.case_id == case["id"])
                                  .order_by(CaseEvent.seq)).scalars().all()
        c = db.session.get(Case, case["id"])
        assert [r.seq for r in rows] == list(range(1, len(rows) + 1)) and len(rows) > 8
        assert rows[0].prev_hash == GENESIS
        assert all(r.prev_hash == p.row_hash for p, r in zip(rows, rows[1:]))
        assert all(hash_of(r) == r.row_hash for r in rows)  # read back = hashed (JSON, microseconds)
        assert (c.trail_seq, c.trail_head) == (rows[-1].seq, rows[-1].row_hash)
        f = db.session.execute(select(CaseFile).where(CaseFile.case_id == case["id"])).scalars().all()
        assert f and any(r.data_change.get("sha256") == f[-1].sha256 for r in rows)
    code, out = run_verify(api)
    assert code == 0, out
    assert "全部一致" in out
    code, out = run_verify(api, "--case", case["case_no"])
    assert code == 0 and "检查了 1 个办件" in out, out


@pytest.mark.parametrize("tamper,expected", [
    ("UPDATE case_events SET opinion = '伪造的意见' WHERE case_id = :c AND seq = 4", "第 4 条记录内容被修改"),
    ("UPDATE case_events SET actor = 'someone' WHERE case_id = :c AND seq = 1", "第 1 条记录内容被修改"),
    ("DELETE FROM case_events WHERE case_id = :c AND seq = 5", "第 4 条之后缺少记录"),
    ("DELETE FROM case_events WHERE case_id = :c AND seq >= 6", "第 5 条之后缺少记录"),
    ("INSERT INTO case_events (case_id, at, actor, action, opinion, data_change) "
     "VALUES (:c, '2026-03-02 01:00:00', 'forger', 'note', '补录', '{}')", "插入了记录"),
    ("INSERT INTO case_events (case_id, seq, prev_hash, row_hash, at, actor, action, opinion, data_change) "
     "SELECT :c, trail_seq + 1, trail_head, trail_head, '2026-03-02 01:00:00', 'forger', 'note', '补录', '{}' "
     "FROM cases WHERE id = :c", "插入了记录"),
])
def test_sql_changes_are_named(run, tamper, expected):
    api, case = run
    sql(api, tamper, c=case["id"])
    code, out = run_verify(api)
    assert code == 1, out
    assert expected in out and case["case_no"] in out, out
    assert "全部一致" not in out


def test_an_edit_with_the_hash_recomputed_is_still_caught(run):
    """A forger who knows the canonical form rewrites row 3 and its row_hash: row 4's prev_hash
    no longer matches."""
    api, case = run
    with api.app.app_context():
        ev = db.session.execute(select(CaseEvent).where(CaseEvent.case_id == case["id"], CaseEvent.seq == 3)).scalar_one()
        ev.opinion = "伪造"
        forged = hash_of(ev)
        db.session.rollback()
    sql(api, "UPDATE case_events SET opinion = '伪造', row_hash = :h WHERE case_id = :c AND seq = 3",
        h=forged, c=case["id"])
    code, out = run_verify(api)
    assert code == 1 and "第 3 条记录内容被修改（其哈希被重算" in out, out


def test_a_changed_head_on_the_case_is_named(run):
    api, case = run
    sql(api, "UPDATE cases SET trail_head = :h WHERE id = :c", h="ab" * 32, c=case["id"])
    code, out = run_verify(api)
    assert code == 1 and "与办件上记录的链头不符" in out, out


def test_a_tampered_file_is_named(run):
    api, case = run
    with api.app.app_context():
        f = db.session.execute(select(CaseFile).where(CaseFile.case_id == case["id"])
                               .order_by(CaseFile.id.desc())).scalars().first()
        path, fid = api.app.config["FILES_DIR"] + "/" + f.storage_key, f.id
    with open(path, "r+b") as fh:  # one byte of the stored file
        fh.seek(20)
        fh.write(b"Y")
    code, out = run_verify(api)
    assert code == 1 and f"id {fid}）的文件内容已被改动" in out, out
    code, out = run_verify(api, "--no-files")
    assert code == 0, out
    # a forger who also rewrites the row's checksum: it no longer matches the chained one
    sql(api, "UPDATE case_files SET sha256 = :s WHERE id = :f", s="0" * 64, f=fid)
    code, out = run_verify(api, "--no-files")
    assert code == 1 and f"id {fid}）的 SHA-256 与链上记录的不符" in out, out


def test_unknown_case_is_a_clear_error(run):
    api, _ = run
    code, out = run_verify(api, "--case", "NO-SUCH")
    assert code != 0 and "办件不存在" in out
