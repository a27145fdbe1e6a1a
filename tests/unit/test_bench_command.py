"""``grondslag bench`` runs the benchmarks of a checkout (``benchmarks/``, beside the
package, not in the wheel) and says so in one line where they are not installed."""

from __future__ import annotations

import importlib
import sys

import pytest

from grondslag import cli


def test_the_benchmarks_import_from_a_checkout() -> None:
    for name in ("common", "loadgen", "service", "projector", "audit", "export", "scale"):
        importlib.import_module(f"benchmarks.{name}")


def test_bench_without_the_benchmarks_says_they_run_from_a_checkout(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [m for m in sys.modules if m == "benchmarks" or m.startswith("benchmarks.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "benchmarks", None)  # as in an installed wheel
    args = cli.parser().parse_args(["bench", "--quick"])
    assert args.func(args) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert "run from a checkout" in err


def test_bench_export_runs_the_access_answer_benchmark(monkeypatch: pytest.MonkeyPatch) -> None:
    import benchmarks.export

    ran: list[bool] = []
    monkeypatch.setattr(benchmarks.export, "main", lambda args: ran.append(args.export) or 0)
    args = cli.parser().parse_args(["bench", "--export", "--quick"])
    assert args.func(args) == 0
    assert ran == [True]
