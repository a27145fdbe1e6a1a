"""ASGI entry point for worker processes (``grondslag serve --workers N``, or any ASGI server:
``uvicorn --factory --no-proxy-headers grondslag.asgi:create``: the app believes forwarded
headers from ``GRONDSLAG_TRUSTED_PROXIES`` alone). Reads its settings from the environment."""

from __future__ import annotations

import sys

from litestar import Litestar

from grondslag.ledger.api.app import create_app
from grondslag.ledger.settings import Settings


def create() -> Litestar:
    sys.setswitchinterval(0.0005)  # see grondslag.cli.serve
    return create_app(Settings.from_env())
