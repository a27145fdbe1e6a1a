"""The database and NATS a command uses: the configured ones, else embedded servers.

With no ``DATABASE_URL`` / ``NATS_URL`` in the environment a command starts the embedded
PostgreSQL and NATS under ``GRONDSLAG_DATA_DIR`` (see ``grondslag.embedded``).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import replace

from grondslag.ledger.settings import Settings

from .console import Failure, redact
from .embedded import embedded_servers, has_database, running_database_url, running_nats_url
from .supervisor import guardian


@contextlib.contextmanager
def servers(
    settings: Settings, *, need_nats: bool = True, guarded: bool = False
) -> Iterator[Settings]:
    """The settings with server URLs, starting embedded servers for the ones not given.

    ``guarded``: a guardian process stops those servers should this process be killed
    (``grondslag.supervisor.guardian``).
    """
    want_pg = settings.database_url is None
    want_nats = need_nats and settings.nats_url is None
    if not (want_pg or want_nats):
        yield settings
        return
    with contextlib.ExitStack() as stack:
        if guarded:
            stack.enter_context(guardian(settings.data_dir, postgres=want_pg, nats=want_nats))
        urls = stack.enter_context(
            embedded_servers(settings.data_dir, postgres=want_pg, nats=want_nats)
        )
        yield replace(
            settings,
            database_url=settings.database_url or urls.database_url,
            nats_url=settings.nats_url or urls.nats_url,
        )


@contextlib.contextmanager
def one_off(
    settings: Settings | None = None, *, need_nats: bool = False, reads_tables: bool = False
) -> Iterator[Settings]:
    """The settings of a one-off command (``keys``, ``rebuild``, ``migrate``, ``audit``,
    ``quarantine``, ``backup``): ``DATABASE_URL``, else the embedded database a running
    ``serve`` uses in ``GRONDSLAG_DATA_DIR``, else the embedded servers started for the
    command in that folder.

    Starting them where the folder had no database makes a new, empty one: said in one line
    on stderr, since a ``serve`` running with another data folder never sees it (a key made
    there answers 401 there). Using the database of a folder whose serve is stopped is
    legitimate (that serve uses it at its next start) and is not said.

    ``reads_tables``: the command reads the service's tables and makes none (``audit
    check``, ``rebuild``, ``quarantine``), so a database without them — never migrated, or
    behind this release — is refused in one line, exit 3; in a folder without a database,
    before one is made for nothing.
    """
    settings = settings or Settings.from_env()
    if settings.database_url is None:
        settings = replace(settings, database_url=running_database_url(settings.data_dir))
        if need_nats and settings.nats_url is None:
            settings = replace(settings, nats_url=running_nats_url(settings.data_dir))
    folder = settings.data_dir.expanduser().resolve()
    new = settings.database_url is None and not has_database(folder)
    if new and reads_tables:
        raise Failure(
            f"the database holds no Grondslag schema: there is no database in {folder} (no "
            "`grondslag serve` ran there); run this with the GRONDSLAG_DATA_DIR (or "
            "DATABASE_URL) of the serve you mean, or start `grondslag serve` here first"
        )
    with servers(settings, need_nats=need_nats and settings.database_url is None) as settings:
        if new:  # (its log line alone was easily missed: the command worked, on another store)
            print(
                f"grondslag: no database was in {folder}: made a new one for this command "
                "(a serve running elsewhere uses its own GRONDSLAG_DATA_DIR)",
                file=sys.stderr,
                flush=True,
            )
        if reads_tables:
            assert settings.database_url
            _require_schema(settings.database_url)
        yield settings


def _require_schema(database_url: str) -> None:
    """The database holds this release's tables: one line, exit 3, when it holds none
    (never migrated) or is behind."""
    import psycopg

    from grondslag.ledger.persistence import migrations

    with psycopg.connect(database_url, autocommit=True, connect_timeout=10) as conn:
        now = migrations.status(conn)
    if now.current == 0 and not now.tables:
        raise Failure(
            f"the database at {redact(database_url)} holds no Grondslag schema (it was never "
            "migrated): run `grondslag migrate` on it first (`grondslag serve` does at start), "
            "or point DATABASE_URL or GRONDSLAG_DATA_DIR at the service's database"
        )
    if 0 < now.current < now.wanted:
        raise Failure(str(migrations.SchemaBehind(now)))
