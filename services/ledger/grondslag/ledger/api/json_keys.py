"""A request body's JSON objects name each key once.

RFC 8259 (§4) leaves an object with a name twice to the parser, and parsers differ: msgspec
and Python keep the last value, others the first, some refuse it (I-JSON, RFC 7493, forbids
it). The body a practice's system logged and the event the ledger recorded could then say
different things — ``{"birth_date": "1988-04-02", "birth_date": "2015-01-01"}`` is an adult
to one reader and a child under 16 (R11) to another. So a body with a repeated key is
refused (422 ``invalid-body`` naming the key) and nothing is recorded."""

from __future__ import annotations

import json
from typing import Any

from .problems import FieldError, ProblemError, problem_type


def unique_keys(body: bytes) -> None:
    """Refuse ``body`` (JSON that msgspec has already decoded) if an object in it names a
    key twice. Numbers are not converted: only the names are looked at."""
    repeated: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> None:
        if len(items) > 1:
            seen: set[str] = set()
            for name, _ in items:
                if name in seen and name not in repeated:
                    repeated.append(name)
                seen.add(name)

    try:
        json.loads(body, object_pairs_hook=pairs, parse_int=_ignored, parse_float=_ignored)
    except ValueError:  # msgspec's reading stands (it refuses what it must refuse)
        return
    if repeated:
        errors = [
            FieldError(name, "the key is given more than once in one object", "body")
            for name in repeated
        ]
        raise ProblemError(
            422,
            "Invalid request",
            "; ".join(f"{e.field}: {e.message}" for e in errors),
            kind=problem_type("invalid-body"),
            field=repeated[0],
            errors=errors,
        )


def _ignored(text: str) -> None:
    return None
