"""Who recorded an event (NEN 7513): the actor, stamped into the event's stored state.

Every command runs on behalf of someone: an API key (the bearer middleware names it in
the ``ACTOR`` context variable), a clock of the projector (``system:deadline-clock``), or
a recipient following a mail's link (``public:unsubscribe-link``, naming the link's token
id, never the token). ``Ledger._commit`` stamps the actor of the running command onto each
new event, in the command's own thread — a shared transaction (``group_commit``) is
written by whichever command leads it, so the mapper cannot read the context itself. The
mapper writes the actor as the member ``actor`` of the stored state, and so it is in the
canonical bytes the audit log hashes: provable like the event. Events recorded before
actors existed have no such member, and their bytes are unchanged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any

import msgspec

from ..keys import Principal

STATE_MEMBER = "actor"  # the stored state's member holding the actor
_ATTRIBUTE = "_grondslag_actor"  # where a domain event carries it (not one of its fields)
DEADLINE_CLOCK = "system:deadline-clock"
REQUEST_CLOCK = "system:request-clock"
UNSUBSCRIBE_LINK = "public:unsubscribe-link"
CONFIRMATION_LINK = "public:confirmation-link"


class Actor(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Who recorded an event, or read a subject's personal data.

    ``id`` is ``key:<key id>`` for an API key, ``system:<name>`` for one of the service's
    own clocks, ``public:<link kind>`` for a mail's link (then ``link`` is its token id)."""

    id: str
    tenant: str
    roles: tuple[str, ...] = ()
    link: str | None = None


ACTOR: ContextVar[Actor | None] = ContextVar("grondslag_actor", default=None)


def key_actor(principal: Principal) -> Actor:
    """The actor of an API key. Its id is the one place that says how a key is named."""
    return Actor(
        id=f"key:{principal.key_id}", tenant=principal.tenant, roles=tuple(sorted(principal.roles))
    )


def system_actor(name: str, tenant: str) -> Actor:
    return Actor(id=name, tenant=tenant)


def link_actor(name: str, tenant: str, token_id: bytes) -> Actor:
    return Actor(id=name, tenant=tenant, link=token_id.hex())


@contextlib.contextmanager
def acting(actor: Actor) -> Iterator[None]:
    """Run the block on behalf of ``actor`` (threads started by ``anyio.to_thread`` inside
    it inherit the context)."""
    token = ACTOR.set(actor)
    try:
        yield
    finally:
        ACTOR.reset(token)


def stamp(events: Iterable[Any], actor: Actor | None = None) -> None:
    """Mark each new event with ``actor`` (default: the running command's)."""
    actor = actor if actor is not None else ACTOR.get()
    if actor is None:
        return
    for event in events:
        object.__setattr__(event, _ATTRIBUTE, actor)


def actor_of(event: Any) -> Actor | None:
    """The actor that recorded ``event``; None for events recorded before actors existed."""
    return getattr(event, _ATTRIBUTE, None)


def take_from_state(state: dict[str, Any]) -> Actor | None:
    """Pop the actor out of a decoded stored state (what the mapper reads back)."""
    raw = state.pop(STATE_MEMBER, None)
    return msgspec.convert(raw, Actor) if raw is not None else None


def put_into_state(state: dict[str, Any]) -> None:
    """Move a stamped actor from an event's attributes to its stored state's member."""
    actor = state.pop(_ATTRIBUTE, None)
    if actor is not None:
        state[STATE_MEMBER] = actor


def attach(event: Any, actor: Actor | None) -> Any:
    if actor is not None:
        object.__setattr__(event, _ATTRIBUTE, actor)
    return event
