"""The public link pages' messages, in Dutch by default and English on request, and the
page that shows one (a ``message`` page of the one layout)."""

from __future__ import annotations

from html import escape

from litestar import Request, Response

from ..domain.controller import ControllerIdentity
from .layout import html_page

TEXTS = {
    "nl": {
        "unsubscribe.title": "Afmelden",
        "unsubscribe.ask": "Wilt u zich afmelden voor <strong>{purpose}</strong> van {practice}?",
        "unsubscribe.button": "Afmelden",
        "unsubscribe.done.title": "U bent afgemeld",
        "unsubscribe.done": "U bent afgemeld voor <strong>{purpose}</strong> van {practice}. "
        "U ontvangt hierover geen berichten meer.",
        "confirm.title": "Aanmelding bevestigen",
        "confirm.ask": "Bevestig uw aanmelding voor <strong>{purpose}</strong> van {practice}.",
        "confirm.button": "Bevestigen",
        "confirm.done.title": "Aanmelding bevestigd",
        "confirm.done": "Dank u wel. Uw aanmelding voor <strong>{purpose}</strong> van {practice} "
        "is bevestigd.",
        "invalid.title": "Deze link werkt niet",
        "invalid": "Deze link is ongeldig of niet meer geldig. Neem zo nodig contact op met de "
        "afzender van het bericht.",
        "expired.title": "Deze link is verlopen",
        "expired": "Deze bevestigingslink is verlopen. Meld u opnieuw aan als u dat nog wilt.",
        "refused.title": "Dit kan niet via deze link",
        "refused": "Deze aanmelding kan niet op deze manier worden bevestigd. Neem contact op "
        "met de afzender van het bericht.",
        "unavailable.title": "Even niet beschikbaar",
        "unavailable": "Dit lukt op dit moment even niet. Probeer het over een paar seconden "
        "opnieuw.",
        "too_many.title": "Even wachten",
        "too_many": "Er kwamen te veel verzoeken van uw adres. Probeer het over {seconds} "
        "seconden opnieuw.",
        "footer.privacy": "Privacyverklaring",
        "footer.contact": "Contact",
    },
    "en": {
        "unsubscribe.title": "Unsubscribe",
        "unsubscribe.ask": "Do you want to unsubscribe from <strong>{purpose}</strong> by "
        "{practice}?",
        "unsubscribe.button": "Unsubscribe",
        "unsubscribe.done.title": "You have been unsubscribed",
        "unsubscribe.done": "You have been unsubscribed from <strong>{purpose}</strong> by "
        "{practice}. You will not receive these messages any more.",
        "confirm.title": "Confirm your subscription",
        "confirm.ask": "Please confirm your subscription to <strong>{purpose}</strong> by "
        "{practice}.",
        "confirm.button": "Confirm",
        "confirm.done.title": "Subscription confirmed",
        "confirm.done": "Thank you. Your subscription to <strong>{purpose}</strong> by {practice} "
        "is confirmed.",
        "invalid.title": "This link does not work",
        "invalid": "This link is invalid or no longer valid. Please contact the sender of the "
        "message if needed.",
        "expired.title": "This link has expired",
        "expired": "This confirmation link has expired. Please sign up again if you still want to.",
        "refused.title": "This cannot be done with this link",
        "refused": "This subscription cannot be confirmed this way. Please contact the sender "
        "of the message.",
        "unavailable.title": "Temporarily unavailable",
        "unavailable": "This cannot be done just now. Please try again in a few seconds.",
        "too_many.title": "Please wait",
        "too_many": "Too many requests came from your address. Please try again in {seconds} "
        "seconds.",
        "footer.privacy": "Privacy statement",
        "footer.contact": "Contact",
    },
}


def language(request: Request) -> str:
    """``en`` when the reader prefers English over Dutch, else ``nl``."""
    best, best_q = "nl", -1.0
    for part in request.headers.get("accept-language", "").split(","):
        tag, _, params = part.strip().partition(";")
        try:
            q = float(params.strip()[2:]) if params.strip().startswith("q=") else 1.0
        except ValueError:
            continue
        code = tag.strip().lower()[:2]
        if code in TEXTS and q > best_q:
            best, best_q = code, q
    return best


def controller_footer(lang: str, controller: ControllerIdentity | None) -> str:
    """The practice's name with links to its privacy statement and its contact address;
    nothing when it recorded no identity."""
    if controller is None:
        return ""
    text = TEXTS[lang]
    return (
        f'<footer class="muted"><p>{escape(controller.display_name)} · '
        f'<a href="{escape(controller.privacy_statement_url)}">{text["footer.privacy"]}</a> · '
        f'{text["footer.contact"]}: <a href="mailto:{escape(controller.email)}">'
        f"{escape(controller.email)}</a></p></footer>"
    )


def message(
    request: Request,
    key: str,
    *,
    status: int = 200,
    button: str | None = None,
    footer: str = "",
    **values: str,
) -> Response[str]:
    """The message ``key`` in the reader's language, its ``{values}`` escaped; with
    ``button``, a form that POSTs to the page's own address; ``footer`` (HTML, escaped
    already) after it."""
    lang = language(request)
    text = TEXTS[lang]
    safe = {name: escape(value) for name, value in values.items()}
    body = f"<p>{text[key].format(**safe)}</p>"
    if button:
        body += (
            f'<form method="post" action="{escape(request.url.path)}">'
            f'<button type="submit">{text[button]}</button></form>'
        )
    body += footer
    title = (
        text[f"{key}.title"] if f"{key}.title" in text else text[f"{key.rsplit('.', 1)[0]}.title"]
    )
    return html_page(title, f"<h1>{title}</h1>{body}", status=status, lang=lang, kind="message")
