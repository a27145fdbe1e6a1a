"""The canonical bytes of one stored event: the data of its leaf in the audit tree.

An event is the JSON object ::

    {"originator_id": <UUID, lowercase 8-4-4-4-12 hex string>,
     "originator_version": <integer>,
     "state": <the stored state: msgspec JSON bytes, parsed as JSON>,
     "topic": <the event class topic, e.g. "ledger.domain.standing:Standing.ConsentGiven">}

serialised by RFC 8785, the JSON Canonicalization Scheme (JCS), as UTF-8 — written by the
``rfc8785`` library, which does exactly this:

* no whitespace anywhere;
* object members sorted by their names compared as arrays of UTF-16 code units (not by
  code points: U+E000 sorts after U+1F600, whose first unit is the surrogate 0xD83D);
* strings in double quotes, escaping only what JSON requires: ``\\"`` and ``\\\\``,
  ``\\b \\f \\n \\r \\t`` for U+0008, U+000C, U+000A, U+000D, U+0009, ``\\u00xx`` (lowercase
  hex) for the other code points below U+0020; everything else, U+007F and all non-ASCII
  included, as its UTF-8 bytes. A lone surrogate cannot be encoded and is refused;
* ``true``, ``false``, ``null``;
* numbers as ECMAScript's Number::toString of the IEEE 754 double: the shortest decimal
  digits that read back as the same double (the closest such if several), written as an
  integer when the decimal exponent allows (up to 21 digits), else ``d.ddde±x``; -0 is
  ``0``. Integers are written as is within ±(2**53 - 1), where each is its own double.
  A larger integer is written as is only when that already is its double's form (2**53,
  59271550326685330); any other (2**53 + 1, 10**21) would come out as another number, so
  it is refused rather than rounded: two states must never share bytes (the library
  refuses every integer outside the safe range; the few that are their double's form are
  handed to it as that double here). NaN and the infinities are refused.

Member names are unique: the stored state is refused if an object repeats a name. Stored
states hold no floats today (no domain value is a float: times are RFC 3339 strings,
versions integers); the number rules exist so that an auditor's JCS library agrees on
any state. Every refusal raises ``ValueError``. The leaf hash is
``merkle.leaf_hash(canonical_event_bytes(...))``.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import rfc8785

MAX_SAFE_INTEGER = 2**53 - 1


def canonical_event_bytes(
    originator_id: UUID, originator_version: int, topic: str, state: bytes
) -> bytes:
    """The JCS bytes of one stored event (see the module docstring)."""
    if not isinstance(originator_id, UUID):
        raise ValueError("originator_id must be a UUID")
    if isinstance(originator_version, bool) or not isinstance(originator_version, int):
        raise ValueError("originator_version must be an integer")
    if not 0 <= originator_version <= MAX_SAFE_INTEGER:
        raise ValueError(f"originator_version {originator_version} is outside 0..2**53 - 1")
    if not isinstance(topic, str):
        raise ValueError("topic must be a string")
    parsed = json.loads(state, object_pairs_hook=_unique_members, parse_constant=_refuse_constant)
    event = {
        "originator_id": str(originator_id),
        "originator_version": originator_version,
        "state": parsed,
        "topic": topic,
    }
    return canonical_json(event)


def canonical_json(value: Any) -> bytes:
    """The JCS (RFC 8785) UTF-8 bytes of a JSON value: dicts with string keys, lists or
    tuples, strings, integers, floats, booleans and None."""
    try:
        return rfc8785.dumps(value)
    except rfc8785.IntegerDomainError:
        return rfc8785.dumps(_large_integers_as_doubles(value))
    except UnicodeEncodeError as error:  # a lone surrogate in a member name
        raise ValueError(f"a lone surrogate cannot be encoded: {error.object!r}") from None


def es_number(value: float) -> str:
    """ECMAScript Number::toString(value) for a finite double (RFC 8785 §3.2.2.3)."""
    return rfc8785.dumps(float(value)).decode("ascii")


def _large_integers_as_doubles(value: Any) -> Any:
    """``value`` with each integer beyond ±(2**53 - 1) that is written as its double would
    be turned into that double; any other such integer is refused."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return _as_double(value) if abs(value) > MAX_SAFE_INTEGER else value
    if isinstance(value, dict):
        return {key: _large_integers_as_doubles(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_large_integers_as_doubles(item) for item in value]
    return value


def _as_double(value: int) -> float:
    try:
        double = float(value)
    except OverflowError:
        raise ValueError(f"integer {value} has no double: refused") from None
    if es_number(double) != str(value):
        raise ValueError(f"integer {value} would be written as {es_number(double)}: refused")
    return double


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        raise ValueError("an object repeats a member name")
    return members


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
