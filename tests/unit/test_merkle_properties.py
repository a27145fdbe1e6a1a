"""Properties of the Merkle tree over random trees: roots and proofs equal the RFC written
out in merkle_reference.py, proofs verify, and any tampering makes them fail."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from grondslag.ledger.audit.merkle import (
    consistency_proof,
    inclusion_proof,
    root,
    verify_consistency,
    verify_inclusion,
)

from merkle_reference import SOME_HASH, flip, ref_mth, ref_path, ref_shape, ref_subproof, trees

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
