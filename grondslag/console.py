"""What the command says to the person at the terminal: the addresses ``serve`` prints at
start (and ``grondslag status`` while it runs), ``--help`` with every default, and one
line, never a traceback, for a failure one can expect.

Exit codes (the README's table)::

    0  done
    1  the command ran and the answer is no: an audit check that differs, a bundle that
       does not verify, no such key, a key still quarantined
    2  bad usage or configuration: an unknown option, a bad value, a setting in the
       environment that does not parse (DATABASE_URL not a PostgreSQL URL), a file given
       that cannot be read
    3  cannot run now: the database or NATS unreachable or refusing, the data folder used
       by another ``serve``, the port taken, a server that would not start
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from grondslag.ledger.settings import Settings

__all__ = [
    "BAD_USAGE",
    "CANNOT_RUN",
    "DefaultsShown",
    "Failure",
    "RunningServe",
    "banner",
    "expected_failure",
    "preflight",
    "redact",
    "running_serve",
    "show_defaults",
]

REFUSED = 1
BAD_USAGE = 2
CANNOT_RUN = 3

DOCS_PATH = "/schema"  # litestar's OpenAPI UI (the app's OpenAPIConfig.path)
AUDITOR_PATH = "/audit"


class Failure(Exception):
    """An expected failure: ``grondslag: <message>`` on stderr and exit ``code``."""

    def __init__(self, message: str, code: int = CANNOT_RUN) -> None:
        super().__init__(message)
        self.code = code


# -- --help -----------------------------------------------------------------------------


class DefaultsShown(argparse.HelpFormatter):
    """Each option's help ends with its default, when it has one worth saying."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" in text
            or "(default" in text
            or default in (None, False, argparse.SUPPRESS, [])
            or not action.option_strings
        ):
            return text
        return f"{text} (default: %(default)s)"


def show_defaults(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``parser`` and every sub-command's parser with :class:`DefaultsShown`."""
    for each in walk(parser):
        each.formatter_class = DefaultsShown
    return parser


def walk(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """``parser`` and the parsers of its sub-commands, depth first."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # (aliases share a parser)
                yield from walk(sub)


# -- expected failures ------------------------------------------------------------------


def expected_failure(error: BaseException) -> tuple[int, str] | None:
    """The exit code and the one line for ``error`` when it is one a person can expect
    (and act on); ``None`` for a fault of the program, which keeps its traceback."""
    if isinstance(error, BaseExceptionGroup):
        found = [expected_failure(e) for e in error.exceptions]
        return found[0] if found and all(found) else None
    if isinstance(error, Failure):
        return error.code, str(error)
    from .embedded import EmbeddedServerError

    if isinstance(error, EmbeddedServerError):
        return CANNOT_RUN, str(error)
    import asyncpg
    import psycopg
    from nats import errors as nats_errors

    if isinstance(error, asyncpg.ClientConfigurationError):
        return BAD_USAGE, f"the database URL: {error}"
    if isinstance(
        error,
        asyncpg.InvalidAuthorizationSpecificationError
        | asyncpg.InvalidPasswordError
        | asyncpg.InvalidCatalogNameError
        | asyncpg.CannotConnectNowError
        | asyncpg.TooManyConnectionsError
        | asyncpg.ConnectionDoesNotExistError
        | psycopg.OperationalError,
    ):
        return CANNOT_RUN, f"the database refused: {_one_line(error)}"
    if isinstance(error, nats_errors.NoServersError | nats_errors.ConnectionClosedError):
        return CANNOT_RUN, f"NATS is unreachable: {_one_line(error)}"
    if isinstance(error, ConnectionError | socket.gaierror | TimeoutError):
        return CANNOT_RUN, f"cannot connect: {_one_line(error)}"
    if isinstance(error, FileNotFoundError | PermissionError | IsADirectoryError):
        where = f" {error.filename}" if error.filename else ""
        return BAD_USAGE, f"cannot open{where}: {error.strerror or error}"
    return None


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return redact(text)


def redact(text: str | None) -> str:
    """URLs in ``text`` with their password (``user:***@``) or NATS token (``***@``)
    hidden."""
    text = re.sub(r"//([^:@/\s]+):[^@/\s]*@", r"//\1:***@", text or "")
    return re.sub(r"(nats|tls|wss?)://([^:@/\s]+)@", r"\1://***@", text)


def settings_from_env() -> Settings:
    """``Settings.from_env()``; a value that does not parse is bad usage, not a traceback."""
    try:
        return Settings.from_env()
    except ValueError as error:
        named = [
            name
            for name, value in os.environ.items()
            if name.startswith("GRONDSLAG_") and _refused({name: value})
        ]
        which = f"{', '.join(named)}: " if named else ""
        raise Failure(
            f"a setting in the environment is not valid: {which}{error}", BAD_USAGE
        ) from None


def _refused(environ: dict[str, str]) -> bool:
    try:
        Settings.from_env(environ)
    except ValueError:
        return True
    return False


def preflight(settings: Settings) -> None:
    """Before ``serve`` starts its processes: the configured ``DATABASE_URL`` and
    ``NATS_URL`` parse, and the database answers, so that a wrong one is one line now
    rather than workers restarted again and again. NATS may be away: the API does without
    it, and the relay sends what waits in the log once it is back."""
    if settings.database_url is not None and not re.match(
        r"postgres(ql)?://", settings.database_url
    ):
        shown = redact(settings.database_url)
        raise Failure(f"DATABASE_URL {shown!r} is not a postgresql:// URL", BAD_USAGE)
    try:
        settings.nats_servers  # noqa: B018 (each URL of a cluster's list parses)
    except ValueError as error:
        raise Failure(str(error), BAD_USAGE) from None
    if settings.database_url is not None:
        asyncio.run(_reach_database(settings.database_url))


async def _reach_database(url: str) -> None:
    import asyncpg

    try:
        conn = await asyncpg.connect(url, timeout=10)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise Failure(f"the database at {redact(url)}: {_one_line(error)}") from None
    await conn.close()


# -- what the ledger holds, shown on a terminal -----------------------------------------

# control characters (C0, DEL, C1) and the marks that reorder text on the screen (bidi)
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with every control character and bidi mark written as its escape (``\\n``,
    ``\\x1b``, ``\\u202e``): what a practice recorded (a ``recorded_by``, a document
    reference) or a bundle holds is printed as one line, and cannot move the cursor, colour
    or clear the auditor's terminal, nor print a line of its own that looks like ours."""
    return _UNPRINTABLE.sub(lambda found: found.group().encode("unicode_escape").decode(), text)


# -- what runs where --------------------------------------------------------------------


def columns(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as lines of columns as wide as their widest cell, two spaces apart (the last
    column as it is)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  ".join([*(c.ljust(w) for c, w in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    ]


def banner(
    settings: Settings,
    api_url: str,
    *,
    embedded_postgres: bool,
    embedded_nats: bool,
    live_keys: int | None = None,
    bootstrap: str | None = None,
) -> str:
    """The lines ``serve`` prints once its servers run, and ``status`` while it does: every
    address (no password), the tenant, and how to get a key. ``bootstrap``: the bootstrap
    key ``live`` or ``revoked`` (what the database says, :func:`keys_seen`), ``None``
    for none; ``live_keys``: how many keys are live, when known."""
    tenant = settings.bootstrap_tenant
    data_dir = settings.data_dir.resolve()
    default = settings.data_dir == Settings().data_dir
    in_folder = "" if default else f"GRONDSLAG_DATA_DIR={data_dir} "
    lines = [
        f"grondslag serves tenant {tenant}",
        f"  API          {api_url}/v1/…",
        f"  API docs     {api_url}{DOCS_PATH}  (OpenAPI: {api_url}{DOCS_PATH}/openapi.json)",
        f"  auditor      {api_url}{AUDITOR_PATH}  (sign in with a key holding only `auditor`)",
    ]
    pg = redact(settings.database_url)
    if embedded_postgres:
        pg += f"  (embedded; password in {data_dir / 'postgres.password'})"
    nats = redact(settings.nats_url).replace("grondslag:***@", "")
    if embedded_nats:
        nats += f"  (embedded; with its credentials: {in_folder}grondslag nats-url)"
    lines += [f"  PostgreSQL   {pg}", f"  NATS         {nats}"]
    if embedded_postgres or embedded_nats:
        lines.append(f"  data folder  {data_dir}")
    make = f"{in_folder}grondslag keys create --tenant {tenant} --role writer --role reader"
    listed = f"`{in_folder}grondslag keys list`"
    if bootstrap == "live":
        lines.append(
            f"  API key      GRONDSLAG_BOOTSTRAP_KEY: tenant {tenant}, every role "
            f"(Authorization: Bearer …); more keys: {make}"
        )
    elif bootstrap == "revoked":
        others = (
            f"{live_keys} live in the database ({listed}); another: {make}"
            if live_keys
            else f"no other key is live, so every call answers 401; make one: {make}"
        )
        lines.append(
            "  API key      GRONDSLAG_BOOTSTRAP_KEY is revoked (it answers 401; it stays "
            f"revoked, unset it): {others}"
        )
    elif live_keys:
        lines.append(f"  API keys     {live_keys} live in the database ({listed}); another: {make}")
    else:
        lines += [
            "  API key      none: GRONDSLAG_BOOTSTRAP_KEY is not set and no key exists yet, so "
            "every call answers 401.",
            f"               Make one while this runs: {make}",
            "               (or start with GRONDSLAG_BOOTSTRAP_KEY=… for a first admin key)",
        ]
    return "\n".join(lines)


async def keys_seen(
    database_url: str, bootstrap_hashes: tuple[bytes, bytes] | None = None
) -> tuple[int, str | None] | None:
    """How many API keys are live, and whether the bootstrap key is ``live``, ``revoked`` or
    not stored (``None``): with ``bootstrap_hashes`` (the keyed and the unsalted hash of
    ``GRONDSLAG_BOOTSTRAP_KEY``) that key's row, else any key made as a bootstrap key.
    ``None`` when that cannot be told (no table yet: no keys)."""
    import asyncpg

    from grondslag.ledger.keys import LIVE, STORED_AS

    try:
        conn = await asyncpg.connect(database_url, timeout=5)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return None
    try:
        live = int(await conn.fetchval(f"SELECT count(*) FROM grondslag_api_keys WHERE {LIVE}"))
        if bootstrap_hashes is None:
            state = await conn.fetchval(
                f"SELECT bool_or({LIVE}) FROM grondslag_api_keys WHERE bootstrap"
            )
        else:
            state = await conn.fetchval(
                f"SELECT bool_or({LIVE}) FROM grondslag_api_keys WHERE {STORED_AS}",
                *bootstrap_hashes,
            )
        return live, None if state is None else "live" if state else "revoked"
    except asyncpg.UndefinedTableError:
        return 0, None
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return None
    finally:
        await conn.close()


class RunningServe(NamedTuple):
    """A ``serve`` supervising in a data folder, as its ``supervisor-<port>.json`` says."""

    pid: int
    port: int
    processes: dict[str, Any]  # name: {"pid", "restarts", "last_exit"}
    tenant: str | None  # the tenant it serves (GRONDSLAG_BOOTSTRAP_TENANT where it started)


def running_serve(data_dir: Path) -> RunningServe | None:
    """The ``serve`` supervising in ``data_dir``; ``None`` when none runs."""
    from .supervisor import running

    for path in sorted(data_dir.resolve().glob("supervisor-*.json")):
        try:
            state = json.loads(path.read_text())
            pid, port = int(state["supervisor"]), int(path.stem.split("-", 1)[1])
        except (OSError, ValueError, KeyError):
            continue
        if running(pid) and pid != os.getpid():
            tenant = state.get("tenant")
            return RunningServe(
                pid, port, dict(state.get("processes") or {}),
                tenant if isinstance(tenant, str) else None,
            )  # fmt: skip
    return None
