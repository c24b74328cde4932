"""The four inbox lists: urgency order, filters, pagination, counts, regions; and case files."""
import io
import zipfile

from tests.services.inbox.test_operations import api, first_task, inbox, op, start  # noqa: F401  (fixture)


def clock(api):
    return api.app.config["CLOCK"]


def test_todo_is_in_urgency_order_and_paginates(api):  # noqa: F811
    # three cases a working day apart: the oldest is due first
    made = []
    for i in range(3):
        made.append(start(api, project_name=f"项目{i}")["case_no"])
        clock(api).advance(days=1)
    rows = inbox(api, "w1", per_page=2)
    assert [r["case"]["case_no"] for r in rows["rows"]] == made[:2] and rows["has_next"] is True
    assert rows["counts"]["todo"] == 3
    page2 = inbox(api, "w1", per_page=2, page=2)
    assert [r["case"]["case_no"] for r in page2["rows"]] == made[2:] and page2["has_next"] is False
    dues = [r["task"]["due_date"] for r in rows["rows"] + page2["rows"]]
    assert dues == sorted(dues)


def test_filters_by_matter_colour_applicant_project_code_and_case_no(api):  # noqa: F811
    a = start(api, project_name="甲项目", project_code="2603-141124-89-05-000001")
    clock(api).advance(days=10)  # the first case's review (2 working days) is now overdue
    b = start(api, project_name="乙项目", project_code="2603-141124-89-05-000002")
    names = lambda **f: [r["case"]["case_no"] for r in inbox(api, "w1", **f)["rows"]]  # noqa: E731
    assert names() == [a["case_no"], b["case_no"]]
    assert names(colour="red") == [a["case_no"]]
    assert names(colour="green") == [b["case_no"]] or names(colour="yellow") == [b["case_no"]]
    assert names(project_code="2603-141124-89-05-000002") == [b["case_no"]]
    assert names(case_no=a["case_no"]) == [a["case_no"]]
    assert names(applicant="alice") == [a["case_no"], b["case_no"]]
    assert names(applicant="nobody") == []
    assert names(process_id="t_simple") == [a["case_no"], b["case_no"]]
    assert names(process_id="t_cs") == []
    assert inbox(api, "w1")["rows"][0]["colour"] == "red"


def test_done_handled_and_cc_lists(api):  # noqa: F811
    c1 = start(api)
    t = first_task(api, "w1")
    op(api, "w1", t["id"], "cc", users=["chief"], note="请知悉")
    op(api, "w1", t["id"], "approve", opinion="受理")
    assert [r["task"]["element_id"] for r in inbox(api, "w1", "done")["rows"]] == ["review"]
    assert [r["case"]["id"] for r in inbox(api, "w1", "handled")["rows"]] == [c1["id"]]
    cc = inbox(api, "chief", "cc")
    assert cc["rows"][0]["cc"]["note"] == "请知悉" and cc["counts"]["cc"] == 1
    # reading the case clears the unread count only through the page (API reads are not "read")
    counts = inbox(api, "w1")["counts"]
    assert counts == {"todo": 0, "done": 1, "handled": 1, "cc": 0, "capped": []}


def test_badges_count_exactly_up_to_the_cap_then_say_more(api, monkeypatch):  # noqa: F811
    from app.services.inbox import lists as inbox_svc
    monkeypatch.setattr(inbox_svc, "COUNT_CAP", 2)
    api.user("both", groups=["window", "cs_ecology"])
    for _ in range(2):
        start(api)
    assert inbox(api, "w1")["counts"]["todo"] == 2 and inbox(api, "w1")["counts"]["capped"] == []
    start(api)
    c = inbox(api, "w1")["counts"]
    assert c["todo"] == 2 and c["capped"] == ["todo"]
    assert inbox_svc.badge(c, "todo") == "2+" and inbox_svc.badge(c, "cc") == "0"
    # two keys: still exact up to the cap (rows read: cap × keys + 1)
    assert inbox(api, "both")["counts"]["capped"] == ["todo"]


def test_a_task_offered_through_two_of_my_groups_is_listed_once(api):  # noqa: F811
    api.user("both", groups=["cs_ecology", "cs_finance"])
    start(api)
    op(api, "w1", first_task(api, "w1")["id"], "approve", opinion="受理")
    rows = inbox(api, "both")["rows"]
    assert len(rows) == 2 and len({r["task"]["id"] for r in rows}) == 2
    assert inbox(api, "both")["counts"]["todo"] == 2


def test_another_regions_staff_see_nothing_and_may_not_act(api):  # noqa: F811
    start(api)
    t = first_task(api, "w1")
    assert inbox(api, "w_nj")["counts"]["todo"] == 0
    assert api.post("w_nj", f"/api/tasks/{t['id']}/claim").status_code == 403
    assert api.get("w_nj", f"/api/tasks/{t['id']}").status_code == 403


# -- files ---------------------------------------------------------------------------------------
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


def ofd_bytes():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("OFD.xml", "<ofd:OFD xmlns:ofd='http://www.ofdspec.org/2016'/>")
    return buf.getvalue()


def upload(api, who, case_id, blob, name, **form):
    return api.post(who, f"/api/cases/{case_id}/files", data={"file": (io.BytesIO(blob), name), **form},
                    content_type="multipart/form-data")


def test_files_are_typed_by_content_stored_by_checksum_and_listed_in_the_trail(api):  # noqa: F811
    import hashlib
    from pathlib import Path
    case = start(api)
    r = upload(api, "w1", case["id"], PDF, "专家意见.exe", kind="expert_review", note="评审会意见")
    assert r.status_code == 201, r.json
    f = r.json
    assert f["content_type"] == "application/pdf" and f["filename"] == "专家意见.pdf"
    assert f["sha256"] == hashlib.sha256(PDF).hexdigest()
    stored = Path(api.app.config["FILES_DIR"]) / f["sha256"][:2] / f["sha256"][2:4] / f["sha256"]
    assert stored.read_bytes() == PDF
    assert not str(stored).startswith(str(Path(api.app.root_path) / "static"))
    assert upload(api, "w1", case["id"], PNG, "scan.png").json["content_type"] == "image/png"
    assert upload(api, "w1", case["id"], ofd_bytes(), "批复.ofd").json["content_type"] == "application/ofd"
    listed = api.get("w1", f"/api/cases/{case['id']}/files").json["files"]
    assert [x["filename"] for x in listed] == ["专家意见.pdf", "scan.png", "批复.ofd"]
    history = api.get("w1", f"/api/cases/{case['id']}").json["history"]
    assert [h["action"] for h in history].count("attach") == 3
    # a corrupted file on disk is refused, not served
    stored.write_bytes(b"%PDF-tampered")
    assert api.get("w1", f"/api/cases/{case['id']}/files/{f['id']}").status_code == 404


def test_bad_files_are_refused_and_change_nothing(api):  # noqa: F811
    case = start(api)
    api.app.config["FILE_MAX_BYTES"] = 1024
    bad = [
        (b"MZ\x90\x00 this is a windows program", "evil.pdf"),   # forged type
        (b"PK\x03\x04not really a zip", "x.ofd"),                 # zip that is not an OFD
        (b"", "empty.pdf"),
        (PDF + b"\0" * 2048, "big.pdf"),                          # over the limit
    ]
    for blob, name in bad:
        r = upload(api, "w1", case["id"], blob, name)
        assert r.status_code in (413, 422), (name, r.status_code)
    r = upload(api, "w1", case["id"], PDF, "ok.pdf", kind="nonsense")
    assert r.status_code == 422
    r = api.post("w1", f"/api/cases/{case['id']}/files", data={}, content_type="multipart/form-data")
    assert r.status_code == 422
    assert api.get("w1", f"/api/cases/{case['id']}/files").json["files"] == []
    assert upload(api, "w1", 99999, PDF, "x.pdf").status_code == 404


def count_queries(app, call):
    from sqlalchemy import event
    from app.extensions import db
    seen = []
    with app.app_context():
        engine = db.engine
    def listener(conn, cursor, statement, *rest):
        if not statement.startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE is not a query
            seen.append(statement)
    event.listen(engine, "before_cursor_execute", listener)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return seen


def test_each_list_costs_a_fixed_number_of_queries_whatever_its_length(api):  # noqa: F811
    def cost(tab):
        inbox(api, "w1", tab)  # warm: the token lookup is cached for a few seconds
        return len(count_queries(api.app, lambda: inbox(api, "w1", tab)))
    start(api)
    op(api, "w1", first_task(api, "w1")["id"], "cc", users=["w1"])
    small = {tab: cost(tab) for tab in ("todo", "done", "handled", "cc")}
    # the pinned figures: page ids + rows + counts (todo); rows + counts (the others)
    assert small == {"todo": 3, "done": 2, "handled": 2, "cc": 2}
    for _ in range(6):
        start(api)
    for t in inbox(api, "w1")["rows"][:4]:
        op(api, "w1", t["task"]["id"], "cc", users=["w1"])
        op(api, "w1", t["task"]["id"], "approve", opinion="受理")
    assert {tab: cost(tab) for tab in ("todo", "done", "handled", "cc")} == small
