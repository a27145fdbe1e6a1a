"""The canonical bytes of a stored event (ledger/audit/canonical.py): RFC 8785 (JCS) on its
own examples and number vectors, escapes, key order, refusals, and a real stored Standing
event whose bytes are the same in every process and change with every field."""

from __future__ import annotations

import json
import math
import os
import struct
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec
import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import given, settings
from hypothesis import strategies as st

from grondslag.ledger.audit.canonical import canonical_event_bytes, canonical_json, es_number
from grondslag.ledger.domain.standing import Standing
from grondslag.ledger.domain.values import Consent, Evidence
from grondslag.ledger.persistence.mapper import MsgspecMapper

# -- RFC 8785 --------------------------------------------------------------------------------

RFC_8785_INPUT = (
    '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
    ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
    ' "literals": [null, true, false]}'
)
RFC_8785_OUTPUT = (
    r"""{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"""
    r""""string":"€$\u000f\nA'B\"\\\\\"/"}"""
)


def test_the_example_of_rfc_8785_section_3_2_2():
    assert canonical_json(json.loads(RFC_8785_INPUT)) == RFC_8785_OUTPUT.encode("utf-8")


def test_members_sort_by_utf16_code_units_as_in_rfc_8785_section_3_2_3():
    names = ["\u20ac", "\r", "\ufb33", "1", "\U0001f600", "\u0080", "\u00f6"]
    encoded = canonical_json({name: 0 for name in names}).decode("utf-8")
    assert list(json.loads(encoded)) == [
        "\r",
        "1",
        "\u0080",
        "\u00f6",
        "\u20ac",
        "\U0001f600",
        "\ufb33",
    ]
    # By code points U+FB33 would precede U+1F600; its UTF-16 surrogate 0xD83D sorts first.
    assert sorted(names) != list(json.loads(encoded))


def test_members_sort_by_name_at_every_depth_and_arrays_keep_their_order():
    value = {"b": [3, {"z": 1, "a": 2}, 1], "a": {"d": {}, "c": []}, "": ""}
    expected = b'{"":"","a":{"c":[],"d":{}},"b":[3,{"a":2,"z":1},1]}'
    assert canonical_json(value) == expected


# (IEEE 754 bits, ECMAScript form): the number vectors of RFC 8785 appendix B.
NUMBERS = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "expected"), NUMBERS)
def test_numbers_as_ecmascript_writes_them(bits, expected):
    value = struct.unpack(">d", bytes.fromhex(bits))[0]
    assert es_number(value) == expected
    assert canonical_json([value]) == f"[{expected}]".encode()


def significant(text: str) -> tuple[int, int]:
    """(digits, decimal exponent of the first digit) of a JSON number."""
    mantissa, _, exponent = text.lstrip("-").partition("e")
    digits = mantissa.replace(".", "")
    point = len(mantissa.split(".")[0]) + int(exponent or 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    return int(stripped.rstrip("0") or "0"), point


@settings(max_examples=500)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_double_is_written_with_the_fewest_digits_that_read_back(value):
    text = es_number(value)
    assert float(text) == value
    if value == 0:
        assert text == "0"
        return
    # Exponent form exactly outside [1e-6, 1e21), as Number::toString decides.
    assert ("e" in text) == (not 1e-6 <= abs(value) < 1e21)
    assert not text.endswith(".0") and "e+0" not in text and "e-0" not in text
    s, _ = significant(text)
    k = len(str(s))
    if k > 1:  # no decimal with one digit fewer reads back as the same double
        rounded = Decimal(f"{abs(value):.{k - 2}e}")
        unit = Decimal(1).scaleb(rounded.adjusted() - (k - 2))
        for candidate in (rounded - unit, rounded, rounded + unit):
            assert float(candidate) != abs(value), candidate
    # and of the k-digit decimals that do, it is the closest one
    with localcontext() as exactly:
        exactly.prec = 1100  # enough for any double's exact value
        real, mine = Decimal(abs(value)), Decimal(text.lstrip("-"))
        unit = Decimal(1).scaleb(mine.adjusted() - (k - 1))
        for neighbour in (mine - unit, mine + unit):
            if float(neighbour) == abs(value):
                assert abs(mine - real) <= abs(neighbour - real)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused(value):
    with pytest.raises(ValueError):
        canonical_json([value])


def test_integers_are_written_as_is_within_the_safe_range():
    expected = b"[0,-1,9007199254740991,-9007199254740991]"
    assert canonical_json([0, -1, 2**53 - 1, -(2**53 - 1)]) == expected


@pytest.mark.parametrize("value", [2**53, -(2**53), 59271550326685330, 295147905179352830000])
def test_larger_integers_that_already_are_their_double_s_form_are_kept(value):
    assert canonical_json(value) == str(value).encode()
    assert canonical_json(value) == canonical_json(float(value))


@pytest.mark.parametrize("value", [2**53 + 1, 59271550326685328, 10**21, 10**400, -(10**400)])
def test_larger_integers_that_a_double_would_change_are_refused(value):
    with pytest.raises(ValueError):
        canonical_json([value])


# -- Strings ---------------------------------------------------------------------------------

SHORT_ESCAPES = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"}


@pytest.mark.parametrize("code", range(0x20))
def test_control_characters_are_escaped_as_json_requires(code):
    expected = SHORT_ESCAPES.get(code, f"\\u{code:04x}")
    assert canonical_json(chr(code)) == f'"{expected}"'.encode("ascii")


def test_only_quote_and_backslash_are_escaped_among_the_printable():
    assert canonical_json('"') == b'"\\""'
    assert canonical_json("\\") == b'"\\\\"'
    printable = "".join(chr(c) for c in range(0x20, 0x80) if chr(c) not in '"\\')
    assert canonical_json(printable) == f'"{printable}"'.encode("ascii")  # "/" and DEL too


def test_non_ascii_is_kept_as_utf8():
    text = "café € \u2028\u2029 \ufeff 😀 𝄞 ijsbeer ĳ"
    assert canonical_json(text) == b'"' + text.encode("utf-8") + b'"'
    assert canonical_json({"é": "ü"}) == '{"é":"ü"}'.encode()


@pytest.mark.parametrize("text", ["\ud800", "a\udfffb", "\udc00\ud800"])
def test_lone_surrogates_are_refused(text):
    with pytest.raises(ValueError):
        canonical_json(text)
    with pytest.raises(ValueError):
        canonical_json({text: 1})


@pytest.mark.parametrize("value", [{1: "a"}, {None: 1}, b"bytes", {1, 2}, object(), Decimal(1)])
def test_values_that_are_not_json_are_refused(value):
    with pytest.raises(ValueError):
        canonical_json(value)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300)
@given(json_values)
def test_canonical_json_reads_back_and_is_a_fixed_point(value):
    encoded = canonical_json(value)
    # A JSON number is a double: read every number back as one.
    assert json.loads(encoded, parse_int=float) == value
    assert canonical_json(json.loads(encoded, parse_int=float)) == encoded
    # Python reads a number without fraction or exponent as an int: the same bytes again.
    assert canonical_json(json.loads(encoded)) == encoded


# -- Events ----------------------------------------------------------------------------------

EVENT_ID = UUID("2f761670-6f2c-53d0-b40f-d494e7e68df0")
TOPIC = "ledger.domain.standing:Standing.ConsentGiven"


def test_a_stored_event_has_one_documented_encoding():
    state = (
        b'{"timestamp":"2025-02-03T00:00:00Z", "consent": {"type":"consent","explicit":true,'
        b'"note":"caf\\u00e9 \\"x\\"\\t","n":[1,-0,2.50,1e21],"z":null,"A":false}}'
    )
    expected = (
        b'{"originator_id":"2f761670-6f2c-53d0-b40f-d494e7e68df0","originator_version":2,'
        b'"state":{"consent":{"A":false,"explicit":true,"n":[1,0,2.5,1e+21],'
        b'"note":"caf\xc3\xa9 \\"x\\"\\t","type":"consent","z":null},'
        b'"timestamp":"2025-02-03T00:00:00Z"},'
        b'"topic":"ledger.domain.standing:Standing.ConsentGiven"}'
    )
    assert canonical_event_bytes(EVENT_ID, 2, TOPIC, state) == expected


def test_the_state_s_own_layout_does_not_matter():
    compact = b'{"a":1,"b":{"c":[1,2]}}'
    loose = b'{ "b" : { "c" : [ 1 , 2 ] } ,\n "a" : 1.0 }'
    assert canonical_event_bytes(EVENT_ID, 1, TOPIC, compact) == canonical_event_bytes(
        EVENT_ID, 1, TOPIC, loose
    )


@pytest.mark.parametrize(
    "state",
    [
        b'{"a":NaN}',
        b'{"a":Infinity}',
        b'{"a":-Infinity}',
        b'{"a":1e400}',
        b'{"a":1,"a":2}',
        b'{"a":{"b":1,"b":1}}',
        b'{"a":"\\ud800"}',
        b'{"\\udc00":1}',
        b'{"a":9007199254740993}',
        b'{"a":',
        b"",
    ],
)
def test_states_without_a_canonical_form_are_refused(state):
    with pytest.raises(ValueError):
        canonical_event_bytes(EVENT_ID, 1, TOPIC, state)


def test_identity_and_topic_must_be_what_they_claim():
    with pytest.raises(ValueError):
        canonical_event_bytes(str(EVENT_ID), 1, TOPIC, b"{}")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        canonical_event_bytes(EVENT_ID, 1, b"topic", b"{}")  # type: ignore[arg-type]
    for version in (-1, 2**53, True, 1.0, "1"):
        with pytest.raises(ValueError):
            canonical_event_bytes(EVENT_ID, version, TOPIC, b"{}")  # type: ignore[arg-type]


# -- A real stored event -----------------------------------------------------------------------

RECORDED_AT = datetime(2025, 2, 3, 9, 30, 0, 123456, tzinfo=UTC)
CONSENT = Consent(
    method="signed_electronic",
    explicit=True,
    notice_version="n1",
    purpose_version=1,
    evidence=Evidence(document_ref="scan-1", sha256="b" * 64),
    effective_at=datetime(2025, 2, 1, tzinfo=UTC),
    recorded_by="staff:anna — zorgverlener",
    representative_ref="parent-1",
    capacity="parental_authority",
    expires_at=datetime(2025, 6, 1, tzinfo=UTC),
)
# Another value for each field of the consent.
CHANGED = {
    "method": "written",
    "explicit": False,
    "notice_version": "n2",
    "purpose_version": 2,
    "evidence": Evidence(document_ref="scan-1", sha256="c" * 64),
    "effective_at": datetime(2025, 2, 1, 0, 0, 1, tzinfo=UTC),
    "recorded_by": "staff:anne — zorgverlener",
    "representative_ref": "parent-2",
    "capacity": "guardian",
    "expires_at": None,
}


def stored_consent(consent: Consent = CONSENT, recorded_at: datetime = RECORDED_AT) -> StoredEvent:
    """The stored ConsentGiven event of a standing, as MsgspecMapper writes it."""
    standing = Standing.open("practice-a", "client-001", "youth-file")
    standing.trigger_event(Standing.ConsentGiven, consent=consent)
    event = standing.collect_events()[-1]
    assert isinstance(event, Standing.ConsentGiven)
    return MsgspecMapper().to_stored_event(
        type(event)(
            originator_id=event.originator_id,
            originator_version=event.originator_version,
            timestamp=recorded_at,
            consent=event.consent,
        )
    )


def canonical(stored: StoredEvent) -> bytes:
    return canonical_event_bytes(
        stored.originator_id, stored.originator_version, stored.topic, stored.state
    )


def real_event_bytes() -> bytes:
    """Also called in fresh interpreters by the test below."""
    return canonical(stored_consent())


def test_a_real_stored_event_is_the_sorted_compact_json_of_its_parts():
    stored = stored_consent()
    encoded = canonical(stored)
    parts = {
        "originator_id": str(stored.originator_id),
        "originator_version": stored.originator_version,
        "state": json.loads(stored.state),
        "topic": stored.topic,
    }
    assert json.loads(encoded) == parts
    # The state holds no numbers but small integers: here JCS equals sorted compact JSON.
    assert encoded == json.dumps(
        parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    assert encoded.startswith(b'{"originator_id":"2f761670-6f2c-53d0-b40f-d494e7e68df0"')
    assert "staff:anna — zorgverlener".encode() in encoded


def test_a_real_stored_event_has_the_same_bytes_in_every_process():
    here = real_event_bytes().hex()
    script = (
        "import runpy, sys; "
        f"sys.stdout.write(runpy.run_path({str(Path(__file__))!r})['real_event_bytes']().hex())"
    )
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
        )
        assert run.stdout == here
    assert real_event_bytes().hex() == here


def test_any_change_of_a_field_changes_the_bytes():
    assert set(CHANGED) <= set(Consent.__struct_fields__)
    original = stored_consent()
    variants: dict[str, bytes] = {"original": canonical(original)}
    for field, value in CHANGED.items():
        assert getattr(CONSENT, field) != value
        variants[f"consent.{field}"] = canonical(
            stored_consent(msgspec.structs.replace(CONSENT, **{field: value}))
        )
    variants["recorded_at"] = canonical(
        stored_consent(recorded_at=RECORDED_AT.replace(microsecond=123457))
    )
    base: dict[str, Any] = {
        "originator_id": original.originator_id,
        "originator_version": original.originator_version,
        "topic": original.topic,
        "state": original.state,
    }
    for name, value in {
        "originator_id": UUID(int=original.originator_id.int ^ 1),
        "originator_version": original.originator_version + 1,
        "topic": "ledger.domain.standing:Standing.ConsentWithdrawn",
    }.items():
        variants[name] = canonical_event_bytes(**{**base, name: value})
    assert len(set(variants.values())) == len(variants), "two different events share bytes"
