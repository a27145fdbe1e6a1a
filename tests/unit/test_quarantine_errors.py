"""Which errors quarantine a stream and which are tried again: those of the surroundings
(connections, time-outs, NATS, the database or its schema) are transient; those one event
brings (its bytes, a handler's crash on it, an argument or message it makes) are not."""

from __future__ import annotations

import asyncpg
import nats.errors
import psycopg
import pytest
from eventsourcing import persistence

from grondslag.ledger.domain.errors import ConcurrentChange
from grondslag.projector.audit_log import OutOfLogOrder, StreamWithoutTenant
from grondslag.projector.follower import UndecodableEvent
from grondslag.projector.quarantine import transient


def wrapped(error: Exception, outer: type[Exception]) -> Exception:
    """``outer`` raised ``from error``, as eventsourcing wraps psycopg's errors."""
    try:
        raise outer(str(error)) from error
    except outer as raised:
        return raised


@pytest.mark.parametrize(
    "error",
    [
        ConnectionResetError("reset by peer"),
        OSError("no route to host"),
        TimeoutError(),
        TimeoutError(),
        asyncpg.exceptions.ConnectionDoesNotExistError("closed in the middle of operation"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.exceptions.SerializationError("could not serialize access"),
        asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
        asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
        asyncpg.exceptions.UndefinedTableError("relation does not exist"),
        asyncpg.exceptions.ReadOnlySQLTransactionError("read-only transaction"),
        asyncpg.InterfaceError("connection is closed"),
        asyncpg.InternalClientError(
            "cannot switch to state 11; another operation (2) is in progress"
        ),
        nats.errors.NoRespondersError(),
        nats.errors.TimeoutError(),
        nats.errors.ConnectionClosedError(),
        wrapped(psycopg.OperationalError("server closed"), persistence.OperationalError),
        wrapped(psycopg.errors.UndefinedTable("no such table"), persistence.ProgrammingError),
        ConcurrentChange("the same record was changed concurrently; retry"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_errors_of_the_surroundings_are_tried_again(error: Exception) -> None:
    assert transient(error)


@pytest.mark.parametrize(
    "error",
    [
        UndecodableEvent("notification 5 cannot be decoded"),
        ValueError("Expecting value: line 1 column 25"),
        KeyError("a handler bug"),
        AttributeError("'NoneType' object has no attribute 'versions'"),
        TypeError("unsupported operand"),
        StreamWithoutTenant("event 3 belongs to an unindexed stream"),
        OutOfLogOrder("notification 3 would follow notification 9"),
        asyncpg.exceptions.InvalidTextRepresentationError("invalid input syntax for type uuid"),
        asyncpg.exceptions.UniqueViolationError("duplicate key value"),
        asyncpg.exceptions._base.DataError("invalid input for query argument $1"),
        nats.errors.MaxPayloadError(),
        wrapped(psycopg.errors.InvalidTextRepresentation("bad"), persistence.DataError),
    ],
    ids=lambda error: type(error).__name__,
)
def test_errors_of_one_event_quarantine_it(error: Exception) -> None:
    assert not transient(error)
