"""schemas/asyncapi.yaml as the official AsyncAPI parser (``@asyncapi/parser``, the one the
AsyncAPI CLI, Studio and generators are built on) reads it: no diagnostics, and every payload
resolved whole — a nested definition the parser dropped would leave a dangling ``$ref``. Real
messages, relayed from the ledger through NATS, validate against the payload schemas of the
*parsed* document, found by their subject as a consumer finds its channel.

The parser runs under Node from ``tests/node`` (``npm ci`` there when it is not installed).
The module runs on a database of its own (see test_projector.py for why).
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import asyncpg
import jsonschema
import pytest

from grondslag.ledger.application import ErasureRequest, Ledger
from grondslag.ledger.domain.request_values import Answer, Extension, IdentityCheck, RequestIntake
from grondslag.ledger.domain.values import (
    Establishment,
    Evidence,
    PersonalData,
    Representation,
    RepresentationEnd,
    Restriction,
    RestrictionLift,
)
from grondslag.projector.relay import Relay

from projector_support import consume, follower_at_head, give, new_tenant, terms, withdraw

ROOT = Path(__file__).resolve().parents[2]
NODE = ROOT / "tests" / "node"
DOCUMENT = ROOT / "schemas" / "asyncapi.yaml"
NEWSLETTER, FILE = "newsletter", "client-file"
REGISTER = {NEWSLETTER: terms("Nieuwsbrief"), FILE: terms("Dossier", basis="contract")}


@cache
def parsed(document: Path = DOCUMENT) -> dict[str, Any]:
    """The parser's diagnostics and, per channel, its address and its messages' payloads."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("Node.js and npm are needed (Debian: apt-get install nodejs npm)")
    if not (NODE / "node_modules" / "@asyncapi" / "parser").is_dir():
        subprocess.run(
            ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix", str(NODE)],
            check=True,
            capture_output=True,
            timeout=300,
        )
    run = subprocess.run(
        ["node", str(NODE / "asyncapi-payloads.js"), str(document)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [
            r for v in node.values() for r in refs(v)
        ]
    return [r for v in node for r in refs(v)] if isinstance(node, list) else []


def payload_for(subject: str, message_type: str) -> dict[str, Any]:
    """The payload schema of the parsed channel whose address the NATS subject matches."""
    for channel in parsed()["channels"].values():
        address = re.escape(channel["address"]).replace(r"\{tenant\}", r"[^.]+")
        if re.fullmatch(address, subject):
            assert message_type in channel["messages"], (subject, message_type)
            return channel["messages"][message_type]
    raise AssertionError(f"no channel of the document has the address of {subject}")


def test_the_parser_reads_the_document_without_a_diagnostic() -> None:
    assert parsed()["diagnostics"] == []


def test_every_parsed_payload_is_resolved_whole() -> None:
    from grondslag.projector.messages import MESSAGE_TYPES

    channels = parsed()["channels"]
    assert len(channels) == len(MESSAGE_TYPES)
    for channel in channels.values():
        for name, payload in channel["messages"].items():
            assert refs(payload) == [], f"{name}: the parser left {refs(payload)}"
            data = payload["properties"]["data"]
            assert data["type"] == "object" and data["properties"], name
            jsonschema.Draft7Validator.check_schema(payload)


def test_a_nested_definition_lost_by_the_parser_is_noticed(tmp_path: Path) -> None:
    """The document as it was: payloads referring to files whose root is a $ref into $defs."""
    import yaml

    document = yaml.safe_load(DOCUMENT.read_text())
    for message in document["components"]["messages"].values():
        message["payload"] = {"$ref": f"./messages/{message['title']}.json"}
    del document["components"]["schemas"]
    (tmp_path / "messages").symlink_to(ROOT / "schemas" / "messages")
    (tmp_path / "asyncapi.yaml").write_text(yaml.safe_dump(document))
    channel = parsed(tmp_path / "asyncapi.yaml")["channels"]["basis_lapsed"]
    payload = channel["messages"]["nl.grondslag.basis.lapsed.v1"]
    assert refs(payload) == ["#/$defs/StandingChange"]


async def test_relayed_messages_validate_against_the_parsed_payloads(
    ledger: Ledger, pool: asyncpg.Pool, own_database_url: str, js: Any
) -> None:
    tenant, ref = new_tenant(ledger, REGISTER), f"client-{secrets.token_hex(3)}"
    now = datetime.now(UTC)
    ledger.put_subject(tenant, ref, PersonalData(email=f"{ref}@example.nl"))
    follower = await follower_at_head(pool, own_database_url, Relay(js).publish)
    ledger.register_representative(
        tenant,
        ref,
        Representation(
            representative_ref="curator-1",
            kind="curator",
            valid_from=now - timedelta(days=1),
            evidence=Evidence(document_ref="beschikking.pdf"),
        ),
    )
    ledger.end_representation(
        tenant, ref, RepresentationEnd(representative_ref="curator-1", effective_at=now, reason="x")
    )
    give(ledger, tenant, ref, NEWSLETTER)
    establishment = Establishment(basis="contract", reference="c-1", effective_at=now)
    ledger.establish_basis(tenant, ref, FILE, establishment)
    ledger.restrict(tenant, ref, NEWSLETTER, Restriction(reasons="disputed", effective_at=now))
    ledger.lift_restriction(
        tenant, ref, NEWSLETTER, RestrictionLift(reasons="settled", effective_at=datetime.now(UTC))
    )
    withdraw(ledger, tenant, ref, NEWSLETTER)
    intake = RequestIntake(
        kind="erasure",
        received_at=now,
        channel="email",
        identity=IdentityCheck(method="known_in_person", verified_by="staff:x"),
    )
    request = ledger.receive_request(tenant, ref, intake)
    ledger.extend_request(tenant, request.request_id, Extension(months=2, reasons="complex"))
    ledger.answer_request(
        tenant,
        request.request_id,
        Answer(outcome="partly", reasons="the file is held", answered_at=datetime.now(UTC)),
    )
    ledger.erase(tenant, ref, ErasureRequest(recorded_by="staff:x"))
    await follower.catch_up()

    messages = await consume(js, tenant, relayed_only=True)
    names = {m.subject.removeprefix(f"grondslag.{tenant}.") for m in messages}
    assert names >= {
        "representation.ended",
        "consent.given",
        "basis.lawful",
        "basis.established",
        "basis.restricted",
        "basis.restored",
        "consent.withdrawn",
        "basis.lapsed",
        "request.received",
        "request.extended",
        "request.answered",
        "subject.erased",
    }, names
    for message in messages:
        body = json.loads(message.data)
        schema = payload_for(message.subject, body["type"])
        jsonschema.Draft7Validator(schema).validate(body)
        wrong = body | {"data": body["data"] | {"tenant": 7}}
        assert not jsonschema.Draft7Validator(schema).is_valid(wrong), message.subject
