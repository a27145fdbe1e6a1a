"""A tenant's name: lower-case letters, digits and hyphens, 1 to 63 of them, the first no
hyphen (``demo``, ``praktijk-de-linde``).

The name is a token of the tenant's NATS subjects (``grondslag.<tenant>.basis.lapsed``), of
its keys and of its rows. A dot in it would put one tenant's messages under another's
subjects — a consumer of ``grondslag.a.>`` would receive tenant ``a.b``'s — and a space or a
line break would make them unsendable; so every way a tenant is named (a key created, the
bootstrap and operator tenants of the environment) is held to this one pattern."""

from __future__ import annotations

import re

_TENANT = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
TENANT_RULE = "lower-case letters, digits and hyphens, 1 to 63, not starting with a hyphen"


def is_tenant(name: str) -> bool:
    return _TENANT.fullmatch(name) is not None


def check_tenant(name: str) -> str:
    """``name``, or ValueError saying what a tenant's name is."""
    if not is_tenant(name):
        raise ValueError(f"{name!r} is no tenant name ({TENANT_RULE})")
    return name
