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


def _mapping(text: str, name: str) -> dict[str, Any]:
    document = yaml.safe_load(text)
    assert isinstance(document, dict), f"{name} must be a mapping"
    return document


@pytest.fixture(scope="module")
def compose(compose_text: str) -> dict[str, Any]:
    return _mapping(compose_text, "compose.yaml")


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


@pytest.mark.parametrize("document", ["compose", "cluster"])
def test_the_schema_is_migrated_once_before_any_replica_starts(request, document) -> None:
    """A one-shot ``migrate`` service on the primary; the ledger replicas and projectors wait
    for it to have exited 0 and refuse a database behind them instead of each migrating."""
    services = request.getfixturevalue(document)["services"]
    migrate = services["migrate"]
    assert migrate["command"] == ["migrate"] and migrate["restart"] == "no"
    assert set(migrate["depends_on"]) == {
        "postgres" if document == "compose" else "postgres-primary"
    }
    for name in APP_SERVICES:
        service = services[name]
        condition = service["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully", name
        assert _env(service)["GRONDSLAG_MIGRATE"] == "false", name


# -- compose.cluster.yaml: the same engines, past one machine ---------------------------------

CLUSTER_FILE = ROOT / "compose.cluster.yaml"
NATS_NODES = ("nats-1", "nats-2", "nats-3")


@pytest.fixture(scope="module")
def cluster_text() -> str:
    return CLUSTER_FILE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def cluster(cluster_text: str) -> dict[str, Any]:
    return _mapping(cluster_text, "compose.cluster.yaml")


def _read_anywhere(name: str) -> bool:
    sources = [*(ROOT / "services").rglob("*.py"), *(ROOT / "grondslag").rglob("*.py")]
    return any(name in path.read_text(encoding="utf-8") for path in sources)


def test_cluster_file_matches_the_compose_specification(validator, cluster) -> None:
    errors = _errors(validator, cluster)
    assert not errors, "compose.cluster.yaml violates the Compose Specification:\n" + "\n".join(
        errors
    )


def test_cluster_validator_rejects_a_broken_cluster_file(validator, cluster) -> None:
    broken = copy.deepcopy(cluster)
    broken["services"]["nats-2"]["command"] = {"not": "a list"}
    assert _errors(validator, broken)


def test_cluster_runs_three_nats_nodes_that_route_to_each_other(cluster) -> None:
    services = cluster["services"]
    routes_of = {}
    for name in NATS_NODES:
        command = [str(part) for part in services[name]["command"]]
        assert "-js" in command and command[command.index("--server_name") + 1] == name
        assert command[command.index("--cluster_name") + 1] == "grondslag"
        routes_of[name] = command[command.index("--routes") + 1].split(",")
        assert "/healthz" in " ".join(services[name]["healthcheck"]["test"])
    volumes = {services[name]["volumes"][0].split(":")[0] for name in NATS_NODES}
    assert len(volumes) == 3, "each node keeps its JetStream store on a volume of its own"
    for routes in routes_of.values():
        assert {urlsplit(route).hostname for route in routes} == set(NATS_NODES)


def test_cluster_replica_is_a_pg_basebackup_of_the_primary(cluster) -> None:
    services = cluster["services"]
    primary, replica = services["postgres-primary"], services["postgres-replica"]
    assert "wal_level=replica" in primary["command"]
    init = ROOT / primary["volumes"][1].split(":")[0]
    assert "WITH REPLICATION" in init.read_text() and "replication" in init.read_text()
    entrypoint = ROOT / replica["volumes"][1].split(":")[0]
    script = entrypoint.read_text()
    assert replica["entrypoint"] == [replica["volumes"][1].split(":")[1]]
    assert "pg_basebackup" in script and "--write-recovery-conf" in script
    assert "exec docker-entrypoint.sh" in script
    assert replica["environment"]["PRIMARY_HOST"] == "postgres-primary"
    assert replica["depends_on"]["postgres-primary"]["condition"] == "service_healthy"
    assert primary["volumes"][0].split(":")[0] != replica["volumes"][0].split(":")[0]


def test_cluster_runs_two_ledgers_and_two_projectors_on_the_whole_cluster(cluster) -> None:
    services = cluster["services"]
    for name in ("ledger", "projector"):
        service = services[name]
        env = _env(service)
        assert ":-2}" in str(service["deploy"]["replicas"]), f"{name} runs two replicas"
        assert urlsplit(env["DATABASE_URL"] or "").hostname == "postgres-primary"
        assert urlsplit(env["DATABASE_READ_URL"] or "").hostname == "postgres-replica"
        nodes = [urlsplit(url).hostname for url in (env["NATS_URL"] or "").split(",")]
        assert nodes == list(NATS_NODES), f"{name} names every NATS node"
        assert env["GRONDSLAG_NATS_REPLICAS"] == "3" and env["GRONDSLAG_NATS_STORAGE"] == "file"
        assert env["GRONDSLAG_PROJECTION_PARTITIONS"], name
        assert ":?" in (env["GRONDSLAG_BOOTSTRAP_KEY"] or "")
        for dependency in ("postgres-primary", "postgres-replica", *NATS_NODES):
            assert service["depends_on"][dependency]["condition"] == "service_healthy"
        assert "container_name" not in service
    assert services["ledger"]["command"][:1] == ["serve"]
    assert "--no-projector" in services["ledger"]["command"]
    assert services["projector"]["command"][:1] == ["project"]
    port = _env(services["projector"])["GRONDSLAG_PROJECTOR_HEALTH_PORT"]
    assert f":{port}/health/" in " ".join(services["projector"]["healthcheck"]["test"])


def test_every_variable_of_the_cluster_is_one_the_code_reads(cluster, cluster_text) -> None:
    used: set[str] = set()
    for service in cluster["services"].values():
        used.update(_env(service))
    for braced, bare in INTERPOLATION.findall(cluster_text):
        used.add(braced or bare)
    ours = {name for name in used if OUR_VARIABLE.match(name)}
    read = settings_variables()
    unknown = {name for name in ours - read if not _read_anywhere(name)}
    assert not unknown, f"compose.cluster.yaml sets variables the code never reads: {unknown}"
