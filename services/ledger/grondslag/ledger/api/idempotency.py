"""``Idempotency-Key`` on writes: the same key and body answer the first answer again, and
the command behind them is recorded exactly once — across crashes, concurrent retries and
database outages.

The command's result commits in its events' own transaction (``persistence.idempotency``),
so what committed decides, never a timer: a retry whose key is committed answers the first
answer — the stored HTTP answer, or, when the process died between commit and answer, the
handler run again on the committed result, which records nothing; a retry whose first
request died before it committed simply runs. A refusal (4xx) commits nothing, so the
caller can correct and retry under the same key. Keys are scoped per tenant; a key used
for another method, path, query or body is 422.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec
from litestar.connection import ASGIConnection

from ..persistence.idempotency import CLAIM, RESULTS_TABLE, Claim
from .problems import PROBLEM_JSON, Problem, problem_type

WRITE_METHODS = {"POST", "PUT", "PATCH"}
MAX_KEY_LENGTH = 255
REPLAYED = (b"idempotent-replayed", b"true")

KNOWN = f"""
SELECT a.request_hash AS answered_hash, a.status, a.content_type, a.body, a.location,
       r.request_hash AS committed_hash, r.result
FROM (SELECT $1::text AS tenant, $2::text AS key) q
LEFT JOIN grondslag_idempotency a USING (tenant, key)
LEFT JOIN {RESULTS_TABLE} r USING (tenant, key)
"""
STORE_ANSWER = """
INSERT INTO grondslag_idempotency (tenant, key, request_hash, status, content_type, body,
    subject_ref, location)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (tenant, key) DO UPDATE SET request_hash = EXCLUDED.request_hash,
    status = EXCLUDED.status, content_type = EXCLUDED.content_type, body = EXCLUDED.body,
    subject_ref = EXCLUDED.subject_ref, location = EXCLUDED.location
"""


class IdempotencyMiddleware:
    """Raw ASGI middleware; runs after authentication (it needs the tenant)."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        key = _header(scope, b"idempotency-key")
        principal = scope.get("user")
        if (
            scope["type"] != "http"
            or not takes_key(scope["method"], scope["path"])
            or key is None
            or principal is None
        ):
            await self.app(scope, receive, send)
            return
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            await _problem(
                scope,
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
            await _problem(  # as litestar answers a body too large without a key
                scope, send, 413, "Request body too large", "the body exceeds the limit", about=True
            )
            return
        digest = _request_hash(scope, body)
        pool = scope["app"].state.pool
        known = await pool.fetchrow(KNOWN, principal.tenant, key)
        if known["status"] is not None:  # answered before: the same answer again
            if bytes(known["answered_hash"]) != digest:
                await _reused(scope, send)
                return
            await _send_stored(send, known)
            return
        claim = Claim(principal.tenant, key, digest, subject_ref=_path_subject(scope))
        if known["result"] is not None:  # committed, never answered: answer it now
            if bytes(known["committed_hash"]) != digest:
                await _reused(scope, send)
                return
            claim.replay = bytes(known["result"])
        captured = await self._run(scope, messages, send, claim)
        if 200 <= captured.get("status", 500) < 300:
            headers = dict(captured["headers"])
            content_type = headers.get(b"content-type", b"").decode()
            location = headers[b"location"].decode() if b"location" in headers else None
            await pool.execute(
                STORE_ANSWER,
                principal.tenant,
                key,
                digest,
                captured["status"],
                content_type,
                captured["body"],
                claim.subject_ref or _answered_subject(captured["body"]),
                location,
            )

    async def _run(self, scope: Any, messages: list[Any], send: Any, claim: Claim) -> Any:
        """Run the route with the claim in context; answers the captured response."""
        captured: dict[str, Any] = {"body": b""}

        async def capture(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if claim.replayed:
                    headers.append(REPLAYED)
                message = {**message, "headers": headers}
                captured["status"] = message["status"]
                captured["headers"] = [h for h in headers if h != REPLAYED]
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
            await send(message)

        token = CLAIM.set(claim)
        try:
            await self.app(scope, _replayer(messages), capture)
        finally:
            CLAIM.reset(token)
        return captured


def takes_key(method: str, path: str) -> bool:
    """Whether a request (with an API key) may carry an ``Idempotency-Key``: the writes, but
    not on ``/v1/keys`` — an answer holding a key's secret is never stored."""
    return method in WRITE_METHODS and not path.startswith("/v1/keys")


def _path_subject(scope: Any) -> str | None:
    """The subject a request's path names, so that its erasure finds the record (R22)."""
    ref = (scope.get("path_params") or {}).get("subject_ref")
    return ref if isinstance(ref, str) else None


class _About(msgspec.Struct):
    subject_ref: str | None = None


def _answered_subject(body: bytes) -> str | None:
    """The subject an answer names (a sign-up answers the subject it made), if any."""
    try:
        return msgspec.json.decode(body, type=_About).subject_ref
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def _request_hash(scope: Any, body: bytes) -> bytes:
    parts = [scope["method"].encode(), scope["path"].encode(), scope.get("query_string", b"")]
    return hashlib.sha256(b"\x1f".join([*parts, body])).digest()


async def _reused(scope: Any, send: Any) -> None:
    await _problem(
        scope,
        send,
        422,
        "Idempotency-Key reused",
        "this Idempotency-Key was used for a different request",
    )


async def _send_stored(send: Any, row: Any) -> None:
    headers = [(b"content-type", row["content_type"].encode()), REPLAYED]
    if row["location"] is not None:  # the resource a 201 created, named again
        headers.append((b"location", row["location"].encode()))
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


async def _problem(
    scope: Any, send: Any, status: int, title: str, detail: str, *, about: bool = False
) -> None:
    """A refusal of the key (``about``: of the request, a plain HTTP one)."""
    body = msgspec.json.encode(
        Problem(
            type="about:blank" if about else problem_type("idempotency"),
            title=title,
            status=status,
            detail=detail,
            instance=scope["path"],
            field=None if about else "Idempotency-Key",
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
