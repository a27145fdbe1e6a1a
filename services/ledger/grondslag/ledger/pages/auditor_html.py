"""HTML of the auditor's page: the sign-in form, one subject's sections, the timeline.

Plain strings with every value escaped; no scripts, no third-party resources (the page's
Content-Security-Policy allows inline styles only). Times are shown in Europe/Amsterdam.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from litestar import Response

from ..domain.evidence import EvidenceRecord
from ..domain.standing_at import StandingAnswer
from .pages import HEADERS

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
COLOURS = {
    "ConsentGiven": "#2e7d32",
    "ConsentWithdrawn": "#c62828",
    "BasisEstablished": "#1565c0",
    "BasisEnded": "#6d4c41",
    "ObjectionLodged": "#6a1b9a",
    "ObjectionDecided": "#8e24aa",
    "BasisLapsed": "#ef6c00",
    "RetentionExpired": "#757575",
}
STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.45;color:#1a1a1a}table{border-collapse:collapse;width:100%;font-size:.9rem}"
    "th,td{text-align:left;border-bottom:1px solid #ddd;padding:.3rem .4rem;vertical-align:top}"
    "section{margin:2rem 0;padding-top:.5rem;border-top:3px solid #0b5394}"
    ".status{display:inline-block;padding:.1rem .6rem;border-radius:1rem;color:#fff;"
    "font-weight:600}.lawful{background:#2e7d32}.lapsed{background:#c62828}"
    ".restricted{background:#6a1b9a}.pending{background:#ef6c00}.none{background:#757575}"
    "form.asof{display:flex;gap:1rem;align-items:end;flex-wrap:wrap;background:#f3f6fa;"
    "padding:.8rem;border-radius:.4rem}label{display:flex;flex-direction:column;"
    "font-size:.85rem}button{padding:.45rem 1.1rem;border-radius:.3rem;border:2px solid "
    "#0b5394;background:#0b5394;color:#fff;cursor:pointer}code{font-size:.8rem;"
    "white-space:nowrap}.muted{color:#666;font-size:.85rem}"
    "input{font-size:1rem;padding:.3rem}"
)


def html_page(title: str, body: str, status: int = 200) -> Response[str]:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return Response(
        html, status_code=status, media_type="text/html; charset=utf-8", headers=HEADERS
    )


def sign_in_page(message: str = "", status: int = 200, next_path: str = "/audit") -> Response:
    """The sign-in form (401 where a page needs a signed-in auditor)."""
    note = f'<p role="alert"><strong>{escape(message)}</strong></p>' if message else ""
    return html_page(
        "Grondslag — auditor sign-in",
        "<h1>Auditor sign-in</h1>"
        "<p>Sign in with an API key that carries the <code>auditor</code> (or "
        "<code>admin</code>) role.</p>"
        f"{note}"
        '<form method="post" action="/audit/sign-in">'
        f'<input type="hidden" name="next" value="{escape(next_path)}">'
        '<label>API key <input type="password" name="key" autocomplete="off" required '
        'size="50"></label><p><button type="submit">Sign in</button></p></form>',
        status,
    )


LEGEND = (
    '<p class="muted">✔ marks the events the standing rests on. Status: <b>lawful</b> — a '
    "basis covers processing; <b>pending</b> — a consent still misses a party (R13); "
    "<b>restricted</b> — an objection awaits its decision (R18); <b>lapsed</b> — the basis "
    "ended (see the reason); <b>none</b> — no basis was known for that moment. Faded "
    "events were recorded after the “as known on” date.</p>"
)


def day(moment: datetime) -> str:
    return moment.astimezone(AMSTERDAM).date().isoformat()


def when(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    local = moment.astimezone(AMSTERDAM)
    return f'<time datetime="{moment.isoformat()}">{local:%Y-%m-%d %H:%M}</time>'


def as_of_form(path: str, at: datetime, known_at: datetime) -> str:
    return (
        f'<form method="get" action="{escape(path)}" class="asof" aria-label="as of">'
        f'<label>What applied on <input type="date" name="at" value="{day(at)}"></label>'
        f'<label>as known on <input type="date" name="known_at" value="{day(known_at)}">'
        '</label><button type="submit">Show</button>'
        '<span class="muted">End of the day, Europe/Amsterdam</span></form>'
    )


def sign_out_form() -> str:
    return (
        '<form method="post" action="/audit/sign-out"><p><button type="submit">Sign out'
        "</button></p></form>"
    )


def section(
    code: str,
    title: str,
    answer: StandingAnswer,
    records: list[EvidenceRecord],
    at: datetime,
    known_at: datetime,
    now: datetime,
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
    rows = "".join(_row(r, r.event_id in answer.evidence, known_at) for r in records)
    table = (
        "<table><thead><tr><th>Event</th><th>Took effect</th><th>Recorded</th><th>By</th>"
        "<th>How</th><th>Notice / document</th><th>Proof</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )
    return (
        f'<section aria-label="{escape(code)}"><h2>{escape(title)} <code>{escape(code)}</code>'
        f"</h2>{summary}{_timeline(records, at, known_at, now)}{table}</section>"
    )


def _row(record: EvidenceRecord, supports: bool, known_at: datetime) -> str:
    who = ""
    if record.given_by is not None:
        giver = record.given_by
        who = (
            "the subject"
            if giver.party == "subject"
            else f"{escape(giver.representative_ref or '')} ({escape(giver.capacity or '')})"
        )
    by = who + (
        f"<br><span class='muted'>recorded by {escape(record.recorded_by)}</span>"
        if record.recorded_by
        else ""
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


def _anchor(position: float, width: int) -> str:
    """Keep a label inside the picture: anchored at its end near the right edge."""
    return "end" if position > width - 90 else "start" if position < 160 else "middle"


def _timeline(
    records: list[EvidenceRecord], at: datetime, known_at: datetime, now: datetime
) -> str:
    """Two parallel axes on one time scale: when each event took effect (top) and when the
    ledger recorded it (bottom), joined by a line; a slanted line is a late record."""
    if not records:
        return ""
    moments = [m for r in records for m in (r.effective_at, r.recorded_at)] + [at, known_at]
    start, end = min(moments), max(max(moments), min(now, max(moments) + timedelta(days=1)))
    span = max((end - start).total_seconds(), 1.0)
    width, left, right, top, bottom = 960, 120, 20, 40, 120

    def x(moment: datetime) -> float:
        return left + (width - left - right) * (moment - start).total_seconds() / span

    parts = [
        f'<svg role="img" aria-label="timeline" viewBox="0 0 {width} 200" width="100%" '
        'xmlns="http://www.w3.org/2000/svg" font-family="system-ui,sans-serif" font-size="12">',
        f'<text x="4" y="{top + 4}">took effect</text>',
        f'<text x="4" y="{bottom + 4}">recorded</text>',
        f'<line x1="{left}" y1="{top}" x2="{width - right}" y2="{top}" stroke="#999"/>',
        f'<line x1="{left}" y1="{bottom}" x2="{width - right}" y2="{bottom}" stroke="#999"/>',
        f'<line x1="{x(at):.1f}" y1="{top - 18}" x2="{x(at):.1f}" y2="{top + 8}" '
        'stroke="#000" stroke-dasharray="3 2"/>',
        f'<text x="{x(at):.1f}" y="{top - 22}" text-anchor="{_anchor(x(at), width)}">as of</text>',
        f'<line x1="{x(known_at):.1f}" y1="{bottom - 8}" x2="{x(known_at):.1f}" '
        f'y2="{bottom + 18}" stroke="#000" stroke-dasharray="3 2"/>',
        f'<text x="{x(known_at):.1f}" y="{bottom + 32}" '
        f'text-anchor="{_anchor(x(known_at), width)}">known on</text>',
        f'<text x="{left}" y="{bottom + 52}" fill="#666">{day(start)}</text>',
        f'<text x="{width - right}" y="{bottom + 52}" fill="#666" text-anchor="end">'
        f"{day(end)}</text>",
    ]
    for record in records:
        colour = COLOURS.get(record.type, "#444")
        xe, xr = x(record.effective_at), x(record.recorded_at)
        faded = ' opacity=".35"' if record.recorded_at > known_at else ""
        parts.append(
            f"<g{faded}><title>{escape(record.type)}: took effect "
            f"{record.effective_at:%Y-%m-%d %H:%M} UTC, recorded "
            f"{record.recorded_at:%Y-%m-%d %H:%M} UTC</title>"
            f'<line x1="{xe:.1f}" y1="{top}" x2="{xr:.1f}" y2="{bottom}" stroke="{colour}" '
            f'stroke-width="1.5"/><circle cx="{xe:.1f}" cy="{top}" r="6" fill="{colour}"/>'
            f'<rect x="{xr - 5:.1f}" y="{bottom - 5}" width="10" height="10" fill="{colour}"/>'
            "</g>"
        )
    legend_x = left
    for name in dict.fromkeys(r.type for r in records):
        parts.append(
            f'<circle cx="{legend_x}" cy="190" r="5" fill="{COLOURS.get(name, "#444")}"/>'
            f'<text x="{legend_x + 9}" y="194">{escape(name)}</text>'
        )
        legend_x += 150
    parts.append("</svg>")
    return "".join(parts)
