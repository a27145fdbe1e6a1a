"""``grondslag audit check`` on a log with events from before actors (no ``actor`` member:
their bytes as they always were) and after (the member hashed with the event): it passes,
and an actor changed in the store afterwards is found like any other edit."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import asyncpg
from test_audit_check import REF, give, logged, record_opening, run_check, sign, withdraw

from grondslag.ledger.bootstrap import build_ledger
from grondslag.ledger.persistence.actors import Actor, acting
from grondslag.ledger.persistence.postgres import EVENTS_TABLE
from grondslag.ledger.settings import Settings
from grondslag.projector.runner import Projector

KEY_A = Actor(id="key:aaaaaaaaaaaa", tenant="", roles=("writer",))


async def test_audit_check_passes_on_events_before_and_after_actors_and_finds_a_changed_actor(
    new_database: Callable[[str], AbstractContextManager[str]], tmp_path: Path
) -> None:
    with new_database("grondslag_actors_check") as url:
        ledger = await asyncio.to_thread(build_ledger, Settings(database_url=url), 4)
        tenant = f"t-{secrets.token_hex(4)}"
        actor = Actor(id=KEY_A.id, tenant=tenant, roles=KEY_A.roles)
        projector = Projector(
            Settings(
                database_url=url,
                nats_url=None,
                projection_poll_seconds=0.2,
                audit_key_file=tmp_path / "audit-signing-key.pem",
            )
        )
        await projector.start()
        try:
            assert projector.pool is not None
            await asyncio.to_thread(record_opening, ledger, tenant)  # before: no actor
            first = await logged(projector.pool, tenant)
            await sign(projector, tenant, first)
            with acting(actor):  # after: every event names the key
                await asyncio.to_thread(give, ledger, tenant, REF)
                await asyncio.to_thread(withdraw, ledger, tenant, REF)
            second = await logged(projector.pool, tenant)
            await sign(projector, tenant, second)
        finally:
            await projector.stop()
            ledger.close()

        conn = await asyncpg.connect(url)
        try:
            states = [bytes(s) for (s,) in await conn.fetch(f"SELECT state FROM {EVENTS_TABLE}")]
        finally:
            await conn.close()
        with_actor = [s for s in states if b'"actor":' in s]
        assert len(with_actor) == 3 and len(states) == second > 3  # opened, given, withdrawn
        assert all(b'"key:aaaaaaaaaaaa"' in s for s in with_actor)

        report, command = await run_check(url)
        assert report.ok, report.problems
        assert command.returncode == 0, command.stderr
        assert f"{tenant}: ok — {second} events" in command.stdout

        conn = await asyncpg.connect(url)
        try:  # the same length, valid JSON: only who recorded it differs
            await conn.execute(
                f"UPDATE {EVENTS_TABLE} SET state = convert_to(replace(convert_from(state, "
                "'UTF8'), 'key:aaaaaaaaaaaa', 'key:bbbbbbbbbbbb'), 'UTF8') "
                "WHERE convert_from(state, 'UTF8') LIKE '%key:aaaa%' AND originator_version = $1",
                2,
            )
        finally:
            await conn.close()
        report, command = await run_check(url)
        assert not report.ok
        assert command.returncode != 0
        assert command.stderr.startswith("audit check FAILED:")
