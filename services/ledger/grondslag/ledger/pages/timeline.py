"""The timeline of one standing, as SVG: when each event took effect and when the ledger
recorded it, on two axes of one time scale, with the "as of" and "known on" moments."""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape

from ..domain.evidence import EvidenceRecord
from .times import day

COLOURS = {
    "ConsentGiven": "#2e7d32",
    "ConsentWithdrawn": "#c62828",
    "BasisEstablished": "#1565c0",
    "BasisEnded": "#6d4c41",
    "ObjectionLodged": "#6a1b9a",
    "ObjectionDecided": "#8e24aa",
    "BasisLapsed": "#ef6c00",
    "RetentionExpired": "#757575",
    "ProcessingRestricted": "#4a148c",
    "RestrictionLifted": "#00838f",
}


def _anchor(position: float, width: int) -> str:
    """Keep a label inside the picture: anchored at its end near the right edge."""
    return "end" if position > width - 90 else "start" if position < 160 else "middle"


def timeline(records: list[EvidenceRecord], at: datetime, known_at: datetime, now: datetime) -> str:
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
