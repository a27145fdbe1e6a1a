"""The data folder of the embedded servers, private to the account that runs them.

The folder is ``0700`` (``0710`` when running as root: the group of the system account
PostgreSQL runs as may pass through it, never list or read it); the files directly in it
(logs, locks, pids, secrets, the supervisor's counts) and the JetStream store are
``0600``/``0700``. A folder found wider — one made before this rule, or by hand — is
narrowed at the next start, with a warning naming what changed. Only files directly in
the folder and the ``nats/`` store are narrowed: a ``GRONDSLAG_DATA_DIR`` pointed at a
home folder must not have its whole tree rewritten.

Secrets (the PostgreSQL and NATS passwords) are files written 0600 on first start, created
exclusively so that two processes starting together agree on one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
from pathlib import Path

__all__ = ["open_private", "read_or_create_secret", "secure_folder"]

log = logging.getLogger(__name__)

PRIVATE_UMASK = 0o077  # the umask of the embedded servers' processes
_OTHERS = 0o077


def secure_folder(path: Path, *, group: int | None = None) -> Path:
    """Create ``path`` private (0700; 0710 with group ``group`` when given), or narrow it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    wanted = 0o700 if group is None else 0o710
    st = path.stat()
    if group is not None and st.st_gid != group:
        os.chown(path, -1, group)
    mode = stat.S_IMODE(st.st_mode)
    if mode != wanted:
        if mode & ~wanted & _OTHERS:
            log.warning(
                "the data folder %s was open to other users (mode %o): now %o", path, mode, wanted
            )
        path.chmod(wanted)
    narrowed = [entry for entry in _entries(path) if _narrow(entry)]
    if narrowed:
        log.warning(
            "removed group and other access from %d file(s) in %s (%s)",
            len(narrowed),
            path,
            ", ".join(str(p.relative_to(path)) for p in narrowed[:5])
            + (", …" if len(narrowed) > 5 else ""),
        )
    return path


def _entries(folder: Path) -> list[Path]:
    found: list[Path] = []
    with contextlib.suppress(FileNotFoundError):
        for entry in folder.iterdir():
            found.append(entry)
            if entry.name == "nats" and entry.is_dir() and not entry.is_symlink():
                for root, dirs, files in os.walk(entry):
                    found += [Path(root, name) for name in dirs + files]
    return found


def _narrow(path: Path) -> bool:
    """Remove group and other bits from ``path`` (not following links); whether it had any."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(st.st_mode) or not stat.S_IMODE(st.st_mode) & _OTHERS:
        return False
    path.chmod(stat.S_IMODE(st.st_mode) & ~_OTHERS)
    return True


def open_private(path: Path, flags: int = os.O_WRONLY | os.O_CREAT | os.O_APPEND) -> int:
    """``os.open`` a file that is created 0600 (and made 0600 if it was wider)."""
    fd = os.open(path, flags, 0o600)
    if stat.S_IMODE(os.fstat(fd).st_mode) & _OTHERS:
        os.fchmod(fd, 0o600)
    return fd


def read_or_create_secret(path: Path) -> tuple[str, bool]:
    """The secret in ``path``, and whether it was generated now (256 random bits, URL-safe).

    Created exclusively (a link from a private temporary file), so that processes that
    start together all read the one secret that won."""
    created = False
    if not path.exists():
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(secrets.token_urlsafe(32) + "\n")
                out.flush()
                os.fsync(out.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
                created = True
        finally:
            temporary.unlink(missing_ok=True)
    if stat.S_IMODE(path.stat().st_mode) & _OTHERS:
        log.warning("%s was readable by others: now 0600", path)
        path.chmod(0o600)
    secret = path.read_text(encoding="ascii").strip()
    if not secret:
        raise ValueError(f"{path} is empty: remove it to have a new secret generated")
    return secret, created
