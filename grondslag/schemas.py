"""Generate the committed contracts in ``schemas/`` from the code (never edited by hand).

* ``openapi.json`` — the HTTP API, from the litestar app;
* ``events/<Type>.json`` — JSON Schema of every stored event's payload, from the event
  classes (msgspec), so that consumers of an export know what they read.

``grondslag schemas`` writes them; ``grondslag schemas --check`` (and a test) fails when a
committed file is stale.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import msgspec

ROOT = Path(__file__).resolve().parent.parent / "schemas"


def openapi() -> dict[str, Any]:
    from ledger.api.app import create_app
    from ledger.settings import Settings

    app = create_app(Settings(database_url="postgresql://unused/unused"))
    return app.openapi_schema.to_schema()


def event_types() -> dict[str, type]:
    from ledger.domain.purpose import Purpose
    from ledger.domain.standing import Standing
    from ledger.domain.subject import Subject

    return {
        "PurposeRegistered": Purpose.Registered,
        "PurposeRevised": Purpose.Revised,
        "SubjectRegistered": Subject.Registered,
        "PersonalDataRecorded": Subject.PersonalDataRecorded,
        "RepresentativeRegistered": Subject.RepresentativeRegistered,
        "RepresentationEnded": Subject.RepresentationEnded,
        "StandingOpened": Standing.Opened,
        "ConsentGiven": Standing.ConsentGiven,
        "ConsentWithdrawn": Standing.ConsentWithdrawn,
        "BasisEstablished": Standing.BasisEstablished,
        "BasisEnded": Standing.BasisEnded,
        "ObjectionLodged": Standing.ObjectionLodged,
        "ObjectionDecided": Standing.ObjectionDecided,
        "BasisLapsed": Standing.BasisLapsed,
        "RetentionExpired": Standing.RetentionExpired,
    }


def event_schema(name: str, cls: type) -> dict[str, Any]:
    schema = msgspec.json.schema(cls)
    schema["title"] = name
    schema["description"] = (cls.__doc__ or "").strip()
    return schema


def rendered() -> dict[Path, str]:
    """Every generated file, path → text."""
    files = {ROOT / "openapi.json": _json(openapi())}
    for name, cls in event_types().items():
        files[ROOT / "events" / f"{name}.json"] = _json(event_schema(name, cls))
    return files


def _json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def stale() -> list[Path]:
    return [p for p, text in rendered().items() if not p.exists() or p.read_text() != text]


def main(args: argparse.Namespace) -> int:
    if args.check:
        outdated = stale()
        for path in outdated:
            print(
                f"stale: {path.relative_to(ROOT.parent)} (run `grondslag schemas`)", file=sys.stderr
            )
        return 1 if outdated else 0
    for path, text in rendered().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(path.relative_to(ROOT.parent))
    return 0
