"""The public links' rate limit, per client and not on the API, and logs without e-mail
addresses, also in loggers that do not propagate to the root."""

from __future__ import annotations

import logging

from newsletter_support import (
    NEWSLETTER,
    assert_html,
    assert_problem,
    one_click,
    other_app,
    path_of,
    register_newsletter,
    signup,
    standing,
    subscriber,
    unsubscribe_path,
)

# -- rate limit ------------------------------------------------------------------------------


def test_public_links_are_rate_limited_per_client_but_the_api_is_not(tenant, database_url) -> None:
    register_newsletter(tenant)
    subscriber(tenant)
    path = unsubscribe_path(tenant)
    auth = {"Authorization": f"Bearer {tenant.key}"}
    with other_app(database_url, public_rate_limit_per_minute=5) as limited:
        answers = [limited.get(path).status_code for _ in range(3)]
        answers += [limited.get("/u/hello").status_code, limited.get("/c/hello").status_code]
        assert answers == [200, 200, 200, 404, 404]
        assert limited.get(path).status_code == 429
        assert one_click(limited, path).status_code == 429
        assert limited.get("/c/hello").status_code == 429
        for _ in range(10):
            api = limited.get("/v1/subjects/client-1/standing/newsletter", headers=auth)
            assert api.status_code == 200, api.text
        created = limited.post(
            "/v1/subjects/client-1/unsubscribe-links", json={"purpose": NEWSLETTER}, headers=auth
        )
        assert created.status_code == 200, created.text
    assert standing(tenant) == ("lawful", None)  # the refused POST changed nothing


# -- logs ------------------------------------------------------------------------------------


class Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_no_email_address_in_any_log_record(tenant, caplog) -> None:
    """Also loggers that do not propagate to the root (where caplog listens) are watched."""
    register_newsletter(tenant)
    email = "geheim.adres@example.nl"
    collector = Collector()
    silent = [
        lg
        for lg in logging.Logger.manager.loggerDict.values()
        if isinstance(lg, logging.Logger) and not lg.propagate
    ]
    caplog.set_level(logging.DEBUG)
    for lg in silent:
        lg.addHandler(collector)
    try:
        response = signup(tenant, email)
        assert response.status_code == 201, response.text
        ref = response.json()["subject_ref"]
        assert_html(tenant.client.post(path_of(response.json()["confirm_url"])), 200)
        path = unsubscribe_path(tenant, ref)
        assert_html(tenant.client.get(path), 200)
        assert_html(one_click(tenant.client, path), 200)
        assert standing(tenant, ref) == ("lapsed", "withdrawn")
        again = signup(tenant, email.upper())
        assert again.status_code == 201
        assert_problem(signup(tenant, email + ".", "not-registered"), 409)
    finally:
        for lg in silent:
            lg.removeHandler(collector)
    records = caplog.records + collector.records
    for record in records:
        text = f"{record.getMessage()} {record.args!r} {record.exc_text or ''}".lower()
        assert "geheim" not in text, (record.name, text)
    assert "geheim" not in caplog.text.lower()
