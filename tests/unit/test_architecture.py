"""The import graph keeps its shape (the contracts in pyproject.toml, ``[tool.importlinter]``):
no circle at any depth, each layer imports only the layers below it (the commands above the
projector above the ledger; in the ledger HTTP above use cases above commands and reads
above storage above the domain), and the domain imports no I/O library."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_graph_keeps_every_contract():
    # in a process of its own: the linter configures logging for the whole process
    lint = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Contracts: 4 kept, 0 broken." in run.stdout
