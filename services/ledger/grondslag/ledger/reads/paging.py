"""Cursors of paged lists: opaque to the caller, the key of the last row of a page inside.

Each list orders by a key that only grows where rows are added (a subject's history by the
event's position in the log) or that stays where it is (the register by code), and its next
page starts after the key of the last row shown: rows added meanwhile never shift a page,
so none is shown twice or skipped.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, TypeVar

import msgspec

from ..domain.errors import InvalidInput

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode(key: Any) -> str:
    raw = msgspec.json.encode(key)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, kind: type[T]) -> T:
    """The key a cursor holds; 422 naming ``cursor`` when no list of this kind gave it."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return msgspec.json.decode(raw, type=kind)
    except (ValueError, binascii.Error, msgspec.DecodeError):
        raise InvalidInput("cursor is not one this list gave", field="cursor") from None
