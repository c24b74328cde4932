"""/admin/integrations on a platform docked to the 一张网 stand-in: what was sent and its failures with the
gateway's error, re-send under the same message id, what was refused; administrators only; and the
supervision page's alert once a push has failed for more than DOCKING_ALERT_HOURS."""
import re

from sqlalchemy import select

from app.extensions import db
from app.models.exchange import OutboxMessage
from app.services.identity import org
from app.services.identity.actors import SYSTEM
from app.services.messaging import outbox
from tests.services.docking.ywtb_support import deliver, docked, drive, gateway, scenario  # noqa: F401 (fixture)
from tests.web.admin.test_admin_users import PASSWORD, csrf, signed_in


def staff(app):
    with app.app_context():
        boss = org.create_user(SYSTEM, "boss", "管理员", "320000", PASSWORD)
        org.assign_role(SYSTEM, boss, "admin")
        org.create_user(SYSTEM, "inspector", "监察 小张", "320000", PASSWORD)
        org.assign_role(SYSTEM, db.session.execute(select(org.User).where(org.User.username == "inspector"))
                        .scalar_one(), "inspector")
        clerk = org.create_user(SYSTEM, "clerk", "窗口 小王", "320000", PASSWORD)
        org.assign_role(SYSTEM, clerk, "window_clerk")
        db.session.commit()


def rows(app):
    with app.app_context():
        out = [(m.message_id, m.status, m.failures) for m in
               db.session.execute(select(OutboxMessage).where(OutboxMessage.channel == "ywtb")
                                  .order_by(OutboxMessage.id)).scalars()]
        db.session.rollback()
        return out


def docked_with_staff(db_url, gateway):
    """A platform docked to the stand-in, its departments and staff, one 备案 case submitted (申请)."""
    api = docked(db_url, gateway)
    with api.app.app_context():
        org.seed_departments()
        db.session.commit()
    staff(api.app)
    return api, drive(api, "xmgl_beian", scenario("xmgl_beian", "予以备案（含一次补正"), upto=0)


def test_failures_are_shown_with_the_remote_error_sent_again_and_alerted_after_a_day(db_url, gateway):
    api, case = docked_with_staff(db_url, gateway)
    app = api.app
    gateway.fail_next(503, path="/exchange")
    with app.app_context():
        assert outbox.deliver_due(channel="ywtb")["retry"] == 1
    (message_id, status, failures), = rows(app)
    assert (status, failures) == ("pending", 1)

    admin = signed_in(app, "boss")
    page = admin.get("/admin/integrations").get_data(as_text=True)
    assert 'data-system="ywtb"' in page and gateway.url in page and "HTTP 503" in page
    assert 'data-system="tzxm"' in page and "未配置" in page  # the investment platform is not docked here
    detail = admin.get("/admin/integrations/ywtb?failing=1").get_data(as_text=True)
    assert f'data-message="{message_id}"' in detail and case["case_no"] in detail and "HTTP 503" in detail
    assert admin.get("/admin/integrations/ywtb?status=delivered").get_data(as_text=True).count("data-message=") == 0
    assert admin.get("/admin/integrations/nope").status_code == 404
    for before in ("99999999999999999999", "-3", "x"):  # no such id: the first page (a huge one once answered 500)
        page = admin.get(f"/admin/integrations/ywtb?before={before}")
        assert page.status_code == 200 and f'data-message="{message_id}"' in page.get_data(as_text=True)

    # not an alert yet; a day later it is, on the supervision page (with the way to the message for admins)
    assert "docking-alert" not in admin.get("/supervision").get_data(as_text=True)
    api.clock.advance(hours=25)
    alert = admin.get("/supervision").get_data(as_text=True)
    assert "docking-alert" in alert and "政务服务一张网" in alert and "/admin/integrations/ywtb" in alert
    inspector = signed_in(app, "inspector").get("/supervision").get_data(as_text=True)
    assert "docking-alert" in inspector and "/admin/integrations/ywtb" not in inspector

    # send now (the message was waiting for its retry): same message id, delivered once
    token = csrf(detail)
    r = admin.post(f"/admin/integrations/ywtb/messages/{message_id}/resend", data={"csrf_token": token})
    assert r.status_code == 302
    with app.app_context():
        assert outbox.deliver_due(channel="ywtb")["delivered"] == 1
    assert rows(app) == [(message_id, "delivered", 1)]
    assert gateway.stages(case["case_no"]) == ["SQ"]
    assert "docking-alert" not in admin.get("/supervision").get_data(as_text=True)
    # a delivered message cannot be sent again
    r = admin.post(f"/admin/integrations/ywtb/messages/{message_id}/resend", data={"csrf_token": token})
    assert r.status_code == 302 and "err=" in r.headers["Location"]
    assert rows(app) == [(message_id, "delivered", 1)]


def test_only_administrators_see_it_and_act(db_url, gateway):
    api, _case = docked_with_staff(db_url, gateway)
    app = api.app
    (message_id, _, _), = rows(app)
    clerk = signed_in(app, "clerk")
    assert clerk.get("/admin/integrations").status_code == 403
    assert clerk.get("/admin/integrations/ywtb").status_code == 403
    token = csrf(clerk.get("/account/security").get_data(as_text=True))  # the clerk's own valid token
    assert clerk.post(f"/admin/integrations/ywtb/messages/{message_id}/resend",
                      data={"csrf_token": token}).status_code == 403
    assert app.test_client().get("/admin/integrations").status_code == 302  # to sign-in
    assert rows(app)[0][1] == "pending"
    admin = signed_in(app, "boss")
    english = admin.get("/admin/integrations?lang=en").get_data(as_text=True)
    table = re.search(r'<table id="systems">.*?</table>', english, re.S).group(0)
    assert "Jiangsu Government Service Network" in table and "Waiting" in table and "未配置" not in table


def test_an_address_with_credentials_written_in_shows_none_of_them(db_url, gateway):
    host = gateway.url.split("://", 1)[1]
    api = docked(db_url, gateway, YWTB_BASE_URL=f"http://gw-user:gw-p4ss@{host}")
    staff(api.app)
    page = signed_in(api.app, "boss").get("/admin/integrations").get_data(as_text=True)
    assert "gw-p4ss" not in page and "gw-user" not in page and f"http://***@{host}" in page
