"""HTML of the auditor's pages besides the subject's report: the sign-in and sign-out
forms, the start page, and the short pages that say why a page cannot be shown. Plain
strings with every value escaped, on a ``report`` page of the one layout."""

from __future__ import annotations

from html import escape

from litestar import Request, Response

from .layout import html_page


def sign_in_page(message: str = "", status: int = 200, next_path: str = "/audit") -> Response:
    """The sign-in form (401 where a page needs a signed-in auditor)."""
    note = f'<p role="alert"><strong>{escape(message)}</strong></p>' if message else ""
    return html_page(
        "Grondslag — auditor sign-in",
        "<h1>Auditor sign-in</h1>"
        "<p>Sign in with an API key that carries the <code>auditor</code> role and no role "
        "that changes anything (<code>writer</code>, <code>admin</code>).</p>"
        f"{note}"
        '<form method="post" action="/audit/sign-in">'
        f'<input type="hidden" name="next" value="{escape(next_path)}">'
        '<label>API key <input type="password" name="key" autocomplete="off" required '
        'size="50"></label><p><button type="submit">Sign in</button></p></form>',
        status=status,
    )


def cross_site_page(header: str) -> Response[str]:
    """A sign-in or sign-out sent from another site's page: refused, nothing changed."""
    return html_page(
        "Refused: another site's form",
        "<h1>Refused: another site's form</h1><p>This form was sent from another site "
        f"(the browser's <code>{escape(header)}</code> header says so), so it was not "
        'acted on. To sign in, open <a href="/audit">the auditor\'s page</a> yourself.</p>',
        status=403,
    )


def start_page() -> Response[str]:
    """Where a signed-in auditor picks a subject."""
    return html_page(
        "Grondslag — auditor",
        "<h1>Auditor</h1>"
        '<form method="get" action="/audit" class="asof"><label>Subject reference '
        '<input name="subject_ref" required></label><button type="submit">Show</button></form>'
        + sign_out_form(),
    )


def invalid_date_page(path: str, detail: str) -> Response[str]:
    return html_page(
        "Invalid date",
        f"<h1>Invalid date</h1><p>{escape(detail)}. Use the date picker.</p>"
        f'<p><a href="{escape(path)}">Back to today</a></p>',
        status=422,
    )


def unknown_subject_page(subject_ref: str) -> Response[str]:
    return html_page(
        "Unknown subject",
        f"<h1>Unknown subject</h1><p>No subject <code>{escape(subject_ref)}</code>.</p>"
        '<p><a href="/audit">Back</a></p>',
        status=404,
    )


def unknown_event_page(detail: str) -> Response[str]:
    return html_page("Unknown event", f"<h1>Unknown event</h1><p>{escape(detail)}</p>", status=404)


def not_yet_logged_page() -> Response[str]:
    return html_page("Not yet", "<h1>Not in the audit log yet</h1><p>Try again.</p>", status=409)


def unavailable_page(_: Request) -> Response[str]:
    """The page of a database outage (503)."""
    return html_page(
        "Grondslag — unavailable",
        "<h1>Temporarily unavailable</h1><p>The ledger cannot reach its database just "
        "now. Try again in a few seconds.</p>",
        status=503,
    )


def not_yet_signed_page(_: Request) -> Response[str]:
    """The page of an answer that waits for the checkpointer's signature (503)."""
    return html_page(
        "Grondslag — not signed yet",
        "<h1>Not signed yet</h1><p>No signed checkpoint of the audit log covers this yet. "
        "Try again in a few seconds.</p>",
        status=503,
    )


def sign_out_form() -> str:
    return (
        '<form method="post" action="/audit/sign-out"><p><button type="submit">Sign out'
        "</button></p></form>"
    )
