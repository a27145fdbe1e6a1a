"""What the API asks of a JSON body beyond its syntax, which msgspec reads first.

*Each key once.* RFC 8259 (§4) leaves an object with a name twice to the parser, and
parsers differ: msgspec and Python keep the last value, others the first, some refuse it
(I-JSON, RFC 7493, forbids it). The body a practice's system logged and the event the ledger
recorded could then say different things — ``{"birth_date": "1988-04-02", "birth_date":
"2015-01-01"}`` is an adult to one reader and a child under 16 (R11) to another. So a body
with a repeated key is refused (422 ``invalid-body`` naming the key) and nothing is recorded.

*Numbers in range.* msgspec reads an integer of up to 4,300 digits (Python's limit) and a
number with a fraction or an exponent up to a double's range, and refuses a larger one
without saying where (``$[...]``), which litestar answered as a bare 400. No field of the
API takes such a number, so it is an invalid value: 422 ``invalid-body`` naming the field
(``months``, ``purposes[1]``), found by reading the body again with Python's parser, which
keeps every number."""

from __future__ import annotations

import json
import math
from typing import Any

from .problems import FieldError, ProblemError, invalid_request


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
        message = "the key is given more than once in one object"
        raise _invalid([(name, message) for name in repeated])


def out_of_range(body: bytes) -> ProblemError:
    """The refusal of a body msgspec found a number in that it cannot hold."""
    found: list[str | None] = []
    try:
        value = json.loads(body, parse_int=_int, parse_float=_float, parse_constant=_float)
    except (ValueError, RecursionError):
        value = None
    _find(value, None, found)
    message = (
        "the number is out of range (an integer of more than 4,300 digits, or beyond a double)"
    )
    return _invalid([(name, message) for name in found or [None]])


class _OutOfRange:
    """Where Python's parser met a number msgspec cannot hold."""


OUT = _OutOfRange()


def _int(text: str) -> int | _OutOfRange:
    try:
        int(text)
    except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
        return OUT
    return 0  # its value is not looked at


def _float(text: str) -> float | _OutOfRange:
    return 0.0 if math.isfinite(float(text)) else OUT


def _find(value: Any, path: str | None, found: list[str | None]) -> None:
    if value is OUT:
        found.append(path)
    elif isinstance(value, dict):
        for key, item in value.items():
            _find(item, key if path is None else f"{path}.{key}", found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _find(item, f"{path or ''}[{index}]", found)


def _invalid(errors: list[tuple[str | None, str]]) -> ProblemError:
    return invalid_request([FieldError(name, message, "body") for name, message in errors])


def _ignored(text: str) -> None:
    return None
