"""The database and NATS a command uses: the configured ones, else embedded servers.

With no ``DATABASE_URL`` / ``NATS_URL`` in the environment a command starts the embedded
PostgreSQL and NATS under ``GRONDSLAG_DATA_DIR`` (see ``grondslag.embedded``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace

from grondslag.ledger.settings import Settings

from .embedded import embedded_servers
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
