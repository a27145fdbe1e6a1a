"""The Art. 15 letter in a real browser: `grondslag serve` over real HTTP, headless Chromium
asks for the export as HTML with the auditor's key (an extra request header over the
DevTools protocol), renders the letter in Dutch, and the page shows the practice, each
purpose with its basis, recipients and retention, the rights and the complaint address;
the screenshot of the whole letter goes to tests/output/access-letter.png.

Needs Debian's chromium (`apt-get install chromium`)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import httpx

from chromium_devtools import browser, chromium, serving

OUTPUT = Path(__file__).resolve().parents[1] / "output"
KEY = "e2e-letter-bootstrap-key"
NOTICE = {"version": "2025-01", "url": "https://praktijk.example/privacy", "sha256": "c" * 64}
VIEWPORT = (900, 1200)
IDENTITY = {
    "display_name": "Praktijk De Linde",
    "postal_address": "Lindelaan 4\n7511 AB Enschede",
    "email": "privacy@praktijkdelinde.example",
    "telephone": "053 123 45 67",
    "privacy_statement_url": "https://praktijkdelinde.example/privacy",
    "dpo": {"name": "mr. A. Jansen", "contact": "fg@praktijkdelinde.example"},
    "promised_term": "P4W",
    "languages": ["nl", "en"],
}


def _env(database_url: str, nats_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRONDSLAG_")}
    return env | {
        "DATABASE_URL": database_url,
        "NATS_URL": nats_url,
        "GRONDSLAG_DATA_DIR": str(data_dir),
        "GRONDSLAG_BOOTSTRAP_KEY": KEY,
        "GRONDSLAG_BOOTSTRAP_TENANT": f"letter-{secrets.token_hex(4)}",
    }


def _record_a_client(http: httpx.Client) -> None:
    purposes = [
        {"code": "photo-in-dossier", "title": "Pasfoto in het dossier", "basis": "consent"},
        {
            "code": "care-file",
            "title": "Behandeldossier",
            "basis": "contract",
            "matter": "care",
            "special_categories": ["health"],
            "special_condition": "health_care",
            "recipients": ["Huisarts", "Zorgverzekeraar"],
            "retention": {"term": "P20Y", "starts": "basis_end"},
        },
        {
            "code": "newsletter",
            "title": "Nieuwsbrief van de praktijk",
            "basis": "consent",
            "direct_marketing": True,
            "recipients": ["Mailingdienst B.V."],
        },
    ]
    for purpose in purposes:
        body = purpose | {"notice": NOTICE, "effective_at": "2025-01-01T00:00:00Z"}
        assert http.post("/v1/purposes", json=body).status_code == 201
    put = http.put("/v1/subjects/client-17", json={"birth_date": "1988-04-02", "email": "c@x.nl"})
    assert put.status_code == 201
    consent = {
        "method": "written",
        "explicit": True,
        "notice_version": "2025-01",
        "evidence": {"document_ref": "intake-2025-17.pdf"},
        "recorded_by": "staff:jdevries",
        "effective_at": "2025-09-02T10:00:00Z",
    }
    for code in ("photo-in-dossier", "newsletter"):
        given = http.post("/v1/subjects/client-17/consents", json=consent | {"purpose": code})
        assert given.status_code == 201, given.text
    basis = {
        "purpose": "care-file",
        "basis": "contract",
        "reference": "behandelovereenkomst-17",
        "effective_at": "2025-03-01T09:00:00Z",
    }
    assert http.post("/v1/subjects/client-17/bases", json=basis).status_code == 201
    withdrawal = {"method": "email", "effective_at": "2025-11-14T22:14:00Z", "recorded_by": "s"}
    gone = http.post("/v1/subjects/client-17/consents/newsletter/withdrawal", json=withdrawal)
    assert gone.status_code == 201, gone.text
    since = {"effective_at": "2025-01-01T00:00:00Z"}  # the promise applies to the request
    assert http.put("/v1/tenant", json=IDENTITY | since).status_code == 201
    request = {
        "kind": "access",
        "channel": "email",
        "received_at": "2025-11-20T09:30:00Z",
        "identity": {"method": "known_in_person", "verified_by": "staff:jdevries"},
    }
    asked = http.post("/v1/subjects/client-17/requests", json=request)
    assert asked.status_code == 201, asked.text


def test_the_art_15_letter_renders_in_a_real_browser(
    own_database_url: str, nats_url: str, tmp_path: Path
) -> None:
    binary = chromium()
    OUTPUT.mkdir(exist_ok=True)
    letter_png = OUTPUT / "access-letter.png"
    letter_png.unlink(missing_ok=True)
    env = _env(own_database_url, nats_url, tmp_path / "data")
    with serving(env, tmp_path / "serve.log") as api:
        http = httpx.Client(base_url=api, headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
        _record_a_client(http)
        http.close()
        with browser(
            binary, tmp_path, lang="nl-NL", accept_lang="nl-NL,nl", viewport=VIEWPORT
        ) as chrome:
            tab = chrome.open_page()
            chrome.send("Network.enable", session=tab)
            chrome.send(
                "Network.setExtraHTTPHeaders",
                {"headers": {"Authorization": f"Bearer {KEY}"}},
                session=tab,
            )
            chrome.navigate(tab, f"{api}/v1/subjects/client-17/export")
            assert chrome.evaluate(tab, "document.documentElement.lang") == "nl"
            text = chrome.evaluate(tab, "document.body.innerText")
            for expected in (
                "Inzage in uw persoonsgegevens (artikel 15 AVG)",
                "Praktijk De Linde",
                "Behandeldossier",
                "Huisarts, Zorgverzekeraar",
                "20 jaar na het einde van de grondslag",
                "gezondheid",
                "Toestemming ingetrokken op 14 november 2025.",
                # the promised four weeks, not the law's month (22 December, past a weekend)
                "uw verzoek om inzage, ontvangen op 20 november 2025 (wij antwoorden uiterlijk "
                "18 december 2025)",
                "Overdraagbaarheid",
                "Autoriteit Persoonsgegevens",
                "binnen 28 dagen",
                "Met vriendelijke groet,",
                "mr. A. Jansen",
            ):
                assert expected in text, expected
            sections = chrome.evaluate(tab, "document.querySelectorAll('section.purpose').length")
            assert sections == 3
            # no horizontal scrolling: the letter fits the page's width
            assert chrome.evaluate(tab, "document.documentElement.scrollWidth <= window.innerWidth")
            width, height = chrome.screenshot_full_page(tab, letter_png)
    data = letter_png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    assert width == VIEWPORT[0] and height > 1000
