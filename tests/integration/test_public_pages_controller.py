"""The public link pages (unsubscribe /u/, double opt-in /c/) name the practice by the
display name of its recorded identity and link its privacy statement and contact address,
escaped; without a recorded identity they name the tenant id, as before."""

from __future__ import annotations

from newsletter_support import (
    NEWSLETTER,
    assert_html,
    path_of,
    register_newsletter,
    signup,
    subscriber,
    unsubscribe_path,
)

IDENTITY = {
    "display_name": "Praktijk <De Linde> & Co",
    "postal_address": "Lindelaan 4, 7511 AB Enschede",
    "email": "privacy@delinde.example",
    "privacy_statement_url": "https://delinde.example/privacy?v=2&lang=nl",
}


def _with_identity(tenant) -> None:
    response = tenant.call("PUT", "/v1/tenant", json=IDENTITY)
    assert response.status_code == 201, response.text


def test_unsubscribe_page_names_the_practice_and_links_its_privacy_statement(tenant) -> None:
    register_newsletter(tenant)
    subscriber(tenant)
    _with_identity(tenant)
    path = unsubscribe_path(tenant)
    page = assert_html(tenant.client.get(path), 200)
    assert "Praktijk &lt;De Linde&gt; &amp; Co" in page
    assert tenant.name not in page
    assert 'href="https://delinde.example/privacy?v=2&amp;lang=nl"' in page
    assert 'href="mailto:privacy@delinde.example"' in page
    assert "Privacyverklaring" in page
    done = assert_html(tenant.client.post(path), 200)
    assert "Praktijk &lt;De Linde&gt; &amp; Co" in done and "privacy@delinde.example" in done
    english = assert_html(tenant.client.get(path, headers={"Accept-Language": "en"}), 200, "en")
    assert "Privacy statement" in english


def test_confirmation_page_names_the_practice(tenant) -> None:
    register_newsletter(tenant)
    _with_identity(tenant)
    made = signup(tenant, "lezer@example.nl", NEWSLETTER)
    assert made.status_code in (200, 201), made.text
    page = assert_html(tenant.client.get(path_of(made.json()["confirm_url"])), 200)
    assert "Praktijk &lt;De Linde&gt; &amp; Co" in page and tenant.name not in page
    assert 'href="https://delinde.example/privacy?v=2&amp;lang=nl"' in page


def test_without_an_identity_the_pages_name_the_tenant(tenant) -> None:
    register_newsletter(tenant)
    subscriber(tenant)
    page = assert_html(tenant.client.get(unsubscribe_path(tenant)), 200)
    assert tenant.name in page
    assert "Privacyverklaring" not in page
