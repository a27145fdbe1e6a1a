"""The API fuzzed from its own OpenAPI document: no request, however odd, answers 5xx, and
every answer is one the document lists — its status, media type, headers and body schema.

Schemathesis takes ``/schema/openapi.json`` as the app serves it and, for every operation,
sends the cases of its coverage phase (boundaries, missing and ill-typed values, wrong media
types, unexpected methods) and of its fuzzing phase (valid and invalid data) to a second
app on the session's PostgreSQL database, in process over ASGI, with a key carrying every
role so that the guards let the requests through to the handlers. A tenant seeded for each
operation gives the fuzzer references that exist (subjects, purposes, a representative,
link tokens), so that writes reach the rules and not only a 404. Generation is
derandomized and bounded: the same cases on every run, about a minute on two cores.
What it found is kept as ordinary regression tests (test_api_fuzz_found.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from litestar.testing import TestClient
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from grondslag.ledger.api.app import create_app
from grondslag.ledger.settings import Settings

# fuzzing cases per operation, after the coverage phase's own: 15 over the 53 operations
# keeps the suite in its 10 minutes on a slow 2-core machine (100 took 106 s alone, with the
# conformance checks on every answer; 25 took 80 s of CPU on 2026-12-03, most of it in
# generating the cases); GRONDSLAG_FUZZ_EXAMPLES=1000 digs deeper
MAX_EXAMPLES = int(os.environ.get("GRONDSLAG_FUZZ_EXAMPLES", "15"))

SUBJECTS = ["client-17", "child-4"]
PURPOSES = ["photo-in-dossier", "mediation-file", "newsletter", "care-file-sharing"]
REPRESENTATIVES = ["mother-1"]
KNOWN: dict[str, list[str]] = {
    "subject_ref": SUBJECTS,
    "purpose": PURPOSES,
    "code": PURPOSES,
    "representative_ref": REPRESENTATIVES,
    "notice_version": ["2025-01"],
    "token": [],  # the seeded tenant's unsubscribe and confirmation links
}
OPTIONAL = ("effective_at", "expires_at", "valid_until", "representative_ref")


def _seed(tenant: Any) -> None:
    """Purposes of four kinds, an adult and a child with a parent, a consent and a contract,
    an unsubscribe link and a pending double opt-in."""
    tenant.register_purpose("photo-in-dossier")
    tenant.register_purpose(
        "mediation-file", basis="contract", retention={"term": "P7Y", "starts": "basis_end"}
    )
    tenant.register_purpose(
        "newsletter",
        basis="legitimate_interest",
        direct_marketing=True,
        legitimate_interest_assessment="mail about our own similar services (soft opt-in)",
    )
    tenant.register_purpose(
        "care-file-sharing",
        matter="care",
        special_categories=["health"],
        special_condition="explicit_consent",
    )
    tenant.put_subject("client-17", birth_date="1988-04-02", email="client17@example.org")
    tenant.put_subject("child-4", birth_date="2011-03-14")
    steps = [
        (
            "/v1/subjects/child-4/representatives",
            {
                "representative_ref": "mother-1",
                "kind": "parental_authority",
                "valid_from": "2011-03-14T00:00:00+01:00",
                "evidence": {"document_ref": "gezagsregister-2025-03"},
            },
        ),
        (
            "/v1/subjects/client-17/bases",
            {"purpose": "mediation-file", "basis": "contract", "reference": "opdracht-17"},
        ),
    ]
    for path, body in steps:
        response = tenant.call("POST", path, json=body)
        assert response.status_code == 201, response.text
    assert tenant.consent("client-17").status_code == 201
    link = tenant.call(
        "POST", "/v1/subjects/client-17/unsubscribe-links", json={"purpose": "photo-in-dossier"}
    )
    signup = tenant.call(
        "POST",
        "/v1/newsletter/signups",
        json={"purpose": "photo-in-dossier", "email": "new@example.org"},
    )
    assert link.status_code == 200 and signup.status_code == 201, (link.text, signup.text)
    urls = [link.json()["url"], signup.json()["confirm_url"]]
    KNOWN["token"] = [url.rsplit("/", 1)[1] for url in urls]


def _choices(values: Any, optional: tuple[str, ...] = ()) -> Any:
    """Each generated value of a known name, or sometimes one the seeded tenant holds."""
    if not isinstance(values, dict):
        return st.just(values)
    choices = {
        name: st.sampled_from([value, *KNOWN[name]]) if name in KNOWN else st.just(value)
        for name, value in values.items()
    }
    left_out = {name: choices.pop(name) for name in optional if name in choices}
    return st.fixed_dictionaries(choices, optional=left_out)


def _known(context: Any, values: Any) -> Any:
    return _choices(values)


def _known_body(context: Any, body: Any) -> Any:
    """As in paths and queries; a time or a representative is sometimes left out."""
    return _choices(body, OPTIONAL)


class Target:
    """The ASGI app the fuzzer calls. The schema is loaded at collection, before the
    session's database exists (``schemathesis.pytest.from_fixture`` would load it later,
    but relies on a pytest internal that pytest 9.2 removed), so its app forwards to the
    one the ``fuzz_app`` fixture builds."""

    app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.app is not None, "the fuzz_app fixture builds the app"
        await self.app(scope, receive, send)


def served_document() -> dict[str, Any]:
    """``/schema/openapi.json`` as the app serves it (no lifespan: nothing connects)."""
    app = create_app(Settings(database_url="postgresql://unused/unused"))
    response = TestClient(app).get("/schema/openapi.json")
    assert response.status_code == 200, response.text
    return response.json()


TARGET = Target()
schema = schemathesis.openapi.from_dict(served_document())
schema.app = TARGET  # as from_asgi does: cases are sent in process, over ASGI
schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True, database="none")
schema.config.output.sanitization.update(enabled=False)  # show the key in a reproducer
schema.hooks.hook("flatmap_path_parameters")(_known)
schema.hooks.hook("flatmap_query")(_known)
schema.hooks.hook("flatmap_body")(_known_body)


@schema.hooks.hook("filter_failure")
def _not_ready_is_an_answer(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Readiness answers 503 by design while the session's projector trails the fuzzer."""
    return not (case.operation.path == "/health/ready" and response.status_code == 503)


@pytest.fixture
def fuzz_key(tenant: Any) -> str:
    """The key, with every role, of a tenant seeded for this operation alone."""
    _seed(tenant)
    return tenant.key


@pytest.fixture(scope="module")
def fuzz_app(settings: Settings) -> Iterator[Any]:
    """A second app on the session's database; the fuzzer runs its lifespan (per operation)
    in its own event loop."""
    # the public links' rate limit per address would answer the fuzzer's cases with 429;
    # one request at a time needs few connections (the server is shared with other suites)
    lean = replace(
        settings, public_rate_limit_per_minute=1_000_000, write_pool_size=2, read_pool_size=2
    )
    TARGET.app = create_app(lean)
    yield TARGET.app
    TARGET.app = None


@schema.parametrize()
@hypothesis.settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_no_request_answers_a_server_error_or_off_the_document(
    case: Any, fuzz_app: Any, fuzz_key: str
) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {fuzz_key}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_headers_conformance,
            response_schema_conformance,
        ],
    )
