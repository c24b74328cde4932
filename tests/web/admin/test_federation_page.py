"""/admin/federation: administrators only; peers registered with field-by-field errors and nothing
stored when bad; enable, disable; dead letters sent again under their id; messages waiting for a
next attempt listed and sent now; refusals listed."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models.exchange import OutboxMessage
from app.models.federation import FederationPeer
from app.services.federation.protocol import new_seed, private_key_from_seed, public_key_text
from app.services.identity import org
from app.services.identity.actors import SYSTEM
from app.services.messaging import inbox, outbox
from tests.conftest import make_app
from tests.web.admin.test_admin_users import PASSWORD, csrf, signed_in

KEY = public_key_text(private_key_from_seed(new_seed()).public_key())


@pytest.fixture
def app(db_url):
    app = make_app(db_url, FEDERATION_SIGNING_KEY=new_seed())
    with app.app_context():
        org.seed_departments()
        db.session.commit()
        boss = org.create_user(SYSTEM, "boss", "管理员", "320000", PASSWORD)
        org.assign_role(SYSTEM, boss, "admin")
        clerk = org.create_user(SYSTEM, "clerk", "窗口 小王", "320000", PASSWORD)
        org.assign_role(SYSTEM, clerk, "window_clerk")
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def peers(app):
    with app.app_context():
        return {p.region: (p.name, p.enabled) for p in db.session.execute(select(FederationPeer)).scalars()}


def test_only_administrators_see_the_page_and_act(app):
    clerk = signed_in(app, "clerk")
    assert clerk.get("/admin/federation").status_code == 403
    token = csrf(clerk.get("/inbox").get_data(as_text=True))
    r = clerk.post("/admin/federation/peers", data={"csrf_token": token, "region": "320500", "name": "苏州",
                                                   "level": "city", "base_url": "http://x", "public_key": KEY})
    assert r.status_code == 403 and peers(app) == {}
    assert app.test_client().get("/admin/federation").status_code == 302  # to sign-in


def test_a_peer_is_registered_disabled_and_enabled_and_bad_fields_change_nothing(app):
    c = signed_in(app, "boss")
    page = c.get("/admin/federation").get_data(as_text=True)
    assert "320000" in page and "ed25519:" in page  # this platform's identity and key
    token = csrf(page)
    bad = c.post("/admin/federation/peers", data={"csrf_token": token, "region": "32050", "name": "",
                                                 "level": "town", "base_url": "ftp://x", "public_key": "x"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "行政区划代码应为 6 位数字" in text and "公钥格式" in text and peers(app) == {}
    ok = c.post("/admin/federation/peers", data={"csrf_token": token, "region": "320500", "name": "苏州市发展和改革委员会",
                                                "level": "city", "base_url": "http://127.0.0.1:9/", "public_key": KEY})
    assert ok.status_code == 302 and peers(app) == {"320500": ("苏州市发展和改革委员会", True)}
    again = c.post("/admin/federation/peers", data={"csrf_token": token, "region": "320500", "name": "x",
                                                   "level": "city", "base_url": "http://127.0.0.1:9", "public_key": KEY})
    assert again.status_code == 422 and "已登记" in again.get_data(as_text=True)
    assert c.post("/admin/federation/peers/320500/enabled", data={"csrf_token": token, "enabled": "0"}).status_code == 302
    assert peers(app)["320500"][1] is False
    assert "已停用" in c.get("/admin/federation").get_data(as_text=True)
    assert c.post("/admin/federation/peers/999999/enabled", data={"csrf_token": token, "enabled": "1"}).status_code == 404
    down = c.post("/admin/federation/peers/320500/ping", data={"csrf_token": token})  # nothing listens on port 9
    assert down.status_code == 502 and "连通测试失败" in down.get_data(as_text=True)


def test_a_dead_letter_is_listed_and_sent_again_under_its_id_and_refusals_are_listed(app):
    with app.app_context():
        m = outbox.enqueue("federation", "320500", "progress", {"case_no": "C1"})
        m.status, m.last_error = "dead", "[unknown_matter] 事项编码不存在"
        mid = m.message_id
        db.session.commit()
        inbox.refuse("federation", "320583", "6f1c", "forward", "bad_signature", "签名验证失败", "10.0.0.7")
    c = signed_in(app, "boss")
    page = c.get("/admin/federation").get_data(as_text=True)
    assert mid in page and "unknown_matter" in page and "bad_signature" in page and "10.0.0.7" in page
    token = csrf(page)
    assert c.post(f"/admin/federation/messages/{mid}/resend", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        assert db.session.execute(select(OutboxMessage.status)).scalar_one() == "pending"
        assert db.session.execute(select(func.count()).select_from(OutboxMessage)).scalar() == 1
    with app.app_context():
        db.session.execute(OutboxMessage.__table__.update().values(status="delivered"))
        db.session.commit()
    refused = c.post(f"/admin/federation/messages/{mid}/resend", data={"csrf_token": token})
    assert refused.status_code == 409 and "已送达" in refused.get_data(as_text=True)
    assert c.post("/admin/federation/messages/nope/resend", data={"csrf_token": token}).status_code == 404


def test_a_message_the_peer_asked_to_wait_for_is_listed_and_sent_now(app):
    """A result for a case suspended at its origin waits an hour between attempts (outbox.Wait): the page
    lists it with its next attempt and error, and 立即发送 makes it due now, failures kept, same id.
    A message not tried yet is not listed."""
    clock = app.extensions["clock"]
    with app.app_context():
        m = outbox.enqueue("federation", "320500", "result", {"case_no": "C1"})
        m.last_error, m.failures = "[not_ready] 办件已挂起，请稍后再发", 2
        m.next_attempt_at = clock() + timedelta(hours=1)
        mid = m.message_id
        fresh = outbox.enqueue("federation", "320500", "progress", {"case_no": "C2"})   # never tried yet
        fresh_id = fresh.message_id
        db.session.commit()
    c = signed_in(app, "boss")
    page = c.get("/admin/federation").get_data(as_text=True)
    listed = page.split('id="retrying"', 1)[1].split("</table>", 1)[0]
    assert mid in listed and "not_ready" in listed and "立即发送" in listed
    assert fresh_id not in listed
    r = c.post(f"/admin/federation/messages/{mid}/resend", data={"csrf_token": csrf(page)})
    assert r.status_code == 302
    with app.app_context():
        row = db.session.execute(select(OutboxMessage).where(OutboxMessage.message_id == mid)).scalar_one()
        assert (row.status, row.failures) == ("pending", 2)
        assert row.next_attempt_at <= clock() + timedelta(seconds=1)
    assert "Send now" in c.get("/admin/federation?lang=en").get_data(as_text=True)
