"""``grondslag rebuild --jobs K`` on real PostgreSQL: the fold split by standing over K
processes builds the read model the fold in one process builds, and the live projection,
byte for byte but for the instant each fold ran at; a job that fails or dies fails the
rebuild with the half-built table dropped and the read model as it was; what is written
while the jobs fold is re-applied after the swap; and ``--jobs`` takes a positive whole
number only.

The module runs on a database of its own (``own_database_url``): no session projector
projects into its read model behind the tests' backs.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import secrets
import signal
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
import psycopg
import pytest

from grondslag import cli
from grondslag.ledger.application import Ledger
from grondslag.ledger.domain.ids import standing_id
from grondslag.ledger.domain.values import PersonalData
from grondslag.ledger.reads.checks import CURRENT_STANDING_TABLE
from grondslag.ledger.settings import Settings
from grondslag.projector import current_standing
from grondslag.projector.follower import LogFollower
from grondslag.projector.partitions import partition_of
from grondslag.projector.rebuild import (
    REBUILD_TABLE,
    RebuildFailed,
    fold_into,
    rebuild_into,
    swap_in,
)

from projector_support import REGISTERED, give, set_state, terms, wait_for, withdraw

JOBS = 3
COLUMNS = ", ".join(current_standing.COLUMNS + current_standing.HELD)
ANSWER, FOLDED_AT = COLUMNS.split(", ").index("answer"), COLUMNS.split(", ").index("answer_from")
PURPOSES = {"photo": terms("photo"), "newsletter": terms("newsletter")}


def share_of(tenant: str, ref: str = "client-0", purpose: str = "photo") -> int:
    """The job of ``JOBS`` that folds the standing (by its stream id, as the jobs split)."""
    return partition_of(str(standing_id(tenant, ref, purpose)), JOBS)


def tenants_in_every_share(count: int = 2) -> list[str]:
    """New tenant names, ``count`` in each of the ``JOBS`` shares by their first client's
    photo standing: every job has work, and the last tenant's lies in a known share."""
    names: list[str] = []
    while len(names) < JOBS * count:
        name = f"t-{secrets.token_hex(4)}"
        if sum(share_of(n) == share_of(name) for n in names) < count:
            names.append(name)
    return names


def write_tenants(ledger: Ledger, subjects: int = 4) -> list[str]:
    """Tenants in every share, each with subjects (birth dates sealed: the fold unseals
    them) consenting, withdrawing, one with a consent that expires next year."""
    tenants = tenants_in_every_share()
    next_year = datetime.now(UTC) + timedelta(365)
    for tenant in tenants:
        for code, purpose_terms in PURPOSES.items():
            ledger.register_purpose(tenant, code, purpose_terms, REGISTERED)
        for n in range(subjects):
            ref = f"client-{n}"
            ledger.put_subject(tenant, ref, PersonalData(birth_date=date(1990 + n, 3, 1)))
            give(ledger, tenant, ref, "photo")
            if n % 2:
                give(ledger, tenant, ref, "newsletter", expires_at=next_year)
            if n % 3 == 2:
                withdraw(ledger, tenant, ref, "photo")
    return tenants


async def rows_of(pool: asyncpg.Pool, table: str, tenants: list[str]) -> list[tuple[Any, ...]]:
    """The tenants' rows, every column, but for the instant of the fold that wrote each: its
    ``answer_from``, and the same instant where the rendered answer holds it (``at``,
    ``known_at``: the answer to "now")."""
    rows = []
    for row in await pool.fetch(
        f"SELECT {COLUMNS} FROM {table} WHERE tenant = ANY($1::text[]) "
        "ORDER BY tenant, purpose, subject_ref",
        tenants,
    ):
        values = list(row)
        if values[ANSWER] is not None:
            instant = msgspec.json.encode(values[FOLDED_AT])
            values[ANSWER] = values[ANSWER].replace(instant, b'"<the fold\'s now>"')
            assert b"<the fold's now>" in values[ANSWER]
        values[FOLDED_AT] = None
        rows.append(tuple(values))
    return rows


async def folded_rows(
    pool: asyncpg.Pool, url: str, tenants: list[str], jobs: int
) -> list[tuple[Any, ...]]:
    table = f"t_rebuild_{secrets.token_hex(4)}"
    try:
        folded = await fold_into(pool, table, jobs=jobs, settings=Settings(database_url=url))
        assert len(folded.shares) == jobs
        if jobs > 1:  # the tenants of every share were folded, each by its own job
            assert all(share.standings > 0 for share in folded.shares)
        return await rows_of(pool, table, tenants)
    finally:
        await pool.execute(f"DROP TABLE IF EXISTS {table}")


async def live_follower(pool: asyncpg.Pool, url: str) -> LogFollower:
    """The read model's own projection (the one a swap sets back), on this test's pool."""
    follower = LogFollower(pool, url, current_standing.NAME, current_standing.project)
    await follower.setup()
    return follower


async def table_exists(pool: asyncpg.Pool, table: str) -> bool:
    return await pool.fetchval("SELECT to_regclass($1) IS NOT NULL", table)


async def test_a_rebuild_in_three_jobs_folds_the_rows_of_one_job_and_of_the_live_projection(
    ledger: Ledger, pool: asyncpg.Pool, own_database_url: str
) -> None:
    tenants = await asyncio.to_thread(write_tenants, ledger)
    follower = await live_follower(pool, own_database_url)
    await follower.catch_up()

    live = await rows_of(pool, CURRENT_STANDING_TABLE, tenants)
    one = await folded_rows(pool, own_database_url, tenants, 1)
    three = await folded_rows(pool, own_database_url, tenants, JOBS)

    assert len(live) == len(tenants) * (4 + 2)  # a photo each, two newsletters
    assert three == one == live
    assert all(row[ANSWER] for row in three)  # each with its rendered answer, the same bytes


@pytest.mark.parametrize("jobs", [1, JOBS])
async def test_a_job_that_cannot_read_a_stream_fails_the_rebuild_and_leaves_the_read_model(
    ledger: Ledger, pool: asyncpg.Pool, own_database_url: str, jobs: int
) -> None:
    tenants = await asyncio.to_thread(write_tenants, ledger, 2)
    follower = await live_follower(pool, own_database_url)
    await follower.catch_up()
    before = await pool.fetch(f"SELECT * FROM {CURRENT_STANDING_TABLE} ORDER BY 1, 2, 3")
    positions = await pool.fetch("SELECT * FROM grondslag_tracking ORDER BY 1, partition")
    broken = standing_id(tenants[-1], "client-0", "photo")
    stored = await set_state(own_database_url, broken, 2, b"\x00not an event")
    try:
        with pytest.raises(RebuildFailed, match=f"StreamUnreadable: stream {broken}") as failed:
            await rebuild_into(pool, jobs=jobs, settings=Settings(database_url=own_database_url))
    finally:
        await set_state(own_database_url, broken, 2, stored)

    if jobs > 1:
        share = share_of(tenants[-1])
        assert f"rebuild job {share + 1} of {JOBS} failed" in str(failed.value)
    assert not await table_exists(pool, REBUILD_TABLE)
    assert await pool.fetch(f"SELECT * FROM {CURRENT_STANDING_TABLE} ORDER BY 1, 2, 3") == before
    assert await pool.fetch("SELECT * FROM grondslag_tracking ORDER BY 1, partition") == positions
    assert multiprocessing.active_children() == []  # the other jobs were stopped


async def test_a_job_killed_mid_fold_fails_the_rebuild_and_leaves_the_read_model(
    ledger: Ledger, pool: asyncpg.Pool, own_database_url: str
) -> None:
    await asyncio.to_thread(write_tenants, ledger, 2)
    follower = await live_follower(pool, own_database_url)
    await follower.catch_up()
    before = await pool.fetch(f"SELECT * FROM {CURRENT_STANDING_TABLE} ORDER BY 1, 2, 3")
    # the jobs wait at their first dossier query (it reads the subjects' keys) until released
    holder = await asyncpg.connect(own_database_url)
    locked = holder.transaction()
    await locked.start()
    await holder.execute("LOCK TABLE grondslag_subject_keys IN ACCESS EXCLUSIVE MODE")
    settings = Settings(database_url=own_database_url)
    rebuilding = asyncio.create_task(rebuild_into(pool, jobs=JOBS, settings=settings))
    try:

        async def all_waiting() -> bool:
            return (
                await pool.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND application_name LIKE 'grondslag-rebuild:%'"
                )
                == JOBS
            )

        await wait_for(all_waiting, 60, "every job waiting at its first dossier")
        (second,) = [c for c in multiprocessing.active_children() if c.name.endswith("-2")]
        assert second.pid
        os.kill(second.pid, signal.SIGKILL)
    finally:
        await locked.rollback()
        await holder.close()
    with pytest.raises(RebuildFailed, match=f"rebuild job 2 of {JOBS} ended \\(killed by SIGKILL"):
        await rebuilding

    assert not await table_exists(pool, REBUILD_TABLE)
    assert await pool.fetch(f"SELECT * FROM {CURRENT_STANDING_TABLE} ORDER BY 1, 2, 3") == before
    assert multiprocessing.active_children() == []


async def test_what_is_written_while_the_jobs_fold_is_reapplied_after_the_swap(
    ledger: Ledger, pool: asyncpg.Pool, own_database_url: str
) -> None:
    tenants = await asyncio.to_thread(write_tenants, ledger)
    follower = await live_follower(pool, own_database_url)
    await follower.catch_up()
    settings = Settings(database_url=own_database_url)

    def burst(ref: str, withdrawn: str) -> None:  # every tenant, while the jobs fold, after
        for tenant in tenants:
            ledger.put_subject(tenant, ref, PersonalData(birth_date=date(2001, 1, 1)))
            give(ledger, tenant, ref, "photo")
            withdraw(ledger, tenant, withdrawn, "photo")

    folding = asyncio.create_task(rebuild_into(pool, jobs=JOBS, settings=settings))
    await asyncio.to_thread(burst, "during", "client-1")
    position, _ = await folding
    await asyncio.to_thread(
        burst, "after", "client-3"
    )  # before the swap: the fold cannot have these
    await swap_in(pool, position)
    assert await follower.position() == position
    await follower.catch_up()

    rows = await rows_of(pool, CURRENT_STANDING_TABLE, tenants)
    assert rows == await folded_rows(pool, own_database_url, tenants, 1)
    status = {(r[0], r[1], r[2]): r[4] for r in rows}
    for tenant in tenants:
        assert status[(tenant, "photo", "during")] == status[(tenant, "photo", "after")] == "lawful"
        assert status[(tenant, "photo", "client-1")] == status[(tenant, "photo", "client-3")]
        assert status[(tenant, "photo", "client-3")] == "lapsed"


def test_the_rebuild_command_folds_in_jobs_and_says_so(
    ledger: Ledger,
    own_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tenants = write_tenants(ledger, 2)
    monkeypatch.setenv("DATABASE_URL", own_database_url)  # (in this process: no new import)
    monkeypatch.delenv("NATS_URL", raising=False)

    assert cli.main(["rebuild", "--jobs", "2"]) == 0

    assert " in 2 jobs in " in capsys.readouterr().out
    with psycopg.connect(own_database_url) as conn:
        (rows,) = conn.execute(
            f"SELECT count(*) FROM {CURRENT_STANDING_TABLE} WHERE tenant = ANY(%s)", (tenants,)
        ).fetchone() or (0,)
    assert rows == len(tenants) * 3


@pytest.mark.parametrize("jobs", ["0", "-1", "two", "1.5"])
def test_rebuild_jobs_takes_a_positive_whole_number_only(
    jobs: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["rebuild", "--jobs", jobs])
    assert stopped.value.code == 2
    assert f"argument --jobs: {jobs!r} is not a positive whole number" in capsys.readouterr().err
