"""What one click on an unsubscribe link ends (R20): the consent, by a withdrawal (R8), or
direct marketing on legitimate interest, by the absolute objection (R17) — and nothing,
recorded or refused, when nothing is in force any more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from grondslag.ledger.domain.newsletter import UNSUBSCRIBE_GROUNDS
from grondslag.ledger.domain.values import (
    Establishment,
    Evidence,
    Objection,
    PersonalData,
    PurposeTerms,
    Withdrawal,
)

from builders import SUBJECT, TENANT
from builders import terms as purpose_terms

NEWSLETTER = purpose_terms()
CLIENT_MAILING = purpose_terms(
    title="Mail about our own similar services",
    basis="legitimate_interest",
    direct_marketing=True,
    legitimate_interest_assessment="LIA 2023-01: existing clients, similar services",
)
CLICKED = "unsubscribe-link:abcdefgh"


def setup(app, terms: PurposeTerms) -> datetime:
    registered = datetime.now(UTC) - timedelta(days=30)
    app.register_purpose(TENANT, "mailing", terms, registered)
    app.put_subject(TENANT, SUBJECT, PersonalData())
    return registered + timedelta(days=1)


def statements(app) -> list[object]:
    return [fact.statement for fact in app.dossier(TENANT, SUBJECT, "mailing").facts]


def test_r20_one_click_withdraws_the_consent_at_once_and_a_second_click_records_nothing(app):
    given = setup(app, NEWSLETTER)
    app.give_consent(
        TENANT,
        SUBJECT,
        "mailing",
        method="double_opt_in",
        explicit=False,
        notice_version="n1",
        evidence=Evidence(document_ref="double-opt-in:1"),
        recorded_by="double-opt-in",
        effective_at=given,
    )
    _, answer = app.unsubscribe(TENANT, SUBJECT, "mailing", CLICKED)
    assert answer.status == "lapsed"
    withdrawal = statements(app)[-1]
    assert isinstance(withdrawal, Withdrawal)
    assert (withdrawal.method, withdrawal.recorded_by) == ("unsubscribe_link", CLICKED)
    before = app.recorder.max_notification_id()
    assert app.unsubscribe(TENANT, SUBJECT, "mailing", CLICKED) is None
    assert app.recorder.max_notification_id() == before


def test_r20_one_click_on_direct_marketing_on_legitimate_interest_lodges_the_objection(app):
    established = setup(app, CLIENT_MAILING)
    app.establish_basis(
        TENANT,
        SUBJECT,
        "mailing",
        Establishment(
            basis="legitimate_interest",
            reference="client since 2024, address from the invoice",
            effective_at=established,
            recorded_by="staff:anna",
            opt_out_offered=True,
        ),
    )
    _, answer = app.unsubscribe(TENANT, SUBJECT, "mailing", CLICKED)
    assert (answer.status, answer.reason) == ("lapsed", "objection")
    objection = statements(app)[-1]
    assert isinstance(objection, Objection)
    assert (objection.grounds, objection.recorded_by) == (UNSUBSCRIBE_GROUNDS, CLICKED)
    assert app.unsubscribe(TENANT, SUBJECT, "mailing", CLICKED) is None
    assert len(statements(app)) == 2


def test_r20_one_click_for_a_subject_who_never_subscribed_records_nothing(app):
    for code, terms in (("mailing", NEWSLETTER), ("other", CLIENT_MAILING)):
        app.register_purpose(TENANT, code, terms, datetime.now(UTC) - timedelta(days=1))
    app.put_subject(TENANT, SUBJECT, PersonalData())
    before = app.recorder.max_notification_id()
    assert app.unsubscribe(TENANT, SUBJECT, "mailing", CLICKED) is None
    assert app.unsubscribe(TENANT, SUBJECT, "other", CLICKED) is None
    assert app.recorder.max_notification_id() == before
