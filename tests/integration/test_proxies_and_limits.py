"""Forwarded headers count only from the proxies the operator trusts
(``GRONDSLAG_TRUSTED_PROXIES``); the public links' rate limit keys on the real client, so a
forged ``X-Forwarded-For`` does not reset it; its refusal is an HTML page with
``Retry-After`` on the links and problem+json with ``Retry-After`` elsewhere.

(litestar's test client connects as the host ``testclient``: that is the proxy trusted here.)"""

from __future__ import annotations

from litestar.exceptions import TooManyRequestsException
from litestar.testing import RequestFactory

from grondslag.ledger.api.limits import trusted_proxies
from grondslag.ledger.api.problems import on_http_exception
from grondslag.ledger.settings import Settings

from newsletter_support import (
    other_app,
    register_newsletter,
    subscriber,
    unsubscribe_path,
)


def forged(n: int) -> dict[str, str]:
    return {"X-Forwarded-For": f"198.51.100.{n}", "X-Real-IP": f"198.51.100.{n}"}


def test_a_forged_x_forwarded_for_does_not_reset_the_limit(database_url) -> None:
    with other_app(database_url, public_rate_limit_per_minute=3) as limited:
        answers = [limited.get("/u/unknown", headers=forged(n)).status_code for n in range(6)]
    assert answers == [404, 404, 404, 429, 429, 429]


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(database_url) -> None:
    with other_app(
        database_url, public_rate_limit_per_minute=2, trusted_proxies=("testclient",)
    ) as limited:
        first = [limited.get("/u/x", headers=forged(1)).status_code for _ in range(3)]
        other = limited.get("/u/x", headers=forged(2)).status_code
        # a client's own forged entry before the proxy's is passed by: the proxy appended
        # the address it saw last, and that one is still limited
        chained = {"X-Forwarded-For": "203.0.113.50, 198.51.100.1"}
        again = limited.get("/u/x", headers=chained).status_code
    assert first == [404, 404, 429]
    assert other == 404
    assert again == 429


def test_the_limit_answers_a_person_with_a_page_and_retry_after(tenant, database_url) -> None:
    register_newsletter(tenant)
    subscriber(tenant)
    path = unsubscribe_path(tenant)
    with other_app(database_url, public_rate_limit_per_minute=1) as limited:
        assert limited.get(path).status_code == 200
        refused = limited.get(path, headers={"Accept-Language": "en"})
        refused_post = limited.post(path)
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("text/html")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "Please wait" in refused.text and refused.headers["retry-after"] in refused.text
    assert refused_post.status_code == 429 and "Even wachten" in refused_post.text
    assert int(refused_post.headers["retry-after"]) >= 1


def test_a_429_elsewhere_is_problem_json_with_retry_after() -> None:
    error = TooManyRequestsException("slow down", headers={"Retry-After": "7"})
    response = on_http_exception(RequestFactory().get("/v1/purposes"), error)
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    assert response.media_type == "application/problem+json"
    assert response.content.title == "Too many requests"


def test_trusted_proxies_are_read_from_the_environment_and_none_by_default() -> None:
    """uvicorn's own default trusted 127.0.0.1: any client on the same host could forge."""
    env = {"GRONDSLAG_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.5 ::1"}
    assert Settings.from_env(env).trusted_proxies == ("10.0.0.0/8", "192.168.1.5", "::1")
    assert Settings.from_env({}).trusted_proxies == ()
    assert trusted_proxies(Settings()) == []
