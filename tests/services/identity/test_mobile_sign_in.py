"""Signing a phone in from a trusted session (app/services/identity/mobile.py, devices.py): the QR
token is good once and for 2 minutes, only the user's own session that showed it decides, approving
needs the code the phone shows (3 wrong codes deny the request), a refusal sticks, the phone's level is capped at SUBSTANTIAL, one-time requests are limited per address and per
user name and look the same for an unknown name, and an ended device stops working."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from app.domain.errors import Conflict, NotFound, RateLimited, ValidationError
from app.extensions import db
from app.services.common.clock import FakeClock
from app.models.mobile_login import MobileSignInRequest
from app.services.identity import devices, mobile, org
from app.services.identity.actors import SYSTEM, actor_from_user
from app.services.identity.assurance import (HIGH, LOW, SUBSTANTIAL, describe, level_for_acr, phone_level,
                                             require_for)
from app.services.identity.auth import end_sessions, session_version
from app.domain.errors import NotAuthorized
from tests.conftest import make_app

PASSWORD = "correct horse battery"
PHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"


@pytest.fixture
def clock():
    return FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))


@pytest.fixture
def app(db_url, clock):
    app = make_app(db_url, CLOCK=clock)
    with app.app_context():
        org.seed_reference_data()
        org.create_user(SYSTEM, "wang", "王科员", "320000", PASSWORD)
        org.create_user(SYSTEM, "li", "李科员", "320000", PASSWORD)
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def staff(name: str, method: str = "password+totp", level: int = SUBSTANTIAL):
    """The actor of a signed-in PC session of ``name`` and its trusted device id."""
    actor = replace(actor_from_user(org.get_user(name)), auth_method=method, assurance=level)
    return actor, devices.register(actor.id, method, level, "Mozilla/5.0 (Windows NT 10.0)", "10.0.0.1")


def qr_opened(actor, device):
    started = mobile.start_qr(actor, device)
    return started, mobile.open_qr(started.secret, PHONE_UA, "10.0.0.9")


def test_qr_token_is_long_hashed_and_good_once(app):
    with app.app_context():
        pc, device = staff("wang")
        started = mobile.start_qr(pc, device)
        assert len(started.secret) >= 43  # 32 random bytes, base64url
        row = db.session.get(MobileSignInRequest, started.request_id)
        assert row.token_hash != started.secret and len(row.token_hash) == 64
        opened = mobile.open_qr(started.secret, PHONE_UA, "10.0.0.9")
        assert len(opened.code) == 6 and mobile.phone_state(opened.request_id, opened.secret) == "opened"
        with pytest.raises(NotFound, match="已失效"):
            mobile.open_qr(started.secret, "another phone", "10.0.0.10")
        with pytest.raises(NotFound):
            mobile.open_qr("x" * 43)


def test_qr_expires_after_two_minutes_and_so_does_the_decision(app, clock):
    with app.app_context():
        pc, device = staff("wang")
        started = mobile.start_qr(pc, device)
        clock.advance(seconds=121)
        with pytest.raises(NotFound):
            mobile.open_qr(started.secret, PHONE_UA)
        started, opened = qr_opened(pc, device)
        clock.advance(seconds=121)
        assert mobile.phone_state(opened.request_id, opened.secret) == "expired"
        with pytest.raises(Conflict, match="已处理或已过期"):
            mobile.decide(pc, device, started.request_id, True)


def test_only_the_same_user_and_the_session_that_showed_the_code_decides(app):
    with app.app_context():
        pc, device = staff("wang")
        other, other_device = staff("li")
        started, opened = qr_opened(pc, device)
        with pytest.raises(NotFound):
            mobile.decide(other, other_device, started.request_id, True, opened.code)
        _, second_pc = staff("wang")
        with pytest.raises(NotFound):  # the user's other session did not show this QR code
            mobile.decide(pc, second_pc, started.request_id, True, opened.code)
        end_sessions(pc.id)  # signed out meanwhile: the PC session is no longer valid
        with pytest.raises(Conflict, match="登录已失效"):
            mobile.decide(pc, device, started.request_id, True, opened.code)
        assert mobile.phone_state(opened.request_id, opened.secret) == "opened"


@pytest.mark.parametrize("kind", ["qr", "link"])
def test_approving_needs_the_code_the_phone_shows_and_three_wrong_codes_deny(app, kind):
    with app.app_context():
        pc, device = staff("wang")
        if kind == "qr":
            started, opened = qr_opened(pc, device)
            assert "code" not in mobile.request_for(pc, started.request_id)  # the PC never shows it
        else:
            opened = mobile.start_link("wang", PHONE_UA, "10.0.0.9")
        rid = opened.request_id
        wrong = f"{(int(opened.code) + 1) % 10**6:06d}"
        with pytest.raises(ValidationError, match="请输入手机上显示的 6 位确认码"):
            mobile.decide(pc, device, rid, True)
        for attempt in range(mobile.CODE_ATTEMPTS - 1):
            with pytest.raises(ValidationError, match="确认码不正确"):
                mobile.decide(pc, device, rid, True, wrong if attempt else "12")
            assert mobile.phone_state(rid, opened.secret) == "opened"
        with pytest.raises(ValidationError, match="错误次数过多"):
            mobile.decide(pc, device, rid, True, wrong)
        assert mobile.phone_state(rid, opened.secret) == "denied"
        with pytest.raises(Conflict, match="已处理或已过期"):  # the right code comes too late
            mobile.decide(pc, device, rid, True, opened.code)
        with pytest.raises(Conflict):
            mobile.collect(rid, opened.secret)


def test_the_right_code_after_a_wrong_one_approves_and_refusing_needs_none(app):
    with app.app_context():
        pc, device = staff("wang")
        started, opened = qr_opened(pc, device)
        with pytest.raises(ValidationError):
            mobile.decide(pc, device, started.request_id, True, "000000" if opened.code != "000000" else "111111")
        assert mobile.decide(pc, device, started.request_id, True, f" {opened.code} ")["status"] == "approved"
        assert mobile.collect(opened.request_id, opened.secret, PHONE_UA).method == "mobile-qr"
        req = mobile.start_link("wang", PHONE_UA, "10.0.0.9")
        assert mobile.decide(pc, device, req.request_id, False)["status"] == "denied"


def test_a_refusal_sticks_and_nothing_can_be_collected(app):
    with app.app_context():
        pc, device = staff("wang")
        started, opened = qr_opened(pc, device)
        assert mobile.decide(pc, device, started.request_id, False)["status"] == "denied"
        assert mobile.phone_state(opened.request_id, opened.secret) == "denied"
        with pytest.raises(Conflict):
            mobile.collect(opened.request_id, opened.secret)
        with pytest.raises(Conflict):
            mobile.decide(pc, device, started.request_id, True)


@pytest.mark.parametrize("pc_level, phone", [(LOW, LOW), (SUBSTANTIAL, SUBSTANTIAL), (HIGH, SUBSTANTIAL)])
def test_the_phone_level_is_the_confirming_sessions_capped_at_substantial(app, pc_level, phone):
    with app.app_context():
        pc, device = staff("wang", "certificate" if pc_level == HIGH else "password", pc_level)
        started, opened = qr_opened(pc, device)
        mobile.decide(pc, device, started.request_id, True, opened.code)
        done = mobile.collect(opened.request_id, opened.secret, PHONE_UA, "10.0.0.9")
        assert (done.method, done.level) == ("mobile-qr", phone)
        with pytest.raises(Conflict):  # collected once
            mobile.collect(opened.request_id, opened.secret)
        assert phone_level(HIGH) == SUBSTANTIAL


def test_only_the_phone_that_opened_it_collects(app):
    with app.app_context():
        pc, device = staff("wang")
        started, opened = qr_opened(pc, device)
        mobile.decide(pc, device, started.request_id, True, opened.code)
        assert mobile.phone_state(opened.request_id, "someone else's secret") == "unknown"
        with pytest.raises(Conflict):
            mobile.collect(opened.request_id, "someone else's secret")


def test_one_time_request_is_decided_by_any_live_session_of_the_user(app):
    with app.app_context():
        pc, device = staff("wang")
        req = mobile.start_link("wang", PHONE_UA, "10.0.0.9")
        pending = mobile.pending_for(pc)
        assert [p["id"] for p in pending] == [req.request_id] and "code" not in pending[0]  # typed, not shown
        other, _ = staff("li")
        assert mobile.pending_for(other) == []
        mobile.decide(pc, device, req.request_id, True, req.code)
        done = mobile.collect(req.request_id, req.secret, PHONE_UA, "10.0.0.9")
        assert (done.user_id, done.method, done.level) == (pc.id, "mobile-link", SUBSTANTIAL)
        assert mobile.pending_for(pc) == []


def test_an_unknown_user_name_gets_a_request_nobody_can_approve(app):
    with app.app_context():
        known = mobile.start_link("wang", PHONE_UA, "10.0.0.9")
        unknown = mobile.start_link("nobody", PHONE_UA, "10.0.0.9")
        assert {type(known), len(known.code)} == {type(unknown), len(unknown.code)}
        assert mobile.phone_state(unknown.request_id, unknown.secret) == "opened"
        pc, device = staff("wang")
        with pytest.raises(NotFound):
            mobile.decide(pc, device, unknown.request_id, True, unknown.code)


def test_one_time_requests_are_limited_per_user_name_and_per_address(app):
    with app.app_context():
        for i in range(mobile.LINK_USER_LIMIT[0]):
            mobile.start_link("wang", PHONE_UA, f"10.0.1.{i}")
        with pytest.raises(RateLimited):
            mobile.start_link("wang", PHONE_UA, "10.0.2.1")
        with pytest.raises(RateLimited):  # an unknown name is limited alike: nothing tells them apart
            for i in range(mobile.LINK_USER_LIMIT[0] + 1):
                mobile.start_link("nobody", PHONE_UA, f"10.0.3.{i}")
        for i in range(mobile.LINK_IP_LIMIT[0]):
            mobile.start_link(f"user{i}", PHONE_UA, "10.0.9.9")
        with pytest.raises(RateLimited):
            mobile.start_link("li", PHONE_UA, "10.0.9.9")


def test_an_ended_device_stops_working_and_the_others_go_on(app):
    with app.app_context():
        pc, device = staff("wang")
        started, opened = qr_opened(pc, device)
        mobile.decide(pc, device, started.request_id, True, opened.code)
        phone = mobile.collect(opened.request_id, opened.secret, PHONE_UA)
        version = session_version(pc.id)
        assert devices.session_actor(pc.id, version, phone.device_id)[0].id == pc.id
        listed = devices.list_for(pc, device)
        assert {d["method"] for d in listed} == {"password+totp", "mobile-qr"}
        assert [d["kind"] for d in listed if d["method"] == "mobile-qr"] == ["phone"]
        devices.end(pc, phone.device_id)
        assert devices.session_actor(pc.id, version, phone.device_id) == (None, "ended")
        assert devices.session_actor(pc.id, version, device)[0].id == pc.id
        other, other_device = staff("li")
        with pytest.raises(NotFound):  # not someone else's
            devices.end(other, device)
        assert devices.session_actor(pc.id, version, other_device) == (actor_from_user(org.get_user("wang")), "foreign")


def test_a_phone_cannot_collect_once_the_confirming_session_ended(app):
    with app.app_context():
        pc, device = staff("wang")
        started, opened = qr_opened(pc, device)
        mobile.decide(pc, device, started.request_id, True, opened.code)
        devices.end(pc, device)
        with pytest.raises(Conflict, match="确认登录的设备已退出登录"):
            mobile.collect(opened.request_id, opened.secret)


def test_levels_for_the_identity_platforms_claim_and_sensitive_operations(app):
    assert level_for_acr("L3") == HIGH and level_for_acr("L2") == SUBSTANTIAL and level_for_acr("L1") == LOW
    assert level_for_acr("unknown") == LOW and level_for_acr(None) == LOW
    assert level_for_acr("face", {"face": 3}) == HIGH and level_for_acr("x", {"x": "bad"}) == LOW
    assert describe("mobile-qr", SUBSTANTIAL) == "扫码登录（手机）/较高"
    with app.app_context():
        pc, _ = staff("wang", "mobile-qr", SUBSTANTIAL)
        with pytest.raises(NotAuthorized, match="加盖电子印章需要高等级"):
            require_for(pc, "seal")
        require_for(replace(pc, assurance=HIGH), "seal")


def test_the_session_that_changed_the_password_keeps_its_device(app):
    with app.app_context():
        pc, device = staff("wang")
        old = session_version(pc.id)
        org.get_user("wang").session_version = old + 1  # as set_password does; the web layer keeps the session
        db.session.commit()
        assert not devices.is_active(device, pc.id)
        assert devices.session_actor(pc.id, old, device) == (None, "ok")  # a copy with the old version
        assert devices.session_actor(pc.id, old + 1, device)[0].id == pc.id
        assert devices.is_active(device, pc.id)
