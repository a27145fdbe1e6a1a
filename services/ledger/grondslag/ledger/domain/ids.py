"""Deterministic stream and event ids.

Streams are named by (tenant, …) so that another tenant's object simply does not exist
under this tenant's id; event ids derive from (stream, version) so that every process
that reads the log (projector, relay, auditor) names an event the same way.
"""

from __future__ import annotations

from functools import lru_cache
from uuid import UUID, uuid5

NAMESPACE = UUID("6f1c2f3e-8a4b-5d2e-9c7a-3b1e0d4f5a60")


@lru_cache(maxsize=65_536)  # SHA-1 per call; the same ids recur on every read
def purpose_id(tenant: str, code: str) -> UUID:
    return uuid5(NAMESPACE, f"purpose\x1f{tenant}\x1f{code}")


@lru_cache(maxsize=65_536)
def subject_id(tenant: str, subject_ref: str) -> UUID:
    return uuid5(NAMESPACE, f"subject\x1f{tenant}\x1f{subject_ref}")


@lru_cache(maxsize=65_536)
def standing_id(tenant: str, subject_ref: str, purpose: str) -> UUID:
    return uuid5(NAMESPACE, f"standing\x1f{tenant}\x1f{subject_ref}\x1f{purpose}")


def controller_id(tenant: str) -> UUID:
    return uuid5(NAMESPACE, f"controller\x1f{tenant}")


@lru_cache(maxsize=65_536)
def event_id(originator_id: UUID, originator_version: int) -> UUID:
    """The public id of one stored event: stable, derived, never stored twice."""
    return uuid5(originator_id, str(originator_version))
