"""The RFC 9162 Merkle tree (ledger/audit/merkle.py) on the Certificate Transparency
reference vectors — roots, proofs and the corruptions of transparency-dev/merkle's verifier
probes —, its edge cases and refusals, and every proof of every small tree against the RFC
written out in merkle_reference.py."""

from __future__ import annotations

import hashlib

import pytest

from grondslag.ledger.audit.merkle import (
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

from merkle_reference import (
    CT_CONSISTENCY,
    CT_HASHES,
    CT_INCLUSION,
    CT_ROOTS,
    EMPTY_ROOT,
    SOME_HASH,
    ct_root,
    flip,
    ref_mth,
    ref_path,
    ref_subproof,
)


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
