"""Subjects' sealing keys on the read side (the audit export carries one on request)."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

import asyncpg

from ..envelope import unwrap_subject_key
from ..persistence.postgres import KEYS_TABLE


async def subject_keys(
    conn: asyncpg.Connection | asyncpg.Pool, subject_ids: Iterable[UUID]
) -> dict[UUID, bytes]:
    rows = await conn.fetch(
        f"SELECT subject_id, key, kek_id FROM {KEYS_TABLE} WHERE subject_id = ANY($1::uuid[]) "
        "AND key IS NOT NULL",
        list(subject_ids),
    )
    return {
        row["subject_id"]: unwrap_subject_key(row["subject_id"], row["kek_id"], bytes(row["key"]))
        for row in rows
    }
