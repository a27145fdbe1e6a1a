"""ETag, If-None-Match and If-Match (RFC 9110 §13): a purpose's and a standing's tag is the
version of the streams its answer folds; a write under a stale tag is 412 and records
nothing — also when the other write commits between the command's read and its save —
a purpose revision without one is 428; a replay under an Idempotency-Key answers the first
answer, not a 412."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from grondslag.ledger.application import Ledger

from api_support import PURPOSE, REF, assert_problem, consent_body, history

ONE_PURPOSE = f"/v1/purposes/{PURPOSE}"
STANDING = f"/v1/subjects/{REF}/standing/{PURPOSE}"
WITHDRAWAL = f"/v1/subjects/{REF}/consents/{PURPOSE}/withdrawal"
WITHDRAWN = {"method": "email", "recorded_by": "staff:jdevries"}
FIXED = {"at": "2026-01-01T00:00:00Z", "known_at": "2030-01-01T00:00:00Z"}


def _revise(tenant: Any, headers: dict[str, str], title: str = "Pasfoto (dossier)") -> Any:
    body = {"material": False, "title": title}
    return tenant.call("POST", f"{ONE_PURPOSE}/revisions", json=body, headers=headers)


def _tag(tenant: Any, path: str, **params: str) -> str:
    response = tenant.call("GET", path, params=params)
    assert response.status_code == 200, response.text
    return response.headers["etag"]


def test_a_purpose_s_etag_is_its_version_and_changes_with_a_revision(ready) -> None:
    first = _tag(ready, ONE_PURPOSE)
    assert first == '"1"'
    revised = _revise(ready, {"If-Match": first})
    assert revised.status_code == 201, revised.text
    assert revised.json()["title"] == "Pasfoto (dossier)"
    assert _tag(ready, ONE_PURPOSE) == '"2"'


def test_a_revision_under_a_stale_etag_is_412_and_changes_nothing(ready) -> None:
    stale = _tag(ready, ONE_PURPOSE)
    assert _revise(ready, {"If-Match": stale}).status_code == 201
    before = ready.call("GET", ONE_PURPOSE).json()
    answer = assert_problem(_revise(ready, {"If-Match": stale}, "Iets anders"), 412)
    assert answer["field"] == "If-Match" and answer["type"].endswith("precondition-failed")
    assert ready.call("GET", ONE_PURPOSE).json() == before


def test_a_revision_without_if_match_is_428_and_changes_nothing(ready) -> None:
    answer = assert_problem(_revise(ready, {}), 428, field="If-Match")
    assert answer["type"].endswith("precondition-required")
    assert ready.call("GET", ONE_PURPOSE).json()["version"] == 1
    # "*" is a deliberate "whatever the version"; a list matches if one of it is current
    assert _revise(ready, {"If-Match": "*"}).status_code == 201
    assert _revise(ready, {"If-Match": '"7", "2"'}, "Pasfoto").status_code == 201
    # a weak tag never matches If-Match (the strong comparison)
    assert_problem(_revise(ready, {"If-Match": 'W/"3"'}), 412)


@pytest.mark.parametrize("value", ["3", '"3', "abc", '"3" "4"', "W/3", '"a"b"', ","])
def test_if_match_that_is_no_list_of_entity_tags_is_400_naming_the_header(ready, value) -> None:
    assert_problem(_revise(ready, {"If-Match": value}), 400, field="If-Match")
    response = ready.call("GET", ONE_PURPOSE, headers={"If-None-Match": value})
    assert_problem(response, 400, field="If-None-Match")
    assert ready.call("GET", ONE_PURPOSE).json()["version"] == 1


def test_if_none_match_with_the_current_purpose_tag_is_304_without_a_body(ready) -> None:
    tag = _tag(ready, ONE_PURPOSE)
    unchanged = ready.call("GET", ONE_PURPOSE, headers={"If-None-Match": tag})
    assert unchanged.status_code == 304
    assert unchanged.content == b"" and unchanged.headers["etag"] == tag
    weak = ready.call("GET", ONE_PURPOSE, headers={"If-None-Match": f'"9", W/{tag}'})
    assert weak.status_code == 304  # If-None-Match compares weakly
    assert _revise(ready, {"If-Match": tag}).status_code == 201
    changed = ready.call("GET", ONE_PURPOSE, headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.json()["version"] == 2


def test_a_standing_s_etag_changes_with_each_write_on_it(ready) -> None:
    before = _tag(ready, STANDING)
    assert before == '"1.1.0"'  # the subject's, the purpose's and the standing's versions
    assert ready.consent().status_code == 201
    given = _tag(ready, STANDING)
    assert given != before
    assert ready.call("PUT", f"/v1/subjects/{REF}", json={"birth_date": "1990-05-02"}).is_success
    corrected = _tag(ready, STANDING)
    assert corrected not in (before, given)  # the subject's data is part of the answer
    assert _tag(ready, STANDING, **FIXED) == corrected


def test_a_withdrawal_under_a_stale_standing_tag_is_412_and_records_nothing(ready) -> None:
    stale = _tag(ready, STANDING)
    assert ready.consent().status_code == 201
    recorded = history(ready)
    refused = ready.call("POST", WITHDRAWAL, json=WITHDRAWN, headers={"If-Match": stale})
    assert_problem(refused, 412, field="If-Match")
    assert history(ready) == recorded
    current = _tag(ready, STANDING)
    done = ready.call("POST", WITHDRAWAL, json=WITHDRAWN, headers={"If-Match": current})
    assert done.status_code == 201, done.text
    assert done.json()["standing"]["lawful"] is False


def test_if_none_match_on_a_standing_is_304_only_when_at_and_known_at_fix_the_answer(
    ready,
) -> None:
    assert ready.consent().status_code == 201
    tag = _tag(ready, STANDING, **FIXED)
    fixed = ready.call("GET", STANDING, params=FIXED, headers={"If-None-Match": tag})
    assert fixed.status_code == 304 and fixed.content == b""
    # as of now the answer moves with the clock (an expiry, a birthday): answered in full
    now = ready.call("GET", STANDING, headers={"If-None-Match": tag})
    assert now.status_code == 200 and now.headers["etag"] == tag and now.json()["lawful"]


def test_put_subject_if_none_match_star_creates_only_and_if_match_star_updates_only(
    ready,
) -> None:
    path = f"/v1/subjects/{REF}"
    body = {"birth_date": "1990-05-03"}
    assert_problem(ready.call("PUT", path, json=body, headers={"If-None-Match": "*"}), 412)
    new = ready.call("PUT", "/v1/subjects/new-1", json=body, headers={"If-None-Match": "*"})
    assert new.status_code == 201, new.text
    missing = ready.call("PUT", "/v1/subjects/new-2", json=body, headers={"If-Match": "*"})
    assert_problem(missing, 412, field="If-Match")
    assert ready.call("GET", "/v1/subjects/new-2/history").status_code == 404
    assert ready.call("PUT", path, json=body, headers={"If-Match": "*"}).status_code == 200


def test_a_replay_under_an_idempotency_key_answers_the_first_answer_not_412(ready) -> None:
    assert ready.consent().status_code == 201
    tag = _tag(ready, STANDING)
    headers = {"If-Match": tag, "Idempotency-Key": "withdraw-once"}
    first = ready.call("POST", WITHDRAWAL, json=WITHDRAWN, headers=headers)
    assert first.status_code == 201, first.text
    again = ready.call("POST", WITHDRAWAL, json=WITHDRAWN, headers=headers)  # its tag is stale now
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert [e["type"] for e in history(ready)].count("ConsentWithdrawn") == 1


def _at_once(monkeypatch: Any, send: Any) -> list[Any]:
    """Two requests by ``send`` whose commands both read before either saves."""
    both_read = threading.Barrier(2, timeout=20)
    waited = threading.local()
    commit = Ledger._commit

    def commit_after_both_read(self: Ledger, aggregate: Any, result: Any = None) -> None:
        if not getattr(waited, "once", False):
            waited.once = True
            both_read.wait()
        commit(self, aggregate, result)

    monkeypatch.setattr(Ledger, "_commit", commit_after_both_read)
    try:
        with ThreadPoolExecutor(2) as pool:
            return list(pool.map(send, range(2)))
    finally:
        monkeypatch.setattr(Ledger, "_commit", commit)


def _consent_again(tenant: Any, headers: dict[str, str]) -> Any:
    body = consent_body(recorded_by="staff:parallel")
    return lambda _: tenant.call("POST", f"/v1/subjects/{REF}/consents", json=body, headers=headers)


def test_two_writes_under_the_same_tag_at_once_record_one_and_the_other_is_412(
    ready, monkeypatch
) -> None:
    """Both commands read the standing at the same version and pass the tag check; then
    both save. The event store takes one; the other's save fails on the stream's version,
    its command runs again on the fresh state, and there the tag no longer matches."""
    assert ready.consent().status_code == 201
    tag = _tag(ready, STANDING)
    recorded = len(history(ready))
    answers = _at_once(monkeypatch, _consent_again(ready, {"If-Match": tag}))
    assert sorted(a.status_code for a in answers) == [201, 412], [a.text for a in answers]
    assert len(history(ready)) == recorded + 1


def test_two_unconditional_consents_at_once_are_both_recorded(ready, monkeypatch) -> None:
    """The save that loses on the stream's version runs again (a conflict that surfaces as
    the aborted pipeline of the statement after it, too): never a 503."""
    assert ready.consent().status_code == 201
    for _ in range(8):
        recorded = len(history(ready))
        answers = _at_once(monkeypatch, _consent_again(ready, {}))
        assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
        assert len(history(ready)) == recorded + 2


def test_an_if_match_longer_than_the_bound_is_refused_naming_the_header(ready) -> None:
    assert_problem(_revise(ready, {"If-Match": '"' + "9" * 1100 + '"'}), 400, field="If-Match")
    assert ready.call("GET", ONE_PURPOSE).json()["version"] == 1


def test_a_subject_s_etag_is_its_version_and_its_put_under_a_stale_one_is_412(ready) -> None:
    path = f"/v1/subjects/{REF}"
    read = ready.call("GET", path)
    assert read.status_code == 200, read.text
    assert read.headers["etag"] == '"1"'
    assert read.json()["version"] == 1 and read.json()["erased"] is False
    assert "birth_date" not in read.text  # its personal data is read in the export only
    corrected = ready.call(
        "PUT", path, json={"birth_date": "1990-05-02"}, headers={"If-Match": '"1"'}
    )
    assert corrected.status_code == 200, corrected.text
    stale = ready.call("PUT", path, json={"birth_date": "1990-06-01"}, headers={"If-Match": '"1"'})
    assert_problem(stale, 412, field="If-Match")
    assert _tag(ready, path) == '"2"'
    assert ready.call("GET", path, headers={"If-None-Match": '"2"'}).status_code == 304
    assert_problem(ready.call("GET", "/v1/subjects/nobody"), 404)
