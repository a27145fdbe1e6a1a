"""``grondslag migrate [--status]``, and the schema check ``serve`` and ``project`` make
before they start anything (``grondslag.ledger.persistence.migrations``)."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import replace

from grondslag.ledger.settings import Settings

log = logging.getLogger("grondslag")


def migrate(args: argparse.Namespace) -> int:
    """Apply the pending migrations (or with ``--status`` only say where the database
    stands: exit 0 when it is up to date, 1 when migrations are pending)."""
    import psycopg

    from grondslag.ledger.persistence import migrations

    from .embedded import running_database_url
    from .servers import servers

    settings = Settings.from_env()
    if settings.database_url is None:  # the embedded database a running serve uses, or one
        settings = replace(settings, database_url=running_database_url(settings.data_dir))
    with servers(settings, need_nats=False) as settings:
        assert settings.database_url
        try:
            conn = psycopg.connect(settings.database_url, autocommit=True)
        except psycopg.OperationalError as error:
            print(f"grondslag: cannot use the database: {_first_line(error)}", file=sys.stderr)
            return 1
        with conn:
            if args.status:
                now = migrations.status(conn)
                print(now.describe())
                return 1 if now.pending else 0
            applied = migrations.migrate(conn)
            now = migrations.status(conn)
    for step in applied:
        adopted = " (the tables of release 0.1.0 adopted as they were)" if step.adopted else ""
        print(f"applied migration {step.version}: {step.name} in {step.seconds:.3f} s{adopted}")
    print(now.describe())
    return 0


def schema_ready(settings: Settings) -> int:
    """Migrate the database at start (unless ``GRONDSLAG_MIGRATE=false`` or
    ``--no-migrate``): 0, or the exit code of a refusal printed in one line — a database
    behind this release (2), or one that does not answer within a minute or refuses the
    connection (1). A database that is still starting is waited for, as the supervisor's
    restarts waited for it before."""
    import psycopg

    from grondslag.ledger.persistence import migrations

    assert settings.database_url
    deadline = time.monotonic() + DATABASE_START_SECONDS
    while True:
        try:
            migrations.prepare(
                settings.database_url,
                apply=settings.migrate,
                connect_timeout=settings.database_wait_seconds,
            )
            return 0
        except migrations.SchemaBehind as behind:
            print(f"grondslag: {behind}", file=sys.stderr)
            return 2
        except psycopg.OperationalError as error:
            reason = _first_line(error)
            if _lasting(reason) or time.monotonic() > deadline:
                print(f"grondslag: cannot use the database: {reason}", file=sys.stderr)
                return 1
            log.warning("the database does not answer yet (%s); trying again", reason)
            time.sleep(1.0)


DATABASE_START_SECONDS = 60
# what the server says while it is coming up or full; any other refusal (a password, no such
# database or role) does not mend by waiting. (libpq's errors carry no SQLSTATE at connect.)
PASSING = ("starting up", "shutting down", "recovery", "too many")


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else repr(error)


def _lasting(reason: str) -> bool:
    return "FATAL" in reason and not any(word in reason for word in PASSING)


def add_command(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "migrate",
        help="bring the database to this release's schema (serve and project do at start)",
    )
    run.add_argument(
        "--status",
        action="store_true",
        help="only show the database's schema version and this release's; exit 1 if behind",
    )
    run.set_defaults(func=migrate)
