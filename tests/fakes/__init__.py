"""Stand-ins of outside services for tests, reusable by every test module.

Twilio: ``from tests.fakes import twilio_standin  # noqa: F401`` makes the pytest fixture available in
a test module; then ``app = make_app(db_url, **twilio_standin.config())`` points the app's twilio client
at it, ``deliver_pending()`` (or ``flask sms send``) sends, and ``twilio_standin.sent`` lists what it
received (to, from, body, sid). See tests/fakes/twilio_standin.py for scripted failures."""
import pytest

from .twilio_standin import TwilioStandIn

__all__ = ["TwilioStandIn", "twilio_standin"]


@pytest.fixture
def twilio_standin():
    standin = TwilioStandIn().start()
    try:
        yield standin
    finally:
        standin.stop()
