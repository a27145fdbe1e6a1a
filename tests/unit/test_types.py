"""Types cannot rot: mypy, run as pyproject.toml configures it (strict on the domain),
finds no error."""

from __future__ import annotations

from pathlib import Path

import mypy.api
import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_mypy_as_configured_finds_no_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the configured files and search path are relative to the root
    report, errors, status = mypy.api.run(["--config-file", str(ROOT / "pyproject.toml")])
    assert status == 0, report + errors
    assert "Success: no issues found" in report, report
