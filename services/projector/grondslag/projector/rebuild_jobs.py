"""A rebuild's fold in K processes: job j folds share j (``rebuild_share``) into the same
fresh table on a connection of its own.

The fold is Python (decoding events, folding dossiers, rendering answers), so tasks in one
interpreter would take turns on its lock: the jobs are processes, forked from a forkserver
that imported the fold once. Each opens the keyring the settings name (birth dates are
unsealed in the fold), reports each chunk it copied and, at the end, its ``Share``; one that
fails says why and ends. The first failure, or a job that ended without a word (killed),
fails the whole fold: the caller stops the others and drops the table.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import signal
import sys
from typing import Any

import asyncpg

from grondslag.ledger import envelope
from grondslag.ledger.settings import Settings

from .rebuild_share import OnChunk, RebuildFailed, Share, fold_share

POLL_SECONDS = 0.2


def _context() -> Any:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])  # (no effect once a forkserver runs)
    return context


async def fold(settings: Settings, table: str, jobs: int, folded: OnChunk) -> list[Share]:
    """Fold every standing into ``table`` in ``jobs`` processes; their shares in job order."""
    context = _context()
    messages = context.Queue()
    children = [
        context.Process(
            target=_job,
            args=(settings, table, job, jobs, messages),
            name=f"grondslag-rebuild-{job + 1}",
            daemon=True,
        )
        for job in range(jobs)
    ]
    try:
        for child in children:
            child.start()
        return await _collect(children, messages, folded)
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()
        await asyncio.to_thread(lambda: [child.join(30) for child in children if child.pid])
        messages.close()


async def _collect(children: list[Any], messages: Any, folded: OnChunk) -> list[Share]:
    jobs = len(children)
    shares: dict[int, Share] = {}
    ended_quietly = False
    while len(shares) < jobs:
        try:
            kind, job, *body = await asyncio.to_thread(messages.get, True, POLL_SECONDS)
        except queue.Empty:
            gone = [j for j, c in enumerate(children) if j not in shares and c.exitcode is not None]
            if gone and ended_quietly:  # and what it sent before it ended has been read
                job = gone[0]
                raise RebuildFailed(
                    f"rebuild job {job + 1} of {jobs} ended ({_ending(children[job].exitcode)}) "
                    "before its share was folded"
                ) from None
            ended_quietly = bool(gone)
            continue
        ended_quietly = False
        if kind == "chunk":
            folded(*body)
        elif kind == "done":
            shares[job] = body[0]
        else:
            raise RebuildFailed(f"rebuild job {job + 1} of {jobs} failed: {body[0]}")
    return [shares[job] for job in range(jobs)]


def _ending(code: int) -> str:
    if code < 0 and -code in signal.valid_signals():
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def _job(settings: Settings, table: str, job: int, jobs: int, messages: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # ^C reaches the group: the parent stops us
    try:
        share = asyncio.run(_fold(settings, table, job, jobs, messages))
    except Exception as error:  # said to the parent, which names the job and stops the rest
        messages.put(("failed", job, f"{type(error).__name__}: {error}"))
        sys.exit(1)
    messages.put(("done", job, share))


async def _fold(settings: Settings, table: str, job: int, jobs: int, messages: Any) -> Share:
    envelope.use(settings)
    assert settings.database_url
    conn = await asyncpg.connect(
        settings.database_url,
        server_settings={"jit": "off", "application_name": f"grondslag-rebuild:{job + 1}/{jobs}"},
    )
    try:
        return await fold_share(
            conn, table, job, jobs, lambda *chunk: messages.put(("chunk", job, *chunk))
        )
    finally:
        await conn.close()
