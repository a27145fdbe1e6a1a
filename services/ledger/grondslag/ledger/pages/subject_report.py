"""The report on one subject: its standings, each a section with its timeline and its
table of events, "as of" a date and "as known on" another, under the audit log's latest
checkpoint. Plain strings with every value escaped; times in Europe/Amsterdam."""

from __future__ import annotations

from datetime import datetime
from html import escape
from urllib.parse import quote

from litestar import Response

from ..audit.checkpoints import Checkpoint
from ..domain.evidence import EvidenceRecord
from ..domain.standing_at import StandingAnswer
from ..reads.standing import StandingHistory
from .auditor_html import sign_out_form
from .layout import html_page
from .timeline import timeline
from .times import day, when

LEGEND = (
    '<p class="muted">✔ marks the events the standing rests on. Status: <b>lawful</b> — a '
    "basis covers processing; <b>pending</b> — a consent still misses a party (R13); "
    "<b>restricted</b> — an objection awaits its decision (R18), or processing is restricted "
    "on the subject's request (art. 18, R24); <b>lapsed</b> — the basis "
    "ended (see the reason); <b>none</b> — no basis was known for that moment. Faded "
    "events were recorded after the “as known on” date.</p>"
)


def subject_page(
    tenant: str,
    subject_ref: str,
    checkpoint: Checkpoint,
    histories: list[StandingHistory],
    path: str,
    at: datetime,
    known_at: datetime,
    now: datetime,
    actors: dict[str, str] | None = None,
) -> Response[str]:
    """One subject's standings as of ``at``, as known on ``known_at``, under the audit log's
    latest checkpoint; ``actors`` names who recorded each event (event id → actor id)."""
    head = (
        f"<h1>Subject <code>{escape(subject_ref)}</code></h1>"
        f'<p class="muted">Practice <code>{escape(tenant)}</code> · audit log checkpoint: '
        f"{checkpoint.tree_size} events, root <code>{checkpoint.root_hash[:16]}…</code>, "
        f"signed {when(datetime.fromisoformat(checkpoint.issued_at))} by key "
        f"<code>{checkpoint.key_id}</code> · times in Europe/Amsterdam</p>"
        + as_of_form(path, at, known_at)
        + f'<p><a href="/audit/subjects/{quote(subject_ref, safe="")}/bundle">Download the '
        "verifiable export bundle</a> (check it with <code>grondslag verify</code>)</p>"
    )
    sections = "".join(
        section(h.code, h.title, h.answer, h.records, at, known_at, now, actors or {})
        for h in histories
    )
    body = head + (sections or "<p>No standings recorded.</p>") + LEGEND + sign_out_form()
    return html_page(f"Grondslag — {subject_ref}", body)


def as_of_form(path: str, at: datetime, known_at: datetime) -> str:
    return (
        f'<form method="get" action="{escape(path)}" class="asof" aria-label="as of">'
        f'<label>What applied on <input type="date" name="at" value="{day(at)}"></label>'
        f'<label>as known on <input type="date" name="known_at" value="{day(known_at)}">'
        '</label><button type="submit">Show</button>'
        '<span class="muted">End of the day, Europe/Amsterdam</span></form>'
    )


def section(
    code: str,
    title: str,
    answer: StandingAnswer,
    records: list[EvidenceRecord],
    at: datetime,
    known_at: datetime,
    now: datetime,
    actors: dict[str, str] | None = None,
) -> str:
    status = escape(answer.status)
    summary = (
        f'<p>As of {when(at)}, as known on {when(known_at)}: <span class="status {status}">'
        f"{status}</span>"
        + (f" on <strong>{escape(answer.basis)}</strong>" if answer.basis else "")
        + (f" since {when(answer.since)}" if answer.since else "")
        + (f" until {when(answer.until)}" if answer.until else "")
        + (f" — reason <code>{escape(answer.reason)}</code>" if answer.reason else "")
        + "</p>"
    )
    named = actors or {}
    rows = "".join(
        _row(r, r.event_id in answer.evidence, known_at, named.get(r.event_id)) for r in records
    )
    table = (
        "<table><thead><tr><th>Event</th><th>Took effect</th><th>Recorded</th><th>By</th>"
        "<th>How</th><th>Notice / document</th><th>Proof</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )
    return (
        f'<section aria-label="{escape(code)}"><h2>{escape(title)} <code>{escape(code)}</code>'
        f"</h2>{summary}{timeline(records, at, known_at, now)}{table}</section>"
    )


def _row(
    record: EvidenceRecord, supports: bool, known_at: datetime, actor: str | None = None
) -> str:
    who = ""
    if record.given_by is not None:
        giver = record.given_by
        who = (
            "the subject"
            if giver.party == "subject"
            else f"{escape(giver.representative_ref or '')} ({escape(giver.capacity or '')})"
        )
    by = (
        who
        + (
            f"<br><span class='muted'>recorded by {escape(record.recorded_by)}</span>"
            if record.recorded_by
            else ""
        )
        + (f"<br><span class='muted'>as <code>{escape(actor)}</code></span>" if actor else "")
    )
    how = escape(record.method or record.basis or record.reason or "")
    if record.explicit:
        how += " · explicit"
    notice = ""
    if record.notice is not None:
        notice = (
            f'notice <a href="{escape(record.notice.url)}">{escape(record.notice.version)}</a> '
            f"<code>{escape(record.notice.sha256[:12])}…</code>"
        )
    if record.document is not None:
        digest = (
            f" <code>{escape(record.document.sha256[:12])}…</code>"
            if record.document.sha256
            else ""
        )
        notice += f"<br>{escape(record.document.document_ref)}{digest}"
    later = record.recorded_at > known_at
    style = ' style="opacity:.45"' if later else ""
    mark = " ✔" if supports else ""
    return (
        f"<tr{style}><td>{escape(record.type)}{mark}</td><td>{when(record.effective_at)}</td>"
        f"<td>{when(record.recorded_at)}{' (not yet known)' if later else ''}</td><td>{by}</td>"
        f"<td>{how}</td><td>{notice}</td>"
        f'<td><a href="/audit/proofs/{record.event_id}"><code>{record.event_id[:8]}</code></a>'
        "</td></tr>"
    )
