"""Many threads decode every stored event type at once, each on its first use, in fresh
processes: the race in which msgspec up to 0.22 built a type's information on one thread
while another already used it, and the process died of SIGSEGV.

``test_first_use_stress.py`` runs it on the locked msgspec. Run it alone to count the
crashes of any msgspec, with or without the ledger's ``warm_up`` first, e.g. in a venv
that has another msgspec and the project's other dependencies::

    PYTHONPATH=services/ledger:services/projector python tests/unit/first_use_stress.py \\
        --processes 20 --threads 16 [--warm-up]

Each process gets the stored rows and the events they must decode to on stdin (a pickle),
switches the GIL every 10 µs (the service runs at 500 µs, ``grondslag.cli.serve``) so that
the threads interleave inside msgspec's first use, releases its threads together by a
barrier, and exits 0 when every decode equalled its event.
"""

from __future__ import annotations

import argparse
import pickle
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

SWITCH_INTERVAL = 1e-5
ROOT = Path(__file__).resolve().parents[2]


def every_stored_event() -> list[Any]:
    """One event of every class the ledger stores, with every optional part filled in."""
    from grondslag.ledger.domain.controller import (
        Controller,
        ControllerIdentity,
        DataProtectionOfficer,
    )
    from grondslag.ledger.domain.ids import subject_id
    from grondslag.ledger.domain.purpose import Purpose
    from grondslag.ledger.domain.standing import Standing
    from grondslag.ledger.domain.subject import Subject
    from grondslag.ledger.domain.values import (
        BasisEnd,
        Consent,
        Erasure,
        ErasureHold,
        Establishment,
        Evidence,
        Hold,
        Lapse,
        LegalClaim,
        LegalClaimEnd,
        Notice,
        Objection,
        ObjectionDecision,
        PersonalData,
        PurposeTerms,
        Representation,
        RepresentationEnd,
        Restriction,
        RestrictionLift,
        Retention,
        Withdrawal,
    )
    from grondslag.ledger.persistence.sealing import InMemoryKeyStore, seal

    at = datetime(2025, 2, 1, 9, 30, tzinfo=UTC)
    evidence = Evidence(document_ref="scan-1", sha256="b" * 64)
    terms = PurposeTerms(
        title="Youth care file",
        basis="contract",
        notice=Notice(version="n1", url="https://example.nl/privacy/n1", sha256="a" * 64),
        special_categories=("health",),
        special_condition="health_care",
        matter="care",
        recipients=("GP",),
        retention=Retention(term="P20Y"),
        erasure_hold=ErasureHold(term="P18M", reason="MfN", starts="collection"),
        destroy_on_request=True,
        shared_file=True,
    )
    purpose = Purpose.register("practice-a", "youth-file", terms, at)
    purpose.trigger_event(Purpose.Revised, terms=terms, material=False, effective_at=at)

    sid = subject_id("practice-a", "client-1")
    key = InMemoryKeyStore().create_key(sid)
    subject = Subject.register("practice-a", "client-1", seal(key, sid, PersonalData()))
    subject.trigger_event(
        Subject.PersonalDataRecorded,
        sealed_personal_data=seal(key, sid, PersonalData(birth_date=date(2010, 3, 4))),
    )
    subject.trigger_event(
        Subject.RepresentativeRegistered,
        representation=Representation(
            representative_ref="parent-1",
            kind="parental_authority",
            valid_from=at,
            evidence=evidence,
            valid_until=at,
            purposes=("youth-file",),
            subject_competent_for=("care",),
        ),
    )
    subject.trigger_event(
        Subject.RepresentationEnded,
        end=RepresentationEnd(representative_ref="parent-1", effective_at=at, reason="court"),
    )
    claim = LegalClaim(
        claim_ref="claim-1",
        purpose="youth-file",
        reference="C/13/123456",
        effective_at=at,
        until=at,
        recorded_by="staff:anna",
    )
    subject.trigger_event(Subject.LegalClaimRecorded, claim=claim)
    subject.trigger_event(
        Subject.LegalClaimEnded,
        end=LegalClaimEnd(claim_ref="claim-1", effective_at=at, reason="settled", recorded_by="x"),
    )
    hold = Hold(purpose="youth-file", kind="shared_file", reason="r", until=at, parties=("b",))
    subject.trigger_event(
        Subject.Erased,
        erasure=Erasure(
            effective_at=at,
            recorded_by="staff:anna",
            complete=False,
            erased=("newsletter",),
            held=(hold,),
            kept=("birth_date", "email"),
            request_id="req-1",
            joint_with=("client-2",),
            reasons="art. 17",
        ),
        sealed_personal_data=seal(key, sid, PersonalData(birth_date=date(2010, 3, 4))),
    )

    standing = Standing.open("practice-a", "client-1", "youth-file")
    for event_class, field, statement in [
        (
            Standing.ConsentGiven,
            "consent",
            Consent(
                method="written",
                explicit=True,
                notice_version="n1",
                purpose_version=1,
                evidence=evidence,
                effective_at=at,
                recorded_by="staff:anna",
                representative_ref="parent-1",
                capacity="parental_authority",
                expires_at=at,
            ),
        ),
        (
            Standing.ConsentWithdrawn,
            "withdrawal",
            Withdrawal(method="email", effective_at=at, recorded_by="staff:bram"),
        ),
        (
            Standing.BasisEstablished,
            "establishment",
            Establishment(
                basis="contract", reference="c-1", effective_at=at, recorded_by="x", file_ref="f"
            ),
        ),
        (Standing.BasisEnded, "basis_end", BasisEnd(effective_at=at, reason="done")),
        (Standing.ObjectionLodged, "objection", Objection(grounds="no", effective_at=at)),
        (
            Standing.ObjectionDecided,
            "decision",
            ObjectionDecision(upheld=False, reasons="compelling", effective_at=at),
        ),
        (Standing.BasisLapsed, "lapse", Lapse(reason="expired", effective_at=at)),
        (Standing.RetentionExpired, "lapse", Lapse(reason="retention_expired", effective_at=at)),
        (
            Standing.ProcessingRestricted,
            "restriction",
            Restriction(reasons="disputed", effective_at=at, recorded_by="x", request_id="r-1"),
        ),
        (
            Standing.RestrictionLifted,
            "lift",
            RestrictionLift(reasons="settled", effective_at=at, recorded_by="x"),
        ),
    ]:
        standing.trigger_event(event_class, **{field: statement})
    controller = Controller.open("practice-a", at)
    identity = ControllerIdentity(
        display_name="Praktijk A",
        postal_address="Straat 1, 1000 AA Amsterdam",
        email="privacy@a.example",
        privacy_statement_url="https://a.example/privacy",
        dpo=DataProtectionOfficer(name="F. G.", contact="fg@a.example"),
        promised_term="P4W",
        languages=("nl", "en"),
        telephone="020-1234567",
        notes="open on weekdays",
    )
    controller.record(identity, at, at)
    return [
        *purpose.collect_events(),
        *subject.collect_events(),
        *standing.collect_events(),
        *controller.collect_events(),
        *request_events(at),
    ]


def request_events(at: datetime) -> list[Any]:
    """A data-subject request with every event of its stream, every optional part filled."""
    from grondslag.ledger.domain import request_values as rv
    from grondslag.ledger.domain.subject_request import SubjectRequest
    from grondslag.ledger.domain.values import Giver

    request = SubjectRequest._create(
        SubjectRequest.Received,
        id=SubjectRequest.create_id("practice-a", "r-1"),
        tenant="practice-a",
        subject_ref="client-1",
        request_id="r-1",
        kind="access",
        received_at=at,
        channel="letter",
        made_by=Giver("representative", "parent-1", "parental_authority"),
        purposes=("youth-file",),
        identity=rv.IdentityCheck(method="digid", verified_by="staff:anna", verified_at=at),
        due_at=at,
        promised_term="P4W",
        promised_by=at,
        recorded_by="staff:anna",
        note="by post",
    )
    extension = rv.Extension(months=2, reasons="r", told_subject_at=at, recorded_by="x")
    request.trigger_event(SubjectRequest.Extended, extension=extension, due_at=at)
    answer = rv.Answer(outcome="partly", reasons="r", answered_at=at, recorded_by="x")
    request.trigger_event(SubjectRequest.Answered, answer=answer)
    confirmation = rv.Confirmation(system="crm", what="exported", done_at=at)
    request.trigger_event(SubjectRequest.Confirmed, confirmation=confirmation)
    request.trigger_event(SubjectRequest.DueSoonNoticed, due_at=at)
    request.trigger_event(SubjectRequest.OverdueNoticed, due_at=at)
    return list(request.collect_events())


def work() -> bytes:
    """The pickle a process reads: (topic, state, originator id, version) rows and events."""
    from grondslag.ledger.persistence.mapper import MsgspecMapper

    mapper = MsgspecMapper()
    events = every_stored_event()
    rows = []
    for event in events:
        stored = mapper.to_stored_event(event)
        rows.append((stored.topic, stored.state, stored.originator_id, stored.originator_version))
    return pickle.dumps((rows, events))


def child(threads: int, warm: bool) -> int:
    """In a fresh process: ``threads`` threads decode every row at once, each row's class on
    its first use (unless ``warm``: after ``warm_up``). 0 when every decode was right."""
    rows, events = pickle.loads(sys.stdin.buffer.read())
    from grondslag.ledger.persistence.mapper import decode_event
    from grondslag.ledger.persistence.warm_up import stored_event_classes, warm_up

    sys.setswitchinterval(SWITCH_INTERVAL)
    if warm:
        warm_up()
        missed = [c for c in stored_event_classes() if "__msgspec_cache__" not in vars(c)]
        assert not missed, f"warm_up built no decoder of {missed}"
    else:  # nothing has built a decoder of an event class yet: the threads' decodes are first
        built = [c for c in stored_event_classes() if "__msgspec_cache__" in vars(c)]
        assert not built, f"already built: {built}"
    barrier = threading.Barrier(threads)
    wrong: list[str] = []

    def decode_all(start: int) -> None:
        barrier.wait()
        for i in [*range(start, len(rows)), *range(start)]:  # each thread starts elsewhere
            decoded = decode_event(*rows[i])
            if decoded != events[i]:
                wrong.append(f"{type(events[i]).__qualname__}: {decoded!r} != {events[i]!r}")

    pool = [threading.Thread(target=decode_all, args=(n % len(rows),)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    print("\n".join(wrong), file=sys.stderr)
    return 1 if wrong else 0


@dataclass
class Outcome:
    processes: int
    crashed: int  # killed by a signal (SIGSEGV: -11)
    wrong: int  # exited non-zero: a decode differed, or an exception
    signals: set[int]
    errors: list[str]


def stress(processes: int, threads: int, warm: bool, parallel: int = 2) -> Outcome:
    """Run ``processes`` fresh processes of ``child`` (``parallel`` at a time)."""
    data = work()

    def one(_: int) -> subprocess.CompletedProcess[bytes]:
        command = [sys.executable, __file__, "--child", "--threads", str(threads)]
        return subprocess.run(
            [*command, *(["--warm-up"] if warm else [])],
            input=data,
            capture_output=True,
            timeout=120,
            cwd=ROOT,
        )

    with ThreadPoolExecutor(parallel) as runner:
        runs = list(runner.map(one, range(processes)))
    crashed = [r for r in runs if r.returncode < 0]
    wrong = [r for r in runs if r.returncode > 0]
    return Outcome(
        processes=processes,
        crashed=len(crashed),
        wrong=len(wrong),
        signals={-r.returncode for r in crashed},
        errors=[r.stderr.decode(errors="replace")[-2000:] for r in wrong],
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=20)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--warm-up", action="store_true", help="call warm_up() first")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.threads, args.warm_up)
    import msgspec

    outcome = stress(args.processes, args.threads, args.warm_up)
    print(
        f"msgspec {msgspec.__version__}, {args.threads} threads, "
        f"warm-up {'yes' if args.warm_up else 'no'}: {outcome.crashed} of {outcome.processes} "
        f"processes crashed (signals {sorted(outcome.signals) or '-'}), {outcome.wrong} wrong"
    )
    for error in outcome.errors[:3]:
        print(error, file=sys.stderr)
    return 1 if outcome.crashed or outcome.wrong else 0


if __name__ == "__main__":
    sys.exit(main())
