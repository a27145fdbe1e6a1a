"""The controller's identity as it applied at a moment, as known at another (asyncpg)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from ..domain.controller import Controller, IdentityVersion
from ..domain.ids import controller_id
from .streams import load_aggregates


async def identity_at(
    pool: asyncpg.Pool | asyncpg.Connection, tenant: str, at: datetime, known_at: datetime
) -> IdentityVersion | None:
    """The identity that applied at ``at`` as known at ``known_at``; None when none was."""
    stream = controller_id(tenant)
    found = await load_aggregates(pool, [stream])
    controller: Controller | None = found.get(stream)
    return controller.at(at, known_at) if controller else None
