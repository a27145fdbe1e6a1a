"""The data-subject request aggregate (R23): one stream per request, from its receipt to its
answer, with the systems that confirmed what they did and the deadlines the clock noticed.

The request guards its own rules: who may make it (the subject, or a representative R11–R16
admit for every purpose it covers), no BSN in any text (R5), an extension only within the
first month and by at most two months in all, one answer. Its due dates are computed when
recorded (``due_dates``) and stored with the events, so the log says what the ledger held
the practice to.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

import msgspec
from eventsourcing.domain import Aggregate

from . import bounds, due_dates
from .bsn import check_no_bsn
from .errors import InvalidInput, RuleViolated
from .ids import NAMESPACE, event_id
from .purpose_versions import version_in_force
from .recorded_order import InVersionOrder
from .representation import check_may_act
from .request_values import (
    Answer,
    Channel,
    Confirmation,
    Extension,
    HistoryEntry,
    IdentityCheck,
    RequestIntake,
    RequestKind,
)
from .subject_view import SubjectView
from .topics import recorded_as
from .values import Giver, PurposeTerms


def request_stream_id(tenant: str, request_id: str) -> UUID:
    return uuid5(NAMESPACE, f"request\x1f{tenant}\x1f{request_id}")


@recorded_as("ledger.domain.subject_request")
class SubjectRequest(InVersionOrder, Aggregate):
    """A request by or for a data subject (access, erasure, …) and its deadline."""

    @staticmethod
    def create_id(tenant: str, request_id: str) -> Any:
        return request_stream_id(tenant, request_id)

    class Received(Aggregate.Created):
        """A request reached the practice and was recorded, with its due date."""

        tenant: str
        subject_ref: str
        request_id: str
        kind: RequestKind
        received_at: datetime
        channel: Channel
        made_by: Giver
        purposes: tuple[str, ...]
        identity: IdentityCheck
        due_at: datetime
        promised_term: str | None
        promised_by: datetime | None
        recorded_by: str | None
        note: str | None

    class Extended(Aggregate.Event):
        """The term was extended (GDPR 12(3)); ``due_at`` is the new due date."""

        extension: Extension
        due_at: datetime

        def apply(self, aggregate: SubjectRequest) -> None:
            aggregate.extensions.append((self.extension, self.timestamp, self.due_at))
            aggregate.due_at = self.due_at
            aggregate._log(self, {"extension": self.extension, "due_at": self.due_at})

    class Answered(Aggregate.Event):
        """The practice answered the request."""

        answer: Answer

        def apply(self, aggregate: SubjectRequest) -> None:
            aggregate.answer = (self.answer, self.timestamp)
            aggregate._log(self, {"answer": self.answer})

    class Confirmed(Aggregate.Event):
        """A practice system confirmed what it did about the request."""

        confirmation: Confirmation

        def apply(self, aggregate: SubjectRequest) -> None:
            aggregate.confirmations.append((self.confirmation, self.timestamp))
            aggregate._log(self, {"confirmation": self.confirmation})

    class DueSoonNoticed(Aggregate.Event):
        """The deadline clock noticed that the due date ``due_at`` is near."""

        due_at: datetime

        def apply(self, aggregate: SubjectRequest) -> None:
            aggregate.due_soon_noticed = (self.due_at, self.timestamp)
            aggregate._log(self, {"due_at": self.due_at})

    class OverdueNoticed(Aggregate.Event):
        """The deadline clock noticed that the due date ``due_at`` passed unanswered."""

        due_at: datetime

        def apply(self, aggregate: SubjectRequest) -> None:
            aggregate.overdue_noticed = (self.due_at, self.timestamp)
            aggregate._log(self, {"due_at": self.due_at})

    def __init__(  # the fields of ``Received``
        self,
        tenant: str,
        subject_ref: str,
        request_id: str,
        kind: RequestKind,
        received_at: datetime,
        channel: Channel,
        made_by: Giver,
        purposes: tuple[str, ...],
        identity: IdentityCheck,
        due_at: datetime,
        promised_term: str | None,
        promised_by: datetime | None,
        recorded_by: str | None,
        note: str | None,
    ):
        self.tenant, self.subject_ref, self.request_id = tenant, subject_ref, request_id
        self.kind, self.received_at, self.channel = kind, received_at, channel
        self.made_by, self.purposes, self.identity = made_by, purposes, identity
        self.due_at = self.original_due_at = due_at
        self.promised_term, self.promised_by = promised_term, promised_by
        self.recorded_by, self.note = recorded_by, note
        self.extensions: list[tuple[Extension, datetime, datetime]] = []
        self.answer: tuple[Answer, datetime] | None = None
        self.confirmations: list[tuple[Confirmation, datetime]] = []
        self.due_soon_noticed: tuple[datetime, datetime] | None = None
        self.overdue_noticed: tuple[datetime, datetime] | None = None
        self.history: list[HistoryEntry] = []

    # -- recording ------------------------------------------------------------------------
    @classmethod
    def receive(
        cls,
        tenant: str,
        subject_ref: str,
        request_id: str,
        intake: RequestIntake,
        subject: SubjectView,
        register: dict[str, list[Any]],
        now: datetime,
        promised_term: str | None = None,
    ) -> SubjectRequest:
        """Record a request; ``register`` holds every registered purpose's versions."""
        received = intake.received_at
        bounds.check_instant("received_at", received)
        if received > now:
            raise InvalidInput("received_at lies in the future", field="received_at")
        verified = intake.identity.verified_at
        bounds.check_instant("identity.verified_at", verified)
        if verified is not None and verified > now:
            raise InvalidInput(
                "identity.verified_at lies in the future", field="identity.verified_at"
            )
        check_no_bsn(
            {
                "identity.verified_by": intake.identity.verified_by,
                "recorded_by": intake.recorded_by,
                "note": intake.note,
            }
        )
        purposes = intake.purposes or tuple(sorted(register))
        if not purposes:
            raise RuleViolated("R2", "the register has no purposes yet", field="purposes")
        made_by = Giver("subject")
        for code in purposes:
            if code not in register:
                raise RuleViolated(
                    "R2", f"purpose {code!r} is not in the register", field="purposes"
                )
            if intake.representative_ref is not None:
                made_by = check_may_act(
                    code,
                    _terms_at(register[code], received),
                    subject,
                    intake.representative_ref,
                    received,
                )
        return cls._create(
            cls.Received,
            id=cls.create_id(tenant, request_id),
            tenant=tenant,
            subject_ref=subject_ref,
            request_id=request_id,
            kind=intake.kind,
            received_at=received,
            channel=intake.channel,
            made_by=made_by,
            purposes=tuple(dict.fromkeys(purposes)),
            identity=intake.identity,
            due_at=due_dates.due_at(received),
            promised_term=promised_term,
            promised_by=due_dates.promised_by(received, promised_term) if promised_term else None,
            recorded_by=intake.recorded_by,
            note=intake.note,
        )

    def extend(self, extension: Extension, now: datetime) -> UUID:
        """R23: by one or two further months in all, recorded within the first month."""
        self._check_open("extended")
        if now >= self.original_due_at:
            raise RuleViolated(
                "R23",
                "the first month ended on "
                f"{_last_day(self.original_due_at)}; an extension must be recorded (and the "
                "subject told) within it",
            )
        total = self.extended_months + extension.months
        if total > due_dates.MAX_EXTENSION_MONTHS:
            raise RuleViolated(
                "R23",
                f"the term may be extended by at most {due_dates.MAX_EXTENSION_MONTHS} further "
                f"months in all; {self.extended_months} already granted",
                field="months",
            )
        self._check_moment("told_subject_at", extension.told_subject_at, now)
        check_no_bsn({"reasons": extension.reasons, "recorded_by": extension.recorded_by})
        due = due_dates.due_at(self.received_at, total)
        self.trigger_event(self.Extended, extension=extension, due_at=due)
        return event_id(self.id, self.version)

    def answer_with(self, answer: Answer, now: datetime) -> UUID:
        """Record the answer; one after the due date is recorded, and shown as late."""
        self._check_open("answered")
        self._check_moment("answered_at", answer.answered_at, now)
        check_no_bsn({"reasons": answer.reasons, "recorded_by": answer.recorded_by})
        self.trigger_event(self.Answered, answer=answer)
        return event_id(self.id, self.version)

    def confirm(self, confirmation: Confirmation, now: datetime) -> UUID:
        self._check_moment("done_at", confirmation.done_at, now)
        check_no_bsn({"system": confirmation.system, "what": confirmation.what})
        self.trigger_event(self.Confirmed, confirmation=confirmation)
        return event_id(self.id, self.version)

    def notice_deadline(self, now: datetime, lead: timedelta) -> UUID | None:
        """The deadline clock: record, at most once per due date, that it is near or that
        it passed unanswered; nothing when neither is due or it was noticed already. Once
        overdue, the warning that it was near is not recorded any more."""
        if self.answer is not None:
            return None
        if now >= self.due_at:
            if self.overdue_noticed is not None:
                return None
            self.trigger_event(self.OverdueNoticed, due_at=self.due_at)
        elif now >= self.due_at - lead:
            if self.due_soon_noticed is not None and self.due_soon_noticed[0] == self.due_at:
                return None
            self.trigger_event(self.DueSoonNoticed, due_at=self.due_at)
        else:
            return None
        return event_id(self.id, self.version)

    # -- the state ------------------------------------------------------------------------
    @property
    def extended_months(self) -> int:
        return sum(extension.months for extension, _, _ in self.extensions)

    def _check_open(self, doing: str) -> None:
        if self.answer is not None:
            raise RuleViolated(
                "R23",
                f"this request was answered on {self.answer[0].answered_at.isoformat()}; "
                f"it cannot be {doing} again",
            )

    def _check_moment(self, name: str, moment: datetime | None, now: datetime) -> None:
        if moment is None:
            return
        bounds.check_instant(name, moment)
        if moment > now:
            raise InvalidInput(f"{name} lies in the future", field=name)
        if moment < self.received_at:
            raise InvalidInput(f"{name} lies before the request was received", field=name)

    def _log(self, event: Any, details: dict[str, Any]) -> None:
        self.history.append(
            HistoryEntry(
                event_id=str(event_id(event.originator_id, event.originator_version)),
                type=type(event).__name__,
                recorded_at=event.timestamp,
                details=msgspec.to_builtins(details),
            )
        )


def _terms_at(versions: list[Any], at: datetime) -> PurposeTerms:
    """The purpose's terms in force at ``at`` (its first version for an earlier moment)."""
    version = version_in_force(versions, at) or versions[0]
    return version.terms


def _last_day(due_at: datetime) -> str:
    return due_dates.local_day(due_at - timedelta(microseconds=1)).isoformat()
