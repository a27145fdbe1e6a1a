"""The dossier: everything the rules may know about one subject for one purpose.

The subject (its representations and its sealed personal data), the purpose's versions
from the register, and the standing's facts. Every answer the ledger gives — a command's
answer, a read, a batch check, the read model, a NATS message, the auditor's page, the
offline replay of an export bundle — is ``Dossier.standing(at, known_at)``: one fold.

The personal data arrives sealed; the dossier is handed the function that opens it (the
subject's own key, bound by whoever loaded the dossier), so the domain does no I/O and
never sees a key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import msgspec

from .context import Context
from .evidence import EvidenceRecord, evidence_records
from .facts import Fact, Statement
from .purpose import Purpose
from .purpose_versions import PurposeVersion
from .recorded_order import after_last, not_before
from .standing import Standing
from .standing_at import StandingAnswer, standing_at, standing_now
from .subject import Subject
from .subject_view import SubjectView
from .values import Lapse, PersonalData

AGE_LAPSE = "subject_reached_age_of_consent"

Unseal = Callable[[bytes], PersonalData | None]


def _sealed_shut(_: bytes) -> PersonalData | None:
    return None


@dataclass(frozen=True)
class Dossier:
    """One subject and one purpose; ``register`` or ``subject`` may be missing (then the
    caller decides whether that is a 404 or a 409)."""

    tenant: str
    subject_ref: str
    purpose: str
    register: Purpose | None
    subject: Subject | None
    standing_stream: Standing | None = None
    unseal: Unseal = _sealed_shut

    @property
    def versions(self) -> list[PurposeVersion]:
        return self.register.versions if self.register else []

    @property
    def facts(self) -> list[Fact]:
        return self.standing_stream.facts if self.standing_stream else []

    def statement(self, event_id: UUID) -> Statement:
        """The statement the standing's event ``event_id`` recorded."""
        return next(f.statement for f in self.facts if f.event_id == event_id)

    def view(self, known_at: datetime) -> SubjectView:
        """What the rules may know of the subject as known at ``known_at``: its birth date
        (unsealed; unknown once the key is destroyed) and who represents it."""
        if self.subject is None:
            return SubjectView()
        sealed = self.subject.sealed_as_of(known_at)
        personal = self.unseal(sealed) if sealed else None
        if personal is None and self.subject.erasures:
            personal = self.personal_data()  # R22: what the holds kept, if anything
        birth_date = personal.birth_date if personal else None
        view = self.subject.view(birth_date, known_at)
        if birth_date is None and self.subject.erasures:
            view = msgspec.structs.replace(view, age_of_consent_at=self._recorded_age_lapse())
        return view

    def _recorded_age_lapse(self) -> datetime | None:
        """R22: the 16th birthday as the deadline clock last recorded it on this standing
        (whenever it was recorded: it is what the erased birth date said)."""
        lapses = [
            f
            for f in self.facts
            if isinstance(f.statement, Lapse) and f.statement.reason == AGE_LAPSE
        ]
        return max(lapses, key=lambda f: f.recorded_at).effective_at if lapses else None

    def personal_data(self) -> PersonalData | None:
        if self.subject is None or not self.subject.sealed_personal_data:
            return None
        return self.unseal(self.subject.sealed_personal_data)

    def standing(self, at: datetime, known_at: datetime) -> StandingAnswer:
        """What applied at ``at``, as known at ``known_at``."""
        return standing_at(
            self.purpose, self.facts, self.versions, at, known_at, self.view(known_at)
        )

    def standing_now(self, now: datetime) -> tuple[StandingAnswer, bool, datetime | None]:
        """``standing(now, now)``; whether it stands for later "nows" too (nothing of the
        three streams was recorded after ``now``); and until when: the first instant at
        which the clock alone may change it (None: no such instant) — what the read model
        keeps beside a standing's rendered answer (``projector.current_standing``)."""
        answer, until = standing_now(self.purpose, self.facts, self.versions, now, self.view(now))
        # a writer's clock ahead of ours: a later "now" knows more, so fold each time
        holds = all(recorded <= now for recorded in self._recorded())
        return answer, holds, until

    def evidence(self, answer: StandingAnswer) -> list[EvidenceRecord]:
        """The full evidence (R7) of each event ``answer`` rests on."""
        return evidence_records(answer.evidence, self.facts, self.versions)

    def now(self, clock: datetime) -> datetime:
        """The instant a command on this dossier records at: the clock's, or one tick after
        the last instant its streams recorded (``recorded_order``), so that its answer,
        folded at that instant, knows everything the streams hold."""
        return after_last(clock, self._recorded())

    def present(self, clock: datetime) -> datetime:
        """The "now" of a question that names no instant: the clock's, or the last instant
        the dossier's streams recorded if that is later — a write through a replica whose clock
        runs ahead of this reader's is known, and in force, in the answer to a read right
        after it (read-your-writes does not depend on the two clocks agreeing)."""
        return not_before(clock, self._recorded())

    def _recorded(self) -> list[datetime]:
        """The last instant each of the dossier's streams recorded."""
        streams = (s for s in (self.subject, self.register, self.standing_stream) if s)
        return [stream.modified_on for stream in streams]

    def context(self, now: datetime) -> Context:
        """What a command on the standing may know at ``now``."""
        return Context(self.versions, self.view(now), now)

    def standing_for_commands(self, now: datetime) -> Standing:
        """The standing stream, opened at ``now`` if nothing was recorded yet."""
        return self.standing_stream or Standing.open(
            self.tenant, self.subject_ref, self.purpose, now
        )
