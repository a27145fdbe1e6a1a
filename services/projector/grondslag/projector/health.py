"""The projector's own health, for an orchestrator to probe a `grondslag project` process:
``/health/live`` (the process answers), ``/health/ready`` (it reaches the database, holds
its ownership connection, so that it works on its share of the partitions, and its
partition count is still the one the projections are stored under: ``partition_watch``) and
``/metrics`` (Prometheus: per projection and partition, how far it trails the log and which
process owns it). Served only on ``GRONDSLAG_PROJECTOR_HEALTH_PORT`` (or ``--health-port``),
on loopback unless told otherwise: no key is asked for, and no series names a tenant.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import msgspec
from litestar import Litestar, Request, Response, get
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from grondslag.ledger.persistence.postgres import EVENTS_TABLE

from . import tracking
from .partition_watch import advice

if TYPE_CHECKING:
    from .runner import Projector

READY_SECONDS = 2.0
PARTITIONS = f"""
SELECT t.projection, t.partition, t.failures,
       greatest((SELECT coalesce(max(notification_id), 0) FROM {EVENTS_TABLE}) - t.position, 0)
           AS events
FROM {tracking.TABLE} t ORDER BY t.projection, t.partition
"""


class Health(msgspec.Struct):
    status: str  # ok | unavailable
    checks: dict[str, str]


@get("/health/live", sync_to_thread=False)
def live() -> Health:
    return Health("ok", {})


@get("/health/ready")
async def ready(request: Request) -> Response[Health]:
    projector: Projector = request.app.state.projector
    checks = {"database": "ok", "ownership": "ok", "partitions": "ok"}
    try:
        assert projector.pool is not None
        await asyncio.wait_for(projector.pool.fetchval("SELECT 1"), READY_SECONDS)
    except Exception as error:
        checks["database"] = type(error).__name__
    if projector.ownership is None or not projector.ownership.connected.is_set():
        checks["ownership"] = "not connected"
    checks["partitions"] = await _partitions(projector)
    fine = all(v == "ok" for v in checks.values())
    return Response(
        Health("ok" if fine else "unavailable", checks), status_code=200 if fine else 503
    )


async def _partitions(projector: Projector) -> str:
    """``ok`` while the projections are stored under this process's partition count; else
    both counts and what to restart with (its followers find no rows of theirs)."""
    watch = projector.partition_watch
    if watch is None:
        return "not started"
    try:
        changed = await asyncio.wait_for(watch.check(), READY_SECONDS)
    except Exception as error:
        return type(error).__name__
    return advice(changed, watch.count) if changed else "ok"


@get("/metrics")
async def metrics(request: Request) -> Response[bytes]:
    projector: Projector = request.app.state.projector
    assert projector.pool is not None
    rows = await projector.pool.fetch(PARTITIONS)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(projector, [tuple(r) for r in rows]))
    # the header as it is: litestar would add a second charset to any text/ media type
    return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})


class _Snapshot:
    """The series of one scrape, from the rows read for it."""

    def __init__(self, projector: Projector, rows: list[tuple[str, int, int, int]]):
        self.projector, self.rows = projector, rows

    def collect(self) -> Iterator[Metric]:
        ownership = self.projector.ownership
        owners = ownership.owners if ownership else {}
        owned = ownership.owned if ownership else set()
        lag = GaugeMetricFamily(
            "grondslag_projector_partition_lag_events",
            "Notification ids between the log's head and the partition's position",
            labels=["projection", "partition"],
        )
        failures = GaugeMetricFamily(
            "grondslag_projector_partition_failures",
            "Failed batches of the partition since it was set up",
            labels=["projection", "partition"],
        )
        for projection, partition, failed, events in self.rows:
            lag.add_metric([projection, str(partition)], events)
            failures.add_metric([projection, str(partition)], failed)
        owner = GaugeMetricFamily(
            "grondslag_projector_partition_owner_pid",
            "The database backend pid of the process owning the partition (0: none), last seen",
            labels=["partition"],
        )
        mine = GaugeMetricFamily(
            "grondslag_projector_partition_owned",
            "1 for each partition this process owns",
            labels=["partition"],
        )
        for partition in range(self.projector.partitions):
            owner.add_metric([str(partition)], owners.get(partition, 0))
            mine.add_metric([str(partition)], 1 if partition in owned else 0)
        alive = GaugeMetricFamily(
            "grondslag_projector_processes", "Projector processes alive on this database"
        )
        alive.add_metric([], ownership.alive if ownership else 0)
        kept = self.projector.kept
        held = GaugeMetricFamily(
            "grondslag_projector_kept_standings", "Standings this process keeps folded"
        )
        held.add_metric([], len(kept))
        folds = CounterMetricFamily(
            "grondslag_projector_standing_folds",
            "Standings the read model folded: onto what was kept, or whole",
            labels=["onto"],
        )
        folds.add_metric(["kept"], kept.hits)
        folds.add_metric(["whole"], kept.misses)
        yield from (lag, failures, owner, mine, alive, held, folds)


def create_app(projector: Projector) -> Litestar:
    # logging_config=None: its records go through the one log format (grondslag.logformat),
    # not litestar's own handler
    app = Litestar([live, ready, metrics], openapi_config=None, logging_config=None)
    app.state.projector = projector
    return app


class HealthServer:
    """The probes' HTTP server, in the projector's event loop beside its work."""

    def __init__(self, projector: Projector, host: str, port: int):
        import uvicorn

        config = uvicorn.Config(
            create_app(projector), host=host, port=port, log_config=None, access_log=False,
            lifespan="off", server_header=False,
        )  # fmt: skip
        self.server = uvicorn.Server(config)
        # the command's own handlers stop the projector, and this server with it
        self.server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self.server.serve(), name="health")
        while not self.server.started:
            if self._task.done():
                self._task.result()  # the port taken: its error
                raise OSError(f"the health port {self.server.config.port} is not served")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._task
