"""``grondslag keys rotate-master`` and ``grondslag keys rotate-links``: the key-encryption
key and the tenants' link secrets (``grondslag.ledger.envelope``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from grondslag.ledger.settings import Settings

from .embedded import running_database_url
from .servers import servers


@contextlib.contextmanager
def _store() -> Iterator[Settings]:
    """``DATABASE_URL``, else the embedded database a running ``serve`` uses, else an
    embedded database started for the command."""
    settings = Settings.from_env()
    if settings.database_url is None:
        settings = replace(settings, database_url=running_database_url(settings.data_dir))
    with servers(settings, need_nats=False) as settings:
        yield settings


def add_commands(keys: Any) -> None:
    """The two commands, as subcommands of ``grondslag keys``."""
    master = keys.add_parser(
        "rotate-master",
        help="a new key-encryption key: re-wraps every stored key, then retires the old one",
    )
    master.add_argument(
        "--settle-seconds",
        type=float,
        default=3.0,
        help="how long running processes get to notice the keyring changed (default 3)",
    )
    master.set_defaults(func=rotate_master)
    links = keys.add_parser(
        "rotate-links",
        help="a new link secret for a tenant; links under the old one work for a grace time",
    )
    links.add_argument("--tenant", required=True, help="the tenant whose link secret rotates")
    links.add_argument(
        "--grace",
        default=None,
        help="how long old links keep working, ISO 8601 (default GRONDSLAG_LINK_KEY_GRACE, P90D)",
    )
    links.set_defaults(func=rotate_links)


def rotate_master(args: argparse.Namespace) -> int:
    import psycopg

    from grondslag.ledger.persistence.rotation import RotationRefused
    from grondslag.ledger.persistence.rotation import rotate_master as rotate

    with _store() as settings:
        assert settings.database_url
        try:
            with psycopg.connect(settings.database_url, autocommit=True) as conn:
                rotate(settings, conn, settle=args.settle_seconds)
        except RotationRefused as refused:
            print(f"grondslag: {refused}", file=sys.stderr)
            return 1
    return 0


def rotate_links(args: argparse.Namespace) -> int:
    import asyncpg

    from grondslag.ledger import envelope, links
    from grondslag.ledger.schema import ensure_schema
    from grondslag.ledger.settings import lead_time
    from grondslag.ledger.tenants import TENANT_RULE, is_tenant

    if not is_tenant(args.tenant):
        print(f"grondslag: a tenant's name is {TENANT_RULE}", file=sys.stderr)
        return 2

    async def run(database_url: str, grace: Any) -> str:
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
        try:
            await ensure_schema(pool)
            key_id, retires_at = await links.rotate(pool, args.tenant, grace)
        finally:
            await pool.close()
        return f"tenant {args.tenant}: new links use key {key_id}; older links work until " + (
            retires_at.isoformat(timespec="seconds") if retires_at else "(none were issued)"
        )

    with _store() as settings:
        assert settings.database_url
        grace = lead_time(args.grace, "--grace") if args.grace else settings.link_key_grace
        envelope.use(settings)
        print(asyncio.run(run(settings.database_url, grace)))
    return 0
