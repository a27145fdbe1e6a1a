"""Which errors of the two drivers (and of eventsourcing's wrapping) mean "the database is
away" or rolled a transaction back — 503 with Retry-After — and which stay a failure of
their own (500)."""

from __future__ import annotations

import socket

import asyncpg
import psycopg
import psycopg.errors
import psycopg_pool
import pytest
from eventsourcing import persistence

from grondslag.ledger.api.problems import database_unavailable


def wrapped(cause: BaseException) -> BaseException:
    """As eventsourcing's datastore raises psycopg's errors: its own, from psycopg's."""
    try:
        raise persistence.OperationalError(str(cause)) from cause
    except persistence.OperationalError as error:
        return error


UNAVAILABLE = {
    "asyncpg: too many clients": asyncpg.TooManyConnectionsError("sorry, too many clients"),
    "asyncpg: shutting down": asyncpg.CannotConnectNowError("the database is shutting down"),
    "asyncpg: admin shutdown": asyncpg.AdminShutdownError("terminating connection"),
    "asyncpg: closed mid-query": asyncpg.ConnectionDoesNotExistError("closed in the middle"),
    "asyncpg: connection closed": asyncpg.InterfaceError("connection is closed"),
    "asyncpg: pool closing": asyncpg.InterfaceError("pool is closing"),
    # a pooled connection the refusals left mid-connect (seen with the role's connection
    # limit reached: the pool's refill failed with too many connections meanwhile)
    "asyncpg: left mid-operation": asyncpg.InternalClientError(
        "cannot switch to state 11; another operation (2) is in progress"
    ),
    "refused": ConnectionRefusedError(111, "Connect call failed"),
    "reset": ConnectionResetError(104, "Connection reset by peer"),
    "no name": socket.gaierror(-2, "Name or service not known"),
    "connect timed out": TimeoutError(),
    "psycopg: refused": psycopg.OperationalError("connection failed: Connection refused"),
    "psycopg: admin shutdown": psycopg.errors.AdminShutdown("terminating connection"),
    "psycopg: too many clients": psycopg.errors.TooManyConnections("too many clients"),
    "pool timeout": psycopg_pool.PoolTimeout("couldn't get a connection after 5.00 sec"),
    "eventsourcing: pool timeout": wrapped(psycopg_pool.PoolTimeout("after 5.00 sec")),
    "eventsourcing: lost": wrapped(psycopg.OperationalError("server closed the connection")),
    "eventsourcing: admin shutdown": wrapped(psycopg.errors.AdminShutdown("terminating")),
    # a transaction the server rolled back: nothing stored, and a retry succeeds (a
    # projector starting beside writes could deadlock one; it was a 500)
    "psycopg: deadlock": psycopg.errors.DeadlockDetected("deadlock detected"),
    "eventsourcing: deadlock": wrapped(psycopg.errors.DeadlockDetected("deadlock detected")),
    "psycopg: serialization": psycopg.errors.SerializationFailure("could not serialize"),
    "asyncpg: deadlock": asyncpg.DeadlockDetectedError("deadlock detected"),
}
OF_THEIR_OWN = {
    "asyncpg: unique violation": asyncpg.UniqueViolationError("duplicate key"),
    "asyncpg: query cancelled": asyncpg.QueryCanceledError("statement timeout"),
    "asyncpg: busy connection": asyncpg.InterfaceError("another operation is in progress"),
    "asyncpg: cannot encode": asyncpg.DataError("invalid input for query argument"),
    "psycopg: query cancelled": psycopg.errors.QueryCanceled("statement timeout"),
    "psycopg: syntax": psycopg.errors.SyntaxError("syntax error"),
    "eventsourcing: no cause": persistence.OperationalError("something else"),
    "a missing file": FileNotFoundError(2, "No such file"),
    "a bug": TypeError("unsupported operand"),
}


@pytest.mark.parametrize("error", UNAVAILABLE.values(), ids=UNAVAILABLE.keys())
def test_the_database_away_is_unavailable(error: BaseException) -> None:
    assert database_unavailable(error)


@pytest.mark.parametrize("error", OF_THEIR_OWN.values(), ids=OF_THEIR_OWN.keys())
def test_other_errors_are_not(error: BaseException) -> None:
    assert not database_unavailable(error)
