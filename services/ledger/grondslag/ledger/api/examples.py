"""Request examples of the OpenAPI document, each a body of the README's walk-through
(``tests/unit/test_openapi_examples.py`` holds them to it): operation id → name →
(summary, body)."""

from __future__ import annotations

from typing import Any

EXAMPLES: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {
    "registerPurpose": {
        "photo-in-dossier": (
            "a purpose on consent, with the privacy notice shown",
            {
                "code": "photo-in-dossier",
                "title": "Pasfoto in het dossier",
                "basis": "consent",
                "notice": {
                    "version": "2025-01",
                    "url": "https://praktijk.example/privacy/2025-01",
                    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                },
                "effective_at": "2025-01-01T00:00:00Z",
            },
        ),
        "group-photo": (
            "a purpose on consent for a group photo",
            {
                "code": "group-photo",
                "title": "Groepsfoto op de website",
                "basis": "consent",
                "notice": {
                    "version": "2025-01",
                    "url": "https://praktijk.example/privacy/2025-01",
                    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                },
                "effective_at": "2025-01-01T00:00:00Z",
            },
        ),
        "care-file-sharing": (
            "a care purpose with health data, on explicit consent",
            {
                "code": "care-file-sharing",
                "title": "Delen met de huisarts",
                "basis": "consent",
                "matter": "care",
                "special_categories": ["health"],
                "special_condition": "explicit_consent",
                "notice": {
                    "version": "2025-01",
                    "url": "https://praktijk.example/privacy/2025-01",
                    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                },
                "effective_at": "2025-01-01T00:00:00Z",
            },
        ),
        "mediation-file": (
            "a file on contract, kept seven years after its end",
            {
                "code": "mediation-file",
                "title": "Mediationdossier",
                "basis": "contract",
                "retention": {"term": "P7Y", "starts": "basis_end"},
                "notice": {
                    "version": "2025-01",
                    "url": "https://praktijk.example/privacy/2025-01",
                    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                },
                "effective_at": "2025-01-01T00:00:00Z",
            },
        ),
    },
    "putSubject": {
        "adult": ("an adult, with her birth date", {"birth_date": "1988-04-02"}),
        "child": ("a child of 14", {"birth_date": "2015-03-14"}),
    },
    "giveConsent": {
        "written": (
            "a consent signed on paper (R7: who, how, which notice, proof)",
            {
                "purpose": "photo-in-dossier",
                "method": "written",
                "explicit": True,
                "notice_version": "2025-01",
                "evidence": {"document_ref": "intake-2025-17.pdf"},
                "recorded_by": "staff:jdevries",
                "effective_at": "2025-09-02T10:00:00Z",
            },
        ),
        "verbal-refused": (
            "refused (409, R4): a verbal consent is not explicit",
            {
                "purpose": "photo-in-dossier",
                "method": "verbal",
                "explicit": True,
                "notice_version": "2025-01",
                "evidence": {"document_ref": "call-note"},
                "recorded_by": "staff:jdevries",
            },
        ),
        "by-parent": (
            "given by a mother with parental authority for her 14-year-old",
            {
                "purpose": "group-photo",
                "representative_ref": "mother-1",
                "method": "written",
                "explicit": False,
                "notice_version": "2025-01",
                "evidence": {"document_ref": "toestemming-foto.pdf"},
                "recorded_by": "staff:jdevries",
                "effective_at": "2025-09-02T10:00:00Z",
            },
        ),
        "by-administrator-refused": (
            "refused (409, R15): a bewindvoerder acts in money matters only",
            {
                "purpose": "care-file-sharing",
                "representative_ref": "bewind-2",
                "method": "written",
                "explicit": True,
                "notice_version": "2025-01",
                "evidence": {"document_ref": "formulier.pdf"},
                "recorded_by": "staff:jdevries",
            },
        ),
    },
    "checkSubjects": {
        "two-subjects": (
            "may we, for many subjects at once",
            {"purpose": "photo-in-dossier", "subject_refs": ["client-17", "client-18"]},
        ),
    },
    "withdrawConsent": {
        "by-email": (
            "a withdrawal e-mail that arrived Friday 22:14, recorded on Monday (R8)",
            {
                "method": "email",
                "effective_at": "2025-11-14T22:14:00Z",
                "recorded_by": "staff:jdevries",
            },
        ),
    },
    "registerRepresentative": {
        "parent": (
            "a mother with parental authority",
            {
                "representative_ref": "mother-1",
                "kind": "parental_authority",
                "valid_from": "2015-03-14T00:00:00+01:00",
                "evidence": {"document_ref": "gezagsregister-2025-03"},
            },
        ),
        "administrator": (
            "a bewindvoerder (administrator)",
            {
                "representative_ref": "bewind-2",
                "kind": "administrator",
                "valid_from": "2025-06-01T00:00:00Z",
                "evidence": {"document_ref": "beschikking-2025-0412"},
            },
        ),
    },
    "establishBasis": {
        "contract": (
            "a mediation agreement",
            {
                "purpose": "mediation-file",
                "basis": "contract",
                "reference": "opdracht-2025-17",
                "effective_at": "2025-03-01T09:00:00Z",
            },
        ),
    },
    "endBasis": {
        "concluded": (
            "the mediation concluded: the retention term starts",
            {"reason": "mediation concluded", "effective_at": "2025-10-31T17:00:00Z"},
        ),
    },
    "receiveRequest": {
        "access": (
            "an access request by e-mail, identity checked by calling back",
            {
                "kind": "access",
                "channel": "email",
                "received_at": "2026-01-31T22:30:00Z",
                "identity": {"method": "known_contact_details", "verified_by": "staff:jdevries"},
                "recorded_by": "staff:jdevries",
            },
        ),
        "erasure-by-parent": (
            "an erasure request by a mother for her child's photo",
            {
                "kind": "erasure",
                "channel": "letter",
                "representative_ref": "mother-1",
                "purposes": ["group-photo"],
                "identity": {"method": "signature_compared", "verified_by": "staff:jdevries"},
            },
        ),
    },
    "extendRequest": {
        "two-months": (
            "two further months, with reasons",
            {
                "months": 2,
                "reasons": "files in three systems and an archive",
                "told_subject_at": "2026-02-10T09:00:00Z",
            },
        ),
    },
    "confirmRequest": {
        "exported": (
            "a system says what it did",
            {"system": "client-file", "what": "exported the client file as PDF"},
        ),
    },
    "answerRequest": {
        "fulfilled": (
            "the answer",
            {"outcome": "fulfilled", "reasons": "copy sent by registered post"},
        ),
    },
    "putTenant": {
        "identity": (
            "the controller's identity, with a promised term of four weeks",
            {
                "display_name": "Praktijk De Linde",
                "postal_address": "Lindelaan 4\n7511 AB Enschede",
                "email": "privacy@praktijkdelinde.nl",
                "telephone": "053 123 45 67",
                "privacy_statement_url": "https://praktijkdelinde.nl/privacy",
                "dpo": {"name": "mr. A. Jansen", "contact": "fg@praktijkdelinde.nl"},
                "promised_term": "P4W",
                "languages": ["nl", "en"],
                "effective_at": "2025-01-01T00:00:00Z",
            },
        ),
    },
    "restrictProcessing": {
        "disputed": (
            "the photo's use disputed (art. 18(1)(d))",
            {
                "purposes": ["group-photo"],
                "reasons": "the mother disputes the use of the photo (art. 18(1)(d))",
                "request_id": "req-2025-17",
                "recorded_by": "staff:jdevries",
            },
        ),
    },
    "liftRestriction": {
        "decided": (
            "the objection decided",
            {"reasons": "objection decided", "recorded_by": "staff:jdevries"},
        ),
    },
    "unsubscribeLink": {
        "newsletter": (
            "a one-click unsubscribe link for the mailing tool",
            {"purpose": "photo-in-dossier"},
        ),
    },
    "revisePurpose": {
        "title": (
            "a revision that is not material (R10): the consents given stand",
            {"material": False, "title": "Pasfoto in het cliëntdossier"},
        ),
    },
    "eraseSubject": {
        "request": (
            "an erasure request (art. 17)",
            {
                "recorded_by": "staff:jdevries",
                "reasons": "art. 17 request by e-mail",
            },
        ),
    },
    "recordLegalClaim": {
        "court-case": (
            "a court case that holds the file",
            {
                "claim_ref": "claim-1",
                "purpose": "mediation-file",
                "reference": "C/13/765432",
                "until": "2027-01-01T00:00:00Z",
            },
        ),
    },
    "endLegalClaim": {
        "settled": ("the claim settled", {"reason": "settled"}),
    },
}
