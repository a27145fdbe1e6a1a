"""Building the ledger application on PostgreSQL (for the API, the projector and tools)."""

from __future__ import annotations

from . import envelope
from .application import Ledger
from .persistence import migrations, rewrap
from .persistence.postgres import PostgresKeyStore, eventsourcing_env
from .persistence.warm_up import warm_up
from .settings import Settings


def build_ledger(settings: Settings, pool_size: int | None = None) -> Ledger:
    """The event-sourced application on PostgreSQL, on a database migrated to this
    release's schema (or, with ``settings.migrate`` off, found there: ``SchemaBehind``)."""
    assert settings.database_url, "the CLI starts the embedded database before this"
    migrations.prepare(
        settings.database_url,
        apply=settings.migrate,
        connect_timeout=settings.database_wait_seconds,
    )
    warm_up()  # before the application's threads decode events
    env = eventsourcing_env(
        settings.database_url,
        pool_size or settings.write_pool_size,
        settings.database_wait_seconds,
    )
    keyring = envelope.use(settings)  # the key-encryption keys, never in the database
    ledger = Ledger(env=env)
    datastore = ledger.recorder.datastore  # type: ignore[attr-defined]
    ledger.keys = PostgresKeyStore(datastore)
    with datastore.get_connection() as conn:  # an older installation's clear keys
        rewrap.migrate(conn, keyring)
    return ledger
