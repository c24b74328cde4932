"""Stored files (issue 12, visitors): an OFD is told by its structure — a zip that merely has an
entry named OFD.xml, a zip bomb, an OFD.xml with entities is not one — and the files no row
references any more (replaced or removed uploads) are swept once older than the grace period, by
``flask files sweep`` and by the scheduler, never an upload in flight or a file in use."""
from __future__ import annotations

import io
import os
import struct
import time
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.jobs import scheduler
from app.models import CaseFile
from app.models.accounts import LibraryItem
from app.services.common.blobs import OFD_MAX_ENTRIES, is_ofd, keep_blob, sniff, sweep_files
from tests.conftest import deploy_all, make_app
from tests.services.portal.helpers import make_applicant, signed_in, upload

OFD_XML = b"<?xml version='1.0' encoding='UTF-8'?><ofd:OFD xmlns:ofd='http://www.ofdspec.org/2016' " \
          b"Version='1.0' DocType='OFD'><ofd:DocBody><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot>" \
          b"</ofd:DocBody></ofd:OFD>"
DAY = 86400


def make_zip(entries: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            z.writestr(name, data)
    return buf.getvalue()


def ofd(*extra: tuple[str, bytes]) -> bytes:
    return make_zip([("OFD.xml", OFD_XML), ("Doc_0/Document.xml", b"<ofd:Document xmlns:ofd='x'/>"), *extra])


# -- OFD by structure ---------------------------------------------------------------------------------
def test_a_real_ofd_package_is_recognised():
    blob = ofd()
    assert sniff(blob[:16], blob) == "application/ofd"


@pytest.mark.parametrize("blob", [
    make_zip([("OFD.xml", b"hello, not xml")]),
    make_zip([("OFD.xml", b"<OFD/>")]),  # no GB/T 33190 namespace
    make_zip([("OFD.xml", b"<x:OFD xmlns:x='http://example.com/ofd'/>")]),
    make_zip([("docs/OFD.xml", OFD_XML)]),  # not at the root of the package
    make_zip([("OFD.xml", b"<?xml version='1.0'?><!DOCTYPE r [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;'>]>"
                          b"<ofd:OFD xmlns:ofd='http://www.ofdspec.org/2016'>&b;</ofd:OFD>")]),
    make_zip([("OFD.xml", b"<?xml version='1.0'?><!DOCTYPE r [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
                          b"<ofd:OFD xmlns:ofd='http://www.ofdspec.org/2016'>&x;</ofd:OFD>")]),
    make_zip([("OFD.xml", b"<ofd:OFD xmlns:ofd='http://www.ofdspec.org/2016'>" + b"x" * (2 * 1024 * 1024) +
               b"</ofd:OFD>")]),  # OFD.xml itself absurdly large
    b"PK\x03\x04 not really a zip",
], ids=["not-xml", "no-namespace", "other-namespace", "not-at-root", "entities", "external-entity",
        "huge-ofd-xml", "broken-zip"])
def test_a_zip_with_an_entry_named_ofd_xml_is_not_enough(blob):
    """Before, any zip with an entry named OFD.xml was taken for an OFD."""
    assert sniff(blob[:16], blob) is None


def test_a_zip_bomb_is_refused_without_unpacking_it():
    """30 entries of 10 MB of zeros: a 300 MB package in a few hundred kilobytes. Refused from the
    zip's directory alone — quickly, and the sizes are never unpacked."""
    zeros = b"\0" * (10 * 1024 * 1024)
    bomb = ofd(*[(f"Doc_0/Res/{i}.bin", zeros) for i in range(30)])
    assert len(bomb) < 1024 * 1024
    started = time.perf_counter()
    assert sniff(bomb[:16], bomb) is None
    assert time.perf_counter() - started < 1.0


def test_too_many_entries_are_refused():
    many = ofd(*[(f"Doc_0/Res/{i}.txt", b"") for i in range(OFD_MAX_ENTRIES)])
    assert not is_ofd(many)


def test_overlapping_entries_are_refused():
    """The small zip bombs of today point several directory entries at the same compressed bytes."""
    blob = bytearray(ofd(("Doc_0/a.xml", b"<a/>" * 100), ("Doc_0/b.xml", b"<b/>" * 100)))
    assert is_ofd(bytes(blob))
    records = [i for i in range(len(blob)) if blob[i:i + 4] == b"PK\x01\x02"]
    first_offset = struct.unpack_from("<I", blob, records[0] + 42)[0]
    struct.pack_into("<I", blob, records[-1] + 42, first_offset)  # the last entry's data = the first's
    assert not is_ofd(bytes(blob))


# -- the sweep ----------------------------------------------------------------------------------------
@pytest.fixture
def app(db_url):
    app = make_app(db_url)
    deploy_all(app)
    app.uid = make_applicant(app, "13900000001")
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def stored_files(app) -> dict[str, int]:
    root = Path(app.config["FILES_DIR"])
    return {p.relative_to(root).as_posix(): p.stat().st_size for p in root.rglob("*") if p.is_file()}


def age(app, days: float = 2) -> None:
    """Every stored file last written ``days`` ago (real file times: the sweep reads those)."""
    old = time.time() - days * DAY
    for key in stored_files(app):
        os.utime(Path(app.config["FILES_DIR"]) / key, (old, old))


def pdf(n: int, size: int = 2 * 1024 * 1024) -> bytes:
    head = f"%PDF-1.4\n% version {n}\n".encode()
    return head + bytes([n]) * (size - len(head))


def new_draft(c) -> int:
    r = c.post("/portal/apply/xmgl_beian", data={"csrf_token": "t"})
    assert r.status_code == 302
    return int(r.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def test_five_replaced_uploads_leave_one_file_on_disk_after_the_sweep(app):
    """The review: five 2 MB replacements of one material left 10 MB on disk for 2 MB referenced."""
    c = signed_in(app, app.uid)
    case_id = new_draft(c)
    for n in range(5):
        r = c.post(f"/portal/drafts/{case_id}/materials/0", content_type="multipart/form-data",
                   data={"csrf_token": "t", "file": upload(pdf(n), f"第{n}版.pdf")})
        assert r.status_code == 302
    assert len(stored_files(app)) == 5 and sum(stored_files(app).values()) == 5 * 2 * 1024 * 1024
    with app.app_context():
        kept = db.session.execute(select(CaseFile).where(CaseFile.case_id == case_id)).scalar_one()
        kept_key, kept_id = kept.storage_key, kept.id
    assert _cli_sweep(app)["deleted"] == 0  # all fresh: within the grace period
    age(app)
    counts = _cli_sweep(app)
    assert counts["deleted"] == 4 and counts["bytes"] == 4 * 2 * 1024 * 1024
    assert list(stored_files(app)) == [kept_key]
    r = c.get(f"/portal/drafts/{case_id}/files/{kept_id}")
    assert r.status_code == 200 and r.data == pdf(4)


def _cli_sweep(app) -> dict:
    out = app.test_cli_runner().invoke(args=["files", "sweep"])
    assert out.exit_code == 0, out.output
    words = out.stdout.split()  # (log lines go to stderr)
    return {"deleted": int(words[1]), "bytes": int(words[3].lstrip("("))}


def test_the_sweep_keeps_what_is_referenced_fresh_or_kept_again(app):
    c = signed_in(app, app.uid)
    r = c.post("/portal/library", content_type="multipart/form-data",
               data={"csrf_token": "t", "material": "营业执照", "file": upload(pdf(7, 4096), "执照.pdf")})
    assert r.status_code == 302
    with app.app_context():
        library_key = db.session.execute(select(LibraryItem.storage_key)).scalar_one()
        _, orphan = keep_blob(pdf(8, 4096))        # stored, its row rolled back: nobody references it
        _, again = keep_blob(pdf(9, 4096))         # an orphan uploaded once more (row on its way)
    root = Path(app.config["FILES_DIR"])
    (root / "notes.txt").write_text("not ours")
    (root / "ab" / "cd").mkdir(parents=True)
    (root / "ab" / "cd" / "not-a-digest").write_text("not ours either")
    leftover = root / (orphan + ".tmp4242")
    leftover.write_bytes(b"half written")
    age(app)
    with app.app_context():
        keep_blob(pdf(9, 4096))  # kept again now: a fresh grace period
        _, fresh = keep_blob(pdf(10, 4096))  # an upload in flight, its row not yet committed
        dry = sweep_files(dry_run=True)
        assert dry["deleted"] == 2 and orphan in stored_files(app)
        counts = sweep_files()
    assert counts["deleted"] == 2  # the old orphan and the leftover .tmp
    left = set(stored_files(app))
    assert {library_key, again, fresh, "notes.txt", "ab/cd/not-a-digest"} <= left
    assert orphan not in left and not leftover.exists()
    with app.app_context():
        assert sweep_files(grace_seconds=0)["deleted"] == 2  # grace 0: also the two unreferenced fresh ones
    assert library_key in stored_files(app)


def test_the_scheduler_sweeps_every_files_sweep_seconds(db_url):
    app = make_app(db_url, FILES_SWEEP_SECONDS=0.5, SUPERVISION_SECONDS=3600, SMS_SEND_SECONDS=3600)
    try:
        with app.app_context():
            _, orphan = keep_blob(b"%PDF-1.4 orphan")
        age(app)
        scheduler.run(app, max_seconds=2.5)
        assert orphan not in stored_files(app)
        with app.app_context():
            assert db.session.execute(select(func.count()).select_from(CaseFile)).scalar() == 0
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
