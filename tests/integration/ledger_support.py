"""What the tests that call the ledger itself (not over HTTP) record: a notice, and a
written, explicit consent under it that took effect on 1 January 2025."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from grondslag.ledger.domain.values import Evidence, Notice

JAN_1 = datetime(2025, 1, 1, tzinfo=UTC)
NOTICE = Notice("n1", "https://example.nl/privacy", "a" * 64)
CONSENT: dict[str, Any] = {
    "method": "written",
    "explicit": True,
    "notice_version": NOTICE.version,
    "evidence": Evidence("doc"),
    "effective_at": JAN_1,
    "recorded_by": "staff:x",
}
