"""API keys over the API: an admin lists, creates, revokes and rotates its own tenant's keys
by their public id; last use is visible; keys are stored under a keyed hash."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from grondslag.ledger.keys import revoke_key, rotate_key
from grondslag.ledger.schema import ensure_schema

from api_support import assert_problem


def _row(database_url: str, key_id: str) -> asyncpg.Record:
    async def read() -> asyncpg.Record:
        conn = await asyncpg.connect(database_url)
        try:
            return await conn.fetchrow("SELECT * FROM grondslag_api_keys WHERE key_id = $1", key_id)
        finally:
            await conn.close()

    return asyncio.run(read())


def _key_id(key: str) -> str:
    return key.split("_")[1]


def _create(tenant: Any, *roles: str, key: str | None = None) -> Any:
    response = tenant.call("POST", "/v1/keys", key=key, json={"roles": list(roles)})
    assert response.status_code == 201, response.text
    return response.json()


def test_an_admin_creates_a_key_shown_once_and_listed_without_its_secret(tenant) -> None:
    made = _create(tenant, "reader")
    assert made["tenant"] == tenant.name and made["roles"] == ["reader"]
    assert made["key"].startswith(f"gs_{made['key_id']}_") and len(made["key"]) > 50
    assert tenant.call("GET", "/v1/purposes", key=made["key"]).status_code == 200
    listing = tenant.call("GET", "/v1/keys")
    assert listing.status_code == 200
    ids = [k["key_id"] for k in listing.json()["keys"]]
    assert made["key_id"] in ids and _key_id(tenant.key) in ids
    assert made["key"] not in listing.text and "key_hash" not in listing.text
    one = tenant.call("GET", f"/v1/keys/{made['key_id']}").json()
    assert one["roles"] == ["reader"] and "key" not in one


def test_an_admin_sees_and_manages_only_its_own_tenants_keys(tenant, client, database_url):
    other = type(tenant)(client, database_url)  # another tenant, with its own admin key
    theirs = _create(other, "reader")
    assert theirs["key_id"] not in tenant.call("GET", "/v1/keys").text
    for method, path in [
        ("GET", f"/v1/keys/{theirs['key_id']}"),
        ("POST", f"/v1/keys/{theirs['key_id']}/revocation"),
        ("POST", f"/v1/keys/{theirs['key_id']}/rotation"),
    ]:
        assert_problem(tenant.call(method, path), 404)
    assert other.call("GET", "/v1/purposes", key=theirs["key"]).status_code == 200


def test_only_an_admin_manages_keys_and_never_grants_a_role_it_lacks(tenant) -> None:
    reader = tenant.key_with("reader")
    assert_problem(tenant.call("GET", "/v1/keys", key=reader), 403)
    assert_problem(tenant.call("POST", "/v1/keys", key=reader, json={"roles": ["reader"]}), 403)
    admin_only = tenant.key_with("admin")
    refused = tenant.call("POST", "/v1/keys", key=admin_only, json={"roles": ["writer"]})
    assert_problem(refused, 403)
    assert "writer" in refused.json()["detail"]
    assert _create(tenant, "admin", key=admin_only)["roles"] == ["admin"]
    bad = tenant.call("POST", "/v1/keys", json={"roles": ["root"]})
    assert bad.status_code in (400, 422)
    foreign = {"roles": ["reader"], "tenant": "x"}  # no field names another tenant
    assert tenant.call("POST", "/v1/keys", json=foreign).status_code in (400, 422)


def test_a_revoked_key_stops_at_once_and_the_last_admin_key_cannot_be_revoked(tenant) -> None:
    made = _create(tenant, "writer", "reader")
    assert tenant.call("GET", "/v1/purposes", key=made["key"]).status_code == 200  # remembered
    revoked = tenant.call("POST", f"/v1/keys/{made['key_id']}/revocation")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    # the process that revoked it forgets it at once (others within the cache's ttl)
    assert_problem(tenant.call("GET", "/v1/purposes", key=made["key"]), 401)
    only_admin = _key_id(tenant.key)
    refused = tenant.call("POST", f"/v1/keys/{only_admin}/revocation")
    assert_problem(refused, 409)
    assert "last live admin key" in refused.json()["detail"]
    second = _create(tenant, "admin")
    assert tenant.call("POST", f"/v1/keys/{only_admin}/revocation").status_code == 200
    assert_problem(
        tenant.call("POST", f"/v1/keys/{second['key_id']}/revocation", key=second["key"]), 409
    )


def test_rotation_keeps_tenant_and_roles_and_revokes_the_old_key(tenant) -> None:
    old = _create(tenant, "writer", "reader")
    assert tenant.call("GET", "/v1/purposes", key=old["key"]).status_code == 200  # remembered
    rotated = tenant.call("POST", f"/v1/keys/{old['key_id']}/rotation")
    assert rotated.status_code == 201, rotated.text
    new, replaced = rotated.json()["key"], rotated.json()["replaced"]
    assert new["roles"] == ["reader", "writer"] and new["tenant"] == tenant.name
    assert replaced["key_id"] == old["key_id"] and replaced["replaced_by"] == new["key_id"]
    assert_problem(tenant.call("GET", "/v1/purposes", key=old["key"]), 401)
    assert tenant.call("GET", "/v1/purposes", key=new["key"]).status_code == 200
    assert_problem(tenant.call("POST", f"/v1/keys/{old['key_id']}/rotation"), 404)


def test_rotation_with_grace_lets_the_old_key_work_until_then(tenant) -> None:
    old = _create(tenant, "reader")
    rotated = tenant.call("POST", f"/v1/keys/{old['key_id']}/rotation", json={"grace": "PT1H"})
    assert rotated.status_code == 201, rotated.text
    tenant.client.app.state.key_cache._cache.clear()
    assert tenant.call("GET", "/v1/purposes", key=old["key"]).status_code == 200
    for grace in ["tomorrow", "P31D"]:
        bad = tenant.call("POST", f"/v1/keys/{rotated.json()['key']['key_id']}/rotation",
                          json={"grace": grace})  # fmt: skip
        assert_problem(bad, 422)
        assert bad.json()["field"] == "grace"


def test_a_remembered_key_stops_when_its_grace_ends_not_a_cache_lifetime_later(
    tenant, database_url: str
) -> None:
    old = _create(tenant, "reader")

    async def rotate_with_a_second_of_grace() -> None:
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
        try:
            grace = timedelta(seconds=1)
            assert await rotate_key(pool, old["key_id"], pepper=tenant.pepper, grace=grace)
        finally:
            await pool.close()

    asyncio.run(rotate_with_a_second_of_grace())
    assert tenant.call("GET", "/v1/purposes", key=old["key"]).status_code == 200  # in its grace
    time.sleep(1.5)
    assert_problem(tenant.call("GET", "/v1/purposes", key=old["key"]), 401)


def test_a_revocation_made_elsewhere_takes_effect_within_the_cache_lifetime(
    tenant, database_url: str
) -> None:
    made = _create(tenant, "reader")
    cache = tenant.client.app.state.key_cache
    assert tenant.call("GET", "/v1/purposes", key=made["key"]).status_code == 200  # remembered

    async def revoke_from_another_process() -> None:
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
        try:
            assert await revoke_key(pool, made["key_id"]) is not None
        finally:
            await pool.close()

    asyncio.run(revoke_from_another_process())
    assert tenant.call("GET", "/v1/purposes", key=made["key"]).status_code == 200  # remembered
    entries = [
        entry for entry in cache._cache.values() if entry[1] and entry[1].key_id == made["key_id"]
    ]
    assert entries and entries[0][0] <= time.monotonic() + cache.ttl <= time.monotonic() + 10
    cache._cache = {d: (0.0, p) for d, (_, p) in cache._cache.items()}  # its ttl has passed
    assert_problem(tenant.call("GET", "/v1/purposes", key=made["key"]), 401)


def test_last_use_is_listed_and_written_at_most_once_a_minute(tenant) -> None:
    made = _create(tenant, "reader")
    cache = tenant.client.app.state.key_cache
    assert tenant.client.blocking_portal.call(cache.flush) >= 0  # what came before
    for _ in range(3):
        assert tenant.call("GET", "/v1/purposes", key=made["key"]).status_code == 200
    assert tenant.client.blocking_portal.call(cache.flush) >= 1
    listed = {k["key_id"]: k for k in tenant.call("GET", "/v1/keys").json()["keys"]}
    assert listed[made["key_id"]]["last_used_at"] is not None
    assert tenant.call("GET", "/v1/purposes", key=made["key"]).status_code == 200
    # within the minute, a second use of the same key queues no second write
    assert made["key_id"] not in cache._used


def test_the_stored_hash_is_keyed_and_a_leaked_row_does_not_authenticate(
    tenant, database_url: str
) -> None:
    made = _create(tenant, "reader")
    row = _row(database_url, made["key_id"])
    stored = bytes(row["key_hash"])
    assert row["hash_kind"] == "hmac"
    assert stored != hashlib.sha256(made["key"].encode()).digest()
    assert stored == hmac.new(tenant.pepper, made["key"].encode(), hashlib.sha256).digest()
    for leaked in [stored.hex(), f"gs_{made['key_id']}_{stored.hex()}", row["key_id"]]:
        assert_problem(tenant.call("GET", "/v1/purposes", key=leaked), 401)


def test_an_unsalted_key_of_an_older_installation_works_once_and_is_rehashed(
    tenant, database_url: str
) -> None:
    key = "gs_legacy-" + tenant.name + "-0123456789abcdefghijklmnop"

    async def insert() -> None:
        conn = await asyncpg.connect(database_url)
        try:  # as an older version stored it: no key id, no hash kind
            await conn.execute(
                "INSERT INTO grondslag_api_keys (key_hash, tenant, roles) VALUES ($1, $2, $3)",
                hashlib.sha256(key.encode()).digest(),
                tenant.name,
                ["reader"],
            )
            await ensure_schema(conn)  # the next start names it
        finally:
            await conn.close()

    asyncio.run(insert())
    # named as the events it recorded before name it: 12 hex digits of its unsalted hash
    key_id = hashlib.sha256(key.encode()).digest()[:6].hex()
    assert _row(database_url, key_id)["hash_kind"] == "sha256"
    assert tenant.call("GET", "/v1/purposes", key=key).status_code == 200
    row = _row(database_url, key_id)
    assert row["hash_kind"] == "hmac"
    assert bytes(row["key_hash"]) == hmac.new(tenant.pepper, key.encode(), hashlib.sha256).digest()
    tenant.client.app.state.key_cache._cache.clear()
    assert tenant.call("GET", "/v1/purposes", key=key).status_code == 200  # still, as HMAC


@pytest.mark.parametrize("body", [{"roles": []}, {"roles": ["reader"] * 5}])
def test_a_key_needs_one_to_four_roles(tenant, body) -> None:
    assert tenant.call("POST", "/v1/keys", json=body).status_code in (400, 422)


def test_an_idempotency_key_never_stores_the_answer_holding_a_secret(
    tenant, database_url: str
) -> None:
    headers = {"Idempotency-Key": "make-key-1"}
    first = tenant.call("POST", "/v1/keys", json={"roles": ["reader"]}, headers=headers)
    assert first.status_code == 201

    async def stored() -> int:
        conn = await asyncpg.connect(database_url)
        try:
            return await conn.fetchval(
                "SELECT count(*) FROM grondslag_idempotency WHERE tenant = $1", tenant.name
            )
        finally:
            await conn.close()

    assert asyncio.run(stored()) == 0
