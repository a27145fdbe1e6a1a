"""The OpenAPI document names every answer: security per operation, problem+json refusals in
one Problem shape, Idempotency-Key, Location on what a 201 creates, examples from the README."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import Controller, Litestar, post
from litestar.openapi import OpenAPIConfig
from litestar.params import JSONBody

from grondslag import schemas
from grondslag.ledger.api.app import create_app
from grondslag.ledger.api.auth import requires
from grondslag.ledger.api.contract import document, routes
from grondslag.ledger.api.examples import EXAMPLES
from grondslag.ledger.settings import Settings
from grondslag.ledger.web import answers

README = Path(__file__).resolve().parents[2] / "README.md"
METHODS = ("get", "post", "put", "patch", "delete")
# a curl of the README with a JSON body: method, path, body (a continued line too)
CURL = re.compile(r"curl -s(?: -X (\w+))? \"?\$API(/[^\s\"?]*)(?:[^\n']|\\\n)*?-d '(.*?)'", re.S)


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return json.loads(schemas.rendered()[schemas.ROOT / "openapi.json"])


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in doc["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_every_operation_states_its_security(doc: dict[str, Any]) -> None:
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for method, path, operation in operations(doc):
        public = path.startswith(("/health", "/u/", "/c/"))
        assert "security" in operation, f"{method} {path} states no security"
        if public:
            assert operation["security"] == [], f"{method} {path} is public"
        else:
            assert operation["security"], f"{method} {path} takes a key"
            assert all(list(s) == ["bearer"] for s in operation["security"])
            assert "401" in operation["responses"] and "503" in operation["responses"]


def test_writes_name_the_roles_they_need(doc: dict[str, Any]) -> None:
    consent = doc["paths"]["/v1/subjects/{subject_ref}/consents"]["post"]
    assert consent["security"] == [{"bearer": ["writer"]}]
    register = doc["paths"]["/v1/purposes"]["post"]
    assert register["security"] == [{"bearer": ["admin"]}]
    assert "admin" in register["responses"]["403"]["description"]


def test_refusals_are_problems_and_litestars_default_400_is_gone(doc: dict[str, Any]) -> None:
    problem = {"$ref": "#/components/schemas/Problem"}
    assert set(doc["components"]["schemas"]["Problem"]["properties"]) >= {
        "type", "title", "status", "detail", "instance", "rule", "field", "errors"
    }  # fmt: skip
    for method, path, operation in operations(doc):
        for status, answer in operation["responses"].items():
            if int(status) < 400:
                continue
            content = answer["content"]
            if path.startswith(("/u/", "/c/")):
                assert list(content) == ["text/html"], (method, path, status)
                continue
            if path == "/health/ready":
                continue  # its 503 is the readiness answer itself
            assert list(content) == ["application/problem+json"], (method, path, status)
            schema = content["application/problem+json"]["schema"]
            assert schema == problem or problem in schema.get("anyOf", []), (method, path)
            assert "status_code" not in json.dumps(schema)


def test_a_route_answers_what_its_parts_imply(doc: dict[str, Any]) -> None:
    consent = doc["paths"]["/v1/subjects/{subject_ref}/consents"]["post"]["responses"]
    assert set(consent) == {
        *("201", "400", "401", "403", "404", "409", "412", "413", "415", "422", "503")
    }  # 412: a stale If-Match
    assert "Retry-After" in consent["503"]["headers"]
    assert "WWW-Authenticate" in consent["401"]["headers"]
    purposes = doc["paths"]["/v1/purposes"]["get"]["responses"]
    # 400: a bad Grondslag-Min-Position; 422: a bad limit or cursor
    assert set(purposes) == {"200", "400", "401", "403", "422", "503"}
    link = doc["paths"]["/u/{token}"]["post"]["responses"]
    assert set(link) == {"200", "404", "409", "410", "429", "503"}


def test_put_subject_documents_201_and_200(doc: dict[str, Any]) -> None:
    responses = doc["paths"]["/v1/subjects/{subject_ref}"]["put"]["responses"]
    assert responses["201"]["content"] == responses["200"]["content"]


def test_idempotency_key_is_documented_on_the_writes_that_take_it(doc: dict[str, Any]) -> None:
    def takes(method: str, path: str) -> bool:
        operation = doc["paths"][path][method]
        return any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))

    assert takes("post", "/v1/subjects/{subject_ref}/consents")
    assert takes("put", "/v1/subjects/{subject_ref}")
    assert not takes("post", "/v1/keys")  # an answer holding a secret is never stored
    assert not takes("get", "/v1/purposes")
    assert not takes("post", "/u/{token}")  # no key, no tenant to keep it under
    answer = doc["paths"]["/v1/subjects/{subject_ref}/consents"]["post"]["responses"]["201"]
    assert "Idempotent-Replayed" in answer["headers"]


def test_writes_answer_their_log_position_and_reads_take_it(doc: dict[str, Any]) -> None:
    """Read-your-writes across a read replica (README, Read replicas): every write's success
    answers carry Grondslag-Log-Position, every read (and the check) takes it back as
    Grondslag-Min-Position; a check records nothing, so it answers none."""
    for method, path, operation in operations(doc):
        if not path.startswith("/v1/"):
            continue
        successes = [a for s, a in operation["responses"].items() if s.startswith("2")]
        carries = {"Grondslag-Log-Position" in a.get("headers", {}) for a in successes}
        takes = any(p["name"] == "Grondslag-Min-Position" for p in operation.get("parameters", []))
        reads = method == "GET" or path == "/v1/checks"
        assert carries == {not reads}, (method, path)
        assert takes == reads, (method, path)
        if reads:
            assert "Grondslag-Min-Position" in operation["responses"]["400"]["description"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/v1/purposes"),
        ("post", "/v1/subjects/{subject_ref}/requests"),
        ("post", "/v1/keys"),
        ("post", "/v1/keys/{key_id}/rotation"),
    ],
)
def test_a_201_that_creates_a_resource_documents_its_location(
    doc: dict[str, Any], method: str, path: str
) -> None:
    assert doc["paths"][path][method]["responses"]["201"]["headers"]["Location"]["required"]


def readme_bodies() -> list[tuple[str, str, Any]]:
    bodies = []
    for block in re.findall(r"```sh\n(.*?)```", README.read_text(), re.S):
        for match in CURL.finditer(block):
            bodies.append((match.group(1) or "GET", match.group(2), json.loads(match.group(3))))
    return bodies


def operation_of(doc: dict[str, Any], method: str, path: str) -> str:
    for template, item in doc["paths"].items():
        pattern = re.sub(r"\{[^}]+\}", "[^/]+", template)
        if re.fullmatch(pattern, path) and method.lower() in item:
            return str(item[method.lower()]["operationId"])
    raise AssertionError(f"the README calls {method} {path}, which the document lacks")


def test_every_example_is_a_body_of_the_readme_walk_through(doc: dict[str, Any]) -> None:
    found: dict[str, list[Any]] = {}
    for method, path, body in readme_bodies():
        found.setdefault(operation_of(doc, method, path), []).append(body)
    assert len(found) >= 15, "the README's curl bodies were not found"
    for operation, examples in EXAMPLES.items():
        for name, (_, body) in examples.items():
            assert body in found.get(operation, []), f"{operation} {name} is not in the README"
    missing = set(found) - set(EXAMPLES)
    assert not missing, f"README bodies with no example in api/examples.py: {missing}"


def test_every_example_decodes_as_its_request_body_and_is_in_the_document(
    doc: dict[str, Any],
) -> None:
    app = create_app(Settings(database_url="postgresql://unused/unused"))
    body_types = {
        handler.operation_id: handler.parsed_fn_signature.parameters["data"].annotation
        for _, _, handler in routes(app)
        if "data" in handler.parsed_fn_signature.parameters
    }
    documented = {o["operationId"]: o for _, _, o in operations(doc)}
    for operation, examples in EXAMPLES.items():
        body_type = body_types[operation]
        shown = documented[operation]["requestBody"]["content"]["application/json"]["examples"]
        for name, (_, body) in examples.items():
            msgspec.json.decode(msgspec.json.encode(body), type=body_type)  # JSONBody[T]: T
            assert shown[name]["value"] == body


class Versioned(msgspec.Struct):
    title: str


class VersionedController(Controller):
    """A route as another part of the API may declare it: a precondition and its header."""

    path = "/v1/things"
    guards = [requires("writer")]

    @post(
        operation_id="reviseThing",
        opt=answers(
            404,
            412,
            428,
            why={412: "The thing changed since the ETag given"},
            headers={"ETag": "the version now"},
            request_headers={"If-Match": "the ETag of the version this revises"},
        ),
    )
    async def revise(self, data: JSONBody[Versioned]) -> Versioned:
        return data


def test_a_route_declares_further_answers_and_headers_in_one_place() -> None:
    app = Litestar([VersionedController], openapi_config=OpenAPIConfig("t", "1"))
    operation = document(app).to_schema()["paths"]["/v1/things"]["post"]
    responses = operation["responses"]
    assert {"401", "403", "404", "412", "428", "422", "415", "503"} <= set(responses)
    assert responses["412"]["description"] == "The thing changed since the ETag given"
    assert "ETag" in responses["201"]["headers"]
    headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    assert headers == {"If-Match", "Idempotency-Key"}
