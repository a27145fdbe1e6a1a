"""The RFC 9162 Merkle tree (ledger/audit/merkle.py): the Certificate Transparency reference
vectors, an independent recursive reimplementation of the RFC written out below, and
properties over random trees: proofs verify, and any tampering makes them fail."""

from __future__ import annotations

import hashlib

import pytest
from grondslag.ledger.audit.merkle import (
    CompactTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)
from hypothesis import given, settings
from hypothesis import strategies as st

# -- The RFC, written out as plainly as it reads (no code shared with the module) ----------


def ref_leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def ref_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def ref_k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(hashes: list[bytes]) -> bytes:
    """MTH(D[n]), §2.1.1, over leaf hashes."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = ref_k(len(hashes))
    return ref_node(ref_mth(hashes[:k]), ref_mth(hashes[k:]))


def ref_path(m: int, hashes: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]), §2.1.3.1."""
    if len(hashes) == 1:
        return []
    k = ref_k(len(hashes))
    if m < k:
        return [*ref_path(m, hashes[:k]), ref_mth(hashes[k:])]
    return [*ref_path(m - k, hashes[k:]), ref_mth(hashes[:k])]


def ref_subproof(m: int, hashes: list[bytes], whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b), §2.1.4.1."""
    n = len(hashes)
    if m == n:
        return [] if whole else [ref_mth(hashes)]
    k = ref_k(n)
    if m <= k:
        return [*ref_subproof(m, hashes[:k], whole), ref_mth(hashes[k:])]
    return [*ref_subproof(m - k, hashes[k:], False), ref_mth(hashes[:k])]


def ref_shape(m: int, n: int) -> tuple[bool, ...]:
    """Where each sibling of PATH(m, D[n]) lies (True: on the left), leaf upwards."""
    if n == 1:
        return ()
    k = ref_k(n)
    return (*ref_shape(m, k), False) if m < k else (*ref_shape(m - k, n - k), True)


def flip(value: bytes, position: int, bit: int = 0) -> bytes:
    """The value with one bit of one byte flipped."""
    changed = bytearray(value)
    changed[position % len(changed)] ^= 1 << bit
    return bytes(changed)


# -- The Certificate Transparency reference tree -----------------------------------------
# Leaves, roots and proofs of the certificate-transparency test suite (also in
# transparency-dev/merkle's testonly data and its verifier probes).

CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
CT_HASHES = [leaf_hash(leaf) for leaf in CT_LEAVES]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf index, tree size, audit path); indices are 0-based here.
CT_INCLUSION = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
# (first size, second size, consistency proof)
CT_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
EMPTY_ROOT = bytes.fromhex(CT_ROOTS[0])
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def ct_root(size: int) -> bytes:
    return bytes.fromhex(CT_ROOTS[size])


def test_leaf_and_node_hashes_are_domain_separated():
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    left, right = b"L" * 32, b"R" * 32
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    # A node can never pass for a leaf over the same bytes, nor the other way round.
    assert node_hash(left, right) != leaf_hash(left + right)


@pytest.mark.parametrize("size", range(9))
def test_root_of_the_ct_reference_tree(size):
    assert root(CT_HASHES[:size]).hex() == CT_ROOTS[size]
    assert ref_mth(CT_HASHES[:size]).hex() == CT_ROOTS[size]


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_inclusion_proofs_of_the_ct_reference_tree(index, size, path):
    proof = inclusion_proof(index, CT_HASHES[:size])
    assert [p.hex() for p in proof] == path
    assert verify_inclusion(index, size, CT_HASHES[index], proof, ct_root(size))


@pytest.mark.parametrize(("first", "second", "path"), CT_CONSISTENCY)
def test_consistency_proofs_of_the_ct_reference_tree(first, second, path):
    proof = consistency_proof(first, CT_HASHES[:second])
    assert [p.hex() for p in proof] == path
    assert verify_consistency(first, second, ct_root(first), ct_root(second), proof)


def corrupted_inclusions():
    """The corruptions of transparency-dev/merkle's verifier probes, per reference proof."""
    for index, size, path in CT_INCLUSION:
        proof = [bytes.fromhex(p) for p in path]
        good = (index, size, CT_HASHES[index], proof, ct_root(size))
        yield from (
            ("index - 1", (index - 1, *good[1:])),
            ("index + 1", (index + 1, *good[1:])),
            ("index ^ 2", (index ^ 2, *good[1:])),
            ("size * 2", (index, size * 2, *good[2:])),
            ("size // 2", (index, size // 2, *good[2:])),
            ("wrong leaf", (index, size, b"WrongLeaf", proof, good[4])),
            ("empty root", (*good[:4], EMPTY_ROOT)),
            ("random root", (*good[:4], SOME_HASH)),
            ("trailing garbage", (*good[:3], [*proof, b""], good[4])),
            ("trailing root", (*good[:3], [*proof, good[4]], good[4])),
            ("preceding garbage", (*good[:3], [b"", *proof], good[4])),
            ("preceding root", (*good[:3], [good[4], *proof], good[4])),
        )
        for i in range(len(proof)):
            wrong = [*proof]
            wrong[i] = flip(wrong[i], 0, 3)
            yield (f"flipped proof[{i}]", (*good[:3], wrong, good[4]))
        if proof:
            yield ("removed component", (*good[:3], proof[:-1], good[4]))
        if len(proof) > 1:
            yield ("inserted component", (*good[:3], [proof[0], SOME_HASH, *proof[1:]], good[4]))


@pytest.mark.parametrize(("what", "args"), list(corrupted_inclusions()))
def test_corrupted_inclusion_proofs_fail(what, args):
    if args[0] < 0:
        with pytest.raises(ValueError):
            verify_inclusion(*args)
    else:
        assert verify_inclusion(*args) is False, what


def corrupted_consistencies():
    for first, second, path in CT_CONSISTENCY:
        if not path:
            continue
        proof = [bytes.fromhex(p) for p in path]
        r1, r2 = ct_root(first), ct_root(second)
        yield from (
            ("first - 1", (first - 1, second, r1, r2, proof)),
            ("first + 1", (first + 1, second, r1, r2, proof)),
            ("first ^ 2", (first ^ 2, second, r1, r2, proof)),
            ("second * 2", (first, second * 2, r1, r2, proof)),
            ("second // 2", (first, second // 2, r1, r2, proof)),
            ("wrong first root", (first, second, b"WrongRoot", r2, proof)),
            ("wrong second root", (first, second, r1, b"WrongRoot", proof)),
            ("swapped roots", (first, second, r2, r1, proof)),
            ("empty proof", (first, second, r1, r2, [])),
            ("trailing garbage", (first, second, r1, r2, [*proof, b""])),
            ("trailing first root", (first, second, r1, r2, [*proof, r1])),
            ("trailing second root", (first, second, r1, r2, [*proof, r2])),
            ("preceding garbage", (first, second, r1, r2, [b"", *proof])),
            ("preceding first root", (first, second, r1, r2, [r1, *proof])),
            ("preceding second root", (first, second, r1, r2, [r2, *proof])),
            ("preceding proof[0]", (first, second, r1, r2, [proof[0], *proof])),
            ("truncated", (first, second, r1, r2, proof[:-1])),
        )
        for i in range(len(proof)):
            wrong = [*proof]
            wrong[i] = flip(wrong[i], 0, 4)
            yield (f"flipped proof[{i}]", (first, second, r1, r2, wrong))


@pytest.mark.parametrize(("what", "args"), list(corrupted_consistencies()))
def test_corrupted_consistency_proofs_fail(what, args):
    assert verify_consistency(*args) is False, what


def test_edge_cases_of_inclusion_verification():
    single = leaf_hash(b"data")
    assert verify_inclusion(0, 1, single, [], single)  # a one-leaf tree: the root is the leaf
    assert not verify_inclusion(0, 1, b"", [], single)
    assert not verify_inclusion(0, 1, single, [], b"")
    for index, size in [(0, 0), (0, 1), (1, 0), (2, 1)]:
        assert not verify_inclusion(index, size, SOME_HASH, [], b"")
        assert not verify_inclusion(index, size, b"", [], EMPTY_ROOT)
        assert not verify_inclusion(index, size, SOME_HASH, [], EMPTY_ROOT)


def test_edge_cases_of_consistency_verification():
    r1, r2 = leaf_hash(b"one"), leaf_hash(b"two")
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(1, 1, r1, r1, [])
    assert verify_consistency(0, 5, EMPTY_ROOT, r2, [])  # every tree extends the empty tree
    assert not verify_consistency(0, 5, r1, r2, [])  # ... whose root is SHA-256("")
    assert not verify_consistency(0, 0, r1, r1, [])
    assert not verify_consistency(0, 0, EMPTY_ROOT, r2, [])
    assert not verify_consistency(1, 1, r1, r2, [])
    assert not verify_consistency(1, 0, r1, r2, [])  # time travel
    assert not verify_consistency(2, 1, r1, r2, [])
    assert not verify_consistency(1, 2, r1, r2, [])  # sizes differ: a proof is needed
    assert not verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])
    assert not verify_consistency(1, 1, r1, r1, [EMPTY_ROOT])
    assert not verify_consistency(0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])


def test_out_of_range_arguments_raise():
    hashes = CT_HASHES[:5]
    for index in (-1, 5, 6):
        with pytest.raises(ValueError):
            inclusion_proof(index, hashes)
    with pytest.raises(ValueError):
        inclusion_proof(0, [])
    for first in (-1, 6):
        with pytest.raises(ValueError):
            consistency_proof(first, hashes)
    with pytest.raises(ValueError):
        verify_inclusion(-1, 5, hashes[0], [], EMPTY_ROOT)
    with pytest.raises(ValueError):
        verify_inclusion(0, -5, hashes[0], [], EMPTY_ROOT)
    with pytest.raises(ValueError):
        verify_consistency(-1, 5, EMPTY_ROOT, EMPTY_ROOT, [])
    with pytest.raises(ValueError):
        verify_consistency(1, -5, EMPTY_ROOT, EMPTY_ROOT, [])
    with pytest.raises(ValueError):
        root([b"short"])
    with pytest.raises(ValueError):
        consistency_proof(0, [b"x" * 33])


def test_every_proof_of_every_small_tree_equals_the_reference():
    hashes = [leaf_hash(i.to_bytes(2, "big")) for i in range(40)]
    for n in range(41):
        tree = hashes[:n]
        tree_root = root(tree)
        assert tree_root == ref_mth(tree)
        for index in range(n):
            proof = inclusion_proof(index, tree)
            assert proof == ref_path(index, tree)
            assert verify_inclusion(index, n, tree[index], proof, tree_root)
        for first in range(n + 1):
            proof = consistency_proof(first, tree)
            if 0 < first < n:
                assert proof == ref_subproof(first, tree, True)
            else:
                assert proof == []
            assert verify_consistency(first, n, root(tree[:first]), tree_root, proof)


# -- Properties over random trees ----------------------------------------------------------


@st.composite
def trees(draw: st.DrawFn, min_size: int = 1, max_size: int = 200) -> list[bytes]:
    """Leaf hashes of a random tree: distinct leaves, salted so every run differs."""
    size = draw(st.integers(min_size, max_size))
    salt = draw(st.binary(max_size=8))
    return [ref_leaf(salt + i.to_bytes(4, "big")) for i in range(size)]


positions = st.integers(0, 31)
bits = st.integers(0, 7)


@settings(deadline=None)
@given(trees(min_size=0))
def test_root_equals_the_reference(tree):
    assert root(tree) == ref_mth(tree)


@settings(deadline=None)
@given(trees(), st.data(), positions, bits)
def test_inclusion_proofs_verify_and_fail_when_tampered(tree, data, position, bit):
    n = len(tree)
    index = data.draw(st.integers(0, n - 1), label="index")
    tree_root = root(tree)
    proof = inclusion_proof(index, tree)
    assert proof == ref_path(index, tree)
    assert verify_inclusion(index, n, tree[index], proof, tree_root)

    assert not verify_inclusion(index, n, flip(tree[index], position, bit), proof, tree_root)
    assert not verify_inclusion(index, n, tree[index], proof, flip(tree_root, position, bit))
    for i in range(len(proof)):
        tampered = [*proof]
        tampered[i] = flip(tampered[i], position, bit)
        assert not verify_inclusion(index, n, tree[index], tampered, tree_root)
    if proof:
        assert not verify_inclusion(index, n, tree[index], proof[:-1], tree_root)
    assert not verify_inclusion(index, n, tree[index], [*proof, SOME_HASH], tree_root)
    # Another leaf's hash at this index, or this leaf's hash at another index.
    if n > 1:
        other = data.draw(st.integers(0, n - 1).filter(lambda i: i != index), label="other")
        assert not verify_inclusion(index, n, tree[other], proof, tree_root)
        assert not verify_inclusion(other, n, tree[index], proof, tree_root)
    assert not verify_inclusion(n + index, n, tree[index], proof, tree_root)


@settings(deadline=None)
@given(trees(), st.data())
def test_inclusion_proofs_fail_for_another_tree_size(tree, data):
    """The root binds the size only through the proof's shape: a size whose audit path has
    the same shape (leaf 0 of 3 or of 4 leaves) verifies, as in every RFC 9162 verifier;
    every other size fails. A checkpoint signs size and root together for this reason."""
    n = len(tree)
    index = data.draw(st.integers(0, n - 1), label="index")
    wrong_size = data.draw(st.integers(0, 2 * n + 2).filter(lambda s: s != n), label="size")
    proof = inclusion_proof(index, tree)
    same_shape = index < wrong_size and ref_shape(index, wrong_size) == ref_shape(index, n)
    assert verify_inclusion(index, wrong_size, tree[index], proof, root(tree)) == same_shape


@settings(deadline=None)
@given(trees(), st.data(), positions, bits)
def test_consistency_proofs_verify_and_fail_when_tampered(tree, data, position, bit):
    n = len(tree)
    m = data.draw(st.integers(0, n), label="first size")
    first_root, second_root = root(tree[:m]), root(tree)
    assert first_root == ref_mth(tree[:m])
    proof = consistency_proof(m, tree)
    assert proof == (ref_subproof(m, tree, True) if 0 < m < n else [])
    assert verify_consistency(m, n, first_root, second_root, proof)

    assert not verify_consistency(m, n, flip(first_root, position, bit), second_root, proof)
    if m:  # (every tree extends the empty one: from size 0 the second root is not bound)
        assert not verify_consistency(m, n, first_root, flip(second_root, position, bit), proof)
    for i in range(len(proof)):
        tampered = [*proof]
        tampered[i] = flip(tampered[i], position, bit)
        assert not verify_consistency(m, n, first_root, second_root, tampered)
    if proof:
        assert not verify_consistency(m, n, first_root, second_root, proof[:-1])
    assert not verify_consistency(m, n, first_root, second_root, [*proof, SOME_HASH])
    # A first tree that is not a prefix: one of its leaves replaced.
    if m:
        forged = [*tree[:m]]
        forged[data.draw(st.integers(0, m - 1), label="forged")] = SOME_HASH
        assert not verify_consistency(m, n, root(forged), second_root, proof)
    if m < n:
        assert not verify_consistency(n, m, second_root, first_root, proof)


# -- The compact tree ----------------------------------------------------------------------


def test_compact_tree_root_equals_root_for_every_size_up_to_300():
    hashes = [leaf_hash(i.to_bytes(2, "big")) for i in range(300)]
    tree = CompactTree()
    assert tree.size == 0 and tree.root() == root([]) == EMPTY_ROOT
    for n, hashed in enumerate(hashes, start=1):
        assert tree.append(hashed) == n - 1
        assert tree.size == n
        assert tree.root() == root(hashes[:n])
        assert len(tree.state()) == n.bit_count()  # one subtree per set bit: O(log n)
        restored = CompactTree.restore(tree.state())
        assert restored.size == n and restored.root() == tree.root()
    assert tree.root() == ref_mth(hashes)


@settings(deadline=None)
@given(trees(min_size=0, max_size=200), st.data())
def test_compact_tree_restored_midway_carries_on(tree, data):
    cut = data.draw(st.integers(0, len(tree)), label="cut")
    first = CompactTree()
    for hashed in tree[:cut]:
        first.append(hashed)
    state = [(level, bytes(node)) for level, node in first.state()]  # as persisted
    second = CompactTree.restore(state)
    for hashed in tree[cut:]:
        second.append(hashed)
    assert second.size == len(tree)
    assert second.root() == root(tree) == ref_mth(tree)


@pytest.mark.parametrize(
    "state",
    [
        [(0, SOME_HASH), (1, SOME_HASH)],  # levels must decrease
        [(1, SOME_HASH), (1, SOME_HASH)],
        [(-1, SOME_HASH)],
        [(64, SOME_HASH)],
        [(True, SOME_HASH)],
        [(2, b"short")],
        [("0", SOME_HASH)],
    ],
)
def test_compact_tree_refuses_a_malformed_state(state):
    with pytest.raises(ValueError):
        CompactTree.restore(state)


def test_compact_tree_refuses_a_hash_of_the_wrong_size():
    with pytest.raises(ValueError):
        CompactTree().append(b"x" * 31)
