"""``NATS_URL``: one server or a cluster's several, comma-separated, parsed once at start.

A cluster is named the way NATS clients name it, ``nats://a:4222,nats://b:4222`` (spaces
after the commas allowed); each URL may carry its credentials (``nats://user:pass@host:port``,
``nats://token@host:port``). A URL that does not parse is refused when the settings are
read — one line naming ``NATS_URL``, its password hidden — rather than handed to a client
that would retry it for ever.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

SCHEMES = ("nats", "tls", "ws", "wss")
SETTING = "NATS_URL"


def nats_servers(text: str) -> list[str]:
    """The server URLs of ``NATS_URL``, in order, each checked; ``ValueError`` names the
    first that is no ``nats://host:port`` URL (and never its password)."""
    servers = [part.strip() for part in text.split(",") if part.strip()]
    if not servers:
        raise ValueError(f"{SETTING}: {hidden(text)!r} names no server")
    for url in servers:
        _check(url)
    websockets = {urlsplit(url).scheme in ("ws", "wss") for url in servers}
    if len(websockets) > 1:
        raise ValueError(f"{SETTING}: websocket and nats:// URLs cannot be mixed")
    return servers


def _check(url: str) -> None:
    try:
        parts = urlsplit(url)
        named = parts.scheme in SCHEMES and bool(parts.hostname) and parts.path in ("", "/")
        port = parts.port is None or parts.port > 0  # ValueError: no number, or too large
    except ValueError:
        named = port = False
    if not (named and port):
        raise ValueError(f"{SETTING}: {hidden(url)!r} is not a server URL such as nats://host:4222")


def hidden(text: str) -> str:
    """``text`` with the password (``user:***@``) or token (``***@``) of each URL hidden."""
    text = re.sub(r"//([^:@/\s,]+):[^@/\s,]*@", r"//\1:***@", text)
    return re.sub(r"//([^:@/\s,]+)@", r"//***@", text)


def shared_credentials(servers: list[str]) -> dict[str, str]:
    """The one user and password (or token) the URLs name, as ``nats.connect`` options, so
    that every server of the pool is offered them — a URL listed without them, and the
    servers a cluster announces to its clients, which come without any. Several different
    credentials: none here, each URL keeps its own."""
    named = {
        (parts.username, parts.password)
        for parts in map(urlsplit, servers)
        if parts.username is not None or parts.password is not None
    }
    if len(named) != 1:
        return {}
    user, password = named.pop()
    if password is None:
        return {"token": user or ""}
    return {"user": user or "", "password": password}
