"""A stream's events are recorded in the order of their versions (``domain.recorded_order``),
whatever the writer's clock says: a second API replica whose clock runs behind the first's,
or a clock stepped back, must not record version 6 at an instant before version 5 — "as
known at" would then see the withdrawal without the consent it withdraws."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import eventsourcing.domain
import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

import grondslag.ledger.application as application
from grondslag.ledger.domain.recorded_order import TICK, after_last
from grondslag.ledger.domain.values import PersonalData

from builders import MAR_1, SUBJECT, TENANT, give, setup, standing, withdraw

HOUR = timedelta(hours=1)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@given(instants, st.lists(instants, max_size=5))
def test_after_last_is_the_clock_or_just_after_everything_recorded(clock, recorded) -> None:
    chosen = after_last(clock, recorded)
    assert chosen >= clock
    assert all(chosen > r for r in recorded)
    assert chosen == clock or chosen == max(recorded) + TICK


def _behind(monkeypatch: pytest.MonkeyPatch, lag: timedelta) -> None:
    """The ledger's clock (and the library's, for events that take its default) runs
    ``lag`` behind the clock that recorded what is stored."""
    real = datetime.now
    monkeypatch.setattr(application, "utcnow", lambda: real(UTC) - lag)
    monkeypatch.setattr(eventsourcing.domain, "datetime_now_with_tzinfo", lambda: real(UTC) - lag)


def _recorded(app, purpose: str = "newsletter") -> list[datetime]:
    return [fact.recorded_at for fact in app.dossier(TENANT, SUBJECT, purpose).facts]


def test_a_writer_whose_clock_is_behind_records_after_the_last_event(app, monkeypatch) -> None:
    setup(app)
    give(app)
    (consented,) = _recorded(app)
    _behind(monkeypatch, HOUR)
    _, answer = withdraw(app, effective_at=MAR_1)
    given_at, withdrawn_at = _recorded(app)
    assert given_at == consented
    assert withdrawn_at == consented + TICK  # not an hour before the consent
    # the command's answer is folded at the instant its event was recorded: it knows it
    assert answer.known_at == withdrawn_at
    assert (answer.status, answer.reason) == ("lapsed", "withdrawn")
    # and each instant knows a prefix of the stream: the consent alone, then both
    then = standing(app, at=MAR_1 + HOUR, known_at=consented)
    assert then.status == "lawful"
    later = standing(app, at=MAR_1 + HOUR, known_at=withdrawn_at)
    assert (later.status, later.reason) == ("lapsed", "withdrawn")


def test_every_later_command_on_a_stream_keeps_to_the_order(app, monkeypatch) -> None:
    setup(app)
    give(app)
    _behind(monkeypatch, HOUR)
    withdraw(app, effective_at=MAR_1)
    give(app, effective_at=MAR_1 + HOUR)
    recorded = _recorded(app)
    assert recorded == sorted(recorded) and len(set(recorded)) == 3, recorded


def test_an_event_at_the_librarys_own_clock_is_not_recorded_before_the_last(
    app, monkeypatch
) -> None:
    """The subject's rectification takes the library's default timestamp: it may share the
    last event's instant (the later version of the two is what was known then), never go
    before it."""
    setup(app)
    app.put_subject(TENANT, SUBJECT, PersonalData(birth_date=datetime(1990, 1, 1).date()))
    before = app.subject(TENANT, SUBJECT).modified_on
    _behind(monkeypatch, HOUR)
    app.put_subject(TENANT, SUBJECT, PersonalData(birth_date=datetime(1990, 1, 2).date()))
    assert app.subject(TENANT, SUBJECT).modified_on == before
    known = app.dossier(TENANT, SUBJECT, "").view(before)
    assert known.birth_date == datetime(1990, 1, 2).date()


def test_a_reader_whose_clock_is_behind_knows_what_was_recorded(app, monkeypatch) -> None:
    """Read-your-writes across two replicas' clocks: "now" is never before the last instant
    the dossier recorded (``Dossier.present``)."""
    setup(app)
    _, given = give(app, effective_at=None)  # in force from the writer's now
    _behind(monkeypatch, HOUR)
    read = standing(app)
    assert read.status == "lawful", read
    assert read.known_at == given.known_at and read.at == given.at


def test_the_standing_itself_records_a_fact_after_the_last_whoever_calls_it() -> None:
    """Called with a context whose clock is behind its last fact (a script, a path that did
    not ask the dossier for its ``now``), the aggregate records just after that fact, and
    its answer is folded at the instant it recorded."""
    from test_standing_guards import CONSENT, NOW, context, fresh

    standing = fresh()
    standing.give_consent(context(), **CONSENT)
    behind = msgspec.structs.replace(context(), now=NOW - HOUR)
    _, answer = standing.give_consent(behind, **{**CONSENT, "method": "email"})
    given, again = [event.timestamp for event in standing.collect_events()]
    assert given == NOW and again == NOW + TICK
    assert answer.known_at == again == standing.facts[-1].recorded_at
    assert answer.lawful
