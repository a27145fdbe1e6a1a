"""Group commit: concurrent commands share a transaction, and one conflict fails only itself."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from eventsourcing.persistence import IntegrityError

from grondslag.ledger.application import Ledger
from grondslag.ledger.domain.ids import standing_id
from grondslag.ledger.domain.standing import Standing
from grondslag.ledger.domain.values import Consent, Evidence, PersonalData
from grondslag.ledger.persistence.group_commit import GroupCommit, _Pending

from builders import JAN_1, terms

CONSENT = Consent(
    method="written",
    explicit=True,
    notice_version="n1",
    purpose_version=1,
    evidence=Evidence("doc"),
    effective_at=JAN_1,
    recorded_by="staff:x",
)


@pytest.fixture
def app() -> Ledger:
    ledger = Ledger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    ledger.register_purpose("t", "p", terms(title="P"), JAN_1)
    return ledger


def test_concurrent_consents_for_one_standing_are_all_recorded(app: Ledger) -> None:
    app.put_subject("t", "s", PersonalData())

    def give(i: int) -> None:
        app.give_consent(
            "t",
            "s",
            "p",
            method="written",
            explicit=True,
            notice_version="n1",
            evidence=Evidence(f"doc-{i}"),
            recorded_by="staff:x",
            effective_at=JAN_1,
        )

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(give, range(32)))
    standing = app.repository.get(standing_id("t", "s", "p"))
    assert sorted(f.statement.evidence.document_ref for f in standing.facts) == sorted(
        f"doc-{i}" for i in range(32)
    )


def test_a_conflict_in_a_group_fails_only_the_command_that_conflicted(app: Ledger) -> None:
    fine = Standing.open("t", "a", "p")
    fine.trigger_event(Standing.ConsentGiven, consent=CONSENT)
    stale = Standing.open("t", "b", "p")
    app.save(stale)
    stale_copy = app.repository.get(stale.id)
    stale.trigger_event(Standing.ConsentGiven, consent=CONSENT)
    app.save(stale)  # someone else wrote version 2 first
    # this one also wants version 2
    stale_copy.trigger_event(Standing.ConsentGiven, consent=CONSENT)
    group = [_Pending(list(fine.collect_events())), _Pending(list(stale_copy.collect_events()))]
    GroupCommit(app.save)._write(group)
    assert group[0].error is None
    assert isinstance(group[1].error, IntegrityError)
    assert app.repository.get(fine.id).version == 2
    assert app.repository.get(stale.id).version == 2


def test_a_failing_store_fails_every_command_of_the_group(app: Ledger) -> None:
    def broken_save(*_: object, **__: object) -> None:
        raise ConnectionError("database unreachable")

    group = [_Pending([object()]), _Pending([object()])]
    GroupCommit(broken_save)._write(group)
    assert all(isinstance(p.error, ConnectionError) for p in group)
