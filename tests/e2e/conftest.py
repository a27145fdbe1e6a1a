"""What the served processes of these tests run on.

A test that serves with a data folder of its own seals personal data under that folder's
keyring, which no other process of the session holds: on the session's database, every
later projector would meet the test's streams and, unable to open them, quarantine them
(``KeyUnavailable``), so that another test's readiness check found the quarantine. Such a
test serves on a database of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest

NewDatabase = Callable[[str], AbstractContextManager[str]]


@pytest.fixture
def own_database_url(new_database: NewDatabase) -> Iterator[str]:
    """A database of this test's own, dropped afterwards."""
    with new_database("grondslag_served") as url:
        yield url


@pytest.fixture(scope="module")
def module_database_url(new_database: NewDatabase) -> Iterator[str]:
    """A database of this module's own (one served process for the module's tests)."""
    with new_database("grondslag_served") as url:
        yield url
