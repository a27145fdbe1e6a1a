"""An installation from before envelope encryption: its clear keys are wrapped at the first
start, once, even when several processes start at the same moment."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable
from typing import Any

import psycopg

from grondslag.ledger import envelope
from grondslag.ledger.envelope import AesGcmKek, Keyring
from grondslag.ledger.persistence import rewrap

OLD_LAYOUT = """
CREATE TABLE grondslag_subject_keys (
    subject_id uuid PRIMARY KEY, key bytea,
    created_at timestamptz NOT NULL DEFAULT now(), destroyed_at timestamptz
);
CREATE TABLE grondslag_tenant_secrets (
    tenant text NOT NULL, key_id int NOT NULL, secret bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (tenant, key_id)
);
"""


def test_clear_keys_are_wrapped_once_when_processes_start_together(
    new_database: Callable[[str], Any],
) -> None:
    keyring = Keyring([AesGcmKek.generate()])
    subjects = {uuid.uuid4(): os.urandom(32) for _ in range(1200)}  # more than one batch
    erased = uuid.uuid4()
    secrets = {(f"t{i}", 1): os.urandom(32) for i in range(30)}
    with new_database("grondslag_migration") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(OLD_LAYOUT)
            with conn.cursor() as curs:
                curs.executemany(
                    "INSERT INTO grondslag_subject_keys (subject_id, key) VALUES (%s, %s)",
                    list(subjects.items()),
                )
                curs.execute(  # an erased subject: its destroyed key stays NULL
                    "INSERT INTO grondslag_subject_keys (subject_id, key, destroyed_at) "
                    "VALUES (%s, NULL, now())",
                    (erased,),
                )
                curs.executemany(
                    "INSERT INTO grondslag_tenant_secrets (tenant, key_id, secret) "
                    "VALUES (%s, %s, %s)",
                    [(*k, v) for k, v in secrets.items()],
                )
        counts: list[rewrap.Rewrapped] = []
        errors: list[BaseException] = []
        start = threading.Barrier(4)

        def first_start() -> None:
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    start.wait()
                    counts.append(rewrap.migrate(conn, keyring))
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=first_start) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        total = sum(counts, rewrap.Rewrapped())
        assert total == rewrap.Rewrapped(len(subjects), len(secrets))  # each row once
        with psycopg.connect(url) as conn:
            assert rewrap.kek_ids_in_use(conn) == {
                keyring.current.key_id: len(subjects) + len(secrets)
            }
            rows = conn.execute(
                "SELECT subject_id, key, kek_id FROM grondslag_subject_keys"
            ).fetchall()
            stored = conn.execute(
                "SELECT tenant, key_id, secret, kek_id FROM grondslag_tenant_secrets"
            ).fetchall()
    by_id = {sid: (key, kek_id) for sid, key, kek_id in rows}
    assert by_id[erased] == (None, None)
    for sid, plain in subjects.items():
        key, kek_id = by_id[sid]
        assert bytes(key) != plain
        assert keyring.unwrap(kek_id, bytes(key), envelope.subject_context(sid)) == plain
    for tenant, key_id, secret, kek_id in stored:
        context = envelope.tenant_context(tenant, key_id)
        assert keyring.unwrap(kek_id, bytes(secret), context) == secrets[(tenant, key_id)]
