"""compose.yaml is a valid Compose file and agrees with what the code reads.

The schema is the official Compose Specification JSON schema, vendored in
tests/fixtures (see the README there); no container engine is needed.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose.yaml"
SCHEMA_FILE = ROOT / "tests" / "fixtures" / "compose-spec.json"
SETTINGS_FILE = ROOT / "services" / "ledger" / "grondslag" / "ledger" / "settings.py"

APP_SERVICES = ("ledger", "projector")
REQUIRED_APP_ENV = (
    "DATABASE_URL",
    "NATS_URL",
    "GRONDSLAG_BOOTSTRAP_KEY",
    "GRONDSLAG_BOOTSTRAP_TENANT",
)
# Variables of ours: anything the settings could be expected to read.
OUR_VARIABLE = re.compile(r"^(GRONDSLAG_[A-Z0-9_]+|[A-Z0-9_]+_URL)$")
# ${NAME}, ${NAME:-default}, ${NAME:?message}, $NAME ($$ is an escaped dollar).
INTERPOLATION = re.compile(r"(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))")


@pytest.fixture(scope="module")
def compose_text() -> str:
    return COMPOSE_FILE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def compose(compose_text: str) -> dict[str, Any]:
    document = yaml.safe_load(compose_text)
    assert isinstance(document, dict), "compose.yaml must be a mapping"
    return document


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert schema.get("title") == "Compose Specification"
    # The spec declares draft-07 (its "$schema" URI lacks the "#" that
    # jsonschema's lookup keys on, so name the draft instead of guessing).
    assert "draft-07" in schema["$schema"]
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _env(service: dict[str, Any]) -> dict[str, str | None]:
    """A service's environment, in either of the two forms Compose allows."""
    raw = service.get("environment") or {}
    if isinstance(raw, dict):
        return {str(k): None if v is None else str(v) for k, v in raw.items()}
    env: dict[str, str | None] = {}
    for item in raw:
        name, sep, value = str(item).partition("=")
        env[name] = value if sep else None
    return env


def _errors(validator: jsonschema.Draft7Validator, document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def settings_variables() -> set[str]:
    source = SETTINGS_FILE.read_text(encoding="utf-8")
    names = set(re.findall(r"""env\.get\(\s*["']([A-Za-z0-9_]+)["']""", source))
    assert {"DATABASE_URL", "NATS_URL"} <= names, f"parsed nothing useful from {SETTINGS_FILE}"
    return names


def test_compose_file_matches_the_compose_specification(validator, compose) -> None:
    errors = _errors(validator, compose)
    assert not errors, "compose.yaml violates the Compose Specification:\n" + "\n".join(errors)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        pytest.param(("services", "ledger", "ports"), "notalist", id="ports-not-a-list"),
        pytest.param(("servcies",), {}, id="unknown-top-level-key"),
        pytest.param(("services", "ledger", "helthcheck"), {}, id="unknown-service-key"),
        pytest.param(
            ("services", "projector", "depends_on", "postgres", "condition"),
            "service_ready",
            id="bad-depends-on-condition",
        ),
        pytest.param(("volumes", "pgdata"), "notamapping", id="volume-not-a-mapping"),
    ],
)
def test_validator_rejects_broken_compose_documents(validator, compose, path, value) -> None:
    """Guards the test above against passing vacuously (e.g. an empty schema)."""
    broken = copy.deepcopy(compose)
    *parents, key = path
    node = broken
    for part in parents:
        node = node[part]
    node[key] = value
    assert _errors(validator, broken), f"the schema accepted a broken document ({path})"


def test_app_services_get_the_settings_they_need(compose) -> None:
    services = compose["services"]
    for name in APP_SERVICES:
        env = _env(services[name])
        missing = [var for var in REQUIRED_APP_ENV if not env.get(var)]
        assert not missing, f"{name} does not set {missing}"
        # Must fail loudly when the operator forgot the key, not start keyless.
        assert ":?" in (env["GRONDSLAG_BOOTSTRAP_KEY"] or ""), name
        # The URLs point at services of this file.
        for var in ("DATABASE_URL", "NATS_URL"):
            host = urlsplit(env[var] or "").hostname
            assert host in services, f"{name}: {var} points at {host!r}, not a compose service"
        for dependency in ("postgres", "nats"):
            condition = services[name]["depends_on"][dependency]["condition"]
            assert condition == "service_healthy", (name, dependency)


def test_every_variable_of_ours_is_one_the_settings_read(compose, compose_text) -> None:
    used: set[str] = set()
    for service in compose["services"].values():
        used.update(_env(service))
    for braced, bare in INTERPOLATION.findall(compose_text):
        used.add(braced or bare)
    ours = {name for name in used if OUR_VARIABLE.match(name)}
    assert {"DATABASE_URL", "NATS_URL", "GRONDSLAG_BOOTSTRAP_KEY"} <= ours
    unknown = ours - settings_variables()
    assert not unknown, f"compose.yaml sets variables that settings.py never reads: {unknown}"


def test_commands_and_health(compose) -> None:
    services = compose["services"]
    ledger, projector = services["ledger"], services["projector"]
    assert ledger["command"][0] == "serve" and "--no-projector" in ledger["command"]
    assert projector["command"] == ["project"]
    # one process per container, restarted by the container runtime, not by `serve`
    assert "--no-supervisor" in ledger["command"]
    for service in (ledger, projector):
        assert service["restart"] in ("unless-stopped", "always", "on-failure")
    assert "/health/ready" in " ".join(ledger["healthcheck"]["test"])
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    assert "/healthz" in " ".join(services["nats"]["healthcheck"]["test"])
    assert {"-js", "-sd", "-m"} <= set(services["nats"]["command"])
    # Replicas must be possible: no fixed container name on the ledger.
    assert "container_name" not in ledger
    assert "replicas" in ledger["deploy"]
