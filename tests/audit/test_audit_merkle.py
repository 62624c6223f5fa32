"""RFC 9162 Merkle tree: published vectors, brute force from the RFC definitions, tampering."""

from __future__ import annotations

import hashlib
from functools import lru_cache

import pytest

from validation.audit import verify_bundle as standalone
from validation.audit.errors import ConsistencyProofError, InclusionProofError, MerkleError
from validation.audit.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

# Test vectors from the Certificate Transparency / transparency-dev reference test data
# (github.com/transparency-dev/merkle, testonly/constants.go and proof/verify_test.go; RFC 6962 hashing):
# eight leaf inputs, the tree head for every size 0..8, and known inclusion and consistency proofs.
VECTOR_LEAVES = [bytes.fromhex(h) for h in
                 ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]]
VECTOR_ROOTS = [bytes.fromhex(h) for h in [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]]
# (leaf index 0-based, tree size, proof)
VECTOR_INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
VECTOR_CONSISTENCY = [
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]


# --- brute force, written straight from RFC 9162 section 2.1 (recursive on slices) ---------------------------------

def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def brute_mth(leaves: tuple[bytes, ...]) -> bytes:
    @lru_cache(maxsize=None)
    def mth(lo: int, hi: int) -> bytes:
        n = hi - lo
        if n == 0:
            return hashlib.sha256(b"").digest()
        if n == 1:
            return hashlib.sha256(b"\x00" + leaves[lo]).digest()
        k = _k(n)
        return hashlib.sha256(b"\x01" + mth(lo, lo + k) + mth(lo + k, hi)).digest()
    return mth(0, len(leaves))


def brute_path(m: int, leaves: tuple[bytes, ...]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return brute_path(m, leaves[:k]) + [brute_mth(leaves[k:])]
    return brute_path(m - k, leaves[k:]) + [brute_mth(leaves[:k])]


def brute_subproof(m: int, leaves: tuple[bytes, ...], b: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if b else [brute_mth(leaves)]
    k = _k(n)
    if m <= k:
        return brute_subproof(m, leaves[:k], b) + [brute_mth(leaves[k:])]
    return brute_subproof(m - k, leaves[k:], False) + [brute_mth(leaves[:k])]


N_MAX = 70
LEAVES = tuple(f"event-{i}".encode() for i in range(N_MAX))


@pytest.fixture(scope="module")
def big_tree() -> MerkleTree:
    return MerkleTree.from_leaves(LEAVES)


# --- published vectors ----------------------------------------------------------------------------------------------

def test_published_roots_for_every_size():
    tree = MerkleTree()
    assert tree.root() == VECTOR_ROOTS[0] == EMPTY_ROOT
    for size, leaf in enumerate(VECTOR_LEAVES, 1):
        tree.append(leaf_hash(leaf))
        assert tree.root() == VECTOR_ROOTS[size]
        assert root_hash(leaf_hash(x) for x in VECTOR_LEAVES[:size]) == VECTOR_ROOTS[size]
    for size in range(9):
        assert tree.root(size) == VECTOR_ROOTS[size]


@pytest.mark.parametrize(("index", "size", "proof"), VECTOR_INCLUSION)
def test_published_inclusion_proofs(index, size, proof):
    tree = MerkleTree.from_leaves(VECTOR_LEAVES)
    expected = [bytes.fromhex(h) for h in proof]
    assert tree.inclusion_proof(index, size) == expected
    verify_inclusion(leaf_hash(VECTOR_LEAVES[index]), index, size, expected, VECTOR_ROOTS[size])
    assert standalone._inclusion_ok(leaf_hash(VECTOR_LEAVES[index]), index, size, expected, VECTOR_ROOTS[size])


@pytest.mark.parametrize(("old", "new", "proof"), VECTOR_CONSISTENCY)
def test_published_consistency_proofs(old, new, proof):
    tree = MerkleTree.from_leaves(VECTOR_LEAVES)
    expected = [bytes.fromhex(h) for h in proof]
    assert tree.consistency_proof(old, new) == expected
    verify_consistency(old, new, VECTOR_ROOTS[old], VECTOR_ROOTS[new], expected)
    assert standalone._consistency_ok(old, new, VECTOR_ROOTS[old], VECTOR_ROOTS[new], expected)


def test_hash_prefixes_match_rfc_by_hand():
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    left, right = b"L" * 32, b"R" * 32
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()


# --- brute force over all sizes and index pairs --------------------------------------------------------------------

def test_roots_match_brute_force_for_every_size(big_tree):
    incremental = MerkleTree()
    for n in range(1, N_MAX + 1):
        incremental.append(leaf_hash(LEAVES[n - 1]))
        expected = brute_mth(LEAVES[:n])
        assert big_tree.root(n) == expected, n
        assert incremental.root() == expected, n
        assert root_hash(leaf_hash(x) for x in LEAVES[:n]) == expected
        assert standalone._root_of(leaf_hash(x) for x in LEAVES[:n]) == expected
    assert incremental.leaf_hashes() == big_tree.leaf_hashes()


def test_inclusion_proofs_match_brute_force_and_verify(big_tree):
    for n in range(1, N_MAX + 1):
        root = big_tree.root(n)
        for m in range(n):
            proof = big_tree.inclusion_proof(m, n)
            assert proof == brute_path(m, LEAVES[:n]), (m, n)
            lh = leaf_hash(LEAVES[m])
            verify_inclusion(lh, m, n, proof, root)
            assert root_from_inclusion_proof(lh, m, n, proof) == root
            assert standalone._inclusion_ok(lh, m, n, proof, root)


def test_consistency_proofs_match_brute_force_and_verify(big_tree):
    for n in range(1, N_MAX + 1):
        for m in range(1, n + 1):
            proof = big_tree.consistency_proof(m, n)
            expected = brute_subproof(m, LEAVES[:n], True) if m < n else []
            assert proof == expected, (m, n)
            verify_consistency(m, n, big_tree.root(m), big_tree.root(n), proof)
            assert standalone._consistency_ok(m, n, big_tree.root(m), big_tree.root(n), proof)


def _flip(h: bytes) -> bytes:
    return bytes([h[0] ^ 0x08]) + h[1:]


def test_tampered_inclusion_proofs_fail(big_tree):
    other = hashlib.sha256(b"other").digest()
    for n in range(1, 40):
        root = big_tree.root(n)
        for m in range(n):
            lh = leaf_hash(LEAVES[m])
            proof = big_tree.inclusion_proof(m, n)
            bad = [
                (leaf_hash(b"forged"), m, n, proof, root),
                (lh, m, n, proof, other),
                (lh, m, n, proof + [root], root),
                (lh, m, n, [root] + proof, root),
            ]
            if m + 1 < n:
                bad.append((lh, m + 1, n, proof, root))
            if m > 0:
                bad.append((lh, m - 1, n, proof, root))
            bad.append((lh, m, 2 * n, proof, root))
            if proof:
                bad.append((lh, m, n, proof[:-1], root))
                bad.extend((lh, m, n, proof[:i] + [_flip(proof[i])] + proof[i + 1:], root)
                           for i in range(len(proof)))
            for args in bad:
                with pytest.raises(InclusionProofError):
                    verify_inclusion(*args)
                assert not standalone._inclusion_ok(*args)


def test_tampered_consistency_proofs_fail(big_tree):
    for n in range(2, 40):
        for m in range(1, n):
            r1, r2 = big_tree.root(m), big_tree.root(n)
            proof = big_tree.consistency_proof(m, n)
            bad = [
                (m, n, r2, r1, proof),
                (m, n, _flip(r1), r2, proof),
                (m, n, r1, _flip(r2), proof),
                (m, n, r1, r2, []),
                (m, n, r1, r2, proof + [r1]),
                (m, n, r1, r2, [r2] + proof),
                (m, n, r1, r2, proof[:-1]),
                (m + 1, n, r1, r2, proof),
                # Not (m, n + 1): a proof for size n often also "verifies" for size n + 1, because a root
                # does not authenticate its tree size; the signed checkpoint does (as in the reference tests,
                # which probe size * 2 and size / 2 only).
                (m, 2 * n, r1, r2, proof),
                (n, m, r1, r2, proof),
            ]
            if m > 1:
                bad.append((m - 1, n, r1, r2, proof))
            bad.extend((m, n, r1, r2, proof[:i] + [_flip(proof[i])] + proof[i + 1:]) for i in range(len(proof)))
            for args in bad:
                with pytest.raises(ConsistencyProofError):
                    verify_consistency(*args)
                assert not standalone._consistency_ok(*args)


def test_trivial_consistency_cases():
    root = hashlib.sha256(b"x").digest()
    verify_consistency(0, 5, EMPTY_ROOT, root, [])
    verify_consistency(3, 3, root, root, [])
    for args in [(3, 3, root, EMPTY_ROOT, []), (0, 5, root, root, []), (3, 3, root, root, [root])]:
        with pytest.raises(ConsistencyProofError):
            verify_consistency(*args)
        assert not standalone._consistency_ok(*args)


def test_rewritten_history_is_not_consistent():
    tree = MerkleTree.from_leaves(LEAVES[:40])
    rewritten = MerkleTree.from_leaves(LEAVES[:10] + (b"rewritten",) + LEAVES[11:40])
    with pytest.raises(ConsistencyProofError):
        verify_consistency(20, 40, tree.root(20), rewritten.root(40), rewritten.consistency_proof(20, 40))


def test_out_of_range_requests_are_refused(big_tree):
    with pytest.raises(MerkleError, match="outside"):
        big_tree.inclusion_proof(N_MAX, N_MAX)
    with pytest.raises(MerkleError, match="outside"):
        big_tree.root(N_MAX + 1)
    with pytest.raises(MerkleError, match="old tree size"):
        big_tree.consistency_proof(10, 5)
    with pytest.raises(MerkleError, match="32 bytes"):
        MerkleTree([b"short"])
    assert MerkleTree().consistency_proof(0) == []
