"""Tokens of the public links that cannot be forged, altered or moved: every changed, truncated,
extended or garbage token, an over-long one, and a token of one kind on the other's path get
the same 404 page and change nothing, and a genuine token only ever affects its own tenant,
subject and purpose."""

from __future__ import annotations

from litestar.testing import TestClient

from newsletter_support import (
    EVENTS,
    FORM,
    NEWSLETTER,
    ONE_CLICK,
    assert_html,
    event_count,
    events_of,
    history,
    link_token_rows,
    one_click,
    path_of,
    register_newsletter,
    standing,
    subscriber,
    token_of,
    unsubscribe_path,
)

# -- forged, altered, moved tokens -----------------------------------------------------------

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _changed(char: str) -> str:
    if char.isdigit() and char != "9":
        return str(int(char) + 1)
    return ALPHABET[(ALPHABET.index(char) + 1) % len(ALPHABET)]


def forgeries(token: str) -> dict[str, str]:
    """One changed character in each part (first and last), truncated, extended, …"""
    parts = token.split(".")
    variants: dict[str, str] = {}
    for index, part in enumerate(parts):
        for position in {0, len(part) - 1}:
            changed = part[:position] + _changed(part[position]) + part[position + 1 :]
            variants[f"part{index}@{position}"] = ".".join(
                [*parts[:index], changed, *parts[index + 1 :]]
            )
    variants |= {
        "truncated": token[:-1],
        "truncated-part": ".".join(parts[:2]),
        "extended": token + "A",
        "extra-part": token + ".AAAA",
        "leading-zero-key": "0" + token,
        "upper-cased": token.upper(),
        "padded": token + "==",
    }
    assert all(v != token for v in variants.values())
    return variants


GARBAGE = {
    "word": "hello",
    "dots": "1.2.3",
    "empty-parts": "1..",
    "snowman": "%E2%98%83",
    "nul": "%00",
    "quote": "%22%3E%3Cscript%3Ealert(1)%3C%5Cscript%3E",
    "sql": "1'%20OR%20'1'%3D'1",
    "shape-but-unknown": "1." + "A" * 22 + "." + "A" * 22,
    "huge-key-id": "9999." + "A" * 22 + "." + "A" * 22,
}


def invalid_page(client: TestClient) -> str:
    return assert_html(client.get("/u/hello"), 404)


def assert_same_404_page(client: TestClient, path: str, reference: str, why: str = "") -> None:
    for response in (
        client.get(path),
        client.post(path, content=ONE_CLICK.encode(), headers={"Content-Type": FORM}),
    ):
        assert response.status_code == 404, (why, path, response.status_code, response.text)
        assert_html(response, 404)
        assert response.text == reference, (why, path)
        assert "Deze link werkt niet" in response.text


def test_forged_altered_and_garbage_tokens_get_the_same_404_page_and_change_nothing(
    tenant, database_url
) -> None:
    register_newsletter(tenant)
    subscriber(tenant)
    path = unsubscribe_path(tenant)
    signup = tenant.call(
        "POST", "/v1/newsletter/signups", json={"purpose": NEWSLETTER, "email": "b@example.nl"}
    )
    confirm_path = path_of(signup.json()["confirm_url"])
    reference = invalid_page(tenant.client)
    before, count, rows = history(tenant), event_count(database_url), link_token_rows(database_url)
    for name, forged in forgeries(token_of(path)).items():
        assert_same_404_page(tenant.client, f"/u/{forged}", reference, name)
    for name, forged in forgeries(token_of(confirm_path)).items():
        assert_same_404_page(tenant.client, f"/c/{forged}", reference, name)
    for name, garbage in GARBAGE.items():
        assert_same_404_page(tenant.client, f"/u/{garbage}", reference, name)
        assert_same_404_page(tenant.client, f"/c/{garbage}", reference, name)
    # a token of one kind does not work on the other's path
    assert_same_404_page(tenant.client, f"/u/{token_of(confirm_path)}", reference)
    assert_same_404_page(tenant.client, f"/c/{token_of(path)}", reference)
    assert history(tenant) == before
    assert event_count(database_url) == count
    assert link_token_rows(database_url) == rows
    assert standing(tenant) == ("lawful", None)
    # and the genuine ones still work afterwards
    assert_html(tenant.client.get(path), 200)
    assert_html(tenant.client.get(confirm_path), 200)


def test_over_long_token_gets_the_same_404_page_and_changes_nothing(tenant, database_url) -> None:
    register_newsletter(tenant)
    subscriber(tenant)
    real = token_of(unsubscribe_path(tenant))
    reference = invalid_page(tenant.client)
    count = event_count(database_url)
    for long_token in ("A" * 500, real + "A" * (500 - len(real)), "1." + "A" * 498):
        assert_same_404_page(tenant.client, f"/u/{long_token}", reference)
        assert_same_404_page(tenant.client, f"/c/{long_token}", reference)
    assert event_count(database_url) == count
    assert standing(tenant) == ("lawful", None)


def test_a_token_only_ever_affects_its_own_tenant_subject_and_purpose(
    make_tenant, database_url
) -> None:
    a, b = make_tenant(), make_tenant()
    for t in (a, b):  # the same subject ref and purpose code in both tenants
        register_newsletter(t)
        register_newsletter(t, EVENTS, "Uitnodigingen voor bijeenkomsten")
        subscriber(t, "client-1")
        given = t.consent("client-1", EVENTS, method="email", explicit=False)
        assert given.status_code == 201, given.text
        subscriber(t, "client-2")
    token_a, token_b = token_of(unsubscribe_path(a)), token_of(unsubscribe_path(b))
    assert token_a != token_b
    reference = invalid_page(a.client)
    count = event_count(database_url)
    # moving the MAC of one tenant's token onto the other's id does not make a valid token
    key_a, id_a, mac_a = token_a.split(".")
    key_b, id_b, mac_b = token_b.split(".")
    for moved in (f"{key_a}.{id_a}.{mac_b}", f"{key_b}.{id_b}.{mac_a}"):
        assert_same_404_page(a.client, f"/u/{moved}", reference)
    assert event_count(database_url) == count

    assert "U bent afgemeld" in assert_html(one_click(a.client, f"/u/{token_a}"), 200)
    assert standing(a, "client-1") == ("lapsed", "withdrawn")
    # … and nothing else: not the other tenant, not the other subject, not the other purpose
    assert standing(b, "client-1") == ("lawful", None)
    assert standing(a, "client-2") == ("lawful", None)
    assert standing(a, "client-1", EVENTS) == ("lawful", None)
    assert standing(b, "client-2") == ("lawful", None)
    assert not events_of(b, "ConsentWithdrawn", "client-1")
    assert event_count(database_url) == count + 1
