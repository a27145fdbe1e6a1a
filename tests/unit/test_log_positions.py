"""Log positions as the API spells them (PostgreSQL's LSN text), and which replica errors
leave a read to the primary (``reads.replica``)."""

from __future__ import annotations

import asyncpg
import pytest

from grondslag.ledger.reads.replica import format_position, parse_position, replica_away


@pytest.mark.parametrize("text", ["0/0", "0/16B3748", "16/B374D848", "FFFFFFFF/FFFFFFFF"])
def test_a_position_reads_back_as_it_was_written(text: str) -> None:
    assert format_position(parse_position(text)) == text


def test_positions_order_as_the_log_does() -> None:
    assert parse_position("0/FFFFFFFF") < parse_position("1/0") < parse_position("1/1")
    assert parse_position("0/16b3748") == parse_position("0/16B3748")


@pytest.mark.parametrize("text", ["", "16B3748", "0/", "/1", "0/1/2", "g/1", "123456789/0"])
def test_what_is_no_position_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="no log position"):
        parse_position(text)


def test_a_replica_away_or_in_conflict_with_its_replay_leaves_the_read_to_the_primary() -> None:
    assert replica_away(ConnectionRefusedError())
    assert replica_away(TimeoutError())
    assert replica_away(asyncpg.CannotConnectNowError("the database system is starting up"))
    assert replica_away(asyncpg.SerializationError("conflict with recovery"))  # 40001
    assert replica_away(asyncpg.InterfaceError("connection is closed"))
    # a read that fails by itself fails on the primary too: not the replica's fault
    assert not replica_away(asyncpg.UndefinedTableError("no such table"))
    assert not replica_away(ValueError("a bug"))
