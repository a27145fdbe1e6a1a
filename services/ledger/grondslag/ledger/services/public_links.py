"""The links a mail's recipient follows, with no key and no cookie: one-click
unsubscribe (R20, RFC 8058) and the confirmation of a double opt-in (R19).

A visit (GET) changes nothing — mail scanners fetch links; the action (POST) takes effect
at once and, repeated, changes nothing more. Whether anything is recorded, and what, is
the ledger's: the aggregate decides what one click ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import anyio.to_thread
import asyncpg

from .. import links
from ..application import Ledger
from ..domain.controller import Controller, ControllerIdentity
from ..domain.errors import NotFound, RuleViolated
from ..domain.ids import controller_id, purpose_id
from ..domain.values import Evidence, PurposeTerms
from ..persistence.actors import CONFIRMATION_LINK, UNSUBSCRIBE_LINK, acting, link_actor
from ..reads.streams import load_aggregates


@dataclass(frozen=True)
class Link:
    """A genuine link: what it is bound to, its purpose's terms now, and who the
    controller is now (None when the practice recorded no identity)."""

    binding: links.Binding
    terms: PurposeTerms
    controller: ControllerIdentity | None = None

    @property
    def practice(self) -> str:
        """The practice's name: its display name, or else its tenant id."""
        return self.controller.display_name if self.controller else self.binding.tenant

    @property
    def expired(self) -> bool:
        expires_at = self.binding.expires_at
        return expires_at is not None and expires_at <= datetime.now(UTC)


@dataclass(frozen=True)
class Visit:
    """What a link's page tells the reader: the outcome, and the link unless it is invalid
    (forged, altered, unknown: all alike)."""

    outcome: Literal["ask", "done", "invalid", "expired", "refused"]
    link: Link | None = None


INVALID = Visit("invalid")


class PublicLinks:
    """What the recipient of a mail does with its links."""

    def __init__(self, ledger: Ledger, pool: asyncpg.Pool):
        self.ledger = ledger
        self.pool = pool

    async def visit(self, kind: links.Kind, token: str) -> Visit:
        """What the link's page asks; a visit changes nothing (mail scanners fetch links)."""
        link = await self._link(kind, token)
        if link is None:
            return INVALID
        return Visit("expired" if kind == "confirm" and link.expired else "ask", link)

    async def unsubscribe(self, token: str) -> Visit:
        """One click (RFC 8058): ends at once what the link's purpose says one click ends
        (``Standing.unsubscribe``); done, also when it is repeated."""
        link = await self._link("unsubscribe", token)
        if link is None:
            return INVALID
        where = (link.binding.tenant, link.binding.subject_ref, link.binding.purpose)
        recorded_by = f"unsubscribe-link:{token.split('.')[1][:8]}"
        actor = link_actor(UNSUBSCRIBE_LINK, link.binding.tenant, link.binding.token_id)
        try:
            with acting(actor):
                await anyio.to_thread.run_sync(self.ledger.unsubscribe, *where, recorded_by)
        except NotFound:
            return INVALID
        except RuleViolated as refused:
            # R22: a link made while its subject was erased (the erasure deleted the others):
            # an erased subject is sent nothing, so what the recipient asked is done
            if refused.rule != "R22":
                raise
        return Visit("done", link)

    async def confirm(self, token: str) -> Visit:
        """Confirm a double opt-in: the consent is recorded once, however often the link is
        used; a refusal (e.g. a minor cannot consent alone, R11) leaves the link unused."""
        link = await self._link("confirm", token)
        if link is None:
            return INVALID
        if link.binding.used_at is None:
            if link.expired:
                return Visit("expired", link)
            if await links.claim(self.pool, link.binding):
                binding = link.binding
                actor = link_actor(CONFIRMATION_LINK, binding.tenant, binding.token_id)
                try:
                    with acting(actor):
                        await anyio.to_thread.run_sync(self._record_consent, link)
                except BaseException as error:
                    await links.release(self.pool, link.binding)
                    if isinstance(error, RuleViolated):
                        return Visit("refused", link)
                    raise
        return Visit("done", link)

    async def _link(self, kind: links.Kind, token: str) -> Link | None:
        """The genuine link with its purpose's terms, or None."""
        binding = await links.verify(self.pool, kind, token)
        if binding is None:
            return None
        pid, cid = purpose_id(binding.tenant, binding.purpose), controller_id(binding.tenant)
        found = await load_aggregates(self.pool, [pid, cid])
        if pid not in found:
            return None
        controller: Controller | None = found.get(cid)
        now = datetime.now(UTC)
        version = controller.at(now, now) if controller else None
        return Link(binding, found[pid].latest.terms, version.identity if version else None)

    def _record_consent(self, link: Link) -> None:
        binding = link.binding
        where = (binding.tenant, binding.subject_ref, binding.purpose)
        if self.ledger.standing(*where).status == "lawful":
            return  # already subscribed: change nothing, reveal nothing
        self.ledger.give_consent(
            *where,
            method="double_opt_in",
            explicit=False,
            notice_version=link.terms.notice.version,
            evidence=Evidence(document_ref=f"double-opt-in:{binding.token_id.hex()}"),
            recorded_by="double-opt-in",
            effective_at=datetime.now(UTC),
        )
