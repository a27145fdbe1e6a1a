"""Writers that change one subject at the same moment each get their write recorded: a
command that lost the race for the stream's version runs again after a random, doubling
wait (``application.retried_on_conflict``), so twenty at once are twenty 201s — where five
attempts at once answered about a third of them 409 "changed concurrently"."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from api_support import CONSENTS, consent_body, history

WRITERS = 20


def test_twenty_consents_at_once_on_one_subject_are_all_recorded(ready) -> None:
    start = threading.Barrier(WRITERS)

    def give(n: int) -> Any:
        start.wait(timeout=10)
        body = consent_body(effective_at="2025-09-02T10:00:00Z", evidence={"document_ref": f"{n}"})
        return ready.call("POST", CONSENTS, json=body)

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        answers = list(pool.map(give, range(WRITERS)))
    refused = [(a.status_code, a.text[:200]) for a in answers if a.status_code != 201]
    assert refused == []
    given = [e for e in history(ready) if e["type"] == "ConsentGiven"]
    assert sorted(e["event_id"] for e in given) == sorted(a.json()["event_id"] for a in answers)
