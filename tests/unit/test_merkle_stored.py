"""A tree kept as stored perfect subtrees (ledger/audit/merkle.py, lower half): the nodes a
projector writes leaf by leaf with ``completed_nodes``, and the roots and proofs rebuilt from
them with ``perfect_cover``/``range_hash``/``inclusion_ranges``/``consistency_ranges``,
checked against an independent RFC 9162 written out below (no code shared with the module
or with test_merkle.py)."""

from __future__ import annotations

import hashlib
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grondslag.ledger.audit import merkle
from grondslag.ledger.audit.merkle import (
    CompactTree,
    completed_nodes,
    consistency_ranges,
    inclusion_ranges,
    nodes_for,
    perfect_cover,
    range_hash,
    verify_consistency,
    verify_inclusion,
)

Node = tuple[int, int]

# -- RFC 9162, as plainly as it reads --------------------------------------------------------


def rfc_leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def rfc_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def rfc_k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def rfc_mth(d: list[bytes]) -> bytes:
    """MTH(D[n]), §2.1.1 (over leaf hashes)."""
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = rfc_k(len(d))
    return rfc_node(rfc_mth(d[:k]), rfc_mth(d[k:]))


def rfc_path(m: int, d: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]), §2.1.3.1."""
    if len(d) == 1:
        return []
    k = rfc_k(len(d))
    if m < k:
        return [*rfc_path(m, d[:k]), rfc_mth(d[k:])]
    return [*rfc_path(m - k, d[k:]), rfc_mth(d[:k])]


def rfc_path_length(m: int, n: int) -> int:
    """len(PATH(m, D[n])) without hashing."""
    if n == 1:
        return 0
    k = rfc_k(n)
    return 1 + (rfc_path_length(m, k) if m < k else rfc_path_length(m - k, n - k))


def rfc_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b), §2.1.4.1."""
    n = len(d)
    if m == n:
        return [] if b else [rfc_mth(d)]
    k = rfc_k(n)
    if m <= k:
        return [*rfc_subproof(m, d[:k], b), rfc_mth(d[k:])]
    return [*rfc_subproof(m - k, d[k:], False), rfc_mth(d[:k])]


def rfc_proof(m: int, d: list[bytes]) -> list[bytes]:
    """PROOF(m, D[n]); empty from the empty tree (the module's documented convention)."""
    return [] if m == 0 else rfc_subproof(m, d, True)


def leaves(n: int, salt: bytes = b"") -> list[bytes]:
    return [rfc_leaf(salt + i.to_bytes(8, "big")) for i in range(n)]


def all_perfect_nodes(d: list[bytes]) -> dict[Node, bytes]:
    """Every complete perfect subtree of D[n], built bottom-up by pairing."""
    nodes: dict[Node, bytes] = {}
    level, row = 0, list(d)
    while row:
        for i, h in enumerate(row):
            nodes[level, i] = h
        row = [rfc_node(row[i], row[i + 1]) for i in range(0, len(row) - 1, 2)]
        level += 1
    return nodes


# -- the projector ---------------------------------------------------------------------------


def project(d: list[bytes]) -> tuple[dict[Node, bytes], dict[Node, int], list[int]]:
    """Append the leaves one at a time as a projector does: ``completed_nodes`` against the
    tree's state, then ``append``. Answers the stored nodes, the number of leaves at which
    each was written (its leaf index + 1), and the number of nodes written per leaf."""
    tree = CompactTree()
    stored: dict[Node, bytes] = {}
    written_at: dict[Node, int] = {}
    per_leaf: list[int] = []
    for index, leaf in enumerate(d):
        new = completed_nodes(index, leaf, tree.state())
        assert new[0] == (0, index, leaf), "the leaf itself comes first"
        assert tree.append(leaf) == index
        for level, position, h in new:
            assert (level, position) not in stored, f"node {(level, position)} written twice"
            stored[level, position] = h
            written_at[level, position] = index + 1
        # The last completed node is the tree's new smallest subtree root.
        top_level, _, top_hash = new[-1]
        assert tree.state()[-1] == (top_level, top_hash)
        per_leaf.append(len(new))
    return stored, written_at, per_leaf


def at_size(stored: dict[Node, bytes], written_at: dict[Node, int], n: int) -> dict[Node, bytes]:
    """The nodes a store held when the tree had n leaves."""
    return {node: h for node, h in stored.items() if written_at[node] <= n}


def strict_lookup(nodes: dict[Node, bytes], asked: list[Node] | None = None):
    """``stored(level, index)`` over ``nodes``: a node not stored is a KeyError."""

    def lookup(level: int, index: int) -> bytes:
        if asked is not None:
            asked.append((level, index))
        return nodes[level, index]

    return lookup


def check_tree(
    d: list[bytes],
    nodes: dict[Node, bytes],
    indexes: list[int],
    firsts: list[int],
) -> None:
    """Every claim about a tree of len(d) leaves whose store holds ``nodes``."""
    n = len(d)
    expected = all_perfect_nodes(d)
    assert set(nodes) == set(expected)
    assert nodes == expected
    lookup = strict_lookup(nodes)
    root = rfc_mth(d)
    asked: list[Node] = []
    assert range_hash(0, n, strict_lookup(nodes, asked)) == root
    assert asked == perfect_cover(0, n)
    for i in indexes:
        ranges = inclusion_ranges(i, n)
        assert len(nodes_for(ranges)) <= 2 * n.bit_length()
        proof = [range_hash(lo, hi, lookup) for lo, hi in ranges]
        assert proof == rfc_path(i, d), f"inclusion proof of leaf {i} of {n}"
        assert proof == merkle.inclusion_proof(i, d)
        assert verify_inclusion(i, n, d[i], proof, root)
        if proof:
            assert not verify_inclusion(i, n, d[i], proof[:-1], root)
    for m in firsts:
        ranges = consistency_ranges(m, n)
        proof = [range_hash(lo, hi, lookup) for lo, hi in ranges]
        assert proof == rfc_proof(m, d), f"consistency proof {m} -> {n}"
        assert proof == merkle.consistency_proof(m, d)
        assert verify_consistency(m, n, rfc_mth(d[:m]), root, proof)
        if 0 < m < n:
            wrong = rfc_leaf(b"not the old tree")
            assert not verify_consistency(m, n, wrong, root, proof)


# -- sizes around powers of two ----------------------------------------------------------------

SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 1023, 1024, 1025]
BIG = max(SIZES)


@pytest.fixture(scope="module")
def projected() -> tuple[list[bytes], dict[Node, bytes], dict[Node, int], list[int]]:
    d = leaves(BIG, b"powers")
    return (d, *project(d))


@pytest.mark.parametrize("n", SIZES)
def test_the_store_at_sizes_around_powers_of_two(projected, n):
    d, stored, written_at, _ = projected
    if n <= 64:
        indexes, firsts = list(range(n)), list(range(n + 1))
    else:
        picks = {0, 1, 2, n // 3, n // 2 - 1, n // 2, 511, 512, 513, n - 2, n - 1}
        indexes = sorted(i for i in picks if 0 <= i < n)
        picks = {0, 1, 2, 3, 255, 256, 511, 512, 513, 1000, 1022, 1023, n - 1, n}
        firsts = sorted(m for m in picks if 0 <= m <= n)
    check_tree(d[:n], at_size(stored, written_at, n), indexes, firsts)


def test_each_leaf_completes_one_node_per_trailing_one_bit(projected):
    _, stored, _, per_leaf = projected
    for index, count in enumerate(per_leaf):
        trailing_ones = (index ^ (index + 1)).bit_length() - 1
        assert count == 1 + trailing_ones
    for n in SIZES:
        written = sum(per_leaf[:n])
        assert written == 2 * n - bin(n).count("1")  # sum over levels of floor(n / 2**level)
        assert written < 2 * n
    assert len(stored) == sum(per_leaf) < 2 * BIG


def test_a_proof_never_needs_a_node_completed_after_its_tree_size(projected):
    d, stored, written_at, _ = projected
    for n in (5, 17, 33, 100, 1000):
        for i in (0, n // 2, n - 1):
            for node in nodes_for(inclusion_ranges(i, n)):
                assert written_at[node] <= n
        for m in (1, n // 2, n - 1):
            for node in nodes_for(consistency_ranges(m, n)):
                assert written_at[node] <= n
    # And the store at n really lacks later nodes: hashing past n fails, it does not guess.
    with pytest.raises(KeyError):
        range_hash(0, 34, strict_lookup(at_size(stored, written_at, 33)))
    assert range_hash(0, 34, strict_lookup(at_size(stored, written_at, 34))) == rfc_mth(d[:34])


# -- random trees ------------------------------------------------------------------------------


@settings(max_examples=120, deadline=None)
@given(data=st.data(), n=st.integers(1, 300), salt=st.binary(max_size=8))
def test_stored_nodes_give_the_rfc_root_and_proofs(data, n, salt):
    d = leaves(n, salt)
    stored, written_at, per_leaf = project(d)
    assert all(w <= n for w in written_at.values())
    assert sum(per_leaf) == len(stored) < 2 * n
    indexes = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=6), label="indexes")
    firsts = data.draw(st.lists(st.integers(0, n), min_size=1, max_size=6), label="firsts")
    check_tree(d, stored, indexes, firsts)
    # Any prefix of the same store answers for the smaller tree too.
    m = data.draw(st.integers(1, n), label="prefix")
    check_tree(d[:m], at_size(stored, written_at, m), [m - 1, 0], [0, m // 2, m])


def check_cover(lo: int, hi: int) -> list[Node]:
    cover = perfect_cover(lo, hi)
    position = lo
    for level, index in cover:
        width = 1 << level
        assert index * width == position, f"{(level, index)} is not aligned at {position}"
        position += width
    assert position == hi, "the cover does not tile [lo, hi)"
    return cover


@settings(max_examples=400, deadline=None)
@given(lo=st.integers(0, 5000), width=st.integers(1, 5000), salt=st.binary(max_size=4))
def test_perfect_cover_tiles_the_range_with_aligned_perfect_nodes(lo, width, salt):
    hi = lo + width
    cover = check_cover(lo, hi)
    asked: list[Node] = []

    def anything(level: int, index: int) -> bytes:
        asked.append((level, index))
        return rfc_leaf(salt + bytes([level]) + index.to_bytes(4, "big"))

    range_hash(lo, hi, anything)
    assert asked == cover, "range_hash reads exactly the cover, left to right"
    assert nodes_for([(lo, hi)]) == set(cover)


@settings(max_examples=60, deadline=None)
@given(lo=st.integers(0, 200), width=st.integers(1, 100), salt=st.binary(max_size=4))
def test_range_hash_of_any_range_is_its_mth(lo, width, salt):
    d = leaves(lo + width, salt)
    nodes = all_perfect_nodes(d)
    assert range_hash(lo, lo + width, strict_lookup(nodes)) == rfc_mth(d[lo : lo + width])


@pytest.mark.parametrize(("lo", "hi"), [(0, 0), (5, 5), (5, 4), (-1, 3)])
def test_perfect_cover_refuses_an_empty_or_negative_range(lo, hi):
    with pytest.raises(ValueError):
        perfect_cover(lo, hi)


@pytest.mark.parametrize(
    ("lo", "hi", "cover"),
    [
        (0, 1, [(0, 0)]),
        (0, 8, [(3, 0)]),
        (8, 16, [(3, 1)]),
        (0, 7, [(2, 0), (1, 2), (0, 6)]),
        (3, 5, [(0, 3), (0, 4)]),  # width 2, not aligned: two leaves
        (4, 12, [(2, 1), (2, 2)]),  # width 8, not aligned: MTH splits it into 4 + 4
        (1024, 1025, [(0, 1024)]),
    ],
)
def test_perfect_cover_examples(lo, hi, cover):
    assert check_cover(lo, hi) == cover


# -- ranges without hashing ------------------------------------------------------------------


def test_a_million_leaves_need_twenty_proof_hashes():
    n = 1_000_000
    assert len(inclusion_ranges(0, n)) == 20
    assert len(inclusion_ranges(524_287, n)) == 20  # the whole left 2**19 subtree: depth 19 + 1
    samples = [0, 1, 2**19 - 1, 2**19, 777_777, 999_936, n - 2, n - 1]
    for i in samples:
        ranges = inclusion_ranges(i, n)
        assert len(ranges) == rfc_path_length(i, n) <= 20
        assert len(nodes_for(ranges)) <= 2 * 20
        assert all(lo <= hi for lo, hi in ranges)
        assert not any(lo <= i < hi for lo, hi in ranges), "a sibling never holds the leaf"
    assert max(len(inclusion_ranges(i, n)) for i in samples) == 20
    assert len(inclusion_ranges(n - 1, n)) == 12  # 7 perfect subtrees, the last of 64 leaves
    # The siblings and the leaf tile the whole tree.
    for i in (0, 777_777, n - 1):
        spans = sorted([*inclusion_ranges(i, n), (i, i + 1)])
        assert spans[0][0] == 0 and spans[-1][1] == n
        assert all(a[1] == b[0] for a, b in pairwise(spans))


@pytest.mark.parametrize(("index", "size"), [(0, 0), (5, 5), (-1, 5), (6, 5)])
def test_inclusion_ranges_refuses_an_index_outside_the_tree(index, size):
    with pytest.raises(ValueError):
        inclusion_ranges(index, size)


@pytest.mark.parametrize(("first", "size"), [(-1, 5), (6, 5)])
def test_consistency_ranges_refuses_a_first_size_outside_the_tree(first, size):
    with pytest.raises(ValueError):
        consistency_ranges(first, size)


def test_consistency_ranges_of_the_empty_and_the_same_tree_are_empty():
    assert consistency_ranges(0, 0) == []
    assert consistency_ranges(0, 9) == []
    assert consistency_ranges(9, 9) == []
    assert consistency_ranges(4, 8) == [(4, 8)]  # a power of two: the old root is implied
    assert consistency_ranges(3, 8) == [(2, 3), (3, 4), (0, 2), (4, 8)]
