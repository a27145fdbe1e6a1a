"""The compact tree (ledger/audit/merkle.py): one subtree per set bit of the size, the same
root as the whole tree at every size, restored from its stored state midway, and refusing a
malformed state."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grondslag.ledger.audit.merkle import CompactTree, leaf_hash, root

from merkle_reference import EMPTY_ROOT, SOME_HASH, ref_mth, trees


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
