"""The scale benchmark's store: many tenants' registers, subjects and standings, written the
way the API writes them, in big transactions.

Every event is a real one: recorded by the aggregates' own guarded commands (a consent checks
R4–R16, a withdrawal R8), stamped with an API key's actor, each subject's birth date sealed
under its own key (wrapped by the key-encryption key, in the key table), saved by the
ledger's recorder, which keeps the stream index in the same transaction — only many
aggregates share each transaction (``save(*aggregates)``), which is what makes the fill fast.

Two parts, written in this order:

* the probe: the first tenant's subjects, each with one standing on the first purpose (a
  consent, every fourth withdrawn) and a few with a long history of consents and
  withdrawals through 2025 (half of it recorded before ``known_at``). The benchmark's
  questions are asked of these streams only, and they never change afterwards: the same
  question is asked at every level of the fill, and must get the same answer;
* the filler: every other tenant's subjects, each admitted with a standing per purpose,
  then pass after pass of one more event on each standing (withdrawn, consented again),
  until the store holds the events asked for.
"""

from __future__ import annotations

import functools
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from grondslag.ledger import envelope
from grondslag.ledger.application import Ledger
from grondslag.ledger.domain.context import Context
from grondslag.ledger.domain.ids import standing_id, subject_id
from grondslag.ledger.domain.purpose import Purpose
from grondslag.ledger.domain.purpose_versions import PurposeVersion
from grondslag.ledger.domain.standing import Standing
from grondslag.ledger.domain.subject import Subject
from grondslag.ledger.domain.subject_view import SubjectView
from grondslag.ledger.domain.values import PersonalData
from grondslag.ledger.persistence import actors
from grondslag.ledger.persistence.postgres import KEYS_TABLE
from grondslag.ledger.persistence.sealing import seal

from .common import CONSENT, REGISTERED_AT, TERMS

ACTOR_ID = "key:5ca1ef111e000000"  # an API key's actor, as the bearer middleware names it
TODAY = date(2026, 1, 1)
WITHDRAWAL: dict[str, Any] = {"method": "email", "recorded_by": "bench"}


@dataclass(frozen=True)
class Shape:
    """How many of each the store holds; ``for_events`` scales the full shape down."""

    events: int
    tenants: int
    subjects: int
    purposes: int  # per tenant
    probe_subjects: int  # of the first tenant, each with one standing on its first purpose
    history_probes: int  # of those, the ones with a long history
    history_length: int  # consents and withdrawals on each of them
    check_refs: int  # the batch check's refs: every probe subject, the rest never recorded
    repeats: int  # timed passes over the questions at each stage (after one untimed)

    @classmethod
    def for_events(cls, events: int) -> Shape:
        full = events >= 100_000
        tenants = min(100, max(2, events // 10_000))
        subjects = min(10_000, max(5 * tenants, events // 100))
        probe = min(2_000, max(2, subjects // 5))
        return cls(
            events=events,
            tenants=tenants,
            subjects=subjects,
            purposes=10 if full else 2,
            probe_subjects=probe,
            history_probes=min(100, max(1, probe // 20)),
            history_length=20 if full else 6,
            check_refs=10_000 if full else 10 * probe,
            repeats=5 if full else 1,
        )

    def tenant(self, i: int) -> str:
        return f"scale-{i:03d}"

    def purpose(self, i: int) -> str:
        return f"scale-{i}"

    @property
    def probe_tenant(self) -> str:
        return self.tenant(0)

    @property
    def probe_purpose(self) -> str:
        return self.purpose(0)

    def probe_refs(self) -> list[str]:
        return [f"probe-{i}" for i in range(self.probe_subjects)]

    def history_refs(self) -> list[str]:
        return self.probe_refs()[: self.history_probes]

    def check_list(self) -> list[str]:
        probes = self.probe_refs()
        return probes + [f"unrecorded-{i}" for i in range(self.check_refs - len(probes))]


@dataclass
class Probe:
    """What the questions need to know of the probe: when ``known_at`` falls, and a moment
    inside the long histories."""

    known_at: datetime
    at: datetime


class Store:
    """Writes the shape into a ledger and keeps count of the events it holds."""

    def __init__(self, ledger: Ledger, shape: Shape, batch_events: int = 1_000):
        self.ledger, self.shape, self.batch_events = ledger, shape, batch_events
        self.versions: dict[tuple[str, str], list[PurposeVersion]] = {}
        self.events = 0
        # the filler's events and the time spent making and saving them: the fill rate
        self.filled, self.seconds, self.cpu_seconds = 0, 0.0, 0.0  # cpu: this process's
        self._filler: Iterator[list[Any]] | None = None

    def register(self) -> None:
        """Every tenant's purposes, one transaction per tenant."""
        for t in range(self.shape.tenants):
            tenant = self.shape.tenant(t)
            purposes = [
                Purpose.register(tenant, self.shape.purpose(p), TERMS, REGISTERED_AT)
                for p in range(self.shape.purposes)
            ]
            for purpose in purposes:
                self.versions[(tenant, purpose.code)] = purpose.versions
            self._save(purposes)

    def write_probe(self) -> Probe:
        shape, tenant, code = self.shape, self.shape.probe_tenant, self.shape.probe_purpose
        versions = self.versions[(tenant, code)]
        refs = shape.probe_refs()
        batch: list[Any] = []
        for i, ref in enumerate(refs):
            if i % 100 == 0:
                batch += self._subjects([(tenant, r) for r in refs[i : i + 100]])
            standing = Standing.open(tenant, ref, code)
            standing.give_consent(_context(versions, ref), **CONSENT)
            if i % 4 == 3 and i >= shape.history_probes:
                standing.withdraw_consent(
                    _context(versions, ref),
                    effective_at=datetime(2025, 6, 1, tzinfo=UTC),
                    **WITHDRAWAL,
                )
            batch.append(standing)
            if len(batch) >= 200:
                self._save(batch)
                batch = []
        self._save(batch)
        half = shape.history_length // 2
        streams: list[Standing] = [
            self.ledger.repository.get(standing_id(tenant, ref, code))
            for ref in shape.history_refs()
        ]
        self._history(streams, versions, 0, half)
        known_at = datetime.now(UTC)
        time.sleep(0.01)  # recorded strictly after known_at
        self._history(streams, versions, half, shape.history_length)
        return Probe(known_at=known_at, at=_history_moment(shape.history_length - 1))

    def fill_to(self, target: int) -> None:
        """Filler events until the store holds at least ``target`` events."""
        if self._filler is None:
            self._filler = self._filler_batches()
        started, cpu, before = time.perf_counter(), time.process_time(), self.events
        while self.events < target:
            self._save(next(self._filler))
        self.seconds += time.perf_counter() - started
        self.cpu_seconds += time.process_time() - cpu
        self.filled += self.events - before

    def _history(
        self, streams: list[Standing], versions: list[PurposeVersion], start: int, stop: int
    ) -> None:
        """Events ``start``…``stop`` of each long history: a withdrawal, then a consent again,
        a fortnight apart through 2025 (the probe's first consent is of 1 February)."""
        for standing in streams:
            for k in range(start, stop):
                moment = _history_moment(k)
                context = _context(versions, standing.subject_ref)
                if k % 2 == 0:
                    standing.withdraw_consent(context, effective_at=moment, **WITHDRAWAL)
                else:
                    standing.give_consent(context, **{**CONSENT, "effective_at": moment})
        self._save(streams)

    def _filler_batches(self) -> Iterator[list[Any]]:
        shape = self.shape
        tenants = [shape.tenant(t) for t in range(1, shape.tenants)]
        filler = shape.subjects - shape.probe_subjects
        refs = [(tenants[i % len(tenants)], f"filler-{i}") for i in range(filler)]
        codes = [shape.purpose(p) for p in range(shape.purposes)]
        per_batch = max(1, self.batch_events // (1 + 2 * len(codes)))
        standings: list[Standing] = []
        for start in range(0, len(refs), per_batch):
            chunk = refs[start : start + per_batch]
            batch: list[Any] = self._subjects(chunk)
            for tenant, ref in chunk:
                for code in codes:
                    standing = Standing.open(tenant, ref, code)
                    standing.give_consent(_context(self.versions[(tenant, code)], ref), **CONSENT)
                    batch.append(standing)
                    standings.append(standing)
            yield batch
        for round_ in range(1_000_000):
            for start in range(0, len(standings), self.batch_events):
                batch = standings[start : start + self.batch_events]
                for standing in batch:
                    versions = self.versions[(standing.tenant, standing.purpose)]
                    context = _context(versions, standing.subject_ref)
                    moment = datetime(2025, 3, 1, tzinfo=UTC) + timedelta(hours=round_)
                    if round_ % 2 == 0:
                        standing.withdraw_consent(context, effective_at=moment, **WITHDRAWAL)
                    else:
                        standing.give_consent(context, **{**CONSENT, "effective_at": moment})
                yield batch

    def _subjects(self, refs: list[tuple[str, str]]) -> list[Subject]:
        """Subjects as ``PUT /v1/subjects`` admits them: each birth date sealed under the
        subject's own key, wrapped by the key-encryption key as the key store wraps it — the
        keys stored in one statement rather than two round trips each."""
        keys = {subject_id(t, ref): AESGCM.generate_key(bit_length=256) for t, ref in refs}
        rows = [(sid, *reversed(envelope.wrap_subject_key(sid, key))) for sid, key in keys.items()]
        datastore = self.ledger.recorder.datastore  # type: ignore[attr-defined]
        with datastore.get_connection() as conn, conn.cursor() as curs:
            curs.executemany(
                f"INSERT INTO {KEYS_TABLE} (subject_id, key, kek_id) VALUES (%s, %s, %s)", rows
            )
        return [
            Subject.admit(
                tenant,
                ref,
                PersonalData(birth_date=birth_date(ref)),
                functools.partial(seal, keys[subject_id(tenant, ref)], subject_id(tenant, ref)),
                TODAY,
            )
            for tenant, ref in refs
        ]

    def _save(self, aggregates: list[Any]) -> None:
        if not aggregates:
            return
        pending = []
        for aggregate in aggregates:
            events = list(aggregate.collect_events())
            actors.stamp(
                events, actors.Actor(id=ACTOR_ID, tenant=aggregate.tenant, roles=("writer",))
            )
            pending += events
        self.ledger.save(*pending)
        self.events += len(pending)


def birth_date(ref: str) -> date:
    """An adult's birth date, the same for the same ref in every run."""
    digest = zlib.crc32(ref.encode())
    return date(1950 + digest % 50, 1 + digest % 12, 1 + digest % 28)


def _context(versions: list[PurposeVersion], ref: str) -> Context:
    """What a command knows of an adult subject now (no representatives: she acts herself)."""
    return Context(versions, SubjectView(birth_date=birth_date(ref)), datetime.now(UTC))


def _history_moment(k: int) -> datetime:
    return datetime(2025, 2, 1, tzinfo=UTC) + timedelta(days=14 * (k + 1))
