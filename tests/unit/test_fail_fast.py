"""A command of a request that arrived before the latest wait for a database connection ran
out fails at once, as if it had waited; a request that arrives later tries the pool again,
and once it got a connection the queued ones do too; only a wait that ran out counts, never
another failure."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, OperationalError
from psycopg_pool import PoolTimeout

from grondslag.ledger.persistence.fail_fast import Refusals, failing_fast, note_arrival


class Pool:
    """A datastore's ``get_connection`` that fails with ``error`` (None: yields one)."""

    def __init__(self, error: Exception | None = None):
        self.error, self.asked = error, 0

    @contextlib.contextmanager
    def get_connection(self) -> Iterator[str]:
        self.asked += 1
        if self.error is not None:
            raise self.error
        yield "conn"


def timed_out() -> OperationalError:
    error = OperationalError("couldn't get a connection after 5.00 sec")
    error.__cause__ = PoolTimeout("couldn't get a connection after 5.00 sec")
    return error


def in_request() -> contextvars.Context:
    """A request's context, arrived now; its command runs in it later."""
    context = contextvars.copy_context()
    context.run(note_arrival)
    return context


def use(connection: Callable[[], Any]) -> None:
    with connection():
        pass


def test_a_request_that_queued_through_a_refused_wait_fails_without_a_wait_of_its_own() -> None:
    pool, refusals = Pool(timed_out()), Refusals()
    connection = failing_fast(pool.get_connection, refusals)
    first, queued = in_request(), in_request()  # both arrive, one runs first
    with pytest.raises(OperationalError):
        first.run(use, connection)
    assert pool.asked == 1
    with pytest.raises(OperationalError) as refused:
        queued.run(use, connection)
    assert pool.asked == 1, "it waited again"
    assert isinstance(refused.value.__cause__, PoolTimeout)  # the API answers 503 for it

    later = in_request()  # arrived after the wait ran out: tries the pool again
    pool.error = None
    later.run(use, connection)
    assert pool.asked == 2


def test_once_a_connection_came_the_requests_queued_before_it_try_the_pool_again() -> None:
    """The database came back: a request queued through the outage is answered (it waited
    its turn anyway), not refused for an outage that is over."""
    pool, refusals = Pool(timed_out()), Refusals()
    connection = failing_fast(pool.get_connection, refusals)
    first, queued, queued_too = in_request(), in_request(), in_request()
    with pytest.raises(OperationalError):
        first.run(use, connection)  # the wait runs out after all three arrived
    pool.error = None  # the database is back, but nothing has got a connection yet
    with pytest.raises(OperationalError):
        queued.run(use, connection)  # refused with the wait, without one of its own
    assert pool.asked == 1
    in_request().run(use, connection)  # arrived after the refusal: tries, and gets one
    assert pool.asked == 2
    queued_too.run(use, connection)  # arrived before the refusal, runs after the recovery
    assert pool.asked == 3


def test_a_command_of_no_request_always_tries_the_pool() -> None:
    pool, refusals = Pool(timed_out()), Refusals()
    connection = failing_fast(pool.get_connection, refusals)
    for _ in range(2):
        with pytest.raises(OperationalError):
            contextvars.Context().run(use, connection)
    assert pool.asked == 2


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("could not serialize access"),  # a conflict, not an outage
        IntegrityError("duplicate key"),
    ],
)
def test_other_failures_do_not_fail_the_queued_requests(error: Exception) -> None:
    pool = Pool(error)
    connection = failing_fast(pool.get_connection, Refusals())
    first, queued = in_request(), in_request()
    for request in (first, queued):
        with pytest.raises(type(error)):
            request.run(use, connection)
    assert pool.asked == 2
