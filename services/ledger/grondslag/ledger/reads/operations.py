"""What operations watch: how far the projector and the relay trail the log, deadlines due,
failed batches, what the projections quarantined. Read from the tables the projector keeps
(absent until it first ran)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import msgspec

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
# damaged (a projection will quarantine it) the next ones that can be read stand in for it
LAG = f"""
SELECT t.projection, t.failures,
       (SELECT coalesce(max(notification_id), 0) FROM {EVENTS_TABLE}) - t.position AS events,
       ARRAY(SELECT e.state FROM {EVENTS_TABLE} e WHERE e.notification_id > t.position
             ORDER BY e.notification_id LIMIT 8) AS oldest
FROM grondslag_tracking t ORDER BY t.projection
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
    """The Prometheus text exposition format (version 0.0.4)."""
    lines = [
        "# HELP grondslag_projection_lag_events Events in the log not yet handled.",
        "# TYPE grondslag_projection_lag_events gauge",
        *(
            f'grondslag_projection_lag_events{{projection="{x.projection}"}} {x.events}'
            for x in lag
        ),
        "# HELP grondslag_projection_lag_seconds Age of the oldest event not yet handled.",
        "# TYPE grondslag_projection_lag_seconds gauge",
        *(
            f'grondslag_projection_lag_seconds{{projection="{x.projection}"}} {x.seconds:.3f}'
            for x in lag
        ),
        "# HELP grondslag_batch_failures_total Failed batches (e.g. NATS unreachable).",
        "# TYPE grondslag_batch_failures_total counter",
        *(
            f'grondslag_batch_failures_total{{projection="{x.projection}"}} {x.failures}'
            for x in lag
        ),
        "# HELP grondslag_relay_backlog Lapses and other notifications waiting for NATS.",
        "# TYPE grondslag_relay_backlog gauge",
        *(f"grondslag_relay_backlog {x.events}" for x in lag if x.projection == "nats_relay"),
        "# HELP grondslag_deadlines_due Standings whose next date-driven change has passed.",
        "# TYPE grondslag_deadlines_due gauge",
        f"grondslag_deadlines_due {due}",
    ]
    if audit is not None:
        lines += [
            "# HELP grondslag_audit_unsigned_events Logged events no signed checkpoint covers yet.",
            "# TYPE grondslag_audit_unsigned_events gauge",
            *(
                f'grondslag_audit_unsigned_events{{tenant="{tenant}"}} {count}'
                for tenant, count in audit.unsigned_events.items()
            ),
            "# HELP grondslag_audit_unpublished_checkpoints Checkpoints NATS has not acknowledged.",
            "# TYPE grondslag_audit_unpublished_checkpoints gauge",
            f"grondslag_audit_unpublished_checkpoints {audit.unpublished_checkpoints}",
        ]
    if held is not None:
        counts = dict.fromkeys({x.projection for x in lag} | {"deadline_clock"}, 0)
        for entry in held:
            counts[entry.projection] = counts.get(entry.projection, 0) + 1
        lines += [
            "# HELP grondslag_quarantined_streams Streams (tenants for the audit log, standings "
            "for the deadline clock) a projection set aside after failing on one of their "
            "events; their later events wait for `grondslag quarantine retry`.",
            "# TYPE grondslag_quarantined_streams gauge",
            *(
                f'grondslag_quarantined_streams{{projection="{name}"}} {counts[name]}'
                for name in sorted(counts)
            ),
        ]
    if restarts is not None:
        lines += [
            "# HELP grondslag_process_restarts_total Times the supervisor (`grondslag serve`) "
            "started a process again after it exited unexpectedly.",
            "# TYPE grondslag_process_restarts_total counter",
            *(
                f'grondslag_process_restarts_total{{process="{name}"}} {count}'
                for name, count in sorted(restarts.items())
            ),
        ]
    if requests is not None:
        lines += [
            "# HELP grondslag_requests_open Data-subject requests not answered yet (R23).",
            "# TYPE grondslag_requests_open gauge",
            *(f'grondslag_requests_open{{tenant="{t}"}} {c.open}' for t, c in requests.items()),
            "# HELP grondslag_requests_overdue Open data-subject requests past their due date.",
            "# TYPE grondslag_requests_overdue gauge",
            *(
                f'grondslag_requests_overdue{{tenant="{t}"}} {c.overdue}'
                for t, c in requests.items()
            ),
        ]
    return "\n".join(lines) + "\n"
