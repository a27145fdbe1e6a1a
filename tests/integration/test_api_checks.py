"""POST /v1/checks: batch answers from the current-standing read model, folding from the log
where the model cannot answer (a passed ``changes_at``, a moment other than now)."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from api_support import PURPOSE, check, created, denied, withdraw

PROJECTION_WAIT = 5.0


def check_until(tenant, refs: list[str], done: Callable[[dict], bool]) -> dict:
    """Ask again until ``done`` holds (the projector catching up), for up to 5 s."""
    deadline = time.monotonic() + PROJECTION_WAIT
    while True:
        answer = check(tenant, refs)
        if done(answer) or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


def read_model_row(database_url: str, tenant, ref: str) -> dict | None:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT lawful, status, changes_at FROM grondslag_current_standing "
            "WHERE tenant = %s AND purpose = %s AND subject_ref = %s",
            (tenant.name, PURPOSE, ref),
        ).fetchone()
    return None if row is None else {"lawful": row[0], "status": row[1], "changes_at": row[2]}


@pytest.fixture
def mixed(tenant):
    """consented, withdrawn, registered-without-records; "ghost" was never seen."""
    tenant.register_purpose()
    for ref in ("consented", "withdrawn", "silent"):
        tenant.put_subject(ref)
    for ref in ("consented", "withdrawn"):
        given = tenant.consent(ref, effective_at="2025-09-02T10:00:00Z")
        assert given.status_code == 201, given.text
    created(withdraw(tenant, "withdrawn", effective_at="2025-10-01T09:00:00Z"))
    return tenant


REFS = ["ghost", "withdrawn", "consented", "silent"]


def test_check_splits_consented_withdrawn_and_never_seen_refs(mixed) -> None:
    answer = check_until(
        mixed,
        REFS,
        lambda a: (
            a["allowed"] == ["consented"] and denied(a).get("withdrawn") == ("lapsed", "withdrawn")
        ),
    )
    assert answer["purpose"] == PURPOSE
    assert answer["allowed"] == ["consented"]
    assert answer["denied"] == [
        {"subject_ref": "ghost", "status": "none", "reason": None},
        {"subject_ref": "withdrawn", "status": "lapsed", "reason": "withdrawn"},
        {"subject_ref": "silent", "status": "none", "reason": None},
    ]


def row_until(database_url: str, tenant, ref: str, done: Callable[[dict | None], bool]):
    """The read model's row once ``done`` holds (the projector caught up), for up to 5 s."""
    deadline = time.monotonic() + PROJECTION_WAIT
    while True:
        row = read_model_row(database_url, tenant, ref)
        if done(row) or time.monotonic() > deadline:
            return row
        time.sleep(0.05)


def test_checks_see_a_write_at_once_and_the_read_model_catches_up(tenant, database_url) -> None:
    tenant.register_purpose()
    tenant.put_subject("fresh")
    assert tenant.consent("fresh").status_code == 201
    assert check(tenant, ["fresh"])["allowed"] == ["fresh"]  # no waiting: read-your-writes
    row = row_until(database_url, tenant, "fresh", lambda r: r is not None)
    assert row is not None and (row["lawful"], row["status"]) == (True, "lawful")
    created(withdraw(tenant, "fresh"))
    assert denied(check(tenant, ["fresh"])) == {"fresh": ("lapsed", "withdrawn")}
    row = row_until(database_url, tenant, "fresh", lambda r: r is not None and not r["lawful"])
    assert row is not None and (row["lawful"], row["status"]) == (False, "lapsed")


def test_concurrent_consents_are_all_projected(tenant) -> None:
    tenant.register_purpose()
    refs = [f"c-{i}" for i in range(16)]
    for ref in refs:
        tenant.put_subject(ref)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(tenant.consent, refs))
    assert [a.status_code for a in answers] == [201] * len(refs)
    answer = check_until(tenant, refs, lambda a: sorted(a["allowed"]) == sorted(refs))
    assert answer["allowed"] == refs and answer["denied"] == []


def test_expired_consent_is_denied_at_once_and_its_lapse_recorded_once_by_the_clock(
    tenant, database_url
) -> None:
    tenant.register_purpose()
    tenant.put_subject("short")
    expires = datetime.now(UTC) + timedelta(seconds=2.5)
    given = tenant.consent("short", expires_at=expires.isoformat())
    assert given.status_code == 201, given.text
    assert check_until(tenant, ["short"], lambda a: a["allowed"] == ["short"])["allowed"] == [
        "short"
    ]
    remaining = (expires - datetime.now(UTC)).total_seconds()
    assert remaining > 0, "the projector took longer than the consent lived"
    time.sleep(remaining + 0.3)
    answer = check(tenant, ["short"])
    assert answer["allowed"] == []
    assert denied(answer) == {"short": ("lapsed", "expired")}
    # the deadline clock records the lapse once, within 2 s of the deadline
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        events = tenant.call("GET", "/v1/subjects/short/history").json()["events"]
        lapses = [e for e in events if e["type"] == "BasisLapsed"]
        if lapses:
            break
        time.sleep(0.1)
    time.sleep(1.0)  # a second clock tick must not record it again
    events = tenant.call("GET", "/v1/subjects/short/history").json()["events"]
    lapses = [e for e in events if e["type"] == "BasisLapsed"]
    assert len(lapses) == 1, events
    assert lapses[0]["details"]["reason"] == "expired"
    assert datetime.fromisoformat(lapses[0]["effective_at"]) == expires
    noticed = datetime.fromisoformat(lapses[0]["recorded_at"]) - expires
    assert timedelta(0) <= noticed < timedelta(seconds=2)
    row = row_until(database_url, tenant, "short", lambda r: r is not None and not r["lawful"])
    assert row is not None and (row["status"], row["changes_at"]) == ("lapsed", None)


def test_check_at_a_past_moment_answers_as_of_then(mixed) -> None:
    refs = ["consented", "withdrawn", "ghost"]
    before_consent = check(mixed, refs, at="2025-08-01T00:00:00Z")
    assert before_consent["allowed"] == []
    assert denied(before_consent) == {r: ("none", None) for r in refs}
    between = check(mixed, refs, at="2025-09-15T12:00:00+02:00")
    assert between["allowed"] == ["consented", "withdrawn"]
    assert denied(between) == {"ghost": ("none", None)}
    after = check(mixed, refs, at="2025-11-01T00:00:00Z")
    assert after["allowed"] == ["consented"]
    assert denied(after) == {"withdrawn": ("lapsed", "withdrawn"), "ghost": ("none", None)}
    assert datetime.fromisoformat(between["at"]) == datetime.fromisoformat(
        "2025-09-15T10:00:00+00:00"
    )


def test_duplicate_refs_are_answered_once(mixed) -> None:
    answer = check(mixed, ["ghost", "ghost", "silent", "ghost"], at="2025-11-01T00:00:00Z")
    assert answer["allowed"] == []
    assert [d["subject_ref"] for d in answer["denied"]] == ["ghost", "silent"]


def test_check_for_an_unknown_purpose_is_404(tenant) -> None:
    response = tenant.call(
        "POST", "/v1/checks", json={"purpose": "no-such-purpose", "subject_refs": ["a"]}
    )
    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_reader_key_may_check(mixed) -> None:
    response = mixed.call(
        "POST",
        "/v1/checks",
        key=mixed.key_with("reader"),
        json={"purpose": PURPOSE, "subject_refs": ["ghost"]},
    )
    assert response.status_code == 200, response.text


def test_ten_thousand_refs_are_accepted_and_each_answered_once(mixed) -> None:
    refs = [f"bulk-{i:05d}" for i in range(9_997)] + ["consented", "withdrawn", "silent"]
    assert len(refs) == 10_000
    answer = check_until(mixed, refs, lambda a: a["allowed"] == ["consented"])
    assert set(answer) == {"purpose", "at", "allowed", "denied"}
    assert answer["allowed"] == ["consented"]
    assert len(answer["denied"]) == 9_999
    assert [d["subject_ref"] for d in answer["denied"]] == [r for r in refs if r != "consented"]
    statuses = denied(answer)
    assert statuses["withdrawn"] == ("lapsed", "withdrawn")
    assert {statuses[r] for r in refs[:9_997]} == {("none", None)}
