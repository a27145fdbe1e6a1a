"""The unsubscribe link over the API and the page behind it (R20, RFC 8058): the link and its
two headers, stable per subject and purpose and carrying no readable personal data, only for
a writer and only for a purpose on consent or direct marketing; the GET page a mail scanner
may fetch without changing anything, in Dutch or English; and the one-click POST that at
once withdraws consent or lodges the absolute direct-marketing objection (R17), answering
the same again without recording anything new."""

from __future__ import annotations

import base64
import binascii
import contextlib
import re

import pytest

from grondslag.ledger.settings import Settings

from newsletter_support import (
    BOUNDARY,
    EVENTS,
    FORM,
    INVOICING,
    MULTIPART_BODY,
    NEWSLETTER,
    NEWSLETTER_TITLE,
    ONE_CLICK,
    TIPS,
    assert_html,
    assert_problem,
    event_count,
    events_of,
    history,
    link,
    one_click,
    path_of,
    register_invoicing,
    register_newsletter,
    register_tips,
    standing,
    subscriber,
    token_of,
    unsubscribe_path,
)

# -- the unsubscribe link --------------------------------------------------------------------


def test_unsubscribe_link_has_the_url_and_the_two_rfc_8058_headers(tenant) -> None:
    register_newsletter(tenant)
    subscriber(tenant)
    response = link(tenant)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"url", "headers"}
    url = body["url"]
    assert re.fullmatch(
        re.escape(Settings().public_url) + r"/u/\d{1,4}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}", url
    ), url
    assert body["headers"] == {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def test_unsubscribe_link_is_stable_per_subject_and_purpose_and_differs_otherwise(tenant) -> None:
    register_newsletter(tenant)
    register_newsletter(tenant, EVENTS, "Uitnodigingen voor bijeenkomsten")
    subscriber(tenant, "client-1")
    subscriber(tenant, "client-2")
    first = unsubscribe_path(tenant, "client-1")
    assert unsubscribe_path(tenant, "client-1") == first
    assert unsubscribe_path(tenant, "client-1") == first
    assert unsubscribe_path(tenant, "client-2") != first
    assert unsubscribe_path(tenant, "client-1", EVENTS) != first


def _decodings(part: str) -> list[bytes]:
    decoded = [part.encode()]
    for candidate in (part, part + "=" * (-len(part) % 4)):
        with contextlib.suppress(binascii.Error, ValueError):
            decoded.append(base64.urlsafe_b64decode(candidate))
    return decoded


def test_unsubscribe_token_carries_no_readable_personal_data(tenant) -> None:
    register_newsletter(tenant)
    ref, email = "anna-jansen-1970", "anna.jansen@example.nl"
    subscriber(tenant, ref, email=email)
    token = token_of(unsubscribe_path(tenant, ref))
    signup = tenant.call(
        "POST", "/v1/newsletter/signups", json={"purpose": NEWSLETTER, "email": email}
    )
    assert signup.status_code == 201, signup.text
    confirm_token = token_of(path_of(signup.json()["confirm_url"]))
    whole = [ref, tenant.name, NEWSLETTER, email]
    fragments = ["anna", "jansen", "example"]
    for tok in (token, confirm_token):
        assert len(tok.split(".")) == 3
        for part in [tok, *tok.split(".")]:
            raw, *decodings = _decodings(part)
            # the token as it is written: base64url letters, in which a short fragment turns
            # up by chance (once "…TQAnnA2…" held "anna"), so the whole values are looked for
            for secret in whole:
                assert secret.lower() not in raw.decode().lower(), (tok, part, secret)
            # its bytes decoded: there a fragment by chance is one in millions
            for decoded in decodings:
                text = decoded.decode("latin-1").lower()
                for secret in whole + fragments:
                    assert secret.lower() not in text, (tok, part, secret)


def test_unsubscribe_link_needs_a_writer_key(tenant) -> None:
    register_newsletter(tenant)
    subscriber(tenant)
    no_key = tenant.client.post(
        "/v1/subjects/client-1/unsubscribe-links", json={"purpose": NEWSLETTER}
    )
    assert_problem(no_key, 401)
    bad_key = link(tenant, key="not-a-key")
    assert_problem(bad_key, 401)
    for role in ("reader", "auditor"):
        assert_problem(link(tenant, key=tenant.key_with(role)), 403)
    assert link(tenant, key=tenant.key_with("writer")).status_code == 200


def test_unsubscribe_link_for_unknown_subject_is_404(tenant) -> None:
    register_newsletter(tenant)
    assert_problem(link(tenant, "nobody"), 404)


def test_unsubscribe_link_for_unregistered_purpose_is_409_r2(tenant) -> None:
    tenant.put_subject("client-1")
    assert_problem(link(tenant, purpose="not-registered"), 409, rule="R2")


def test_unsubscribe_link_for_purpose_neither_consent_nor_direct_marketing_is_409_r20(
    tenant,
) -> None:
    register_invoicing(tenant)
    tenant.put_subject("client-1")
    assert_problem(link(tenant, purpose=INVOICING), 409, rule="R20")


# -- GET /u/: a page that changes nothing ----------------------------------------------------


def test_unsubscribe_page_is_dutch_by_default_and_changes_nothing(tenant, database_url) -> None:
    register_newsletter(tenant)
    subscriber(tenant)
    path = unsubscribe_path(tenant)
    before, count = history(tenant), event_count(database_url)
    for _ in range(3):  # mail scanners fetch links, sometimes more than once
        text = assert_html(tenant.client.get(path), 200, "nl")
        assert '<button type="submit">Afmelden</button>' in text
        assert f'<form method="post" action="{path}">' in text
        assert NEWSLETTER_TITLE in text
        assert tenant.name in text
        assert "<script" not in text
    head = tenant.client.head(path)
    assert head.status_code in (200, 405)
    assert history(tenant) == before
    assert event_count(database_url) == count
    assert standing(tenant) == ("lawful", None)


def test_unsubscribe_page_is_english_when_the_reader_prefers_english(tenant) -> None:
    register_newsletter(tenant)
    subscriber(tenant)
    path = unsubscribe_path(tenant)
    for accept in ("en", "en-GB,en;q=0.9", "nl;q=0.3, en;q=0.8"):
        response = tenant.client.get(path, headers={"Accept-Language": accept})
        text = assert_html(response, 200, "en")
        assert '<button type="submit">Unsubscribe</button>' in text
        assert NEWSLETTER_TITLE in text
        assert response.headers["content-language"] == "en"
    dutch = tenant.client.get(path, headers={"Accept-Language": "nl-NL,nl;q=0.9,en;q=0.5"})
    assert "Afmelden</button>" in assert_html(dutch, 200, "nl")
    assert standing(tenant) == ("lawful", None)


# -- POST /u/: one click, at once ------------------------------------------------------------

BODIES = {
    "one-click": (FORM, ONE_CLICK.encode()),
    "empty-form-of-the-page": (FORM, b""),
    "multipart": (f"multipart/form-data; boundary={BOUNDARY}", MULTIPART_BODY),
}


@pytest.mark.parametrize("kind", list(BODIES))
def test_one_click_post_withdraws_consent_at_once_with_method_unsubscribe_link(
    tenant, kind: str
) -> None:
    register_newsletter(tenant)
    subscriber(tenant)
    path = unsubscribe_path(tenant)
    content_type, body = BODIES[kind]
    response = tenant.client.post(
        path, content=body, headers={"Content-Type": content_type}, follow_redirects=False
    )
    text = assert_html(response, 200, "nl")
    assert not response.is_redirect and "location" not in response.headers
    assert "U bent afgemeld" in text and NEWSLETTER_TITLE in text
    assert "<button" not in text
    withdrawn = events_of(tenant, "ConsentWithdrawn")
    assert len(withdrawn) == 1
    assert withdrawn[0]["purpose"] == NEWSLETTER
    assert withdrawn[0]["details"]["method"] == "unsubscribe_link"
    assert standing(tenant) == ("lapsed", "withdrawn")


def test_repeated_one_click_post_answers_200_and_records_nothing_new(tenant, database_url) -> None:
    register_newsletter(tenant)
    subscriber(tenant)
    path = unsubscribe_path(tenant)
    assert_html(one_click(tenant.client, path), 200)
    after_first, count = history(tenant), event_count(database_url)
    for _ in range(3):
        again = one_click(tenant.client, path)
        assert "U bent afgemeld" in assert_html(again, 200)
    english = one_click(tenant.client, path, **{"Accept-Language": "en"})
    assert "You have been unsubscribed" in assert_html(english, 200, "en")
    assert history(tenant) == after_first
    assert event_count(database_url) == count
    assert len(events_of(tenant, "ConsentWithdrawn")) == 1
    assert standing(tenant) == ("lapsed", "withdrawn")


def test_one_click_on_direct_marketing_legitimate_interest_lodges_the_absolute_objection(
    tenant,
) -> None:
    register_tips(tenant)
    tenant.put_subject("client-1")
    established = tenant.call(
        "POST",
        "/v1/subjects/client-1/bases",
        json={
            "purpose": TIPS,
            "basis": "legitimate_interest",
            "reference": "intake-2025-03",
            "opt_out_offered": True,
            "effective_at": "2025-03-03T09:00:00Z",
        },
    )
    assert established.status_code == 201, established.text
    assert standing(tenant, purpose=TIPS) == ("lawful", None)
    path = unsubscribe_path(tenant, purpose=TIPS)
    assert_html(tenant.client.get(path), 200)
    assert standing(tenant, purpose=TIPS) == ("lawful", None)

    assert "U bent afgemeld" in assert_html(one_click(tenant.client, path), 200)
    objections = events_of(tenant, "ObjectionLodged")
    assert len(objections) == 1 and objections[0]["purpose"] == TIPS
    assert standing(tenant, purpose=TIPS) == ("lapsed", "objection")  # R17: no restriction
    after = history(tenant)
    assert_html(one_click(tenant.client, path), 200)
    assert history(tenant) == after


def test_one_click_for_a_subject_who_never_subscribed_answers_200_and_records_nothing(
    tenant, database_url
) -> None:
    register_newsletter(tenant)
    tenant.put_subject("client-1")
    path = unsubscribe_path(tenant)
    count = event_count(database_url)
    assert "U bent afgemeld" in assert_html(one_click(tenant.client, path), 200)
    assert event_count(database_url) == count
    assert standing(tenant) == ("none", None)
