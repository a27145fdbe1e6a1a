"""The canonical bytes of one stored event: the data of its leaf in the audit tree.

An event is the JSON object ::

    {"originator_id": <UUID, lowercase 8-4-4-4-12 hex string>,
     "originator_version": <integer>,
     "state": <the stored state: msgspec JSON bytes, parsed as JSON>,
     "topic": <the event class topic, e.g. "ledger.domain.standing:Standing.ConsentGiven">}

serialised by RFC 8785, the JSON Canonicalization Scheme (JCS), as UTF-8:

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
  it is refused rather than rounded: two states must never share bytes. NaN and the
  infinities are refused.

Member names are unique: the stored state is refused if an object repeats a name. Stored
states hold no floats today (no domain value is a float: times are RFC 3339 strings,
versions integers); the number rules exist so that an auditor's JCS library agrees on
any state. Every refusal raises ``ValueError``. The leaf hash is
``merkle.leaf_hash(canonical_event_bytes(...))``.
"""

from __future__ import annotations

import json
import math
from typing import Any
from uuid import UUID

MAX_SAFE_INTEGER = 2**53 - 1

_ESCAPES = {i: f"\\u{i:04x}" for i in range(0x20)} | {
    0x08: "\\b",
    0x09: "\\t",
    0x0A: "\\n",
    0x0C: "\\f",
    0x0D: "\\r",
    0x22: '\\"',
    0x5C: "\\\\",
}


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
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts).encode("utf-8")


def es_number(value: float) -> str:
    """ECMAScript Number::toString(value) for a finite double (RFC 8785 §3.2.2.3)."""
    if not math.isfinite(value):
        raise ValueError(f"{value!r} has no JSON form")
    if value == 0:
        return "0"
    if value < 0:
        return "-" + es_number(-value)
    # repr gives the shortest round-tripping digits, correctly rounded (as ECMAScript).
    mantissa, _, exponent = repr(value).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + int(exponent or 0)  # value = 0.<digits> * 10**point
    significant = digits.lstrip("0")
    point -= len(digits) - len(significant)
    s = significant.rstrip("0")
    k, n = len(s), point  # value = s * 10**(n - k), s has k digits
    if k <= n <= 21:
        return s + "0" * (n - k)
    if 0 < n <= 21:
        return s[:n] + "." + s[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + s
    e = n - 1
    sign = "+" if e >= 0 else "-"
    return (s if k == 1 else s[0] + "." + s[1:]) + "e" + sign + str(abs(e))


def _write(value: Any, parts: list[str]) -> None:
    if value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif isinstance(value, str):
        parts.append(_string(value))
    elif isinstance(value, int):
        parts.append(_integer(int(value)))
    elif isinstance(value, float):
        parts.append(es_number(value))
    elif isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise ValueError(f"object member names are strings, not {key!r}")
        parts.append("{")
        for i, key in enumerate(sorted(value, key=_utf16_units)):
            if i:
                parts.append(",")
            parts.append(_string(key))
            parts.append(":")
            _write(value[key], parts)
        parts.append("}")
    elif isinstance(value, list | tuple):
        parts.append("[")
        for i, item in enumerate(value):
            if i:
                parts.append(",")
            _write(item, parts)
        parts.append("]")
    else:
        raise ValueError(f"{type(value).__name__} is not a JSON value")


def _integer(value: int) -> str:
    text = str(value)
    if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return text
    try:
        as_double = es_number(float(value))
    except OverflowError:
        as_double = "no double"
    if as_double != text:
        raise ValueError(f"integer {value} would be written as {as_double}: refused")
    return text


def _string(text: str) -> str:
    _check_scalar_values(text)
    return '"' + text.translate(_ESCAPES) + '"'


def _utf16_units(text: str) -> bytes:
    _check_scalar_values(text)
    return text.encode("utf-16-be")  # big-endian bytes compare as the code units do


def _check_scalar_values(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(f"a lone surrogate cannot be encoded: {text!r}") from error


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        raise ValueError("an object repeats a member name")
    return members


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
