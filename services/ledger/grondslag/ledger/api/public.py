"""The public links: one-click unsubscribe (R20, RFC 8058) and double opt-in confirmation.

No API key, no cookie. A GET shows a page and changes nothing (mail scanners fetch links);
a POST acts at once and answers 200 with a confirmation page, also when repeated; never a
redirect. A forged, altered or unknown token gets the same 404 page and changes nothing.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Annotated

import anyio.to_thread
from litestar import Request, Response, get, post
from litestar.params import Parameter

from .. import links
from ..domain.errors import NotFound, RuleViolated
from ..domain.ids import purpose_id
from ..domain.values import Evidence, Objection, PurposeTerms
from ..reads.streams import load_aggregates
from .pages import page

Token = Annotated[str, Parameter(description="the signed link token")]  # checked by verify()
ALREADY = frozenset({"R8", "R17", "R18"})  # nothing in force any more: already unsubscribed


async def _link(
    request: Request, kind: links.Kind, token: str
) -> tuple[links.Binding, PurposeTerms] | None:
    """The genuine link's binding and its purpose's terms, or None (the 404 page)."""
    binding = await links.verify(request.app.state.pool, kind, token)
    if binding is None:
        return None
    pid = purpose_id(binding.tenant, binding.purpose)
    found = await load_aggregates(request.app.state.pool, [pid])
    return (binding, found[pid].latest.terms) if pid in found else None


def _context(binding: links.Binding, terms: PurposeTerms) -> dict[str, str]:
    return {"purpose": terms.title, "practice": binding.tenant}


@get(
    "/u/{token:str}",
    include_in_schema=True,
    tags=["public"],
    operation_id="unsubscribePage",
    summary="Unsubscribe page (changes nothing)",
)
async def unsubscribe_page(request: Request, token: Token) -> Response[str]:
    if not (link := await _link(request, "unsubscribe", token)):
        return page(request, "invalid", status=404)
    binding, terms = link
    return page(request, "unsubscribe.ask", button="unsubscribe.button", **_context(binding, terms))


@post(
    "/u/{token:str}",
    tags=["public"],
    operation_id="unsubscribe",
    status_code=200,
    summary="One-click unsubscribe (RFC 8058): records the withdrawal or objection at once",
)
async def unsubscribe(request: Request, token: Token) -> Response[str]:
    if not (link := await _link(request, "unsubscribe", token)):
        return page(request, "invalid", status=404)
    binding, terms = link
    ledger = request.app.state.ledger
    recorded_by = f"unsubscribe-link:{token.split('.')[1][:8]}"
    if terms.basis == "consent":
        command = functools.partial(
            ledger.withdraw_consent,
            binding.tenant,
            binding.subject_ref,
            binding.purpose,
            method="unsubscribe_link",
            recorded_by=recorded_by,
        )
    else:  # direct marketing on legitimate interest: the objection is final (R17)
        objection = Objection(
            grounds="one-click unsubscribe (RFC 8058)",
            effective_at=datetime.now(UTC),
            recorded_by=recorded_by,
        )
        command = functools.partial(
            ledger.lodge_objection, binding.tenant, binding.subject_ref, binding.purpose, objection
        )
    try:
        await anyio.to_thread.run_sync(command)
    except RuleViolated as refusal:
        if refusal.rule not in ALREADY:
            raise
    except NotFound:
        return page(request, "invalid", status=404)
    return page(request, "unsubscribe.done", **_context(binding, terms))


@get(
    "/c/{token:str}",
    tags=["public"],
    operation_id="confirmPage",
    summary="Double opt-in confirmation page (changes nothing)",
)
async def confirm_page(request: Request, token: Token) -> Response[str]:
    if not (link := await _link(request, "confirm", token)):
        return page(request, "invalid", status=404)
    binding, terms = link
    if _expired(binding):
        return page(request, "expired", status=410)
    return page(request, "confirm.ask", button="confirm.button", **_context(binding, terms))


@post(
    "/c/{token:str}",
    tags=["public"],
    operation_id="confirm",
    status_code=200,
    summary="Confirm a double opt-in: records the consent (method double_opt_in)",
)
async def confirm(request: Request, token: Token) -> Response[str]:
    pool = request.app.state.pool
    if not (link := await _link(request, "confirm", token)):
        return page(request, "invalid", status=404)
    binding, terms = link
    if binding.used_at is None:
        if _expired(binding):
            return page(request, "expired", status=410)
        # claim the link first: a double click records one consent, not two
        claimed = await pool.fetchval(
            "UPDATE grondslag_link_tokens SET used_at = now() WHERE token_id = $1 "
            "AND used_at IS NULL RETURNING true",
            binding.token_id,
        )
        if claimed:
            try:
                await _record_confirmation(request, binding, terms)
            except BaseException as error:
                await pool.execute(
                    "UPDATE grondslag_link_tokens SET used_at = NULL WHERE token_id = $1",
                    binding.token_id,
                )
                if isinstance(error, RuleViolated):  # e.g. a minor cannot consent alone (R11)
                    return page(request, "refused", status=409)
                raise
    return page(request, "confirm.done", **_context(binding, terms))


async def _record_confirmation(
    request: Request, binding: links.Binding, terms: PurposeTerms
) -> None:
    ledger = request.app.state.ledger
    standing = await anyio.to_thread.run_sync(
        functools.partial(ledger.standing, binding.tenant, binding.subject_ref, binding.purpose)
    )
    if standing.status == "lawful":  # already subscribed: change nothing, reveal nothing
        return
    await anyio.to_thread.run_sync(
        functools.partial(
            ledger.give_consent,
            binding.tenant,
            binding.subject_ref,
            binding.purpose,
            method="double_opt_in",
            explicit=False,
            notice_version=terms.notice.version,
            evidence=Evidence(document_ref=f"double-opt-in:{binding.token_id.hex()}"),
            recorded_by="double-opt-in",
            effective_at=datetime.now(UTC),
        )
    )


def _expired(binding: links.Binding) -> bool:
    return binding.expires_at is not None and binding.expires_at <= datetime.now(UTC)


PUBLIC_HANDLERS = [unsubscribe_page, unsubscribe, confirm_page, confirm]
