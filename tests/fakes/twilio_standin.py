"""A local stand-in of Twilio's Messages endpoint: a real threaded HTTP server on 127.0.0.1.

It answers ``POST /2010-04-01/Accounts/<AccountSid>/Messages.json`` the way Twilio does: HTTP Basic
auth (account SID + auth token, else 401 code 20003), form fields To, From or MessagingServiceSid,
Body (else 400 with Twilio's codes 21604 / 21603 / 21602), an invalid 'To' number → 400 code 21211,
success → 201 with a JSON message resource (sid "SM…", status "queued" …). ``GET …/Messages/<sid>.json``
returns a stored message. Scripted failures: ``fail_next(429, 500, 503, "close", 400)``; numbers
in ``invalid_numbers`` always get 21211. Latency: ``latency`` seconds before every answer to a POST
(a slow provider; requests are served concurrently, each waits its own time), or ``delay_next(…)``
for the next POSTs only. Everything received is kept in ``requests``."""
from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from datetime import datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

E164 = re.compile(r"\+[1-9]\d{6,14}")
PATH = re.compile(r"/2010-04-01/Accounts/(AC[0-9a-f]{32})/Messages(?:/(SM[0-9a-f]{32}))?\.json")


class TwilioStandIn:
    def __init__(self):
        self.account_sid = "AC" + secrets.token_hex(16)
        self.auth_token = secrets.token_hex(16)
        self.from_number = "+15005550006"
        self.requests: list[dict] = []     # every request: method, path, auth_ok, form, answer
        self.messages: dict[str, dict] = {}  # created messages by SID
        self.invalid_numbers: set[str] = set()
        self.latency = 0.0                   # seconds before every POST is answered
        self._delays: list[float] = []
        self._script: list = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- control --------------------------------------------------------------------------------
    def start(self) -> "TwilioStandIn":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, *answers) -> None:
        """The next POSTs answer these, in order: an HTTP status (429, 500, 503, 400 → 21211 …) or
        "close" (drop the connection without an answer)."""
        with self._lock:
            self._script.extend(answers)

    def delay_next(self, *seconds: float) -> None:
        """The next POSTs are answered after these many seconds each (instead of ``latency``)."""
        with self._lock:
            self._delays.extend(seconds)

    def config(self, **overrides) -> dict:
        """App settings that point the twilio client here: ``make_app(db_url, **standin.config())``."""
        cfg = {"TWILIO_ACCOUNT_SID": self.account_sid, "TWILIO_AUTH_TOKEN": self.auth_token,
               "TWILIO_FROM_NUMBER": self.from_number, "TWILIO_BASE_URL": self.url}
        cfg.update(overrides)
        return cfg

    @property
    def sent(self) -> list[dict]:
        """The messages accepted (201), oldest first: dicts with to, from, body, sid …"""
        return [r["message"] for r in self.requests if r.get("status") == 201]

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.messages.clear()
            self._script.clear()
            self._delays.clear()
            self.invalid_numbers.clear()
            self.latency = 0.0

    # -- HTTP -----------------------------------------------------------------------------------
    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _answer(self, status: int, body: dict, record: dict) -> None:
                raw = json.dumps(body).encode()
                record["status"] = status
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _error(self, status: int, code: int, message: str, record: dict) -> None:
                self._answer(status, {"code": code, "message": message,
                                      "more_info": f"https://www.twilio.com/docs/errors/{code}",
                                      "status": status}, record)

            def _auth_ok(self, sid: str) -> bool:
                header = self.headers.get("Authorization", "")
                if not header.startswith("Basic "):
                    return False
                try:
                    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                except Exception:
                    return False
                return user == standin.account_sid == sid and secrets.compare_digest(password, standin.auth_token)

            def do_GET(self):
                record = {"method": "GET", "path": self.path}
                standin.requests.append(record)
                m = PATH.fullmatch(self.path.split("?")[0])
                if not m or not m.group(2):
                    return self._error(404, 20404, "The requested resource was not found", record)
                if not self._auth_ok(m.group(1)):
                    return self._error(401, 20003, "Authenticate", record)
                msg = standin.messages.get(m.group(2))
                if msg is None:
                    return self._error(404, 20404, "The requested resource was not found", record)
                self._answer(200, msg, record)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8")
                form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
                record = {"method": "POST", "path": self.path, "form": form,
                          "user_agent": self.headers.get("User-Agent", "")}
                with standin._lock:
                    standin.requests.append(record)
                    scripted = standin._script.pop(0) if standin._script else None
                    delay = standin._delays.pop(0) if standin._delays else standin.latency
                if delay > 0:  # a slow provider: the answer (and the message) comes after this
                    time.sleep(delay)
                m = PATH.fullmatch(self.path.split("?")[0])
                if not m or m.group(2):
                    return self._error(404, 20404, "The requested resource was not found", record)
                record["auth_ok"] = self._auth_ok(m.group(1))
                if scripted == "close":
                    record["status"] = "closed"
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if scripted == 429:
                    return self._error(429, 20429, "Too Many Requests", record)
                if isinstance(scripted, int) and scripted >= 500:
                    return self._error(scripted, 20500, "Internal Server Error", record)
                if not record["auth_ok"]:
                    return self._error(401, 20003, "Authenticate", record)
                to = form.get("To", "")
                if not to:
                    return self._error(400, 21604, "A 'To' phone number is required.", record)
                if not (form.get("From") or form.get("MessagingServiceSid")):
                    return self._error(400, 21603, "A 'From' phone number is required.", record)
                if not form.get("Body") and not form.get("MediaUrl"):
                    return self._error(400, 21602, "Message body is required.", record)
                if scripted == 400 or to in standin.invalid_numbers or not E164.fullmatch(to):
                    return self._error(400, 21211, f"The 'To' number {to} is not a valid phone number.", record)
                sid = "SM" + secrets.token_hex(16)
                now = format_datetime(datetime.now(timezone.utc), usegmt=True)
                body = form.get("Body", "")
                msg = {"account_sid": standin.account_sid, "api_version": "2010-04-01", "body": body,
                       "date_created": now, "date_sent": None, "date_updated": now, "direction": "outbound-api",
                       "error_code": None, "error_message": None, "from": form.get("From"),
                       "messaging_service_sid": form.get("MessagingServiceSid"), "num_media": "0",
                       "num_segments": str(max(1, -(-len(body) // 67))), "price": None, "price_unit": "USD",
                       "sid": sid, "status": "accepted" if form.get("MessagingServiceSid") else "queued",
                       "subresource_uris": {"media": f"/2010-04-01/Accounts/{standin.account_sid}/Messages/{sid}/Media.json"},
                       "to": to, "uri": f"/2010-04-01/Accounts/{standin.account_sid}/Messages/{sid}.json",
                       "status_callback": form.get("StatusCallback")}
                standin.messages[sid] = msg
                record["message"] = msg
                self._answer(201, {k: v for k, v in msg.items() if k != "status_callback"}, record)

        return Handler
