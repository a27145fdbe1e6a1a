"""The OpenAPI document passes a validator integrators use: Redocly CLI's recommended lint,
with no error (its warnings are litestar's own schema composition and a missing licence).

Redocly runs on Node.js from ``tests/node`` (package.json and its lock); ``.ci/run`` installs
Node and ``npm ci``s it, and so does this test when the packages are missing. Without npm the
test fails saying how to install it (it does not skip)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from grondslag import schemas

NODE = Path(__file__).resolve().parents[1] / "node"
QUIET = {"REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true", "CI": "true"}


def redocly() -> Path:
    binary = NODE / "node_modules" / ".bin" / "redocly"
    if not binary.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("Redocly CLI needs Node.js: apt-get install nodejs npm (.ci/run does)")
        subprocess.run(
            [npm, "ci", "--prefix", str(NODE), "--no-audit", "--no-fund"],
            check=True,
            capture_output=True,
        )
    return binary


def lint(document: dict[str, Any], folder: Path) -> list[dict[str, Any]]:
    """Redocly's problems with ``document`` (errors and warnings)."""
    path = folder / "openapi.json"
    path.write_text(json.dumps(document))
    run = subprocess.run(
        [str(redocly()), "lint", str(path), "--format=json", "--extends=recommended"],
        capture_output=True,
        text=True,
        env={**os.environ, **QUIET},
        timeout=120,
        check=False,
    )
    report = json.loads(run.stdout)
    problems: list[dict[str, Any]] = report["problems"]
    assert (run.returncode != 0) == any(p["severity"] == "error" for p in problems), run.stderr
    return problems


def errors(problems: list[dict[str, Any]]) -> list[str]:
    return [
        f"{p['ruleId']}: {p['message']} at {p['location'][0]['pointer']}"
        for p in problems
        if p["severity"] == "error"
    ]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return dict(json.loads(schemas.rendered()[schemas.ROOT / "openapi.json"]))


def test_the_openapi_document_passes_redocly_lint(document: Any, tmp_path: Path) -> None:
    assert errors(lint(document, tmp_path)) == []


def test_redocly_refuses_an_operation_without_security(document: Any, tmp_path: Path) -> None:
    """The fault the document had: no security stated on an operation."""
    del document["paths"]["/v1/purposes"]["get"]["security"]
    found = errors(lint(document, tmp_path))
    assert found and all("security-defined" in e for e in found), found
