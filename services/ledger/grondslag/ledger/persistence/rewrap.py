"""Wrapping the stored keys: clear keys of an older installation, and a KEK rotation.

Both walk the two tables in batches, each batch its own short transaction holding its rows
(``FOR UPDATE``): writers and readers go on meanwhile (a row is read under whichever KEK it
names, both are in the keyring), and an erasure that destroys a key in the same moment
waits for the batch, or the batch finds the key gone.

On first start (``migrate``) the clear keys are wrapped under the schema lock (``ddl``): of
several processes starting together one wraps them, the others then find none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..envelope import Keyring, subject_context, tenant_context
from .ddl import SCHEMA_LOCK

REWRAP_LOCK = 4711002  # pg_advisory_xact_lock key of a rotation's batches
BATCH = 500

COLUMNS = """
ALTER TABLE IF EXISTS grondslag_subject_keys ADD COLUMN IF NOT EXISTS kek_id text;
ALTER TABLE IF EXISTS grondslag_tenant_secrets ADD COLUMN IF NOT EXISTS kek_id text;
ALTER TABLE IF EXISTS grondslag_tenant_secrets ADD COLUMN IF NOT EXISTS retires_at timestamptz;
"""


@dataclass(frozen=True)
class Rewrapped:
    subject_keys: int = 0
    tenant_secrets: int = 0

    def __add__(self, other: Rewrapped) -> Rewrapped:
        return Rewrapped(
            self.subject_keys + other.subject_keys, self.tenant_secrets + other.tenant_secrets
        )


def _present(curs: Any, table: str) -> bool:
    curs.execute("SELECT to_regclass(%s) IS NOT NULL AS present", (table,))
    row = curs.fetchone()
    return bool(row["present"] if isinstance(row, dict) else row[0])


def _batch(conn: Any, keyring: Keyring, lock: int, where: str, arg: tuple[Any, ...]) -> Rewrapped:
    """One batch of each table whose rows match ``where``, re-wrapped under the newest KEK."""
    subject_keys = tenant_secrets = 0
    with conn.transaction(), conn.cursor() as curs:
        curs.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
        for stmt in COLUMNS.strip().splitlines():
            if lock == SCHEMA_LOCK:
                curs.execute(stmt)
        target = keyring.current
        if _present(curs, "grondslag_subject_keys"):
            curs.execute(
                "SELECT subject_id, key, kek_id FROM grondslag_subject_keys "
                f"WHERE key IS NOT NULL AND {where} ORDER BY subject_id LIMIT {BATCH} "
                "FOR UPDATE",
                arg,
            )
            rows = _rows(curs.fetchall())
            for sid, stored, kek_id in rows:
                context = subject_context(sid)
                plain = keyring.unwrap(kek_id, bytes(stored), context)
                curs.execute(
                    "UPDATE grondslag_subject_keys SET key = %s, kek_id = %s WHERE subject_id = %s",
                    (target.wrap(plain, context), target.key_id, sid),
                )
            subject_keys = len(rows)
        if _present(curs, "grondslag_tenant_secrets"):
            curs.execute(
                "SELECT tenant, key_id, secret, kek_id FROM grondslag_tenant_secrets "
                f"WHERE {where} ORDER BY tenant, key_id LIMIT {BATCH} FOR UPDATE",
                arg,
            )
            secret_rows = _rows(curs.fetchall())
            for tenant, key_id, stored, kek_id in secret_rows:
                context = tenant_context(tenant, key_id)
                plain = keyring.unwrap(kek_id, bytes(stored), context)
                curs.execute(
                    "UPDATE grondslag_tenant_secrets SET secret = %s, kek_id = %s "
                    "WHERE tenant = %s AND key_id = %s",
                    (target.wrap(plain, context), target.key_id, tenant, key_id),
                )
            tenant_secrets = len(secret_rows)
    return Rewrapped(subject_keys, tenant_secrets)


def _rows(rows: list[Any]) -> list[tuple[Any, ...]]:
    return [tuple(r.values()) if isinstance(r, dict) else tuple(r) for r in rows]


def migrate(conn: Any, keyring: Keyring) -> Rewrapped:
    """Add the KEK columns and wrap every clear key (idempotent; safe when processes start
    together). ``conn`` is a psycopg connection in autocommit mode."""
    done = Rewrapped()
    while True:
        step = _batch(conn, keyring, SCHEMA_LOCK, "kek_id IS NULL", ())
        done += step
        if step == Rewrapped():
            return done


def rewrap_all(conn: Any, keyring: Keyring) -> Rewrapped:
    """Re-wrap every stored key not under the keyring's newest KEK (a rotation)."""
    done = Rewrapped()
    while True:
        newest = keyring.current.key_id
        step = _batch(conn, keyring, REWRAP_LOCK, "kek_id IS DISTINCT FROM %s", (newest,))
        done += step
        if step == Rewrapped():
            return done


def kek_ids_in_use(conn: Any) -> dict[str | None, int]:
    """How many stored keys each KEK id wraps (None: clear keys)."""
    found: dict[str | None, int] = {}
    with conn.cursor() as curs:
        for table, column in (
            ("grondslag_subject_keys", "key"),
            ("grondslag_tenant_secrets", "secret"),
        ):
            if not _present(curs, table):
                continue
            curs.execute(
                f"SELECT kek_id, count(*) AS n FROM {table} WHERE {column} IS NOT NULL "
                "GROUP BY kek_id"
            )
            for kek_id, n in _rows(curs.fetchall()):
                found[kek_id] = found.get(kek_id, 0) + n
    return found
