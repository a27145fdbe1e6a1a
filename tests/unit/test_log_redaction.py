"""The access log's paths lose a public link's token and any query string."""

from __future__ import annotations

import logging

import pytest

from grondslag.ledger.api.logs import RedactedAccessLog, redacted


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/u/1.abc.def", "/u/…"),
        ("/c/1.abc.def?lang=nl", "/c/…?…"),
        ("/u/", "/u/"),
        ("/v1/purposes?token=geheim", "/v1/purposes?…"),
        ("/v1/subjects/client-1/history", "/v1/subjects/client-1/history"),
        ("/audit/subjects/x?at=2025-01-01", "/audit/subjects/x?…"),
        ("/users/u/abc", "/users/u/abc"),  # only the public links' own prefix
    ],
)
def test_a_logged_path_names_no_token_and_no_query(path: str, logged: str) -> None:
    assert redacted(path) == logged


def test_the_filter_rewrites_uvicorns_access_record_and_keeps_it() -> None:
    args = ("127.0.0.1:5000", "GET", "/u/1.secret.token?x=y", "1.1", 200)
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None
    )
    assert RedactedAccessLog().filter(record) is True
    assert record.getMessage() == '127.0.0.1:5000 - "GET /u/…?… HTTP/1.1" 200'
