"""This deployment's identity in the 省市县 network (region, level, signing key) and its peers.

The signing key comes from FEDERATION_SIGNING_KEY (Base64 of the 32-byte Ed25519 seed; several web
nodes and schedulers of one deployment share it) or the file FEDERATION_KEY_FILE, written by
``flask federation keygen``. In development a missing key file is created on first use; in
production a missing key is an error that says what to do — a key made up by one node alone would
not be the key its peers know.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import current_app
from sqlalchemy import select

from ...config import is_development
from ...extensions import db
from ...models.federation import FederationPeer
from ..common.clock import clock_now
from .protocol import LEVELS, new_seed, parse_public_key, private_key_from_seed, public_key_text

_REGION = re.compile(r"^[1-9]\d{5}$")


class FederationNotConfigured(RuntimeError):
    """No signing key: the deployment cannot take part in the network until one is set."""


class PeerError(ValueError):
    """A peer's settings are not valid: ``errors`` by field, in Chinese."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


# -- this deployment -------------------------------------------------------------------------------

def own_region() -> str:
    return current_app.config["REGION_CODE"]


def level_of(region: str) -> str:
    if region.endswith("0000"):
        return "province"
    return "city" if region.endswith("00") else "county"


def own_level() -> str:
    return current_app.config.get("FEDERATION_LEVEL") or level_of(own_region())


def write_key_file(path: str | Path, *, overwrite: bool = False) -> Ed25519PrivateKey:
    """A new signing key in ``path`` (mode 0600). Refuses to replace an existing key unless told."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists: its public key is what the peers know; pass --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    seed = new_seed()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(seed + "\n")
    return private_key_from_seed(seed)


def signing_key() -> Ed25519PrivateKey:
    """The deployment's signing key (cached per app)."""
    cached = current_app.extensions.get("federation_key")
    if cached is not None:
        return cached
    cfg = current_app.config
    if cfg.get("FEDERATION_SIGNING_KEY"):
        key = private_key_from_seed(cfg["FEDERATION_SIGNING_KEY"])
    else:
        path = Path(cfg["FEDERATION_KEY_FILE"])
        if path.exists():
            key = private_key_from_seed(path.read_text().strip())
        elif is_development(cfg):
            try:
                key = write_key_file(path)
            except FileExistsError:  # another process of this deployment wrote it meanwhile
                key = private_key_from_seed(path.read_text().strip())
        else:
            raise FederationNotConfigured("no federation signing key: set FEDERATION_SIGNING_KEY or run "
                                          "`flask federation keygen` (docs/federation.md)")
    current_app.extensions["federation_key"] = key
    return key


def own_public_key() -> Ed25519PublicKey:
    return signing_key().public_key()


def whoami() -> dict:
    cfg = current_app.config
    try:
        key = public_key_text(own_public_key())
    except FederationNotConfigured:
        key = None
    return {"region": own_region(), "level": own_level(), "name": cfg["AGENCY_NAME"],
            "base_url": cfg.get("FEDERATION_PUBLIC_URL") or None, "public_key": key}


# -- peers -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PeerIn:
    region: str
    name: str
    level: str
    base_url: str
    public_key: str


def _check(p: PeerIn) -> PeerIn:
    errors: dict[str, str] = {}
    region = (p.region or "").strip()
    if not _REGION.match(region):
        errors["region"] = "行政区划代码应为 6 位数字（GB/T 2260）"
    elif region == own_region():
        errors["region"] = "不能把本平台自己登记为对端"
    name = (p.name or "").strip()
    if not 1 <= len(name) <= 128:
        errors["name"] = "名称为 1–128 个字符"
    if p.level not in LEVELS:
        errors["level"] = "层级应为 province、city 或 county"
    url = (p.base_url or "").strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment \
            or len(url) > 300 or parts.username or parts.password:
        errors["base_url"] = "地址应为 http(s)://主机[:端口][/路径]，不含查询参数和账号"
    key = (p.public_key or "").strip()
    try:
        parse_public_key(key)
    except ValueError as exc:
        errors["public_key"] = str(exc)
    if errors:
        raise PeerError(errors)
    return PeerIn(region, name, p.level, url, key)


def add_peer(p: PeerIn) -> FederationPeer:
    """Register a peer (commits). PeerError when a field is bad or the region is registered."""
    p = _check(p)
    if db.session.get(FederationPeer, p.region) is not None:
        raise PeerError({"region": "该行政区划的平台已登记；请修改或停用原记录"})
    now = clock_now()
    peer = FederationPeer(region=p.region, name=p.name, level=p.level, base_url=p.base_url, public_key=p.public_key,
                          enabled=True, created_at=now, updated_at=now)
    db.session.add(peer)
    db.session.commit()
    return peer


def update_peer(p: PeerIn) -> FederationPeer:
    """Change a registered peer's name, level, URL or key (a key rotation; commits)."""
    p = _check(p)
    peer = db.session.get(FederationPeer, p.region)
    if peer is None:
        raise LookupError(p.region)
    peer.name, peer.level, peer.base_url, peer.public_key = p.name, p.level, p.base_url, p.public_key
    peer.updated_at = clock_now()
    db.session.commit()
    return peer


def set_enabled(region: str, enabled: bool) -> FederationPeer:
    peer = db.session.get(FederationPeer, region) if isinstance(region, str) else None
    if peer is None:
        raise LookupError(region)
    peer.enabled, peer.updated_at = enabled, clock_now()
    db.session.commit()
    return peer


def peers() -> list[FederationPeer]:
    return list(db.session.execute(select(FederationPeer).order_by(FederationPeer.region)).scalars())


def peer(region: str) -> FederationPeer | None:
    return db.session.get(FederationPeer, region) if isinstance(region, str) and _REGION.match(region) else None


#: the level above each level
UPPER = {"county": "city", "city": "province"}


def contains(upper: str, region: str) -> bool:
    """Whether the region ``upper`` (a province or a city) contains ``region`` (not itself)."""
    level = level_of(upper)
    if level == "province":
        return region[:2] == upper[:2] and region != upper
    if level == "city":
        return region[:4] == upper[:4] and region != upper
    return False


def up_peer(region: str | None = None):
    """The registered peer (enabled or not) of the next level up whose region contains ``region``
    (default: this deployment's), or None."""
    region = region or own_region()
    wanted = UPPER.get(own_level() if region == own_region() else level_of(region))
    found = [p for p in peers() if p.level == wanted and contains(p.region, region)]
    return found[0] if found else None
