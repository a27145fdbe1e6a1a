"""A subject as the rules see it, on the read side: birth date unsealed, representations."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

import asyncpg

from ..domain.subject import Subject, SubjectView
from ..persistence.postgres import KEYS_TABLE
from ..persistence.sealing import unseal


async def subject_keys(
    conn: asyncpg.Connection | asyncpg.Pool, subject_ids: Iterable[UUID]
) -> dict[UUID, bytes]:
    rows = await conn.fetch(
        f"SELECT subject_id, key FROM {KEYS_TABLE} WHERE subject_id = ANY($1::uuid[]) "
        "AND key IS NOT NULL",
        list(subject_ids),
    )
    return {row["subject_id"]: bytes(row["key"]) for row in rows}


def view_of(subject: Subject, key: bytes | None, known_at: datetime) -> SubjectView:
    sealed = subject.sealed_as_of(known_at)
    personal = unseal(key, subject.id, sealed) if sealed else None
    return subject.view(personal.birth_date if personal else None, known_at)
