"""RFC 6962 (§2.1) Merkle tree hash with SHA-256: leaf = H(0x00 || bytes), node = H(0x01 || left || right),
the split at the largest power of two below n (no padding, no duplication), the empty tree H("").
Inclusion proofs (audit paths) and their check in the shape of RFC 9162 §2.1.3.2."""
from __future__ import annotations

import hashlib


def _h(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def leaf_hash(data: bytes) -> bytes:
    return _h(b"\x00" + data)


def node_hash(left: bytes, right: bytes) -> bytes:
    return _h(b"\x01" + left + right)


def _split(n: int) -> int:
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def root(leaves: list[bytes]) -> bytes:
    """MTH over leaf HASHES (already leaf_hash'ed)."""
    n = len(leaves)
    if n == 0:
        return _h(b"")
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(root(leaves[:k]), root(leaves[k:]))


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    """The audit path of leaf m among leaf hashes ``leaves``: sibling subtree roots, bottom up."""
    n = len(leaves)
    if not 0 <= m < n:
        raise IndexError("leaf index out of range")
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return path(m, leaves[:k]) + [root(leaves[k:])]
    return path(m - k, leaves[k:]) + [root(leaves[:k])]


def verify_inclusion(leaf: bytes, m: int, n: int, audit: list[bytes], expected_root: bytes) -> bool:
    """Whether ``leaf`` (a leaf hash) is leaf m of a tree of size n with root ``expected_root``."""
    if not 0 <= m < n:
        return False
    fn, sn, r = m, n - 1, leaf
    for p in audit:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root
