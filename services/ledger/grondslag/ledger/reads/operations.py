"""What operations watch: how far the projector and the relay trail the log, deadlines due,
failed batches, what the projections quarantined. Read from the tables the projector keeps
(absent until it first ran)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import msgspec
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..audit import store as audit_store
from ..persistence.postgres import EVENTS_TABLE
from .checks import CURRENT_STANDING_TABLE
from .requests import REQUESTS_TABLE

QUARANTINE_TABLE = "grondslag_quarantine"


class Lag(msgspec.Struct):
    projection: str
    events: int
    seconds: float
    failures: int


# the age of the oldest event not yet handled, read from its JSON; when a stored event is
# damaged (a projection will quarantine it) the next ones that can be read stand in for it.
# A projection split into partitions is as far behind as its furthest partition.
LAG = f"""
WITH t AS (
    SELECT projection, sum(failures)::bigint AS failures, min(position) AS position
    FROM grondslag_tracking GROUP BY projection
)
SELECT t.projection, t.failures,
       (SELECT coalesce(max(notification_id), 0) FROM {EVENTS_TABLE}) - t.position AS events,
       ARRAY(SELECT e.state FROM {EVENTS_TABLE} e WHERE e.notification_id > t.position
             ORDER BY e.notification_id LIMIT 8) AS oldest
FROM t ORDER BY t.projection
"""


class _Recorded(msgspec.Struct):
    timestamp: datetime


_recorded = msgspec.json.Decoder(_Recorded)


def _oldest(states: list[bytes]) -> datetime | None:
    for state in states:
        try:
            return _recorded.decode(state).timestamp
        except msgspec.DecodeError:
            continue
    return None


async def lags(pool: asyncpg.Pool) -> list[Lag]:
    """Per projection: events not yet handled and the age of the oldest of them. Events a
    projection holds in quarantine lie behind its position: they are not lag."""
    try:
        rows = await pool.fetch(LAG)
    except asyncpg.UndefinedTableError:
        return []
    now = datetime.now(UTC)
    lagging = []
    for row in rows:
        oldest = _oldest(row["oldest"])
        seconds = (now - oldest).total_seconds() if oldest else 0.0
        lagging.append(Lag(row["projection"], max(row["events"], 0), seconds, row["failures"]))
    return lagging


class Quarantined(msgspec.Struct):
    """A stream, tenant or standing a projection set aside; its later events wait."""

    projection: str
    scope: str  # stream | tenant | standing
    key: str
    tenant: str | None
    first_held: int | None  # notification id (the deadline clock holds no events)
    since: datetime
    error: str
    attempts: int


async def quarantined(pool: asyncpg.Pool | asyncpg.Connection) -> list[Quarantined]:
    try:
        rows = await pool.fetch(
            "SELECT projection, scope, key, tenant, first_held, since, error, attempts "
            f"FROM {QUARANTINE_TABLE} ORDER BY projection, first_held NULLS LAST, key"
        )
    except asyncpg.UndefinedTableError:
        return []
    return [Quarantined(**row) for row in rows]


async def deadlines_due(pool: asyncpg.Pool) -> int:
    try:
        return await pool.fetchval(
            f"SELECT count(*) FROM {CURRENT_STANDING_TABLE} WHERE changes_at <= now()"
        )
    except asyncpg.UndefinedTableError:
        return 0


class RequestCounts(msgspec.Struct):
    open: int
    overdue: int  # open, and the due date passed


async def requests_per_tenant(pool: asyncpg.Pool) -> dict[str, RequestCounts]:
    """Open and overdue data-subject requests per tenant (R23), from the request index."""
    try:
        rows = await pool.fetch(
            "SELECT tenant, count(*) AS open, count(*) FILTER (WHERE due_at <= now()) AS overdue "
            f"FROM {REQUESTS_TABLE} WHERE status = 'open' GROUP BY tenant ORDER BY tenant"
        )
    except asyncpg.UndefinedTableError:
        return {}
    return {row["tenant"]: RequestCounts(row["open"], row["overdue"]) for row in rows}


class AuditBacklog(msgspec.Struct):
    unsigned_events: dict[str, int]  # per tenant: logged, no signed checkpoint covers them yet
    unpublished_checkpoints: int  # signed, not yet acknowledged by NATS


async def audit_backlog(pool: asyncpg.Pool) -> AuditBacklog:
    try:
        return AuditBacklog(
            await audit_store.unsigned_events(pool), await audit_store.unpublished_count(pool)
        )
    except asyncpg.UndefinedTableError:
        return AuditBacklog({}, 0)


def process_restarts(restarts_file: Path | None) -> dict[str, int] | None:
    """Per supervised process, how often ``grondslag serve`` started it again: read from the
    file the supervisor keeps (``grondslag.supervisor``); None when not supervised."""
    if restarts_file is None:
        return None
    try:
        processes = json.loads(restarts_file.read_bytes())["processes"]
        return {str(name): int(entry["restarts"]) for name, entry in processes.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def prometheus(
    lag: list[Lag],
    due: int,
    audit: AuditBacklog | None = None,
    held: list[Quarantined] | None = None,
    restarts: dict[str, int] | None = None,
    requests: dict[str, RequestCounts] | None = None,
) -> str:
    """These series alone in the Prometheus text format (version 0.0.4)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Series(families(lag, due, audit, held, restarts, requests)))
    return generate_latest(registry).decode()


class Series(Collector):
    """Metric families read once, for one scrape's registry."""

    def __init__(self, found: list[Metric]):
        self.found = found

    def collect(self) -> Iterator[Metric]:
        return iter(self.found)


def families(
    lag: list[Lag],
    due: int,
    audit: AuditBacklog | None = None,
    held: list[Quarantined] | None = None,
    restarts: dict[str, int] | None = None,
    requests: dict[str, RequestCounts] | None = None,
) -> list[Metric]:
    """What the tables say, as Prometheus metric families (None: that family is left out)."""
    events = GaugeMetricFamily(
        "grondslag_projection_lag_events",
        "Events in the log not yet handled.",
        labels=["projection"],
    )
    seconds = GaugeMetricFamily(
        "grondslag_projection_lag_seconds",
        "Age of the oldest event not yet handled.",
        labels=["projection"],
    )
    failures = CounterMetricFamily(
        "grondslag_batch_failures",
        "Failed batches (e.g. NATS unreachable).",
        labels=["projection"],
    )
    backlog = GaugeMetricFamily(
        "grondslag_relay_backlog", "Lapses and other notifications waiting for NATS."
    )
    for x in lag:
        events.add_metric([x.projection], x.events)
        seconds.add_metric([x.projection], round(x.seconds, 3))
        failures.add_metric([x.projection], x.failures)
        if x.projection == "nats_relay":
            backlog.add_metric([], x.events)
    found: list[Metric] = [events, seconds, failures, backlog]
    found.append(
        GaugeMetricFamily(
            "grondslag_deadlines_due",
            "Standings whose next date-driven change has passed.",
            value=due,
        )
    )
    if audit is not None:
        unsigned = GaugeMetricFamily(
            "grondslag_audit_unsigned_events",
            "Logged events no signed checkpoint covers yet.",
            labels=["tenant"],
        )
        for tenant, count in audit.unsigned_events.items():
            unsigned.add_metric([tenant], count)
        found += [
            unsigned,
            GaugeMetricFamily(
                "grondslag_audit_unpublished_checkpoints",
                "Checkpoints NATS has not acknowledged.",
                value=audit.unpublished_checkpoints,
            ),
        ]
    if held is not None:
        counts = dict.fromkeys({x.projection for x in lag} | {"deadline_clock"}, 0)
        for entry in held:
            counts[entry.projection] = counts.get(entry.projection, 0) + 1
        quarantined = GaugeMetricFamily(
            "grondslag_quarantined_streams",
            "Streams (tenants for the audit log, standings for the deadline clock) a "
            "projection set aside after failing on one of their events; their later events "
            "wait for `grondslag quarantine retry`.",
            labels=["projection"],
        )
        for name in sorted(counts):
            quarantined.add_metric([name], counts[name])
        found.append(quarantined)
    if restarts is not None:
        restarted = CounterMetricFamily(
            "grondslag_process_restarts",
            "Times the supervisor (`grondslag serve`) started a process again after it exited "
            "unexpectedly.",
            labels=["process"],
        )
        for name, count in sorted(restarts.items()):
            restarted.add_metric([name], count)
        found.append(restarted)
    if requests is not None:
        open_ = GaugeMetricFamily(
            "grondslag_requests_open",
            "Data-subject requests not answered yet (R23).",
            labels=["tenant"],
        )
        overdue = GaugeMetricFamily(
            "grondslag_requests_overdue",
            "Open data-subject requests past their due date.",
            labels=["tenant"],
        )
        for tenant, c in requests.items():
            open_.add_metric([tenant], c.open)
            overdue.add_metric([tenant], c.overdue)
        found += [open_, overdue]
    return found
