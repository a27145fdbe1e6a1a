"""The auditor's page in a real browser: `grondslag serve` over real HTTP, headless Chromium
signs in with an API key (a writer-only key and an all-roles key are refused; a foreign
page's auto-submitted sign-in form is refused too), reads one subject's standing and
timeline, moves the "as of" date picker on both time axes, downloads the verifiable bundle
by clicking the page's link and verifies it offline, and signs out. Chromium is driven over
the DevTools protocol on a pipe (no extra packages), by the client in chromium_devtools.py
that test_unsubscribe_browser.py uses too. Two faults found here stay pinned down: the
sign-in keeps the "as of" dates of a link, and the timeline's labels stay inside the
picture and apart.

Needs Debian's chromium (`apt-get install chromium`); screenshots go to tests/output/."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from chromium_devtools import GRONDSLAG, DevTools, assert_png, browser, chromium, serving

OUTPUT = Path(__file__).resolve().parents[1] / "output"
NOTICE = {
    "version": "2025-01",
    "url": "https://praktijk.example/privacy/2025-01",
    "sha256": "a" * 64,
}
PURPOSE = "photo-in-dossier"
TITLE = "Pasfoto in het dossier"
SUBJECT = "client-17"
WIDTH, HEIGHT = 1200, 800
LANG = "en-GB"  # Chromium's own language; it asks for pages in its default, en-US
VIEWPORT = (WIDTH, HEIGHT)


def _env(database_url: str, nats_url: str, data_dir: Path, key: str, tenant: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRONDSLAG_")}
    return env | {
        "DATABASE_URL": database_url,
        "NATS_URL": nats_url,
        "GRONDSLAG_DATA_DIR": str(data_dir),
        "GRONDSLAG_BOOTSTRAP_KEY": key,
        "GRONDSLAG_BOOTSTRAP_TENANT": tenant,
    }


# -- what the page shows, read through the DOM ------------------------------------------------
SECTION = f'section[aria-label="{PURPOSE}"]'
AS_OF = 'form[aria-label="as of"]'
PAGE_STATE = """(() => {
  const section = document.querySelector(SECTION);
  const svg = section && section.querySelector('svg[role="img"][aria-label="timeline"]');
  const rows = section ? [...section.querySelectorAll('tbody tr')] : [];
  const form = document.querySelector(AS_OF);
  return {
    path: location.pathname,
    search: location.search,
    title: document.title,
    h1: document.querySelector('h1') && document.querySelector('h1').textContent,
    text: document.body.innerText,
    sections: document.querySelectorAll('section').length,
    status: section && section.querySelector('span.status').textContent,
    statusClass: section && section.querySelector('span.status').className,
    circles: svg ? svg.querySelectorAll('circle').length : null,
    eventCircles: svg ? svg.querySelectorAll('g > circle').length : null,
    legendCircles: svg ? svg.querySelectorAll(':scope > circle').length : null,
    rects: svg ? svg.querySelectorAll('rect').length : null,
    faded: svg ? svg.querySelectorAll('g[opacity]').length : null,
    rows: rows.map(r => [...r.cells].map(c => c.innerText.trim())),
    proofLinks: rows.map(r => r.querySelector('a[href^="/audit/proofs/"]')
                                ?.getAttribute('href')),
    at: form && form.elements.at.value,
    knownAt: form && form.elements.known_at.value,
    atType: form && form.elements.at.type,
    knownAtType: form && form.elements.known_at.type,
    signInForm: !!document.querySelector('form[action="/audit/sign-in"] input[name="key"]'),
    signOut: !!document.querySelector('form[action="/audit/sign-out"] button'),
    alert: document.querySelector('[role="alert"]')
             && document.querySelector('[role="alert"]').innerText,
    bundleHref: document.querySelector('a[href$="/bundle"]')
                  && document.querySelector('a[href$="/bundle"]').getAttribute('href'),
    responseStatus: performance.getEntriesByType('navigation')[0].responseStatus,
  };
})()""".replace("SECTION", json.dumps(SECTION)).replace("AS_OF", json.dumps(AS_OF))


def assert_sign_in_form(state: dict[str, Any]) -> None:
    assert state["h1"] == "Auditor sign-in", state
    assert state["signInForm"], state
    assert state["sections"] == 0 and not state["signOut"], state
    assert TITLE not in state["text"] and "ConsentGiven" not in state["text"], state


@dataclass(frozen=True)
class Site:
    """`grondslag serve` with one practice's data in it, as the auditor finds it."""

    api: str
    tenant: str
    all_roles: str  # the bootstrap key: every role
    writer_only: str
    auditor_only: str
    public_key: bytes  # of the audit signing key in the data folder
    event_ids: list[str]  # ConsentGiven, ConsentWithdrawn


@pytest.fixture(scope="module")
def site(
    module_database_url: str, nats_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    from grondslag.ledger.audit import signing

    tmp = tmp_path_factory.mktemp("auditor-site")
    tenant = f"audit-{secrets.token_hex(4)}"
    all_roles = f"e2e-auditor-{secrets.token_hex(16)}"
    data_dir = tmp / "data"
    env = _env(module_database_url, nats_url, data_dir, all_roles, tenant)

    with serving(env, tmp / "serve.log") as api:
        # the audit signing key was made in the data folder given
        key_file = data_dir / signing.KEY_FILE_NAME
        assert key_file.is_file()
        public_key = signing.load_or_create(key_file).public_key

        made = subprocess.run(
            [*GRONDSLAG, "keys", "create", "--tenant", tenant, "--role", "writer"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert made.returncode == 0, made.stderr
        writer_only = made.stdout.strip()
        assert writer_only.startswith("gs_")
        made = subprocess.run(
            [*GRONDSLAG, "keys", "create", "--tenant", tenant, "--role", "auditor"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert made.returncode == 0, made.stderr
        auditor_only = made.stdout.strip()

        http = httpx.Client(
            base_url=api, headers={"Authorization": f"Bearer {all_roles}"}, timeout=10
        )
        purpose = {
            "code": PURPOSE,
            "title": TITLE,
            "basis": "consent",
            "notice": NOTICE,
            "effective_at": "2025-01-01T00:00:00Z",
        }
        registered = http.post("/v1/purposes", json=purpose)
        assert registered.status_code == 201, registered.text
        put = http.put(f"/v1/subjects/{SUBJECT}", json={"birth_date": "1980-04-02"})
        assert put.status_code == 201, put.text
        consent = {
            "purpose": PURPOSE,
            "method": "written",
            "explicit": True,
            "notice_version": "2025-01",
            "evidence": {"document_ref": "intake-2025-17.pdf"},
            "recorded_by": "staff:jdevries",
            "effective_at": "2025-09-02T10:00:00Z",
        }
        given = http.post(f"/v1/subjects/{SUBJECT}/consents", json=consent)
        assert given.status_code == 201, given.text
        withdrawal = {
            "method": "email",
            "recorded_by": "staff:jdevries",
            "effective_at": "2026-03-06T21:14:00Z",
        }
        withdrawn = http.post(
            f"/v1/subjects/{SUBJECT}/consents/{PURPOSE}/withdrawal", json=withdrawal
        )
        assert withdrawn.status_code == 201, withdrawn.text
        event_ids = [given.json()["event_id"], withdrawn.json()["event_id"]]
        # the projector takes the events into the audit log within a second or so
        deadline = time.monotonic() + 15
        while (
            logged := http.get("/v1/audit/export", params={"subject_ref": SUBJECT})
        ).status_code == 409:
            assert time.monotonic() < deadline, "the audit log did not take the events in"
            time.sleep(0.2)
        assert logged.status_code == 200, logged.text
        http.close()
        yield Site(api, tenant, all_roles, writer_only, auditor_only, public_key, event_ids)


def test_auditor_signs_in_reads_the_timeline_as_of_dates_and_signs_out(
    site: Site, tmp_path: Path
) -> None:
    from grondslag.ledger.audit import bundle, signing

    binary = chromium()
    OUTPUT.mkdir(exist_ok=True)
    refused_png = OUTPUT / "auditor-refused.png"
    page_png = OUTPUT / "auditor-page.png"
    unknown_png = OUTPUT / "auditor-page-known-2020.png"
    for old in (refused_png, page_png, unknown_png):
        old.unlink(missing_ok=True)
    api, tenant, all_roles = site.api, site.tenant, site.all_roles
    writer_only, public_key, event_ids = site.writer_only, site.public_key, site.event_ids

    subject_url = f"{api}/audit/subjects/{SUBJECT}"
    with browser(binary, tmp_path, lang=LANG, viewport=VIEWPORT) as chrome:
        tab = chrome.open_page()

        def state() -> dict[str, Any]:
            return chrome.evaluate(tab, PAGE_STATE)

        # 1. no cookie: the sign-in form; a writer-only key is refused with a 403 page
        chrome.navigate(tab, subject_url)
        first = state()
        assert_sign_in_form(first)
        assert first["path"] == f"/audit/subjects/{SUBJECT}" and first["alert"] is None
        assert chrome.evaluate(tab, "document.querySelector('input[name=next]').value") == (
            f"/audit/subjects/{SUBJECT}"
        )
        assert chrome.evaluate(tab, "document.querySelector('input[name=key]').type") == (
            "password"
        )
        chrome.type_into(tab, 'input[name="key"]', writer_only)
        chrome.click_and_load(tab, 'form[action="/audit/sign-in"] button')
        refused = state()
        assert refused["path"] == "/audit/sign-in", refused
        assert refused["responseStatus"] == 403, refused
        assert refused["alert"] == "This key lacks the auditor role.", refused
        assert_sign_in_form(refused)
        assert_png(refused_png, chrome.screenshot_full_page(tab, refused_png), 3000)
        assert SUBJECT not in refused["text"]
        cookies = chrome.send("Network.getCookies", {"urls": [f"{api}/audit"]}, tab)
        assert cookies["cookies"] == [], cookies

        # 2. the all-roles key may write: refused too (least privilege); the auditor's key:
        # back to the subject page it was asked for
        chrome.type_into(tab, 'input[name="key"]', all_roles)
        chrome.click_and_load(tab, 'form[action="/audit/sign-in"] button')
        too_much = state()
        assert too_much["responseStatus"] == 403, too_much
        assert "writer or admin" in too_much["alert"], too_much
        chrome.type_into(tab, 'input[name="key"]', site.auditor_only)
        chrome.click_and_load(tab, 'form[action="/audit/sign-in"] button')
        today = state()
        assert today["path"] == f"/audit/subjects/{SUBJECT}", today
        assert today["responseStatus"] == 200, today
        assert today["search"] == "", today
        assert today["h1"] == f"Subject {SUBJECT}", today
        assert today["sections"] == 1, today
        assert (today["status"], today["statusClass"]) == ("lapsed", "status lapsed"), today
        assert "reason withdrawn" in today["text"], today["text"]
        # the timeline: per event a circle ("took effect") and a square ("recorded"),
        # plus one legend circle per event type (ConsentGiven, ConsentWithdrawn)
        assert (today["eventCircles"], today["rects"]) == (2, 2), today
        assert (today["legendCircles"], today["circles"]) == (2, 4), today
        assert today["faded"] == 0, today
        assert [row[0].rstrip(" ✔") for row in today["rows"]] == [
            "ConsentGiven",
            "ConsentWithdrawn",
        ], today["rows"]
        given_row, withdrawn_row = today["rows"]
        assert given_row[1] == "2025-09-02 12:00", given_row  # Amsterdam time
        assert withdrawn_row[1] == "2026-03-06 22:14", withdrawn_row
        assert "recorded by staff:jdevries" in given_row[3], given_row
        assert given_row[4] == "written · explicit", given_row
        assert "2025-01" in given_row[5] and "intake-2025-17.pdf" in given_row[5], given_row
        assert withdrawn_row[4] == "email", withdrawn_row
        assert today["proofLinks"] == [f"/audit/proofs/{e}" for e in event_ids], today
        assert today["atType"] == today["knownAtType"] == "date", today
        assert today["bundleHref"] == f"/audit/subjects/{SUBJECT}/bundle", today
        assert today["signOut"], today
        # a session id (not the key) is in an http-only, SameSite=Strict cookie on /audit only
        assert "grondslag_auditor" not in chrome.evaluate(tab, "document.cookie")
        html = chrome.evaluate(tab, "document.documentElement.outerHTML")
        assert all_roles not in html and site.auditor_only not in html
        cookies = chrome.send("Network.getCookies", {"urls": [f"{api}/audit"]}, tab)
        (cookie,) = cookies["cookies"]
        assert (cookie["name"], cookie["path"]) == ("grondslag_auditor", "/audit"), cookie
        assert cookie["value"] != site.auditor_only and len(cookie["value"]) >= 43, cookie
        session_cookie = {"Cookie": f"grondslag_auditor={cookie['value']}"}
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict", cookie
        assert chrome.send("Network.getCookies", {"urls": [f"{api}/v1"]}, tab)["cookies"] == []

        # 3. the date picker: what applied on 2026-01-01 → the consent
        chrome.evaluate(tab, f"document.querySelector('{AS_OF}').elements.at.value = '2026-01-01'")
        chrome.click_and_load(tab, f"{AS_OF} button")
        then = state()
        assert then["path"] == f"/audit/subjects/{SUBJECT}", then
        assert "at=2026-01-01" in then["search"], then
        assert then["at"] == "2026-01-01", then
        assert (then["status"], then["statusClass"]) == ("lawful", "status lawful"), then
        assert "on consent since 2025-09-02 12:00" in then["text"], then["text"]
        assert [row[0] for row in then["rows"]] == ["ConsentGiven ✔", "ConsentWithdrawn"]
        assert (then["eventCircles"], then["rects"], then["faded"]) == (2, 2, 0), then
        assert "(not yet known)" not in then["text"]
        size = chrome.screenshot_full_page(tab, page_png)
        assert size[0] == WIDTH and size[1] >= HEIGHT, size  # the whole page, not a window
        assert_png(page_png, size, 10_000)

        # 4. … as known on 2020-01-01: nothing was recorded yet
        chrome.evaluate(
            tab, f"document.querySelector('{AS_OF}').elements.known_at.value = '2020-01-01'"
        )
        chrome.click_and_load(tab, f"{AS_OF} button")
        unknown = state()
        assert "at=2026-01-01" in unknown["search"], unknown
        assert "known_at=2020-01-01" in unknown["search"], unknown
        assert (unknown["at"], unknown["knownAt"]) == ("2026-01-01", "2020-01-01"), unknown
        assert (unknown["status"], unknown["statusClass"]) == ("none", "status none")
        assert len(unknown["rows"]) == 2, unknown
        assert all(row[2].endswith("(not yet known)") for row in unknown["rows"]), unknown
        assert all("✔" not in row[0] for row in unknown["rows"]), unknown
        assert unknown["faded"] == 2, unknown  # both events greyed out on the timeline
        assert_png(unknown_png, chrome.screenshot_full_page(tab, unknown_png), 10_000)

        # 5. the bundle: the page's CSP (default-src 'none', no scripts) rightly stops a
        # script from reading it, so the auditor's way is taken: click the link, download
        blocked = chrome.evaluate(
            tab,
            f"fetch({json.dumps(today['bundleHref'])}).then(r => 'read ' + r.status, "
            "e => 'blocked: ' + e.message)",
            await_promise=True,
        )
        assert blocked.startswith("blocked"), blocked
        downloads = tmp_path / "downloads"
        downloads.mkdir()
        chrome.send(
            "Browser.setDownloadBehavior",
            {"behavior": "allow", "downloadPath": str(downloads), "eventsEnabled": True},
        )
        chrome.events.clear()
        chrome.click(tab, f'a[href="{today["bundleHref"]}"]')
        began = chrome.wait_for_browser_event("Browser.downloadWillBegin")
        name = f"grondslag-{tenant}-{SUBJECT}.json"
        assert began["params"]["suggestedFilename"] == name, began
        assert began["params"]["url"] == f"{api}{today['bundleHref']}", began
        guid = began["params"]["guid"]
        while True:
            progress = chrome.wait_for_browser_event("Browser.downloadProgress")
            if progress["params"]["guid"] == guid and progress["params"]["state"] != "inProgress":
                break
        assert progress["params"]["state"] == "completed", progress
        assert chrome.evaluate(tab, "location.search") == unknown["search"]  # stayed put
        data = (downloads / name).read_bytes()
        verified = bundle.verify(data, pinned_key=public_key)
        assert verified.checkpoint.tenant == tenant
        assert verified.checkpoint.key_id == signing.key_id_of(public_key)
        exported = json.loads(data)
        assert exported["query"]["subject_ref"] == SUBJECT, exported["query"]
        types = [e["type"] for e in exported["events"]]
        assert types[-2:] == ["Standing.ConsentGiven", "Standing.ConsentWithdrawn"], types
        assert {e["event_id"] for e in exported["events"]} >= set(event_ids)
        assert verified.events == len(types)
        # the bundle fetched without the cookie is the sign-in page, not data
        anonymous = httpx.get(f"{api}{today['bundleHref']}")
        assert anonymous.headers["content-type"].startswith("text/html"), anonymous
        assert "Auditor sign-in" in anonymous.text

        # 6. sign out: back at the sign-in form, and the subject page stays closed
        chrome.click_and_load(tab, 'form[action="/audit/sign-out"] button')
        out = state()
        assert out["path"] == "/audit", out
        assert_sign_in_form(out)
        cookies = chrome.send("Network.getCookies", {"urls": [f"{api}/audit"]}, tab)
        assert cookies["cookies"] == [], cookies
        chrome.navigate(tab, f"{subject_url}?at=2026-01-01")
        again = state()
        assert again["path"] == f"/audit/subjects/{SUBJECT}", again
        assert_sign_in_form(again)
        # the cookie kept from before and replayed: its session was revoked
        replayed = httpx.get(subject_url, headers=session_cookie)
        assert replayed.status_code == 401 and "Auditor sign-in" in replayed.text


def sign_in(chrome: DevTools, tab: str, site: Site) -> None:
    chrome.navigate(tab, f"{site.api}/audit")
    chrome.type_into(tab, 'input[name="key"]', site.auditor_only)
    chrome.click_and_load(tab, 'form[action="/audit/sign-in"] button')
    assert chrome.evaluate(tab, "document.querySelector('h1').textContent") == "Auditor"


def test_signing_in_keeps_the_as_of_dates_of_the_link(site: Site, tmp_path: Path) -> None:
    # known on a day after everything was recorded: what applied on 1 January is the consent
    known_on = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    query = f"?at=2026-01-01&known_at={known_on}"
    with browser(chromium(), tmp_path, lang=LANG, viewport=VIEWPORT) as chrome:
        tab = chrome.open_page()
        chrome.navigate(tab, f"{site.api}/audit/subjects/{SUBJECT}{query}")
        assert chrome.evaluate(tab, "document.querySelector('h1').textContent") == (
            "Auditor sign-in"
        )
        chrome.type_into(tab, 'input[name="key"]', site.auditor_only)
        chrome.click_and_load(tab, 'form[action="/audit/sign-in"] button')
        shown = chrome.evaluate(tab, PAGE_STATE)
    assert shown["path"] == f"/audit/subjects/{SUBJECT}", shown
    assert (shown["search"], shown["at"], shown["knownAt"]) == (
        query,
        "2026-01-01",
        known_on,
    ), shown
    assert shown["status"] == "lawful", shown  # not today's "lapsed"


TIMELINE_LABELS = """(() => {
  const svg = document.querySelector(SECTION + ' svg[aria-label="timeline"]');
  const view = svg.viewBox.baseVal;
  return {
    view: [view.x, view.y, view.width, view.height],
    labels: [...svg.querySelectorAll('text')].map(t => {
      const b = t.getBBox();
      return {text: t.textContent, box: [b.x, b.y, b.x + b.width, b.y + b.height]};
    }),
  };
})()""".replace("SECTION", json.dumps(SECTION))


@pytest.mark.parametrize(
    "query", ["", "?at=2026-01-01&known_at=2020-01-01"], ids=["today", "known-2020"]
)
def test_timeline_labels_stay_inside_the_picture_and_apart(
    site: Site, tmp_path: Path, query: str
) -> None:
    with browser(chromium(), tmp_path, lang=LANG, viewport=VIEWPORT) as chrome:
        tab = chrome.open_page()
        sign_in(chrome, tab, site)
        chrome.navigate(tab, f"{site.api}/audit/subjects/{SUBJECT}{query}")
        assert chrome.evaluate(tab, "location.search") == query
        drawn = chrome.evaluate(tab, TIMELINE_LABELS)
    left, top, width, height = drawn["view"]
    labels = drawn["labels"]
    assert {label["text"] for label in labels} >= {"took effect", "recorded", "known on"}
    slack = 2  # a text's box is its font's full height, above the tallest letters
    outside = [
        label
        for label in labels
        if label["box"][0] < left - slack
        or label["box"][2] > left + width + slack
        or label["box"][1] < top - slack
        or label["box"][3] > top + height + slack
    ]
    overlapping = [
        (a["text"], b["text"])
        for i, a in enumerate(labels)
        for b in labels[i + 1 :]
        if a["box"][0] < b["box"][2]
        and b["box"][0] < a["box"][2]
        and a["box"][1] < b["box"][3]
        and b["box"][1] < a["box"][3]
    ]
    assert (outside, overlapping) == ([], []), f"cut off, drawn over each other; {labels}"


FOREIGN_PAGE = """<!doctype html><html><body>
<form id="f" method="post" action="{action}">
<input type="hidden" name="key" value="{key}"><input type="hidden" name="next" value="/audit">
</form><script>document.getElementById('f').submit()</script></body></html>"""


def test_a_foreign_page_cannot_sign_the_visitor_in(site: Site, tmp_path: Path) -> None:
    """Login CSRF, as the issue showed it: a page on another origin auto-submits the
    sign-in form with the attacker's own auditor key. Chromium sends it marked
    ``Sec-Fetch-Site: cross-site``; the ledger refuses (403) and sets no cookie."""
    import http.server
    import threading
    from functools import partial

    site_dir = tmp_path / "foreign"
    site_dir.mkdir()
    page = FOREIGN_PAGE.format(action=f"{site.api}/audit/sign-in", key=site.auditor_only)
    (site_dir / "index.html").write_text(page)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(site_dir))
    foreign = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=foreign.serve_forever, daemon=True).start()
    try:
        with browser(chromium(), tmp_path, lang=LANG, viewport=VIEWPORT) as chrome:
            tab = chrome.open_page()
            chrome.navigate(tab, f"http://127.0.0.1:{foreign.server_port}/index.html")
            deadline = time.monotonic() + 10
            # refused: stays on /audit/sign-in; signed in: redirected on to /audit
            while not chrome.evaluate(tab, "location.pathname").startswith("/audit"):
                assert time.monotonic() < deadline, "the foreign form was never submitted"
                time.sleep(0.05)
            while chrome.evaluate(tab, "document.readyState") != "complete":
                time.sleep(0.05)
            shown = chrome.evaluate(tab, PAGE_STATE)
            cookies = chrome.send("Network.getCookies", {"urls": [f"{site.api}/audit"]}, tab)
    finally:
        foreign.shutdown()
    assert cookies["cookies"] == [], cookies
    assert shown["path"] == "/audit/sign-in", shown
    assert shown["responseStatus"] == 403, shown
    assert shown["h1"] == "Refused: another site's form", shown
    assert "Sec-Fetch-Site" in shown["text"], shown["text"]  # what Chromium sent
    assert cookies["cookies"] == [], cookies
