"""Migration 0022's backfill: the rows of a database from before the chain (no seq, no hashes, no head;
a stored file no event names by its hash) are chained in id order, and the database verifies clean."""
from __future__ import annotations

import importlib.util

from sqlalchemy import select, text

from app.extensions import db
from app.models import Case, CaseEvent
from tests.conftest import ROOT

from .helpers import close, drive_beian, run_verify, trail_api


def _migration():
    spec = importlib.util.spec_from_file_location("m0022", ROOT / "migrations" / "versions" / "0022_trail.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_backfill_chains_existing_rows_and_their_files(db_url):
    api = trail_api(db_url)
    try:
        case = drive_beian(api)
        with api.app.app_context():
            before = db.session.execute(select(CaseEvent.id).where(CaseEvent.case_id == case["id"])).scalars().all()
            # as before the upgrade: no chain, no head, and the upload's event without the file's hash
            db.session.execute(text("UPDATE case_events SET seq = NULL, prev_hash = NULL, row_hash = NULL"))
            db.session.execute(text("UPDATE cases SET trail_seq = 0, trail_head = NULL"))
            db.session.execute(text("UPDATE case_events SET data_change = :d WHERE action = 'attach'"),
                               {"d": '{"file": "会议纪要.pdf"}'})
            db.session.commit()
        code, out = run_verify(api)
        assert code == 1 and "插入了记录" in out
        with api.app.app_context():
            with db.engine.begin() as conn:
                _migration()._backfill(conn)
        code, out = run_verify(api)
        assert code == 0 and "全部一致" in out, out
        with api.app.app_context():
            rows = db.session.execute(select(CaseEvent).where(CaseEvent.case_id == case["id"])
                                      .order_by(CaseEvent.seq)).scalars().all()
            assert [r.id for r in rows[:-1]] == sorted(before)  # id order
            assert rows[-1].action == "files_chained" and rows[-1].seq == len(before) + 1
            assert db.session.get(Case, case["id"]).trail_seq == len(before) + 1
    finally:
        close(api)
