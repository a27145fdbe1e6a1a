"""Generate the committed contracts in ``schemas/`` from the code (never edited by hand).

* ``openapi.json`` — the HTTP API, from the litestar app;
* ``events/<Type>.json`` — JSON Schema of every stored event's payload, from the event
  classes (msgspec), so that consumers of an export know what they read;
* ``messages/<name>.json`` and ``asyncapi.yaml`` (AsyncAPI 3.1, self-contained: its payload
  schemas under ``components/schemas``) — the NATS messages, from
  ``grondslag.projector.messages``;
* ``audit-bundle.json`` — the export bundle an auditor verifies (``grondslag.ledger.audit.bundle``);
* ``subject-export.json`` — a subject's access and portability answer (art. 15, art. 20),
  ``GET /v1/subjects/{subject_ref}/export`` as JSON (``grondslag.ledger.reads.export``).

``grondslag schemas`` writes them; ``grondslag schemas --check`` (and a test) fails when a
committed file is stale.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import msgspec

ROOT = Path(__file__).resolve().parent.parent / "schemas"


def openapi() -> dict[str, Any]:
    from grondslag.ledger.api.app import create_app
    from grondslag.ledger.settings import Settings

    app = create_app(Settings(database_url="postgresql://unused/unused"))
    return app.openapi_schema.to_schema()


def event_types() -> dict[str, type]:
    from grondslag.ledger.domain.controller import Controller
    from grondslag.ledger.domain.purpose import Purpose
    from grondslag.ledger.domain.standing import Standing
    from grondslag.ledger.domain.subject import Subject
    from grondslag.ledger.domain.subject_request import SubjectRequest

    return {
        "PurposeRegistered": Purpose.Registered,
        "PurposeRevised": Purpose.Revised,
        "SubjectRegistered": Subject.Registered,
        "PersonalDataRecorded": Subject.PersonalDataRecorded,
        "RepresentativeRegistered": Subject.RepresentativeRegistered,
        "RepresentationEnded": Subject.RepresentationEnded,
        "LegalClaimRecorded": Subject.LegalClaimRecorded,
        "LegalClaimEnded": Subject.LegalClaimEnded,
        "SubjectErased": Subject.Erased,
        "StandingOpened": Standing.Opened,
        "ConsentGiven": Standing.ConsentGiven,
        "ConsentWithdrawn": Standing.ConsentWithdrawn,
        "BasisEstablished": Standing.BasisEstablished,
        "BasisEnded": Standing.BasisEnded,
        "ObjectionLodged": Standing.ObjectionLodged,
        "ObjectionDecided": Standing.ObjectionDecided,
        "BasisLapsed": Standing.BasisLapsed,
        "RetentionExpired": Standing.RetentionExpired,
        "ProcessingRestricted": Standing.ProcessingRestricted,
        "RestrictionLifted": Standing.RestrictionLifted,
        "ControllerOpened": Controller.Opened,
        "ControllerIdentityRecorded": Controller.IdentityRecorded,
        "RequestReceived": SubjectRequest.Received,
        "RequestExtended": SubjectRequest.Extended,
        "RequestAnswered": SubjectRequest.Answered,
        "RequestConfirmed": SubjectRequest.Confirmed,
        "RequestDueSoonNoticed": SubjectRequest.DueSoonNoticed,
        "RequestOverdueNoticed": SubjectRequest.OverdueNoticed,
    }


def event_schema(name: str, cls: type) -> dict[str, Any]:
    schema = msgspec.json.schema(cls)
    schema["title"] = name
    schema["description"] = (cls.__doc__ or "").strip()
    return schema


def message_schemas() -> dict[str, dict[str, Any]]:
    from grondslag.projector.messages import MESSAGE_TYPES, envelope_of

    schemas = {}
    for name, (type_name, data, description) in MESSAGE_TYPES.items():
        envelope = msgspec.json.schema(envelope_of(data))
        envelope["title"] = f"nl.grondslag.{type_name}"
        envelope["description"] = description
        definition = envelope["$defs"][envelope["$ref"].rsplit("/", 1)[1]]
        definition["properties"]["type"] = {"const": f"nl.grondslag.{type_name}"}
        schemas[name] = envelope
    return schemas


def payload_schemas() -> tuple[dict[str, str], dict[str, Any]]:
    """The message payloads as AsyncAPI tools resolve them: every definition under
    ``components/schemas``, referred to as ``#/components/schemas/<name>``; answers
    (message name → its envelope's schema name, the schemas). A payload that is a root
    ``$ref`` into its own ``$defs`` (as ``messages/*.json`` are) loses those definitions
    when a parser replaces the reference, so the document carries none."""
    envelopes: dict[str, str] = {}
    shared: dict[str, Any] = {}
    for name, schema in message_schemas().items():
        own = schema["$ref"].rsplit("/", 1)[1]
        envelope = schema["title"]
        definitions = dict(schema["$defs"])
        definitions[envelope] = definitions.pop(own) | {
            "title": envelope,
            "description": schema["description"],
        }
        for key, definition in definitions.items():
            definition = _components_refs(definition)
            if shared.setdefault(key, definition) != definition:
                raise ValueError(f"two messages define {key} differently")
        envelopes[name] = envelope
    return envelopes, dict(sorted(shared.items()))


def _components_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: value.replace("#/$defs/", "#/components/schemas/")
            if key == "$ref"
            else _components_refs(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_components_refs(value) for value in node]
    return node


def asyncapi() -> dict[str, Any]:
    """AsyncAPI 3.1: one channel per message, addressed per tenant."""
    from grondslag.projector.messages import MESSAGE_TYPES
    from grondslag.projector.relay import DUPLICATE_WINDOW_SECONDS, STREAM

    envelopes, payloads = payload_schemas()
    channels, operations, components = {}, {}, {}
    for name, (type_name, _, description) in MESSAGE_TYPES.items():
        key = name.replace(".", "_")
        components[key] = {
            "name": f"nl.grondslag.{type_name}",
            "title": name,
            "summary": description,
            "contentType": "application/cloudevents+json",
            "headers": {
                "type": "object",
                "properties": {
                    "Nats-Msg-Id": {
                        "type": "string",
                        "description": (
                            "= CloudEvents id: the ledger event id for the message reporting "
                            "that event; for the basis.lapsed or basis.lawful signal the same "
                            "event causes beside it, UUIDv5(event id, 'nl.grondslag.<name>.v1'); "
                            "for the stop or start a rectified birth date causes on a standing, "
                            "UUIDv5(event id, 'nl.grondslag.<purpose>/<name>.v1')"
                        ),
                    }
                },
            },
            "payload": {"$ref": f"#/components/schemas/{envelopes[name]}"},
        }
        channels[key] = {
            "address": f"grondslag.{{tenant}}.{name}",
            "parameters": {"tenant": {"description": "the controller (practice) it concerns"}},
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
        }
        operations[f"publish_{key}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{key}"},
            "messages": [{"$ref": f"#/channels/{key}/messages/{key}"}],
        }
    return {
        "asyncapi": "3.1.0",
        "info": {
            "title": "Grondslag notifications",
            "version": "1.0.0",
            "description": (
                f"CloudEvents 1.0 (structured JSON) on NATS JetStream, stream {STREAM} "
                f"capturing grondslag.>, duplicate window {DUPLICATE_WINDOW_SECONDS:.0f} s. "
                "Each message's Nats-Msg-Id and id is deterministic, derived from the ledger "
                "event it reports; consumers stay idempotent on it. Payloads carry references, "
                "never names or e-mail addresses. To STOP processing in time, subscribe to "
                "grondslag.<tenant>.basis.lapsed: every transition from lawful to not lawful is "
                "published there, whatever caused it. To learn that processing MAY START, "
                "subscribe to grondslag.<tenant>.basis.lawful. Every standing field is the "
                "ledger's own answer at data.at as known at data.known_at (the event's "
                "recorded time): GET /v1/subjects/{subject_ref}/standing/{purpose}?at=&known_at= "
                "answers the same."
            ),
        },
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": components, "schemas": payloads},
    }


def bundle_schema() -> dict[str, Any]:
    from grondslag.ledger.audit.bundle import FORMAT, Bundle

    schema = msgspec.json.schema(Bundle)
    schema["title"] = FORMAT
    schema["description"] = (
        "A self-contained audit export: events with canonical bytes and inclusion proofs, a "
        "signed checkpoint, the public key; see docs/verifying-an-audit-bundle.md"
    )
    return schema


def subject_export_schema() -> dict[str, Any]:
    from grondslag.ledger.reads.export import FORMAT, SubjectExport

    schema = msgspec.json.schema(SubjectExport)
    schema["title"] = FORMAT
    schema["description"] = (
        "Everything the ledger holds about one subject (GDPR art. 15): the controller, the "
        "personal data (unsealed; null and destroyed=true once erased) with its rectified "
        "versions, representations, per purpose the register's terms, the standing now and "
        "every record with its evidence (R7), and the full event history. Art. 20 "
        "portability: what the subject provided and every consent with its evidence are "
        "marked portable=true and gathered in `portability`."
    )
    return schema


def rendered() -> dict[Path, str]:
    """Every generated file, path → text."""
    import yaml

    files = {ROOT / "openapi.json": _json(openapi())}
    for name, cls in event_types().items():
        files[ROOT / "events" / f"{name}.json"] = _json(event_schema(name, cls))
    for name, schema in message_schemas().items():
        files[ROOT / "messages" / f"{name}.json"] = _json(schema)
    files[ROOT / "audit-bundle.json"] = _json(bundle_schema())
    files[ROOT / "subject-export.json"] = _json(subject_export_schema())
    files[ROOT / "asyncapi.yaml"] = yaml.safe_dump(
        asyncapi(), sort_keys=True, allow_unicode=True, width=100
    )
    return files


def _json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def stale() -> list[Path]:
    return [p for p, text in rendered().items() if not p.exists() or p.read_text() != text]


def main(args: argparse.Namespace) -> int:
    if args.check:
        outdated = stale()
        for path in outdated:
            print(
                f"stale: {path.relative_to(ROOT.parent)} (run `grondslag schemas`)", file=sys.stderr
            )
        return 1 if outdated else 0
    for path, text in rendered().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(path.relative_to(ROOT.parent))
    return 0
