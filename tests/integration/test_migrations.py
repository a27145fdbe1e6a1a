"""Versioned migrations (``persistence.migrations``, ``grondslag migrate``): a new database
is brought to this release's schema once, a second migrate changes nothing, processes
migrating at once take turns and apply each step once, a database of release 0.1.0 (its
tables, no version) is adopted as it is, and with migrations off a process refuses a
database that is behind in one line naming ``grondslag migrate``."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from grondslag.ledger.persistence import ddl, migrations
from grondslag.ledger.persistence.ddl import SCHEMA_LOCK

FIXTURE = Path(__file__).parent.parent / "fixtures" / "ledger-0.1.0-unversioned.sql"

NewDatabase = Callable[[str], AbstractContextManager[str]]


@pytest.fixture
def fresh(new_database: NewDatabase) -> Iterator[str]:
    with new_database("grondslag_migrate") as url:
        yield url


def restore_unversioned(url: str) -> None:
    """The dump of a ledger release 0.1.0 made: plain SQL, run by psycopg as one script."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(FIXTURE.read_bytes())


def schema_of(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """What the catalog says of our objects: columns, indexes, constraints, functions,
    triggers and types (the version table aside)."""
    queries = {
        "columns": """SELECT table_name, column_name, data_type, is_nullable, column_default
            FROM information_schema.columns WHERE table_schema = 'public'
            AND table_name <> 'grondslag_schema_versions'""",
        "indexes": "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
        " AND tablename <> 'grondslag_schema_versions'",
        "constraints": """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
            FROM pg_constraint WHERE connamespace = 'public'::regnamespace
            AND conrelid::regclass::text <> 'grondslag_schema_versions'""",
        "functions": """SELECT proname, pg_get_function_identity_arguments(oid)
            FROM pg_proc WHERE pronamespace = 'public'::regnamespace""",
        "triggers": "SELECT tgname, tgrelid::regclass::text FROM pg_trigger WHERE NOT tgisinternal",
        "types": """SELECT typname FROM pg_type t WHERE typnamespace = 'public'::regnamespace
            AND typtype = 'c'
            AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'""",
    }
    with psycopg.connect(url) as conn:
        return {name: sorted(conn.execute(sql).fetchall()) for name, sql in queries.items()}


def versions(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT version, name, applied_at, adopted FROM grondslag_schema_versions "
            "ORDER BY version"
        ).fetchall()


def grondslag(*args: str, url: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grondslag.cli", *args],
        env={**os.environ, "DATABASE_URL": url, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_new_database_is_migrated_once_and_a_second_migrate_changes_nothing(fresh: str):
    with psycopg.connect(fresh, autocommit=True) as conn:
        before = migrations.status(conn)
        first = migrations.migrate(conn)
        second = migrations.migrate(conn)
        after = migrations.status(conn)
    assert (before.current, before.tables) == (0, False)
    assert len(before.pending) == len(migrations.MIGRATIONS)
    assert [step.version for step in first] == [m.version for m in migrations.MIGRATIONS]
    assert not any(step.adopted for step in first)  # a new database adopts nothing
    assert second == []
    assert (after.current, after.pending) == (migrations.WANTED, ())
    recorded = versions(fresh)
    assert [row[0] for row in recorded] == [m.version for m in migrations.MIGRATIONS]
    schema = schema_of(fresh)
    again = grondslag("migrate", url=fresh)  # the command, too, finds nothing to do
    assert again.returncode == 0, again.stderr
    assert "applied" not in again.stdout and "up to date" in again.stdout
    assert versions(fresh) == recorded  # not even applied_at moved
    assert schema_of(fresh) == schema


def test_what_the_processes_create_at_start_adds_nothing_to_the_migrated_schema(
    fresh: str, monkeypatch: pytest.MonkeyPatch
):
    """The tables the code makes for itself (``CREATE TABLE IF NOT EXISTS`` at start, by
    the event store's recorder, the ledger, the audit log, the projector) are all in the
    migrations: a module whose table changed without a new migration fails here. (On a
    migrated database they are not run at all, ``ddl.RUN_WHEN_MIGRATED``: here they are.)"""
    import asyncio

    import asyncpg

    from grondslag.ledger.audit import store as audit_store
    from grondslag.ledger.bootstrap import build_ledger
    from grondslag.ledger.schema import ensure_schema
    from grondslag.ledger.settings import Settings
    from grondslag.projector import current_standing, quarantine, request_index
    from grondslag.projector.follower import TRACKING_DDL

    monkeypatch.setattr(ddl, "RUN_WHEN_MIGRATED", True)
    migrations.prepare(fresh, apply=True)
    migrated = schema_of(fresh)

    async def create_all() -> None:
        pool = await asyncpg.create_pool(fresh, min_size=1, max_size=2)
        try:
            await ensure_schema(pool)
            await audit_store.create_tables(pool)
            await current_standing.create_tables(pool)
            await request_index.create_tables(pool)
            await pool.execute(TRACKING_DDL)
            await pool.execute(quarantine.DDL)
        finally:
            await pool.close()

    build_ledger(Settings(database_url=fresh, migrate=False), 1).close()  # the library's own
    asyncio.run(create_all())
    assert schema_of(fresh) == migrated


def test_a_start_on_a_migrated_database_locks_no_table_beside_the_writes(fresh: str):
    """A process starting beside others' requests (a projector restarted, a replica added)
    waits for no lock of theirs: on a migrated database its start creates nothing. Before,
    its ``ALTER TABLE … IF NOT EXISTS`` waited for an exclusive lock behind every open write
    — and a write waiting behind it in turn could deadlock."""
    import asyncio

    import asyncpg

    from grondslag.ledger.audit import store as audit_store
    from grondslag.ledger.bootstrap import build_ledger
    from grondslag.ledger.schema import ensure_schema
    from grondslag.ledger.settings import Settings
    from grondslag.projector import current_standing, request_index

    migrations.prepare(fresh, apply=True)
    tables = ("grondslag_idempotency", "grondslag_current_standing", "grondslag_events")
    with psycopg.connect(fresh) as writer:  # a write in flight: its tables' row locks held
        for table in tables:
            writer.execute(f"LOCK TABLE {table} IN ROW EXCLUSIVE MODE")

        async def start() -> None:
            pool = await asyncpg.create_pool(fresh, min_size=1, max_size=2)
            try:
                async with asyncio.timeout(10):
                    await ensure_schema(pool)
                    await audit_store.create_tables(pool)
                    await current_standing.create_tables(pool)
                    await request_index.create_tables(pool)
            finally:
                await pool.close()

        asyncio.run(start())
        settings = Settings(database_url=fresh, migrate=False, database_wait_seconds=10)
        started = threading.Thread(target=lambda: build_ledger(settings, 1).close(), daemon=True)
        started.start()
        started.join(15)
        assert not started.is_alive(), "the event store's start waited for the write's locks"
        writer.rollback()


def test_a_database_of_release_0_1_0_is_adopted_as_it_is(fresh: str, new_database: NewDatabase):
    restore_unversioned(fresh)
    with psycopg.connect(fresh) as conn:
        events = conn.execute("SELECT count(*) FROM grondslag_events").fetchone()
    status = grondslag("migrate", "--status", url=fresh)
    assert status.returncode == 1  # behind: scripts can tell
    assert "tables of release 0.1.0, to be adopted" in status.stdout

    done = grondslag("migrate", url=fresh)
    assert done.returncode == 0, done.stderr
    assert "adopted" in done.stdout
    # release 0.1.0's schema adopted, the later steps applied on it
    assert [(version, adopted) for version, _, _, adopted in versions(fresh)] == [
        (1, True),
        *((m.version, False) for m in migrations.MIGRATIONS[1:]),
    ]
    with psycopg.connect(fresh) as conn:  # its rows kept, not re-created
        assert conn.execute("SELECT count(*) FROM grondslag_events").fetchone() == events
        assert conn.execute("SELECT count(*) FROM grondslag_audit_leaves").fetchone() == events
    with new_database("grondslag_migrate_new") as new:  # the same schema as a new database
        migrations.prepare(new, apply=True)
        assert schema_of(fresh) == schema_of(new)


@pytest.mark.parametrize(
    ("command", "switch"),
    [
        (("serve", "--no-supervisor", "--no-migrate", "--port", "0"), {}),
        (("serve", "--no-migrate", "--port", "0"), {}),
        (("project",), {"GRONDSLAG_MIGRATE": "false"}),
    ],
    ids=["serve-no-supervisor", "serve", "project-env"],
)
def test_with_migrations_off_a_database_behind_refuses_to_start_in_one_line(
    fresh: str, nats_url: str, tmp_path: Path, command: tuple[str, ...], switch: dict[str, str]
):
    restore_unversioned(fresh)
    env = {"NATS_URL": nats_url, "GRONDSLAG_DATA_DIR": str(tmp_path), **switch}
    refused = grondslag(*command, url=fresh, **env)
    assert refused.returncode == 3  # cannot run now
    last = refused.stderr.strip().splitlines()[-1]
    assert last.startswith("grondslag: the database is behind this release"), refused.stderr
    assert "run `grondslag migrate` first" in last
    assert "Traceback" not in refused.stderr
    with psycopg.connect(fresh) as conn:  # and it changed nothing
        assert conn.execute("SELECT to_regclass('grondslag_schema_versions')").fetchone() == (None,)


@pytest.mark.parametrize(
    "command",
    [("audit", "check"), ("rebuild",), ("quarantine", "list"), ("quarantine", "retry")],
    ids=" ".join,
)
def test_a_command_that_reads_the_tables_refuses_a_database_never_migrated_in_one_line(
    fresh: str, nats_url: str, tmp_path: Path, command: tuple[str, ...]
):
    refused = grondslag(*command, url=fresh, NATS_URL=nats_url, GRONDSLAG_DATA_DIR=str(tmp_path))
    assert "Traceback" not in refused.stderr, refused.stderr
    assert refused.returncode == 3, refused.stderr  # cannot run now
    [line] = [line for line in refused.stderr.splitlines() if line.startswith("grondslag:")]
    assert "holds no Grondslag schema" in line and "grondslag migrate" in line, line
    with psycopg.connect(fresh) as conn:  # and it made nothing
        assert conn.execute("SELECT to_regclass('grondslag_schema_versions')").fetchone() == (None,)


def test_a_key_made_on_a_new_database_before_any_start_migrates_it(fresh: str, tmp_path: Path):
    made = grondslag(
        "keys", "create", "--tenant", "first", "--role", "admin",
        url=fresh, GRONDSLAG_DATA_DIR=str(tmp_path),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    recorded = [(version, adopted) for version, _, _, adopted in versions(fresh)]
    # every step applied, none mistaken for an adoption of 0.1.0's tables later
    assert recorded == [(m.version, False) for m in migrations.MIGRATIONS]


def test_a_database_that_refuses_the_connection_stops_the_projector_in_one_line(
    fresh: str, nats_url: str, tmp_path: Path
):
    missing = fresh.rsplit("/", 1)[0] + "/grondslag_no_such_database"
    env = {"NATS_URL": nats_url, "GRONDSLAG_DATA_DIR": str(tmp_path)}
    refused = grondslag("project", url=missing, **env)
    assert refused.returncode == 3  # cannot run now
    last = refused.stderr.strip().splitlines()[-1]
    assert last.startswith("grondslag: cannot use the database:"), refused.stderr
    assert "grondslag_no_such_database" in last and "Traceback" not in refused.stderr


def test_processes_migrating_at_once_take_turns_and_apply_each_step_once(fresh: str):
    """Four ``grondslag migrate`` processes are held at the schema lock until all four
    wait there, then let go together."""
    with psycopg.connect(fresh, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
        runs = [
            subprocess.Popen(
                [sys.executable, "-m", "grondslag.cli", "migrate"],
                env={**os.environ, "DATABASE_URL": fresh},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        deadline = time.monotonic() + 60
        while _waiting_for_lock(holder) < 4:
            assert time.monotonic() < deadline, "the processes never reached the lock"
            time.sleep(0.05)
        holder.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))
    outputs = [run.communicate(timeout=60) for run in runs]
    assert [run.returncode for run in runs] == [0] * 4, outputs
    applied = [out for out, _ in outputs if "applied migration 1" in out]
    assert len(applied) == 1  # one applied it, three found it done
    assert all("up to date" in out for out, _ in outputs)
    assert [row[0] for row in versions(fresh)] == [m.version for m in migrations.MIGRATIONS]


def _waiting_for_lock(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        "AND objid = %s AND database = (SELECT oid FROM pg_database WHERE datname = "
        "current_database())",
        (SCHEMA_LOCK,),
    ).fetchone()
    return int(row[0]) if row else 0


def test_each_step_runs_once_when_threads_migrate_at_once(
    fresh: str, monkeypatch: pytest.MonkeyPatch
):
    """Further steps (slow ones, each counting its runs) applied by eight threads at once:
    each runs once, in order, and every thread ends at the last version."""
    extra = tuple(
        migrations.Migration(
            n,
            f"step {n}",
            "CREATE TABLE IF NOT EXISTS grondslag_test_runs (version int, at timestamptz);"
            "SELECT pg_sleep(0.1);"
            f"INSERT INTO grondslag_test_runs VALUES ({n}, clock_timestamp())",
        )
        for n in range(migrations.WANTED + 1, migrations.WANTED + 4)
    )
    monkeypatch.setattr(migrations, "MIGRATIONS", (*migrations.MIGRATIONS, *extra))
    monkeypatch.setattr(migrations, "WANTED", extra[-1].version)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            migrations.prepare(fresh, apply=True)
        except BaseException as error:  # a thread's failure fails the test
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with psycopg.connect(fresh) as conn:
        runs = conn.execute("SELECT version FROM grondslag_test_runs ORDER BY at").fetchall()
    assert runs == [(step.version,) for step in extra]
    assert [row[0] for row in versions(fresh)] == [m.version for m in migrations.MIGRATIONS]
