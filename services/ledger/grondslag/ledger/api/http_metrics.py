"""The API's own Prometheus metrics: HTTP requests and their latency, the processes, the
build — beside the series read from the tables (``reads.operations``) on each scrape.

``grondslag_http_requests_total{method, route, status}`` and
``grondslag_http_request_duration_seconds{method, route, status}`` (a histogram) name the
route's template (``/v1/subjects/{subject_ref}``, never the path: no subject reference, no
link token in a label), ``unmatched`` for a path no route serves, and ``OTHER`` for an
unusual method, so that no caller can grow the series without bound.

**Several API workers behind one port** (``grondslag serve --workers N``): a scrape reaches
one of them, so each worker's counts alone would jump from scrape to scrape. The supervisor
gives every worker one folder, ``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's
multiprocess mode, files in ``$GRONDSLAG_DATA_DIR/metrics-<port>/``, emptied when the
supervisor starts): each worker writes its counts there and whichever answers the scrape
sums them, a restarted worker's counts included, so counters never go back. The process
metrics are then per worker (``pid`` label; a dead worker's are removed by the
supervisor). Without that folder (one process, or an orchestrator's replicas, each scraped
on its own) the counts are the process's own and the process metrics are
prometheus_client's usual ``process_*``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import platform
import re
import time
from collections.abc import AsyncIterator, Iterable
from importlib import metadata
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from ..reads.operations import Series

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
SAMPLE_SECONDS = 5.0

disable_created_metrics()  # no ``_created`` series beside each counter and histogram

REQUESTS = Counter(
    "grondslag_http_requests",
    "HTTP requests answered, per route template, method and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "grondslag_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, per route template.",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


class HttpMetrics:
    """ASGI middleware counting each HTTP request by its route's template and status."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # raised before an answer began: the server answers 500

        async def send_counted(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            method = scope.get("method", "GET")
            count, latency = _series(
                method if method in METHODS else "OTHER", route_of(scope), status
            )
            count.inc()
            latency.observe(time.perf_counter() - started)


@functools.lru_cache(maxsize=4096)  # bounded: methods × route templates × statuses
def _series(method: str, route: str, status: int) -> tuple[Any, Any]:
    """The counter's and the histogram's series of one label set, looked up once."""
    labels = (method, route, str(status))
    return REQUESTS.labels(*labels), LATENCY.labels(*labels)


def route_of(scope: dict[str, Any]) -> str:
    """The template of the route that served the request (litestar puts it in the scope
    once routed), else ``unmatched``."""
    if scope.get("route_handler") is None:
        return UNMATCHED
    return _label(str(scope.get("path_template") or UNMATCHED))


@functools.lru_cache(maxsize=1024)
def _label(template: str) -> str:
    return _CONVERTER.sub(r"{\1}", template)


_CONVERTER = re.compile(r"\{(\w+):\w+\}")  # {subject_ref:str} → {subject_ref}


def build_info() -> GaugeMetricFamily:
    try:
        version = metadata.version("grondslag")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a bare folder
        version = "unknown"
    info = GaugeMetricFamily(
        "grondslag_build_info",
        "The running build: its version and Python's (always 1).",
        labels=["version", "python", "implementation"],
    )
    info.add_metric([version, platform.python_version(), platform.python_implementation()], 1)
    return info


# -- the processes, per worker in multiprocess mode -----------------------------------------

_PROCESS = ProcessCollector(registry=None)
_SAMPLED: dict[str, Gauge] = {}


def sample_process() -> None:
    """Write this worker's process metrics where the scraping worker reads them."""
    if not multiprocess():
        return
    for family in _PROCESS.collect():
        for sample in family.samples:
            if sample.name not in _SAMPLED:
                _SAMPLED[sample.name] = Gauge(
                    sample.name, family.documentation, registry=None, multiprocess_mode="liveall"
                )
            _SAMPLED[sample.name].set(sample.value)


@contextlib.asynccontextmanager
async def sampling_process(_: object = None) -> AsyncIterator[None]:
    """A lifespan: sample this worker's process metrics every few seconds."""

    async def run() -> None:
        while True:
            sample_process()
            await asyncio.sleep(SAMPLE_SECONDS)

    task = asyncio.create_task(run()) if multiprocess() else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def exposition(read: Iterable[Metric]) -> bytes:
    """The text of one scrape: what the tables say (``read``), the build, and the process's
    own metrics — every worker's together in multiprocess mode."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Series([*read, build_info()]))
    if multiprocess():
        sample_process()
        MultiProcessCollector(registry)
    else:
        registry.register(Series(list(REGISTRY.collect())))
    return generate_latest(registry)
