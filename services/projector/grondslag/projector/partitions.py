"""Which partition of a projection's work an event belongs to, and how many partitions one
projector process should own: pure functions, the same answer in every process.

A projection's work is split by tenant, so that a tenant's events — and its audit tree,
whose leaves must be appended in log order — stay in one owner's hands. The tenant is the
stream index's (``grondslag_streams``, written in the transaction of the stream's opening
event, so it is there whenever any of the stream's events is visible); a stream the index
does not know is placed by its own id, which never changes either. The hash is MD5's first
28 bits, computed alike here and in SQL (``SQL_PARTITION``), so that a follower can ask the
database for its partition's events only.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable

# the partition of an event row ``e`` joined with its stream index row ``s`` (or none)
SQL_KEY = "coalesce(s.tenant, e.originator_id::text)"


def sql_partition(key: str, count: str) -> str:
    """The SQL expression of ``partition_of(key, count)`` (both SQL expressions)."""
    return f"((('x' || substr(md5({key}), 1, 7))::bit(28)::integer) % {count})"


def partition_of(key: str, count: int) -> int:
    """The partition of a tenant (or of a stream's id, as text, when no tenant is known)."""
    return int(hashlib.md5(key.encode()).hexdigest()[:7], 16) % count


def fair_share(count: int, alive: int) -> int:
    """How many partitions one of ``alive`` processes may own: enough that together they
    own all, so that at most one process owns fewer than the others."""
    return math.ceil(count / max(alive, 1))


def to_release(owned: Iterable[int], share: int) -> list[int]:
    """Owned partitions beyond the fair share, to give back (the highest first)."""
    mine = sorted(owned, reverse=True)
    return mine[: max(len(mine) - share, 0)]


def to_claim(count: int, owned: set[int], taken: set[int], share: int, start: int) -> list[int]:
    """Free partitions to try, up to the fair share, starting at ``start`` (a number of the
    process's own) so that processes starting together do not all reach for partition 0."""
    wanted = share - len(owned)
    if wanted <= 0:
        return []
    free = [(start + n) % count for n in range(count)]
    return [p for p in free if p not in owned and p not in taken][:wanted]
