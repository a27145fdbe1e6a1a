"""Building the ledger application on PostgreSQL (for the API, the projector and tools)."""

from __future__ import annotations

from .application import Ledger
from .persistence.postgres import PostgresKeyStore, eventsourcing_env
from .persistence.warm_up import warm_up
from .settings import Settings


def build_ledger(settings: Settings, pool_size: int | None = None) -> Ledger:
    """The event-sourced application on PostgreSQL (creates its tables if missing)."""
    assert settings.database_url, "the CLI starts the embedded database before this"
    warm_up()  # before the application's threads decode events
    env = eventsourcing_env(
        settings.database_url,
        pool_size or settings.write_pool_size,
        settings.database_wait_seconds,
    )
    ledger = Ledger(env=env)
    ledger.keys = PostgresKeyStore(ledger.recorder.datastore)  # type: ignore[attr-defined]
    return ledger
