"""Unified identity over OpenID Connect (the main protocol): the authorization code flow of a
confidential client, with Authlib.

- discovery: ``OIDC_ISSUER/.well-known/openid-configuration`` (its ``issuer`` must be OIDC_ISSUER),
  kept DISCOVERY_TTL seconds per issuer; the JWKS likewise, read again once when a token names a
  key it does not have (the provider rotated its keys);
- ``begin``: the authorization URL with ``state``, ``nonce`` and PKCE (S256), and what the session
  must keep until the provider sends the browser back;
- ``finish``: the state checked, the code exchanged at the token endpoint (client_secret_basic,
  the verifier), the ID token verified against the provider's JWKS (signature with an asymmetric
  algorithm only; iss, aud, exp, nonce, at_hash), the attributes read from the userinfo endpoint
  (its ``sub`` must be the ID token's);
- ``logout_url``: the provider's end_session_endpoint (RP-initiated logout) when it advertises one.

Claims read (docs/integration.md): ``sub``, ``user_type`` (法人 / 自然人), ``name``,
``credit_code`` (法人) or ``id_number`` (自然人), ``phone_number``, ``phone_number_verified``,
``legal_representative``, the level of assurance from ``acr`` (or ``level``).

Every failure is an SsoError (sso.py): provider_unavailable (503: not reachable, 5xx, timeout, an
answer that is not the protocol), provider_refused, state_mismatch, bad_token, bad_signature."""
from __future__ import annotations

import secrets
import threading
import time
from urllib.parse import urlencode

import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oidc.core import CodeIDToken
from flask import current_app
from joserfc import jwt
from joserfc.errors import BadSignatureError, ClaimError, InvalidKeyIdError, JoseError, MissingClaimError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from . import http
from .sso import KIND_ALIASES, UNAVAILABLE, Identity, SsoError, check_identity, check_state, protocol_settings

DISCOVERY_TTL = 3600.0
LEEWAY_SECONDS = 60            # clock skew allowed on exp / iat
SCOPE = "openid profile phone"
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")

_cache: dict[str, tuple[float, dict]] = {}
_lock = threading.Lock()


def configured() -> bool:
    return bool(current_app.config.get("OIDC_ISSUER"))


def _settings() -> tuple[str, str, str, float]:
    return protocol_settings("OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "OIDC_TIMEOUT_SECONDS", "OpenID Connect")


def _get_json(url: str, timeout: float) -> dict:
    try:
        answer = http.check(http.request("GET", url, timeout=timeout, headers={"Accept": "application/json"}))
        body = answer.json()
    except (http.Unavailable, http.Rejected) as exc:
        raise SsoError("provider_unavailable", f"{UNAVAILABLE}（{exc}）"[:300], 503) from None
    if not isinstance(body, dict):
        raise SsoError("provider_unavailable", f"{UNAVAILABLE}（应答不是 JSON 对象）", 503)
    return body


def _cached(key: str, load, force: bool = False) -> dict:
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
    if hit is not None and hit[0] > now and not force:
        return hit[1]
    value = load()
    with _lock:
        _cache[key] = (now + DISCOVERY_TTL, value)
    return value


def forget_cache() -> None:
    """Drop what was read from providers (their metadata and keys)."""
    with _lock:
        _cache.clear()


def discover() -> dict:
    """The provider's metadata (cached). Raises SsoError provider_unavailable."""
    issuer, _, _, timeout = _settings()

    def load() -> dict:
        meta = _get_json(issuer + "/.well-known/openid-configuration", timeout)
        if str(meta.get("issuer", "")).rstrip("/") != issuer:
            raise SsoError("provider_unavailable", "统一身份认证平台的发现文档中 issuer 与配置的 OIDC_ISSUER 不一致", 503)
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
            if not str(meta.get(key, "")).startswith(("http://", "https://")):
                raise SsoError("provider_unavailable", f"统一身份认证平台的发现文档缺少 {key}", 503)
        return meta
    return _cached("discovery:" + issuer, load)


def _keys(meta: dict, force: bool = False) -> KeySet:
    _, _, _, timeout = _settings()
    jwks = _cached("jwks:" + meta["jwks_uri"], lambda: _get_json(meta["jwks_uri"], timeout), force)
    try:
        return KeySet.import_key_set(jwks)
    except (JoseError, ValueError, TypeError, KeyError):
        raise SsoError("provider_unavailable", "统一身份认证平台的公钥集（JWKS）格式不正确", 503) from None


def _client(redirect_uri: str) -> OAuth2Session:
    _, client_id, secret, _ = _settings()
    session = OAuth2Session(client_id, secret, token_endpoint_auth_method="client_secret_basic", scope=SCOPE,
                            redirect_uri=redirect_uri, code_challenge_method="S256")
    session.register_compliance_hook("access_token_response", _answer_usable)
    return session


def _answer_usable(resp):
    """A token endpoint's 5xx, redirect or non-JSON answer is the provider being unavailable, not
    a refusal of this request."""
    if resp.status_code >= 500 or 300 <= resp.status_code < 400 or resp.status_code == 429:
        raise SsoError("provider_unavailable", f"{UNAVAILABLE}（令牌端点 HTTP {resp.status_code}）", 503)
    if "json" not in resp.headers.get("Content-Type", ""):
        raise SsoError("provider_unavailable", f"{UNAVAILABLE}（令牌端点应答不是 JSON）", 503)
    return resp


def begin(redirect_uri: str) -> tuple[str, dict]:
    """(the provider's authorization URL, what the session keeps: state, nonce, PKCE verifier,
    time). Raises SsoError (not configured, provider unavailable)."""
    meta = discover()
    state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    url, _ = _client(redirect_uri).create_authorization_url(
        meta["authorization_endpoint"], state=state, code_verifier=verifier, nonce=nonce)
    return url, {"s": state, "n": nonce, "v": verifier, "t": time.time()}


def finish(redirect_uri: str, pending: dict | None, args) -> tuple[Identity, str]:
    """The provider's answer at the callback (``args``: its query) → (the identity, the ID token for
    the logout hint). Raises SsoError; writes nothing."""
    check_state(pending, args)  # first: the provider's error text is shown only on its own answer
    if args.get("error"):
        text = str(args.get("error_description") or args.get("error"))[:200]
        raise SsoError("provider_refused", f"统一身份认证平台未完成登录：{text}", 401)
    code = args.get("code") or ""
    if not code or len(code) > 2048:
        raise SsoError("bad_token", "统一身份认证平台的回调缺少授权码，请重新登录", 400)
    meta = discover()
    _, client_id, _, timeout = _settings()
    client = _client(redirect_uri)
    try:
        token = client.fetch_token(meta["token_endpoint"], grant_type="authorization_code", code=code,
                                   code_verifier=pending["v"], timeout=timeout, allow_redirects=False)
    except OAuthError as exc:
        raise SsoError("provider_refused", f"统一身份认证平台拒绝了授权码：{exc.error}"[:300], 401) from None
    except requests.RequestException as exc:
        raise SsoError("provider_unavailable", f"{UNAVAILABLE}（{type(exc).__name__}）", 503) from None
    except ValueError:
        raise SsoError("provider_unavailable", f"{UNAVAILABLE}（令牌端点应答不是 JSON）", 503) from None
    id_token, access_token = token.get("id_token"), token.get("access_token")
    if not isinstance(id_token, str) or not isinstance(access_token, str) or not id_token or not access_token:
        raise SsoError("bad_token", "统一身份认证平台的应答缺少 id_token 或 access_token", 502)
    claims = verify_id_token(meta, id_token, pending["n"], access_token)
    userinfo = _userinfo(meta, access_token, timeout)
    if userinfo.get("sub") != claims["sub"]:
        raise SsoError("bad_token", "用户信息的 sub 与 ID 令牌不一致，已拒绝", 502)
    return check_identity("oidc", attributes(claims, userinfo)), id_token


def verify_id_token(meta: dict, id_token: str, nonce: str, access_token: str | None = None) -> dict:
    """The ID token's claims once its signature (a key of the provider's JWKS, an asymmetric
    algorithm it advertises), issuer, audience, expiry and nonce hold. Raises SsoError."""
    issuer, client_id, _, _ = _settings()
    algs = [a for a in meta.get("id_token_signing_alg_values_supported") or ["RS256"] if a in ALGORITHMS]
    registry = JWSRegistry(algorithms=algs or ["RS256"])
    try:
        try:
            token = jwt.decode(id_token, _keys(meta), registry=registry)
        except InvalidKeyIdError:  # keys rotated since they were read
            token = jwt.decode(id_token, _keys(meta, force=True), registry=registry)
    except (BadSignatureError, InvalidKeyIdError):
        raise SsoError("bad_signature", "ID 令牌的签名无法用统一身份认证平台公布的公钥验证，已拒绝", 401) from None
    except (JoseError, ValueError, TypeError):
        raise SsoError("bad_token", "ID 令牌格式不正确或算法不被接受，已拒绝", 401) from None
    claims = CodeIDToken(token.claims, token.header,
                         {"iss": {"essential": True, "values": [issuer, issuer + "/"]},
                          "aud": {"essential": True, "value": client_id}},
                         {"nonce": nonce, "client_id": client_id, "access_token": access_token})
    try:
        claims.validate(leeway=LEEWAY_SECONDS)
    except MissingClaimError as exc:
        raise SsoError("bad_token", f"ID 令牌缺少声明 {exc.claim}，已拒绝"[:200], 401) from None
    except ClaimError as exc:  # iss, aud, exp (ExpiredTokenError), nonce, at_hash …
        raise SsoError("bad_token", f"ID 令牌的声明 {exc.claim} 不符（签发方、受众、有效期或 nonce），已拒绝"[:200],
                       401) from None
    except (JoseError, ValueError, TypeError):
        raise SsoError("bad_token", "ID 令牌的声明格式不正确，已拒绝", 401) from None
    return dict(claims)


def _userinfo(meta: dict, access_token: str, timeout: float) -> dict:
    try:
        answer = http.check(http.request("GET", meta["userinfo_endpoint"], timeout=timeout,
                                         headers={"Authorization": f"Bearer {access_token}",
                                                  "Accept": "application/json"}))
        body = answer.json()
    except http.Unavailable as exc:
        raise SsoError("provider_unavailable", f"{UNAVAILABLE}（{exc}）"[:300], 503) from None
    except http.Rejected as exc:
        raise SsoError("provider_refused", f"统一身份认证平台拒绝提供用户信息：{exc}"[:300], 401) from None
    if not isinstance(body, dict):
        raise SsoError("provider_unavailable", f"{UNAVAILABLE}（用户信息不是 JSON 对象）", 503)
    return body


def attributes(claims: dict, userinfo: dict) -> dict:
    """The attributes of check_identity from the ID token's claims and the userinfo answer."""
    merged = {**claims, **userinfo}
    kind = str(merged.get("user_type") or "")
    code = merged.get("credit_code") if KIND_ALIASES.get(kind.lower()) == "enterprise" else merged.get("id_number")
    return {"subject": claims.get("sub"), "kind": kind, "name": merged.get("name"), "code": code,
            "mobile": merged.get("phone_number"), "mobile_verified": merged.get("phone_number_verified", True),
            "level": claims.get("acr") or merged.get("level") or "",
            "legal_representative": merged.get("legal_representative")}


def logout_url(id_token: str | None, post_logout_redirect_uri: str) -> str | None:
    """The provider's RP-initiated logout URL, or None when it advertises no end_session_endpoint
    (or cannot be reached: the local session is ended all the same)."""
    try:
        meta = discover()
    except SsoError:
        return None
    endpoint = meta.get("end_session_endpoint")
    if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
        return None
    params = {"post_logout_redirect_uri": post_logout_redirect_uri, "client_id": _settings()[1]}
    if id_token:
        params["id_token_hint"] = id_token
    return endpoint + ("&" if "?" in endpoint else "?") + urlencode(params)
