"""R22: after erasure the subject's e-mail address and birth date exist nowhere in the
database — not in the clear, not as sealed bytes any stored key still opens, not as the
e-mail index's keyed hash, not as the request hash of an ``Idempotency-Key`` record, not in a
pending sign-up or a link token. The test proves it can fail: before the erasure the same
searches of the same dump find the canaries (a key opens them; the index and idempotency
records hold their hashes)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

import psycopg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from dump_support import data_dump
from erasure_support import CONTRACT, erased, establish, register_contract

from grondslag.ledger import envelope

from api_support import ANY_VERSION
from audit_support import proof_of

EMAIL = f"canary-{uuid.uuid4().hex[:10]}@erasure.example"
BIRTH = "1931-07-29"
REF = "canary-client"
NEWSLETTER = "newsletter"


def _opened(database_url: str, tenant: str) -> list[bytes]:
    """Every sealed personal record of the tenant's subjects that any stored key opens."""
    with psycopg.connect(database_url) as conn:
        keys = [  # unwrapped with the key-encryption key, which the database does not hold
            envelope.unwrap_subject_key(sid, kek_id, bytes(k))
            for (sid, k, kek_id) in conn.execute(
                "SELECT k.subject_id, k.key, k.kek_id FROM grondslag_subject_keys k "
                "JOIN grondslag_streams s ON s.originator_id = k.subject_id "
                "WHERE s.tenant = %s AND k.key IS NOT NULL",
                (tenant,),
            )
        ]
        rows = conn.execute(
            "SELECT e.originator_id, e.state FROM grondslag_events e JOIN grondslag_streams s "
            "ON s.originator_id = e.originator_id WHERE s.tenant = %s AND s.kind = 'subject'",
            (tenant,),
        ).fetchall()
    plain = []
    for stream, state in rows:
        sealed = json.loads(bytes(state)).get("sealed_personal_data")
        if not sealed:
            continue
        raw = base64.b64decode(sealed)
        for key in keys:
            try:
                plain.append(AESGCM(key).decrypt(raw[1:13], raw[13:], stream.bytes))
            except InvalidTag:
                continue
    return plain


def _email_hash(database_url: str, tenant: str) -> str:
    with psycopg.connect(database_url) as conn:
        (wrapped, kek_id) = conn.execute(
            "SELECT secret, kek_id FROM grondslag_tenant_secrets WHERE tenant = %s AND key_id = 1",
            (tenant,),
        ).fetchone()
    secret = envelope.active().unwrap(kek_id, bytes(wrapped), envelope.tenant_context(tenant, 1))
    return hmac.new(secret, EMAIL.encode(), hashlib.sha256).hexdigest()


def _traces(database_url: str, tenant: str, request_hashes: list[str]) -> dict[str, Any]:
    """Where the canaries are found: in the dump's text, as a hash, or opened by a key."""
    dump = data_dump(database_url)
    opened = b"\n".join(_opened(database_url, tenant))
    return {
        "email in the clear": EMAIL in dump,
        "birth date in the clear": BIRTH in dump,
        "email index hash": _email_hash(database_url, tenant) in dump,
        "idempotency request hashes": [h for h in request_hashes if h in dump],
        "sealed email a key opens": EMAIL.encode() in opened,
        "sealed birth date a key opens": BIRTH.encode() in opened,
    }


def _keyed(tenant: Any, method: str, path: str, body: dict[str, Any], key: str) -> str:
    """Send ``body`` under an Idempotency-Key; the request hash its record holds (hex)."""
    raw = json.dumps(body).encode()
    response = tenant.call(
        method,
        path,
        content=raw,
        headers={"Idempotency-Key": key, "Content-Type": "application/json"},
    )
    assert response.status_code in (200, 201), response.text
    return hashlib.sha256(b"\x1f".join([method.encode(), path.encode(), b"", raw])).hexdigest()


def test_r22_canary_email_and_birth_date_are_nowhere_after_erasure(tenant, database_url):
    tenant.register_purpose(NEWSLETTER, title="Nieuwsbrief")
    register_contract(tenant)
    hashes = [
        _keyed(tenant, "PUT", f"/v1/subjects/{REF}", {"birth_date": BIRTH, "email": EMAIL}, "k1"),
        _keyed(
            tenant,
            "POST",
            "/v1/newsletter/signups",
            {"purpose": NEWSLETTER, "email": EMAIL, "subject_ref": REF},
            "k2",
        ),
    ]
    link = tenant.call(
        "POST", f"/v1/subjects/{REF}/unsubscribe-links", json={"purpose": NEWSLETTER}
    )
    assert link.status_code == 200, link.text
    assert tenant.consent(REF, NEWSLETTER).status_code == 201
    establish(tenant, REF, CONTRACT)  # a contract lets a first erasure keep the birth date

    before = _traces(database_url, tenant.name, hashes)
    assert before == {
        "email in the clear": False,  # sealed from the start
        "birth date in the clear": False,
        "email index hash": True,
        "idempotency request hashes": hashes,
        "sealed email a key opens": True,
        "sealed birth date a key opens": True,
    }

    # a first erasure is held by the contract: the e-mail goes, the birth date is kept,
    # sealed anew under a fresh key (and nothing opens the old records any more)
    response = tenant.call(
        "POST", f"/v1/subjects/{REF}/erasure", json={"recorded_by": "staff:jdevries"}
    )
    assert response.status_code == 409, response.text
    assert response.json()["kept"] == ["birth_date"]
    partly = _traces(database_url, tenant.name, hashes)
    assert partly["sealed email a key opens"] is False
    assert partly["sealed birth date a key opens"] is True
    assert partly["email index hash"] is False and partly["idempotency request hashes"] == []

    tenant.call(
        "POST",
        f"/v1/subjects/{REF}/bases/{CONTRACT}/end",
        json={"reason": "done", "effective_at": "2025-03-01T00:00:00Z"},
    )
    # the retention term (P7Y) still runs: a legal choice of the register; shorten it here
    tenant.call(
        "POST",
        f"/v1/purposes/{CONTRACT}/revisions",
        headers=ANY_VERSION,
        json={"material": False, "destroy_on_request": True},
    )
    done = erased(tenant, REF)
    proof_of(tenant, done["event_id"])  # the projector (read model, audit log) has run
    after = _traces(database_url, tenant.name, hashes)
    assert after == {
        "email in the clear": False,
        "birth date in the clear": False,
        "email index hash": False,
        "idempotency request hashes": [],
        "sealed email a key opens": False,
        "sealed birth date a key opens": False,
    }
    with psycopg.connect(database_url) as conn:
        links = conn.execute(
            "SELECT count(*) FROM grondslag_link_tokens WHERE tenant = %s", (tenant.name,)
        ).fetchone()
        key = conn.execute(
            "SELECT key, destroyed_at FROM grondslag_subject_keys k JOIN grondslag_streams s "
            "ON s.originator_id = k.subject_id WHERE s.tenant = %s AND s.subject_ref = %s",
            (tenant.name, REF),
        ).fetchone()
    assert links == (0,)  # the pending sign-up's confirmation and the unsubscribe link
    assert key[0] is None and key[1] is not None
