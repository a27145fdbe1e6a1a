"""Paging of the subject's history and of the register (art. 30): opaque cursors, a default
and a maximum ``limit``, ``next`` null on the last page and a ``Link`` to the next one; a
page is a slice of the whole list, also when events are recorded between two pages."""

from __future__ import annotations

from typing import Any

import pytest

from api_support import PURPOSE, REF, assert_problem, consent_body, withdraw

HISTORY = f"/v1/subjects/{REF}/history"


def _record_events(tenant: Any, times: int) -> None:
    """``times`` consents and withdrawals of the purpose, one after the other."""
    for _ in range(times):
        assert tenant.call("POST", f"/v1/subjects/{REF}/consents", json=consent_body()).is_success
        assert withdraw(tenant).is_success


def _pages(tenant: Any, path: str, limit: int, between: Any = None) -> list[dict]:
    """Every page of a list by its ``next`` cursors (calling ``between`` after the first)."""
    pages, params = [], {"limit": limit}
    while True:
        response = tenant.call("GET", path, params=params)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        if between is not None and len(pages) == 1:
            between()
        following = response.json()["next"]
        if following is None:
            assert "link" not in response.headers  # the last page links nowhere
            return pages
        # the Link header names the same next page as the body
        link = response.headers["link"]
        assert link.endswith('; rel="next"') and f"cursor={following}" in link
        params = {"limit": limit, "cursor": following}


def _whole(tenant: Any, path: str, key: str) -> list[dict]:
    response = tenant.call("GET", path, params={"limit": 200})
    assert response.status_code == 200 and response.json()["next"] is None, response.text
    return response.json()[key]


def test_history_pages_are_slices_of_the_whole_history(ready) -> None:
    _record_events(ready, 3)  # SubjectRegistered + 6 events
    whole = _whole(ready, HISTORY, "events")
    assert len(whole) == 7
    pages = _pages(ready, HISTORY, limit=2)
    assert [len(page["events"]) for page in pages] == [2, 2, 2, 1]
    assert [e for page in pages for e in page["events"]] == whole


def test_a_history_cursor_stays_put_while_events_are_appended(ready) -> None:
    """History is append-only and its cursor is the log position of the last event shown:
    events recorded after the first page come after it, none is shown twice or skipped."""
    _record_events(ready, 2)
    before = _whole(ready, HISTORY, "events")
    pages = _pages(ready, HISTORY, limit=3, between=lambda: _record_events(ready, 2))
    shown = [e for page in pages for e in page["events"]]
    after = _whole(ready, HISTORY, "events")
    assert len(after) == len(before) + 4
    assert shown == after
    assert [e["event_id"] for e in shown[: len(before)]] == [e["event_id"] for e in before]


def test_the_history_answers_fifty_events_unless_asked_for_more(ready) -> None:
    _record_events(ready, 26)  # 53 events
    page = ready.call("GET", HISTORY).json()
    assert len(page["events"]) == 50 and page["next"] is not None
    rest = ready.call("GET", HISTORY, params={"cursor": page["next"]}).json()
    assert len(rest["events"]) == 3 and rest["next"] is None


def test_register_pages_by_code_and_a_purpose_registered_meanwhile_is_shown_once(tenant) -> None:
    for code in ("b-purpose", "d-purpose", "f-purpose", "h-purpose"):
        tenant.register_purpose(code)

    def register_two() -> None:
        tenant.register_purpose("a-purpose")  # before the cursor: on no later page
        tenant.register_purpose("g-purpose")  # after it: on a later page

    pages = _pages(tenant, "/v1/purposes", limit=2, between=register_two)
    shown = [p["code"] for page in pages for p in page["purposes"]]
    assert shown == ["b-purpose", "d-purpose", "f-purpose", "g-purpose", "h-purpose"]
    assert [p["code"] for p in _whole(tenant, "/v1/purposes", "purposes")] == ["a-purpose", *shown]


def test_the_register_pages_are_the_register(tenant) -> None:
    for n in range(5):
        tenant.register_purpose(f"p-{n}")
    pages = _pages(tenant, "/v1/purposes", limit=2)
    assert [len(page["purposes"]) for page in pages] == [2, 2, 1]
    assert [p for page in pages for p in page["purposes"]] == _whole(
        tenant, "/v1/purposes", "purposes"
    )


LISTS = [HISTORY, "/v1/purposes", "/v1/requests"]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("limit", ["0", "201", "-1", "many"])
def test_a_limit_out_of_bounds_is_422_naming_limit(ready, path: str, limit: str) -> None:
    response = ready.call("GET", path, params={"limit": limit})
    assert_problem(response, 422, field="limit")


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("cursor", ["not a cursor", "e30", "!!!", "x" * 201])
def test_a_cursor_no_list_gave_is_422_naming_cursor(ready, path: str, cursor: str) -> None:
    response = ready.call("GET", path, params={"cursor": cursor})
    assert_problem(response, 422, field="cursor")


@pytest.mark.parametrize("path", LISTS)
def test_the_largest_limit_is_accepted(ready, path: str) -> None:
    response = ready.call("GET", path, params={"limit": "200"})
    assert response.status_code == 200, response.text
    assert response.json()["next"] is None


def test_the_history_of_an_unknown_subject_is_404_on_every_page(tenant) -> None:
    tenant.register_purpose(PURPOSE)
    response = tenant.call("GET", "/v1/subjects/nobody/history", params={"limit": 1})
    assert_problem(response, 404)


def test_a_history_cursor_of_another_subject_is_422(ready) -> None:
    """The cursor names the last event shown; another subject's event is no place to go on
    from in this history (nor are other tenants' events counted in it)."""
    _record_events(ready, 1)
    ready.put_subject("client-2", birth_date="1991-02-03")
    page = ready.call("GET", HISTORY, params={"limit": 1}).json()
    assert page["next"] is not None
    other = ready.call("GET", "/v1/subjects/client-2/history", params={"cursor": page["next"]})
    assert_problem(other, 422, field="cursor")
