"""Every kind of answer names its media type in a ``Content-Type`` a strict parser accepts:
``type/subtype`` of RFC 9110 tokens, then parameters each named once, as Go's
``mime.ParseMediaType`` (and so Prometheus' format negotiation) demands — it refuses a
repeated ``charset`` ("mime: duplicate parameter name"). A text type names its charset, once:
``utf-8``."""

from __future__ import annotations

import re
from typing import Any

import pytest

from api_support import CONSENTS, PROBLEM_JSON, REF, consent_body, purpose_body

TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"  # RFC 9110 tchar
QUOTED = r'"(?:[^"\\\x00-\x08\x0a-\x1f\x7f]|\\[\x09\x20-\x7e\x80-\xff])*"'
PARAMETER = re.compile(rf"[ \t]*;[ \t]*({TOKEN})=({TOKEN}|{QUOTED})")


def media_type(header: str) -> tuple[str, dict[str, str]]:
    """``header`` parsed strictly: the lower-cased type and its parameters; ValueError when
    Go's ``mime.ParseMediaType`` would refuse it (or it has a trailing ``;``, which Go
    tolerates and nobody needs)."""
    start = re.match(rf"({TOKEN})/({TOKEN})", header)
    if start is None:
        raise ValueError(f"no type/subtype: {header!r}")
    parameters: dict[str, str] = {}
    rest = header[start.end() :]
    while rest:
        parameter = PARAMETER.match(rest)
        if parameter is None:
            raise ValueError(f"bad parameter syntax at {rest!r} in {header!r}")
        name, value = parameter.group(1).lower(), parameter.group(2)
        if name in parameters:
            raise ValueError(f"duplicate parameter name {name!r} in {header!r}")
        parameters[name] = value.strip('"')
        rest = rest[parameter.end() :]
    return f"{start.group(1)}/{start.group(2)}".lower(), parameters


@pytest.mark.parametrize(
    "header",
    [
        "text/plain; version=0.0.4; charset=utf-8; charset=utf-8",
        "text/html; charset=utf-8; Charset=utf-8",
        "text/html;",
        "text/html; charset=",
        "text html",
        "application/json; a=b c",
    ],
)
def test_the_strict_parser_refuses_what_go_refuses(header: str) -> None:
    with pytest.raises(ValueError):
        media_type(header)


def test_the_strict_parser_reads_a_well_formed_header() -> None:
    assert media_type('text/plain; version=0.0.4; charset="utf-8"') == (
        "text/plain",
        {"version": "0.0.4", "charset": "utf-8"},
    )


def answers(tenant: Any) -> dict[str, Any]:
    """One answer of every kind the service gives, by what it is."""
    tenant.register_purpose()
    tenant.put_subject(REF, birth_date="1990-05-01")
    client, call = tenant.client, tenant.call
    once = {"Idempotency-Key": "content-type-replay"}
    return {
        "JSON": call("GET", "/v1/purposes"),
        "JSON, created": call("POST", CONSENTS, json=consent_body(), headers=once),
        "JSON, replayed": call("POST", CONSENTS, json=consent_body(), headers=once),
        "JSON, subject export": call(
            "GET", f"/v1/subjects/{REF}/export", headers={"Accept": "application/json"}
        ),
        "JSON, audit": call("GET", "/v1/audit/keys"),
        "problem, 404": call("GET", "/v1/purposes/no-such-purpose"),
        "problem, 401": client.get("/v1/purposes"),
        "problem, 415": call(
            "POST", "/v1/purposes", content=b"x", headers={"Content-Type": "text/plain"}
        ),
        "problem, 422": call("POST", "/v1/purposes", json=purpose_body(code="")),
        "problem, no such route": client.get("/no-such-route"),
        "problem, 405": call("DELETE", "/v1/purposes"),
        "HTML, access letter": call(
            "GET", f"/v1/subjects/{REF}/export", headers={"Accept": "text/html"}
        ),
        "HTML, unsubscribe page": client.get("/u/not-a-token"),
        "HTML, confirmation page": client.get("/c/not-a-token"),
        "HTML, auditor sign-in": client.get("/audit"),
        "HTML, auditor page signed out": client.get(f"/audit/subjects/{REF}"),
        "metrics": call("GET", "/metrics", key=tenant.key_with("metrics")),
        "health, live": client.get("/health/live"),
        "health, ready": client.get("/health/ready"),
        "docs": client.get("/schema"),
        "docs, Swagger UI": client.get("/schema/swagger"),
        "docs, ReDoc": client.get("/schema/redoc"),
        "docs, OpenAPI JSON": client.get("/schema/openapi.json"),
        "docs, OpenAPI YAML": client.get("/schema/openapi.yaml"),
    }


def test_every_kind_of_answer_names_its_media_type_once_and_strictly(tenant) -> None:
    problems = []
    for what, response in answers(tenant).items():
        assert response.status_code < 500, (what, response.status_code, response.text)
        header = response.headers.get("content-type")
        if header is None:
            problems.append(f"{what}: no Content-Type")
            continue
        try:
            kind, parameters = media_type(header)
        except ValueError as error:
            problems.append(f"{what} ({response.request.url.path}): {error}")
            continue
        if kind.startswith("text/") and parameters.get("charset", "").lower() != "utf-8":
            problems.append(f"{what}: {header!r} names no charset=utf-8")
        if what.startswith("problem"):
            assert kind == PROBLEM_JSON, (what, header)
        elif what.startswith("HTML"):
            assert kind == "text/html", (what, header)
        elif what == "metrics":
            assert (kind, parameters.get("version")) == ("text/plain", "0.0.4"), header
    assert problems == [], "\n".join(problems)
