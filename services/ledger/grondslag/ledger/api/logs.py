"""Logs without secrets: the token of a public link (``/u/{token}``, ``/c/{token}``) and any
query string are cut from every path a log line names — uvicorn's access log (a filter on
``uvicorn.access``, installed when the app is created) and the API's own error lines
(``problems.py``). Whoever reads the logs cannot unsubscribe anybody or confirm a sign-up.

No line names an ``Authorization`` header, an API key or an auditor's session: uvicorn's
access log names no header, and the service's own lines name paths, never headers or bodies.
"""

from __future__ import annotations

import logging
import re

ACCESS_LOGGER = "uvicorn.access"
_TOKEN_PATH = re.compile(r"^(/[uc]/)[^/?#]+")  # the public links' token, their one segment


def redacted(path: str) -> str:
    """``path`` (maybe with a query) with a public link's token as ``…`` and no query:
    ``/u/AbC…?x=1`` → ``/u/…``. The rest of the path stays, for the log to be useful."""
    path, mark, _ = path.partition("?")
    path = _TOKEN_PATH.sub(r"\1…", path)
    return f"{path}?…" if mark else path


class RedactedAccessLog(logging.Filter):
    """Rewrites the path of uvicorn's access-log records (``args``: client address,
    method, path with query, HTTP version, status), keeping every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redacted(args[2]), *args[3:])
        return True


def redact_access_log() -> None:
    """Install the filter on uvicorn's access logger (once, whoever calls it again)."""
    access = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactedAccessLog) for f in access.filters):
        access.addFilter(RedactedAccessLog())
