"""R22 against the clock: a link or an e-mail index entry made for a subject at the instant
of its erasure. The newsletter service reads the subject, finds it not erased, then writes
the row; an erasure that commits in between — or that is running, its key already
destroyed, its deletes not yet done — must not leave a row naming the subject behind. The
row's insert locks the subject's key row, which the erasure updates first
(``links.NOT_ERASED``): it waits for a running erasure and then inserts nothing, and an
erasure that comes after it deletes it."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import asyncpg
import psycopg
from erasure_support import PHOTO, erase, erased

from grondslag.ledger import email_index, links

REF = "client-1"
ROWS = (
    "SELECT (SELECT count(*) FROM grondslag_link_tokens WHERE tenant = %(t)s "
    "AND subject_ref = %(r)s), (SELECT count(*) FROM grondslag_email_index "
    "WHERE tenant = %(t)s AND subject_ref = %(r)s)"
)


def _consented(tenant, ref: str = REF) -> None:
    tenant.register_purpose(PHOTO)
    tenant.put_subject(ref, birth_date="1990-05-01", email="client@example.nl")
    assert tenant.consent(ref, PHOTO).status_code == 201


def _rows(database_url: str, tenant) -> tuple[int, int]:
    """The link tokens and e-mail index entries naming the subject."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(ROWS, {"t": tenant.name, "r": REF}).fetchone()
        assert row is not None
        return row[0], row[1]


async def _on_pool(database_url: str, work: Any) -> Any:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        return await work(pool)
    finally:
        await pool.close()


async def _writes_after_the_check(pool: asyncpg.Pool, tenant: str) -> list[Any]:
    """What the service writes once its check has passed: both links, the index entry."""
    digest = await email_index.email_hash(pool, tenant, "client@example.nl")
    return [
        await links.issue(pool, "unsubscribe", tenant, REF, PHOTO),
        await links.issue(pool, "confirm", tenant, REF, PHOTO),
        await email_index.remember(pool, tenant, digest, REF),
    ]


def test_r22_nothing_names_a_subject_erased_after_the_service_read_it(tenant, database_url):
    """The erasure committed between the service's check and its write: the write makes no
    link and no index entry (and says so, for the service's 409)."""
    _consented(tenant)
    erased(tenant, REF)
    assert _rows(database_url, tenant) == (0, 0)
    written = asyncio.run(_on_pool(database_url, lambda p: _writes_after_the_check(p, tenant.name)))
    assert written == [None, None, False]
    assert _rows(database_url, tenant) == (0, 0)


def test_r22_the_writes_before_an_erasure_still_work_and_the_erasure_deletes_them(
    tenant, database_url
):
    """The guard refuses only erased subjects: before the erasure both links are made and
    the address indexed; the erasure then deletes all three."""
    _consented(tenant)
    written = asyncio.run(_on_pool(database_url, lambda p: _writes_after_the_check(p, tenant.name)))
    assert all(isinstance(token, str) for token in written[:2]) and written[2] is True
    assert _rows(database_url, tenant) == (2, 1)
    erased(tenant, REF)
    assert _rows(database_url, tenant) == (0, 0)


def _waiting_on_a_lock(conn: psycopg.Connection, query_start: str) -> bool:
    return bool(
        conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query LIKE %s",
            (query_start + "%",),
        ).fetchone()[0]  # type: ignore[index]
    )


def _until(condition: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_r22_a_link_made_while_the_erasure_runs_waits_for_it_and_is_not_made(tenant, database_url):
    """The real erasure is held between destroying the key and deleting the links (another
    transaction holds the subject's existing link row); a confirmation link asked for then
    waits for the erasure instead of writing a row the erasure's delete no longer sees, and
    once the erasure committed, makes nothing."""
    _consented(tenant)
    first = asyncio.run(
        _on_pool(database_url, lambda p: links.issue(p, "unsubscribe", tenant.name, REF, PHOTO))
    )
    assert first is not None
    answers: dict[str, Any] = {}
    with (
        psycopg.connect(database_url, autocommit=True) as watch,
        psycopg.connect(database_url) as holder,
    ):
        holder.execute(
            "SELECT 1 FROM grondslag_link_tokens WHERE tenant = %s AND subject_ref = %s FOR UPDATE",
            (tenant.name, REF),
        )
        eraser = threading.Thread(target=lambda: answers.update(erasure=erase(tenant, REF)))
        eraser.start()
        assert _until(lambda: _waiting_on_a_lock(watch, "DELETE FROM grondslag_link_tokens"), 20)

        async def ask_while_erasing(pool: asyncpg.Pool) -> str | None:
            issued = asyncio.ensure_future(links.issue(pool, "confirm", tenant.name, REF, PHOTO))
            waits = await asyncio.to_thread(
                _until, lambda: issued.done() or _waiting_on_a_lock(watch, "INSERT INTO"), 5
            )
            answers["waited"] = waits and not issued.done()
            holder.rollback()  # the erasure goes on and commits
            return await issued

        answers["link"] = asyncio.run(_on_pool(database_url, ask_while_erasing))
        eraser.join(30)
    assert answers["erasure"].status_code == 201, answers["erasure"].text
    assert answers["waited"] is True  # it waited for the erasure …
    assert answers["link"] is None  # … and then made nothing
    assert _rows(database_url, tenant) == (0, 0)


def test_r22_a_link_left_by_an_older_release_answers_its_page(tenant, database_url):
    """A link row naming an erased subject, as an older release could leave when a link was
    issued as the erasure committed: one click on it shows the recipient the page that says
    it is done — an erased subject is sent nothing — not a 409 problem naming the subject,
    and records nothing."""
    _consented(tenant)
    token = asyncio.run(
        _on_pool(database_url, lambda p: links.issue(p, "unsubscribe", tenant.name, REF, PHOTO))
    )
    with psycopg.connect(database_url) as conn:  # kept aside from the erasure's delete
        saved = conn.execute(
            "SELECT token_id, kind, purpose, key_id FROM grondslag_link_tokens "
            "WHERE tenant = %s AND subject_ref = %s",
            (tenant.name, REF),
        ).fetchone()
    erased(tenant, REF)
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO grondslag_link_tokens (token_id, kind, tenant, subject_ref, purpose, "
            "key_id) VALUES (%s, %s, %s, %s, %s, %s)",
            (saved[0], saved[1], tenant.name, REF, saved[2], saved[3]),  # type: ignore[index]
        )
    before = tenant.call("GET", f"/v1/subjects/{REF}/history").json()["events"]
    page = tenant.client.post(f"/u/{token}")
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert REF not in page.text
    assert tenant.call("GET", f"/v1/subjects/{REF}/history").json()["events"] == before
