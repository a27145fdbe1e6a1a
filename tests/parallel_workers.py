"""The suite runs in parallel workers (pytest-xdist, ``--numprocesses=auto`` in pyproject):
its tests wait often — on projectors, clocks, processes starting — so two workers keep two
cores busy where one left them half idle (README, The tests in parallel workers).

Each worker is a pytest session of its own, with its own fresh databases (their names are
random), its own temporary and embedded folders (``popen-gwN`` under the base folder) and
its own session app. What the workers share is decided here, in the controller, before
they start, and handed to each in its ``workerinput``:

* a folder of the run (``SHARED_DIR``) where a worker leaves what the controller judges
  once every worker is done — the answers its apps gave (``contract_support``);
* which PostgreSQL a worker uses (``LOCAL_POSTGRES``): the connection budget
  (``connection_budget``) holds per worker, so as many workers as the local server has
  budgets free use it, the others each an embedded one of their own.

``GRONDSLAG_TEST_WORKERS`` (or pytest-xdist's ``PYTEST_XDIST_AUTO_NUM_WORKERS``) sets the
number of workers; ``-n 0`` runs the suite in one process, as before.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from connection_budget import BUDGET, free_slots

SHARED_DIR = "grondslag_shared_dir"
LOCAL_POSTGRES = "grondslag_local_postgres"
# more workers than this only add session start-ups and connections: the waiting is cut
MAX_WORKERS = 4


def worker_id(config: pytest.Config) -> str | None:
    """This worker's id (``gw0``, ``gw1``, …), or None in a session without workers."""
    workerinput = getattr(config, "workerinput", None)
    return workerinput["workerid"] if workerinput else None


def shared_dir(config: pytest.Config) -> Path | None:
    workerinput = getattr(config, "workerinput", None)
    return Path(workerinput[SHARED_DIR]) if workerinput and SHARED_DIR in workerinput else None


def local_postgres_decided(config: pytest.Config) -> bool | None:
    """Whether the controller gave this worker the local PostgreSQL (None: not a worker,
    decide here)."""
    workerinput = getattr(config, "workerinput", None)
    return workerinput.get(LOCAL_POSTGRES) if workerinput else None


def auto_workers(cpus: int | None) -> int:
    wanted = os.environ.get("GRONDSLAG_TEST_WORKERS") or os.environ.get(
        "PYTEST_XDIST_AUTO_NUM_WORKERS"
    )
    if wanted:
        return max(1, int(wanted))
    return max(2, min(cpus or 1, MAX_WORKERS))


def workers_within_budget(free: int, budget: int = BUDGET) -> int:
    """How many workers the local server has a whole connection budget free for."""
    return 10**6 if budget <= 0 else max(0, free) // budget


# -- the controller's hooks (tests/conftest.py imports them) --------------------------------


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    return auto_workers(os.cpu_count())


def configure_run(config: pytest.Config) -> None:
    """In the controller: the run's shared folder, removed at its end."""
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):
        return
    folder = Path(tempfile.mkdtemp(prefix="grondslag-run-"))
    config.stash[_FOLDER] = folder
    config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))


_FOLDER = pytest.StashKey[Path]()
_FITS = pytest.StashKey[int]()


def configure_node(
    node: Any, local_postgres: Callable[[], str | None], warn: Callable[[str], None]
) -> None:
    """In the controller, before a worker starts: its share of the run."""
    config: pytest.Config = node.config
    if _FOLDER in config.stash:
        node.workerinput[SHARED_DIR] = str(config.stash[_FOLDER])
    if _FITS not in config.stash:
        url = local_postgres()
        config.stash[_FITS] = workers_within_budget(free_slots(url)) if url else 0
        count = node.workerinput["workercount"]
        if url and config.stash[_FITS] < count:
            warn(
                f"PostgreSQL at {url.rsplit('@', 1)[-1]} has connections free for "
                f"{config.stash[_FITS]} of the {count} workers ({BUDGET} each): the others "
                "use an embedded PostgreSQL each"
            )
    index = int(node.workerinput["workerid"].removeprefix("gw"))
    node.workerinput[LOCAL_POSTGRES] = index < config.stash[_FITS]


# -- what a worker leaves for the controller ------------------------------------------------


def leave(config: pytest.Config, name: str, value: Any) -> None:
    """Leave ``value`` (JSON) under ``name``, for the controller (``left_by_every_worker``)."""
    folder, worker = shared_dir(config), worker_id(config)
    if folder is not None and worker is not None:
        temporary = folder / f".{name}-{worker}.tmp"
        temporary.write_text(json.dumps(value))
        temporary.replace(folder / f"{name}-{worker}.json")


def left_by_every_worker(config: pytest.Config, name: str) -> list[Any] | None:
    """In the controller, once every worker is done: what each left under ``name`` (None
    outside the controller of parallel workers)."""
    folder = config.stash.get(_FOLDER, None)
    if folder is None or hasattr(config, "workerinput"):
        return None
    return [json.loads(path.read_text()) for path in sorted(folder.glob(f"{name}-gw*.json"))]
