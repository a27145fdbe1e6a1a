"""Every single changed character of an export bundle makes ``verify`` fail with a
``BundleError``: a sweep over every byte of a full bundle and of a purpose-and-period bundle,
and property tests with any other printable character anywhere or a deleted character."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grondslag.ledger.audit.bundle import (
    BundleError,
    verify,
)

from bundle_support import (
    FULL_DATA,
    NARROW_DATA,
)

# -- every single changed character ------------------------------------------------------------


def other_char(c: int) -> int:
    """Another printable ASCII character of the same kind: digit, lower or upper letter;
    anything else becomes a space (a space becomes 'x')."""
    ch = chr(c)
    for alphabet in ("0123456789", "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
        if ch in alphabet:
            return ord(alphabet[(alphabet.index(ch) + 1) % len(alphabet)])
    return ord("x") if ch == " " else ord(" ")


def outcome(data: bytes, position: int) -> str | None:
    """None when changing the byte at ``position`` is caught by a BundleError; else how it
    went (it verified, or another exception escaped)."""
    changed = bytearray(data)
    changed[position] = other_char(data[position])
    try:
        verify(bytes(changed))
    except BundleError:
        return None
    except Exception as error:
        return f"{position} ({chr(data[position])!r}): {type(error).__name__}: {error}"
    return f"{position} ({chr(data[position])!r}): verified"


def test_every_single_character_change_of_a_full_bundle_fails():
    failures = [o for p in range(len(FULL_DATA)) if (o := outcome(FULL_DATA, p))]
    assert failures == []


def test_every_single_character_change_of_a_purpose_and_period_bundle_fails():
    failures = [o for p in range(len(NARROW_DATA)) if (o := outcome(NARROW_DATA, p))]
    assert failures == []


@settings(max_examples=300, deadline=None)
@given(position=st.integers(0, len(FULL_DATA) - 1), byte=st.integers(0x20, 0x7E))
def test_any_other_printable_character_anywhere_fails(position, byte):
    if FULL_DATA[position] == byte:
        return
    changed = bytearray(FULL_DATA)
    changed[position] = byte
    with pytest.raises(BundleError):
        verify(bytes(changed))


@settings(max_examples=200, deadline=None)
@given(position=st.integers(0, len(FULL_DATA) - 1))
def test_a_deleted_character_anywhere_fails(position):
    with pytest.raises(BundleError):
        verify(FULL_DATA[:position] + FULL_DATA[position + 1 :])
