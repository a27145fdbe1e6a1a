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
# One launcher imports the ledger once and forks the starters, which then run at the same
# moment, each a process of its own with its own connections (importing the ledger in
# each of 24 fresh interpreters cost the suite 40 s of CPU and proved nothing more).
FIRST_START = """
import asyncio, os, sys, time
from grondslag.ledger import schema
from grondslag.ledger.audit import store as audit_store
from grondslag.ledger.bootstrap import build_ledger
from grondslag.ledger.reads.pool import create_read_pool
from grondslag.ledger.settings import Settings
from grondslag.projector import current_standing

url, at, starts = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])

async def tables() -> None:
    pool = await create_read_pool(url, min_size=1, max_size=2)
    try:
        await schema.ensure_schema(pool)
        await audit_store.create_tables(pool)
        await current_standing.create_tables(pool)
    finally:
        await pool.close()

def start(what: str) -> None:
    time.sleep(max(0.0, at - time.time()))  # every process starts at the same moment
    if what == "ledger":
        build_ledger(Settings(database_url=url), 1).close()
    else:
        asyncio.run(tables())

children = {}
for what in ["ledger", "tables"] * (starts // 2):
    pid = os.fork()
    if pid == 0:
        try:
            start(what)
        except BaseException as error:  # one write: the children's lines do not mix
            first = (str(error).splitlines() or [""])[0]
            os.write(1, f"{what}: {type(error).__name__}: {first}\\n".encode())
            os._exit(1)
        os._exit(0)
    children[pid] = what
failed = 0
for pid, what in children.items():
    _, status = os.waitpid(pid, 0)
    if status:
        failed += 1
        os.write(1, f"{what} (pid {pid}): exit status {status}\\n".encode())
sys.exit(1 if failed else 0)
"""


def test_processes_starting_together_on_a_fresh_database_all_create_their_tables(
    new_database: Callable[[str], AbstractContextManager[str]],
) -> None:
    import time

    for attempt in range(2):  # two fresh databases: a race that is there shows in one
        with new_database("grondslag_first_start") as url:
            at = time.time() + 2.0  # (the launcher's imports take about a second)
            run = subprocess.run(
                [sys.executable, "-c", FIRST_START, url, str(at), str(STARTS)],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert run.returncode == 0, f"attempt {attempt + 1}:\n{run.stdout}{run.stderr}"
