"""Supervision of what ``grondslag serve`` runs: each part a child process, started again
when it exits unexpectedly, and nothing left running when the supervisor itself dies.

``grondslag serve`` (also with ``--workers 1``) is the supervisor. It binds the listening
socket, owns the embedded PostgreSQL and nats-server when those are used, and runs::

    serve                 the supervisor: signals, restarts, the embedded servers
    ├── guardian          stops the embedded servers if the supervisor dies (below)
    ├── api-1 … api-N     grondslag serve --no-supervisor --no-projector --fd F
    └── projector         grondslag project

The API workers share the supervisor's listening socket (inherited as fd ``F``): while one
is down the others take its connections, and with a single worker the kernel queues them
until it is back.

**Restarts.** A child that exits while the supervisor did not ask it to — a crash, SIGKILL,
SIGSEGV, the OOM killer, any exit code — is started again after a back-off that begins at
0.5 s and doubles up to 30 s; a child that had stayed up for 60 s starts again at 0.5 s.
Each exit is logged as a warning naming the process, its pid, its exit code or signal, how
long it ran and the delay. The supervisor counts restarts per process in a small JSON file
in the data folder, ``supervisor-<port>.json`` (written atomically, removed on a clean
stop), whose path it gives its children as ``GRONDSLAG_RESTARTS_FILE``, beside what the
caller said it serves (``about``: ``serve`` puts its tenant there, which ``grondslag
status`` shows from another shell); the API workers read it for
``grondslag_process_restarts_total{process="…"}`` in ``/metrics``. A file, not a table, so
that the count is there when the database is what makes the children crash; and per port,
so that two ``serve`` on one host keep their own.

**Metrics and logs.** The children share one metrics folder, ``metrics-<port>/`` in the
data folder (``PROMETHEUS_MULTIPROC_DIR``, emptied at start), where each API worker writes
its counts for whichever answers a scrape to sum; when a child exits, its live gauges'
files go (``grondslag.ledger.api.http_metrics``). Each child is told its name
(``GRONDSLAG_PROCESS_NAME``) for its log lines (``grondslag.logformat``).

**Stopping.** SIGTERM, SIGINT (Ctrl-C) or SIGHUP make the supervisor send SIGTERM to every
child, wait up to 30 s for them to finish (SIGKILL after that, or at a second signal),
then stop the embedded servers, and exit 0. The children run in process groups of their
own, so a Ctrl-C on the terminal reaches the supervisor alone and the order is kept.

**When the supervisor dies** (SIGKILL, a crash): every child has asked the kernel for
SIGTERM at its parent's death (Linux ``prctl(PR_SET_PDEATHSIG)``; elsewhere a thread that
watches ``os.getppid()``), and so stops cleanly on its own. The embedded PostgreSQL is
not a child (``pg_ctl`` detaches it) and a SIGKILLed process cannot stop anything, so the
supervisor starts a small **guardian** process before the embedded servers: it waits for
the supervisor's death in the same way and then stops the embedded servers of the data
folder (PostgreSQL with a fast shutdown, nats-server with SIGTERM; harder signals when
they do not go). On a clean stop the supervisor stops the servers itself and then the
guardian, which finds nothing left to stop. A ``serve`` started again on the same port
while API workers of the killed one still hold the listening socket (not yet stopped)
waits for them to exit rather than failing "address already in use"
(:func:`bind_after_former_workers`).

Standard library only (the guardian uses ``grondslag.embedded`` when it acts; a restart
after a killed supervisor, psutil).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from . import logformat

__all__ = [
    "Backoff",
    "Child",
    "Supervisor",
    "bind",
    "bind_after_former_workers",
    "die_with_parent",
    "follow_supervisor",
    "guardian",
    "metrics_folder",
    "restarts_file",
    "running",
]

log = logging.getLogger("grondslag.supervisor")

SUPERVISOR_PID = "GRONDSLAG_SUPERVISOR_PID"  # set for the children: the pid to die with
RESTARTS_FILE = "GRONDSLAG_RESTARTS_FILE"  # set for the children: where the counts are
METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"  # set for the children: their metrics, summed
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long to wait before starting a child again."""

    initial: float = 0.5
    maximum: float = 30.0
    reset_after: float = 60.0  # a child up this long starts again at ``initial``

    def delay(self, failures: int) -> float:
        """The wait before the restart that follows ``failures`` short runs in a row."""
        return min(self.maximum, self.initial * 2 ** min(failures, 62))


@dataclass(slots=True)
class Child:
    """One supervised process: what to run, and what became of it."""

    name: str
    argv: Sequence[str]
    pass_fds: tuple[int, ...] = ()
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0  # short runs in a row, for the back-off
    restarts: int = 0
    restart_at: float | None = None  # monotonic time a restart is due
    last_exit: str | None = None


def describe_exit(returncode: int) -> str:
    """``killed by SIGKILL`` or ``exited with code 1``."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"


SAME_STOP_SECONDS = 1.0


def escalates(first_at: float, now: float) -> bool:
    """Whether a stop signal after the first asks for more than a graceful stop (SIGKILL
    now): a person's second Ctrl-C does, but not the same stop delivered twice within a
    second — a closed terminal sends SIGHUP to the whole process group, and ``uv run``
    forwards the one it got as well, which stopped every child with SIGKILL at once."""
    return now - first_at >= SAME_STOP_SECONDS


@dataclass
class Supervisor:
    """Runs ``children`` until SIGTERM/SIGINT/SIGHUP, restarting any that exits.

    ``run`` must be called on the main thread (signals; and ``PR_SET_PDEATHSIG`` follows
    the thread that started a child). ``env`` is added to each child's environment.
    """

    children: list[Child]
    env: dict[str, str] = field(default_factory=dict)
    restarts_file: Path | None = None
    about: dict[str, str] = field(default_factory=dict)  # written beside the counts
    backoff: Backoff = Backoff()
    stop_timeout: float = 30.0
    _stopping: int = field(default=0, init=False)  # stop signals received
    _first_stop_at: float = field(default=0.0, init=False)
    _wakeup: tuple[int, int] | None = field(default=None, init=False)

    def run(self) -> int:
        """Supervise until asked to stop; stop the children; 0."""
        with self._signals():
            for child in self.children:
                self._start(child, time.monotonic())
            self._write_counts()
            while not self._stopping:
                self._wait(self._next_timeout())
                now = time.monotonic()
                for child in self.children:
                    if self._stopping:
                        break
                    if child.process is not None and child.process.poll() is not None:
                        self._exited(child, now)
                        self._write_counts()
                    elif child.restart_at is not None and now >= child.restart_at:
                        child.restarts += 1
                        self._start(child, now)
                        self._write_counts()
            log.info("stopping %s", ", ".join(c.name for c in self.children if c.process))
            self._stop_children()
        if self.restarts_file is not None:
            self.restarts_file.unlink(missing_ok=True)
        return 0

    # -- children -----------------------------------------------------------------------

    def _start(self, child: Child, now: float) -> None:
        child.restart_at = None
        child.started_at = now
        try:
            child.process = subprocess.Popen(
                child.argv,
                env={
                    **os.environ,
                    **self.env,
                    SUPERVISOR_PID: str(os.getpid()),
                    logformat.PROCESS_ENV: child.name,  # the process its log lines name
                },
                pass_fds=child.pass_fds,
                stdin=subprocess.DEVNULL,
                process_group=0,  # the terminal's Ctrl-C reaches the supervisor alone
            )
        except OSError as error:  # e.g. out of memory or processes: try again later
            child.process = None
            self._schedule(child, now, f"could not be started ({error})")
            return
        if child.restarts:
            log.info("%s started again (pid %d)", child.name, child.process.pid)
        else:
            log.info("%s started (pid %d)", child.name, child.process.pid)

    def _exited(self, child: Child, now: float) -> None:
        assert child.process is not None
        pid, how = child.process.pid, describe_exit(child.process.returncode)
        child.process = None
        child.last_exit = how
        self._forget_live_metrics(pid)
        self._schedule(child, now, f"(pid {pid}) {how} after {now - child.started_at:.1f} s")

    def _schedule(self, child: Child, now: float, what: str) -> None:
        if now - child.started_at >= self.backoff.reset_after:
            child.failures = 0
        delay = self.backoff.delay(child.failures)
        child.failures += 1
        child.restart_at = now + delay
        log.warning(
            "process %s %s; restart %d in %.1f s", child.name, what, child.restarts + 1, delay
        )

    def _stop_children(self) -> None:
        running = [c.process for c in self.children if c.process and c.process.poll() is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        deadline, asked = time.monotonic() + self.stop_timeout, self._stopping
        while running := [p for p in running if p.poll() is None]:
            if time.monotonic() > deadline or self._stopping > asked:
                for process in running:
                    log.warning("pid %d did not stop; killing it", process.pid)
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
                for process in running:
                    process.wait()
                break
            self._wait(0.2)
        for child in self.children:
            child.process = None

    # -- waiting and signals ------------------------------------------------------------

    def _next_timeout(self) -> float:
        due = [c.restart_at for c in self.children if c.restart_at is not None]
        return max(0.0, min(due) - time.monotonic()) if due else 5.0

    def _wait(self, timeout: float) -> None:
        """Sleep until a signal (a child's SIGCHLD, a stop) or ``timeout``."""
        assert self._wakeup is not None
        readable, _, _ = select.select([self._wakeup[0]], [], [], timeout)
        if readable:
            with contextlib.suppress(BlockingIOError):
                os.read(self._wakeup[0], 512)

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        def stop(signum: int, frame: FrameType | None) -> None:
            now = time.monotonic()
            if self._stopping and not escalates(self._first_stop_at, now):
                return  # the same stop, delivered twice (see ``escalates``)
            self._stopping += 1
            if self._stopping == 1:
                self._first_stop_at = now
                log.info("received %s", signal.Signals(signum).name)

        read, write = os.pipe()
        os.set_blocking(read, False)
        os.set_blocking(write, False)
        self._wakeup = (read, write)
        previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
        previous[signal.SIGCHLD] = signal.signal(signal.SIGCHLD, lambda *_: None)
        old_fd = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        try:
            yield
        finally:
            signal.set_wakeup_fd(old_fd)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            os.close(read)
            os.close(write)
            self._wakeup = None

    def _forget_live_metrics(self, pid: int) -> None:
        """A dead worker's process metrics go with it (prometheus_client's
        ``mark_process_dead``: its live gauges' files); its counts stay, summed."""
        folder = self.env.get(METRICS_DIR)
        if folder:
            for path in Path(folder).glob(f"gauge_live*_{pid}.db"):
                path.unlink(missing_ok=True)

    # -- the restart counts -------------------------------------------------------------

    def _write_counts(self) -> None:
        """``{"supervisor": pid, **about, "processes": {name: {"restarts", "pid",
        "last_exit"}}}``."""
        if self.restarts_file is None:
            return
        processes = {
            c.name: {
                "restarts": c.restarts,
                "pid": c.process.pid if c.process else None,
                "last_exit": c.last_exit,
            }
            for c in self.children
        }
        text = json.dumps(
            {"supervisor": os.getpid(), **self.about, "processes": processes}, indent=1
        )
        temporary = self.restarts_file.with_name(self.restarts_file.name + ".tmp")
        try:  # 0600, like every file in the data folder
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text + "\n")
            os.replace(temporary, self.restarts_file)
        except OSError as error:  # a full disk must not stop the supervision
            log.warning("could not write %s: %s", self.restarts_file, error)


def metrics_folder(folder: Path) -> Path:
    """The API workers' shared metrics folder (``PROMETHEUS_MULTIPROC_DIR``), emptied: the
    counters of a former supervisor's workers are not this one's (they start at 0 with
    the supervisor, like its restart counts)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for old in folder.glob("*.db"):
        old.unlink(missing_ok=True)
    return folder


def restarts_file(data_dir: Path, port: int) -> Path:
    """The counts file of the supervisor serving ``port`` from ``data_dir``."""
    return data_dir.resolve() / f"supervisor-{port}.json"


def bind(host: str, port: int) -> socket.socket:
    """The socket the API workers share, bound here so that a taken port fails at once;
    the first worker to start makes it listen (and it keeps listening while any process
    holds it, so connections queue while a single worker is started again)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def bind_after_former_workers(
    host: str, port: int, counts: Path, *, wait: float, poll: float = 0.2
) -> socket.socket:
    """:func:`bind`, waiting up to ``wait`` seconds while the port is held by the API
    workers of a killed supervisor of the same data folder and port (``counts``, the file
    it left behind, names them).

    A SIGKILLed supervisor's workers stop on their own (SIGTERM from the kernel), but
    until each has acted on it — one still starting up, or busy, has not — it holds the
    listening socket; a ``serve`` started again at once (by systemd's ``Restart=``, or by
    hand) would exit "address already in use" — and, restarted in a loop, hit systemd's
    start limit — where it should come up as soon as they are gone. A port taken by
    anything else still fails at once.
    """
    deadline, said = time.monotonic() + wait, False
    while True:
        try:
            return bind(host, port)
        except OSError as error:
            holders = former_workers(counts) if error.errno == errno.EADDRINUSE else []
            if not holders or time.monotonic() >= deadline:
                raise
            if not said:
                log.warning(
                    "port %d is held by the API workers of a serve that was killed (pid %s): "
                    "waiting up to %.0f s for them to stop",
                    port, ", ".join(map(str, holders)), wait,
                )  # fmt: skip
                said = True
            time.sleep(poll)


def former_workers(counts: Path) -> list[int]:
    """The pids of the API workers still running that ``counts`` names, when the
    supervisor that wrote it is gone; ``[]`` when it runs, or the file is absent."""
    try:
        state = json.loads(counts.read_text(encoding="utf-8"))
        supervisor = int(state["supervisor"])
        pids = [
            int(child["pid"])
            for name, child in dict(state["processes"]).items()
            if name.startswith("api-") and child.get("pid")
        ]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []
    if running(supervisor):
        return []
    return [pid for pid in pids if running(pid, argument="--fd")]  # (not a pid used again)


def running(pid: int, *, argument: str | None = None) -> bool:
    """Whether ``pid`` is a live process (not a zombie) — with ``argument``, one whose
    command line holds it."""
    import psutil  # (here: the guardian starts on the standard library alone)

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return argument is None or argument in process.cmdline()
    except psutil.Error:
        return False


# -- the parent's death -----------------------------------------------------------------


def _set_pdeathsig(sig: int) -> bool:
    """Ask Linux for ``sig`` when the parent (the thread that started us) dies."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def die_with_parent(parent: int, sig: int = signal.SIGTERM) -> None:
    """Get ``sig`` when process ``parent`` (our parent) dies; at once if it already did."""
    if not _set_pdeathsig(sig):

        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(0.5)
            os.kill(os.getpid(), sig)

        threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    if os.getppid() != parent:  # it died before we asked
        os.kill(os.getpid(), sig)


def follow_supervisor() -> None:
    """In a child of :class:`Supervisor`: stop (SIGTERM) when the supervisor dies."""
    parent = os.environ.pop(SUPERVISOR_PID, None)
    if parent:
        die_with_parent(int(parent))


# -- the guardian of the embedded servers -----------------------------------------------


@contextlib.contextmanager
def guardian(data_dir: Path, *, postgres: bool, nats: bool) -> Iterator[None]:
    """A process that stops the embedded servers of ``data_dir`` if we die meanwhile.

    Enter it before starting the servers and leave it after stopping them.
    """
    if not (postgres or nats):
        yield
        return
    argv = [sys.executable, "-m", "grondslag.supervisor", "guard", str(data_dir.resolve())]
    argv += ["postgres"] * postgres + ["nats"] * nats
    process = subprocess.Popen(
        argv,
        env={**os.environ, SUPERVISOR_PID: str(os.getpid()), logformat.PROCESS_ENV: "guardian"},
        stdin=subprocess.DEVNULL,
        process_group=0,
    )
    try:
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _guard(data_dir: Path, servers: set[str]) -> int:
    """The guardian: wait for SIGTERM (the supervisor's death, or its clean stop), then
    stop whatever embedded server of ``data_dir`` still runs."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    parent = int(os.environ.pop(SUPERVISOR_PID, "0")) or os.getppid()
    if not _set_pdeathsig(signal.SIGTERM):
        log.debug("no PR_SET_PDEATHSIG here; watching the parent's pid")
    while os.getppid() == parent:
        if signal.sigtimedwait({signal.SIGTERM}, 1.0) is not None:
            break
    pid_files = {
        "postgres": data_dir / "postgres" / "postmaster.pid",
        "nats": data_dir / "nats.pid",
    }
    if not any(pid_files[name].exists() for name in servers):
        return 0  # a clean stop: the supervisor stopped them
    from .embedded import stop_left_running

    stop_left_running(data_dir, postgres="postgres" in servers, nats="nats" in servers)
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "guard":
        logformat.configure()
        sys.exit(_guard(Path(sys.argv[2]), set(sys.argv[3:])))
    sys.exit("usage: python -m grondslag.supervisor guard DATA_DIR [postgres] [nats]")
