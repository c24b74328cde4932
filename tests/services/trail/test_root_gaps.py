"""What the signed roots protect against an attacker with SQL access who recomputes hashes: a deleted
root between signed days (a gap), a deleted whole case, a changed case number; the job signs empty
days too and a hole cannot be signed over; a stale last root is a warning; ``export-roots``."""
from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import select, text

from app.domain.trail_chain import hash_of
from app.extensions import db
from app.models import Case, CaseEvent
from app.services.trail.roots import seal_day, seal_due
from app.services.trail.verify import verify

from .helpers import PDF, close, drive_beian, run_verify, trail_api


def sql(api, stmt, **params):
    with api.app.app_context():
        db.session.execute(text(stmt), params)
        db.session.commit()


@pytest.fixture
def three_days(db_url):
    """The beian case driven on 2 March, one more file on 3 March; 2, 3 and 4 March signed by the job."""
    api = trail_api(db_url)
    case = drive_beian(api)
    api.clock.advance(days=1)
    r = api.client.post(f"/api/cases/{case['id']}/files", headers=api.headers["u_window"],
                        data={"file": (io.BytesIO(PDF + b"2"), "补充材料.pdf"), "kind": "other"},
                        content_type="multipart/form-data")
    assert r.status_code in (200, 201), r.json
    api.clock.advance(days=2)
    with api.app.app_context():
        assert [(str(r.day), r.tree_size) for r in seal_due()] == [
            ("2026-03-02", 1), ("2026-03-03", 1), ("2026-03-04", 0)]
    code, out = run_verify(api)
    assert code == 0 and "全部一致" in out and "!" not in out, out
    yield api, case
    close(api)


def test_a_deleted_root_with_the_hashes_recomputed_is_named(three_days):
    """The 3 March root deleted, the 3 March record rewritten and its hash and the case's head
    recomputed: the chain is consistent and the 2 March leaf still matches; the gap gives it away."""
    api, case = three_days
    sql(api, "DELETE FROM trail_roots WHERE day = :d", d="2026-03-03")
    with api.app.app_context():
        c = db.session.get(Case, case["id"])
        ev = db.session.execute(select(CaseEvent).where(CaseEvent.case_id == c.id,
                                                        CaseEvent.seq == c.trail_seq)).scalar_one()
        ev.opinion = "改写的意见"
        ev.row_hash = hash_of(ev)
        c.trail_head = ev.row_hash
        db.session.commit()
    code, out = run_verify(api)
    assert code == 1 and "缺少 2026-03-03 的签名日根（可能被删除）" in out, out
    assert "发现 1 处不一致" in out, out


def _delete_rows(table, column, ids) -> None:
    """DELETE the rows of ``table`` whose ``column`` is in ids, and first (recursively) every row that
    refers to them: what an attacker with SQL access does to remove a case."""
    if not ids:
        return
    for other in db.metadata.sorted_tables:
        for fk in other.foreign_keys:
            if fk.column.table is table and fk.parent.table is not table:
                pk = list(other.primary_key.columns)[0]
                sub = [r[0] for r in db.session.execute(select(pk).where(fk.parent.in_(ids)))]
                _delete_rows(other, pk, sub)
    db.session.execute(table.delete().where(column.in_(ids)))


def test_a_deleted_case_is_named(three_days):
    api, case = three_days
    with api.app.app_context():
        cases = Case.__table__
        _delete_rows(cases, cases.c.id, [case["id"]])
        db.session.commit()
        assert db.session.get(Case, case["id"]) is None
    code, out = run_verify(api, "--no-files")
    assert code == 1 and f"办件 {case['case_no']} 已被删除（见 2026-03-03 日根）" in out, out


def test_a_changed_case_number_is_named(three_days):
    api, case = three_days
    sql(api, "UPDATE cases SET case_no = :n WHERE id = :c", n="FAKE-0001", c=case["id"])
    code, out = run_verify(api)
    assert code == 1 and f"办件 FAKE-0001：办件编号与 2026-03-02 签署的日根（{case['case_no']}）不符" in out, out


def test_a_hole_cannot_be_signed_over_and_a_stale_root_warns(three_days):
    api, _ = three_days
    cli = api.app.test_cli_runner()
    sql(api, "DELETE FROM trail_roots WHERE day = :d", d="2026-03-03")
    out = cli.invoke(args=["trail", "seal-day", "--day", "2026-03-03"])
    assert out.exit_code != 0 and "早于最近签署的日根（2026-03-04），不能补签" in out.output, out.output
    with api.app.app_context():
        assert seal_due() == []  # the job does not fill the hole either
    api.clock.advance(days=3)  # today 8 March: 5–7 March unsigned
    out = cli.invoke(args=["trail", "seal-day", "--day", "2026-03-06"])
    assert out.exit_code != 0 and "请先签署 2026-03-05 的日根" in out.output, out.output
    sql(api, "DELETE FROM trail_roots WHERE day <> :d", d="2026-03-02")
    with api.app.app_context():
        result = verify(files=False)
        assert result["ok"], result  # the newest roots deleted: not a failure, only a warning
        assert result["warnings"] == ["最近的签名日根是 2026-03-02，之后未签署（签署任务是否在运行？若日根被删除，"
                                      "只能与外部留存的日根副本核对）"]
    code, out = run_verify(api, "--no-files")
    assert code == 0 and "! 最近的签名日根是 2026-03-02" in out, out


def test_export_roots_prints_json_lines(three_days):
    api, case = three_days
    cli = api.app.test_cli_runner()
    out = cli.invoke(args=["trail", "export-roots"])
    assert out.exit_code == 0, out.output
    lines = [json.loads(line) for line in out.output.splitlines()]
    assert [x["day"] for x in lines] == ["2026-03-02", "2026-03-03", "2026-03-04"]
    assert lines[0]["leaves"][0][:2] == [case["id"], case["case_no"]] and lines[2]["leaves"] == []
    assert '"tree_size":1' in lines[0]["statement"] and lines[0]["public_key"].startswith("ed25519:")
    out = cli.invoke(args=["trail", "export-roots", "--since", "2026-03-04"])
    assert [json.loads(x)["day"] for x in out.output.splitlines()] == ["2026-03-04"]
    bad = cli.invoke(args=["trail", "export-roots", "--since", "昨天"])
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output


