"""The supervisor's own rules on small real processes (no grondslag service): the back-off
doubles to its ceiling and starts over after a long run, every restart is logged and
counted in the restarts file, SIGTERM stops the children and exits 0, a child that
ignores SIGTERM is killed after the stop timeout, and a child that follows its
supervisor stops when the supervisor is SIGKILLed."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from grondslag.supervisor import Backoff, describe_exit, former_workers

ROOT = Path(__file__).resolve().parents[2]


def test_the_back_off_doubles_from_half_a_second_to_thirty() -> None:
    delays = [Backoff().delay(n) for n in range(9)]
    assert delays == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    assert Backoff().delay(10_000) == 30


def test_exits_are_described_by_code_or_signal() -> None:
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(-11) == "killed by SIGSEGV"
    assert describe_exit(1) == "exited with code 1"


def _supervisor(tmp_path: Path, children: str, **options: float) -> subprocess.Popen[str]:
    """A supervisor process of ``children`` (a Python list of ``Child`` expressions)."""
    script = textwrap.dedent(
        f"""
        import logging, sys
        from pathlib import Path
        from grondslag.supervisor import Backoff, Child, Supervisor
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
        py = sys.executable
        supervisor = Supervisor(
            {children},
            restarts_file=Path({str(tmp_path / "restarts.json")!r}),
            backoff=Backoff(initial={options.get("initial", 0.05)},
                            maximum={options.get("maximum", 0.2)},
                            reset_after={options.get("reset_after", 60)}),
            stop_timeout={options.get("stop_timeout", 5)},
        )
        print("ready", flush=True)
        sys.exit(supervisor.run())
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline() == "ready\n"
    return process


def _counts(tmp_path: Path) -> dict[str, int]:
    try:
        processes = json.loads((tmp_path / "restarts.json").read_text())["processes"]
    except (OSError, ValueError):
        return {}
    return {name: entry["restarts"] for name, entry in processes.items()}


def _wait(check, timeout: float = 10) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_crashing_child_is_restarted_with_back_off_and_counted(tmp_path: Path) -> None:
    process = _supervisor(
        tmp_path,
        '[Child("crasher", [py, "-c", "import sys; sys.exit(3)"]),'
        ' Child("steady", [py, "-c", "import time; time.sleep(60)"])]',
        initial=0.1,
        maximum=0.4,
    )
    try:
        _wait(lambda: _counts(tmp_path).get("crasher", 0) >= 5)
        assert _counts(tmp_path)["steady"] == 0
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    delays = [
        float(d)
        for d in re.findall(r"process crasher .* exited with code 3 .* in ([\d.]+) s", output)
    ]
    assert delays[:5] == [0.1, 0.2, 0.4, 0.4, 0.4], output
    assert not (tmp_path / "restarts.json").exists(), "a clean stop removes the counts"


def test_the_back_off_starts_over_after_a_long_run(tmp_path: Path) -> None:
    # up 0.6 s, more than reset_after: every restart waits the initial delay again
    process = _supervisor(
        tmp_path,
        '[Child("slow", [py, "-c", "import time, sys; time.sleep(0.6); sys.exit(1)"])]',
        initial=0.2,
        maximum=5,
        reset_after=0.5,
    )
    try:
        _wait(lambda: _counts(tmp_path).get("slow", 0) >= 3, timeout=15)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    assert re.findall(r"restart \d+ in ([\d.]+) s", output)[:3] == ["0.2"] * 3, output


def test_a_child_that_ignores_sigterm_is_killed_after_the_stop_timeout(tmp_path: Path) -> None:
    handled = tmp_path / "handled"
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"open({str(handled)!r}, 'w').close(); time.sleep(60)"
    )
    process = _supervisor(
        tmp_path, f"[Child('stubborn', [py, '-c', {stubborn!r}])]", stop_timeout=1
    )
    _wait(handled.exists, timeout=30)  # its handler is in place
    child = psutil.Process(process.pid).children()[0]
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    assert 0.9 < time.monotonic() - started < 10
    assert "did not stop; killing it" in output
    assert not child.is_running()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGHUP])
def test_sigint_and_sighup_stop_it_cleanly_too(tmp_path: Path, signum: int) -> None:
    process = _supervisor(tmp_path, '[Child("steady", [py, "-c", "import time; time.sleep(60)"])]')
    _wait(lambda: bool(psutil.Process(process.pid).children()))
    child = psutil.Process(process.pid).children()[0]
    process.send_signal(signum)
    output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    assert not child.is_running()
    assert "restart" not in output


def graceful(handled: Path, stop_seconds: float = 0.5) -> str:
    """A child that takes ``stop_seconds`` to stop after SIGTERM, and says so when it did;
    it leaves the file ``handled`` once its handler is in place, which the test waits for
    (a guessed 0.3 s was too short for Python to start on a loaded machine: the child died
    of the default SIGTERM before it had a handler)."""
    return (
        "import signal, sys, time\n"
        "def stop(*_):\n"
        f"    time.sleep({stop_seconds}); print('stopped gracefully', flush=True); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        f"open({str(handled)!r}, 'w').close()\n"
        "time.sleep(60)\n"
    )


def test_a_hang_up_delivered_twice_at_once_is_one_graceful_stop(tmp_path: Path) -> None:
    """A closed terminal sends SIGHUP to the process group, and ``uv run`` forwards the
    one it got: the same stop twice, which must not escalate to SIGKILL."""
    handled = tmp_path / "handled"
    process = _supervisor(tmp_path, f"[Child('slow', [py, '-c', {graceful(handled)!r}])]")
    _wait(handled.exists, timeout=30)
    process.send_signal(signal.SIGHUP)
    process.send_signal(signal.SIGHUP)
    output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    assert "stopped gracefully" in output and "killing it" not in output, output


def test_a_second_stop_a_second_later_kills_at_once(tmp_path: Path) -> None:
    """A person's second Ctrl-C, while the children are still stopping, means now."""
    handled = tmp_path / "handled"
    slow = graceful(handled, stop_seconds=30)
    process = _supervisor(tmp_path, f"[Child('slow', [py, '-c', {slow!r}])]", stop_timeout=20)
    _wait(handled.exists, timeout=30)
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    time.sleep(1.3)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=20)
    assert "did not stop; killing it" in output, output
    assert time.monotonic() - started < 10


def test_a_child_that_follows_its_supervisor_stops_when_it_is_killed(tmp_path: Path) -> None:
    follower = (
        "import time; from grondslag.supervisor import follow_supervisor; "
        "follow_supervisor(); time.sleep(60)"
    )
    process = _supervisor(tmp_path, f"[Child('follower', [py, '-c', {follower!r}])]")
    _wait(lambda: bool(psutil.Process(process.pid).children()))
    child = psutil.Process(process.pid).children()[0]
    time.sleep(0.5)  # let it ask for the parent-death signal
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=10)

    def gone() -> bool:
        try:
            return child.status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    _wait(gone, timeout=5)


def test_the_api_reads_the_counts_the_supervisor_writes(tmp_path: Path) -> None:
    from grondslag.ledger.reads.operations import process_restarts, prometheus
    from grondslag.supervisor import Child, Supervisor

    counts = tmp_path / "supervisor-8000.json"
    children = [Child("api-1", ["true"]), Child("projector", ["true"], restarts=3)]
    Supervisor(children, restarts_file=counts, about={"tenant": "praktijk-noord"})._write_counts()
    assert process_restarts(counts) == {"api-1": 0, "projector": 3}
    assert json.loads(counts.read_text())["tenant"] == "praktijk-noord"  # for `status`
    assert counts.stat().st_mode & 0o777 == 0o600  # like every file in the data folder
    text = prometheus([], 0, restarts=process_restarts(counts))
    assert 'grondslag_process_restarts_total{process="projector"} 3.0\n' in text
    assert "# TYPE grondslag_process_restarts_total counter" in text
    # not supervised, or the file unreadable: no such metric at all
    counts.write_text("{not json")
    assert process_restarts(counts) is None
    assert process_restarts(None) is None
    assert "grondslag_process_restarts_total" not in prometheus([], 0, restarts=None)


def _left_counts(tmp_path: Path, supervisor: int, **api: int) -> Path:
    counts = tmp_path / "supervisor-8000.json"
    processes = {name: {"restarts": 0, "pid": pid, "last_exit": None} for name, pid in api.items()}
    counts.write_text(json.dumps({"supervisor": supervisor, "processes": processes}))
    return counts


def _gone_pid() -> int:
    """A pid that ran and is gone (a killed supervisor's)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(done.stdout)


def test_a_killed_supervisors_workers_still_running_are_found_by_its_left_counts(
    tmp_path: Path,
) -> None:
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "--fd", "3"])
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = _gone_pid()
        counts = _left_counts(tmp_path, dead, **{"api-1": worker.pid, "api-2": stranger.pid})
        # api-2's pid now belongs to a process that is no API worker: not waited for
        assert former_workers(counts) == [worker.pid]
        # while the supervisor that wrote the file runs, its workers are its own
        assert former_workers(_left_counts(tmp_path, os.getpid(), **{"api-1": worker.pid})) == []
        worker.kill()
        worker.wait()
        assert former_workers(counts) == []
    finally:
        for process in (worker, stranger):
            process.kill()
            process.wait()


def test_no_counts_file_or_an_unreadable_one_names_no_former_worker(tmp_path: Path) -> None:
    assert former_workers(tmp_path / "supervisor-1.json") == []
    (tmp_path / "supervisor-2.json").write_text('{"supervisor": "x"')
    assert former_workers(tmp_path / "supervisor-2.json") == []
    (tmp_path / "supervisor-3.json").write_text('{"supervisor": 1, "processes": []}')
    assert former_workers(tmp_path / "supervisor-3.json") == []
