"""An admin's own tenant's API keys: list, create, revoke, rotate (by key id, never by the
secret). A key never leaves its tenant and never carries a role its maker lacks."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import PermissionDeniedException
from litestar.params import JSONBody

from ..domain.errors import DomainError, InvalidInput, NotFound
from ..keys import KeyInfo, LastAdminKey, NewKey, Role, key_info, list_keys, revoke_key, rotate_key
from ..keys import create_key as store_key
from ..settings import lead_time
from ..web import answers
from .auth import requires
from .positions import reading

KeyId = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{12,16}$")]
MAX_GRACE = timedelta(days=30)


class KeyCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A new key of the caller's tenant with these roles (each one the caller holds)."""

    roles: Annotated[list[Role], msgspec.Meta(min_length=1, max_length=4)]


class KeyRotation(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``grace``: how long the old key keeps working (ISO 8601, e.g. ``P1D``; at most
    30 days; default: it stops at once)."""

    grace: Annotated[str, msgspec.Meta(max_length=20)] | None = None


class KeyList(msgspec.Struct):
    keys: list[KeyInfo]


class Rotated(msgspec.Struct, kw_only=True):
    """The new key (its secret shown this once) and the key it replaces."""

    key: NewKey
    replaced: KeyInfo


def _grace(text: str | None) -> timedelta:
    if text is None:
        return timedelta(0)
    try:
        grace = lead_time(text)
    except ValueError:
        raise InvalidInput(f"grace {text!r} is not a duration such as P1D", field="grace") from None
    if grace > MAX_GRACE:
        raise InvalidInput("grace is at most 30 days (P30D)", field="grace")
    return grace


class KeyController(Controller):
    path = "/v1/keys"
    tags = ["keys"]
    guards = [requires("admin")]

    @get(operation_id="listKeys", summary="This tenant's API keys, with their last use")
    async def list_keys(self, request: Request) -> KeyList:
        return KeyList(await reading(request, list_keys, request.user.tenant))

    @post(
        operation_id="createKey",
        opt=answers(location="/v1/keys/{key_id}"),
        summary="A new API key of this tenant; its secret is answered this once",
    )
    async def create_key(self, request: Request, data: JSONBody[KeyCreate]) -> Response[NewKey]:
        missing = set(data.roles) - request.user.roles
        if missing:
            raise PermissionDeniedException(
                f"a key cannot grant a role its maker lacks: {', '.join(sorted(missing))}"
            )
        state = request.app.state
        new = await store_key(state.pool, request.user.tenant, data.roles, pepper=state.key_pepper)
        return Response(new, status_code=201, headers={"Location": f"/v1/keys/{new.key_id}"})

    @get(
        "/{key_id:str}",
        operation_id="getKey",
        opt=answers(404),
        summary="One API key of this tenant",
    )
    async def get_key(self, request: Request, key_id: KeyId) -> KeyInfo:
        found = await reading(request, key_info, key_id, request.user.tenant)
        if found is None:
            raise NotFound(f"no API key {key_id}")
        return found

    @post(
        "/{key_id:str}/revocation",
        operation_id="revokeKey",
        opt=answers(404, 409),
        status_code=200,
        summary="Revoke an API key of this tenant (409 for its last live admin key)",
    )
    async def revoke(self, request: Request, key_id: KeyId) -> KeyInfo:
        try:
            revoked = await revoke_key(request.app.state.pool, key_id, tenant=request.user.tenant)
        except LastAdminKey:
            raise DomainError(
                f"key {key_id} is this tenant's last live admin key: create another first",
                field="key_id",
            ) from None
        if revoked is None:
            raise NotFound(f"no API key {key_id}")
        request.app.state.key_cache.forget(key_id)  # at once here; elsewhere within its ttl
        return revoked

    @post(
        "/{key_id:str}/rotation",
        operation_id="rotateKey",
        opt=answers(404, location="/v1/keys/{key_id} (the new key)"),
        summary="A new key with the same roles; the old one revoked, at once or after grace",
    )
    async def rotate(
        self,
        request: Request,
        key_id: KeyId,
        data: JSONBody[KeyRotation | None] = None,
    ) -> Response[Rotated]:
        grace = _grace(data.grace if data else None)
        state = request.app.state
        done = await rotate_key(
            state.pool, key_id, pepper=state.key_pepper, tenant=request.user.tenant, grace=grace
        )
        if done is None:
            raise NotFound(f"no live API key {key_id}")
        state.key_cache.forget(key_id)  # its grace (if any) ends by its revocation time
        location = {"Location": f"/v1/keys/{done[0].key_id}"}
        return Response(Rotated(key=done[0], replaced=done[1]), status_code=201, headers=location)
