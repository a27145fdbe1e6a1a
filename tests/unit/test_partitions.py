"""How a projection's work is split and shared: a tenant's partition is the same in every
process and in SQL (the integration test holds the SQL to it), and processes that each
take their fair share own every partition between them, none twice."""

from __future__ import annotations

import pytest

from grondslag.projector.partitions import (
    fair_share,
    partition_of,
    to_claim,
    to_release,
)


def test_a_tenant_has_one_partition_whatever_the_process() -> None:
    # MD5's first 28 bits: fixed values, so that a change of hash cannot pass unnoticed
    assert [partition_of(t, 8) for t in ("demo", "t-1", "praktijk-de-linde")] == [2, 6, 2]
    assert partition_of("demo", 1) == 0


def test_tenants_spread_over_the_partitions() -> None:
    counts = [0] * 8
    for n in range(800):
        counts[partition_of(f"tenant-{n}", 8)] += 1
    assert min(counts) > 60 and max(counts) < 140  # no partition empty or twice its share


@pytest.mark.parametrize(("count", "alive", "share"), [(8, 1, 8), (8, 3, 3), (8, 8, 1), (8, 9, 1)])
def test_the_fair_share_lets_the_live_processes_own_every_partition(
    count: int, alive: int, share: int
) -> None:
    assert fair_share(count, alive) == share
    assert fair_share(count, alive) * alive >= count


def test_processes_claiming_in_turn_own_every_partition_once() -> None:
    owned: list[set[int]] = [set(), set(), set()]
    for _ in range(3):  # a few rounds of every process claiming what is free
        for n, mine in enumerate(owned):
            taken = set().union(*owned) - mine
            mine |= set(to_claim(8, mine, taken, fair_share(8, 3), start=n * 3))
    assert sorted(p for mine in owned for p in mine) == list(range(8))
    assert sorted(len(mine) for mine in owned) == [2, 3, 3]


def test_a_process_beyond_its_share_gives_back_its_highest() -> None:
    assert to_release({0, 1, 2, 5, 7}, 3) == [7, 5]
    assert to_release({0, 1}, 3) == []


def test_a_claim_starts_at_the_process_number_and_skips_what_is_taken() -> None:
    assert to_claim(8, set(), {5}, 3, start=4) == [4, 6, 7]
    assert to_claim(8, {1, 2, 3}, set(), 3, start=0) == []
