"""A query names only the parameters its operation takes, each once.

Litestar drops a query parameter that no handler asks for and keeps the last value of one
sent twice. For a ledger that answers an auditor's questions both are wrong answers given
as right ones: ``?knownat=2025-10-01T00:00:00Z`` (for ``known_at``) would be answered as
known now, and ``?at=…&at=…`` for one of the two moments. So either is refused before
anything is read — 422 ``invalid-query`` naming the parameter and the ones the operation
takes — as a body's unknown field is (``forbid_unknown_fields``).

Only the API's operations (``/v1/``): the public pages are opened from e-mails, whose links
mail programs and link checkers decorate (``utm_source`` and the like), and an
unsubscribe must work all the same (R20)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from litestar import Litestar, Request

from .problems import FieldError, invalid_request


class QueryNames:
    """Each operation's query parameters (by the names a client sends), read once from the
    handlers litestar built; ``check`` refuses a request's query that names others."""

    def __init__(self, app: Litestar) -> None:
        self._taken: dict[int, tuple[frozenset[str], frozenset[str]]] = {}
        for route in app.routes:
            for handler, model in getattr(route, "route_handler_map", {}).values():
                self._taken[id(handler)] = (
                    frozenset(p.field_alias for p in model.expected_query_params),
                    frozenset(model.sequence_query_parameter_names),
                )

    def check(self, request: Request[Any, Any, Any]) -> None:
        if not request.scope["query_string"] or not request.scope["path"].startswith("/v1/"):
            return
        taken = self._taken.get(id(request.route_handler))
        if taken is None:
            return
        names, sequences = taken
        errors: list[FieldError] = []
        given: dict[str, int] = {}  # in the order sent
        for name, _ in parse_qsl(request.scope["query_string"].decode("latin-1"), True):
            given[name] = given.get(name, 0) + 1
        for name, times in given.items():
            if name not in names:
                takes = ", ".join(sorted(names)) or "none"
                shown = _shown(name)
                message = f"this operation takes no query parameter {shown!r} (it takes: {takes})"
            elif times > 1 and name not in sequences:
                message, shown = f"given {times} times; this operation takes one value", name
            else:
                continue
            errors.append(FieldError(shown, message, "query"))
        if errors:
            raise invalid_request(errors)


SHOWN = 64  # of a stray name: the answer echoes no more of what the client sent


def _shown(name: str) -> str:
    return name if len(name) <= SHOWN else name[:SHOWN] + "…"
