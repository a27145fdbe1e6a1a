"""R22 with R23: an erasure that answers a data-subject request names an erasure request of
the same subject; any other id is refused (422, ``request_id``) and erases nothing."""

from __future__ import annotations

from erasure_support import PHOTO, erase, erased, standing

from api_support import assert_problem
from requests_support import received, shown

REF = "client-1"


def _consented(tenant, ref: str = REF, *, register: bool = True) -> None:
    if register:
        tenant.register_purpose(PHOTO)
    tenant.put_subject(ref, birth_date="1990-05-01", email="client@example.nl")
    assert tenant.consent(ref, PHOTO).status_code == 201


def test_r22_an_erasure_names_the_erasure_request_it_answers(tenant):
    _consented(tenant)
    request = received(tenant, REF, kind="erasure")
    answer = erased(tenant, REF, request_id=request["request_id"])
    assert answer["complete"] is True
    history = tenant.call("GET", f"/v1/subjects/{REF}/history").json()["events"]
    (shown_event,) = [e for e in history if e["type"] == "SubjectErased"]
    assert shown_event["details"]["request_id"] == request["request_id"]
    assert shown(tenant, request["request_id"])["status"] == "open"  # answered separately


def test_r22_an_unknown_request_id_is_refused_and_erases_nothing(tenant):
    _consented(tenant)
    problem = assert_problem(erase(tenant, REF, request_id="req-17"), 422)
    assert problem["field"] == "request_id"
    assert standing(tenant, REF, PHOTO)["status"] == "lawful"


def test_r22_another_subjects_or_another_kinds_request_is_refused(tenant):
    _consented(tenant)
    _consented(tenant, "client-2", register=False)
    theirs = received(tenant, "client-2", kind="erasure")
    access = received(tenant, REF, kind="access")
    for request_id in (theirs["request_id"], access["request_id"]):
        problem = assert_problem(erase(tenant, REF, request_id=request_id), 422)
        assert problem["field"] == "request_id"
    assert standing(tenant, REF, PHOTO)["status"] == "lawful"
