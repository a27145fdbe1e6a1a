"""R24: restriction of processing (art. 18, "afschermen").

While a restriction is in force the purpose's data is stored but not otherwise processed:
the standing is ``restricted`` (not lawful) from the restriction's effective time until a
lift takes effect, whatever basis covers it meanwhile. A restriction is in force or not as
the facts known at the moment of knowledge say (bitemporal, like every other fact); a
lift needs a restriction in force when it takes effect, and a restriction needs none;
neither may be dated before a known one it would repeat (a second lift of the same
restriction, a restriction running into a later one).
"""

from __future__ import annotations

from datetime import datetime

from .errors import RuleViolated
from .facts import Fact
from .values import Restriction, RestrictionLift

RESTRICTIONS = (Restriction, RestrictionLift)


def restriction_in_force(facts: list[Fact], at: datetime) -> Fact | None:
    """The restriction in force at ``at`` among ``facts`` (those known), if any: the last
    restriction or lift to take effect by then decides (of two at once, the later
    recorded)."""
    said = [f for f in facts if isinstance(f.statement, RESTRICTIONS) and f.effective_at <= at]
    last = max(said, key=lambda f: (f.effective_at, f.recorded_at), default=None)
    return last if last is not None and isinstance(last.statement, Restriction) else None


def _next_after(facts: list[Fact], at: datetime) -> Fact | None:
    """The first restriction or lift among ``facts`` to take effect after ``at``, if any."""
    later = [f for f in facts if isinstance(f.statement, RESTRICTIONS) and f.effective_at > at]
    return min(later, key=lambda f: (f.effective_at, f.recorded_at), default=None)


def check_restriction(purpose: str, facts: list[Fact], restriction: Restriction) -> None:
    """R24: a purpose already restricted at that time is not restricted twice; nor is it
    restricted from before a known restriction, which the new one would run into (the same
    restriction sent twice at once would otherwise be recorded twice)."""
    if restriction_in_force(facts, restriction.effective_at) is not None:
        raise RuleViolated(
            "R24",
            f"processing for {purpose!r} is already restricted at "
            f"{restriction.effective_at.isoformat()}; lift it first or leave it",
            field="purposes",
        )
    following = _next_after(facts, restriction.effective_at)
    if following is not None:
        raise RuleViolated(
            "R24",
            f"processing for {purpose!r} is restricted from "
            f"{following.effective_at.isoformat()} already; a restriction from "
            f"{restriction.effective_at.isoformat()} would run into it",
            field="purposes",
        )


def check_lift(purpose: str, facts: list[Fact], lift: RestrictionLift) -> None:
    """R24: only a restriction in force when the lift takes effect can be lifted, and only
    once: not again from before the lift already known."""
    if restriction_in_force(facts, lift.effective_at) is None:
        raise RuleViolated(
            "R24",
            f"no restriction of {purpose!r} is in force at {lift.effective_at.isoformat()} to lift",
            field="effective_at",
        )
    following = _next_after(facts, lift.effective_at)
    if following is not None and isinstance(following.statement, RestrictionLift):
        raise RuleViolated(
            "R24",
            f"the restriction of {purpose!r} in force at {lift.effective_at.isoformat()} is "
            f"lifted already, from {following.effective_at.isoformat()}; a restriction is "
            "lifted once",
            field="effective_at",
        )
