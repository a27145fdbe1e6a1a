"""One log format for every process: the supervisor, the API workers (their own lines and
uvicorn's, its access log too), the projector, the guardian and the embedded servers'
messages all log through the root logger, as text by default or, with
``GRONDSLAG_LOG_FORMAT=json``, as one JSON object per line::

    2026-12-01 17:35:54,120 INFO grondslag.api … request_id=4bf92f35…
    {"time": "2026-12-01T17:35:54.120Z", "level": "INFO", "logger": "grondslag.api",
     "message": "…", "process": "api-1", "pid": 4711, "request_id": "4bf92f35…",
     "trace_id": "4bf92f35…"}

``request_id`` and ``trace_id`` are those of the HTTP request being served (context
variables the API sets, ``grondslag.ledger.api.request_ids``), absent outside a request; an
exception is the member ``exception`` (its traceback as text), never extra lines. The
process is the supervisor's name for the child (``GRONDSLAG_PROCESS_NAME``: ``api-1``,
``projector``), else the command's. What a line names is redacted before it is formatted
(``grondslag.ledger.api.logs``), so both formats hold the same words.

Standard library only: the supervisor and the guardian log through it too.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from contextvars import ContextVar
from typing import Any

FORMAT_ENV = "GRONDSLAG_LOG_FORMAT"
PROCESS_ENV = "GRONDSLAG_PROCESS_NAME"
TEXT = "%(asctime)s %(levelname)s %(name)s %(message)s"

REQUEST_ID: ContextVar[str | None] = ContextVar("grondslag_request_id", default=None)
TRACE_ID: ContextVar[str | None] = ContextVar("grondslag_trace_id", default=None)

# uvicorn's access record: its ``args`` are (client, method, path, HTTP version, status)
_ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")


class RequestContext(logging.Filter):
    """Names the request (and trace) being served on each record, and the process."""

    def __init__(self, process: str):
        super().__init__()
        self.process = process

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        record.trace_id = TRACE_ID.get()
        record.process_name = self.process
        return True


class TextFormatter(logging.Formatter):
    """The text lines as they always were, with ``request_id=…`` at the end within a request."""

    def __init__(self) -> None:
        super().__init__(TEXT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        if request_id is None:
            return line
        first, newline, rest = line.partition("\n")  # after the message, before a traceback
        return f"{first} request_id={request_id}{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (a traceback is the member ``exception``)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": getattr(record, "process_name", None) or _process_name(),
            "pid": record.process,
        }
        for name in ("request_id", "trace_id"):
            if (value := getattr(record, name, None)) is not None:
                entry[name] = value
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            entry.update(zip(_ACCESS_FIELDS, record.args, strict=False))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


def _utc(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


def _process_name() -> str:
    name = os.environ.get(PROCESS_ENV)
    if name:
        return name
    argv = [a for a in sys.argv[1:] if not a.startswith("-")]
    return argv[0] if argv else "grondslag"


def json_chosen() -> bool:
    """Whether ``GRONDSLAG_LOG_FORMAT`` asks for JSON lines (then nothing else is printed)."""
    return (os.environ.get(FORMAT_ENV) or "").strip().lower() == "json"


def formatter(fmt: str | None = None) -> logging.Formatter:
    """The formatter ``GRONDSLAG_LOG_FORMAT`` (or ``fmt``) names: ``text`` or ``json``."""
    chosen = (fmt or os.environ.get(FORMAT_ENV) or "text").strip().lower()
    if chosen not in ("text", "json"):
        raise ValueError(f"{FORMAT_ENV} must be text or json, not {chosen!r}")
    return JsonFormatter() if chosen == "json" else TextFormatter()


def configure(level: int | str = logging.INFO, fmt: str | None = None) -> None:
    """Log every logger's records through one handler on stderr, in the chosen format
    (replacing a handler an earlier call installed)."""
    # No line shows the caller's file and line, the thread or the multiprocessing name, and
    # collecting them is a third of an access line's cost (the logging HOWTO's
    # "Optimization"): the records leave them out.
    logging._srcfile = None
    logging.logThreads = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler()
    try:
        handler.setFormatter(formatter(fmt))
    except ValueError as error:
        handler.setFormatter(TextFormatter())
        print(f"grondslag: {error}; logging as text", file=sys.stderr)
    handler.addFilter(RequestContext(_process_name()))
    handler._grondslag = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_grondslag", False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
