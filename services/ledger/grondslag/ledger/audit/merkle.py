"""Merkle tree hashing and proofs of RFC 9162 (Certificate Transparency v2), SHA-256.

* ``leaf_hash(d)`` = SHA-256(0x00 ‖ d); ``node_hash(l, r)`` = SHA-256(0x01 ‖ l ‖ r).
* ``root`` is MTH (§2.1.1): the empty tree hashes to SHA-256 of the empty string, one
  leaf to its leaf hash, and ``n > 1`` leaves to ``node_hash(MTH(D[0:k]), MTH(D[k:n]))``
  with ``k`` the largest power of two below ``n``.
* ``inclusion_proof`` / ``verify_inclusion`` are PATH (§2.1.3.1) and its verification
  (§2.1.3.2); ``consistency_proof`` / ``verify_consistency`` are PROOF = SUBPROOF(m, D[n],
  true) (§2.1.4.1) and its verification (§2.1.4.2). Proofs list sibling hashes from the
  leaf (or the old tree) upwards, exactly as in the RFC.
* A consistency proof from size 0 or to the same size is empty: every tree extends the
  empty tree (whose root is SHA-256 of ""), and a tree extends itself when the roots match.

Functions take leaf *hashes* (32 bytes each), never leaf data. Generators raise
``ValueError`` for an index or size outside the tree. Verifiers answer ``False`` for
anything that does not prove the claim — a wrong hash, a proof of the wrong length, an
index outside the tree, a first size above the second — and raise ``ValueError`` only
for a negative index or size, which no tree has.

``CompactTree`` keeps only the roots of the perfect subtrees that make up the tree so far
(one per set bit of its size, as in CT "compact ranges"): appending and the root cost
O(log n) time and memory, and ``state``/``restore`` let a projector persist it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
MAX_LEVEL = 63  # a compact tree holds at most 2**64 - 1 leaves


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 ‖ data): the hash of one leaf."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 ‖ left ‖ right): the hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of the tree with these leaf hashes (RFC 9162 §2.1.1)."""
    _check_hashes(leaf_hashes)
    if not leaf_hashes:
        return EMPTY_ROOT
    return _range_root(leaf_hashes, 0, len(leaf_hashes))


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of these leaves (§2.1.3.1)."""
    _check_hashes(leaf_hashes)
    return [
        _range_root(leaf_hashes, lo, hi) for lo, hi in inclusion_ranges(index, len(leaf_hashes))
    ]


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges ``[lo, hi)`` whose subtree hashes form the audit path of leaf
    ``index`` in a tree of ``size`` leaves, from the leaf upwards."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of {size} leaves")
    ranges: list[tuple[int, int]] = []  # collected from the root downwards
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
    ranges.reverse()
    return ranges


def verify_inclusion(
    index: int, tree_size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` shows leaf ``index`` of a tree of ``tree_size`` has ``leaf_hash``
    and the tree has ``root`` (the iterative algorithm of §2.1.3.2)."""
    if index < 0 or tree_size < 0:
        raise ValueError("a leaf index and a tree size are never negative")
    if index >= tree_size or not _well_formed(proof):
        return False
    fn, sn = index, tree_size - 1
    r = leaf_hash
    for p in proof:
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
    return sn == 0 and r == root


def consistency_proof(first_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """The proof that the first ``first_size`` leaves form a prefix of this tree
    (PROOF(m, D[n]) = SUBPROOF(m, D[n], true), §2.1.4.1); empty for 0 and for n."""
    _check_hashes(leaf_hashes)
    return [
        _range_root(leaf_hashes, lo, hi)
        for lo, hi in consistency_ranges(first_size, len(leaf_hashes))
    ]


def consistency_ranges(first_size: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose subtree hashes form the consistency proof from ``first_size``
    to ``size`` leaves, bottom upwards."""
    if not 0 <= first_size <= size:
        raise ValueError(f"first size {first_size} is outside 0..{size}")
    if first_size in (0, size):
        return []
    ranges: list[tuple[int, int]] = []  # collected from the root downwards
    m, lo, hi, whole = first_size, 0, size, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        ranges.append((lo, hi))
    ranges.reverse()
    return ranges


# -- trees kept as stored perfect subtrees -----------------------------------------------
#
# A log that cannot hold every leaf in memory stores the hash of every *perfect* subtree
# once it is complete: node ``(level, index)`` covers leaves ``[index * 2**level,
# (index + 1) * 2**level)``; level 0 are the leaf hashes. That is about two hashes per
# leaf, written once and never changed (as golang.org/x/mod/sumdb/tlog stores them).
# Any range hash — a root, a proof element — is then computed from O(log n) stored nodes.

Node = tuple[int, int]  # (level, index)


def perfect_cover(lo: int, hi: int) -> list[Node]:
    """The stored nodes whose hashes make up MTH of leaves ``[lo, hi)``, left to right."""
    if not 0 <= lo < hi:
        raise ValueError(f"[{lo}, {hi}) is not a non-empty range of leaves")
    n = hi - lo
    if n & (n - 1) == 0 and lo % n == 0:
        level = n.bit_length() - 1
        return [(level, lo >> level)]
    k = _split(n)
    return perfect_cover(lo, lo + k) + perfect_cover(lo + k, hi)


def range_hash(lo: int, hi: int, stored: Callable[[int, int], bytes]) -> bytes:
    """MTH of leaves ``[lo, hi)`` from stored perfect-subtree hashes ``stored(level, index)``."""
    n = hi - lo
    if n & (n - 1) == 0 and lo % n == 0:
        level = n.bit_length() - 1
        return stored(level, lo >> level)
    k = _split(n)
    return node_hash(range_hash(lo, lo + k, stored), range_hash(lo + k, hi, stored))


def nodes_for(ranges: Iterable[tuple[int, int]]) -> set[Node]:
    """Every stored node needed to hash the given ranges."""
    return {node for lo, hi in ranges for node in perfect_cover(lo, hi)}


def completed_nodes(
    index: int, leaf: bytes, frontier: Sequence[tuple[int, bytes]]
) -> list[tuple[int, int, bytes]]:
    """The perfect subtrees that become complete when leaf ``index`` (with hash ``leaf``)
    is appended to a tree whose compact state is ``frontier``: ``(level, index, hash)``,
    the leaf itself first."""
    nodes = [(0, index, leaf)]
    level, node, position = 0, leaf, index
    stack = list(frontier)
    while stack and stack[-1][0] == level:
        _, left = stack.pop()
        level, node, position = level + 1, node_hash(left, node), position >> 1
        nodes.append((level, position, node))
    return nodes


def verify_consistency(
    first_size: int,
    second_size: int,
    first_root: bytes,
    second_root: bytes,
    proof: Sequence[bytes],
) -> bool:
    """Whether ``proof`` shows the tree of ``first_size`` with ``first_root`` is a prefix
    of the tree of ``second_size`` with ``second_root`` (§2.1.4.2)."""
    if first_size < 0 or second_size < 0:
        raise ValueError("a tree size is never negative")
    if first_size > second_size or not _well_formed(proof):
        return False
    if first_size == 0 and first_root != EMPTY_ROOT:
        return False
    if first_size == second_size:
        return not proof and first_root == second_root
    if first_size == 0:  # every tree extends the empty one
        return not proof
    if not proof:
        return False
    path = list(proof)
    if first_size & (first_size - 1) == 0:  # a power of two: the old root is a node
        path.insert(0, first_root)
    fn, sn = first_size - 1, second_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
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
    return sn == 0 and fr == first_root and sr == second_root


class CompactTree:
    """An append-only tree that keeps one root per perfect subtree, largest first."""

    __slots__ = ("_stack",)

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []

    @property
    def size(self) -> int:
        """The number of leaves appended so far."""
        return sum(1 << level for level, _ in self._stack)

    def append(self, leaf_hash: bytes) -> int:
        """Add a leaf hash; answers its index in the tree."""
        _check_hash(leaf_hash)
        index = self.size
        if index >= 1 << (MAX_LEVEL + 1):
            raise ValueError("the tree is full")
        level, node = 0, leaf_hash
        while self._stack and self._stack[-1][0] == level:
            _, left = self._stack.pop()
            level, node = level + 1, node_hash(left, node)
        self._stack.append((level, node))
        return index

    def root(self) -> bytes:
        """The root of the tree so far: equal to ``root()`` of all leaves appended."""
        if not self._stack:
            return EMPTY_ROOT
        result = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            result = node_hash(left, result)
        return result

    def state(self) -> list[tuple[int, bytes]]:
        """The subtree roots as (level, hash), largest subtree first, for persisting."""
        return list(self._stack)

    @classmethod
    def restore(cls, state: Iterable[tuple[int, bytes]]) -> CompactTree:
        """A tree from ``state()``; ``ValueError`` unless levels strictly decrease within
        0..63 and every hash has 32 bytes."""
        tree = cls()
        previous = MAX_LEVEL + 1
        for level, node in state:
            if type(level) is not int or not 0 <= level < previous:
                raise ValueError("levels must be integers strictly decreasing within 0..63")
            _check_hash(node)
            tree._stack.append((level, bytes(node)))
            previous = level
        return tree


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _range_root(leaf_hashes: Sequence[bytes], lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]) for a non-empty range, level by level: an odd node moves up as is."""
    level = list(leaf_hashes[lo:hi])
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _check_hash(value: bytes) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        raise ValueError(f"a hash has {HASH_SIZE} bytes")


def _check_hashes(values: Sequence[bytes]) -> None:
    for value in values:
        _check_hash(value)


def _well_formed(proof: Sequence[bytes]) -> bool:
    return all(isinstance(p, bytes | bytearray) and len(p) == HASH_SIZE for p in proof)
