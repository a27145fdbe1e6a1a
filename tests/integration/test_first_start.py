"""Processes starting together on a fresh database — API workers and projectors of a first
start, or replicas — each create the tables they need; one lock of the database's makes them
take turns, so that none fails on another's half-made table (a duplicate key in
``pg_type``) and has to be restarted."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager

STARTS = 12
FIRST_START = """
import asyncio, sys, time
from grondslag.ledger import schema
from grondslag.ledger.audit import store as audit_store
from grondslag.ledger.bootstrap import build_ledger
from grondslag.ledger.reads.pool import create_read_pool
from grondslag.ledger.settings import Settings
from grondslag.projector import current_standing

url, at = sys.argv[1], float(sys.argv[2])
time.sleep(max(0.0, at - time.time()))  # every process starts at the same moment

async def tables() -> None:
    pool = await create_read_pool(url, min_size=1, max_size=2)
    try:
        await schema.ensure_schema(pool)
        await audit_store.create_tables(pool)
        await current_standing.create_tables(pool)
    finally:
        await pool.close()

if sys.argv[3] == "ledger":
    build_ledger(Settings(database_url=url), 1).close()
else:
    asyncio.run(tables())
"""


def test_processes_starting_together_on_a_fresh_database_all_create_their_tables(
    new_database: Callable[[str], AbstractContextManager[str]],
) -> None:
    import time

    for attempt in range(2):  # two fresh databases: a race that is there shows in one
        with new_database("grondslag_first_start") as url:
            at = time.time() + 2.0
            runs = [
                subprocess.Popen(
                    [sys.executable, "-c", FIRST_START, url, str(at), what],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for what in ["ledger", "tables"] * (STARTS // 2)
            ]
            outcomes = [(run.wait(timeout=120), run.communicate()[1]) for run in runs]
            failed = [err.strip().splitlines()[-1] for code, err in outcomes if code != 0]
            assert failed == [], f"attempt {attempt + 1}: {failed}"
