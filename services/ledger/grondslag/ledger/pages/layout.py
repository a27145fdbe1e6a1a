"""The one page layout: a small, accessible HTML page — no scripts, no third-party
resources, inline styles only — with the headers every page carries.

A page is a narrow ``message`` (the public link pages: one sentence and one button), a
wide ``report`` (the auditor's tables and timelines) or a printable ``letter`` (the Art. 15
answer); all share one style sheet."""

from __future__ import annotations

from html import escape
from typing import Literal

from litestar import Response

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'",
}
STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem auto;padding:0 1rem;line-height:1.5;"
    "color:#1a1a1a}body.message{max-width:34rem;margin-top:3rem}body.report{max-width:64rem}"
    "button{padding:.45rem 1.1rem;border-radius:.4rem;border:2px solid #0b5394;"
    "background:#0b5394;color:#fff;cursor:pointer}"
    "button:focus{outline:3px solid #f1c232;outline-offset:2px}"
    ".message button{font-size:1.1rem;padding:.6rem 1.4rem}"
    "table{border-collapse:collapse;width:100%;font-size:.9rem}"
    "th,td{text-align:left;border-bottom:1px solid #ddd;padding:.3rem .4rem;vertical-align:top}"
    "section{margin:2rem 0;padding-top:.5rem;border-top:3px solid #0b5394}"
    ".status{display:inline-block;padding:.1rem .6rem;border-radius:1rem;color:#fff;"
    "font-weight:600}.lawful{background:#2e7d32}.lapsed{background:#c62828}"
    ".restricted{background:#6a1b9a}.pending{background:#ef6c00}.none{background:#757575}"
    "form.asof{display:flex;gap:1rem;align-items:end;flex-wrap:wrap;background:#f3f6fa;"
    "padding:.8rem;border-radius:.4rem}label{display:flex;flex-direction:column;"
    "font-size:.85rem}code{font-size:.8rem;white-space:nowrap}.muted{color:#666;"
    "font-size:.85rem}input{font-size:1rem;padding:.3rem}"
    "body.letter{max-width:44rem;font-family:Georgia,'DejaVu Serif',serif;font-size:1rem;"
    "line-height:1.45}.letterhead{display:flex;flex-direction:row-reverse;"
    "justify-content:space-between;align-items:flex-start;gap:2rem;margin-bottom:2.5rem}"
    ".letterhead address{font-style:normal;text-align:right}.letter h1{font-size:1.2rem;"
    "margin:1.5rem 0 1rem}.letter h2{font-size:1.05rem;margin:1.8rem 0 .6rem;"
    "border-bottom:1px solid #bbb;padding-bottom:.2rem}.letter h3{font-size:1rem;"
    "margin:1.2rem 0 .3rem}.letter section.purpose{border-top:0;margin:1rem 0;padding:0;"
    "break-inside:avoid}.letter table{font-size:.95rem}.letter th{width:9.5rem;"
    "font-weight:600;color:#333}.letter .status{font-size:.85rem;font-weight:400}"
    ".letter .small{font-size:.88rem;color:#333}.letter ul.rights li{margin:.2rem 0}"
    ".signature{margin-top:1.5rem}"
    "@page{margin:2cm}@media print{body.letter{margin:0;max-width:none;font-size:10.5pt}"
    ".letter a{color:inherit;text-decoration:none}.letter .status{color:#000;background:none;"
    "border:1px solid #000}}"
)


def html_page(
    title: str,
    body: str,
    *,
    status: int = 200,
    lang: str = "en",
    kind: Literal["message", "report", "letter"] = "report",
) -> Response[str]:
    """``body`` (HTML whose values are escaped already) on a page titled ``title``."""
    html = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f'<body class="{kind}"><main>{body}</main></body></html>'
    )
    return Response(
        html,
        status_code=status,
        media_type="text/html",  # litestar adds "; charset=utf-8" itself
        headers={**HEADERS, "Content-Language": lang},
    )
