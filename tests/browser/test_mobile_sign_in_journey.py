"""Journey: a staff member signed in on a PC (password + TOTP, 1280 wide) signs his phone in (390 wide)
by the QR code: the phone opens the code's URL and shows a code, the PC (which never shows it) confirms
by typing it — a wrong one is refused first — the phone lands in the inbox signed in as 扫码登录（手机）/较高 — no horizontal scrolling on the phone."""
from __future__ import annotations

from app.domain import totp
from app.extensions import db
from app.models import User

PASSWORD = "correct horse battery"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"


def fits(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_pc_signs_the_phone_in_by_qr_code(live_server, browser_page):
    live_server.add_user("w1", groups=["window"], password=PASSWORD)
    with live_server.app.app_context():
        user = db.session.query(User).filter_by(username="w1").one()
        user.totp_secret, user.totp_enabled = SECRET, True
        db.session.commit()
        now = live_server.app.extensions["clock"]().timestamp()
    pc = browser_page((1280, 800))
    live_server.login(pc, "w1", PASSWORD, code=totp.code_at(SECRET, now))
    pc.goto("/account/devices")
    with pc.expect_navigation():
        pc.click("#qr-start")
    assert pc.locator("#mobile-qr svg").count() == 1
    url = pc.get_attribute("#mobile-qr", "data-url")

    phone = browser_page((390, 844), user_agent=IPHONE)
    phone.goto(url)
    assert fits(phone)
    with phone.expect_navigation():
        phone.click("#phone-open")
    code = phone.inner_text("[data-testid=phone-code]")
    assert len(code) == 6 and fits(phone)

    pc.wait_for_selector("#confirm-phone")  # the PC page polls, then asks
    assert code not in pc.inner_text("#mobile-qr") and "iPhone" in pc.inner_text("#mobile-qr")
    pc.fill("#confirm-code", f"{(int(code) + 1) % 10**6:06d}")
    with pc.expect_navigation():
        pc.click("#confirm-phone")
    assert "确认码不正确" in pc.inner_text("#mobile-qr")
    assert [e.split(":")[0] for e in pc.errors] == ["HTTP 422"]  # the refused code, nothing else
    pc.errors.clear()
    pc.fill("#confirm-code", code)
    with pc.expect_navigation():
        pc.click("#confirm-phone")
    assert "已在手机上登录" in pc.inner_text("#mobile-qr")

    phone.wait_for_url("**/inbox", timeout=10_000)  # the phone's page polls, then signs in
    phone.goto("/account/devices")
    assert "扫码登录（手机）/较高" in phone.inner_text("[data-testid=session-assurance]")
    assert fits(phone)
    assert pc.errors == [] and phone.errors == []
