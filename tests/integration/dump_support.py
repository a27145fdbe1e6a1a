"""A plain ``pg_dump --data-only`` of a test's database, as an attacker holding the dump
reads it: by the server's own major version (the local PostgreSQL 15, or the embedded 18 a
test worker may run on), as ``grondslag backup`` picks it (``backup_commands._run``)."""

from __future__ import annotations

from grondslag.backup_commands import _run


def data_dump(database_url: str) -> str:
    done = _run("pg_dump", database_url, "--data-only")
    assert done.returncode == 0, done.stderr
    return done.stdout
