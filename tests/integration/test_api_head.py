"""HEAD on the API answers as GET would, without the body (RFC 9110 §9.3.2): the status and
header fields of the GET — its ``ETag`` and ``Content-Length`` too — and 304 where the GET
would give one; it changes nothing, and the metrics count it as HEAD under the GET's route."""

from __future__ import annotations

from api_support import PURPOSE, REF, snapshot

SUBJECT = f"/v1/subjects/{REF}"
STANDING = f"{SUBJECT}/standing/{PURPOSE}"
SAME = ("content-type", "content-length", "etag")


def test_head_answers_the_gets_status_and_headers_without_the_body(ready) -> None:
    assert ready.consent().status_code == 201
    for path in (SUBJECT, STANDING, f"{SUBJECT}/history", "/v1/purposes"):
        got, head = ready.call("GET", path), ready.call("HEAD", path)
        assert (head.status_code, got.status_code) == (200, 200), (path, head.text)
        assert head.content == b"", path
        for name in SAME:
            assert head.headers.get(name) == got.headers.get(name), (path, name)


def test_head_with_the_current_etag_is_304_and_a_refusal_keeps_its_status(ready) -> None:
    tag = ready.call("GET", SUBJECT).headers["etag"]
    assert ready.call("HEAD", SUBJECT, headers={"If-None-Match": tag}).status_code == 304
    missing = ready.call("HEAD", f"{SUBJECT}-x")
    assert (missing.status_code, missing.content) == (404, b"")
    assert missing.headers["content-type"].startswith("application/problem+json")
    unkeyed = ready.client.head(SUBJECT)
    assert unkeyed.status_code == 401 and "www-authenticate" in unkeyed.headers
    post_only = ready.call("HEAD", "/v1/checks")
    assert post_only.status_code == 405, post_only.status_code


def test_head_changes_nothing_and_is_counted_as_head(ready) -> None:
    before = snapshot(ready)
    assert ready.call("HEAD", STANDING).status_code == 200
    assert snapshot(ready) == before
    metrics = ready.call("GET", "/metrics").text
    route = "/v1/subjects/{subject_ref}/standing/{purpose}"
    assert f'method="HEAD",route="{route}",status="200"' in metrics, [
        line for line in metrics.splitlines() if 'method="HEAD"' in line
    ]
