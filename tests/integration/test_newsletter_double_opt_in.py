"""Double opt-in for the newsletter (R19): consent is recorded only on the confirming POST,
never on the page; signing up the same address again finds the same subject; signups for a
purpose not on consent, with an invalid address or without a writer key are refused; an
expired confirmation answers 410; concurrent clicks on either link record one event;
resubscribing gives consent again; and one click ends a consent a parent gave for a child."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import pytest
from litestar.testing import TestClient

from newsletter_support import (
    FORM,
    INVOICING,
    NEWSLETTER,
    NEWSLETTER_TITLE,
    TIPS,
    assert_html,
    assert_problem,
    event_count,
    events_of,
    history,
    one_click,
    other_app,
    path_of,
    register_invoicing,
    register_newsletter,
    register_tips,
    signup,
    standing,
    subscriber,
    unsubscribe_path,
)

# -- double opt-in ---------------------------------------------------------------------------


def test_double_opt_in_records_consent_only_on_the_confirming_post(tenant, database_url) -> None:
    register_newsletter(tenant)
    response = signup(tenant, "piet@example.nl")
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"subject_ref", "confirm_url", "expires_at"}
    ref, path = body["subject_ref"], path_of(body["confirm_url"])
    assert re.fullmatch(r"/c/\d{1,4}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}", path)
    assert "piet" not in ref
    assert standing(tenant, ref) == ("none", None)

    before, count = history(tenant, ref), event_count(database_url)
    for _ in range(2):
        page = assert_html(tenant.client.get(path), 200)
        assert '<button type="submit">Bevestigen</button>' in page and NEWSLETTER_TITLE in page
    assert "Confirm</button>" in assert_html(
        tenant.client.get(path, headers={"Accept-Language": "en"}), 200, "en"
    )
    assert history(tenant, ref) == before and event_count(database_url) == count
    assert standing(tenant, ref) == ("none", None)

    confirmed = tenant.client.post(path, content=b"", headers={"Content-Type": FORM})
    assert "Aanmelding bevestigd" in assert_html(confirmed, 200)
    given = events_of(tenant, "ConsentGiven", ref)
    assert len(given) == 1
    details = given[0]["details"]
    assert details["method"] == "double_opt_in"
    assert details["evidence"]["document_ref"].startswith("double-opt-in:")
    assert standing(tenant, ref) == ("lawful", None)

    after = history(tenant, ref)
    for _ in range(2):
        assert "Aanmelding bevestigd" in assert_html(tenant.client.post(path), 200)
    assert history(tenant, ref) == after
    assert len(events_of(tenant, "ConsentGiven", ref)) == 1


def test_signing_up_the_same_address_again_finds_the_same_subject_and_changes_nothing(
    tenant, database_url
) -> None:
    register_newsletter(tenant)
    first = signup(tenant, "Marie.Bakker@Example.NL")
    assert first.status_code == 201, first.text
    ref = first.json()["subject_ref"]
    assert_html(tenant.client.post(path_of(first.json()["confirm_url"])), 200)
    after, count = history(tenant, ref), event_count(database_url)
    again = signup(tenant, "marie.bakker@example.nl")
    assert again.status_code == 201, again.text
    assert again.json()["subject_ref"] == ref
    again_path = path_of(again.json()["confirm_url"])
    assert again_path != path_of(first.json()["confirm_url"])
    assert "Aanmelding bevestigd" in assert_html(tenant.client.post(again_path), 200)
    assert history(tenant, ref) == after
    assert event_count(database_url) == count
    assert len(events_of(tenant, "ConsentGiven", ref)) == 1


def test_signing_up_the_same_address_with_surrounding_whitespace_finds_the_same_subject(
    tenant,
) -> None:
    register_newsletter(tenant)
    first = signup(tenant, "marie@example.nl")
    assert first.status_code == 201, first.text
    again = signup(tenant, "  Marie@Example.nl ")
    assert again.status_code == 201, again.text
    assert again.json()["subject_ref"] == first.json()["subject_ref"]


def test_signup_for_a_purpose_not_resting_on_consent_is_409(tenant) -> None:
    register_tips(tenant)
    register_invoicing(tenant)
    assert_problem(signup(tenant, "jan@example.nl", TIPS), 409, rule="R19")
    assert_problem(signup(tenant, "jan@example.nl", INVOICING), 409, rule="R20")
    assert_problem(signup(tenant, "jan@example.nl", "not-registered"), 409, rule="R2")


@pytest.mark.parametrize(
    "email",
    ["not-an-email", "a@b@example.nl", "@example.nl", "jan@", "jan @example.nl", "a" * 400],
)
def test_signup_with_an_invalid_address_is_422(tenant, email: str) -> None:
    register_newsletter(tenant)
    body = assert_problem(signup(tenant, email), 422)
    assert body["field"] == "email"


def test_signup_needs_a_writer_key(tenant) -> None:
    register_newsletter(tenant)
    body = {"purpose": NEWSLETTER, "email": "jan@example.nl"}
    assert_problem(tenant.client.post("/v1/newsletter/signups", json=body), 401)
    reader = tenant.key_with("reader")
    assert_problem(tenant.call("POST", "/v1/newsletter/signups", json=body, key=reader), 403)


def test_expired_confirmation_answers_410_and_records_nothing(tenant, database_url) -> None:
    register_newsletter(tenant)
    with other_app(database_url, signup_ttl_hours=0.0001) as short:  # 0.36 s
        response = signup(tenant, "laat@example.nl", client=short)
        assert response.status_code == 201, response.text
        ref, path = response.json()["subject_ref"], path_of(response.json()["confirm_url"])
        time.sleep(0.6)
        before, count = history(tenant, ref), event_count(database_url)
        for client in (short, tenant.client):
            assert "Deze link is verlopen" in assert_html(client.get(path), 410)
            expired = client.post(path, content=b"", headers={"Content-Type": FORM})
            assert "Deze link is verlopen" in assert_html(expired, 410)
    assert history(tenant, ref) == before
    assert event_count(database_url) == count
    assert standing(tenant, ref) == ("none", None)


def _racing(client: TestClient, send, times: int = 8) -> list[int]:
    """``send(client)`` from ``times`` threads released together; their status codes."""
    barrier = threading.Barrier(times)

    def one(_: int) -> int:
        barrier.wait()
        return send(client).status_code

    with ThreadPoolExecutor(times) as pool:
        return list(pool.map(one, range(times)))


def test_concurrent_one_click_posts_record_one_withdrawal(tenant) -> None:
    register_newsletter(tenant)
    subscriber(tenant)
    path = unsubscribe_path(tenant)
    assert _racing(tenant.client, lambda c: one_click(c, path)) == [200] * 8
    assert len(events_of(tenant, "ConsentWithdrawn")) == 1
    assert standing(tenant) == ("lapsed", "withdrawn")


def test_concurrent_confirming_posts_record_one_consent(tenant) -> None:
    register_newsletter(tenant)
    counts, statuses = [], []
    for n in range(3):
        response = signup(tenant, f"dubbelklik{n}@example.nl")
        assert response.status_code == 201, response.text
        ref, path = response.json()["subject_ref"], path_of(response.json()["confirm_url"])
        statuses.append(_racing(tenant.client, lambda c, path=path: c.post(path)))
        counts.append(len(events_of(tenant, "ConsentGiven", ref)))
    assert counts == [1, 1, 1]
    assert statuses == [[200] * 8] * 3


def test_resubscribing_by_double_opt_in_after_unsubscribing_gives_consent_again(tenant) -> None:
    register_newsletter(tenant)
    first = signup(tenant, "terug@example.nl")
    ref = first.json()["subject_ref"]
    assert_html(tenant.client.post(path_of(first.json()["confirm_url"])), 200)
    assert_html(one_click(tenant.client, unsubscribe_path(tenant, ref)), 200)
    assert standing(tenant, ref) == ("lapsed", "withdrawn")
    again = signup(tenant, "terug@example.nl")
    assert again.json()["subject_ref"] == ref
    assert_html(tenant.client.post(path_of(again.json()["confirm_url"])), 200)
    assert standing(tenant, ref) == ("lawful", None)
    assert len(events_of(tenant, "ConsentGiven", ref)) == 2


def test_one_click_ends_a_consent_a_parent_gave_for_a_child(tenant) -> None:
    register_newsletter(tenant)
    today = datetime.now(UTC).date()
    tenant.put_subject("child-1", birth_date=date(today.year - 10, 1, 15).isoformat())
    parent = tenant.call(
        "POST",
        "/v1/subjects/child-1/representatives",
        json={
            "representative_ref": "mother",
            "kind": "parental_authority",
            "valid_from": "2010-01-01T00:00:00Z",
            "evidence": {"document_ref": "gezag-register-2016"},
        },
    )
    assert parent.status_code == 201, parent.text
    given = tenant.consent(
        "child-1", NEWSLETTER, method="email", explicit=False, representative_ref="mother"
    )
    assert given.status_code == 201, given.text
    assert standing(tenant, "child-1") == ("lawful", None)
    path = unsubscribe_path(tenant, "child-1")
    assert "U bent afgemeld" in assert_html(one_click(tenant.client, path), 200)
    assert standing(tenant, "child-1")[0] == "lapsed"
    assert len(events_of(tenant, "ConsentWithdrawn", "child-1")) == 1
