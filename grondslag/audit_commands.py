"""``grondslag verify BUNDLE`` (offline), ``grondslag audit check`` (against the store) and
``grondslag audit rotate-key``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from grondslag.ledger.audit.rotation import KeyRotation

from .console import printable

if TYPE_CHECKING:
    from grondslag.ledger.audit.bundle import Bundle
    from grondslag.ledger.domain.evidence import EvidenceRecord


def verify(args: argparse.Namespace) -> int:
    """Verify an export bundle with nothing but the file (and, best, the published key)."""
    from grondslag.ledger.audit.bundle import BundleError, digest
    from grondslag.ledger.audit.bundle import verify as verify_bundle
    from grondslag.ledger.audit.signing import public_key_from_text

    try:
        data = Path(args.bundle).read_bytes()
    except OSError as error:
        print(f"NOT verified: cannot read {args.bundle}: {error.strerror}", file=sys.stderr)
        return 2
    pinned = None
    if args.key:
        named = Path(args.key)
        text = named.read_text() if named.is_file() else args.key
        try:
            pinned = public_key_from_text(text)
        except ValueError as error:
            reason = str(error)
            if not named.is_file() and ("/" in args.key or named.suffix in (".pem", ".pub")):
                reason = f"{args.key}: no such file, nor a key"
            print(f"NOT verified: --key is not an Ed25519 public key: {reason}", file=sys.stderr)
            return 2
    rotations: list[KeyRotation] = []
    if args.key_history:
        if pinned is None:
            print("NOT verified: --key-history needs --key (the key you trust)", file=sys.stderr)
            return 2
        try:
            history = msgspec.json.decode(Path(args.key_history).read_bytes(), type=_History)
        except (OSError, msgspec.DecodeError, msgspec.ValidationError) as error:
            print(f"NOT verified: --key-history: {error}", file=sys.stderr)
            return 2
        rotations = history.rotations
    try:
        result = verify_bundle(data, pinned, rotations)
    except BundleError as error:
        print(printable(f"NOT verified: {error}"), file=sys.stderr)
        return 1
    checkpoint = result.checkpoint
    print(
        printable(
            f"verified: {result.events} events, checkpoint {checkpoint.tenant} tree size "
            f"{checkpoint.tree_size} root {checkpoint.root_hash} issued {checkpoint.issued_at}, "
            f"key {checkpoint.key_id}"
        )
        + (
            ""
            if pinned
            else " (the bundle's own key: compare it with the published key, or pass --key)"
        )
    )
    print(f"bundle sha256 {digest(data)}")
    if args.at:
        return _print_replay(result.bundle, args.at, args.known_at)
    return 0


class _History(msgspec.Struct):
    """What ``grondslag verify --key-history`` reads of ``GET /v1/audit/keys``."""

    rotations: list[KeyRotation]


def rotate_key(_: argparse.Namespace) -> int:
    """Replace the audit signing key: the old key signs the announcement of the new one
    (``audit.rotation``), the new key goes in the key file, the old one beside it; running
    processes sign with the new key from their next checkpoint."""
    from datetime import UTC, datetime, timedelta

    import asyncpg

    from grondslag.ledger.audit import signing, store
    from grondslag.ledger.audit.rotation import sign_rotation

    from .servers import one_off

    async def run(database_url: str, path: Path) -> int:
        conn = await asyncpg.connect(database_url)
        try:
            await store.create_tables(conn)
            old = signing.load_or_create(path)
            await store.register_key(conn, old)
            new = signing.generate()
            # the old key stays in service a moment longer, while the processes signing
            # with it notice the new key file (they look at it before each signature)
            at = datetime.now(UTC) + timedelta(seconds=ROTATION_GRACE_SECONDS)
            rotation = sign_rotation(old, new, at)
            try:
                await store.record_rotation(conn, new, rotation)
            except asyncpg.UniqueViolationError:
                print(f"grondslag: key {old.key_id} was rotated already", file=sys.stderr)
                return 1
            retired = signing.install(path, new)
            for tenant, _, _ in await store.tree_heads(conn):  # checkpoints by the new key
                await store.request_checkpoint(conn, tenant)
        finally:
            await conn.close()
        print(
            f"audit signing key {old.key_id} retired at {rotation.rotated_at}, replaced by "
            f"{new.key_id} (announced in a statement both keys signed: GET /v1/audit/keys). "
            f"The old private key is in {retired}: keep it offline or destroy it; its "
            "public key still verifies what it signed."
        )
        return 0

    with one_off() as settings:
        assert settings.database_url
        return asyncio.run(run(settings.database_url, settings.signing_key_path))


ROTATION_GRACE_SECONDS = 2


@contextlib.contextmanager
def _progress_bar(title: str, unit: str) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr when it is a terminal (``None`` otherwise: what a script or
    a log reads stays the lines it was)."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn(f"[bold]{title}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(title, total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield progress


def _print_replay(bundle: Bundle, at_text: str, known_text: str | None) -> int:
    """What applied at ``--at`` (as known at ``--known-at``, default: everything the bundle
    holds), folded from the verified events alone."""
    from datetime import datetime

    from grondslag.ledger.audit.replay import replay

    try:
        at = datetime.fromisoformat(at_text)
        latest = max(
            [datetime.fromisoformat(e.recorded_at) for e in bundle.events]
            + [datetime.fromisoformat(bundle.exported_at)]
        )
        known_at = datetime.fromisoformat(known_text) if known_text else latest
    except ValueError as error:
        print(f"--at/--known-at: {error}", file=sys.stderr)
        return 2
    if at.tzinfo is None or known_at.tzinfo is None:
        print("--at/--known-at: give an RFC 3339 time with an offset", file=sys.stderr)
        return 2
    replayed = replay(bundle, at, known_at)
    print(f"at {at.isoformat()}, as known at {known_at.isoformat()} (from the verified events):")
    for item in replayed.purposes:
        answer = item.answer
        line = f"  {item.purpose} ({item.title}): {answer.status}"
        if answer.basis:
            line += f" on {answer.basis}"
        if answer.since:
            line += f" since {answer.since.isoformat()}"
        if answer.until:
            line += f" until {answer.until.isoformat()}"
        if answer.reason:
            line += f" (reason: {answer.reason})"
        print(printable(line))  # what was recorded, one line each (``console.printable``)
        for record in item.evidence:
            print(f"    {printable(_describe(record))}")
    if not replayed.purposes:
        print("  no standings in the bundle")
    if not replayed.birth_date_known:
        print(
            "  (the birth date is sealed in this bundle, so the age rules R11–R14 were applied "
            "as for an adult; export with personal_data=true to include the subject's key)"
        )
    return 0


def _describe(r: EvidenceRecord) -> str:
    parts = [f"{r.type} took effect {r.effective_at.isoformat()}"]
    giver = r.given_by
    if giver is not None:
        who = (
            "the subject"
            if giver.party == "subject"
            else (f"{giver.representative_ref} ({giver.capacity})")
        )
        parts.append(f"by {who}")
    for name in ("method", "basis", "reference", "reason"):
        if (value := getattr(r, name)) is not None:
            parts.append(f"{name} {value}")
    if r.explicit:
        parts.append("explicit")
    if r.notice is not None:
        notice = r.notice
        parts.append(f"notice {notice.version} {notice.url} sha256 {notice.sha256}")
    if r.document is not None:
        document = r.document
        parts.append(
            f"document {document.document_ref}"
            + (f" sha256 {document.sha256}" if document.sha256 else "")
        )
    parts.append(
        f"recorded {r.recorded_at.isoformat()}" + (f" by {r.recorded_by}" if r.recorded_by else "")
    )
    parts.append(f"event {r.event_id}")
    return ", ".join(parts)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def audit_check(_: argparse.Namespace) -> int:
    """Recompute every tenant's tree from the store; compare with the log and checkpoints."""
    import asyncpg

    from grondslag.projector.audit_check import check

    from .servers import one_off

    async def run(database_url: str) -> int:
        conn = await asyncpg.connect(database_url)
        try:
            with _progress_bar("audit check", "events") as progress:
                report = await check(conn, progress)
        finally:
            await conn.close()
        for tenant in sorted(report.tenants.values(), key=lambda t: t.tenant):
            status = "DIFFERS" if tenant.problem else "ok"
            print(
                f"{tenant.tenant}: {status} — {_count(tenant.events, 'event')}, "
                f"{_count(tenant.checkpoints, 'checkpoint')} verified, "
                f"{_count(tenant.unlogged, 'event')} not yet in the audit log"
            )
        if report.ok:
            print("audit check: the store matches the audit log and every signed checkpoint")
            return 0
        print(f"audit check FAILED: {report.problems[0]}", file=sys.stderr)
        for problem in report.problems[1:]:
            print(f"  also: {problem}", file=sys.stderr)
        return 1

    with one_off(reads_tables=True) as settings:
        assert settings.database_url
        return asyncio.run(run(settings.database_url))
