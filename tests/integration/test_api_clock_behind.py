"""Read-your-writes does not depend on two replicas' clocks agreeing: a consent written
through one whose clock runs ahead (effective from its now) is in force in the next read
through one whose clock is behind — "now" is never before the last instant the subject's
streams recorded (``Dossier.present``) — and a withdrawal written through the one behind is
recorded after the consent (``domain.recorded_order``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import eventsourcing.domain

import grondslag.ledger.api.checks as checks_api
import grondslag.ledger.api.export as export_api
import grondslag.ledger.api.subjects as subjects_api
import grondslag.ledger.application as application

from api_support import PURPOSE, REF, withdraw

STANDING = f"/v1/subjects/{REF}/standing/{PURPOSE}"
BEHIND = timedelta(minutes=10)


def _clock_behind(monkeypatch) -> None:
    """This process's clock — the ledger's and the event library's — runs behind the one
    that recorded what is stored."""
    real = datetime.now
    for module in (subjects_api, checks_api, export_api, application):
        monkeypatch.setattr(module, "utcnow", lambda: real(UTC) - BEHIND)
    monkeypatch.setattr(
        eventsourcing.domain, "datetime_now_with_tzinfo", lambda: real(UTC) - BEHIND
    )


def test_a_read_through_a_clock_behind_sees_the_write_just_made(ready, monkeypatch) -> None:
    written = ready.consent()  # effective from the writer's now
    assert written.status_code == 201, written.text
    recorded = written.json()["standing"]["known_at"]
    _clock_behind(monkeypatch)
    read = ready.call("GET", STANDING)
    assert read.status_code == 200, read.text
    assert read.json()["lawful"] is True, read.json()
    assert read.json()["known_at"] == recorded
    every = ready.call("GET", f"/v1/subjects/{REF}/standing")  # every purpose, alike
    assert every.status_code == 200, every.text
    assert every.json()["known_at"] == recorded
    (answer,) = [a for a in every.json()["purposes"] if a["purpose"] == PURPOSE]
    assert answer["lawful"] is True, answer
    # a check (from the read model once it has caught up, else folded at the present)
    check = {"purpose": PURPOSE, "subject_refs": [REF]}
    checked = ready.call("POST", "/v1/checks", json=check)
    assert checked.status_code == 200, checked.text
    assert checked.json()["allowed"] == [REF], checked.json()
    exported = ready.call("GET", f"/v1/subjects/{REF}/export")  # the access answer (art. 15)
    assert exported.status_code == 200, exported.text
    (held,) = [p for p in exported.json()["purposes"] if p["code"] == PURPOSE]
    assert held["standing"]["lawful"] is True, held["standing"]


def test_a_withdrawal_through_a_clock_behind_is_recorded_after_the_consent(
    ready, monkeypatch
) -> None:
    given = ready.consent().json()["standing"]["known_at"]
    _clock_behind(monkeypatch)
    withdrawn = withdraw(ready)
    assert withdrawn.status_code == 201, withdrawn.text
    assert withdrawn.json()["standing"]["known_at"] > given
    events = ready.call("GET", f"/v1/subjects/{REF}/history").json()["events"]
    recorded = [e["recorded_at"] for e in events]
    assert recorded == sorted(recorded), recorded
    # as known at the consent's instant, the consent alone: lawful
    then = ready.call("GET", STANDING, params={"known_at": given, "at": given})
    assert then.json()["lawful"] is True, then.json()


def test_an_erasure_through_a_clock_behind_is_recorded_after_what_it_erases(
    ready, monkeypatch
) -> None:
    """R22: the erasure and the lapse of the consent it ends share one instant, after the
    consent; before, the erasure took the subject's own last instant (its registration)."""
    given = ready.consent().json()["standing"]["known_at"]
    _clock_behind(monkeypatch)
    erased = ready.call("POST", f"/v1/subjects/{REF}/erasure", json={"recorded_by": "staff:x"})
    assert erased.status_code == 201, erased.text
    events = ready.call("GET", f"/v1/subjects/{REF}/history").json()["events"]
    erasure = next(e for e in events if e["type"] == "SubjectErased")
    lapse = next(e for e in events if e["type"] == "BasisLapsed")
    assert erasure["recorded_at"] == lapse["recorded_at"] > given, events
