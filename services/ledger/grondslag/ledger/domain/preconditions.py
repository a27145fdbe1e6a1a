"""Preconditions on writes (RFC 9110 §13.1): the version a writer read, checked against the
version its command decides on.

A resource's entity tag is the version of the streams its answer folds: a purpose's stream,
or, for a standing, the subject's, the purpose's and the standing's (0 before it has one).
The HTTP layer puts the request's ``If-Match`` and ``If-None-Match`` in ``PRECONDITIONS``; the
command compares it with the aggregates it loaded, in the attempt that saves. The event
store refuses a save whose stream moved on since the load (its version check), and the
command is then run again on the fresh state — where the stale tag no longer matches: a
concurrent write is a 412, never a lost update.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

from .dossier import Dossier
from .errors import PreconditionFailed, PreconditionRequired

Header = Literal["If-Match", "If-None-Match", "required"]


@dataclass(frozen=True)
class Precondition:
    """One conditional header: its entity tags, or ``None`` for ``*`` (any version)."""

    header: Header
    tags: tuple[str, ...] | None

    def check(self, current: str | None) -> None:
        """Refuse the command: 428 when a precondition was required and none came, 412 when
        it does not hold for ``current``."""
        if self.header == "required":
            raise PreconditionRequired(
                "send If-Match with the ETag of the version you read (or * for any version)",
                field="If-Match",
            )
        if not self.holds(current):
            raise PreconditionFailed(
                f"{self.header} does not hold for the current version "
                f"({current or 'none: no such resource'})",
                field=self.header,
            )

    def holds(self, current: str | None) -> bool:
        """Whether it holds for the resource's current tag (``None``: no such resource).
        ``If-Match`` compares strongly (a weak tag never matches), ``If-None-Match`` weakly."""
        if self.header == "If-Match":
            return current is not None and (self.tags is None or current in self.tags)
        if current is None:
            return True
        return self.tags is not None and current not in {t.removeprefix("W/") for t in self.tags}


REQUIRED = Precondition("required", None)  # stands for the missing one a route requires
PRECONDITIONS: ContextVar[tuple[Precondition, ...]] = ContextVar("preconditions", default=())


def entity_tag(*versions: int) -> str:
    return '"' + ".".join(str(v) for v in versions) + '"'


def standing_tag(dossier: Dossier) -> str:
    """The versions a standing's answer folds: the subject, the register entry, the standing."""
    stream = dossier.standing_stream
    return entity_tag(
        dossier.subject.version if dossier.subject else 0,
        dossier.register.version if dossier.register else 0,
        stream.version if stream else 0,
    )


def check_precondition(current: str | None) -> None:
    """Refuse the command (412, 428) unless the request's preconditions hold for ``current``."""
    for precondition in PRECONDITIONS.get():
        precondition.check(current)
