"""RFC 9162 Merkle hash tree over the audit log: tree heads, inclusion and consistency proofs.

Leaf hash ``SHA-256(0x00 || leaf)``, interior node ``SHA-256(0x01 || left || right)``, empty tree ``SHA-256("")``
(RFC 9162 section 2.1.1; identical to RFC 6962 section 2.1). The leaf of an audit event is its canonical JSON bytes.

:class:`MerkleTree` keeps, for every level, the hashes of the *complete* subtrees (a level cache: 32 bytes per node,
about 64 bytes per leaf in total). Building it is O(n); appending is amortised O(1); the root at any size up to the
current one and every proof cost O(log n) node look-ups plus at most O(log n) hashes along the right edge.

References
----------
.. [1] B. Laurie, E. Messeri, R. Stradling. RFC 9162, Certificate Transparency Version 2.0, sections 2.1.1-2.1.4.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from validation.audit.errors import ConsistencyProofError, InclusionProofError, MerkleError

HASH_SIZE = 32

#: Root hash of the empty tree, SHA-256 of the empty string.
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    """Return the RFC 9162 leaf hash ``SHA-256(0x00 || leaf)``."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 9162 interior node hash ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    # k such that k < n <= 2k, for n >= 2 (RFC 9162 section 2.1.1).
    return 1 << ((n - 1).bit_length() - 1)


def root_hash(leaf_hashes: Iterable[bytes]) -> bytes:
    """Return the tree head of the leaves whose hashes are given, in one streaming pass.

    Parameters
    ----------
    leaf_hashes : iterable of bytes
        32-byte leaf hashes in log order.

    Returns
    -------
    bytes
        The 32-byte Merkle tree hash MTH of the whole sequence (``EMPTY_ROOT`` if empty).

    Notes
    -----
    Keeps only the O(log n) roots of the maximal complete subtrees ("peaks"), so it runs in O(n) time and
    O(log n) memory.
    """
    peaks: list[tuple[int, bytes]] = []
    for h in leaf_hashes:
        height = 0
        while peaks and peaks[-1][0] == height:
            h = node_hash(peaks.pop()[1], h)
            height += 1
        peaks.append((height, h))
    if not peaks:
        return EMPTY_ROOT
    root = peaks[-1][1]
    for _, peak in reversed(peaks[:-1]):
        root = node_hash(peak, root)
    return root


class MerkleTree:
    """An append-only Merkle tree with a level cache of complete subtree hashes.

    Parameters
    ----------
    leaf_hashes : iterable of bytes, optional
        32-byte leaf hashes to start with, in log order.

    Examples
    --------
    >>> tree = MerkleTree.from_leaves([b"a", b"b", b"c"])
    >>> tree.size
    3
    >>> verify_inclusion(leaf_hash(b"b"), 1, 3, tree.inclusion_proof(1), tree.root())
    """

    __slots__ = ("_levels",)

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self.extend(leaf_hashes)

    @classmethod
    def from_leaves(cls, leaves: Iterable[bytes]) -> MerkleTree:
        """Build a tree from raw leaf bytes (each hashed with :func:`leaf_hash`)."""
        return cls(leaf_hash(leaf) for leaf in leaves)

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self._levels[0]) // HASH_SIZE

    def append(self, leaf_hash_: bytes) -> None:
        """Append one 32-byte leaf hash."""
        self.extend((leaf_hash_,))

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append 32-byte leaf hashes in order and update the cache of complete subtrees.

        Raises
        ------
        MerkleError
            If a hash is not 32 bytes.
        """
        chunk = bytearray()
        for h in leaf_hashes:
            if len(h) != HASH_SIZE:
                raise MerkleError(f"leaf hash must be {HASH_SIZE} bytes, got {len(h)}; pass leaf_hash(leaf)")
            chunk += h
        if not chunk:
            return
        self._levels[0] += chunk
        level = 0
        sha256 = hashlib.sha256
        while True:
            below = self._levels[level]
            complete_parents = len(below) // (2 * HASH_SIZE)
            if level + 1 == len(self._levels):
                if complete_parents == 0:
                    return
                self._levels.append(bytearray())
            above = self._levels[level + 1]
            have = len(above) // HASH_SIZE
            if have >= complete_parents:
                return
            view = memoryview(below)
            new = bytearray()
            for j in range(have, complete_parents):
                h = sha256(b"\x01")
                h.update(view[2 * HASH_SIZE * j: 2 * HASH_SIZE * (j + 1)])
                new += h.digest()
            view.release()
            above += new
            level += 1

    def leaf_hash(self, index: int) -> bytes:
        """Return the hash of leaf `index` (0-based)."""
        self._check_index(index, self.size)
        return bytes(self._levels[0][HASH_SIZE * index: HASH_SIZE * (index + 1)])

    def leaf_hashes(self) -> list[bytes]:
        """Return every leaf hash, in order."""
        lvl = self._levels[0]
        return [bytes(lvl[i: i + HASH_SIZE]) for i in range(0, len(lvl), HASH_SIZE)]

    def _check_size(self, size: int | None) -> int:
        if size is None:
            return self.size
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= self.size:
            raise MerkleError(f"tree size {size!r} is outside 0..{self.size}, the number of leaves in the log")
        return size

    @staticmethod
    def _check_index(index: int, size: int) -> None:
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < size:
            raise MerkleError(f"leaf index {index!r} is outside 0..{size - 1} for a tree of size {size}")

    def _subtree(self, start: int, end: int) -> bytes:
        # MTH(D[start:end]) for a range produced by the RFC recursion (start is aligned to the subtree split).
        n = end - start
        if n & (n - 1) == 0 and start % n == 0:
            height = n.bit_length() - 1
            j = start >> height
            return bytes(self._levels[height][HASH_SIZE * j: HASH_SIZE * (j + 1)])
        k = _largest_power_of_two_below(n)
        return node_hash(self._subtree(start, start + k), self._subtree(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        """Return the tree head MTH of the first `size` leaves (default: all).

        Raises
        ------
        MerkleError
            If `size` exceeds the number of leaves.
        """
        size = self._check_size(size)
        return self._subtree(0, size) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Return the audit path PATH(index, D[0:size]) of RFC 9162 section 2.1.3.1.

        Parameters
        ----------
        index : int
            0-based leaf index (an event's ``seq - 1``).
        size : int, optional
            Tree size the proof is for (default: current size).

        Returns
        -------
        list of bytes
            Sibling hashes from the leaf up to the root.
        """
        size = self._check_size(size)
        self._check_index(index, size)
        path: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            k = _largest_power_of_two_below(end - start)
            if index < start + k:
                path.append(self._subtree(start + k, end))
                end = start + k
            else:
                path.append(self._subtree(start, start + k))
                start += k
        path.reverse()
        return path

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """Return the consistency proof PROOF(old_size, D[0:new_size]) of RFC 9162 section 2.1.4.1.

        Returns an empty list when ``old_size`` is 0 or equals ``new_size`` (nothing to prove).

        Raises
        ------
        MerkleError
            If not ``0 <= old_size <= new_size <= size``.
        """
        new_size = self._check_size(new_size)
        if not isinstance(old_size, int) or isinstance(old_size, bool) or not 0 <= old_size <= new_size:
            raise MerkleError(f"old tree size {old_size!r} must be in 0..{new_size} (the newer size)")
        if old_size in (0, new_size):
            return []
        path: list[bytes] = []
        start, end, complete = 0, new_size, True
        while True:
            n, m = end - start, old_size - start
            if m == n:
                if not complete:
                    path.append(self._subtree(start, end))
                break
            k = _largest_power_of_two_below(n)
            if m <= k:
                path.append(self._subtree(start + k, end))
                end = start + k
            else:
                path.append(self._subtree(start, start + k))
                start += k
                complete = False
        path.reverse()
        return path


def _check_hash(value: bytes, what: str, error: type[Exception]) -> None:
    if not isinstance(value, (bytes, bytearray)) or len(value) != HASH_SIZE:
        raise error(f"{what} must be {HASH_SIZE} bytes")


def root_from_inclusion_proof(leaf_hash_: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """Recompute the root from a leaf hash and its audit path (RFC 9162 section 2.1.3.2, steps 1-4).

    Raises
    ------
    InclusionProofError
        If the index is outside the tree, a hash has the wrong length, or the path has the wrong length.
    """
    if not 0 <= index < size:
        raise InclusionProofError(f"leaf index {index} is outside a tree of size {size}")
    _check_hash(leaf_hash_, "leaf hash", InclusionProofError)
    fn, sn = index, size - 1
    r = bytes(leaf_hash_)
    for p in proof:
        _check_hash(p, "inclusion proof element", InclusionProofError)
        if sn == 0:
            raise InclusionProofError(f"inclusion proof for leaf {index} in tree size {size} is too long")
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
    if sn != 0:
        raise InclusionProofError(f"inclusion proof for leaf {index} in tree size {size} is too short")
    return r


def verify_inclusion(leaf_hash_: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Verify that the leaf with hash `leaf_hash_` sits at `index` in the tree of `size` with head `root`.

    Implements RFC 9162 section 2.1.3.2.

    Raises
    ------
    InclusionProofError
        If the proof is malformed or leads to a different root.
    """
    _check_hash(root, "root hash", InclusionProofError)
    if root_from_inclusion_proof(leaf_hash_, index, size, proof) != bytes(root):
        raise InclusionProofError(f"inclusion proof for leaf {index} does not lead to the root of tree size {size}")


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> None:
    """Verify that the tree of `old_size` with head `old_root` is a prefix of the tree of `new_size`.

    Implements RFC 9162 section 2.1.4.2, with the two trivial cases made explicit: equal sizes need equal roots
    and an empty proof; an empty old tree is a prefix of every tree (its root must be ``EMPTY_ROOT``).

    Raises
    ------
    ConsistencyProofError
        If the sizes are impossible, the proof is malformed, or either root does not match.
    """
    _check_hash(old_root, "old root", ConsistencyProofError)
    _check_hash(new_root, "new root", ConsistencyProofError)
    for c in proof:
        _check_hash(c, "consistency proof element", ConsistencyProofError)
    if not 0 <= old_size <= new_size:
        raise ConsistencyProofError(f"old tree size {old_size} is larger than new size {new_size}: the log shrank")
    if old_size == 0:
        if proof or bytes(old_root) != EMPTY_ROOT:
            raise ConsistencyProofError("an empty old tree needs an empty proof and the empty-tree root")
        return
    if old_size == new_size:
        if proof or bytes(old_root) != bytes(new_root):
            raise ConsistencyProofError(f"trees of equal size {old_size} have different roots")
        return
    if not proof:
        raise ConsistencyProofError(f"consistency proof from size {old_size} to {new_size} is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, bytes(old_root))
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ConsistencyProofError(f"consistency proof from size {old_size} to {new_size} is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ConsistencyProofError(f"consistency proof from size {old_size} to {new_size} is too short")
    if fr != bytes(old_root):
        raise ConsistencyProofError(f"consistency proof does not reproduce the old root of size {old_size}")
    if sr != bytes(new_root):
        raise ConsistencyProofError(f"consistency proof does not reproduce the new root of size {new_size}")
