"""A standing read "now" answered from the read model (``reads.held_standing``) is the
fold's answer byte for byte, with the same entity tag, for every "now" the row says it
holds for — and is refused (the caller folds) once a stream moved on, before the fold
time, and from the first instant the clock alone may change the answer: an expiry, a
16th birthday. Many generated standings: consents expiring and expired, minors before and
after 16, withdrawals, restrictions and lifts, erasures, care purposes between 12 and 16.
"""

from __future__ import annotations

import contextlib
import random
import secrets
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from grondslag.ledger.application import ErasureRequest, Ledger
from grondslag.ledger.domain.errors import InvalidInput, NotFound, RuleViolated
from grondslag.ledger.domain.ids import standing_id
from grondslag.ledger.domain.values import (
    Evidence,
    Notice,
    PersonalData,
    Representation,
    Restriction,
    RestrictionLift,
)
from grondslag.ledger.reads.checks import CURRENT_STANDING_TABLE
from grondslag.ledger.reads.held_standing import held_standing
from grondslag.ledger.reads.standing import AuditedStanding, tagged_standing
from grondslag.projector import current_standing

from projector_support import give, new_tenant, terms, withdraw

PHOTO, CARE = "photo", "youth-care"
SURVEY = "survey"
REGISTER = {
    PHOTO: terms("Foto"),
    CARE: terms("Jeugdhulp", matter="care"),
    SURVEY: terms("Enquête"),
}
TICK = timedelta(microseconds=1)


def _subject(ledger: Ledger, tenant: str, rng: random.Random, now: datetime) -> str:
    """An adult, a child whose 16th birthday is hours or days away or just passed, or one
    between 12 and 16 — most with a parent registered."""
    ref = f"s-{secrets.token_hex(3)}"
    today = now.date()
    born: date | None = rng.choice(
        [
            None,
            date(1980, 5, 1),
            date(today.year - 16, today.month, today.day) + timedelta(days=rng.choice([1, 2])),
            date(today.year - 16, today.month, today.day) - timedelta(days=1),
            date(today.year - 14, 1, 1),
        ]
    )
    ledger.put_subject(tenant, ref, PersonalData(birth_date=born))
    if born is not None and born.year > 2000:
        ledger.register_representative(tenant, ref, _parent(born))
    return ref


def _parent(born: date) -> Representation:
    return Representation(
        representative_ref="parent-1",
        kind="parental_authority",
        valid_from=datetime(born.year, born.month, born.day, tzinfo=UTC),
        evidence=Evidence(document_ref="birth-certificate"),
    )


def _steps(ledger: Ledger, tenant: str, now: datetime) -> list[Callable[[str, str], Any]]:
    """What may happen to a standing; the rules refuse some of them for some subjects."""
    return [
        lambda ref, p: give(ledger, tenant, ref, p),
        lambda ref, p: give(ledger, tenant, ref, p, representative_ref="parent-1"),
        lambda ref, p: give(ledger, tenant, ref, p, expires_at=now + timedelta(hours=3)),
        lambda ref, p: give(
            ledger, tenant, ref, p, effective_at=now - timedelta(days=30), expires_at=now
        ),
        lambda ref, p: withdraw(ledger, tenant, ref, p),
        lambda ref, p: ledger.restrict(
            tenant, ref, p, Restriction(reasons="disputed", effective_at=now)
        ),
        lambda ref, p: ledger.lift_restriction(
            tenant, ref, p, RestrictionLift(reasons="settled", effective_at=now + TICK)
        ),
        lambda ref, p: ledger.erase(tenant, ref, ErasureRequest(recorded_by="staff:x")),
    ]


def _encoded(answer: tuple[Any, str]) -> tuple[bytes, str]:
    """The folded answer as the API renders it, and its tag: what a held read serves."""
    return msgspec.json.encode(answer[0]), answer[1]


def _answer(held: tuple[bytes, str]) -> AuditedStanding:
    return msgspec.json.decode(held[0], type=AuditedStanding)


async def _row(pool: asyncpg.Pool, tenant: str, ref: str, purpose: str) -> Any:
    return await pool.fetchrow(
        f"SELECT answer, answer_from, answer_until FROM {CURRENT_STANDING_TABLE} "
        "WHERE tenant = $1 AND subject_ref = $2 AND purpose = $3",
        tenant,
        ref,
        purpose,
    )


async def test_the_held_answer_is_the_folds_byte_for_byte_until_the_clock_may_change_it(
    ledger: Ledger, pool: asyncpg.Pool
) -> None:
    rng = random.Random(17)
    tenant = new_tenant(ledger, REGISTER)
    now = datetime.now(UTC)
    steps = _steps(ledger, tenant, now)
    standings: list[tuple[str, str]] = []
    teen = f"s-{secrets.token_hex(3)}"  # 14: a care purpose waits for the minor too (R13)
    ledger.put_subject(tenant, teen, PersonalData(birth_date=date(now.year - 14, 1, 1)))
    ledger.register_representative(tenant, teen, _parent(date(now.year - 14, 1, 1)))
    give(ledger, tenant, teen, CARE, representative_ref="parent-1")
    standings.append((teen, CARE))
    for _ in range(60):
        ref = _subject(ledger, tenant, rng, now)
        purpose = rng.choice([PHOTO, CARE, SURVEY])
        for step in rng.sample(steps, rng.randint(1, 4)):
            with contextlib.suppress(RuleViolated, InvalidInput, NotFound):
                step(ref, purpose)  # a rule may refuse it: the standing goes on without it
        standings.append((ref, purpose))
    # from tomorrow the survey rests on a contract, under a new notice (R1, R10)
    notice = Notice(
        version="2026-01", url="https://praktijk.example/privacy/2026-01", sha256="b" * 64
    )
    changes = {"basis": "contract", "notice": notice}
    ledger.revise_purpose(tenant, SURVEY, changes, True, now + timedelta(days=1))
    ids = {standing_id(tenant, ref, purpose) for ref, purpose in standings}
    async with pool.acquire() as conn:
        await current_standing.refresh(conn, ids)

    compared, bounded, differed, statuses = 0, 0, 0, set()
    for ref, purpose in standings:
        row = await _row(pool, tenant, ref, purpose)
        if row is None:
            continue  # every command on it was refused: no standing stream
        assert row["answer"] is not None
        start, until = row["answer_from"], row["answer_until"]
        spanned = [start, start + timedelta(milliseconds=3)] + ([until - TICK] if until else [])
        later = [start + timedelta(hours=h) for h in (3, 50, 24 * 400)] + ([until] if until else [])
        for instant in spanned + later:
            held = await held_standing(pool, tenant, ref, purpose, instant)
            assert held is not None or instant not in spanned, (ref, purpose, instant)
            if held is not None:  # whenever the read model answers, it is the fold's answer
                folded = await tagged_standing(
                    pool, tenant, ref, purpose, instant, instant, instant
                )
                assert held == _encoded(folded), (ref, purpose, instant)
                statuses.add(folded[0].status)
                compared += 1
        assert await held_standing(pool, tenant, ref, purpose, start - TICK) is None
        if until is not None:
            bounded += 1
            before = await tagged_standing(
                pool, tenant, ref, purpose, until - TICK, until - TICK, until - TICK
            )
            after = await tagged_standing(pool, tenant, ref, purpose, until, until, until)
            strip = {"at": None, "known_at": None}
            if msgspec.structs.replace(before[0], **strip) != msgspec.structs.replace(
                after[0], **strip
            ):
                differed += 1
    assert compared >= 60 and statuses >= {"lawful", "lapsed", "restricted", "pending"}, statuses
    # expiries and birthdays bound some answers, and some of them do change there
    assert bounded >= 5 and differed >= 3, (bounded, differed)


async def test_a_stream_that_moved_on_since_the_fold_is_folded_again(
    ledger: Ledger, pool: asyncpg.Pool
) -> None:
    tenant = new_tenant(ledger, REGISTER)
    ref = f"s-{secrets.token_hex(3)}"
    ledger.put_subject(tenant, ref, PersonalData(birth_date=date(1980, 5, 1)))
    give(ledger, tenant, ref, PHOTO)
    sid = standing_id(tenant, ref, PHOTO)
    async with pool.acquire() as conn:
        await current_standing.refresh(conn, {sid})
    now = datetime.now(UTC)
    held = await held_standing(pool, tenant, ref, PHOTO, now)
    assert held is not None and _answer(held).lawful

    withdraw(ledger, tenant, ref, PHOTO)  # the standing's stream moves on
    assert await held_standing(pool, tenant, ref, PHOTO, datetime.now(UTC)) is None
    async with pool.acquire() as conn:
        await current_standing.refresh(conn, {sid})
    held = await held_standing(pool, tenant, ref, PHOTO, datetime.now(UTC))
    assert held is not None and _answer(held).status == "lapsed"

    ledger.put_subject(tenant, ref, PersonalData(birth_date=date(1981, 5, 1)))  # the subject's
    assert await held_standing(pool, tenant, ref, PHOTO, datetime.now(UTC)) is None
    async with pool.acquire() as conn:
        await current_standing.refresh(conn, {sid})
    ledger.revise_purpose(tenant, PHOTO, {"title": "Pasfoto"}, False, now)  # the register's
    assert await held_standing(pool, tenant, ref, PHOTO, datetime.now(UTC)) is None
