"""Every setting of the platform, declared once, read from the environment, validated at start."""
from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SECRET_KEY = "dev-insecure-change-me"
APP_ENVS = ("development", "production")


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise RuntimeError(f"setting {name} must be an integer, got {raw!r}") from exc


def _acr_levels(text: str) -> dict | None:
    """IDENTITY_ACR_LEVELS: a JSON object of claim → level 1..3 (anything else refuses to start)."""
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict) or any(v not in (1, 2, 3) for v in value.values()):
        raise RuntimeError('IDENTITY_ACR_LEVELS must be a JSON object of levels 1..3, e.g. {"L3": 3}')
    return value


DEFAULT_SERVICE_PHONES = "12345 政务服务便民热线"


def parse_service_phones(text: str) -> list:
    """SERVICE_PHONES: ``number label`` entries separated by ``;`` (the label is optional), e.g.
    ``12345 政务服务便民热线;025-83391234 投资项目咨询``. A number is 3–20 of ``0-9 + - ( )``."""
    out = []
    for entry in (text or "").split(";"):
        number, _, label = entry.strip().partition(" ")
        if not number:
            continue
        if not (3 <= len(number) <= 20 and all(c in "0123456789+-()" for c in number)):
            raise RuntimeError(f"SERVICE_PHONES: {number!r} is not a phone number "
                               "(entries 'number label' separated by ';', e.g. '12345 政务服务便民热线')")
        out.append((number, label.strip()))
    return out


def _bool(name: str, default: bool | None) -> bool | None:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.lower() in {"1", "true", "yes", "on"}


@dataclass
class Settings:
    #: SQLAlchemy URL. SQLite file under instance/ is the embedded default.
    DATABASE_URL: str = field(default_factory=lambda: os.environ.get(
        "DATABASE_URL", f"sqlite:///{ROOT / 'instance' / 'app.sqlite3'}"))
    #: signs session cookies and keys SMS-code HMACs; the default is refused outside development
    SECRET_KEY: str = field(default_factory=lambda: os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY))
    #: "development" (scripts/run, the demo: the default SECRET_KEY is accepted) or "production"
    #: (the default: the app refuses to start with the default SECRET_KEY). Flask's TESTING and DEBUG
    #: count as development too (see is_development).
    APP_ENV: str = field(default_factory=lambda: os.environ.get("APP_ENV", "production"))
    #: session cookie only over HTTPS; unset = on outside development, off in it (plain-HTTP demo)
    SESSION_COOKIE_SECURE: bool | None = field(default_factory=lambda: _bool("SESSION_COOKIE_SECURE", None))
    #: where matters (BPMN + metadata) and forms are read from
    PROCESSES_DIR: str = field(default_factory=lambda: os.environ.get("PROCESSES_DIR", str(ROOT / "processes")))
    FORMS_DIR: str = field(default_factory=lambda: os.environ.get("FORMS_DIR", str(ROOT / "forms")))
    #: deploy every file in PROCESSES_DIR when the app starts
    DEPLOY_ON_START: bool = field(default_factory=lambda: _bool("DEPLOY_ON_START", True))
    #: largest request body accepted (bytes); file uploads may be FILE_MAX_BYTES
    MAX_CONTENT_LENGTH: int = field(default_factory=lambda: _int("MAX_CONTENT_LENGTH", 2 * 1024 * 1024))
    #: where attached files are kept (outside the web root), by checksum
    FILES_DIR: str = field(default_factory=lambda: os.environ.get("FILES_DIR", str(ROOT / "instance" / "files")))
    #: largest attached file (bytes)
    FILE_MAX_BYTES: int = field(default_factory=lambda: _int("FILE_MAX_BYTES", 20 * 1024 * 1024))
    #: how often the scheduler deletes stored files no row references (seconds), and how old such a
    #: file must be before it goes (an upload whose row is not yet committed is never deleted)
    FILES_SWEEP_SECONDS: float = field(default_factory=lambda: float(os.environ.get("FILES_SWEEP_SECONDS", "3600")))
    FILES_SWEEP_GRACE_SECONDS: int = field(default_factory=lambda: _int("FILES_SWEEP_GRACE_SECONDS", 86400))
    #: largest BPMN file accepted (bytes)
    MAX_BPMN_BYTES: int = field(default_factory=lambda: _int("MAX_BPMN_BYTES", 1024 * 1024))
    #: wall-clock limit of one script or expression, in milliseconds
    SCRIPT_TIME_LIMIT_MS: int = field(default_factory=lambda: _int("SCRIPT_TIME_LIMIT_MS", 1000))
    #: where scripts run: "process" (worker processes under OS limits) or "inline" (this process;
    #: for benchmarks only — one C-level call can then hold the server past every limit)
    SCRIPT_ISOLATION: str = field(default_factory=lambda: os.environ.get("SCRIPT_ISOLATION", "process"))
    #: script worker processes per server process
    SCRIPT_WORKERS: int = field(default_factory=lambda: _int("SCRIPT_WORKERS", 2))
    #: wall-clock budget of one engine step (all its scripts and expressions), in milliseconds
    STEP_TIME_BUDGET_MS: int = field(default_factory=lambda: _int("STEP_TIME_BUDGET_MS", 10000))
    #: region code (GB/T 2260) of this installation, first part of case numbers
    REGION_CODE: str = field(default_factory=lambda: os.environ.get("REGION_CODE", "320000"))
    AGENCY_NAME: str = field(default_factory=lambda: os.environ.get("AGENCY_NAME", "江苏省发展和改革委员会"))
    #: how many workflow states the engine keeps deserialised in memory (0 = none)
    WORKFLOW_CACHE_SIZE: int = field(default_factory=lambda: _int("WORKFLOW_CACHE_SIZE", 256))
    #: PostgreSQL: the writes of an inbox step as one statement (app/services/common/one_write.py);
    #: off only to measure the difference (bench/engine_submit.py part 7)
    STEP_ONE_STATEMENT: bool = True

    #: longest sleep of the scheduler between looks for new timers (seconds)
    SCHEDULER_POLL_SECONDS: float = field(default_factory=lambda: float(os.environ.get("SCHEDULER_POLL_SECONDS", "1")))
    #: how often electronic supervision recomputes warnings (seconds)
    SUPERVISION_SECONDS: float = field(default_factory=lambda: float(os.environ.get("SUPERVISION_SECONDS", "60")))
    #: yellow warning when at most this many working days remain (电子监察)
    WARNING_DAYS: int = field(default_factory=lambda: _int("WARNING_DAYS", 1))
    #: 好差评: working days a department has to rectify a 差评 (provinces use 5, 7 or 15)
    RECTIFICATION_DAYS: int = field(default_factory=lambda: _int("RECTIFICATION_DAYS", 5))
    #: working days to answer a consultation (咨询) and a complaint (投诉)
    CONSULTATION_DAYS: int = field(default_factory=lambda: _int("CONSULTATION_DAYS", 3))
    COMPLAINT_DAYS: int = field(default_factory=lambda: _int("COMPLAINT_DAYS", 5))
    #: 双公示: working days after the decision by which it must be published
    DISCLOSURE_DAYS: int = field(default_factory=lambda: _int("DISCLOSURE_DAYS", 7))
    #: the service phone numbers the public home page (办事大厅) shows: "number label" entries
    #: separated by ";" (docs/deploy.md §5)
    SERVICE_PHONES: list = field(default_factory=lambda: parse_service_phones(os.environ.get("SERVICE_PHONES", DEFAULT_SERVICE_PHONES)))

    # -- operations (app/services/ops, app/web/ops, app/observability; docs/deploy.md) -----------------
    #: reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host are trusted (werkzeug's
    #: ProxyFix); 0 = none: the peer address is the client. Per-IP sign-in and SMS limits depend on it.
    PROXY_HOPS: int = field(default_factory=lambda: _int("PROXY_HOPS", 0))
    #: how often each scheduler process writes its heartbeat (seconds); /readyz is not ready and
    #: administrators see a banner when the youngest heartbeat is older than SCHEDULER_STALE_SECONDS
    SCHEDULER_HEARTBEAT_SECONDS: float = field(default_factory=lambda: float(os.environ.get("SCHEDULER_HEARTBEAT_SECONDS", "10")))
    SCHEDULER_STALE_SECONDS: float = field(default_factory=lambda: float(os.environ.get("SCHEDULER_STALE_SECONDS", "30")))
    #: /metrics: served to loopback peers, and to others that send "Authorization: Bearer <token>"
    #: (empty = loopback only)
    METRICS_TOKEN: str = field(default_factory=lambda: os.environ.get("METRICS_TOKEN", ""))
    #: log format of the web and scheduler processes: "json" (one JSON object per line) or "text"
    LOG_FORMAT: str = field(default_factory=lambda: os.environ.get("LOG_FORMAT", "json"))
    LOG_LEVEL: str = field(default_factory=lambda: os.environ.get("LOG_LEVEL", "INFO"))

    # -- the 省市县 network (app/services/federation; docs/federation.md) ------------------------------
    #: this deployment's level; empty = from REGION_CODE (xx0000 province, xxxx00 city, else county)
    FEDERATION_LEVEL: str = field(default_factory=lambda: os.environ.get("FEDERATION_LEVEL", ""))
    #: the Ed25519 signing key: Base64 of its 32-byte seed, or (empty) the file FEDERATION_KEY_FILE,
    #: created by `flask federation keygen` (and on first use in development)
    FEDERATION_SIGNING_KEY: str = field(default_factory=lambda: os.environ.get("FEDERATION_SIGNING_KEY", ""))
    FEDERATION_KEY_FILE: str = field(default_factory=lambda: os.environ.get(
        "FEDERATION_KEY_FILE", str(ROOT / "instance" / "federation-ed25519.key")))
    #: the base URL other platforms reach this one at (its peers' configuration names it too)
    FEDERATION_PUBLIC_URL: str = field(default_factory=lambda: os.environ.get("FEDERATION_PUBLIC_URL", ""))
    #: a message signed more than this far from the receiver's clock is refused (replays)
    FEDERATION_MAX_SKEW_SECONDS: int = field(default_factory=lambda: _int("FEDERATION_MAX_SKEW_SECONDS", 300))
    FEDERATION_TIMEOUT_SECONDS: float = field(default_factory=lambda: float(os.environ.get("FEDERATION_TIMEOUT_SECONDS", "10")))
    #: how often the scheduler's outbox sender looks for due messages to other systems (seconds)
    #: the first retry of a failed federation send, doubled at each failure up to an hour
    FEDERATION_RETRY_SECONDS: float = field(default_factory=lambda: float(os.environ.get("FEDERATION_RETRY_SECONDS", "15")))
    OUTBOX_SEND_SECONDS: float = field(default_factory=lambda: float(os.environ.get("OUTBOX_SEND_SECONDS", "2")))

    # -- SMS (app/services/sms.py, sms_codes.py; docs/sms.md) ------------------------------------------
    #: Twilio credentials; without an account SID and token SMS stay in the development outbox (/dev/outbox)
    TWILIO_ACCOUNT_SID: str = field(default_factory=lambda: os.environ.get("TWILIO_ACCOUNT_SID", ""))
    TWILIO_AUTH_TOKEN: str = field(default_factory=lambda: os.environ.get("TWILIO_AUTH_TOKEN", ""))
    #: the sender: a number (E.164) or a messaging service (MG…); one of the two is needed
    TWILIO_FROM_NUMBER: str = field(default_factory=lambda: os.environ.get("TWILIO_FROM_NUMBER", ""))
    TWILIO_MESSAGING_SERVICE_SID: str = field(default_factory=lambda: os.environ.get("TWILIO_MESSAGING_SERVICE_SID", ""))
    #: another host instead of https://api.twilio.com (a stand-in in tests); empty = Twilio itself
    TWILIO_BASE_URL: str = field(default_factory=lambda: os.environ.get("TWILIO_BASE_URL", ""))
    #: public URL of /api/twilio/status given to Twilio as StatusCallback (empty = no callbacks)
    TWILIO_STATUS_CALLBACK_URL: str = field(default_factory=lambda: os.environ.get("TWILIO_STATUS_CALLBACK_URL", ""))
    TWILIO_TIMEOUT_SECONDS: float = field(default_factory=lambda: float(os.environ.get("TWILIO_TIMEOUT_SECONDS", "10")))
    #: how often the scheduler's sender looks for due SMS (seconds), and how many it sends per pass
    SMS_SEND_SECONDS: float = field(default_factory=lambda: float(os.environ.get("SMS_SEND_SECONDS", "5")))
    SMS_BATCH: int = field(default_factory=lambda: _int("SMS_BATCH", 50))
    #: attempts per SMS on 429 / 5xx / network errors, waiting SMS_RETRY_BASE_SECONDS x 2^(n-1) between them
    SMS_MAX_ATTEMPTS: int = field(default_factory=lambda: _int("SMS_MAX_ATTEMPTS", 6))
    SMS_RETRY_BASE_SECONDS: int = field(default_factory=lambda: _int("SMS_RETRY_BASE_SECONDS", 60))
    #: verification codes: validity, wrong attempts allowed, rate limits per phone and per IP
    SMS_CODE_TTL_SECONDS: int = field(default_factory=lambda: _int("SMS_CODE_TTL_SECONDS", 300))
    SMS_CODE_MAX_ATTEMPTS: int = field(default_factory=lambda: _int("SMS_CODE_MAX_ATTEMPTS", 5))
    SMS_CODE_PHONE_INTERVAL_SECONDS: int = field(default_factory=lambda: _int("SMS_CODE_PHONE_INTERVAL_SECONDS", 60))
    SMS_CODE_PHONE_DAILY: int = field(default_factory=lambda: _int("SMS_CODE_PHONE_DAILY", 10))
    SMS_CODE_IP_HOURLY: int = field(default_factory=lambda: _int("SMS_CODE_IP_HOURLY", 30))

    # -- docking with outside systems (app/services/docking; docs/integration.md) ------------------
    #: the provincial 一张网's exchange gateway (catalog, 办件 push, its unified entry's applications,
    #: 好差评); empty = not docked: nothing is pushed and its inbound endpoints answer 503
    YWTB_BASE_URL: str = field(default_factory=lambda: os.environ.get("YWTB_BASE_URL", ""))
    #: the access key and secret the gateway issued to this platform: every call both ways is signed
    #: HMAC-SHA256 over method, path, query, key and date with the secret (±YWTB_MAX_SKEW_SECONDS)
    YWTB_ACCESS_KEY: str = field(default_factory=lambda: os.environ.get("YWTB_ACCESS_KEY", ""))
    YWTB_SECRET: str = field(default_factory=lambda: os.environ.get("YWTB_SECRET", ""))
    YWTB_TIMEOUT_SECONDS: float = field(default_factory=lambda: float(os.environ.get("YWTB_TIMEOUT_SECONDS", "10")))
    YWTB_MAX_SKEW_SECONDS: int = field(default_factory=lambda: _int("YWTB_MAX_SKEW_SECONDS", 300))
    #: the 一张网's matter catalog (its incremental pull, GET <url>/catalog/entries); empty = YWTB_BASE_URL.
    #: YWTB_CATALOG_MAPPING: a JSON file mapping its field names to the guide's; empty = the shipped one
    YWTB_CATALOG_URL: str = field(default_factory=lambda: os.environ.get("YWTB_CATALOG_URL", ""))
    YWTB_CATALOG_MAPPING: str = field(default_factory=lambda: os.environ.get("YWTB_CATALOG_MAPPING", ""))
    #: the national investment project platform (项目代码 lookup, results reported back); empty = not docked:
    #: project codes are checked for their shape only and nothing is reported
    TZXM_BASE_URL: str = field(default_factory=lambda: os.environ.get("TZXM_BASE_URL", ""))
    TZXM_APP_ID: str = field(default_factory=lambda: os.environ.get("TZXM_APP_ID", ""))
    TZXM_SECRET: str = field(default_factory=lambda: os.environ.get("TZXM_SECRET", ""))
    TZXM_TIMEOUT_SECONDS: float = field(default_factory=lambda: float(os.environ.get("TZXM_TIMEOUT_SECONDS", "10")))
    #: unified identity (统一身份认证), OpenID Connect: the issuer (its /.well-known/openid-configuration
    #: is read), this platform's client; empty issuer = no OIDC sign-in
    OIDC_ISSUER: str = field(default_factory=lambda: os.environ.get("OIDC_ISSUER", ""))
    OIDC_CLIENT_ID: str = field(default_factory=lambda: os.environ.get("OIDC_CLIENT_ID", ""))
    OIDC_CLIENT_SECRET: str = field(default_factory=lambda: os.environ.get("OIDC_CLIENT_SECRET", ""))
    OIDC_TIMEOUT_SECONDS: float = field(default_factory=lambda: float(os.environ.get("OIDC_TIMEOUT_SECONDS", "10")))
    #: unified identity, CAS-style ticket flow: the identity platform's base URL, this platform's
    #: service code and the secret its server calls are signed with; empty URL = no CAS sign-in
    CAS_BASE_URL: str = field(default_factory=lambda: os.environ.get("CAS_BASE_URL", ""))
    CAS_SERVICE_CODE: str = field(default_factory=lambda: os.environ.get("CAS_SERVICE_CODE", ""))
    CAS_SECRET: str = field(default_factory=lambda: os.environ.get("CAS_SECRET", ""))
    CAS_TIMEOUT_SECONDS: float = field(default_factory=lambda: float(os.environ.get("CAS_TIMEOUT_SECONDS", "10")))
    #: staff may sign in through the unified identity too (mapped by ID number to an existing user)
    IDENTITY_STAFF: bool = field(default_factory=lambda: bool(_bool("IDENTITY_STAFF", False)))
    #: the first retry of a failed push to an outside system (doubled up to an hour), and how old a
    #: failing push must be before the supervision page raises an alert
    DOCKING_RETRY_SECONDS: float = field(default_factory=lambda: float(os.environ.get("DOCKING_RETRY_SECONDS", "15")))
    DOCKING_ALERT_HOURS: float = field(default_factory=lambda: float(os.environ.get("DOCKING_ALERT_HOURS", "24")))
    #: electronic seal (issue 17, app/services/seals): the agency's seal key and certificate (PEM/DER
    #: files; SEAL_CHAIN_FILES: the issuing CA chain, separated by commas — also the roots /verify
    #: trusts), or a PKCS#11 module (needs python-pkcs11) with the token label, key label and PIN.
    #: Nothing configured: development and tests generate a development CA + seal certificate under
    #: SEAL_DEV_DIR (default instance/seal-dev; tests: a temporary directory); production cannot seal.
    SEAL_KEY_FILE: str = field(default_factory=lambda: os.environ.get("SEAL_KEY_FILE", ""))
    SEAL_CERT_FILE: str = field(default_factory=lambda: os.environ.get("SEAL_CERT_FILE", ""))
    SEAL_CHAIN_FILES: str = field(default_factory=lambda: os.environ.get("SEAL_CHAIN_FILES", ""))
    SEAL_KEY_PASSPHRASE: str = field(default_factory=lambda: os.environ.get("SEAL_KEY_PASSPHRASE", ""))
    SEAL_PKCS11_MODULE: str = field(default_factory=lambda: os.environ.get("SEAL_PKCS11_MODULE", ""))
    SEAL_PKCS11_TOKEN: str = field(default_factory=lambda: os.environ.get("SEAL_PKCS11_TOKEN", ""))
    SEAL_PKCS11_KEY_LABEL: str = field(default_factory=lambda: os.environ.get("SEAL_PKCS11_KEY_LABEL", ""))
    SEAL_PKCS11_PIN: str = field(default_factory=lambda: os.environ.get("SEAL_PKCS11_PIN", ""))
    SEAL_DEV_DIR: str = field(default_factory=lambda: os.environ.get("SEAL_DEV_DIR", ""))
    #: the issuing organ's 统一社会信用代码 (the licence's issuer code) when the matter names none
    AGENCY_CREDIT_CODE: str = field(default_factory=lambda: os.environ.get("AGENCY_CREDIT_CODE", "113200000140003784"))
    #: the public address of this platform (https://…), printed into QR codes of receipts and sealed documents;
    #: empty: the request's own host (development)
    PUBLIC_BASE_URL: str = field(default_factory=lambda: os.environ.get("PUBLIC_BASE_URL", ""))
    #: largest PDF /verify accepts
    VERIFY_MAX_BYTES: int = field(default_factory=lambda: _int("VERIFY_MAX_BYTES", 10 * 1024 * 1024))
    #: PDFs one address may have checked at /verify in 10 minutes (each costs a parse and a signature check)
    VERIFY_PER_10_MIN: int = field(default_factory=lambda: _int("VERIFY_PER_10_MIN", 60))
    #: the unified identity's level claim (OIDC acr, CAS level) → our level of assurance (1..3), as JSON,
    #: e.g. {"L1": 1, "L2": 2, "L3": 3}; empty: app/services/identity/assurance.py DEFAULT_ACR_LEVELS
    IDENTITY_ACR_LEVELS: dict | None = field(default_factory=lambda: _acr_levels(os.environ.get("IDENTITY_ACR_LEVELS", "")))

    # -- certificate sign-in of staff (app/services/identity/certificates.py; docs/identity.md) ------
    #: PEM files of the trusted CA certificates (roots and intermediates), comma-separated; none = off
    CERT_CA_FILES: list = field(default_factory=lambda: [p for p in os.environ.get("CERT_CA_FILES", "").split(",") if p])
    #: the CAs' CRLs: files (PEM or DER) and/or HTTP URLs (fetched, kept CERT_CRL_REFRESH_SECONDS)
    CERT_CRL_FILES: list = field(default_factory=lambda: [p for p in os.environ.get("CERT_CRL_FILES", "").split(",") if p])
    CERT_CRL_URLS: list = field(default_factory=lambda: [p for p in os.environ.get("CERT_CRL_URLS", "").split(",") if p])
    CERT_CRL_REFRESH_SECONDS: int = field(default_factory=lambda: _int("CERT_CRL_REFRESH_SECONDS", 300))
    #: refuse a certificate whose issuer has no current CRL (off only for a CA without CRLs)
    CERT_CRL_REQUIRED: bool = field(default_factory=lambda: bool(_bool("CERT_CRL_REQUIRED", True)))
    CERT_TIMEOUT_SECONDS: float = field(default_factory=lambda: float(os.environ.get("CERT_TIMEOUT_SECONDS", "5")))
    #: how long a login challenge (nonce) may be signed
    CERT_CHALLENGE_SECONDS: int = field(default_factory=lambda: _int("CERT_CHALLENGE_SECONDS", 120))
    #: the local key client the sign-in page talks to (the browser, not the server, calls it)
    CERT_KEYCLIENT_URL: str = field(default_factory=lambda: os.environ.get("CERT_KEYCLIENT_URL", "http://127.0.0.1:18520"))

    def validate(self, config: Mapping | None = None) -> None:
        """Refuse to start on settings that cannot work or are unsafe. ``config`` is the app's final
        configuration (the environment plus a test or bench configuration) where it differs."""
        check_secret_key(config if config is not None else self.as_flask_config())
        if self.FILES_SWEEP_GRACE_SECONDS < 60:
            raise RuntimeError("FILES_SWEEP_GRACE_SECONDS must be at least 60")
        if not self.DATABASE_URL.startswith(("sqlite", "postgresql")):
            raise RuntimeError("DATABASE_URL must be a sqlite:// or postgresql:// URL")
        if not (len(self.REGION_CODE) == 6 and self.REGION_CODE.isdigit()):
            raise RuntimeError("REGION_CODE must be a 6-digit GB/T 2260 code")
        if self.SCRIPT_TIME_LIMIT_MS <= 0:
            raise RuntimeError("SCRIPT_TIME_LIMIT_MS must be positive")
        if self.SCRIPT_ISOLATION not in ("process", "inline"):
            raise RuntimeError("SCRIPT_ISOLATION must be 'process' or 'inline'")
        if not 1 <= self.SCRIPT_WORKERS <= 64:
            raise RuntimeError("SCRIPT_WORKERS must be between 1 and 64")
        if self.STEP_TIME_BUDGET_MS < self.SCRIPT_TIME_LIMIT_MS:
            raise RuntimeError("STEP_TIME_BUDGET_MS must be at least SCRIPT_TIME_LIMIT_MS")
        if not 0 <= self.PROXY_HOPS <= 5:
            raise RuntimeError("PROXY_HOPS must be between 0 and 5")
        if not 0 < self.SCHEDULER_HEARTBEAT_SECONDS < self.SCHEDULER_STALE_SECONDS:
            raise RuntimeError("SCHEDULER_HEARTBEAT_SECONDS must be positive and below SCHEDULER_STALE_SECONDS")
        if self.LOG_FORMAT not in ("json", "text"):
            raise RuntimeError("LOG_FORMAT must be 'json' or 'text'")
        if self.FEDERATION_LEVEL not in ("", "province", "city", "county"):
            raise RuntimeError("FEDERATION_LEVEL must be province, city or county (or empty)")
        if not 0.5 <= self.FEDERATION_RETRY_SECONDS <= 3600:
            raise RuntimeError("FEDERATION_RETRY_SECONDS must be between 0.5 and 3600")
        if self.FEDERATION_MAX_SKEW_SECONDS < 30:
            raise RuntimeError("FEDERATION_MAX_SKEW_SECONDS must be at least 30")
        if self.TWILIO_ACCOUNT_SID and not (self.TWILIO_AUTH_TOKEN and (
                self.TWILIO_FROM_NUMBER or self.TWILIO_MESSAGING_SERVICE_SID)):
            raise RuntimeError("TWILIO_ACCOUNT_SID needs TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER or "
                               "TWILIO_MESSAGING_SERVICE_SID")
        for prefix, needs in (("YWTB", ("ACCESS_KEY", "SECRET")), ("TZXM", ("APP_ID", "SECRET")),
                              ("OIDC", ("CLIENT_ID", "CLIENT_SECRET")), ("CAS", ("SERVICE_CODE", "SECRET"))):
            url = getattr(self, f"{prefix}_ISSUER" if prefix == "OIDC" else f"{prefix}_BASE_URL")
            if url and not url.startswith(("http://", "https://")):
                raise RuntimeError(f"{prefix} URL must start with http:// or https://")
            if url and not all(getattr(self, f"{prefix}_{n}") for n in needs):
                raise RuntimeError(f"{prefix} is configured without " + " and ".join(f"{prefix}_{n}" for n in needs))
        if not 0.5 <= self.DOCKING_RETRY_SECONDS <= 3600:
            raise RuntimeError("DOCKING_RETRY_SECONDS must be between 0.5 and 3600")
        if self.SEAL_PKCS11_MODULE and importlib.util.find_spec("pkcs11") is None:
            raise RuntimeError("SEAL_PKCS11_MODULE is set but python-pkcs11 is not installed "
                               "(pip install 'pyhanko[pkcs11]'), or unset it and use SEAL_KEY_FILE / SEAL_CERT_FILE")
        if self.SEAL_PKCS11_MODULE and not self.SEAL_PKCS11_KEY_LABEL:
            raise RuntimeError("SEAL_PKCS11_MODULE is configured without SEAL_PKCS11_KEY_LABEL")
        if bool(self.SEAL_KEY_FILE) != bool(self.SEAL_CERT_FILE):
            raise RuntimeError("SEAL_KEY_FILE and SEAL_CERT_FILE must be set together")

    def as_flask_config(self) -> dict:
        cfg = {f.name: getattr(self, f.name) for f in fields(self)}
        url = self.DATABASE_URL
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        cfg["SQLALCHEMY_DATABASE_URI"] = url
        cfg["SQLALCHEMY_TRACK_MODIFICATIONS"] = False
        cfg["SESSION_COOKIE_HTTPONLY"] = True
        cfg["SESSION_COOKIE_SAMESITE"] = "Lax"
        cfg["API_TITLE"] = "阳光发改 · 不见面审批 API"
        cfg["API_VERSION"] = "1"
        cfg["OPENAPI_VERSION"] = "3.0.3"
        cfg["OPENAPI_URL_PREFIX"] = "/api"
        cfg["OPENAPI_JSON_PATH"] = "openapi.json"
        return cfg


def is_development(config: Mapping) -> bool:
    """Development is declared, never guessed: APP_ENV=development (scripts/run exports it), or an app
    made for tests (Flask's TESTING) or run with the debugger (DEBUG). Everything else is production."""
    return config.get("APP_ENV") == "development" or bool(config.get("TESTING")) or bool(config.get("DEBUG"))


def check_secret_key(config: Mapping) -> None:
    """Outside development the default (public) SECRET_KEY would let anyone sign a session cookie of
    any user, administrators included: refuse to start with it, or with a key too short to be secret."""
    if config.get("APP_ENV") not in APP_ENVS:
        raise RuntimeError("APP_ENV must be 'development' or 'production'")
    if is_development(config):
        return
    key = config.get("SECRET_KEY") or ""
    if key == DEFAULT_SECRET_KEY or len(key) < 32:
        raise RuntimeError("SECRET_KEY must be set to a random value of at least 32 characters outside "
                           "development (e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))'); "
                           "APP_ENV=development accepts the default for the demo")


def session_cookie_secure(config: Mapping) -> bool:
    """SESSION_COOKIE_SECURE when set; otherwise on outside development (HTTPS is expected there) and
    off in development (the plain-HTTP demo of scripts/run)."""
    value = config.get("SESSION_COOKIE_SECURE")
    return (not is_development(config)) if value is None else bool(value)
