"""The command's manners: ``--help`` for every command, each option explained with its
default; a failure one can expect is one line on stderr (no traceback) with the exit code
the README's table gives."""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from grondslag.cli import main, parser


def _commands(
    command: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, command
    for action in command._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(parser()))


def test_the_walk_finds_every_command() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"serve", "status", "nats-url", "keys create", "audit check", "verify"} <= names
    assert len(COMMANDS) > 20


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_option_has_help_and_shows_its_default(
    path: tuple[str, ...], command: argparse.ArgumentParser, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main([*path, "--help"])
    assert done.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())  # (help text is wrapped)
    for action in command._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        name = "/".join(action.option_strings) or action.dest
        assert action.help and action.help.strip(), (
            f"grondslag {' '.join(path)}: {name} has no help"
        )
        default = action.default
        if action.option_strings and default not in (None, False, [], argparse.SUPPRESS):
            assert f"(default: {default})" in shown or "(default" in action.help, (
                f"grondslag {' '.join(path)} --help does not show the default of {name}"
            )
        if not action.option_strings:
            assert (action.metavar or action.dest) in shown


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once it is closed


def _grondslag(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("GRONDSLAG_")}
    keep = {k: v for k, v in keep.items() if k not in ("DATABASE_URL", "NATS_URL")}
    return subprocess.run(
        [sys.executable, "-m", "grondslag.cli", *args],
        env=keep | {"GRONDSLAG_DATA_DIR": str(tmp_path / "data")} | env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


CLOSED = f"postgresql://postgres@127.0.0.1:{_closed_port()}/grondslag"
FAILURES = [
    # (what, arguments, environment, exit code, the line says)
    ("bad database URL", ("keys", "list"), {"DATABASE_URL": "garbage"}, 2, "database URL"),
    ("bad database URL, serve", ("serve",), {"DATABASE_URL": "garbage"}, 2, "DATABASE_URL"),
    ("database unreachable", ("keys", "list"), {"DATABASE_URL": CLOSED}, 3, "connect"),
    (
        "database unreachable, serve",
        ("serve", "--port", "0"),
        {"DATABASE_URL": CLOSED, "NATS_URL": "nats://127.0.0.1:4222"},
        3,
        f"the database at {CLOSED}",
    ),
    (
        "database unreachable, audit check",
        ("audit", "check"),
        {"DATABASE_URL": CLOSED},
        3,
        "connect",
    ),
    (
        "bad NATS URL, serve",
        ("serve", "--port", "0"),
        {"DATABASE_URL": CLOSED, "NATS_URL": "localhost:4222"},
        2,
        "NATS_URL",
    ),
    (
        "bad NATS URL in a cluster's list, project",  # refused at start, its password hidden
        ("project",),
        {"DATABASE_URL": CLOSED, "NATS_URL": "nats://n1:4222, nats://grondslag:geheim@n2:42x2"},
        2,
        "NATS_URL: 'nats://grondslag:***@n2:42x2' is not a server URL",
    ),
    (
        "stream replicas out of range",
        ("project",),
        {"DATABASE_URL": CLOSED, "GRONDSLAG_NATS_REPLICAS": "7"},
        2,
        "GRONDSLAG_NATS_REPLICAS: '7' is not a whole number from 1 to 5",
    ),
    (
        "kept standings not a count",
        ("project",),
        {"DATABASE_URL": CLOSED, "GRONDSLAG_PROJECTOR_KEPT_STANDINGS": "lots"},
        2,
        "GRONDSLAG_PROJECTOR_KEPT_STANDINGS: 'lots' is not a whole number from 0 to 10000000",
    ),
    ("a bad number", ("keys", "list"), {"GRONDSLAG_WRITE_POOL_SIZE": "many"}, 2, "POOL_SIZE"),
    (
        "a bad switch",  # named once, and no "auto" offered where there is none
        ("migrate", "--status"),
        {"GRONDSLAG_MIGRATE": "maybe"},
        2,
        "GRONDSLAG_MIGRATE: 'maybe' is not true or false",
    ),
    ("missing bundle", ("verify", "no-such-bundle.json"), {}, 2, "no-such-bundle.json"),
    (
        "missing key file",
        ("verify", "bundle.json", "--key", "keys/published.pem"),
        {},
        2,
        "keys/published.pem: no such file",
    ),
    ("bad argument", ("keys", "create", "--tenant", "demo"), {}, 2, "--role"),
    ("bad port", ("serve", "--port", "99999"), {}, 2, "not a port"),
    ("no such command", ("frobnicate",), {}, 2, "invalid choice"),
    # a folder where no serve ever ran: nothing to read, and no new database made for it
    ("no database yet, audit check", ("audit", "check"), {}, 3, "holds no Grondslag schema"),
    ("no database yet, rebuild", ("rebuild",), {}, 3, "holds no Grondslag schema"),
    ("no database yet, quarantine", ("quarantine", "list"), {}, 3, "holds no Grondslag schema"),
    ("nothing runs", ("status",), {}, 1, "no grondslag serve runs"),
    ("nothing runs, nats-url", ("nats-url",), {}, 1, "no embedded nats-server"),
]


@pytest.mark.parametrize(
    ("args", "env", "code", "says"), [f[1:] for f in FAILURES], ids=[f[0] for f in FAILURES]
)
def test_an_expected_failure_is_one_line_and_its_exit_code(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], code: int, says: str
) -> None:
    (tmp_path / "bundle.json").write_text("{}")
    done = _grondslag(tmp_path, *args, **env)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == code, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if not re.match(r"(usage:|\s)", line)]
    errors = [line for line in errors if not re.match(r"\d{4}-\d\d-\d\d .* (INFO|WARNING) ", line)]
    assert len(errors) == 1, done.stderr
    assert says in errors[0], done.stderr
    assert not (tmp_path / "data" / "postgres").exists(), "no embedded server for a failure"


def test_the_readme_gives_the_exit_codes() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    table = re.search(r"\| exit code \|.*?\n\n", readme, re.S)
    assert table, "README: no table of exit codes"
    assert [int(code) for code in re.findall(r"^\| `(\d)` \|", table.group(0), re.M)] == [
        0,
        1,
        2,
        3,
    ]


def test_the_command_line_starts_without_the_database_drivers_or_the_web_stack() -> None:
    """Every command imports ``grondslag.cli`` in a fresh interpreter: psycopg alone took
    0.45 s of its 0.73 s, for every ``--help`` and ``verify`` too; each command imports
    what it uses when it runs."""
    probe = "import sys, grondslag.cli; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    for heavy in ("psycopg", "asyncpg", "litestar", "eventsourcing", "nats", "uvicorn"):
        assert f"'{heavy}'" not in loaded, f"{heavy} is imported by grondslag.cli"
