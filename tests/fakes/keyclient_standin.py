"""The SOFTWARE KEY CLIENT: what a government CA's USB-key client offers the browser on 127.0.0.1, as
docs/identity.md defines it (JSON; CORS for the configured origins, preflight and Private Network Access):

    GET  /certs                      → {"certs": [{"id", "subject", "issuer", "serial", "not_after", "algorithm"}]}
    GET  /certs/<id>                 → {"id", "certificate": Base64 DER}
    POST /sign {"id", "data_b64", "pin", "format": "der"|"raw"}
                                     → {"signature": Base64, "format", "algorithm": "SM2-SM3"|"ECDSA-SHA256"|"RSA-SHA256"}
    errors: {"error": code, "message": zh_CN text} with 404 unknown_cert, 403 pin_refused, 422 bad_request,
            403 origin_mismatch (a sign-in message "yg-cert-login-v1|<origin>|<nonce>" naming another
            origin than the requesting page's Origin header: a careful vendor client's guard against relaying)

It holds test keys made at test time by tests/fakes/test_ca.py (never committed). Fault injection beside
StandIn's (``down``, ``fail_next``): ``wrong_data`` signs other bytes than asked (a signature over the wrong
nonce), ``pin`` is the PIN it accepts (anything else is refused). Run for development:
``scripts/keyclient`` (a dev CA under instance/), or ``python -m tests.fakes.keyclient_standin`` (a throwaway CA).
"""
from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import re
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509

from tests.fakes.standin import StandIn, main, route

ROOT = Path(__file__).resolve().parents[2]
ALGORITHMS = {"sm2": "SM2-SM3", "ecdsa": "ECDSA-SHA256", "rsa": "RSA-SHA256"}


class KeyClientStandIn(StandIn):
    def __init__(self, port: int = 0, *, pin: str = "123456", origins=("*",)):
        super().__init__(port)
        self.pin = pin
        self.origins = tuple(origins)
        self.wrong_data = False
        self.keys: dict[str, object] = {}   # id → tests.fakes.test_ca.Issued

    def add(self, issued, key_id: str | None = None) -> str:
        key_id = key_id or f"cert{len(self.keys) + 1}"
        self.keys[key_id] = issued
        return key_id

    # -- CORS ---------------------------------------------------------------------------------------
    def cors(self, req) -> dict:
        origin = req.headers.get("Origin", "")
        if not origin or ("*" not in self.origins and origin not in self.origins):
            return {}
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin",
                "Access-Control-Allow-Methods": "GET, POST", "Access-Control-Allow-Headers": "Content-Type",
                "Access-Control-Allow-Private-Network": "true", "Access-Control-Max-Age": "600"}

    def dispatch(self, req):
        if req.method == "OPTIONS":
            return 204, b"", "text/plain", self.cors(req)
        status, payload, *rest = super().dispatch(req)
        return status, payload, None, self.cors(req)

    def _handler(self):
        handler = super()._handler()
        handler.do_OPTIONS = handler.do_GET
        return handler

    # -- the interface ------------------------------------------------------------------------------
    @route("GET", r"/certs")
    def list_certs(self, req):
        out = []
        for key_id, issued in self.keys.items():
            cert = x509.load_der_x509_certificate(issued.der)
            out.append({"id": key_id, "subject": cert.subject.rfc4514_string(), "issuer": cert.issuer.rfc4514_string(),
                        "serial": format(cert.serial_number, "x"), "algorithm": ALGORITHMS[issued.algorithm],
                        "not_after": cert.not_valid_after_utc.isoformat()})
        return 200, {"certs": out}

    @route("GET", r"/certs/(?P<key_id>[\w.-]+)")
    def get_cert(self, req, key_id):
        issued = self.keys.get(key_id)
        if issued is None:
            return 404, {"error": "unknown_cert", "message": "证书不存在（USB Key 已拔出？）"}
        return 200, {"id": key_id, "certificate": issued.b64}

    @route("POST", r"/sign")
    def sign(self, req):
        try:
            body = req.json()
            issued = self.keys.get(body.get("id"))
            data = base64.b64decode(body.get("data_b64") or "", validate=True)
        except (ValueError, AttributeError, binascii.Error):
            return 422, {"error": "bad_request", "message": "请求格式错误"}
        if issued is None:
            return 404, {"error": "unknown_cert", "message": "证书不存在（USB Key 已拔出？）"}
        if body.get("pin") != self.pin:
            return 403, {"error": "pin_refused", "message": "PIN码错误"}
        parts = data.split(b"|", 2)
        origin = req.headers.get("Origin", "")
        if parts[0] == b"yg-cert-login-v1" and len(parts) == 3 and origin \
                and parts[1].decode("utf-8", "replace") != origin:
            return 403, {"error": "origin_mismatch", "message": "待签名内容中的网站地址与请求来源不符，已拒绝签名"}
        if self.wrong_data:
            data = data + b"-not-the-nonce"
        raw = body.get("format") == "raw"
        signature = issued.sign(data, raw=raw) if issued.algorithm == "sm2" else issued.sign(data)
        return 200, {"signature": base64.b64encode(signature).decode("ascii"), "format": "raw" if raw else "der",
                     "algorithm": ALGORITHMS[issued.algorithm]}


def dev(user: str, port: int, directory: Path, dotenv: Path = ROOT / ".env") -> None:
    """scripts/keyclient: a development SM2 CA and a certificate for ``user`` kept under ``directory``
    (instance/keyclient: gitignored; private keys 0600), the certificate bound to the user (through the
    app, on DATABASE_URL), the CA, its CRL and this key client written into .env, then the key client
    served on 127.0.0.1:``port`` until Ctrl-C. Run again: the same CA and certificate are used."""
    from app import create_app
    from app.extensions import db
    from app.models import User
    from app.services.identity.actors import SYSTEM
    from app.services.identity.certchain import parse_certificate
    from app.services.identity.certificates import bind_certificate, find_binding
    from sqlalchemy import select
    from tests.fakes.test_ca import SM2CA, issued_from_state, issued_state

    directory.mkdir(parents=True, exist_ok=True)
    state_file = directory / "state.json"
    state = json.loads(state_file.read_text("utf-8")) if state_file.exists() else {}
    ca = SM2CA.from_state(state["ca"]) if "ca" in state else SM2CA("开发测试SM2根CA")
    users = state.setdefault("users", {})
    issued = issued_from_state(users[user]) if user in users else ca.issue(f"{user}（开发证书）", employee_no=user)
    users[user] = issued_state(issued)
    state["ca"] = ca.state()
    state_file.write_text(json.dumps(state, ensure_ascii=False, indent=1), "utf-8")
    os.chmod(state_file, 0o600)
    (directory / "ca.pem").write_text(ca.pem)
    (directory / "ca.crl").write_text(ca.crl_pem(next_update=datetime.now(timezone.utc) + timedelta(days=30)))
    (directory / f"{user}.pem").write_text(issued.pem)
    url = f"http://127.0.0.1:{port}"
    env = {"CERT_CA_FILES": str(directory / "ca.pem"), "CERT_CRL_FILES": str(directory / "ca.crl"),
           "CERT_KEYCLIENT_URL": url}
    have = dotenv.read_text("utf-8") if dotenv.exists() else ""
    missing = {k: v for k, v in env.items() if not re.search(rf"^{k}=", have, re.M)}
    if missing:
        with dotenv.open("a", encoding="utf-8") as fh:
            fh.write(("" if not have or have.endswith("\n") else "\n") + "".join(f"{k}={v}\n" for k, v in missing.items()))
        print(f"wrote to .env: {', '.join(missing)} (restart scripts/run to read them)")
    os.environ.setdefault("APP_ENV", "development")
    app = create_app({"DEPLOY_ON_START": False})
    with app.app_context():
        row = db.session.execute(select(User).where(User.username == user)).scalar_one_or_none()
        if row is None:
            raise SystemExit(f"no user {user!r} (scripts/run seeds the demo users; or --user NAME)")
        info = parse_certificate(issued.der)
        if find_binding(info) is None:
            bind_certificate(SYSTEM, row.id, issued.der)
            print(f"bound the certificate {info.subject} to {user}")
        db.session.remove()
    client = KeyClientStandIn(port).start()
    client.add(issued, user)
    print(f"key client on {url}: certificate of {user}, PIN {client.pin}; sign in at /login → 数字证书登录", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        client.stop()


if __name__ == "__main__":
    if "--dev" in sys.argv:
        parser = argparse.ArgumentParser(description="scripts/keyclient: dev CA, certificate, binding, key client")
        parser.add_argument("--dev", action="store_true")
        parser.add_argument("--user", default="window1")
        parser.add_argument("--port", type=int, default=18520)
        parser.add_argument("--dir", default=str(ROOT / "instance" / "keyclient"))
        parser.add_argument("--env-file", default=str(ROOT / ".env"))
        args = parser.parse_args()
        dev(args.user, args.port, Path(args.dir), Path(args.env_file))
        sys.exit(0)

    def factory(port):
        from tests.fakes.test_ca import SM2CA
        ca = SM2CA()
        client = KeyClientStandIn(port)
        client.add(ca.issue("演示用户", employee_no="DEMO0001"))
        return client
    main(factory, "the software key client (a throwaway SM2 test CA; scripts/keyclient for the dev CA)")
