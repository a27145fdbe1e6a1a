"""What the benchmarks share: the purpose and the consent they record, a throw-away
database, the log fill, and the table that prints each figure beside its baseline."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from rich.console import Console
from rich.table import Table

from grondslag.ledger.application import Ledger
from grondslag.ledger.domain.context import Context
from grondslag.ledger.domain.purpose_versions import PurposeVersion
from grondslag.ledger.domain.standing import Standing
from grondslag.ledger.domain.subject_view import SubjectView
from grondslag.ledger.domain.values import Evidence, Notice, PurposeTerms
from grondslag.ledger.settings import Settings
from grondslag.servers import servers

PURPOSE = "bench"
NOTICE = Notice("2025-01", "https://bench.example/privacy", "c" * 64)
TERMS = PurposeTerms(title="Bench", basis="consent", notice=NOTICE)
REGISTERED_AT = datetime(2025, 1, 1, tzinfo=UTC)
CONSENT: dict[str, Any] = {
    "method": "written",
    "explicit": True,
    "notice_version": NOTICE.version,
    "evidence": Evidence("bench.pdf"),
    "effective_at": datetime(2025, 2, 1, tzinfo=UTC),
    "recorded_by": "bench",
}


def command_context(versions: list[PurposeVersion]) -> Context:
    """What a command on a fresh subject's standing knows now: benchmarks record through
    the aggregate's own guarded commands, like the API."""
    return Context(versions, SubjectView(), datetime.now(UTC))


@contextlib.contextmanager
def throwaway_database() -> Iterator[tuple[str, Settings]]:
    """A fresh database on the server of ``DATABASE_URL`` (else the embedded one), dropped
    afterwards: its URL, and the settings of the environment it was made under."""
    with servers(Settings.from_env(), need_nats=False) as settings:
        assert settings.database_url
        server_url = settings.database_url
        name = f"grondslag_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield server_url.rsplit("/", 1)[0] + f"/{name}", settings
        finally:
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fill_log(ledger: Ledger, tenant: str, events: int) -> int:
    """Top the log up to ``events`` events: standings with one consent, 100 per save;
    answers how many events the log holds then."""
    have = ledger.recorder.max_notification_id() or 0
    versions = ledger.purpose(tenant, PURPOSE).versions
    batch: list[Standing] = []
    n = 0
    while have + n < events:
        standing = Standing.open(tenant, f"fill-{n}", PURPOSE)
        standing.give_consent(command_context(versions), **CONSENT)
        batch.append(standing)
        n += 2
        if len(batch) == 100:
            ledger.save(*batch)
            batch = []
    if batch:
        ledger.save(*batch)
    return have + n


@dataclass
class Row:
    """One figure of the table, with its same-run baseline and its target."""

    what: str
    value: float
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    target: str = ""
    baseline_unit: str = ""

    @property
    def ratio(self) -> str:
        return f"{self.value / self.baseline_value:.2f}×" if self.baseline_value else ""


def print_table(console: Console, title: str, rows: list[Row]) -> None:
    """Each figure next to its same-run baseline, the ratio and the target."""
    table = Table(title=title)
    for column in ("measure", "value", "baseline", "baseline value", "ratio", "target"):
        table.add_column(column)
    for row in rows:
        unit = row.baseline_unit or row.unit
        places = 2 if row.baseline_value and row.baseline_value < 10 else 0
        base = f"{row.baseline_value:,.{places}f} {unit}" if row.baseline_value else ""
        digits = 2 if row.unit == "s" else 1
        table.add_row(
            row.what,
            f"{row.value:,.{digits}f} {row.unit}",
            row.baseline,
            base,
            row.ratio,
            row.target,
        )
    console.print(table)
