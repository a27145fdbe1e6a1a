"""R23 data-subject requests on the aggregate: who may make one (R11–R16), no BSN in any
text (R5), extensions within the first month and by two months at most, one answer, and
the deadline clock's notices at most once per due date."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

from grondslag.ledger.domain.due_dates import due_at, ends
from grondslag.ledger.domain.errors import InvalidInput, RuleViolated
from grondslag.ledger.domain.purpose_versions import PurposeVersion
from grondslag.ledger.domain.request_answer import request_answer
from grondslag.ledger.domain.request_values import (
    Answer,
    Confirmation,
    Extension,
    IdentityCheck,
    RequestIntake,
)
from grondslag.ledger.domain.subject_request import SubjectRequest
from grondslag.ledger.domain.subject_view import RepresentationRecord, SubjectView
from grondslag.ledger.domain.values import (
    Evidence,
    Matter,
    Notice,
    PurposeTerms,
    Representation,
    RepresentativeKind,
)

RECEIVED = datetime(2025, 1, 31, 9, 0, tzinfo=UTC)
NOW = datetime(2025, 2, 3, 9, 0, tzinfo=UTC)
DUE = ends(date(2025, 2, 28))
LEAD = timedelta(days=7)
NOTICE = Notice(version="n1", url="https://example.nl/privacy", sha256="a" * 64)


def purpose(matter: Matter = "other") -> list[PurposeVersion]:
    terms = PurposeTerms(title="x", basis="consent", notice=NOTICE, matter=matter)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    return [
        PurposeVersion(number=1, terms=terms, material=True, effective_at=start, recorded_at=start)
    ]


REGISTER = {"photo": purpose(), "care-file": purpose("care"), "invoices": purpose("property")}


def view(
    kind: RepresentativeKind | None = None, born: date | None = None, purposes: tuple[str, ...] = ()
) -> SubjectView:
    if kind is None:
        return SubjectView(birth_date=born)
    representation = Representation(
        representative_ref="rep-1",
        kind=kind,
        valid_from=datetime(2011, 1, 1, tzinfo=UTC),
        evidence=Evidence(document_ref="court-1"),
        purposes=purposes,
    )
    record = RepresentationRecord(
        representation=representation,
        event_id=uuid4(),
        recorded_at=datetime(2011, 1, 1, tzinfo=UTC),
    )
    return SubjectView(birth_date=born, representations={"rep-1": record})


def intake(**fields: object) -> RequestIntake:
    base: dict[str, object] = {
        "kind": "access",
        "received_at": RECEIVED,
        "channel": "email",
        "identity": IdentityCheck(method="known_in_person", verified_by="staff:jdevries"),
    }
    return RequestIntake(**(base | fields))  # type: ignore[arg-type]


def receive(
    subject: SubjectView | None = None,
    register: dict | None = None,
    now: datetime = NOW,
    **fields: object,
) -> SubjectRequest:
    return SubjectRequest.receive(
        "t",
        "client-1",
        str(uuid4()),
        intake(**fields),
        subject or SubjectView(),
        register or REGISTER,
        now,
    )


def refused(rule: str, call: object, *args: object) -> RuleViolated:
    with pytest.raises(RuleViolated) as error:
        call(*args)  # type: ignore[operator]
    assert error.value.rule == rule
    return error.value


# -- receipt -----------------------------------------------------------------------------------
def test_a_request_covers_every_purpose_by_default_and_is_due_a_month_later_r23() -> None:
    request = receive()
    assert request.purposes == ("care-file", "invoices", "photo")
    assert request.due_at == DUE == due_at(RECEIVED)
    assert request_answer(request, NOW).due_date == "2025-02-28"


def test_a_parents_request_for_a_child_under_16_is_accepted_r11() -> None:
    child = view("parental_authority", born=date(2014, 6, 1))
    request = receive(child, representative_ref="rep-1")
    assert (request.made_by.party, request.made_by.capacity) == (
        "representative",
        "parental_authority",
    )


def test_a_parents_request_for_a_child_of_16_is_refused_r14() -> None:
    teenager = view("parental_authority", born=date(2008, 6, 1))
    refused("R14", lambda: receive(teenager, representative_ref="rep-1"))


def test_a_mentors_request_outside_care_is_refused_r15() -> None:
    error = refused("R15", lambda: receive(view("mentor"), representative_ref="rep-1"))
    assert error.field == "representative_ref"


def test_a_mentors_request_about_care_purposes_only_is_accepted_r15() -> None:
    request = receive(view("mentor"), representative_ref="rep-1", purposes=("care-file",))
    assert request.made_by.capacity == "mentor"


def test_an_administrator_requests_about_property_matters_only_r15() -> None:
    admin = view("administrator")
    refused("R15", lambda: receive(admin, representative_ref="rep-1"))
    assert receive(admin, representative_ref="rep-1", purposes=("invoices",)).purposes == (
        "invoices",
    )


def test_an_authorised_person_requests_about_its_purposes_only_r15() -> None:
    mandate = view("authorised_person", purposes=("photo",))
    refused("R15", lambda: receive(mandate, representative_ref="rep-1"))
    assert receive(mandate, representative_ref="rep-1", purposes=("photo",)).made_by.capacity


def test_a_curator_may_make_any_request_r15() -> None:
    assert receive(view("curator"), representative_ref="rep-1").made_by.capacity == "curator"


def test_an_unregistered_representative_is_refused_r16() -> None:
    refused("R16", lambda: receive(representative_ref="someone"))


def test_an_unregistered_purpose_is_refused_r2() -> None:
    assert refused("R2", lambda: receive(purposes=("nope",))).field == "purposes"


def test_a_request_received_or_identity_verified_in_the_future_is_refused() -> None:
    with pytest.raises(InvalidInput) as error:
        receive(received_at=NOW + timedelta(minutes=1))
    assert error.value.field == "received_at"
    later = IdentityCheck(method="digid", verified_by="portal", verified_at=NOW + timedelta(1))
    with pytest.raises(InvalidInput) as error:
        receive(identity=later)
    assert error.value.field == "identity.verified_at"


@pytest.mark.parametrize(
    ("field", "fields"),
    [
        (
            "identity.verified_by",
            {"identity": IdentityCheck(method="digid", verified_by="BSN 111222333")},
        ),
        ("note", {"note": "paspoort gezien, bsn 1234.56.782"}),
        ("recorded_by", {"recorded_by": "staff 123 456 782"}),
    ],
)
def test_a_bsn_in_any_text_is_refused_r5(field: str, fields: dict) -> None:
    with pytest.raises(InvalidInput) as error:
        receive(**fields)
    assert (error.value.rule, error.value.field) == ("R5", field)


def test_nine_digits_that_fail_the_eleven_test_and_phone_numbers_pass_r5() -> None:
    assert receive(note="dossier 123456789, tel 06-12345678, 0612345678").note


# -- extension ---------------------------------------------------------------------------------
def extension(months: int = 1) -> Extension:
    return Extension(months=months, reasons="many files in several systems", told_subject_at=NOW)


def test_an_extension_moves_the_due_date_by_its_months_counted_from_receipt_r23() -> None:
    request = receive()
    request.extend(extension(1), NOW)
    request.extend(extension(1), NOW)
    assert request.due_at == due_at(RECEIVED, 2) == ends(date(2025, 4, 30))
    answer = request_answer(request, NOW)
    assert (answer.extended_months, answer.original_due_at) == (2, DUE)


def test_an_extension_beyond_two_months_in_all_is_refused_r23() -> None:
    request = receive()
    request.extend(extension(2), NOW)
    assert refused("R23", request.extend, extension(1), NOW).field == "months"


def test_an_extension_recorded_after_the_first_month_is_refused_r23() -> None:
    request = receive()
    refused("R23", request.extend, extension(1), DUE)
    request.extend(extension(1), DUE - timedelta(microseconds=1))  # the last moment


def test_an_answered_request_cannot_be_extended_nor_answered_again_r23() -> None:
    request = receive()
    request.answer_with(Answer(outcome="fulfilled", reasons="sent", answered_at=NOW), NOW)
    refused("R23", request.extend, extension(1), NOW)
    refused(
        "R23", request.answer_with, Answer(outcome="refused", reasons="x", answered_at=NOW), NOW
    )


# -- answer and confirmations ------------------------------------------------------------------
def test_an_answer_after_the_due_date_is_recorded_and_shown_late_r23() -> None:
    request = receive()
    later = DUE + timedelta(days=3)
    request.answer_with(Answer(outcome="partly", reasons="some kept", answered_at=later), later)
    answer = request_answer(request, later)
    assert answer.answer is not None and answer.answer.late
    assert (answer.status, answer.late, answer.overdue) == ("answered", True, False)


def test_an_answer_on_the_last_day_is_in_time() -> None:
    request = receive()
    last = DUE - timedelta(minutes=1)
    request.answer_with(Answer(outcome="fulfilled", reasons="sent", answered_at=last), last)
    assert request_answer(request, DUE + timedelta(days=9)).late is False


def test_confirmations_name_the_systems_once_each() -> None:
    request = receive()
    for system in ("client-file", "mailing", "client-file"):
        request.confirm(Confirmation(system=system, what="exported", done_at=NOW), NOW)
    answer = request_answer(request, NOW)
    assert answer.confirmed_by == ["client-file", "mailing"]
    assert [h.type for h in answer.history] == ["Received", "Confirmed", "Confirmed", "Confirmed"]


# -- the deadline clock ------------------------------------------------------------------------
def test_due_soon_and_overdue_are_noticed_once_each() -> None:
    request = receive()
    assert request.notice_deadline(DUE - LEAD - timedelta(seconds=1), LEAD) is None
    assert request.notice_deadline(DUE - LEAD, LEAD) is not None
    assert request.notice_deadline(DUE - timedelta(days=1), LEAD) is None
    assert request.notice_deadline(DUE, LEAD) is not None
    assert request.notice_deadline(DUE + timedelta(days=5), LEAD) is None
    types = [h.type for h in request_answer(request, DUE).history]
    assert types == ["Received", "DueSoonNoticed", "OverdueNoticed"]


def test_an_extension_after_the_warning_warns_again_before_the_new_due_date() -> None:
    request = receive()
    request.notice_deadline(DUE - LEAD, LEAD)
    request.extend(extension(1), DUE - LEAD)
    assert request.notice_deadline(DUE, LEAD) is None  # not overdue: extended
    assert request.notice_deadline(request.due_at - LEAD, LEAD) is not None


def test_an_answered_request_is_never_overdue() -> None:
    request = receive()
    request.answer_with(Answer(outcome="fulfilled", reasons="sent", answered_at=NOW), NOW)
    assert request.notice_deadline(DUE + timedelta(days=1), LEAD) is None


# -- the ledger's command (in memory) ----------------------------------------------------------
def test_the_ledger_shows_the_practices_promised_term_beside_the_legal_due_date() -> None:
    from grondslag.ledger.application import Ledger
    from grondslag.ledger.domain.values import PersonalData

    ledger = Ledger()
    start = datetime(2020, 1, 1, tzinfo=UTC)
    for code in ("photo", "newsletter"):
        ledger.register_purpose("t", code, REGISTER["photo"][0].terms, start)
    ledger.register_purpose("other-tenant", "invoices", REGISTER["invoices"][0].terms, start)
    ledger.put_subject("t", "client-1", PersonalData())
    received = datetime(2026, 4, 7, 8, 0, tzinfo=UTC)  # Tuesday; four weeks on: 5 May
    answer = ledger.receive_request("t", "client-1", intake(received_at=received), "P4W")
    assert answer.purposes == ("newsletter", "photo")  # this tenant's register only
    assert answer.promised_term == "P4W"
    assert answer.promised_by == ends(date(2026, 5, 6))  # past Bevrijdingsdag
    assert answer.due_at == ends(date(2026, 5, 7))
    assert ledger.subject_request("t", answer.request_id).promised_by == answer.promised_by
