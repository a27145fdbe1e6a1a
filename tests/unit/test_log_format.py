"""One log format for every process: text as before, or one JSON object per line naming the
request being served; both keep the access log's redaction."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator

import pytest

from grondslag import logformat
from grondslag.ledger.api.logs import RedactedAccessLog


def record(name: str = "grondslag.api", msg: str = "hello %s", args: tuple = ("world",), **kw):
    return logging.LogRecord(name, logging.WARNING, __file__, 1, msg, args, kw.get("exc_info"))


def through_filters(entry: logging.LogRecord, process: str = "api-2") -> logging.LogRecord:
    logformat.RequestContext(process).filter(entry)
    return entry


@pytest.fixture
def in_request() -> Iterator[None]:
    tokens = (logformat.REQUEST_ID.set("req-1"), logformat.TRACE_ID.set("a" * 32))
    yield
    logformat.TRACE_ID.reset(tokens[1])
    logformat.REQUEST_ID.reset(tokens[0])


def test_text_is_the_format_it_was_outside_a_request() -> None:
    entry = through_filters(record())
    line = logformat.TextFormatter().format(entry)
    assert line.endswith(" WARNING grondslag.api hello world")
    assert "request_id" not in line


def test_text_names_the_request_within_one(in_request) -> None:
    line = logformat.TextFormatter().format(through_filters(record()))
    assert line.endswith(" WARNING grondslag.api hello world request_id=req-1")


def test_json_is_one_object_per_line_with_the_request_and_the_process(in_request) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        entry = record(exc_info=sys.exc_info())
    line = logformat.JsonFormatter().format(through_filters(entry))
    assert "\n" not in line  # the traceback too is inside the one line
    fields = json.loads(line)
    assert fields["level"] == "WARNING"
    assert fields["logger"] == "grondslag.api"
    assert fields["message"] == "hello world"
    assert fields["process"] == "api-2"
    assert fields["request_id"] == "req-1"
    assert fields["trace_id"] == "a" * 32
    assert fields["time"].endswith("Z")
    assert "ValueError: boom" in fields["exception"]


def test_json_outside_a_request_names_none() -> None:
    fields = json.loads(logformat.JsonFormatter().format(through_filters(record())))
    assert "request_id" not in fields and "trace_id" not in fields


def test_json_access_lines_lose_the_token_and_the_query_like_text_ones() -> None:
    args = ("127.0.0.1:5000", "GET", "/u/1.secret.token?key=geheim", "1.1", 200)
    entry = record("uvicorn.access", '%s - "%s %s HTTP/%s" %d', args)
    assert RedactedAccessLog().filter(entry)
    for formatter in (logformat.JsonFormatter(), logformat.TextFormatter()):
        line = formatter.format(through_filters(entry))
        assert "secret" not in line and "geheim" not in line
    fields = json.loads(logformat.JsonFormatter().format(entry))
    assert fields["path"] == "/u/…?…" and fields["status"] == 200 and fields["method"] == "GET"


def test_the_environment_chooses_the_format(monkeypatch, capsys) -> None:
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    try:
        monkeypatch.setenv(logformat.FORMAT_ENV, "json")
        logformat.configure()
        logformat.configure()  # again: still one handler of ours
        ours = [h for h in root.handlers if getattr(h, "_grondslag", False)]
        assert len(ours) == 1
        logging.getLogger("grondslag.test").warning("in %s", "json")
        assert json.loads(capsys.readouterr().err.strip().splitlines()[-1])["message"] == "in json"
        monkeypatch.setenv(logformat.FORMAT_ENV, "yaml")
        logformat.configure()
        assert "must be text or json" in capsys.readouterr().err
    finally:
        root.handlers[:] = before[0]
        root.setLevel(before[1])
