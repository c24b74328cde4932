"""RFC 6962 Merkle tree: every inclusion proof of every tree of 1..40 leaves checks, wrong ones do not."""
import hashlib

from app.services.trail import merkle


def test_known_small_trees():
    a, b, c = (merkle.leaf_hash(x) for x in (b"a", b"b", b"c"))
    assert merkle.root([]) == hashlib.sha256(b"").digest()
    assert merkle.root([a]) == a
    assert merkle.root([a, b, c]) == merkle.node_hash(merkle.node_hash(a, b), c)  # no duplication of c


def test_all_proofs_of_trees_1_to_40():
    checked = 0
    for n in range(1, 41):
        leaves = [merkle.leaf_hash(f"leaf {i}".encode()) for i in range(n)]
        root = merkle.root(leaves)
        for m in range(n):
            path = merkle.path(m, leaves)
            assert merkle.verify_inclusion(leaves[m], m, n, path, root), (n, m)
            assert not merkle.verify_inclusion(merkle.leaf_hash(b"other"), m, n, path, root)
            if n > 1:
                assert not merkle.verify_inclusion(leaves[m], (m + 1) % n, n, path, root)
                assert not merkle.verify_inclusion(leaves[m], m, n, path[:-1], root)
            checked += 1
    assert checked == 820
    assert not merkle.verify_inclusion(leaves[0], 40, 40, [], root)
