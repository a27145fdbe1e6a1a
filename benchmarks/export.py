"""The access and portability answer of a subject with 1,000 events, measured against a
same-run baseline: ``uv run python -m benchmarks.export`` (``--quick`` for 200 events).

One fresh database on the server of ``DATABASE_URL`` (else the embedded one). One subject
whose events spread over purposes of 50 events each (alternating consents and withdrawals,
recorded through the aggregate's guarded commands and saved together, as
``grondslag bench --audit`` does for its bundle). Then, through the API in-process (litestar's
test client, the app's own pools):

* ``GET /v1/subjects/{ref}/export`` as JSON and as HTML (the Art. 15 letter), median of 20;
* baseline: ``GET /v1/subjects/{ref}/history`` of the same subject, every page of it (200
  events a page), which reads the same events and decodes them, without folding or
  rendering.

Figures, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from litestar.testing import TestClient
from rich.console import Console

from grondslag.ledger.api.app import create_app
from grondslag.ledger.bootstrap import build_ledger
from grondslag.ledger.domain.standing import Standing
from grondslag.ledger.domain.values import PersonalData
from grondslag.ledger.keys import create_key
from grondslag.ledger.settings import Settings

from .common import (
    CONSENT,
    PURPOSE,
    REGISTERED_AT,
    TERMS,
    Row,
    command_context,
    print_table,
    throwaway_database,
)

TENANT, REF, RUNS = "bench-export", "client-1", 20


def record_subject(ledger: Any, count: int) -> int:
    """A subject with ``count`` events of its own streams; answers how many it has."""
    ledger.put_subject(TENANT, REF, PersonalData(birth_date=None, email="bench@example.nl"))
    standings, moment, recorded = [], datetime(2025, 1, 1, tzinfo=UTC), 1
    while recorded < count:
        code = f"{PURPOSE}-{len(standings)}"
        ledger.register_purpose(TENANT, code, TERMS, REGISTERED_AT)
        versions = ledger.purpose(TENANT, code).versions
        standing = Standing.open(TENANT, REF, code)
        recorded += 1
        while len(standing.pending_events) < 50 and recorded < count:
            moment += timedelta(hours=1)
            context = command_context(versions)
            if len(standing.pending_events) % 2:
                standing.give_consent(context, **{**CONSENT, "effective_at": moment})
            else:
                standing.withdraw_consent(
                    context, method="email", effective_at=moment, recorded_by="bench"
                )
            recorded += 1
        standings.append(standing)
    ledger.save(*standings)
    return recorded


def _key(url: str, pepper: bytes) -> str:
    async def run() -> str:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
        try:
            return (await create_key(pool, TENANT, ["admin"], pepper=pepper)).key
        finally:
            await pool.close()

    return asyncio.run(run())


def _median_ms(client: TestClient, path: str, headers: dict[str, str]) -> tuple[float, int]:
    _get_all(client, path, headers)  # warm
    times, size = [], 0
    for _ in range(RUNS):
        started = time.perf_counter()
        size = _get_all(client, path, headers)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, size


def _get_all(client: TestClient, path: str, headers: dict[str, str]) -> int:
    """GET the path, and each next page of a paged list; answers the bytes received."""
    params: dict[str, Any] = {"limit": 200} if path.endswith("/history") else {}
    size = 0
    while True:
        response = client.get(path, headers=headers, params=params)
        assert response.status_code == 200, response.text
        size += len(response.content)
        following = response.json().get("next") if path.endswith("/history") else None
        if following is None:
            return size
        params["cursor"] = following


def main(args: argparse.Namespace) -> int:
    console = Console(width=150)
    count = 200 if args.quick else 1_000
    with throwaway_database() as (url, _):
        ledger = build_ledger(Settings(database_url=url), 4)
        try:
            events = record_subject(ledger, count)
            settings = Settings(
                database_url=url,
                nats_url=None,
                audit_key_file=Path(tempfile.mkdtemp()) / "audit-signing-key.pem",
                key_pepper=secrets.token_urlsafe(32),
            )
            with TestClient(create_app(settings, ledger)) as client:
                # the app created the key table (and the pepper) at its start
                key = _key(url, client.app.state.key_pepper)
                auth = {"Authorization": f"Bearer {key}"}
                base = f"/v1/subjects/{REF}"
                json_ms, json_size = _median_ms(
                    client, f"{base}/export", auth | {"Accept": "application/json"}
                )
                html_ms, html_size = _median_ms(
                    client, f"{base}/export", auth | {"Accept": "text/html"}
                )
                history_ms, _ = _median_ms(client, f"{base}/history", auth)
        finally:
            ledger.close()
    console.print(f"a subject with {events:,} events; medians of {RUNS} requests")
    baseline = "GET …/history of the same subject"
    rows = [
        Row(f"export as JSON ({json_size / 1024:,.0f} KiB)", json_ms, "ms", baseline, history_ms),
        Row(f"export as HTML ({html_size / 1024:,.0f} KiB)", html_ms, "ms", baseline, history_ms),
    ]
    print_table(console, f"Access answer of a subject with {events:,} events", rows)
    return 0


if __name__ == "__main__":
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--quick", action="store_true")
    raise SystemExit(main(cli.parse_args()))
