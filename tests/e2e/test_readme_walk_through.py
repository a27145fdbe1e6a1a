"""The README's examples are true: its command 1 starts `grondslag serve` on the embedded
default (with the README's key), and every command of the walk-through and of the later
sections' shell blocks runs in bash, in README order, with `API` and `AUTH` as the README
sets them (only the port is the test's own). Each output the README documents under a
command must match the answer, and so must what the walk-through's text says of its steps.

Compared loosely, because they are fixed when the test runs rather than by the README's
data: values shown by their first characters (ids, tokens, hashes, `"5f0c…"`); in
`grondslag verify`'s lines the checkpoint's tree size, root, time and key and each event's
id and recording time (the key is made at first start, the roots hash the recording times,
and which checkpoint a bundle carries depends on when the checkpointer last signed); and the
extension of the access request, which the README records within its first month and the
test, run later, sees refused (R23). "Now" answers hold until a date of the README's data
passes (LATER: the child's 16th birthday first); the test then says which, rather than
failing on answers that became true the other way."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from readme_examples import (
    Example,
    bindings,
    examples,
    is_json,
    mismatches,
    status_and_pattern,
    text_mismatches,
)

ROOT = Path(__file__).resolve().parents[2]
README_API = "http://127.0.0.1:8000"
SECTIONS = (
    "Walk-through",
    "Data-subject requests",
    "The controller",
    "Newsletters",
    "Erasure",
    "The auditor's proof",
    "Pages and versions",  # last: its revision of the purpose would change the answers above
)
# placeholders the README writes in angle brackets, and the answer that gives each
PLACEHOLDERS = {
    "<public_key from checkpoints/latest>": ("/v1/audit/checkpoints/latest", "public_key"),
    "<public_key>": ("/v1/audit/checkpoints/latest", "public_key"),
    "<event_id>": ("/v1/subjects/client-17/consents -H", "event_id"),
}
# the README's data answers as it shows until the first of these; then move the data on
LATER = {
    datetime(2031, 3, 13, 23, 0, tzinfo=UTC): "child-4 turns 16: her mother's consent lapses",
    datetime(2032, 10, 31, 17, 0, tzinfo=UTC): "the mediation file's retention ends",
}
# undocumented answers that are refusals, and why
FIRST_MONTH_ENDS = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # the access request's due_at
REFUSED = {
    # recorded "within the first month" in the README's story; the test runs after it
    "/extension": (409, "R23") if datetime.now(UTC) >= FIRST_MONTH_ENDS else None,
    # the README says so: the identity is recorded when the test runs, after 1 January 2026
    "known_at=2026-01-01T00:00:00Z": (404, None),
}
# the audit reads' answers while the audit log has not caught up with the last write:
# "not in the audit log yet" and "checkpoint pending", both to be asked again
RETRY = (409, 503)
# what the walk-through's text says its steps answer
SAID = {
    "curl -s $API/v1/subjects/client-17/standing/photo-in-dossier -H": '"lawful": true, '
    '"status": "lawful", "since": "2025-09-02T10:00:00Z", "evidence": ["<consent>"]',
    "consents/photo-in-dossier/withdrawal": '"standing": {"status": "lapsed", '
    '"reason": "withdrawn", "until": "2025-11-14T22:14:00Z"}',
    "photo-in-dossier?at=2025-11-01T00:00:00Z": '"lawful": true, "status": "lawful"',
    "known_at=2025-10-01T00:00:00Z": '"status": "none", "lawful": false',
}
# parts of `grondslag verify`'s lines fixed by the run, not by the README's data
LOOSE = [
    (r"tree size \d+", "tree size N"),
    (r"root [0-9a-f]+…?", "root R"),
    (r"issued \S+Z,", "issued T,"),
    (r"key [0-9a-f]+…?", "key K"),
    (r"bundle sha256 [0-9a-f]+…?", "bundle sha256 H"),
    (r"as known at \S+ \(", "as known at T ("),
    (r"recorded \S+ by", "recorded T by"),
    (r", event [0-9a-f-]+…?$", ", event E"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _command_1_environment() -> dict[str, str]:
    """The variables README's command 1 sets before `grondslag serve`."""
    first_block = re.search(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert first_block
    line = next(line for line in first_block.group(1).splitlines() if "grondslag serve" in line)
    words = shlex.split(line, comments=True)
    return dict(word.split("=", 1) for word in words[: words.index("uv")])


def _serve(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL")}
    env |= _command_1_environment() | {"GRONDSLAG_DATA_DIR": str(data_dir)}
    data_dir.mkdir(mode=0o700)
    log = data_dir.parent / "serve.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "grondslag.cli", "serve", "--port", str(port)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(errors="replace")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/ready").status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    process.kill()
    raise AssertionError(f"not ready in 90 s: {log.read_text(errors='replace')}")


class Shell:
    """Runs the README's commands one by one in bash, keeping the variables they set.

    `curl` also prints the status line `curl -s` leaves out (as its last line), and
    `uv run X` runs X from this test's environment."""

    PRELUDE = (
        "curl() { command curl -w '\\n%{http_code}' \"$@\"; }\n"
        'uv() { [ "$1" = run ] && shift; "$@"; }\n'
    )

    def __init__(self, workdir: Path, data_dir: Path) -> None:
        self.workdir = workdir
        self.state = workdir / "variables.sh"
        self.state.write_text("")
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL")},
            "GRONDSLAG_DATA_DIR": str(data_dir),
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        }

    def run(self, command: str) -> subprocess.CompletedProcess[str]:
        names = sorted(set(re.findall(r"(?:^|;\s*)([A-Z_]+)=", command, re.M)))
        keep = f"\ndeclare -p {' '.join(names)} >> {self.state}" if names else ""
        script = f"{self.PRELUDE}source {self.state}\n{command}{keep}\n"
        return subprocess.run(
            ["bash", "-c", script],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )


def _answer(done: subprocess.CompletedProcess[str]) -> tuple[int, Any]:
    """The status and the JSON body curl printed; status 0 and bash's complaint when the
    command did not run (a quote the README left open)."""
    body, _, status = done.stdout.rpartition("\n")
    if not status.isdigit():
        return 0, done.stderr
    try:
        return int(status), json.loads(body) if body.strip() else None
    except json.JSONDecodeError:
        return int(status), body


def _placeholder(answers: list[tuple[str, Any]], marker: tuple[str, str]) -> str:
    where, key = marker
    return next(a[key] for c, a in answers if where in c and isinstance(a, dict) and key in a)


def test_every_example_of_the_readme_gives_the_output_it_shows(tmp_path: Path) -> None:
    assert {why for when, why in LATER.items() if datetime.now(UTC) >= when} == set()
    found = examples((ROOT / "README.md").read_text(), SECTIONS)
    assert len(found) > 40 and sum(len(e.outputs) for e in found) > 12
    port = _free_port()
    (tmp_path / "work").mkdir()
    server = _serve(tmp_path / "data", port)
    walk = Walk(Shell(tmp_path / "work", tmp_path / "data"), f"http://127.0.0.1:{port}")
    try:
        for example in found:
            walk.run(example)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    assert walk.failures == [], "\n".join(walk.failures)


class Walk:
    """The README's commands in order, what they answered, and what did not hold."""

    def __init__(self, shell: Shell, api: str) -> None:
        self.shell = shell
        self.api = api
        self.answers: list[tuple[str, Any]] = []
        self.bound: dict[str, str] = {}  # values the README shows by their first characters
        self.failures: list[str] = []

    def run(self, example: Example) -> None:
        command = example.command.replace(README_API, self.api)
        for shown, value in {**self.bound, **_placeholders(command, self.answers)}.items():
            command = command.replace(shown, value)
        where = f"[{example.section}] {example.command.splitlines()[0]}"
        if example.command.startswith("curl"):
            self._curl(example, command, where)
        elif "=" not in example.command.split()[0]:  # not a variable set
            self._program(example, command, where)
        else:
            self.shell.run(command)

    def _program(self, example: Example, command: str, where: str) -> None:
        done = self.shell.run(command)
        if done.returncode != 0:
            self.failures.append(f"{where}: exit {done.returncode}: {done.stderr}")
        for output in example.outputs:
            if wrong := text_mismatches(output, done.stdout, LOOSE):
                self.failures += [f"{where}: {m}" for m in wrong]
                self.failures.append(f"{where}: the output:\n{done.stdout}")

    def _curl(self, example: Example, command: str, where: str) -> None:
        status, answer = _answer(self.shell.run(command))
        deadline = time.monotonic() + 20
        while status in RETRY and "/v1/audit/" in command and time.monotonic() < deadline:
            time.sleep(0.5)  # the audit log trails the last write: "ask again in a second"
            status, answer = _answer(self.shell.run(command))
        self.answers.append((example.command, answer))
        self.failures += [f"{where}: {m}" for m in _undocumented(example, status, answer)]
        for output in example.outputs:
            assert is_json(output), output
            shown_status, pattern = status_and_pattern(output.replace(README_API, self.api))
            if shown_status is not None and shown_status != status:
                self.failures.append(f"{where}: status {status}, the README shows {shown_status}")
            shown = answer
            if _is_fragment(output) and isinstance(answer, dict) and "standing" in answer:
                shown = answer["standing"]  # a fragment shows the standing a write answers
            if wrong := mismatches(pattern, shown):
                self.failures += [f"{where}: {m}" for m in wrong]
                self.failures.append(f"{where}: the answer: {json.dumps(shown)[:3000]}")
            self.bound |= bindings(pattern, shown)
        self.failures += [f"{where}: {m}" for m in _what_the_text_says(example, self.answers)]
        if "/restrictions/group-photo/lift" in command:  # "a second lift: 409 R24"
            status, answer = _answer(self.shell.run(command))
            if (status, _rule(answer)) != (409, "R24"):
                self.failures.append(f"{where}: a second lift answered {status} {answer}")


def _rule(answer: Any) -> str | None:
    return answer.get("rule") if isinstance(answer, dict) else None


def _is_fragment(output: str) -> bool:
    """`# → "status": "lawful", …`: fields shown without their object."""
    return bool(re.match(r"#\s*→?\s*(\d{3}\s+)?\"", output))


def _placeholders(command: str, answers: list[tuple[str, Any]]) -> dict[str, str]:
    return {
        shown: _placeholder(answers, marker)
        for shown, marker in PLACEHOLDERS.items()
        if shown in command
    }


def _undocumented(example: Example, status: int, answer: Any) -> list[str]:
    """A command whose output the README does not show answers 2xx, or the refusal the
    README's text or the test's time explains (REFUSED)."""
    if example.outputs:
        return []
    refused = next((r for key, r in REFUSED.items() if key in example.command), None)
    if refused:
        expected_status, rule = refused
        if (status, _rule(answer)) != (expected_status, rule):
            return [f"answered {status} {answer}, expected {expected_status} {rule}"]
        return []
    return [] if 200 <= status < 400 else [f"answered {status}: {answer}"]


def _what_the_text_says(example: Example, answers: list[tuple[str, Any]]) -> list[str]:
    said = next((s for key, s in SAID.items() if key in example.command), None)
    if said is None:
        return []
    consent = _placeholder(answers, ("/v1/subjects/client-17/consents -H", "event_id"))
    _, pattern = status_and_pattern(said.replace("<consent>", consent))
    return mismatches(pattern, answers[-1][1])


@pytest.mark.parametrize(
    ("shown", "answer", "holds"),
    [
        (
            '# → "status": "lawful", "until": "2027-03-13T23:00:00Z"  (16th)',
            {"status": "lawful", "until": "2027-03-13T23:00:00Z", "x": 1},
            True,
        ),
        ('# → "status": "lawful"', {"status": "lapsed"}, False),
        (
            '# → 409 {"detail": "a verbal consent is not explicit; …"}',
            {"detail": "a verbal consent is not explicit; yes"},
            True,
        ),
        (
            '# → 409 {"detail": "a verbal consent is not explicit; …"}',
            {"detail": "explicit"},
            False,
        ),
        (
            '# {"request_id": "5f0c…", "purposes": ["a", "b"]}',
            {"request_id": "9001-x", "purposes": ["a", "b"]},
            True,
        ),
        ('# {"purposes": ["a", "b"]}', {"purposes": ["a", "b", "c"]}, False),
        (
            '# {"lapsed": [{"purpose": "b"}, …]}',
            {"lapsed": [{"purpose": "a"}, {"purpose": "b"}]},
            True,
        ),
        ('# {"lapsed": [{"purpose": "c"}, …]}', {"lapsed": [{"purpose": "a"}]}, False),
        (
            '# {"identity": {…, "x": "y"}, "recorded": true, …}',
            {"identity": {"x": "y"}, "recorded": True},
            True,
        ),
        (
            '# {"identity": {…, "x": "y"}, "recorded": true, …}',
            {"identity": {"x": "y"}, "recorded": False},
            False,
        ),
    ],
)
def test_a_documented_output_matches_only_answers_holding_its_fields(
    shown: str, answer: dict[str, Any], holds: bool
) -> None:
    _, pattern = status_and_pattern(shown)
    assert (mismatches(pattern, answer) == []) is holds


def test_a_documented_text_output_matches_its_lines_in_order() -> None:
    shown = "#   verified: 4 events, key 84ce…\n#     photo (P): lawful since 2025"
    right = "verified: 4 events, key 1234\n  photo (P): lawful since 2025"
    assert text_mismatches(shown, right, LOOSE) == []
    assert text_mismatches(shown, right.replace("4 events", "5 events"), LOOSE)
    assert text_mismatches(shown, "\n".join(reversed(right.splitlines())), LOOSE)
