"""A stand-in of the province's unified identity platform (统一身份认证): a real identity provider
over HTTP, for the tests and the demo (``python -m tests.fakes.idp_standin --port 8903``).

OpenID Connect (issuer = the stand-in's own URL; RS256 keys made at start):
- ``GET /.well-known/openid-configuration``, ``GET /jwks``;
- ``GET /authorize`` (code flow; client, redirect URI, state, nonce and PKCE S256 required): a small
  page to pick a test identity (buttons ``#pick-<sub>``) or enter one; ``POST /authorize`` sends the
  browser back with ``code`` and ``state`` (or ``error=access_denied``);
- ``POST /token`` (client_secret_basic; code good once, 60 s; redirect URI and PKCE verifier
  checked) → access token and an ID token (iss, sub, aud, exp, iat, nonce, acr, at_hash);
- ``GET /userinfo`` (Bearer) → sub, name, user_type, credit_code / id_number, phone_number,
  phone_number_verified, legal_representative;
- ``GET /end_session`` (RP-initiated logout) → back to ``post_logout_redirect_uri``.

CAS-style ticket flow (every server call must carry the gateway signature: ``X-Access-Key`` = the
service code, HMAC-SHA256 with the CAS secret, ±300 s):
- ``GET /login?service=…&returnUrl=<base64>``: the same picking page; ``POST /login`` sends the
  browser to returnUrl with ``ticket`` (good once, 60 s);
- ``POST /api/ticket/validate`` ``{"ticket", "service"}`` → ``{"token", "expiresIn"}``, else 400
  ``{"error": "invalid_ticket"}``; ``GET /api/user/info`` (Bearer token) → userId, userType, name,
  creditCode / idNumber, mobile, mobileVerified, level, legalPerson;
- ``GET /logout?service=…&returnUrl=<base64>`` → back to returnUrl.

Faults (tests/fakes/standin.StandIn): ``fail_next(500, "close", "hang", "malformed", path=…)``,
``down``, ``latency``; ``fail_next("badsig", path="/token")`` → an ID token signed with a key that
is not in the JWKS (same ``kid``); ``id_token_overrides`` → claims replaced in the next ID token
(e.g. ``{"nonce": "x"}``, ``{"aud": "other"}``, ``{"exp": 1}``); ``userinfo_overrides`` likewise.
Seed identities: the demo enterprise of app/cli.py (same credit code and mobile), a natural person,
an enterprise with no account yet (``SEED``). Stand-ins never import the app."""
from __future__ import annotations

import base64
import hashlib
import html
import secrets
import time
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

from .standin import Request, StandIn, gateway_signature_ok, main, route

CLIENT_ID = "yangguang-fagai"
CLIENT_SECRET = "standin-oidc-secret"
SERVICE_CODE = "YGFG-DEMO"
CAS_SECRET = "standin-cas-secret"
CALLBACK_PATH = "/portal/sso/oidc/callback"
CODE_SECONDS = 60
TOKEN_SECONDS = 600

#: the test identities offered on the login page
SEED = [
    {"sub": "idp-ent-0001", "user_type": "法人", "name": "江苏示范能源科技有限公司", "credit_code": "91320000MA1XY0000C",
     "phone_number": "13800138000", "legal_representative": "张明", "level": "L3",
     "note": "演示企业（平台已有账户，手机号一致）"},
    {"sub": "idp-per-0001", "user_type": "自然人", "name": "王小明", "id_number": "320106199003071234",
     "phone_number": "13900139000", "level": "L2", "note": "自然人"},
    {"sub": "idp-ent-0002", "user_type": "法人", "name": "南京新材料科技有限公司", "credit_code": "91320100MA1NXCL000",
     "phone_number": "13700137000", "legal_representative": "周强", "level": "L3", "note": "尚未在平台注册的企业"},
]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64decode(text: str) -> str:
    padded = text + "=" * (-len(text) % 4)
    return base64.b64decode(padded.replace("-", "+").replace("_", "/")).decode("utf-8")


def _add_query(url: str, params: dict) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def _redirect(url: str):
    return 302, "", "text/plain", {"Location": url}


def _error(status: int, code: str, message: str):
    return status, {"error": code, "error_description": message, "message": message}


class IdpStandIn(StandIn):
    def __init__(self, port: int = 0, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET,
                 service_code: str = SERVICE_CODE, cas_secret: str = CAS_SECRET):
        super().__init__(port)
        self.issuer = self.url
        self.client_id, self.client_secret = client_id, client_secret
        self.service_code, self.cas_secret = service_code, cas_secret
        params = {"kid": "idp-key-1", "use": "sig", "alg": "RS256"}
        self.key = RSAKey.generate_key(2048, parameters=params, private=True)
        self.rogue_key = RSAKey.generate_key(2048, parameters=params, private=True)  # "badsig": not in the JWKS
        self.identities = {s["sub"]: dict(s) for s in SEED}
        self.codes: dict[str, dict] = {}
        self.access_tokens: dict[str, dict] = {}
        self.tickets: dict[str, dict] = {}
        self.cas_tokens: dict[str, dict] = {}
        self.logouts: list[dict] = []
        self.id_token_overrides: dict = {}
        self.userinfo_overrides: dict = {}
        self.ticket_seconds = CODE_SECONDS

    def config(self, **overrides) -> dict:
        """App settings that point both protocols here."""
        cfg = {"OIDC_ISSUER": self.issuer, "OIDC_CLIENT_ID": self.client_id, "OIDC_CLIENT_SECRET": self.client_secret,
               "CAS_BASE_URL": self.url, "CAS_SERVICE_CODE": self.service_code, "CAS_SECRET": self.cas_secret}
        cfg.update(overrides)
        return cfg

    # -- the picking page (both protocols) --------------------------------------------------------
    def _page(self, action: str, hidden: dict, title: str) -> tuple:
        fields = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(str(v))}">'
                         for k, v in hidden.items())
        picks = "".join(
            f'<form method="post" action="{action}">{fields}<input type="hidden" name="pick" value="{html.escape(s)}">'
            f'<button id="pick-{html.escape(s)}" type="submit">以「{html.escape(i["name"])}」登录</button> '
            f'<small>{html.escape(i["user_type"])} · {html.escape(i.get("note", ""))}</small></form>'
            for s, i in self.identities.items())
        custom = (f'<form method="post" action="{action}" id="custom">{fields}<input type="hidden" name="pick" value="custom">'
                  '<label>用户标识 <input name="sub"></label> <label>类型 <select name="user_type"><option>法人</option>'
                  '<option>自然人</option></select></label> <label>名称 <input name="name"></label> '
                  '<label>统一社会信用代码/身份证号码 <input name="code"></label> <label>手机号码 <input name="phone_number">'
                  '</label> <button type="submit" id="pick-custom">以此身份登录</button></form>')
        deny = f'<form method="post" action="{action}">{fields}<input type="hidden" name="pick" value="deny">' \
               '<button id="deny" type="submit">取消登录</button></form>'
        body = (f'<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>{title}</title>'
                f'<h1>{title}（测试替身）</h1><p>选择测试身份：</p>{picks}<hr>{custom}<hr>{deny}</html>')
        return 200, body, "text/html; charset=utf-8"

    def _picked(self, form: dict) -> dict | None:
        pick = form.get("pick", "")
        if pick == "custom":
            code = form.get("code", "").strip().upper()
            legal = form.get("user_type") == "法人"
            ident = {"sub": form.get("sub") or "idp-custom-" + secrets.token_hex(4), "user_type": form.get("user_type", ""),
                     "name": form.get("name", ""), "phone_number": form.get("phone_number", ""),
                     "level": form.get("level") or "L2"}  # the acr the ID token asserts
            ident["credit_code" if legal else "id_number"] = code
            self.identities[ident["sub"]] = ident
            return ident
        return self.identities.get(pick)

    # -- OpenID Connect -----------------------------------------------------------------------------
    @route("GET", r"/\.well-known/openid-configuration")
    def discovery(self, req: Request):
        u = self.issuer
        return 200, {"issuer": u, "authorization_endpoint": u + "/authorize", "token_endpoint": u + "/token",
                     "userinfo_endpoint": u + "/userinfo", "jwks_uri": u + "/jwks",
                     "end_session_endpoint": u + "/end_session", "response_types_supported": ["code"],
                     "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"],
                     "scopes_supported": ["openid", "profile", "phone"],
                     "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                     "code_challenge_methods_supported": ["S256"],
                     "claims_supported": ["sub", "name", "user_type", "credit_code", "id_number", "phone_number",
                                          "phone_number_verified", "legal_representative", "acr"]}

    @route("GET", r"/jwks")
    def jwks(self, req: Request):
        return 200, {"keys": [self.key.as_dict(private=False)]}

    def _authorize_problem(self, a: dict) -> str | None:
        if a.get("client_id") != self.client_id:
            return "unknown client_id"
        if not urlsplit(a.get("redirect_uri", "")).path.endswith(CALLBACK_PATH):
            return "redirect_uri not registered"
        if a.get("response_type") != "code" or "openid" not in a.get("scope", "").split():
            return "response_type must be code, scope must include openid"
        if not a.get("state") or not a.get("nonce"):
            return "state and nonce are required"
        if a.get("code_challenge_method") != "S256" or not a.get("code_challenge"):
            return "PKCE with S256 is required"
        return None

    @route("GET", r"/authorize")
    def authorize_page(self, req: Request):
        a = req.args
        problem = self._authorize_problem(a)
        if problem:
            return 400, f"invalid_request: {problem}", "text/plain; charset=utf-8"
        keep = {k: a[k] for k in ("client_id", "redirect_uri", "response_type", "scope", "state", "nonce",
                                  "code_challenge", "code_challenge_method") if k in a}
        return self._page("/authorize", keep, "统一身份认证 · 登录")

    @route("POST", r"/authorize")
    def authorize(self, req: Request):
        f = req.form
        problem = self._authorize_problem(f)
        if problem:
            return 400, f"invalid_request: {problem}", "text/plain; charset=utf-8"
        if f.get("pick") == "deny":
            return _redirect(_add_query(f["redirect_uri"], {"error": "access_denied",
                                                            "error_description": "用户取消了登录", "state": f["state"]}))
        ident = self._picked(f)
        if ident is None:
            return 400, "unknown identity", "text/plain; charset=utf-8"
        code = secrets.token_urlsafe(24)
        with self.lock:
            self.codes[code] = {"ident": ident, "redirect_uri": f["redirect_uri"], "nonce": f["nonce"],
                                "challenge": f["code_challenge"], "expires": time.time() + CODE_SECONDS}
        return _redirect(_add_query(f["redirect_uri"], {"code": code, "state": f["state"]}))

    def _client_ok(self, req: Request) -> bool:
        header = req.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return unquote(user) == self.client_id and secrets.compare_digest(unquote(password), self.client_secret)

    @route("POST", r"/token")
    def token(self, req: Request):
        if not self._client_ok(req):
            return _error(401, "invalid_client", "client authentication failed")
        f = req.form
        if f.get("grant_type") != "authorization_code":
            return _error(400, "unsupported_grant_type", "authorization_code only")
        with self.lock:
            grant = self.codes.pop(f.get("code", ""), None)  # good once
        if grant is None or grant["expires"] < time.time():
            return _error(400, "invalid_grant", "code unknown, used or expired")
        if f.get("redirect_uri") != grant["redirect_uri"]:
            return _error(400, "invalid_grant", "redirect_uri differs")
        verifier = f.get("code_verifier", "")
        if not verifier or _b64url(hashlib.sha256(verifier.encode()).digest()) != grant["challenge"]:
            return _error(400, "invalid_grant", "PKCE verifier does not match")
        access = secrets.token_urlsafe(32)
        ident, now = grant["ident"], int(time.time())
        with self.lock:
            self.access_tokens[access] = {"ident": ident, "expires": now + TOKEN_SECONDS}
            overrides, self.id_token_overrides = self.id_token_overrides, {}
        claims = {"iss": self.issuer, "sub": ident["sub"], "aud": self.client_id, "exp": now + 300, "iat": now,
                  "auth_time": now, "nonce": grant["nonce"], "acr": ident.get("level", ""), "name": ident["name"],
                  "at_hash": _b64url(hashlib.sha256(access.encode()).digest()[:16])}
        claims.update(overrides)
        key = self.rogue_key if req.fault == "badsig" else self.key
        id_token = jwt.encode({"alg": "RS256", "kid": "idp-key-1"}, claims, key)
        return 200, {"access_token": access, "token_type": "Bearer", "expires_in": TOKEN_SECONDS,
                     "id_token": id_token, "scope": "openid profile phone"}, None, {"Cache-Control": "no-store"}

    def _bearer(self, req: Request, store: dict) -> dict | None:
        header = req.headers.get("Authorization", "")
        entry = store.get(header[7:]) if header.startswith("Bearer ") else None
        return entry["ident"] if entry and entry["expires"] > time.time() else None

    @route("GET", r"/userinfo")
    def userinfo(self, req: Request):
        ident = self._bearer(req, self.access_tokens)
        if ident is None:
            return 401, {"error": "invalid_token"}, None, {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        legal = ident["user_type"] == "法人"
        out = {"sub": ident["sub"], "name": ident["name"], "user_type": "legal" if legal else "natural",
               "phone_number": ident["phone_number"], "phone_number_verified": True}
        if legal:
            out.update(credit_code=ident.get("credit_code", ""), legal_representative=ident.get("legal_representative", ""))
        else:
            out["id_number"] = ident.get("id_number", "")
        with self.lock:
            overrides, self.userinfo_overrides = self.userinfo_overrides, {}
        out.update(overrides)
        return 200, {k: v for k, v in out.items() if v is not None}

    @route("GET", r"/end_session")
    def end_session(self, req: Request):
        a = req.args
        self.logouts.append({"protocol": "oidc", "id_token_hint": a.get("id_token_hint"), "client_id": a.get("client_id"),
                             "at": time.time()})
        target = a.get("post_logout_redirect_uri")
        if target:
            return _redirect(target)
        return 200, "<!doctype html><meta charset=utf-8><p>已退出统一身份认证</p>", "text/html; charset=utf-8"

    # -- CAS-style ticket flow ----------------------------------------------------------------------
    @route("GET", r"/login")
    def cas_login_page(self, req: Request):
        a = req.args
        if a.get("service") != self.service_code:
            return 400, "unknown service", "text/plain; charset=utf-8"
        try:
            _b64decode(a.get("returnUrl", ""))
        except ValueError:
            return 400, "returnUrl must be base64", "text/plain; charset=utf-8"
        return self._page("/login", {"service": a["service"], "returnUrl": a["returnUrl"]}, "统一身份认证 · 票据登录")

    @route("POST", r"/login")
    def cas_login(self, req: Request):
        f = req.form
        if f.get("service") != self.service_code:
            return 400, "unknown service", "text/plain; charset=utf-8"
        try:
            back = _b64decode(f.get("returnUrl", ""))
        except ValueError:
            return 400, "returnUrl must be base64", "text/plain; charset=utf-8"
        if f.get("pick") == "deny":
            return _redirect(back)
        ident = self._picked(f)
        if ident is None:
            return 400, "unknown identity", "text/plain; charset=utf-8"
        ticket = "ST-" + secrets.token_urlsafe(24)
        with self.lock:
            self.tickets[ticket] = {"ident": ident, "service": f["service"], "expires": time.time() + self.ticket_seconds}
        return _redirect(_add_query(back, {"ticket": ticket}))

    def _signature_problem(self, req: Request):
        problem = gateway_signature_ok(req, {self.service_code: self.cas_secret})
        return _error(401, problem, "signature check failed: " + problem) if problem else None

    @route("POST", r"/api/ticket/validate")
    def cas_validate(self, req: Request):
        refused = self._signature_problem(req)
        if refused:
            return refused
        try:
            body = req.json()
        except ValueError:
            return _error(400, "bad_request", "JSON body expected")
        if not isinstance(body, dict) or body.get("service") != self.service_code:
            return _error(400, "bad_request", "service differs")
        with self.lock:
            grant = self.tickets.pop(str(body.get("ticket", "")), None)  # good once
        if grant is None or grant["expires"] < time.time():
            return _error(400, "invalid_ticket", "ticket unknown, used or expired")
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.cas_tokens[token] = {"ident": grant["ident"], "expires": time.time() + TOKEN_SECONDS}
        return 200, {"token": token, "expiresIn": TOKEN_SECONDS}

    @route("GET", r"/api/user/info")
    def cas_user_info(self, req: Request):
        refused = self._signature_problem(req)
        if refused:
            return refused
        ident = self._bearer(req, self.cas_tokens)
        if ident is None:
            return _error(401, "invalid_token", "token unknown or expired")
        legal = ident["user_type"] == "法人"
        out = {"userId": ident["sub"], "userType": ident["user_type"], "name": ident["name"],
               "mobile": ident["phone_number"], "mobileVerified": True, "level": ident.get("level", "")}
        if legal:
            out.update(creditCode=ident.get("credit_code", ""), legalPerson=ident.get("legal_representative", ""))
        else:
            out["idNumber"] = ident.get("id_number", "")
        with self.lock:
            overrides, self.userinfo_overrides = self.userinfo_overrides, {}
        out.update(overrides)
        return 200, {k: v for k, v in out.items() if v is not None}

    @route("GET", r"/logout")
    def cas_logout(self, req: Request):
        a = req.args
        self.logouts.append({"protocol": "cas", "service": a.get("service"), "at": time.time()})
        try:
            back = _b64decode(a.get("returnUrl", "")) if a.get("returnUrl") else ""
        except ValueError:
            back = ""
        if back:
            return _redirect(back)
        return 200, "<!doctype html><meta charset=utf-8><p>已退出统一身份认证</p>", "text/html; charset=utf-8"


if __name__ == "__main__":
    main(IdpStandIn, "Stand-in of the unified identity platform (OpenID Connect and CAS-style tickets)")
