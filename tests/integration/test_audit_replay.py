"""`grondslag verify --at`: what applied at a past moment, folded offline from a verified
bundle's events alone, equals the ledger's own bitemporal answer (R7: the proof lies with the
practice; the auditor needs neither our database nor our word for it).

The subject's birth date is sealed; only a bundle exported with ``personal_data=true`` carries
the subject's key, and only then do the age rules (R13: care between 12 and 16) apply offline.
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from grondslag import audit_commands
from grondslag.ledger.audit.bundle import BundleError, render, verify
from grondslag.ledger.audit.replay import replay
from grondslag.ledger.domain.values import Evidence

from api_support import NOTICE

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
CARE = "care-treatment"


def export(tenant, ref: str, **params: str) -> bytes:
    """The bundle, once the audit log has taken in every event of the subject."""
    deadline = time.monotonic() + 10
    while True:
        response = tenant.call("GET", "/v1/audit/export", params={"subject_ref": ref, **params})
        if response.status_code != 409:
            assert response.status_code == 200, response.text
            return response.content
        assert time.monotonic() < deadline, "the audit log did not catch up in 10 s"
        time.sleep(0.1)


def standing(tenant, ref: str, purpose: str, **params: str) -> dict:
    response = tenant.call("GET", f"/v1/subjects/{ref}/standing/{purpose}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_replayed_answers_equal_the_ledgers_at_several_moments(tenant) -> None:
    tenant.register_purpose()
    tenant.put_subject("client-1")
    assert tenant.consent(effective_at="2025-09-02T10:00:00Z").status_code == 201
    withdrawal = tenant.call(
        "POST",
        "/v1/subjects/client-1/consents/photo-in-dossier/withdrawal",
        json={"method": "email", "effective_at": "2026-03-06T21:14:00Z", "recorded_by": "x"},
    )
    assert withdrawal.status_code == 201, withdrawal.text
    result = verify(export(tenant, "client-1"))
    known_at = datetime.now(UTC)
    for at in ("2025-01-01T00:00:00Z", "2025-12-31T12:00:00Z", "2026-03-07T00:00:00Z"):
        offline = replay(result.bundle, instant(at), known_at)
        [item] = offline.purposes
        online = standing(tenant, "client-1", "photo-in-dossier", at=at)
        assert item.answer.status == online["status"], at
        assert item.answer.evidence == online["evidence"], at
        assert (item.answer.since, item.answer.until) == (
            instant(online["since"]),
            instant(online["until"]),
        ), at
        assert [r.event_id for r in item.evidence] == online["evidence"]
    # as known before anything was recorded: nothing applied (bitemporal, offline too)
    [before] = replay(
        result.bundle, instant("2026-01-01T00:00:00Z"), instant("2020-01-01T00:00Z")
    ).purposes
    assert before.answer.status == "none"


def test_the_evidence_of_a_replayed_consent_is_what_r7_asks(tenant) -> None:
    tenant.register_purpose(recipients=["Gemeente Enschede"])
    tenant.put_subject("client-1")
    assert tenant.consent(effective_at="2025-09-02T10:00:00Z").status_code == 201
    bundle = verify(export(tenant, "client-1")).bundle
    [item] = replay(bundle, instant("2026-01-01T00:00:00Z"), datetime.now(UTC)).purposes
    [record] = item.evidence
    assert record.type == "ConsentGiven"
    assert (record.method, record.explicit, record.recorded_by) == (
        "written",
        True,
        "staff:jdevries",
    )
    assert record.given_by is not None and record.given_by.party == "subject"
    assert record.notice is not None and record.notice.url.startswith("https://praktijk.example/")
    assert record.recipients == ["Gemeente Enschede"]
    assert record.document is not None and record.document.document_ref == "intake-17.pdf"


def birth_date_aged(years: int) -> date:
    today = datetime.now(AMSTERDAM).date()
    return date(today.year - years, today.month, min(today.day, 28)) - timedelta(days=100)


@pytest.fixture
def minor_in_care(tenant):
    """A 14-year-old whose mother alone consented to care: pending in the ledger (R13)."""
    tenant.register_purpose(
        CARE,
        title="Behandeling",
        matter="care",
        special_categories=["health"],
        special_condition="explicit_consent",
    )
    birth = birth_date_aged(14)
    tenant.put_subject("child-1", birth_date=birth.isoformat())
    registered = tenant.call(
        "POST",
        "/v1/subjects/child-1/representatives",
        json={
            "representative_ref": "mother-1",
            "kind": "parental_authority",
            "valid_from": f"{birth}T00:00:00Z",
            "evidence": {"document_ref": "gezag-register"},
        },
    )
    assert registered.status_code == 201, registered.text
    consent = tenant.consent("child-1", CARE, representative_ref="mother-1")
    assert consent.status_code == 201, consent.text
    assert standing(tenant, "child-1", CARE)["status"] == "pending"
    return tenant


def test_with_the_subjects_key_the_age_rules_apply_offline_r13(minor_in_care) -> None:
    data = export(minor_in_care, "child-1", personal_data="true")
    result = verify(data)
    assert result.bundle.subject_key is not None
    replayed = replay(result.bundle, datetime.now(UTC), datetime.now(UTC))
    assert replayed.birth_date_known
    [item] = replayed.purposes
    assert (item.answer.status, item.answer.missing) == ("pending", ["subject"])
    [record] = item.evidence
    assert record.given_by is not None
    assert (record.given_by.representative_ref, record.given_by.capacity) == (
        "mother-1",
        "parental_authority",
    )


def test_without_the_key_the_bundle_says_the_birth_date_was_unknown(minor_in_care) -> None:
    result = verify(export(minor_in_care, "child-1"))
    assert result.bundle.subject_key is None
    replayed = replay(result.bundle, datetime.now(UTC), datetime.now(UTC))
    assert not replayed.birth_date_known
    [item] = replayed.purposes
    assert (
        item.answer.status != "pending"
    )  # an adult's parent cannot consent: not the ledger's answer


def test_another_subjects_key_fails_the_bundle(minor_in_care) -> None:
    import msgspec

    tenant = minor_in_care
    tenant.put_subject("client-2", birth_date="1980-01-01")
    other = verify(export(tenant, "client-2", personal_data="true")).bundle.subject_key
    data = export(tenant, "child-1", personal_data="true")
    bundle = verify(data).bundle
    swapped = msgspec.structs.replace(bundle, subject_key=other)
    with pytest.raises(BundleError, match="subject_key does not open"):
        verify(render(swapped))
    garbage = msgspec.structs.replace(bundle, subject_key=base64.b64encode(b"x" * 31).decode())
    with pytest.raises(BundleError, match="subject_key"):
        verify(render(garbage))


def test_grondslag_verify_at_prints_what_applied_then(tenant, tmp_path: Path) -> None:
    tenant.register_purpose()
    tenant.put_subject("client-1")
    assert tenant.consent(effective_at="2025-09-02T10:00:00Z").status_code == 201
    path = tmp_path / "bundle.json"
    path.write_bytes(export(tenant, "client-1"))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "grondslag.cli",
            "verify",
            str(path),
            "--at",
            "2025-10-01T00:00:00Z",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("verified: ")
    applied = next(line for line in lines if "photo-in-dossier" in line)
    assert "lawful on consent since 2025-09-02T10:00:00+00:00" in applied
    assert any("ConsentGiven took effect 2025-09-02T10:00:00+00:00" in line for line in lines)
    assert any("birth date is sealed" in line for line in lines)
    earlier = subprocess.run(
        [
            sys.executable,
            "-m",
            "grondslag.cli",
            "verify",
            str(path),
            "--at",
            "2025-01-01T00:00:00Z",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert earlier.returncode == 0, earlier.stderr
    assert "photo-in-dossier (Pasfoto in het dossier): none" in earlier.stdout
    naive = subprocess.run(
        [sys.executable, "-m", "grondslag.cli", "verify", str(path), "--at", "2025-01-01T00:00:00"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert naive.returncode == 2 and "offset" in naive.stderr
    assert json.loads(path.read_bytes())["subject_key"] is None


def test_grondslag_verify_at_prints_what_was_recorded_as_one_line_that_cannot_steer_the_terminal(
    tenant, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A `recorded_by` with a line break, a terminal escape and a bidi override — as the API
    took it before it refused control characters, so that the log may hold one — is printed
    escaped: the auditor reads it inside its evidence line, never as a line of its own that
    looks like the command's answer, nor as colours or a cleared line."""
    forged = "staff:x\n  photo-in-dossier (Pasfoto in het dossier): lawful\x1b[2K\u202e"
    tenant.register_purpose()
    tenant.put_subject("client-1")
    refused = tenant.consent(effective_at="2025-09-02T10:00:00Z", recorded_by=forged)
    assert refused.status_code == 422, refused.text  # today's API: one line, no controls
    tenant.client.app.state.ledger.give_consent(  # as recorded before that check
        tenant.name,
        "client-1",
        "photo-in-dossier",
        method="written",
        explicit=True,
        notice_version=NOTICE["version"],
        evidence=Evidence("intake.pdf"),
        recorded_by=forged,
        effective_at=datetime(2025, 9, 2, 10, tzinfo=UTC),
    )
    path = tmp_path / "bundle.json"
    withdrawn = {"method": "email", "effective_at": "2025-09-03T10:00:00Z", "recorded_by": "x"}
    assert (
        tenant.call(
            "POST", "/v1/subjects/client-1/consents/photo-in-dossier/withdrawal", json=withdrawn
        ).status_code
        == 201
    )
    path.write_bytes(export(tenant, "client-1"))
    args = argparse.Namespace(
        bundle=str(path), key=None, key_history=None, at="2025-10-01T00:00:00Z", known_at=None
    )
    assert audit_commands.verify(args) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    answers = [line for line in lines if line.startswith("  photo-in-dossier (")]
    assert len(answers) == 1 and ": lapsed " in answers[0], out  # the forged line is not one
    given_line = next(line for line in lines if "ConsentGiven" in line)
    assert given_line.startswith("    ConsentGiven took effect")
    assert "by staff:x\\n  photo-in-dossier (Pasfoto in het dossier): lawful\\x1b[2K\\u202e," in (
        given_line
    )
    assert not any(c in out for c in "\x1b\u202e\x00"), out
