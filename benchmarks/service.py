"""``grondslag bench``: the service measured against raw baselines in the same run.

Everything runs on one PostgreSQL server (``DATABASE_URL``'s, else the embedded one) in a
fresh database, with the service started as ``grondslag serve`` in a subprocess:

* consent writes through the API (1 and 16 clients) vs a bare eventsourcing save loop
  (1 and 16 threads) writing the same two events per transaction;
* ``GET …/standing/{purpose}`` vs a raw asyncpg primary-key select (16 concurrent each),
  beside the same select through the service's read pool, ``GET /health/live`` (the HTTP
  stack alone) and the ceiling those two set a read (an HTTP answer and a select in series);
* ``POST /v1/checks`` with 10,000 refs (latency);
* the service's RSS after the log holds 100,000 events and the projector caught up.

The load generator shares the machine's cores with the service; the ratios say so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import httpx
import msgspec
from rich.console import Console

from grondslag.ledger.application import Ledger
from grondslag.ledger.domain.errors import RuleViolated
from grondslag.ledger.domain.standing import Standing
from grondslag.ledger.persistence.postgres import EVENTS_TABLE, IndexingRecorder, eventsourcing_env
from grondslag.ledger.reads.pool import ReadPool, create_read_pool
from grondslag.logformat import PROCESS_ENV

from . import loadgen
from .common import (
    CONSENT,
    NOTICE,
    PURPOSE,
    REGISTERED_AT,
    TERMS,
    Row,
    command_context,
    fill_log,
    print_table,
    throwaway_database,
)

KEY = "bench-bootstrap-key"
TENANT = "demo"  # the tenant of the service's bootstrap key (the default)


def main(args: argparse.Namespace) -> int:
    scale = 0.2 if args.quick else 1.0
    console = Console(width=150)
    with throwaway_database() as (url, _):
        console.print(
            f"[bold]grondslag bench[/] on {url.rsplit('@', 1)[-1]}, "
            f"service with {args.workers} worker process(es)"
        )
        floor = bare_saves(url, int(2000 * scale), console)
        rows = [
            Row(f"baseline: bare save loop, {n} thread(s)", rate, "saves/s")
            for n, rate in floor.items()
        ]
        with _service(url, args.workers) as (api, pid):
            rows += asyncio.run(_api_rows(api, url, pid, floor, scale, console))
    print_table(console, "Grondslag vs baselines (same run, same database)", rows)
    return 0


# -- baselines -----------------------------------------------------------------------------


def bare_saves(url: str, count: int, console: Console) -> dict[int, float]:
    """The floor: new standings with one consent (two events), one transaction each, saved
    by the library's own pipelined insert (with the stream index beside it, as the ledger's
    recorder adds it), not by the one-statement append the service uses (``append``)."""
    ledger = Ledger(env=eventsourcing_env(url, 16))
    recorder = ledger.recorder
    assert isinstance(recorder, IndexingRecorder)
    recorder.insert_events = recorder._insert_in_pipeline  # type: ignore[method-assign]
    versions = ledger.register_purpose("bench", PURPOSE, TERMS, REGISTERED_AT).versions
    rates = {}
    for threads in (1, 16):
        per = count // threads
        tag = uuid.uuid4().hex[:6]

        def work(worker: int, tag: str = tag, per: int = per) -> None:
            for i in range(per):
                standing = Standing.open("bench", f"bare-{tag}-{worker}-{i}", PURPOSE)
                standing.give_consent(command_context(versions), **CONSENT)
                ledger.save(standing)

        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(work, range(threads)))
        rates[threads] = per * threads / (time.perf_counter() - started)
        console.print(f"bare save loop, {threads} thread(s): {rates[threads]:,.0f}/s")
    ledger.close()
    return rates


async def _api_rows(
    api: str, url: str, pid: int, floor: dict[int, float], scale: float, console: Console
) -> list[Row]:
    rows = []
    headers = {"Authorization": f"Bearer {KEY}"}
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(
        base_url=api, headers=headers, limits=limits, timeout=60
    ) as client:
        purpose = {
            "code": PURPOSE,
            "title": "Bench",
            "basis": "consent",
            "notice": msgspec.to_builtins(NOTICE),
            "effective_at": "2025-01-01T00:00:00Z",
        }
        registered = await client.post("/v1/purposes", json=purpose)
        assert registered.status_code == 201, registered.text
        total = int(2000 * scale)
        refs = [f"s-{i}" for i in range(total)]
        await _run(api, 16, refs, lambda ref: ("PUT", f"/v1/subjects/{ref}", {}))
        await _settled(url)  # the projector has folded the baseline's standings first
        for clients, part in ((1, refs[: total // 2]), (16, refs[total // 2 :])):
            body = {
                "purpose": PURPOSE,
                "method": "written",
                "explicit": True,
                "notice_version": NOTICE.version,
                "evidence": {"document_ref": "b.pdf"},
                "recorded_by": "bench",
                "effective_at": "2025-02-01T00:00:00Z",
            }
            elapsed = await _run(
                api, clients, part, lambda ref, b=body: ("POST", f"/v1/subjects/{ref}/consents", b)
            )
            rate = len(part) / elapsed
            console.print(f"API consent writes, {clients} client(s): {rate:,.0f}/s")
            rows.append(
                Row(
                    f"API consent writes, {clients} client(s)",
                    rate,
                    "writes/s",
                    f"bare save loop, {clients} thread(s)",
                    floor[clients],
                    "≥ 1.0×" if clients > 1 else "≥ 0.5×",
                )
            )

        rows.append(await _unsubscribe_wave(api, refs[total // 2 :], rows[-1].value, console))

        reads = int(4000 * scale)
        read_refs = [refs[i % total] for i in range(reads)]
        # standings as the projector keeps them: a row is answered from once it is current
        # (until then, right after the wave's writes, a read folds from the log)
        await _settled(url)
        # Each measure is short and the machine is shared: they are taken in alternating
        # rounds, and each row is the median of its rounds, so that one slow second does not
        # make a ratio (the baseline alone varied by 2× between single runs).
        api_rounds, raw_rounds, pool_rounds, http_rounds = [], [], [], []
        for _ in range(READ_ROUNDS):
            api_rounds.append(reads / await _run(api, 16, read_refs, _standing_read))
            raw_rounds.append(await _raw_selects(url, reads))
            pool_rounds.append(await _raw_selects(url, reads, read_pool=True))
            health = await _run(api, 16, read_refs, lambda _: ("GET", "/health/live", None))
            http_rounds.append(reads / health)
        api_reads, raw, through_read_pool, http = (
            statistics.median(rounds)
            for rounds in (api_rounds, raw_rounds, pool_rounds, http_rounds)
        )
        console.print(
            f"standing reads {_spread(api_rounds)}/s; raw asyncpg selects {_spread(raw_rounds)}/s, "
            f"{_spread(pool_rounds)}/s through the service's read pool; "
            f"/health/live {_spread(http_rounds)}/s"
        )
        rows.append(
            Row(
                "GET standing/{purpose}, 16 clients",
                api_reads,
                "reads/s",
                "raw asyncpg PK select, 16 tasks",
                raw,
                "≥ 0.4×",
            )
        )
        rows.append(
            Row(
                "  … PK select through the service's read pool",
                through_read_pool,
                "reads/s",
                "raw asyncpg PK select, 16 tasks",
                raw,
            )
        )
        rows.append(
            Row(
                "GET /health/live, 16 clients (the HTTP stack's ceiling)",
                http,
                "reads/s",
                "raw asyncpg PK select, 16 tasks",
                raw,
            )
        )
        # A read answers over HTTP and makes a select: on cores that both saturate, their
        # costs add, so no read can go faster than the two in series.
        rows.append(
            Row(
                "  … an HTTP answer and a select in series (a read's ceiling)",
                1 / (1 / http + 1 / raw),
                "reads/s",
                "raw asyncpg PK select, 16 tasks",
                raw,
            )
        )

        check_refs = [f"s-{i % total}" if i % 2 else f"unknown-{i}" for i in range(10_000)]
        await _settled(url)
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            response = await client.post(
                "/v1/checks", json={"purpose": PURPOSE, "subject_refs": check_refs}
            )
            timings.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
        timings.sort()
        rows.append(
            Row(
                "POST /v1/checks, 10,000 refs (median of 5)",
                timings[2] * 1000,
                "ms",
                target="≤ 100 ms",
            )
        )
        console.print(f"check of 10,000 refs: {timings[2] * 1000:.0f} ms (median)")

        events = int(100_000 * scale)
        await asyncio.to_thread(_fill_tenant_log, url, events, console)
        started = time.perf_counter()
        await _settled(url, timeout=600)
        catch_up = time.perf_counter() - started
        await _run(api, 16, read_refs[:500], _standing_read)
        memory = _memory_mb(pid)
        rss, pss, processes = sum(m[1] for m in memory), sum(m[2] for m in memory), len(memory)
        rows.append(
            Row(
                f"service RSS after {events:,} events, projector caught up ({processes} processes)",
                rss,
                "MB",
                target="< 300 MB",
            )
        )
        rows.append(Row("  … per process", rss / processes, "MB"))
        rows.append(Row("  … PSS (a page the processes share counted once)", pss, "MB"))
        rows.append(Row("projector lag left when the fill ended", catch_up, "s"))
        console.print(
            f"RSS {rss:.0f} MB, PSS {pss:.0f} MB; projector caught up in {catch_up:.1f} s; "
            "by process (RSS/PSS MB): "
            + ", ".join(f"{name} {r:.0f}/{p:.0f}" for name, r, p in memory)
        )
    return rows


async def _unsubscribe_wave(
    api: str, refs: list[str], consent_rate: float, console: Console
) -> Row:
    """A mailing's unsubscribe wave: one-click POSTs on the links of subjects who consented."""
    host, port = api.removeprefix("http://").split(":")
    connection = loadgen.Connection(host, int(port), {"Authorization": f"Bearer {KEY}"})
    paths = []
    for ref in refs:
        status, body = await connection.request(
            "POST", f"/v1/subjects/{ref}/unsubscribe-links", {"purpose": PURPOSE}
        )
        assert status == 200, body
        paths.append("/u/" + json.loads(body)["url"].rsplit("/u/", 1)[1])
    await connection.close()
    elapsed = await _run(api, 16, paths, lambda path: ("POST", path, None))
    rate = len(paths) / elapsed
    console.print(f"one-click unsubscribes, 16 clients: {rate:,.0f}/s")
    return Row(
        "POST /u/{token} unsubscribe wave, 16 clients",
        rate,
        "unsubscribes/s",
        "API consent writes, 16 client(s)",
        consent_rate,
    )


READ_ROUNDS = 3


def _spread(rates: list[float]) -> str:
    return f"{min(rates):,.0f}–{max(rates):,.0f}"


def _standing_read(ref: str) -> tuple[str, str, None]:
    return "GET", f"/v1/subjects/{ref}/standing/{PURPOSE}", None


async def _run(api: str, concurrency: int, items: list[str], make) -> float:
    return await loadgen.run(api, {"Authorization": f"Bearer {KEY}"}, concurrency, items, make)


async def _raw_selects(url: str, count: int, *, read_pool: bool = False) -> float:
    """Primary-key selects by 16 tasks: through asyncpg's own pool (the baseline, with the
    service's settings: no reset round trip, no JIT), or through the service's read pool,
    which returns a clean connection without asyncpg's shielded task (``reads/pool.py``)."""
    kind = ReadPool if read_pool else asyncpg.Pool
    pool = await create_read_pool(url, min_size=16, max_size=16, kind=kind)
    ids = [
        row[0] for row in await pool.fetch(f"SELECT originator_id FROM {EVENTS_TABLE} LIMIT 2000")
    ]
    queue = [ids[i % len(ids)] for i in range(count)]

    async def worker() -> None:
        while queue:
            await pool.fetchrow(
                f"SELECT * FROM {EVENTS_TABLE} WHERE originator_id = $1 AND originator_version = 1",
                queue.pop(),
            )

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(16)))
    elapsed = time.perf_counter() - started
    await pool.close()
    return count / elapsed


def _fill_tenant_log(url: str, events: int, console: Console) -> None:
    """Top the log up to ``events`` events, in the tenant of the service's key."""
    ledger = Ledger(env=eventsourcing_env(url, 4))
    try:
        ledger.purpose(TENANT, PURPOSE)
    except RuleViolated:
        ledger.register_purpose(TENANT, PURPOSE, TERMS, REGISTERED_AT)
    total = fill_log(ledger, TENANT, events)
    ledger.close()
    console.print(f"log filled to {total:,} events")


async def _settled(url: str, timeout: float = 60) -> None:
    """Wait until the projector has handled every event in the log."""
    conn = await asyncpg.connect(url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            top = await conn.fetchval(f"SELECT max(notification_id) FROM {EVENTS_TABLE}")
            done = await conn.fetchval("SELECT min(position) FROM grondslag_tracking")
            if done is not None and done >= (top or 0):
                return
            await asyncio.sleep(0.1)
        raise TimeoutError("the projector did not catch up")
    finally:
        await conn.close()


def _memory_mb(pid: int) -> list[tuple[str, float, float]]:
    """Resident memory of the service, the process and all its children (workers, projector,
    NATS), each as its name, its RSS, which counts a page it shares with the others (the
    interpreter's and the libraries' code) whole, and its PSS, which splits such a page
    among those sharing it."""
    found = []
    todo = [pid]
    while todo:
        current = todo.pop()
        proc = Path(f"/proc/{current}")
        sizes = {}
        for line in (proc / "smaps_rollup").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("Rss", "Pss"):
                sizes[key] = int(value.split()[0]) / 1024
        found.append((_process_name(proc, root=current == pid), sizes["Rss"], sizes["Pss"]))
        for task in (proc / "task").iterdir():
            todo += [int(child) for child in (task / "children").read_text().split()]
    return sorted(found)


def _process_name(proc: Path, *, root: bool) -> str:
    """The name the supervisor gave the process (``GRONDSLAG_PROCESS_NAME``), else its
    command's."""
    if root:
        return "serve"
    for variable in (proc / "environ").read_bytes().split(b"\0"):
        if variable.startswith(PROCESS_ENV.encode() + b"="):
            return variable.partition(b"=")[2].decode()
    return (proc / "comm").read_text().strip()


# -- the service under test -------------------------------------------------------------------


class _service:
    def __init__(self, url: str, workers: int):
        self.url, self.workers = url, workers

    def __enter__(self) -> tuple[str, int]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.tmp = tempfile.TemporaryDirectory()
        env = {
            **os.environ,
            "DATABASE_URL": self.url,
            "GRONDSLAG_BOOTSTRAP_KEY": KEY,
            "GRONDSLAG_PUBLIC_RATE_LIMIT": "100000000",  # the wave comes from one address
            "GRONDSLAG_DATA_DIR": self.tmp.name,
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "grondslag.cli",
                "serve",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--workers",
                str(self.workers),
            ],
            env=env,
            stdout=open(os.environ.get("GRONDSLAG_BENCH_SERVICE_LOG", os.devnull), "ab"),
            stderr=subprocess.STDOUT,
        )
        api = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{api}/health/ready").status_code == 200:
                    return api, self.process.pid
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("the service did not start")

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.tmp.cleanup()
