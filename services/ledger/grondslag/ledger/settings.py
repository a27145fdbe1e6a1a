"""Settings of the ledger, read once from the environment and passed in explicitly."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

from .nats_urls import nats_servers
from .tenants import check_tenant

MAX_PARTITIONS = 1024  # advisory lock ids and tracking rows: far beyond any need


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the ledger and projector need to know about their surroundings.

    ``database_url`` / ``nats_url`` of ``None`` mean "start the embedded servers"
    (see ``grondslag.embedded``); the CLI fills them in before anything connects.
    """

    database_url: str | None = None
    # a streaming replica of it for reads (None: every read goes to the primary)
    database_read_url: str | None = None
    nats_url: str | None = None  # one server, or a cluster's comma-separated (``nats_servers``)
    # the relay's JetStream stream: how many servers keep a copy (a cluster's 3 or 5 survive
    # the loss of one or two), and on disk or in memory
    nats_replicas: int = 1
    nats_storage: str = "file"
    data_dir: Path = Path(".grondslag")
    bootstrap_key: str | None = None
    bootstrap_tenant: str = "demo"
    # the tenant whose metrics keys see every tenant's series on /metrics (None: the
    # bootstrap tenant); any other tenant's metrics key sees its own only
    operator_tenant: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    write_pool_size: int = 8
    read_pool_size: int = 8
    # the longest a request waits for the database — to connect, or for a pooled connection
    # — before it answers 503 (whole seconds: libpq's connect_timeout)
    database_wait_seconds: int = 5
    max_body_bytes: int = 1024 * 1024
    # the longest a read that names a log position waits for the replica to replay it,
    # before the primary answers it
    read_wait_seconds: float = 1.0
    projection_poll_seconds: float = 1.0
    # each projection's work, split by tenant, for several `grondslag project` processes to
    # share (``projector.partitions``); changed safely only while every partition is at the
    # same position (the projector refuses to start otherwise)
    projection_partitions: int = 8
    projector_health_port: int | None = None  # `grondslag project`'s own /health and /metrics
    # standings a projector keeps folded in memory, to fold only their new events onto
    # (``projector.kept_standings``; ~5 KB for a standing of ten events; 0: none)
    projector_kept_standings: int = 10_000
    # a projection trailing the log by more is reported "behind" by /health/ready (status
    # degraded, still 200: the reads fold from the log where a read model trails)
    ready_max_lag_seconds: float = 30.0
    signup_ttl_hours: float = 72.0
    public_rate_limit_per_minute: int = 300
    # addresses or networks (CIDR) whose X-Forwarded-For / -Proto are believed; none: nobody's
    trusted_proxies: tuple[str, ...] = ()
    # the auditor's session: ended after this long idle, and this long after sign-in at most
    auditor_idle_minutes: float = 30.0
    auditor_session_hours: float = 8.0
    # the session cookie's Secure flag: None = when GRONDSLAG_PUBLIC_URL or the request is https
    cookie_secure: bool | None = None
    audit_key_file: Path | None = None  # None: <data_dir>/audit-signing-key.pem
    key_pepper_file: Path | None = None  # None: <data_dir>/api-key-pepper
    key_pepper: str | None = None  # the API key pepper itself (else the file's)
    checkpoint_seconds: float = 60.0
    checkpoint_heartbeat_seconds: float = 86_400.0
    restarts_file: Path | None = None  # set by `grondslag serve` for its children
    request_due_soon: timedelta = timedelta(days=7)  # R23: warn this long before a due date
    # the key-encryption keys (``persistence.envelope``): base64 in the environment, or a
    # keyring file (None: <data_dir>/master-keys, created on first start)
    master_key: str | None = field(default=None, repr=False)
    master_key_file: Path | None = None
    link_key_grace: timedelta = timedelta(days=90)  # links under a replaced secret, this long
    # migrate the database to this release's schema at start (``persistence.migrations``);
    # False: refuse to start on a database that is behind (``grondslag migrate`` first)
    migrate: bool = True

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            database_read_url=env.get("DATABASE_READ_URL") or None,
            read_wait_seconds=float(
                env.get("GRONDSLAG_READ_WAIT_SECONDS", defaults.read_wait_seconds)
            ),
            nats_url=_nats_url(env.get("NATS_URL") or None),
            # (named by settings_from_env, as every GRONDSLAG_ setting that does not parse)
            nats_replicas=_within(
                env.get("GRONDSLAG_NATS_REPLICAS", str(defaults.nats_replicas)), 1, 5
            ),
            nats_storage=_one_of(
                env.get("GRONDSLAG_NATS_STORAGE", defaults.nats_storage), ("file", "memory")
            ),
            data_dir=Path(env.get("GRONDSLAG_DATA_DIR", str(defaults.data_dir))),
            bootstrap_key=env.get("GRONDSLAG_BOOTSTRAP_KEY") or None,
            bootstrap_tenant=check_tenant(
                env.get("GRONDSLAG_BOOTSTRAP_TENANT", defaults.bootstrap_tenant)
            ),
            operator_tenant=_maybe_tenant(env.get("GRONDSLAG_OPERATOR_TENANT") or None),
            public_url=env.get("GRONDSLAG_PUBLIC_URL", defaults.public_url).rstrip("/"),
            write_pool_size=int(env.get("GRONDSLAG_WRITE_POOL_SIZE", defaults.write_pool_size)),
            read_pool_size=int(env.get("GRONDSLAG_READ_POOL_SIZE", defaults.read_pool_size)),
            database_wait_seconds=int(
                env.get("GRONDSLAG_DATABASE_WAIT_SECONDS", defaults.database_wait_seconds)
            ),
            signup_ttl_hours=float(
                env.get("GRONDSLAG_SIGNUP_TTL_HOURS", defaults.signup_ttl_hours)
            ),
            public_rate_limit_per_minute=int(
                env.get("GRONDSLAG_PUBLIC_RATE_LIMIT", defaults.public_rate_limit_per_minute)
            ),
            trusted_proxies=tuple(
                part
                for part in re.split(r"[\s,]+", env.get("GRONDSLAG_TRUSTED_PROXIES", ""))
                if part
            ),
            auditor_idle_minutes=float(
                env.get("GRONDSLAG_AUDITOR_IDLE_MINUTES", defaults.auditor_idle_minutes)
            ),
            auditor_session_hours=float(
                env.get("GRONDSLAG_AUDITOR_SESSION_HOURS", defaults.auditor_session_hours)
            ),
            cookie_secure=_flag(env.get("GRONDSLAG_COOKIE_SECURE", "auto")),
            audit_key_file=Path(env["GRONDSLAG_AUDIT_KEY_FILE"])
            if env.get("GRONDSLAG_AUDIT_KEY_FILE")
            else None,
            key_pepper_file=Path(env["GRONDSLAG_KEY_PEPPER_FILE"])
            if env.get("GRONDSLAG_KEY_PEPPER_FILE")
            else None,
            key_pepper=env.get("GRONDSLAG_KEY_PEPPER") or None,
            checkpoint_seconds=float(
                env.get("GRONDSLAG_CHECKPOINT_SECONDS", defaults.checkpoint_seconds)
            ),
            checkpoint_heartbeat_seconds=float(
                env.get(
                    "GRONDSLAG_CHECKPOINT_HEARTBEAT_SECONDS", defaults.checkpoint_heartbeat_seconds
                )
            ),
            ready_max_lag_seconds=float(
                env.get("GRONDSLAG_READY_MAX_LAG_SECONDS", defaults.ready_max_lag_seconds)
            ),
            restarts_file=Path(env["GRONDSLAG_RESTARTS_FILE"])
            if env.get("GRONDSLAG_RESTARTS_FILE")
            else None,
            request_due_soon=lead_time(env.get("GRONDSLAG_REQUEST_DUE_SOON", "P7D")),
            master_key=env.get("GRONDSLAG_MASTER_KEY") or None,
            master_key_file=Path(env["GRONDSLAG_MASTER_KEY_FILE"])
            if env.get("GRONDSLAG_MASTER_KEY_FILE")
            else None,
            link_key_grace=lead_time(
                env.get("GRONDSLAG_LINK_KEY_GRACE", "P90D"), "GRONDSLAG_LINK_KEY_GRACE"
            ),
            migrate=_switch(env.get("GRONDSLAG_MIGRATE", "true"), "GRONDSLAG_MIGRATE"),
            projection_partitions=_whole(
                env.get("GRONDSLAG_PROJECTION_PARTITIONS", str(defaults.projection_partitions)),
                1,
                MAX_PARTITIONS,
            ),
            projector_health_port=_whole(env["GRONDSLAG_PROJECTOR_HEALTH_PORT"], 1, 65535)
            if env.get("GRONDSLAG_PROJECTOR_HEALTH_PORT")
            else None,
            projector_kept_standings=_whole(
                env.get(
                    "GRONDSLAG_PROJECTOR_KEPT_STANDINGS", str(defaults.projector_kept_standings)
                ),
                0,
                10_000_000,
            ),
        )

    @property
    def nats_servers(self) -> list[str]:
        """The servers of ``NATS_URL`` (empty when it is not set: the embedded one)."""
        return nats_servers(self.nats_url) if self.nats_url else []

    @property
    def metrics_operator(self) -> str:
        """The tenant whose ``metrics`` keys see every tenant's labelled series."""
        return self.operator_tenant or self.bootstrap_tenant

    @property
    def signing_key_path(self) -> Path:
        """Where the audit signing key lives (generated there on first start)."""
        return self.audit_key_file or self.data_dir / "audit-signing-key.pem"

    @property
    def master_key_path(self) -> Path:
        """Where the key-encryption keyring lives (generated there on first start)."""
        return self.master_key_file or self.data_dir / "master-keys"

    @property
    def pepper_path(self) -> Path:
        """Where the API key pepper lives (generated there on first start)."""
        return self.key_pepper_file or self.data_dir / "api-key-pepper"

    def with_servers(self, database_url: str, nats_url: str | None) -> Settings:
        return replace(self, database_url=database_url, nats_url=nats_url)


def _nats_url(value: str | None) -> str | None:
    """``NATS_URL`` as given, once each of its URLs parsed (a bad one refused now)."""
    if value is not None:
        nats_servers(value)
    return value


def _maybe_tenant(value: str | None) -> str | None:
    return None if value is None else check_tenant(value)


def _within(value: str, low: int, high: int) -> int:
    """A whole number from ``low`` to ``high``."""
    if not value.strip().isdigit() or not low <= int(value) <= high:
        raise ValueError(f"{value!r} is not a whole number from {low} to {high}")
    return int(value)


def _one_of(value: str, choices: tuple[str, ...]) -> str:
    word = value.strip().lower()
    if word not in choices:
        raise ValueError(f"{value!r} is not {' or '.join(choices)}")
    return word


def _flag(value: str, setting: str = "GRONDSLAG_COOKIE_SECURE") -> bool | None:
    """``true``/``false`` (also 1/0, yes/no); ``auto`` or empty: None."""
    word = value.strip().lower()
    if word in ("", "auto"):
        return None
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{setting}: {value!r} is not true, false or auto")


def _whole(value: str, low: int, high: int) -> int:
    """A whole number from ``low`` to ``high`` (the caller names the setting)."""
    try:
        number = int(value)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise ValueError(f"{value!r} is not a whole number from {low} to {high}")
    return number


def _switch(value: str, setting: str) -> bool:
    """``true``/``false`` (also 1/0, yes/no, on/off): a setting that has no ``auto``."""
    word = value.strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{value!r} is not true or false")


_LEAD = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$")


def lead_time(term: str, setting: str = "GRONDSLAG_REQUEST_DUE_SOON") -> timedelta:
    """An ISO 8601 duration of weeks, days, hours and minutes (``P7D``, ``P1W``, ``PT12H``)."""
    match = _LEAD.match(term)
    if match is None or not any(match.groups()):
        raise ValueError(f"{setting}: {term!r} is not a duration such as P7D")
    weeks, days, hours, minutes = (int(part or 0) for part in match.groups())
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes)
