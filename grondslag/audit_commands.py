"""``grondslag verify BUNDLE`` (offline) and ``grondslag audit check`` (against the store)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import replace
from pathlib import Path

from ledger.settings import Settings


def verify(args: argparse.Namespace) -> int:
    """Verify an export bundle with nothing but the file (and, best, the published key)."""
    from ledger.audit.bundle import BundleError, digest
    from ledger.audit.bundle import verify as verify_bundle
    from ledger.audit.signing import public_key_from_text

    try:
        data = Path(args.bundle).read_bytes()
    except OSError as error:
        print(f"NOT verified: cannot read {args.bundle}: {error.strerror}", file=sys.stderr)
        return 2
    pinned = None
    if args.key:
        text = Path(args.key).read_text() if Path(args.key).is_file() else args.key
        try:
            pinned = public_key_from_text(text)
        except ValueError as error:
            print(f"NOT verified: --key is not an Ed25519 public key: {error}", file=sys.stderr)
            return 2
    try:
        result = verify_bundle(data, pinned)
    except BundleError as error:
        print(f"NOT verified: {error}", file=sys.stderr)
        return 1
    checkpoint = result.checkpoint
    print(
        f"verified: {result.events} events, checkpoint {checkpoint.tenant} tree size "
        f"{checkpoint.tree_size} root {checkpoint.root_hash} issued {checkpoint.issued_at}, "
        f"key {checkpoint.key_id}"
        + (
            ""
            if pinned
            else " (the bundle's own key: compare it with the published key, or pass --key)"
        )
    )
    print(f"bundle sha256 {digest(data)}")
    return 0


def audit_check(_: argparse.Namespace) -> int:
    """Recompute every tenant's tree from the store; compare with the log and checkpoints."""
    import asyncpg
    from projector.audit_check import check

    from .cli import servers
    from .embedded import running_database_url

    async def run(database_url: str) -> int:
        conn = await asyncpg.connect(database_url)
        try:
            report = await check(conn)
        finally:
            await conn.close()
        for tenant in sorted(report.tenants.values(), key=lambda t: t.tenant):
            status = "DIFFERS" if tenant.problem else "ok"
            print(
                f"{tenant.tenant}: {status} — {tenant.events} events, {tenant.checkpoints} "
                f"checkpoints verified, {tenant.unlogged} events not yet in the audit log"
            )
        if report.ok:
            print("audit check: the store matches the audit log and every signed checkpoint")
            return 0
        print(f"audit check FAILED: {report.problems[0]}", file=sys.stderr)
        for problem in report.problems[1:]:
            print(f"  also: {problem}", file=sys.stderr)
        return 1

    settings = Settings.from_env()
    if settings.database_url is None:
        settings = replace(settings, database_url=running_database_url(settings.data_dir))
    with servers(settings, need_nats=False) as settings:
        assert settings.database_url
        return asyncio.run(run(settings.database_url))
