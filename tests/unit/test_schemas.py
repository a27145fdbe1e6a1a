"""schemas/ is generated from the code and committed; a stale file fails here."""

from __future__ import annotations

import json

from grondslag import schemas


def test_committed_schemas_are_not_stale() -> None:
    assert schemas.stale() == [], "run `uv run grondslag schemas` and commit schemas/"


def test_openapi_lists_the_v1_contract_of_design_md() -> None:
    paths = json.loads(schemas.rendered()[schemas.ROOT / "openapi.json"])["paths"]
    for path, method in [
        ("/v1/purposes", "post"),
        ("/v1/purposes", "get"),
        ("/v1/purposes/{code}", "get"),
        ("/v1/purposes/{code}/revisions", "post"),
        ("/v1/subjects/{subject_ref}", "put"),
        ("/v1/subjects/{subject_ref}/consents", "post"),
        ("/v1/subjects/{subject_ref}/consents/{purpose}/withdrawal", "post"),
        ("/v1/subjects/{subject_ref}/standing", "get"),
        ("/v1/subjects/{subject_ref}/standing/{purpose}", "get"),
        ("/v1/subjects/{subject_ref}/history", "get"),
        ("/v1/checks", "post"),
        ("/health/live", "get"),
        ("/health/ready", "get"),
    ]:
        assert method in paths.get(path, {}), f"{method.upper()} {path} missing"


def test_stale_detection_notices_a_changed_file(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(schemas, "ROOT", tmp_path)
    files = schemas.rendered()
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert schemas.stale() == []
    (tmp_path / "openapi.json").write_text("{}\n")
    assert schemas.stale() == [tmp_path / "openapi.json"]


def test_every_event_schema_names_its_payload_fields() -> None:
    consent = json.loads(schemas.rendered()[schemas.ROOT / "events" / "ConsentGiven.json"])
    props = consent["$defs"]["Consent"]["properties"]
    for field in (
        "method",
        "explicit",
        "notice_version",
        "evidence",
        "effective_at",
        "recorded_by",
        "representative_ref",
        "expires_at",
        "purpose_version",
    ):
        assert field in props


def test_asyncapi_document_is_valid_asyncapi_3_1() -> None:
    import jsonschema
    import yaml

    spec = json.loads(
        (schemas.ROOT.parent / "tests" / "fixtures" / "asyncapi-3.1.0.json").read_text()
    )
    document = yaml.safe_load(schemas.rendered()[schemas.ROOT / "asyncapi.yaml"])
    jsonschema.Draft7Validator(spec).validate(document)
    broken = {**document, "channels": {"x": {"address": 5}}}
    assert list(jsonschema.Draft7Validator(spec).iter_errors(broken)), "validator accepts junk"


def test_a_relayed_message_matches_its_published_schema() -> None:
    from datetime import UTC, datetime

    import jsonschema
    import msgspec

    from grondslag.ledger.domain.values import Giver
    from grondslag.projector.messages import CloudEvent, StandingChange

    message = CloudEvent(
        id="0c0fb3e0-9d70-5cfb-a811-28c7bb65c0fa",
        source="urn:grondslag:demo",
        type="nl.grondslag.consent.given.v1",
        subject="client-17/photo",
        time=datetime(2025, 9, 2, 10, 0, 1, tzinfo=UTC),
        data=StandingChange(
            tenant="demo",
            subject_ref="client-17",
            purpose="photo",
            event_id="0c0fb3e0-9d70-5cfb-a811-28c7bb65c0fa",
            effective_at=datetime(2025, 9, 2, 10, tzinfo=UTC),
            at=datetime(2025, 9, 2, 10, 0, 1, tzinfo=UTC),
            known_at=datetime(2025, 9, 2, 10, 0, 1, tzinfo=UTC),
            lawful=True,
            status="lawful",
            basis="consent",
            since=datetime(2025, 9, 2, 10, tzinfo=UTC),
            given_by=Giver("subject"),
        ),
    )
    schema = json.loads(schemas.rendered()[schemas.ROOT / "messages" / "consent.given.json"])
    jsonschema.validate(json.loads(msgspec.json.encode(message)), schema)
    wrong = json.loads(msgspec.json.encode(message)) | {"type": "nl.grondslag.basis.lapsed.v1"}
    try:
        jsonschema.validate(wrong, schema)
    except jsonschema.ValidationError:
        return
    raise AssertionError("a message of another type passed the consent.given schema")
