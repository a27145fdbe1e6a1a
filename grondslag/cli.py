"""``grondslag``: the command that runs the ledger and projector, and manages keys.

With no ``DATABASE_URL`` / ``NATS_URL`` in the environment it starts the embedded
PostgreSQL and NATS under ``GRONDSLAG_DATA_DIR`` (see ``grondslag.servers``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

from grondslag.ledger.settings import Settings

from . import backup_commands, console, logformat, migrate_commands
from .embedded import folder_in_use, running_database_url, running_nats_url
from .migrate_commands import schema_ready
from .servers import one_off, servers
from .supervisor import (
    METRICS_DIR,
    RESTARTS_FILE,
    Child,
    Supervisor,
    bind_after_former_workers,
    follow_supervisor,
    metrics_folder,
    restarts_file,
)


def serve(args: argparse.Namespace) -> int:
    """The supervisor (``grondslag.supervisor``) of N API workers and the projector, or
    with ``--no-supervisor`` the API (and projector) in this one process."""
    if args.workers < 1 or (args.no_supervisor and args.workers != 1):
        parser().error("--workers: at least 1, and 1 with --no-supervisor")
    if args.fd is not None and not args.no_supervisor:
        parser().error("--fd needs --no-supervisor")
    settings = _migrating(console.settings_from_env(), args)
    # (a supervised worker, --fd, was checked by its supervisor: its DATABASE_URL is set)
    embedded = {"postgres": not settings.database_url, "nats": not settings.nats_url}
    if args.fd is None:
        if settings.bootstrap_key and not _bootstrap_key_allowed(settings):
            return 2
        if busy := folder_in_use(settings.data_dir, **embedded):
            raise console.Failure(busy)
        console.preflight(settings)
    if args.no_supervisor:
        with servers(_public_url(settings, args.host, args.port)) as settings:
            if args.fd is None:  # (a supervised worker: its supervisor said so, and migrated)
                _log_servers(settings)
                schema_ready(settings)
                _banner(settings, **embedded)
            _serve_one(args, settings)
        return 0
    try:  # (a killed serve's workers may still hold the port a moment)
        counts = restarts_file(settings.data_dir, args.port)
        sock = bind_after_former_workers(args.host, args.port, counts, wait=STOP_GRACE_SECONDS + 5)
    except OSError as error:
        raise console.Failure(f"cannot listen on {args.host}:{args.port}: {error}") from None
    port = sock.getsockname()[1]
    with sock, servers(_public_url(settings, args.host, port), guarded=True) as settings:
        _log_servers(settings)
        schema_ready(settings)
        _banner(settings, **embedded)
        return _supervise(args, settings, sock)


def _banner(settings: Settings, *, postgres: bool, nats: bool) -> None:
    """Every address (no password), the tenant and how to get a key, on stderr: the
    bootstrap key as its row in the database says (a revoked one stays revoked)."""
    live, bootstrap = None, "live" if settings.bootstrap_key else None
    hashes = _bootstrap_hashes(settings)
    if settings.database_url:
        seen = asyncio.run(console.keys_seen(settings.database_url, hashes))
        if seen is not None:
            live = seen[0]
            if hashes and seen[1] == "revoked":  # (not stored yet: the start makes it)
                bootstrap = "revoked"
    text = console.banner(
        settings, settings.public_url, embedded_postgres=postgres, embedded_nats=nats,
        live_keys=live, bootstrap=bootstrap,
    )  # fmt: skip
    if logformat.json_chosen():  # one JSON object per line, the banner too
        logging.getLogger("grondslag").info("%s", text)
    else:
        print(text, file=sys.stderr, flush=True)


def status(_: argparse.Namespace) -> int:
    """What ``serve`` runs in ``GRONDSLAG_DATA_DIR``: its addresses, tenant and processes."""
    settings = console.settings_from_env()
    running = console.running_serve(settings.data_dir)
    if running is None:
        print(
            f"grondslag: no grondslag serve runs in {settings.data_dir.resolve()}",
            file=sys.stderr,
        )
        return 1
    embedded = {"postgres": not settings.database_url, "nats": not settings.nats_url}
    settings = replace(
        _public_url(settings, "127.0.0.1", running.port),
        database_url=settings.database_url or running_database_url(settings.data_dir),
        nats_url=settings.nats_url or running_nats_url(settings.data_dir),
        # the tenant the serve was started for, not this caller's GRONDSLAG_BOOTSTRAP_TENANT
        bootstrap_tenant=running.tenant or settings.bootstrap_tenant,
    )
    # the keys as the database the serve uses says, not as this caller's environment
    # (whose GRONDSLAG_BOOTSTRAP_KEY may not be the serve's): any key made as a bootstrap key
    live, bootstrap = None, "live" if settings.bootstrap_key else None
    if settings.database_url:
        seen = asyncio.run(console.keys_seen(settings.database_url))
        if seen is not None:
            live, bootstrap = seen
    print(
        console.banner(
            settings, settings.public_url, embedded_postgres=embedded["postgres"],
            embedded_nats=embedded["nats"], live_keys=live, bootstrap=bootstrap,
        )
    )  # fmt: skip
    print(f"  supervisor   pid {running.pid}, port {running.port}")
    for name, state in running.processes.items():
        print(
            f"  {name:<12} pid {state.get('pid') or '-'}, {state.get('restarts', 0)} restarts"
            + (f", last {state['last_exit']}" if state.get("last_exit") else "")
        )
    return 0


def _bootstrap_hashes(settings: Settings) -> tuple[bytes, bytes] | None:
    """The hashes ``GRONDSLAG_BOOTSTRAP_KEY`` is stored under; ``None`` without the key,
    or before the pepper exists (the key is not stored yet then, and no pepper is made
    here)."""
    from grondslag.ledger.keys import load_pepper, stored_as

    if not settings.bootstrap_key:
        return None
    if not settings.key_pepper and not settings.pepper_path.exists():
        return None
    return stored_as(load_pepper(settings.pepper_path, settings.key_pepper), settings.bootstrap_key)


def _bootstrap_key_allowed(settings: Settings) -> bool:
    """A weak operator-chosen bootstrap key (``dev-key``) is for a first try on one's own
    machine: accepted with the embedded database, with a warning; refused with a
    configured one (``DATABASE_URL``), where it would guard real data."""
    from grondslag.ledger.keys import WEAK_KEY_LENGTH, weak_key

    assert settings.bootstrap_key
    if not weak_key(settings.bootstrap_key):
        return True
    advice = (
        f"GRONDSLAG_BOOTSTRAP_KEY is weak (fewer than {WEAK_KEY_LENGTH} characters or 8 "
        "distinct ones); generate one: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
    )
    if settings.database_url is None:
        logging.getLogger("grondslag").warning("%s (accepted for the embedded database)", advice)
        return True
    print(f"grondslag: {advice}", file=sys.stderr)
    return False


def _public_url(settings: Settings, host: str, port: int) -> Settings:
    if settings.public_url != Settings().public_url:
        return settings
    return replace(settings, public_url=f"http://{host}:{port}")


def _log_servers(settings: Settings) -> None:
    logging.getLogger("grondslag").info(
        "database %s, nats %s", _redact(settings.database_url), _redact(settings.nats_url)
    )


def _supervise(args: argparse.Namespace, settings: Settings, sock: socket.socket) -> int:
    """API workers on the inherited socket and one projector, each a supervised child."""
    fd, port = sock.fileno(), sock.getsockname()[1]
    command = [sys.executable, "-m", "grondslag.cli"]
    api = [*command, "serve", "--no-supervisor", "--no-projector", "--fd", str(fd)]
    api += ["--log-level", args.log_level]
    children = [Child(f"api-{n}", api, (fd,)) for n in range(1, args.workers + 1)]
    if not args.no_projector:
        children.append(Child("projector", [*command, "project"]))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    restarts = restarts_file(settings.data_dir, port)
    env = {
        "DATABASE_URL": settings.database_url or "",
        "NATS_URL": settings.nats_url or "",
        "GRONDSLAG_PUBLIC_URL": settings.public_url,
        "GRONDSLAG_MIGRATE": "false",  # the supervisor did, before it started them
        RESTARTS_FILE: str(restarts),
        METRICS_DIR: str(metrics_folder(settings.data_dir.resolve() / f"metrics-{port}")),
    }
    host = f"[{args.host}]" if ":" in args.host else args.host
    logging.getLogger("grondslag").info("serving on http://%s:%d", host, port)
    about = {"tenant": settings.bootstrap_tenant}  # for `grondslag status` in another shell
    return Supervisor(children, env=env, restarts_file=restarts, about=about).run()


def _serve_one(args: argparse.Namespace, settings: Settings) -> None:
    """The API, and unless ``--no-projector`` the projector, in this process; on the
    inherited socket ``--fd`` (a supervised worker) or on ``--host``/``--port``."""
    import uvicorn

    from grondslag.ledger.api.app import create_app
    from grondslag.projector.runner import Projector

    if os.environ.get(METRICS_DIR):  # its metrics files, in the data folder: 0600 like the rest
        os.umask(os.umask(0o077) | 0o077)
    lifespans = []
    if not args.no_projector:

        @contextlib.asynccontextmanager
        async def run_projector(_: object) -> AsyncIterator[None]:
            projector = Projector(settings)
            await projector.start()
            try:
                yield
            finally:
                await projector.stop()

        lifespans.append(run_projector)
    app = create_app(settings, lifespans=lifespans)
    # Commands run in worker threads beside the event loop; a short GIL switch interval
    # keeps a thread whose database answer arrived from waiting 5 ms for its turn.
    sys.setswitchinterval(0.0005)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        log_config=None,  # uvicorn's lines go through ours (grondslag.logformat)
        # forwarded headers are the app's to believe, from GRONDSLAG_TRUSTED_PROXIES only
        # (api/limits.py); uvicorn's own would trust 127.0.0.1's
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=STOP_GRACE_SECONDS,
    )
    server = uvicorn.Server(config)
    server.run(sockets=None if args.fd is None else [socket.socket(fileno=args.fd)])
    if not server.started:
        sys.exit(3)  # uvicorn's code for "failed to start"


# requests still running this long after SIGTERM are cut (the supervisor waits 30 s)
STOP_GRACE_SECONDS = 25


def _migrating(settings: Settings, args: argparse.Namespace) -> Settings:
    return replace(settings, migrate=False) if args.no_migrate else settings


def project(args: argparse.Namespace) -> int:
    from grondslag.projector.runner import Projector
    from grondslag.projector.tracking import PartitionCountChanged

    async def run(settings: Settings) -> None:
        stopped = asyncio.Event()  # SIGTERM or SIGINT: stop cleanly, exit 0
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stopped.set)
        projector = Projector(settings)
        port = args.health_port or settings.projector_health_port
        health = None
        if port:  # litestar, which serves it, only then (7 MB of a projector without it)
            from grondslag.projector.health import HealthServer

            health = HealthServer(projector, args.health_host, port)
        try:
            await projector.start()
            if health is not None:
                await _serving_health(health, args.health_host, port)
            await stopped.wait()
        except PartitionCountChanged as changed:
            raise console.Failure(str(changed), console.BAD_USAGE) from None
        finally:
            if health is not None:
                await health.stop()
            await projector.stop()

    with servers(_migrating(Settings.from_env(), args)) as settings:
        schema_ready(settings)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run(settings))
    return 0


async def _serving_health(health: Any, host: str, port: int | None) -> None:
    try:
        await health.start()
    except (SystemExit, OSError):  # uvicorn exits when it cannot bind
        raise console.Failure(f"cannot serve the projector's health on {host}:{port}") from None


def rebuild(args: argparse.Namespace) -> int:
    """Rebuild the read model (and the index of data-subject requests) from the log, with a
    progress bar, and swap it in; the fold in ``--jobs`` processes."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from grondslag.ledger import envelope
    from grondslag.ledger.reads.pool import create_read_pool
    from grondslag.projector.rebuild import RebuildFailed
    from grondslag.projector.rebuild import rebuild as run_rebuild

    async def run(settings: Settings) -> dict[str, float]:
        assert settings.database_url
        pool = await create_read_pool(settings.database_url, min_size=1, max_size=2)
        started = time.perf_counter()
        columns = (
            TextColumn("[bold]rebuild"),
            BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,} standings"),
            TextColumn("{task.fields[rate]:,.0f} events/s"),
            TimeRemainingColumn(),
        )
        try:
            with Progress(*columns) as bar:
                task = bar.add_task("rebuild", total=0, rate=0.0)

                def progress(done: int, total: int, events: int) -> None:
                    rate = events / max(time.perf_counter() - started, 1e-9)
                    bar.update(task, completed=done, total=total, rate=rate)

                return await run_rebuild(pool, progress, jobs=args.jobs, settings=settings)
        except RebuildFailed as failed:
            message = f"{failed}; the read model is as it was"
            raise console.Failure(message, console.REFUSED) from None
        finally:
            await pool.close()

    with one_off(reads_tables=True) as settings:
        envelope.use(settings)  # the folds open birth dates: the stored keys are wrapped
        result = asyncio.run(run(settings))
    jobs = f" in {args.jobs} jobs" if args.jobs > 1 else ""
    print(
        f"rebuilt from {result['events']:,.0f} events{jobs} in {result['seconds']:.1f} s "
        f"({result['events_per_second']:,.0f} events/s), and {result['requests']:,.0f} "
        "data-subject requests"
    )
    return 0


def _keys_run(work: Callable[[Any, bytes], Awaitable[int]]) -> int:
    """Run ``work(pool, pepper)`` against the store (``DATABASE_URL``, else the embedded
    database a running ``serve`` uses, else one started for the command)."""
    import asyncpg

    from grondslag.ledger.keys import load_pepper
    from grondslag.ledger.persistence import migrations

    async def run(settings: Settings) -> int:
        assert settings.database_url
        pepper = load_pepper(settings.pepper_path, settings.key_pepper)
        pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=1)
        try:
            # (on a new database, before any serve: its tables at this release's version)
            try:
                await asyncio.to_thread(
                    migrations.prepare, settings.database_url, apply=settings.migrate
                )
            except migrations.SchemaBehind as behind:
                raise console.Failure(str(behind)) from None
            return await work(pool, pepper)
        finally:
            await pool.close()

    with one_off() as settings:
        return asyncio.run(run(settings))


def keys_create(args: argparse.Namespace) -> int:
    from grondslag.ledger.keys import create_key
    from grondslag.ledger.tenants import TENANT_RULE, is_tenant

    if not is_tenant(args.tenant):
        print(f"grondslag: a tenant's name is {TENANT_RULE}", file=sys.stderr)
        return 2

    async def work(pool: Any, pepper: bytes) -> int:
        made = await create_key(pool, args.tenant, args.role, pepper=pepper)
        print(made.key)
        print(f"created key {made.key_id} of {made.tenant}", file=sys.stderr)
        return 0

    return _keys_run(work)


def keys_list(args: argparse.Namespace) -> int:
    from grondslag.ledger.keys import list_keys

    def moment(value: Any) -> str:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else "-"

    async def work(pool: Any, _: bytes) -> int:
        rows = [("KEY ID", "TENANT", "ROLES", "KIND", "CREATED", "LAST USED", "REVOKED")]
        for key in await list_keys(pool, args.tenant):
            revoked = moment(key.revoked_at)
            if key.replaced_by:
                revoked += f" (replaced by {key.replaced_by})"
            rows.append((
                key.key_id, key.tenant, ",".join(key.roles),
                "bootstrap" if key.bootstrap else "-",
                moment(key.created_at), moment(key.last_used_at), revoked,
            ))  # fmt: skip
        print("\n".join(console.columns(rows)))
        return 0

    return _keys_run(work)


def keys_revoke(args: argparse.Namespace) -> int:
    from grondslag.ledger.keys import LastAdminKey, revoke_key

    async def work(pool: Any, _: bytes) -> int:
        try:
            revoked = await revoke_key(pool, args.key_id, force=args.force)
        except LastAdminKey as error:
            print(
                f"grondslag: {args.key_id} is the last live admin key of {error}; "
                "create another first, or pass --force",
                file=sys.stderr,
            )
            return 1
        if revoked is None:
            print(f"grondslag: no API key {args.key_id}", file=sys.stderr)
            return 1
        print(f"revoked key {revoked.key_id} of {revoked.tenant}", file=sys.stderr)
        return 0

    return _keys_run(work)


def keys_rotate(args: argparse.Namespace) -> int:
    from grondslag.ledger.keys import rotate_key
    from grondslag.ledger.settings import lead_time

    try:
        grace = lead_time(args.grace) if args.grace else None
    except ValueError:
        print(f"grondslag: --grace {args.grace!r} is not a duration such as P1D", file=sys.stderr)
        return 2

    async def work(pool: Any, pepper: bytes) -> int:
        from datetime import timedelta

        done = await rotate_key(pool, args.key_id, pepper=pepper, grace=grace or timedelta(0))
        if done is None:
            print(f"grondslag: no live API key {args.key_id}", file=sys.stderr)
            return 1
        new, old = done
        print(new.key)
        stops = old.revoked_at.isoformat() if old.revoked_at else "now"
        print(f"key {new.key_id} replaces {old.key_id} of {new.tenant} (it stops {stops})",
              file=sys.stderr)  # fmt: skip
        return 0

    return _keys_run(work)


def nats_url(_: argparse.Namespace) -> int:
    """Print the URL, credentials included, of the NATS that ``serve`` uses: ``NATS_URL``,
    else the embedded nats-server running in ``GRONDSLAG_DATA_DIR``."""
    settings = Settings.from_env()
    url = settings.nats_url or running_nats_url(settings.data_dir)
    if url is None:
        print(
            f"grondslag: no embedded nats-server runs in {settings.data_dir} (start "
            "`grondslag serve`, or set NATS_URL)",
            file=sys.stderr,
        )
        return 1
    print(url)
    return 0


def quarantine_list(_: argparse.Namespace) -> int:
    from grondslag.projector.release import listing

    with one_off(reads_tables=True) as settings:
        assert settings.database_url
        lines = asyncio.run(listing(settings.database_url))
    print("\n".join(map(console.printable, lines)) if lines else "nothing is quarantined")
    return 0


def quarantine_retry(args: argparse.Namespace) -> int:
    from grondslag.projector.release import retry

    with one_off(need_nats=True, reads_tables=True) as settings:
        outcomes = asyncio.run(retry(settings, args.projection, args.keys))
    for outcome in outcomes:
        entry = outcome.entry
        what = f"{entry.projection} {entry.scope} {entry.key}"
        print(
            f"{what}: " + (f"still quarantined: {outcome.error}" if outcome.error else "released")
        )
    if not outcomes:
        print("nothing to retry")
    return 1 if any(outcome.error for outcome in outcomes) else 0


def bench_command(args: argparse.Namespace) -> int:
    """``grondslag bench``: the benchmarks live beside the package in a checkout
    (``benchmarks/``), not in the wheel."""
    try:
        from benchmarks import audit, export, projector, scale, service
    except ModuleNotFoundError as missing:
        if missing.name != "benchmarks":
            raise
        print(
            "grondslag bench: benchmarks run from a checkout of the repository "
            "(`uv run grondslag bench` there); they are not part of the installed package",
            file=sys.stderr,
        )
        return 2
    benchmark = (
        projector
        if args.projector
        else audit
        if args.audit
        else export
        if args.export
        else scale
        if args.scale
        else service
    )
    return benchmark.main(args)


def _redact(url: str | None) -> str:
    """The URL with its password (``user:***@``) or token (``***@``) hidden."""
    url = re.sub(r"//([^:@/]+):[^@/]*@", r"//\1:***@", url or "")
    return re.sub(r"//[^:@/]+@", "//***@", url) if "nats" in url.split(":", 1)[0] else url


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0 to 65535)")
    return int(text)


def _whole(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number (0 or more)")
    return int(text)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def parser() -> argparse.ArgumentParser:
    from grondslag.ledger.keys import ROLES

    main = argparse.ArgumentParser(
        prog="grondslag",
        description=__doc__.splitlines()[0],
        epilog="exit codes: 0 done; 1 the answer is no (a check that differs, no such key); "
        "2 bad usage or configuration; 3 cannot run now (database or NATS unreachable, "
        "data folder in use, port taken)",
    )
    commands = main.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "serve", help="run the API and the projector, each a supervised process"
    )
    run.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    run.add_argument(
        "--port", type=_port, default=8000, help="the port to listen on; 0 for a free one"
    )
    run.add_argument(
        "--no-projector", action="store_true", help="API only (run `grondslag project` elsewhere)"
    )
    run.add_argument(
        "--workers",
        type=int,
        default=1,
        help="API worker processes (each restarted when it dies, like the projector)",
    )
    run.add_argument(
        "--no-supervisor",
        action="store_true",
        help="run in this one process, unsupervised: for systemd or a container runtime "
        "that restarts it (one worker; with the projector unless --no-projector)",
    )
    run.add_argument(
        "--fd",
        type=int,
        help="serve on this inherited listening socket instead of --host/--port "
        "(with --no-supervisor; how the supervisor starts its workers)",
    )
    run.add_argument(
        "--log-level",
        default="info",
        choices=("critical", "error", "warning", "info", "debug", "trace"),
        help="how much the API workers log",
    )
    run.add_argument("--no-migrate", action="store_true", help=NO_MIGRATE)
    run.set_defaults(func=serve)

    alone = commands.add_parser("project", help="run the projector alone")
    alone.add_argument("--no-migrate", action="store_true", help=NO_MIGRATE)
    alone.add_argument(
        "--health-port",
        type=int,
        help="answer /health/live, /health/ready and /metrics on this port "
        "(else GRONDSLAG_PROJECTOR_HEALTH_PORT; neither: no HTTP at all)",
    )
    alone.add_argument("--health-host", default="127.0.0.1", help="the address of the health port")
    alone.set_defaults(func=project)
    migrate_commands.add_command(commands)
    backup_commands.add_commands(commands)
    commands.add_parser(
        "status",
        help="what `serve` runs in GRONDSLAG_DATA_DIR: addresses, tenant, processes, restarts",
    ).set_defaults(func=status)
    commands.add_parser(
        "nats-url",
        help="print the URL with credentials of the NATS `serve` uses (for a consumer)",
    ).set_defaults(func=nats_url)
    anew = commands.add_parser("rebuild", help="rebuild the read model from the log")
    anew.add_argument(
        "--jobs",
        type=_positive,
        default=1,
        metavar="K",
        help="fold in K processes, each an even share of the standings (the fold "
        "is CPU-bound: up to one per free core)",
    )
    anew.set_defaults(func=rebuild)

    keys = commands.add_parser("keys", help="API keys").add_subparsers(dest="keys", required=True)
    create = keys.add_parser("create", help="create a key; prints it alone on stdout")
    create.add_argument("--tenant", required=True, help="the tenant the key acts for")
    create.add_argument(
        "--role",
        action="append",
        required=True,
        choices=ROLES,
        help="a role the key holds (repeat for more)",
    )
    create.set_defaults(func=keys_create)
    listing = keys.add_parser("list", help="the keys (never their secrets), with their last use")
    listing.add_argument("--tenant", help="only this tenant's keys")
    listing.set_defaults(func=keys_list)
    revoke = keys.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id", metavar="KEY_ID", help="the key's public id (keys list)")
    revoke.add_argument(
        "--force", action="store_true", help="even the last live admin key of its tenant"
    )
    revoke.set_defaults(func=keys_revoke)
    rotate = keys.add_parser(
        "rotate", help="a new key with the same tenant and roles, printed alone; the old revoked"
    )
    rotate.add_argument("key_id", metavar="KEY_ID", help="the key's public id (keys list)")
    rotate.add_argument("--grace", help="let the old key work this long still (e.g. P1D, PT1H)")
    rotate.set_defaults(func=keys_rotate)
    _envelope_commands(keys)

    schemas = commands.add_parser("schemas", help="write the generated contracts in schemas/")
    schemas.add_argument("--check", action="store_true", help="fail if a committed file is stale")
    schemas.set_defaults(func=lambda a: __import__("grondslag.schemas", fromlist=["main"]).main(a))

    verify = commands.add_parser(
        "verify", help="verify an audit export bundle offline (no database, no network)"
    )
    verify.add_argument("bundle", help="the bundle file (GET /v1/audit/export)")
    verify.add_argument(
        "--key", help="the published public key: base64, PEM text, or a file holding either"
    )
    verify.add_argument(
        "--key-history",
        help="the published key history (GET /v1/audit/keys): accept keys the --key was "
        "rotated to or from, for what they signed while in service",
    )
    verify.add_argument(
        "--at",
        help="also print what applied at this RFC 3339 time, folded from the verified events",
    )
    verify.add_argument(
        "--known-at", help="…as known at this time (default: everything the bundle holds)"
    )
    verify.set_defaults(func=lambda a: _audit_commands().verify(a))

    audit = commands.add_parser("audit", help="the tamper-evident audit log")
    audit_commands = audit.add_subparsers(dest="audit", required=True)
    audit_commands.add_parser(
        "check", help="recompute the audit log from the event store and compare"
    ).set_defaults(func=lambda a: _audit_commands().audit_check(a))
    audit_commands.add_parser(
        "rotate-key",
        help="replace the audit signing key, announced in a statement the old key signs",
    ).set_defaults(func=lambda a: _audit_commands().rotate_key(a))

    held = commands.add_parser("quarantine", help="streams a projection set aside, and retries")
    held_commands = held.add_subparsers(dest="quarantine", required=True)
    held_commands.add_parser(
        "list", help="what each projection set aside, since when, and why"
    ).set_defaults(func=quarantine_list)
    again = held_commands.add_parser(
        "retry", help="handle the held events of quarantined keys, in order, and release them"
    )
    again.add_argument("--projection", help="only this projection's keys (e.g. current_standing)")
    again.add_argument("keys", nargs="*", metavar="KEY", help="only these keys (default: all)")
    again.set_defaults(func=quarantine_retry)

    bench = commands.add_parser("bench", help="measure throughput against raw baselines")
    bench.add_argument("--quick", action="store_true", help="fewer operations (CI smoke run)")
    bench.add_argument("--workers", type=int, default=2, help="API worker processes to serve")
    bench.add_argument("--projector", action="store_true", help="benchmark the projector instead")
    bench.add_argument("--audit", action="store_true", help="benchmark the audit log instead")
    bench.add_argument(
        "--export", action="store_true", help="benchmark the access and portability answers"
    )
    bench.add_argument(
        "--scale",
        action="store_true",
        help="ask the same questions of a store of 10^4, 10^5 and 10^6 events instead",
    )
    bench.add_argument(
        "--scale-events",
        type=_positive,
        default=1_000_000,
        metavar="N",
        help="--scale: the events the store is filled to (default 1,000,000)",
    )
    bench.add_argument(
        "--scale-projectors",
        type=_whole,
        default=1,
        metavar="N",
        help="--scale: projector processes that project each stage (default 1; 0: in-process)",
    )
    bench.set_defaults(func=bench_command)
    return console.show_defaults(main)


NO_MIGRATE = (
    "do not migrate the database at start (as GRONDSLAG_MIGRATE=false): refuse to start "
    "when it is behind this release, until `grondslag migrate` has run"
)


def _envelope_commands(keys: argparse._SubParsersAction) -> None:
    from . import envelope_commands

    envelope_commands.add_commands(keys)


def _audit_commands():
    from . import audit_commands

    return audit_commands


def main(argv: list[str] | None = None) -> int:
    logformat.configure()  # one format for every process (GRONDSLAG_LOG_FORMAT)
    follow_supervisor()  # a supervised child stops when its supervisor dies
    args = parser().parse_args(argv)
    try:
        if args.command not in ("verify", "schemas"):  # (these two read no settings)
            console.settings_from_env()  # a bad value: one line naming it, exit 2
        return args.func(args)
    except SystemExit as stop:
        if stop.code == 128 + signal.SIGTERM:  # asked to stop, and stopped cleanly
            return 0
        raise
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    except Exception as error:
        known = console.expected_failure(error)
        if known is None:
            raise  # a fault of the program: its traceback
        code, message = known
        print(f"grondslag: {message}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
