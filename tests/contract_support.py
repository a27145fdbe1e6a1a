"""Every answer the integration tests' clients got, held against the OpenAPI document.

``recording()`` wraps every litestar app of the process (the session's, each test's own, the
fuzzer's) and notes for each answer the method, the route's path template, the status, the
media type and the contract's headers it carried. ``undocumented()`` names each one the
document does not list: an operation, a status, a media type or a header it lacks, or a
header it requires that was not sent.

In parallel workers each worker leaves the kinds of answer it got (``parallel_workers``),
and the controller, once every worker is done, judges them all (``judge_the_run``): no
worker waits for the others, so tests can be handed out by work stealing (a test that
waited held the half of the queue it sat in).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import astuple, dataclass, field
from typing import Any

import parallel_workers
import pytest
from litestar import Litestar

# the headers of the contract: sent only where documented; a required one always
HEADERS = ("location", "retry-after", "www-authenticate", "idempotent-replayed")


@dataclass(frozen=True, order=True)
class Answer:
    method: str
    path: str  # the route's path template, as the document's paths name it
    status: int
    media_type: str | None
    headers: frozenset[str]

    def __str__(self) -> str:
        shown = f" with {', '.join(sorted(self.headers))}" if self.headers else ""
        return f"{self.method} {self.path} → {self.status} {self.media_type}{shown}"


@dataclass
class Traffic:
    answers: Counter[Answer] = field(default_factory=Counter)
    unrouted: Counter[tuple[str, int]] = field(default_factory=Counter)  # no route: 404, 405
    unlisted: Counter[str] = field(default_factory=Counter)  # routes kept out of the document

    def note(self, scope: Any, status: int, headers: dict[str, str]) -> None:
        handler, template = scope.get("route_handler"), scope.get("path_template")
        if handler is None or template is None:
            self.unrouted[(scope["method"], status)] += 1
        elif not handler.resolve_include_in_schema():
            self.unlisted[f"{scope['method']} {template}"] += 1
        else:
            media = headers.get("content-type")
            answer = Answer(
                scope["method"],
                template,
                status,
                media.split(";")[0].strip() if media else None,
                frozenset(h for h in HEADERS if h in headers),
            )
            self.answers[answer] += 1

    def kinds(self) -> list[list[Any]]:
        """Each kind of answer once, as JSON (for the controller's check: ``of_kinds``)."""
        return [[*astuple(answer)[:4], sorted(answer.headers)] for answer in self.answers]


def of_kinds(kinds: list[list[Any]]) -> set[Answer]:
    return {Answer(*kind[:4], frozenset(kind[4])) for kind in kinds}


TRAFFIC = Traffic()


@contextlib.contextmanager
def recording() -> Iterator[Traffic]:
    """Note every HTTP answer of every litestar app while inside."""
    original = Litestar.__call__

    async def call(app: Litestar, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await original(app, scope, receive, send)
            return
        seen: dict[str, Any] = {}

        async def noted(message: Any) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                seen["headers"] = {
                    k.decode("latin-1").lower(): v.decode("latin-1")
                    for k, v in message.get("headers", [])
                }
            await send(message)

        try:
            await original(app, scope, receive, noted)
        finally:
            if "status" in seen:
                TRAFFIC.note(scope, seen["status"], seen["headers"])

    Litestar.__call__ = call  # type: ignore[method-assign]
    try:
        yield TRAFFIC
    finally:
        Litestar.__call__ = original  # type: ignore[method-assign]


def undocumented(document: dict[str, Any], answers: Any) -> list[str]:
    """What the document does not say of each answer, one line per answer."""
    faults = []
    for answer in sorted(answers):
        fault = _fault(document, answer)
        if fault:
            faults.append(f"{answer}: {fault}")
    return faults


def _fault(document: dict[str, Any], answer: Answer) -> str | None:
    operations = document["paths"].get(answer.path, {})
    operation = operations.get(answer.method.lower())
    if operation is None and answer.method == "HEAD":  # GET without the body (api/head.py)
        operation = operations.get("get")
    if operation is None:
        return "no such operation in the document"
    response = operation["responses"].get(str(answer.status))
    if response is None:
        return f"status {answer.status} is not documented"
    content = response.get("content") or {}
    if answer.media_type is None:
        if content and answer.method != "HEAD":
            return "sent no body, the document shows one"
    elif answer.media_type not in content:
        return f"media type {answer.media_type} is not documented (only {', '.join(content)})"
    documented = {name.lower(): spec for name, spec in (response.get("headers") or {}).items()}
    extra = answer.headers - set(documented)
    if extra:
        return f"header {', '.join(sorted(extra))} is not documented"
    missing = {name for name, spec in documented.items() if spec.get("required")} - answer.headers
    if missing:
        return f"required header {', '.join(sorted(missing))} was not sent"
    return None


def document() -> dict[str, Any]:
    """The OpenAPI document as rendered from the code (``grondslag schemas``)."""
    import json

    from grondslag import schemas

    return dict(json.loads(schemas.rendered()[schemas.ROOT / "openapi.json"]))


def judge_the_run(session: pytest.Session) -> None:
    """In the controller of parallel workers, once they are done: every answer any of them
    got, held against the document; the run fails, naming each answer the document does
    not list (a worker's own check judges only its own answers)."""
    left = parallel_workers.left_by_every_worker(session.config, "traffic")
    if left is None:
        return  # not the controller of parallel workers
    answers = set().union(*(of_kinds(kinds) for kinds in left))
    faults = undocumented(document(), answers)
    if not faults:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_sep(
            "=",
            f"{len(faults)} answers of the workers the OpenAPI document does not list",
            red=True,
        )
        for fault in faults:
            reporter.write_line(fault)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
