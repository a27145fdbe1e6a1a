"""Who the client is, and how often it may come: forwarded headers are believed only from
the proxies the operator named (``GRONDSLAG_TRUSTED_PROXIES``), and the public links' rate
limit keys on the address that gives — so a forged ``X-Forwarded-For`` from anybody else
changes nothing. A refusal says when to come back (``Retry-After``).

The limit lives in each process's memory: with several processes (``--workers``, replicas)
each counts on its own (see the README's "Proxies and rate limits")."""

from __future__ import annotations

import time
from typing import Any

from litestar.exceptions import TooManyRequestsException
from litestar.middleware.rate_limit import RateLimitConfig, RateLimitMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from ..settings import Settings

# Rate limits per client address apply to the public links only (R20 abuse)
LIMITED_PREFIXES = ("/u/", "/c/")


class RetryingRateLimit(RateLimitMiddleware):
    """Litestar's rate limit (a fixed window of a minute per address) on the public links,
    whose 429 carries ``Retry-After``: the seconds until the window ends. The path is read
    from the scope before anything else: every other request passes at the cost of one
    comparison (litestar's own would build a request and await a test for each)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if str(scope["path"]).startswith(LIMITED_PREFIXES):
            app = scope["litestar_app"]
            request = app.request_class(scope)
            store = self.config.get_store_from_app(app)
            key = self.cache_key_from_request(request)
            async with self._lock:
                cached = await self.retrieve_cached_history(key, store)
                if len(cached.history) >= self.max_requests:
                    wait = max(1, cached.reset - int(time.time()))
                    raise TooManyRequestsException(
                        "too many requests from this address; try again later",
                        headers={"Retry-After": str(wait)},
                    )
                await self.set_cached_history(key=key, cache_object=cached, store=store)
        await self.app(scope, receive, send)


def public_rate_limit(settings: Settings) -> Any:
    """The public links' limit per client address."""
    return RateLimitConfig(
        rate_limit=("minute", settings.public_rate_limit_per_minute),
        set_rate_limit_headers=False,
        middleware_class=RetryingRateLimit,
    ).middleware


def trusted_proxies(settings: Settings) -> list[Any]:
    """The middleware that takes the client's address (and scheme) from ``X-Forwarded-For``
    (``X-Forwarded-Proto``) when — and only when — the connection comes from one of
    ``settings.trusted_proxies``; none when no proxy is trusted (the default). The address
    is the last one in the header that is not itself a trusted proxy (each proxy appends)."""
    if not settings.trusted_proxies:
        return []
    trusted = list(settings.trusted_proxies)

    def forwarded(app: ASGIApp) -> ASGIApp:
        return ProxyHeadersMiddleware(app, trusted_hosts=trusted)  # type: ignore[arg-type,return-value]

    return [forwarded]
