"""A dump of the database alone opens no sealed personal data and mints no link: the
subject keys and link secrets in it are wrapped by a key-encryption key that is not in the
database (``grondslag.ledger.envelope``).

The test reads a real ``pg_dump`` the way an attacker would: it takes the key table's row
of the subject and the tenant's secrets rows out of the dump, and tries them (and every
32-byte window of them) on the sealed bytes of the subject's registration and on the
unsubscribe link's MAC. To show that the test can fail, the same extraction is run on a
dump of the old clear layout (the rows unwrapped in place): there it opens the canary and
mints the link. The first start's migration then wraps the clear rows again.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import psycopg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from dump_support import data_dump

from grondslag.ledger import envelope
from grondslag.ledger.domain.ids import subject_id
from grondslag.ledger.links import _mac, _unb64
from grondslag.ledger.persistence import rewrap

from newsletter_support import register_newsletter, token_of, unsubscribe_path

EMAIL = f"canary-{uuid.uuid4().hex[:10]}@dump.example"
BIRTH = "1929-03-17"
REF = "dump-canary"
JSON = "application/json"


def _table(dump: str, table: str) -> list[dict[str, str]]:
    """The rows of one table in a ``pg_dump`` (COPY text format), by column name."""
    lines = dump.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"COPY public.{table} ("))
    columns = lines[start].split("(", 1)[1].split(")", 1)[0].split(", ")
    rows = []
    for line in lines[start + 1 :]:
        if line == "\\.":
            break
        rows.append(dict(zip(columns, line.split("\t"), strict=True)))
    return rows


def _bytea(field: str) -> bytes:
    assert field.startswith("\\\\x"), field[:10]
    return bytes.fromhex(field[3:])


def _candidates(raw: bytes) -> list[bytes]:
    """What an attacker would try as a 256-bit key: the bytes, and every 32-byte window."""
    return [raw] + [raw[i : i + 32] for i in range(0, max(0, len(raw) - 31))]


def _extract(dump: str, tenant: str, token: str) -> dict[str, Any]:
    """From the dump alone: whether the canary opens, and whether the link's MAC is minted."""
    sid = subject_id(tenant, REF)
    (key_row,) = [r for r in _table(dump, "grondslag_subject_keys") if r["subject_id"] == str(sid)]
    secret_rows = [r for r in _table(dump, "grondslag_tenant_secrets") if r["tenant"] == tenant]
    sealed = []
    for row in _table(dump, "grondslag_events"):
        if row["originator_id"] == str(sid):
            state = json.loads(_bytea(row["state"]))
            if state.get("sealed_personal_data"):
                sealed.append(base64.b64decode(state["sealed_personal_data"]))
    assert sealed, "the registration's sealed bytes are in the dump"
    opened = []
    for key in _candidates(_bytea(key_row["key"])):
        for raw in sealed:
            try:
                opened.append(AESGCM(key).decrypt(raw[1:13], raw[13:], sid.bytes))
            except (InvalidTag, ValueError):
                continue
    key_id, token_id, mac = token.split(".")
    minted = any(
        _mac(secret, "unsubscribe", _unb64(token_id)) == _unb64(mac)
        for row in secret_rows
        if row["key_id"] == key_id
        for secret in _candidates(_bytea(row["secret"]))
    )
    joined = b"\n".join(opened)
    return {
        "kek ids": sorted({key_row["kek_id"], *(r["kek_id"] for r in secret_rows)}),
        "email opens": EMAIL.encode() in joined,
        "birth date opens": BIRTH.encode() in joined,
        "link minted": minted,
    }


def _unwrap_in_place(database_url: str, tenant: str) -> None:
    """Write the old layout back for this tenant's subject and secrets: clear keys."""
    sid = subject_id(tenant, REF)
    keyring = envelope.active()
    with psycopg.connect(database_url) as conn:
        key, kek_id = conn.execute(
            "SELECT key, kek_id FROM grondslag_subject_keys WHERE subject_id = %s", (sid,)
        ).fetchone()
        plain = keyring.unwrap(kek_id, bytes(key), envelope.subject_context(sid))
        conn.execute(
            "UPDATE grondslag_subject_keys SET key = %s, kek_id = NULL WHERE subject_id = %s",
            (plain, sid),
        )
        for key_id, secret, kek in conn.execute(
            "SELECT key_id, secret, kek_id FROM grondslag_tenant_secrets WHERE tenant = %s",
            (tenant,),
        ).fetchall():
            clear = keyring.unwrap(kek, bytes(secret), envelope.tenant_context(tenant, key_id))
            conn.execute(
                "UPDATE grondslag_tenant_secrets SET secret = %s, kek_id = NULL "
                "WHERE tenant = %s AND key_id = %s",
                (clear, tenant, key_id),
            )


def test_a_pg_dump_alone_opens_no_personal_data_and_mints_no_link(tenant, database_url):
    register_newsletter(tenant)
    tenant.put_subject(REF, birth_date=BIRTH, email=EMAIL)
    assert tenant.consent(REF, "newsletter", method="email", explicit=False).status_code == 201
    token = token_of(unsubscribe_path(tenant, REF))
    current = envelope.active().current.key_id

    dump = data_dump(database_url)
    assert EMAIL not in dump and BIRTH not in dump  # sealed, never in the clear
    assert _extract(dump, tenant.name, token) == {
        "kek ids": [current],
        "email opens": False,
        "birth date opens": False,
        "link minted": False,
    }

    # the same extraction on the old clear layout opens everything: the test can fail
    _unwrap_in_place(database_url, tenant.name)
    assert _extract(data_dump(database_url), tenant.name, token) == {
        "kek ids": ["\\N"],
        "email opens": True,
        "birth date opens": True,
        "link minted": True,
    }

    # the first start's migration wraps clear keys; the data and the link still work
    with psycopg.connect(database_url, autocommit=True) as conn:
        done = rewrap.migrate(conn, envelope.active())
        assert done.subject_keys >= 1 and done.tenant_secrets >= 1
        assert rewrap.migrate(conn, envelope.active()) == rewrap.Rewrapped()  # idempotent
    assert _extract(data_dump(database_url), tenant.name, token)["kek ids"] == [current]
    assert _extract(data_dump(database_url), tenant.name, token)["email opens"] is False
    export = tenant.call("GET", f"/v1/subjects/{REF}/export", headers={"Accept": JSON})
    assert export.status_code == 200, export.text
    personal = export.json()["personal_data"]
    assert (personal["birth_date"], personal["email"]) == (BIRTH, EMAIL)
    page = tenant.client.get(f"/u/{token}")
    assert page.status_code == 200, page.text
