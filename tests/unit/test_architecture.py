"""The import graph keeps its shape (the contracts in pyproject.toml, ``[tool.importlinter]``):
no circle at any depth, each layer imports only the layers below it (the commands above the
projector above the ledger; in the ledger HTTP above use cases above commands and reads
above storage above the domain), and the domain imports no I/O library."""

from __future__ import annotations

import os
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_graph_keeps_every_contract(capsys):
    here = Path.cwd()
    os.chdir(ROOT)
    try:
        code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True)
    finally:
        os.chdir(here)
    report = capsys.readouterr().out
    assert code == 0, report
    assert "Contracts: 4 kept, 0 broken." in report
