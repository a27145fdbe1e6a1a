"""``grondslag migrate [--status]``, and the schema check ``serve`` and ``project`` make
before they start anything (``grondslag.ledger.persistence.migrations``); an expected
failure is a ``console.Failure``: one line, exit 3."""

from __future__ import annotations

import argparse

from grondslag.ledger.settings import Settings

from .console import Failure


def migrate(args: argparse.Namespace) -> int:
    """Apply the pending migrations (or with ``--status`` only say where the database
    stands: exit 0 when it is up to date, 1 when migrations are pending)."""
    import psycopg

    from grondslag.ledger.persistence import migrations

    from .servers import one_off

    # (the embedded database a running serve uses, or one started for the command)
    with one_off() as settings:
        assert settings.database_url
        try:
            conn = psycopg.connect(settings.database_url, autocommit=True)
        except psycopg.OperationalError as error:
            raise Failure(f"cannot use the database: {_first_line(error)}") from None
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


def schema_ready(settings: Settings) -> None:
    """Migrate the database at start (unless ``GRONDSLAG_MIGRATE=false`` or
    ``--no-migrate``), or refuse in one line, exit 3 (cannot run now): a database behind
    this release, or one that does not answer or refuses the connection."""
    import psycopg

    from grondslag.ledger.persistence import migrations

    assert settings.database_url
    try:
        migrations.prepare(
            settings.database_url,
            apply=settings.migrate,
            connect_timeout=settings.database_wait_seconds,
        )
    except migrations.SchemaBehind as behind:
        raise Failure(str(behind)) from None
    except psycopg.OperationalError as error:
        raise Failure(f"cannot use the database: {_first_line(error)}") from None


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else repr(error)


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
