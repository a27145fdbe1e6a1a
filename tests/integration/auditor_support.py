"""Helpers of the tests of the auditor's pages: a signed-in session's cookie."""

from __future__ import annotations

from typing import Any

COOKIE = "grondslag_auditor"


def signed_in(client: Any, key: str, **headers: str) -> dict[str, str]:
    """Sign in with ``key`` (an auditor's) and answer the ``Cookie`` header of the session;
    the client's own cookie jar is left empty (the session's client is shared)."""
    answer = client.post(
        "/audit/sign-in", data={"key": key, "next": "/audit"}, headers=headers,
        follow_redirects=False,
    )  # fmt: skip
    assert answer.status_code == 303, answer.text
    session = answer.cookies[COOKIE]
    client.cookies.clear()
    return {"Cookie": f"{COOKIE}={session}"}
