"""Materials by content over real HTTP: a city (320500) holds a case's file and signs a download link
for the province (320000); the province fetches it once through the link on the city's loopback
server, checks its SHA-256 and its type and stores it once. A file held is not fetched again. Forged,
changed or expired links, a recipient that is not a peer and a file not held are refused by the city;
a server that serves other bytes, a link off the peer's host, a redirect and an oversize stream are
refused by the province (stand-in servers on loopback inject the faults) — and nothing is stored."""
import hashlib
import json
import os
import threading
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import requests
from sqlalchemy import func, select
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from app.extensions import db
from app.models import CaseFile, Notification
from app.models.exchange import InboxRefusal
from app.services.common.blobs import keep_blob, read_stored
from app.services.federation import materials
from app.services.federation import peers as peer_svc
from app.services.federation.protocol import new_seed, private_key_from_seed, public_key_text
from app.services.messaging.inbox import Refusal
from tests.conftest import ROOT, add_user, deploy_all
from tests.services.federation.test_transport import Served, platform

PROVINCE, CITY, COUNTY = "320000", "320500", "320583"
FILES = "/api/federation/files/"


def pdf(tag: str, size: int = 4000) -> bytes:
    head = b"%PDF-1.7\n%" + tag.encode() + b"\n" + os.urandom(16).hex().encode() + b"\n"
    return head + b"0" * (size - len(head) - 6) + b"%%EOF\n"


class Counted:
    """WSGI middleware counting the file requests a platform's server receives."""

    def __init__(self, app):
        self.wsgi, self.files = app.wsgi_app, 0
        app.wsgi_app = self

    def __call__(self, environ, start_response):
        if environ["PATH_INFO"].startswith(FILES):
            self.files += 1
        return self.wsgi(environ, start_response)


class StandIn:
    """A server on loopback that answers every request with ``answer(request)`` (fault injection),
    counting requests and the body bytes it got out."""

    def __init__(self, answer):
        self.requests, self.sent = 0, 0

        @Request.application
        def app(request):
            self.requests += 1
            return answer(request)
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stream(self, chunks):
        for chunk in chunks:
            self.sent += len(chunk)
            yield chunk

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def net(db_url):
    seeds = {PROVINCE: new_seed(), CITY: new_seed()}
    province = Served(platform(db_url, PROVINCE, seeds[PROVINCE]))
    city = Served(platform(db_url, CITY, seeds[CITY]))
    for s in (province, city):
        s.app.config["FEDERATION_PUBLIC_URL"] = s.url
    key = {r: public_key_text(private_key_from_seed(s).public_key()) for r, s in seeds.items()}
    with province.app.app_context():
        peer_svc.add_peer(peer_svc.PeerIn(CITY, "苏州市发展和改革委员会", "city", city.url, key[CITY]))
    with city.app.app_context():
        peer_svc.add_peer(peer_svc.PeerIn(PROVINCE, "江苏省发展和改革委员会", "province", province.url, key[PROVINCE]))
    deploy_all(city.app)  # a real case of the city, whose files are the materials
    headers = add_user(city.app, "applicant", "applicant", region_code=CITY)
    start = json.loads((ROOT / "processes" / "xmgl_beian.scenarios.json").read_text("utf-8"))
    r = city.app.test_client().post("/api/cases", headers=headers, json={
        "process_id": "xmgl_beian", "data": start["scenarios"][0]["start"], "submit": False})
    assert r.status_code == 201, r.json

    class Net:
        stand_ins: list
    n = Net()
    n.province, n.city, n.seeds, n.key, n.case_id, n.stand_ins = province, city, seeds, key, r.json["id"], []
    n.city_files = Counted(city.app)
    yield n
    for s in n.stand_ins:
        s.stop()
    for s in (province, city):
        s.stop()
        with s.app.app_context():
            db.session.remove()
            db.engine.dispose()


def hold(n, blob: bytes, name: str = "可行性研究报告.pdf", ctype: str = "application/pdf") -> str:
    """The city stores ``blob`` as a file of its case (as an upload does): its SHA-256."""
    with n.city.app.app_context():
        digest, key = keep_blob(blob)
        db.session.add(CaseFile(case_id=n.case_id, uploaded_by="applicant", kind="scan", filename=name,
                                content_type=ctype, size=len(blob), sha256=digest, storage_key=key))
        db.session.commit()
    return digest


def ref_for(n, digest: str, size: int, to: str = PROVINCE, ctype: str = "application/pdf", **kw) -> dict:
    with n.city.app.app_context():
        return materials.material_ref(digest, size, "可行性研究报告.pdf", ctype, to, **kw)


def fetch(n, ref, peer: str = CITY) -> str:
    with n.province.app.app_context():
        return materials.fetch_material(ref, peer)


def refused(n, ref, peer: str = CITY) -> Refusal:
    with pytest.raises(Refusal) as err:
        fetch(n, ref, peer)
    return err.value


def stored(app) -> list[str]:
    root = Path(app.config["FILES_DIR"])
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def with_query(url: str, **changes) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    for k, v in changes.items():
        if v is None:
            query.pop(k, None)
        else:
            query[k] = v
    return urlunsplit(parts._replace(query=urlencode(query)))


def standin_peer(n, answer) -> StandIn:
    """A stand-in server registered at the province as the county's platform."""
    s = StandIn(answer)
    n.stand_ins.append(s)
    with n.province.app.app_context():
        peer_svc.add_peer(peer_svc.PeerIn(COUNTY, "昆山市发展和改革委员会", "county", s.url, n.key[CITY]))
    return s


def forged_ref(digest: str, size: int, base: str) -> dict:
    return {"sha256": digest, "size": size, "name": "a.pdf", "content_type": "application/pdf",
            "url": f"{base}{FILES}{digest}?to={PROVINCE}&exp=9999999999&sig={'A' * 86}"}


# -- the link and the file ---------------------------------------------------------------------------

def test_a_pdf_is_fetched_through_its_signed_link_checked_and_stored_once(net):
    blob = pdf("feasibility")
    digest = hold(net, blob)
    ref = ref_for(net, digest, len(blob))
    assert set(ref) == {"sha256", "size", "name", "content_type", "url"}
    assert ref["url"].startswith(f"{net.city.url}{FILES}{digest}?to={PROVINCE}&exp=")
    before = dict(materials.COUNTS)

    key = fetch(net, ref)
    assert key == f"{digest[:2]}/{digest[2:4]}/{digest}" and stored(net.province.app) == [key]
    with net.province.app.app_context():
        assert read_stored(key, digest) == blob  # the platform's own checked read
    assert net.city_files.files == 1

    assert fetch(net, ref) == key  # held: no request made
    assert net.city_files.files == 1
    assert materials.COUNTS["fetched"] - before.get("fetched", 0) == 1
    assert materials.COUNTS["held"] - before.get("held", 0) == 1


def test_the_link_answers_the_bytes_with_their_checksum_and_no_caching(net):
    blob = pdf("opinion")
    digest = hold(net, blob)
    r = requests.get(ref_for(net, digest, len(blob))["url"], timeout=5)
    assert r.status_code == 200 and r.content == blob
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.headers["Content-Length"] == str(len(blob)) and r.headers["X-Content-SHA256"] == digest
    assert "no-store" in r.headers["Cache-Control"] and "private" in r.headers["Cache-Control"]


def test_a_file_held_under_its_checksum_is_not_fetched_even_when_its_link_has_expired(net):
    blob = pdf("held")
    digest = hold(net, blob)
    with net.province.app.app_context():
        keep_blob(blob)  # the province holds these bytes already (another case's material)
    ref = ref_for(net, digest, len(blob), ttl_seconds=1)
    net.city.app.extensions["clock"].advance(minutes=5)
    assert fetch(net, ref) == f"{digest[:2]}/{digest[2:4]}/{digest}" and net.city_files.files == 0


def test_a_held_file_whose_bytes_are_damaged_is_fetched_again(net):
    blob = pdf("damaged")
    digest = hold(net, blob)
    with net.province.app.app_context():
        _, key = keep_blob(blob)
        path = Path(net.province.app.config["FILES_DIR"]) / key
    path.write_bytes(blob[:-1] + b"X")
    assert fetch(net, ref_for(net, digest, len(blob))) == key
    assert path.read_bytes() == blob and net.city_files.files == 1


# -- refused by the sending platform -----------------------------------------------------------------

def _forged_signature(n, url: str) -> str:
    """The same link text signed with another key than the city's."""
    q = dict(parse_qsl(urlsplit(url).query))
    digest = urlsplit(url).path.rsplit("/", 1)[1]
    sig = private_key_from_seed(new_seed()).sign(materials.link_text(digest, q["to"], q["exp"]))
    return with_query(url, sig=materials._b64url(sig))


TAMPERINGS = {
    "a flipped signature character": lambda n, url: with_query(
        url, sig=("B" if dict(parse_qsl(urlsplit(url).query))["sig"][0] != "B" else "C")
        + dict(parse_qsl(urlsplit(url).query))["sig"][1:]),
    "signed by another key": _forged_signature,
    "another recipient": lambda n, url: with_query(url, to=COUNTY),
    "a later expiry": lambda n, url: with_query(url, exp=str(int(dict(parse_qsl(urlsplit(url).query))["exp"]) + 3600)),
    "no signature": lambda n, url: with_query(url, sig=None),
    "a padded signature of other bytes": lambda n, url: with_query(url, sig="A" * 86 + "=="),
}


@pytest.mark.parametrize("tampering", list(TAMPERINGS))
def test_a_forged_or_changed_link_is_refused_403_and_nothing_is_stored(net, tampering):
    blob = pdf("tampered")
    digest = hold(net, blob)
    ref = ref_for(net, digest, len(blob))
    url = TAMPERINGS[tampering](net, ref["url"])
    r = requests.get(url, timeout=5)
    assert r.status_code == 403 and r.json()["error"] == "bad_signature", r.text
    if tampering != "no signature":  # the receiver takes only links with to, exp and sig
        err = refused(net, {**ref, "url": url})
        assert (err.code, err.status) == ("bad_material", 422) and "bad_signature" in err.message
    assert stored(net.province.app) == []


def test_a_link_signed_for_one_file_does_not_open_another(net):
    first, second = pdf("first"), pdf("second")
    d1, d2 = hold(net, first), hold(net, second)
    url = ref_for(net, d1, len(first))["url"].replace(d1, d2)
    r = requests.get(url, timeout=5)
    assert r.status_code == 403 and r.json()["error"] == "bad_signature"


def test_an_expired_link_is_refused_and_recorded_for_the_operators(net):
    blob = pdf("expired")
    digest = hold(net, blob)
    ref = ref_for(net, digest, len(blob), ttl_seconds=60)
    net.city.app.extensions["clock"].advance(minutes=2)
    r = requests.get(ref["url"], timeout=5)
    assert r.status_code == 403 and r.json()["error"] == "expired"
    err = refused(net, ref)
    assert err.code == "bad_material" and "expired" in err.message and stored(net.province.app) == []
    with net.city.app.app_context():
        rows = db.session.execute(select(InboxRefusal).where(InboxRefusal.kind == "file")).scalars().all()
        assert [(x.code, x.peer, x.message_id) for x in rows] == [("expired", PROVINCE, digest)] * 2
    assert fetch(net, ref_for(net, digest, len(blob))) and stored(net.province.app)  # a fresh link works


def test_a_link_for_a_region_that_is_not_an_enabled_peer_is_refused(net):
    blob = pdf("peer")
    digest = hold(net, blob)
    r = requests.get(ref_for(net, digest, len(blob), to=COUNTY)["url"], timeout=5)
    assert r.status_code == 403 and r.json()["error"] == "unknown_peer"
    ref = ref_for(net, digest, len(blob))
    with net.city.app.app_context():
        peer_svc.set_enabled(PROVINCE, False)  # the city stops serving the province
    r = requests.get(ref["url"], timeout=5)
    assert r.status_code == 403 and r.json()["error"] == "unknown_peer"
    err = refused(net, ref)
    assert err.code == "bad_material" and "unknown_peer" in err.message and stored(net.province.app) == []


def test_a_file_the_platform_does_not_hold_or_its_data_does_not_use_is_404(net):
    never = pdf("never stored")
    digest = hashlib.sha256(never).hexdigest()
    r = requests.get(ref_for(net, digest, len(never))["url"], timeout=5)
    assert r.status_code == 404 and r.json()["error"] == "unknown_file"
    err = refused(net, ref_for(net, digest, len(never)))
    assert err.code == "bad_material" and "unknown_file" in err.message

    loose = pdf("on disk, no row")  # a file on disk that no row references (before the sweep)
    with net.city.app.app_context():
        loose_digest, _ = keep_blob(loose)
    r = requests.get(ref_for(net, loose_digest, len(loose))["url"], timeout=5)
    assert r.status_code == 404 and r.json()["error"] == "unknown_file"

    damaged = pdf("damaged on disk")
    damaged_digest = hold(net, damaged)
    key = f"{damaged_digest[:2]}/{damaged_digest[2:4]}/{damaged_digest}"
    (Path(net.city.app.config["FILES_DIR"]) / key).write_bytes(damaged[:-1] + b"Y")
    r = requests.get(ref_for(net, damaged_digest, len(damaged))["url"], timeout=5)
    assert r.status_code == 404 and r.json()["error"] == "unknown_file"

    (Path(net.city.app.config["FILES_DIR"]) / key).unlink()
    r = requests.get(ref_for(net, damaged_digest, len(damaged))["url"], timeout=5)
    assert r.status_code == 404 and r.json()["error"] == "unknown_file"
    assert stored(net.province.app) == []


@pytest.mark.parametrize("path, query, status", [
    ("A" * 64, "", 404), ("abc", "to=320000&exp=1&sig=x", 404), ("0" * 63 + "g", "", 404),
    ("0" * 64, "", 403), ("0" * 64, "to=320000", 403), ("0" * 64, "to=x&exp=y&sig=z", 403),
    ("0" * 64, "to=320000&exp=99999999999999999999&sig=" + "A" * 86, 403),
    ("0" * 64, "to=320000&exp=-1&sig=" + "A" * 86, 403),
    ("0" * 64, "to=320000&exp=1&sig=" + "*" * 86, 403),
    ("0" * 64, "to=320000&to=320500&exp=1&sig=" + "A" * 86, 403),
    ("0" * 64, "to=320000&exp=1&sig=%00", 422),
])
def test_junk_links_are_refused_with_the_error_body_and_no_500(net, path, query, status):
    r = requests.get(f"{net.city.url}{FILES}{path}?{query}", timeout=5)
    assert r.status_code == status and r.headers["Content-Type"].startswith("application/json"), r.text
    assert r.json()["code"] == status


# -- refused by the receiving platform ---------------------------------------------------------------

def test_a_server_that_serves_other_bytes_than_the_checksum_is_refused_and_nothing_is_stored(net):
    declared, served = pdf("declared"), pdf("substituted")
    assert len(declared) == len(served)
    s = standin_peer(net, lambda request: Response(served, mimetype="application/octet-stream"))
    err = refused(net, forged_ref(hashlib.sha256(declared).hexdigest(), len(declared), s.url), COUNTY)
    assert (err.code, err.status) == ("bad_material", 422) and "SHA-256" in err.message
    assert s.requests == 1 and stored(net.province.app) == []


@pytest.mark.parametrize("content, declared_type, reason", [
    (b"<html><script>alert(1)</script></html>", "application/pdf", "PDF、JPG、PNG 或 OFD"),
    (None, "image/png", "application/pdf"),
])
def test_bytes_of_the_right_checksum_but_a_type_not_accepted_or_not_declared_are_refused(
        net, content, declared_type, reason):
    content = content or pdf("typed")
    s = standin_peer(net, lambda request: Response(content, mimetype="application/octet-stream"))
    ref = {**forged_ref(hashlib.sha256(content).hexdigest(), len(content), s.url), "content_type": declared_type}
    err = refused(net, ref, COUNTY)
    assert err.code == "bad_material" and reason in err.message
    assert s.requests == 1 and stored(net.province.app) == []


def test_a_link_off_the_peers_registered_host_is_refused_without_any_request(net):
    blob = pdf("ssrf")
    digest = hold(net, blob)
    ref = ref_for(net, digest, len(blob))
    s = StandIn(lambda request: Response(blob, mimetype="application/octet-stream"))
    net.stand_ins.append(s)
    city = urlsplit(net.city.url)
    tail = ref["url"][len(net.city.url):]
    for url in (s.url + tail,  # another port of the same host
                f"http://localhost:{city.port}{tail}",  # another host name
                f"https://127.0.0.1:{city.port}{tail}",  # another scheme
                f"http://127.0.0.1:{city.port}@127.0.0.1:{urlsplit(s.url).port}{tail}",  # credentials trick
                f"{net.city.url}/api/federation/files/../../files/{digest}?" + urlsplit(ref["url"]).query,
                f"{net.city.url}/admin/federation?" + urlsplit(ref["url"]).query,
                ref["url"] + "&next=http://evil",
                ref["url"] + "#frag",
                ref["url"].replace("http://", "http:\\\\")):
        err = refused(net, {**ref, "url": url})
        assert (err.code, err.status) == ("bad_material", 422), url
    assert s.requests == 0 and net.city_files.files == 0 and stored(net.province.app) == []


def test_a_redirect_is_not_followed(net):
    target = StandIn(lambda request: Response(b"", status=204))
    net.stand_ins.append(target)
    blob = pdf("redirect")
    s = standin_peer(net, lambda request: Response(status=302, headers={"Location": target.url + "/x"}))
    err = refused(net, forged_ref(hashlib.sha256(blob).hexdigest(), len(blob), s.url), COUNTY)
    assert err.code == "bad_material" and "302" in err.message
    assert s.requests == 1 and target.requests == 0 and stored(net.province.app) == []


def test_an_oversize_stream_is_aborted_at_the_declared_size(net):
    total = 64 * 1024 * 1024
    chunk = b"%PDF-1.7\n" + b"0" * (64 * 1024 - 9)
    s = standin_peer(net, lambda request: Response(s.stream(chunk for _ in range(total // len(chunk))),
                                                   mimetype="application/octet-stream"))
    err = refused(net, forged_ref("a" * 64, 100_000, s.url), COUNTY)
    assert err.code == "bad_material" and "已中止" in err.message
    assert s.sent < 16 * 1024 * 1024, s.sent  # stopped early: not the 64 MB the server would send
    assert stored(net.province.app) == []


def test_a_declared_length_beyond_the_size_is_refused_before_the_body(net):
    body = b"%PDF-1.7\n" + b"0" * 200_000
    s = standin_peer(net, lambda request: Response(s.stream([body]), mimetype="application/octet-stream",
                                                   headers={"Content-Length": str(len(body))}))
    err = refused(net, forged_ref("b" * 64, 1000, s.url), COUNTY)
    assert err.code == "bad_material" and "未下载" in err.message and stored(net.province.app) == []


JUNK_REFS = {
    "not an object": lambda ref: ["x"],
    "no url": lambda ref: {k: v for k, v in ref.items() if k != "url"},
    "an upper-case checksum": lambda ref: {**ref, "sha256": ref["sha256"].upper()},
    "a size of true": lambda ref: {**ref, "size": True},
    "a size of zero": lambda ref: {**ref, "size": 0},
    "a size beyond FILE_MAX_BYTES": lambda ref: {**ref, "size": 20 * 1024 * 1024 + 1},
    "a size as text": lambda ref: {**ref, "size": "4000"},
    "a type not accepted": lambda ref: {**ref, "content_type": "text/html"},
    "an empty name": lambda ref: {**ref, "name": " "},
    "a url that is not text": lambda ref: {**ref, "url": 7},
    "a url with spaces": lambda ref: {**ref, "url": ref["url"] + " x"},
}


@pytest.mark.parametrize("junk", list(JUNK_REFS))
def test_junk_references_are_refused_without_any_request(net, junk):
    blob = pdf("junk")
    ref = JUNK_REFS[junk](ref_for(net, hold(net, blob), len(blob)))
    assert refused(net, ref).code == "bad_material"
    assert net.city_files.files == 0 and stored(net.province.app) == []


def test_a_reference_from_a_region_that_is_not_a_peer_is_refused(net):
    blob = pdf("stranger")
    ref = ref_for(net, hold(net, blob), len(blob))
    err = refused(net, ref, COUNTY)
    assert (err.code, err.status) == ("unknown_peer", 403) and net.city_files.files == 0


def test_a_sender_that_is_down_is_unavailable_to_retry_not_refused(net):
    blob = pdf("down")
    ref = ref_for(net, hold(net, blob), len(blob))
    net.city.stop()
    err = refused(net, ref)
    assert (err.code, err.status) == ("material_unavailable", 503) and stored(net.province.app) == []
    net.city.start()
    assert fetch(net, ref) and net.city_files.files == 1


def test_no_transaction_is_held_across_the_download(net):
    """While the province downloads, its session has no transaction open and another connection can
    write to its database (on SQLite a transaction holds the write lock: BEGIN IMMEDIATE)."""
    blob = pdf("lock")
    seen = {}

    def answer(request):
        seen["in_transaction"] = session.in_transaction()
        with net.province.app.app_context():
            db.session.add(Notification(key=f"during-{os.getpid()}", channel="internal", recipient="x",
                                        template="during-download", text="x"))
            db.session.commit()
        seen["wrote"] = True
        return Response(blob, mimetype="application/octet-stream")
    s = standin_peer(net, answer)
    with net.province.app.app_context():
        session = db.session()
        key = materials.fetch_material(forged_ref(hashlib.sha256(blob).hexdigest(), len(blob), s.url), COUNTY)
        assert key and seen == {"in_transaction": False, "wrote": True}
        assert db.session.execute(select(func.count()).select_from(Notification).where(
            Notification.template == "during-download")).scalar() == 1


def test_fetch_materials_gives_the_rows_of_the_receiving_case(net):
    a, b = pdf("a"), pdf("b")
    refs = [ref_for(net, hold(net, a), len(a)), ref_for(net, hold(net, b), len(b))]
    refs[1]["name"] = "../../etc/环评批复.pdf"
    with net.province.app.app_context():
        rows = materials.fetch_materials(refs, CITY)
    assert [r["sha256"] for r in rows] == [refs[0]["sha256"], refs[1]["sha256"]]
    assert rows[1]["filename"] == "环评批复.pdf" and rows[0]["content_type"] == "application/pdf"
    assert net.city_files.files == 2
