"""``Idempotency-Key`` on writes: the same key and body answer the first answer again.

A placeholder row is claimed before the write runs, so two concurrent requests with the
same key cannot both record; a refusal (4xx) releases the key so the caller can correct
and retry. Keys are scoped per tenant. If the process dies between recording and storing
the answer, the claim is taken over after ``STALE_CLAIM_SECONDS`` and the request runs
again: the answer of a write that was recorded but never acknowledged is then recomputed,
and the ledger's own rules refuse what would double it (R1, R8, …) or record it again.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec
from litestar.connection import ASGIConnection

from .problems import PROBLEM_JSON, Problem, problem_type

WRITE_METHODS = {"POST", "PUT", "PATCH"}
MAX_KEY_LENGTH = 255
STALE_CLAIM_SECONDS = 120


class IdempotencyMiddleware:
    """Raw ASGI middleware; runs after authentication (it needs the tenant)."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        key = _header(scope, b"idempotency-key")
        principal = scope.get("user")
        if (
            scope["type"] != "http"
            or scope["method"] not in WRITE_METHODS
            or key is None
            or principal is None
        ):
            await self.app(scope, receive, send)
            return
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            await _problem(
                send,
                400,
                "Bad Idempotency-Key",
                f"Idempotency-Key must be 1–{MAX_KEY_LENGTH} printable characters",
            )
            return
        # The route's guards run inside the route, after us: check them first, or a key
        # without the role could replay another key's stored answer.
        await scope["route_handler"].authorize_connection(ASGIConnection(scope))
        body, messages = await _read_body(receive, scope["app"].state.settings.max_body_bytes)
        if body is None:
            await _problem(send, 413, "Request body too large", "the body exceeds the limit")
            return
        digest = hashlib.sha256(
            b"\x1f".join(
                [
                    scope["method"].encode(),
                    scope["path"].encode(),
                    scope.get("query_string", b""),
                    body,
                ]
            )
        ).digest()
        pool = scope["app"].state.pool
        claimed = await pool.fetchval(
            "INSERT INTO grondslag_idempotency (tenant, key, request_hash) VALUES ($1, $2, $3) "
            # a claim left by a process that died mid-request is taken over after a while
            "ON CONFLICT (tenant, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, "
            "created_at = now() WHERE grondslag_idempotency.status IS NULL "
            f"AND grondslag_idempotency.created_at < now() - interval '{STALE_CLAIM_SECONDS} "
            "seconds' RETURNING true",
            principal.tenant,
            key,
            digest,
        )
        if not claimed:
            await _replay(pool, principal.tenant, key, digest, send)
            return
        captured: dict[str, Any] = {"body": b""}

        async def capture(message: Any) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = message.get("headers", [])
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
            await send(message)

        stored = False
        try:
            await self.app(scope, _replayer(messages), capture)
            status = captured.get("status", 500)
            if 200 <= status < 300:
                content_type = dict(captured["headers"]).get(b"content-type", b"").decode()
                await pool.execute(
                    "UPDATE grondslag_idempotency SET status = $3, content_type = $4, body = $5 "
                    "WHERE tenant = $1 AND key = $2",
                    principal.tenant,
                    key,
                    status,
                    content_type,
                    captured["body"],
                )
                stored = True
        finally:
            if not stored:
                await pool.execute(
                    "DELETE FROM grondslag_idempotency WHERE tenant = $1 AND key = $2 "
                    "AND status IS NULL",
                    principal.tenant,
                    key,
                )


async def _replay(pool: Any, tenant: str, key: str, digest: bytes, send: Any) -> None:
    row = await pool.fetchrow(
        "SELECT request_hash, status, content_type, body FROM grondslag_idempotency "
        "WHERE tenant = $1 AND key = $2",
        tenant,
        key,
    )
    if row is None or row["status"] is None:
        await _problem(
            send,
            409,
            "Request in progress",
            "a request with this Idempotency-Key is still being processed; retry later",
        )
    elif bytes(row["request_hash"]) != digest:
        await _problem(
            send,
            422,
            "Idempotency-Key reused",
            "this Idempotency-Key was used for a different request",
        )
    else:
        headers = [
            (b"content-type", row["content_type"].encode()),
            (b"idempotent-replayed", b"true"),
        ]
        await send({"type": "http.response.start", "status": row["status"], "headers": headers})
        await send({"type": "http.response.body", "body": bytes(row["body"])})


def _header(scope: Any, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1").strip()
    return None


async def _read_body(receive: Any, limit: int) -> tuple[bytes | None, list[Any]]:
    messages, chunks, size = [], [], 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > limit:
            return None, messages
        if not message.get("more_body", False):
            break
    return b"".join(chunks), messages


def _replayer(messages: list[Any]) -> Any:
    queue = list(messages)

    async def receive() -> Any:
        if queue:
            return queue.pop(0)
        return {"type": "http.disconnect"}

    return receive


async def _problem(send: Any, status: int, title: str, detail: str) -> None:
    body = msgspec.json.encode(
        Problem(
            type=problem_type("idempotency"),
            title=title,
            status=status,
            detail=detail,
            field="Idempotency-Key",
        )
    )
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", PROBLEM_JSON.encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
