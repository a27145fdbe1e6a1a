"""One-click unsubscribe in a real browser (R20): `grondslag serve` over real HTTP, headless
Chromium renders the page a mail scanner would fetch (changing nothing), then clicks the
"Afmelden" button like a person and lands on the confirmation page; the ledger shows the
withdrawal. Chromium is driven over the DevTools protocol on a pipe (no extra packages), by
the client in chromium_devtools.py.

Needs Debian's chromium (`apt-get install chromium`); screenshots go to tests/output/."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from chromium_devtools import (
    BASE_FLAGS,
    assert_png,
    browser,
    chromium,
    language_flags,
    serving,
)

OUTPUT = Path(__file__).resolve().parents[1] / "output"
KEY = "e2e-browser-bootstrap-key"
NOTICE = {"version": "2025-01", "url": "https://praktijk.example/privacy", "sha256": "c" * 64}
PURPOSE = "newsletter"
TITLE = "Nieuwsbrief van de praktijk"
EMAIL = "lezer.browser@example.nl"
LANG, ACCEPT_LANG = "nl-NL", "nl-NL,nl"  # a Dutch reader
VIEWPORT = (800, 600)


def _env(database_url: str, nats_url: str, data_dir: Path) -> dict[str, str]:
    """The environment for `grondslag serve` against the test database, with KEY as the
    bootstrap key of a fresh tenant."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRONDSLAG_")}
    return env | {
        "DATABASE_URL": database_url,
        "NATS_URL": nats_url,
        "GRONDSLAG_DATA_DIR": str(data_dir),
        "GRONDSLAG_BOOTSTRAP_KEY": KEY,
        "GRONDSLAG_BOOTSTRAP_TENANT": f"browser-{secrets.token_hex(4)}",
    }


def test_unsubscribe_in_a_real_browser_by_clicking_afmelden(
    own_database_url: str, nats_url: str, tmp_path: Path
) -> None:
    binary = chromium()
    OUTPUT.mkdir(exist_ok=True)
    page_png, done_png = OUTPUT / "unsubscribe-page.png", OUTPUT / "unsubscribe-done.png"
    for old in (page_png, done_png):
        old.unlink(missing_ok=True)
    server_log = tmp_path / "serve.log"

    with serving(_env(own_database_url, nats_url, tmp_path / "data"), server_log) as api:
        auth = {"Authorization": f"Bearer {KEY}"}
        http = httpx.Client(base_url=api, headers=auth, timeout=10)
        purpose = {
            "code": PURPOSE,
            "title": TITLE,
            "basis": "consent",
            "direct_marketing": True,
            "notice": NOTICE,
            "effective_at": "2025-01-01T00:00:00Z",
        }
        assert http.post("/v1/purposes", json=purpose).status_code == 201
        assert http.put("/v1/subjects/lezer-1", json={"email": EMAIL}).status_code == 201
        consent = {
            "purpose": PURPOSE,
            "method": "email",
            "explicit": False,
            "notice_version": "2025-01",
            "evidence": {"document_ref": "aanmelding-2025-17.eml"},
            "recorded_by": "staff:jdevries",
        }
        given = http.post("/v1/subjects/lezer-1/consents", json=consent)
        assert given.status_code == 201, given.text
        made = http.post("/v1/subjects/lezer-1/unsubscribe-links", json={"purpose": PURPOSE})
        assert made.status_code == 200, made.text
        url = made.json()["url"]
        assert url.startswith(f"{api}/u/")

        def standing() -> dict[str, Any]:
            return http.get(f"/v1/subjects/lezer-1/standing/{PURPOSE}").json()

        # (a) the page renders in the browser, as a mail scanner would fetch it: nothing changes
        shot = subprocess.run(
            [
                binary,
                *BASE_FLAGS,
                *language_flags(LANG, ACCEPT_LANG),
                f"--user-data-dir={tmp_path / 'profile-shot'}",
                f"--screenshot={page_png}",
                f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}",
                url,
            ],
            capture_output=True,
            timeout=30,
        )
        assert shot.returncode == 0, shot.stderr.decode(errors="replace")[-2000:]
        assert_png(page_png, VIEWPORT)
        assert standing()["status"] == "lawful"

        # (b) a person clicks "Afmelden"
        with browser(
            binary, tmp_path, lang=LANG, accept_lang=ACCEPT_LANG, viewport=VIEWPORT
        ) as chrome:
            tab = chrome.open_page()
            chrome.navigate(tab, url)
            assert chrome.evaluate(tab, "document.documentElement.lang") == "nl"
            assert chrome.evaluate(tab, "document.querySelector('button').textContent") == (
                "Afmelden"
            )
            assert TITLE in chrome.evaluate(tab, "document.body.innerText")
            assert chrome.evaluate(tab, "document.cookie") == ""
            assert standing()["status"] == "lawful"

            chrome.events.clear()
            chrome.click(tab, "button")
            chrome.wait_for("Page.loadEventFired", tab)
            deadline = time.monotonic() + 10
            while chrome.evaluate(tab, "document.title") != "U bent afgemeld":
                assert time.monotonic() < deadline, chrome.evaluate(tab, "document.title")
                time.sleep(0.05)
            text = chrome.evaluate(tab, "document.body.innerText")
            assert "U bent afgemeld voor" in text and TITLE in text
            assert chrome.evaluate(tab, "location.href") == url  # no redirect
            assert chrome.evaluate(tab, "document.querySelector('button')") is None
            chrome.screenshot(tab, done_png)
        assert_png(done_png, VIEWPORT)

        after = standing()
        assert (after["status"], after["reason"]) == ("lapsed", "withdrawn")
        events = http.get("/v1/subjects/lezer-1/history").json()["events"]
        withdrawn = [e for e in events if e["type"] == "ConsentWithdrawn"]
        assert len(withdrawn) == 1, events
        assert withdrawn[0]["details"]["method"] == "unsubscribe_link"
        assert withdrawn[0]["purpose"] == PURPOSE
        http.close()

    served = server_log.read_text(errors="replace")
    assert "/u/" in served  # the access log was written …
    assert EMAIL not in served  # … and holds no e-mail address
