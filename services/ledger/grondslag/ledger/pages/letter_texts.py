"""The texts of the Art. 15 letter, in Dutch and English (static HTML; the values put into
them are escaped by ``access_letter``)."""

from __future__ import annotations

MONTHS = {
    "nl": [
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ],
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
}
UNITS = {
    "nl": {
        "Y": ("jaar", "jaar"),
        "M": ("maand", "maanden"),
        "W": ("week", "weken"),
        "D": ("dag", "dagen"),
    },
    "en": {
        "Y": ("year", "years"),
        "M": ("month", "months"),
        "W": ("week", "weeks"),
        "D": ("day", "days"),
    },
}
BASES = {
    "nl": {
        "consent": "uw toestemming (art. 6 lid 1 onder a AVG)",
        "contract": "de overeenkomst met u (art. 6 lid 1 onder b AVG)",
        "legal_obligation": "een wettelijke plicht (art. 6 lid 1 onder c AVG)",
        "vital_interests": "een vitaal belang (art. 6 lid 1 onder d AVG)",
        "public_task": "een taak van algemeen belang (art. 6 lid 1 onder e AVG)",
        "legitimate_interest": "ons gerechtvaardigd belang (art. 6 lid 1 onder f AVG)",
    },
    "en": {
        "consent": "your consent (Art. 6(1)(a) GDPR)",
        "contract": "our agreement with you (Art. 6(1)(b) GDPR)",
        "legal_obligation": "a legal obligation (Art. 6(1)(c) GDPR)",
        "vital_interests": "vital interests (Art. 6(1)(d) GDPR)",
        "public_task": "a task in the public interest (Art. 6(1)(e) GDPR)",
        "legitimate_interest": "our legitimate interest (Art. 6(1)(f) GDPR)",
    },
}
CATEGORIES = {
    "nl": {
        "health": "gezondheid",
        "religion": "godsdienst of levensovertuiging",
        "sexual_life": "seksueel leven",
        "ethnicity": "etnische afkomst",
        "political_opinion": "politieke opvattingen",
        "union_membership": "vakbondslidmaatschap",
        "genetic": "genetische gegevens",
        "biometric": "biometrische gegevens",
        "criminal": "strafrechtelijke gegevens",
        "bsn": "burgerservicenummer (BSN)",
    },
    "en": {
        "health": "health",
        "religion": "religion or belief",
        "sexual_life": "sex life",
        "ethnicity": "ethnic origin",
        "political_opinion": "political opinions",
        "union_membership": "trade union membership",
        "genetic": "genetic data",
        "biometric": "biometric data",
        "criminal": "criminal data",
        "bsn": "citizen service number (BSN)",
    },
}
CONDITIONS = {
    "nl": {
        "explicit_consent": "uw uitdrukkelijke toestemming (art. 9 lid 2 onder a AVG)",
        "health_care": "zorgverlening (art. 9 lid 2 onder h AVG, art. 30 lid 3 UAVG)",
        "reintegration": "re-integratie (art. 30 lid 1 UAVG)",
        "legal_claims": "een rechtsvordering (art. 9 lid 2 onder f AVG)",
    },
    "en": {
        "explicit_consent": "your explicit consent (Art. 9(2)(a) GDPR)",
        "health_care": "health care (Art. 9(2)(h) GDPR, Art. 30(3) UAVG)",
        "reintegration": "reintegration (Art. 30(1) UAVG)",
        "legal_claims": "legal claims (Art. 9(2)(f) GDPR)",
    },
}
STATUS = {
    "nl": {
        "lawful": "wij verwerken uw gegevens hiervoor",
        "restricted": "afgeschermd: wij bewaren uw gegevens, maar gebruiken ze niet",
        "pending": "nog niet: er ontbreekt een toestemming",
        "lapsed": "wij verwerken uw gegevens hiervoor niet meer",
        "none": "wij verwerken uw gegevens hiervoor niet",
    },
    "en": {
        "lawful": "we process your data for this",
        "restricted": "restricted: we keep your data but do not use it",
        "pending": "not yet: a consent is still missing",
        "lapsed": "we no longer process your data for this",
        "none": "we do not process your data for this",
    },
}
REASONS = {
    "nl": {
        "withdrawn": "u heeft uw toestemming ingetrokken",
        "expired": "de toestemming is verlopen",
        "subject_reached_age_of_consent": "u bent 16 geworden; uw eigen toestemming is nodig",
        "representative_authority_ended": "de vertegenwoordiging is geëindigd",
        "notice_revised": "de privacyverklaring is gewijzigd",
        "objection": "u heeft bezwaar gemaakt",
        "basis_ended": "de grondslag is geëindigd",
        "retention_expired": "de bewaartermijn is verstreken",
        "erased": "uw gegevens zijn gewist",
        "restricted": "op uw verzoek afgeschermd",
    },
    "en": {
        "withdrawn": "you withdrew your consent",
        "expired": "the consent expired",
        "subject_reached_age_of_consent": "you turned 16; your own consent is needed",
        "representative_authority_ended": "the representation ended",
        "notice_revised": "the privacy statement changed",
        "objection": "you objected",
        "basis_ended": "the basis ended",
        "retention_expired": "the retention period ended",
        "erased": "your data was erased",
        "restricted": "restricted at your request",
    },
}
_RIGHTS_NL = [
    "<strong>Inzage</strong> (art. 15 AVG): weten welke gegevens wij van u verwerken — deze brief.",
    "<strong>Rectificatie</strong> (art. 16): onjuiste gegevens laten verbeteren of aanvullen.",
    "<strong>Wissing</strong> (art. 17): uw gegevens laten verwijderen, tenzij wij ze moeten "
    "bewaren (bijvoorbeeld een wettelijke bewaartermijn).",
    "<strong>Beperking</strong> (art. 18): uw gegevens laten afschermen; wij bewaren ze dan, "
    "maar gebruiken ze niet.",
    "<strong>Overdraagbaarheid</strong> (art. 20): de gegevens die u ons gaf en uw "
    "toestemmingen in een gangbaar digitaal formaat ontvangen.",
    "<strong>Bezwaar</strong> (art. 21): bezwaar maken tegen verwerking op grond van een "
    "gerechtvaardigd belang of een taak van algemeen belang, en altijd tegen direct marketing.",
    "<strong>Toestemming intrekken</strong> (art. 7 lid 3): op elk moment, even eenvoudig als "
    "u haar gaf; wat wij daarvoor deden blijft rechtmatig.",
]
_RIGHTS_EN = [
    "<strong>Access</strong> (Art. 15 GDPR): to know which data we process about you — "
    "this letter.",
    "<strong>Rectification</strong> (Art. 16): to have inaccurate data corrected or completed.",
    "<strong>Erasure</strong> (Art. 17): to have your data deleted, unless we must keep it "
    "(for instance for a legal retention period).",
    "<strong>Restriction</strong> (Art. 18): to have your data restricted; we then keep it "
    "but do not use it.",
    "<strong>Portability</strong> (Art. 20): to receive the data you gave us and your consents "
    "in a common digital format.",
    "<strong>Objection</strong> (Art. 21): to object to processing based on a legitimate "
    "interest or a public task, and always to direct marketing.",
    "<strong>Withdrawing consent</strong> (Art. 7(3)): at any time, as easily as you gave it; "
    "what we did before remains lawful.",
]
TEXTS: dict[str, dict] = {
    "nl": {
        "subject": "Inzage in uw persoonsgegevens (artikel 15 AVG)",
        "date": "Datum",
        "reference": "Uw kenmerk bij ons",
        "salutation": "Geachte heer, mevrouw,",
        "intro": "U vroeg welke persoonsgegevens {practice} van u verwerkt. In deze brief leest "
        "u per doel waarvoor wij uw gegevens gebruiken, op welke grondslag, welke gegevens het "
        "zijn, met wie wij ze delen en hoe lang wij ze bewaren. Daarna leest u welke rechten u "
        "heeft en waar u terecht kunt met een klacht.",
        "held": "Wat wij in ons register over u vastleggen",
        "held_intro": "In ons register van grondslagen en toestemmingen staan onder uw kenmerk:",
        "birth_date": "uw geboortedatum",
        "email": "uw e-mailadres",
        "rectified": "deze gegevens zijn {n} keer op uw verzoek of door ons verbeterd; de eerdere "
        "versies bewaren wij als bewijs",
        "destroyed": "uw persoonsgegevens zijn gewist; wat overblijft is het pseudonieme bewijs "
        "van toestemmingen en grondslagen",
        "destroyed_partly": "uw overige persoonsgegevens zijn gewist; wat hierboven staat "
        "bewaren wij nog omdat een bewaarplicht of een andere grond dat vereist",
        "nothing_personal": "geen persoonsgegevens behalve uw kenmerk",
        "request": "uw verzoek om {kind}, ontvangen op {received} ({state})",
        "request_open": "wij antwoorden uiterlijk {due}",
        "request_answered": "beantwoord",
        "request_kinds": {
            "access": "inzage",
            "rectification": "rectificatie",
            "erasure": "wissing",
            "restriction": "beperking",
            "portability": "overdracht van uw gegevens",
            "objection": "bezwaar",
        },
        "representative": "vertegenwoordiger {who} ({kind}), sinds {since}",
        "until": ", tot {when}",
        "kinds": {
            "parental_authority": "ouder met gezag",
            "guardian": "voogd",
            "curator": "curator",
            "mentor": "mentor",
            "administrator": "bewindvoerder",
            "authorised_person": "gemachtigde",
        },
        "purposes": "Waarvoor wij uw gegevens verwerken",
        "no_purposes": "Wij verwerken uw gegevens voor geen enkel doel.",
        "what_for": "Doel",
        "basis": "Grondslag",
        "data": "Gegevens",
        "recipients": "Ontvangers",
        "retention": "Bewaartermijn",
        "since": "Sinds",
        "standing": "Stand nu",
        "special_condition": "voor bijzondere gegevens",
        "data_general": "de gegevens in uw dossier voor dit doel",
        "data_special": "bijzondere persoonsgegevens",
        "no_recipients": "niemand buiten onze praktijk",
        "retention_none": "zo lang als nodig voor dit doel",
        "starts": {"basis_end": "na het einde van de grondslag", "collection": "na het verzamelen"},
        "until_date": "tot {when}",
        "and": " en ",
        "from_until": "{since} tot {until}",
        "consent_line": "Toestemming gegeven op {when} ({how}, {who}; privacyverklaring versie "
        "{notice}).",
        "withdrawal_line": "Toestemming ingetrokken op {when}.",
        "by_you": "door u",
        "by_rep": "door uw vertegenwoordiger {who}",
        "methods": {
            "written": "schriftelijk",
            "email": "per e-mail",
            "signed_electronic": "elektronisch ondertekend",
            "web_form": "via een webformulier",
            "verbal": "mondeling",
            "double_opt_in": "via een bevestigingslink",
            "unsubscribe_link": "via een afmeldlink",
        },
        "rights_title": "Uw rechten",
        "rights_intro": "U heeft de volgende rechten:",
        "rights": _RIGHTS_NL,
        "how": "Wilt u een van deze rechten gebruiken, neem dan contact met ons op via "
        "{contact}. Wij antwoorden {term}.",
        "term_month": "binnen een maand",
        "term_days": "binnen {days} dagen",
        "complaint_title": "Een klacht indienen",
        "complaint": "Bent u het niet eens met hoe wij met uw gegevens omgaan? Laat het ons "
        "weten. U kunt ook een klacht indienen bij {authority}: {url}.",
        "ap": "de Autoriteit Persoonsgegevens (Postbus 93374, 2509 AJ Den Haag)",
        "authority": "de toezichthouder",
        "regards": "Met vriendelijke groet,",
        "privacy_statement": "Privacyverklaring",
        "dpo": "Functionaris gegevensbescherming",
        "generated": "Deze brief is opgesteld uit ons register van grondslagen en toestemmingen.",
    },
    "en": {
        "subject": "Access to your personal data (Article 15 GDPR)",
        "date": "Date",
        "reference": "Your reference with us",
        "salutation": "Dear Sir or Madam,",
        "intro": "You asked which personal data {practice} processes about you. This letter "
        "sets out, for each purpose, what we use your data for, on which legal basis, which "
        "data it is, with whom we share it and how long we keep it. It then sets out your "
        "rights and where you can complain.",
        "held": "What our register holds about you",
        "held_intro": "Our register of legal bases and consents holds under your reference:",
        "birth_date": "your date of birth",
        "email": "your e-mail address",
        "rectified": "this data was corrected {n} time(s); we keep the earlier versions as proof",
        "destroyed": "your personal data was erased; what remains is the pseudonymous proof of "
        "consents and legal bases",
        "destroyed_partly": "your other personal data was erased; we still keep what is "
        "listed above because a retention duty or another ground requires it",
        "nothing_personal": "no personal data besides your reference",
        "request": "your request for {kind}, received on {received} ({state})",
        "request_open": "we answer by {due} at the latest",
        "request_answered": "answered",
        "request_kinds": {
            "access": "access",
            "rectification": "rectification",
            "erasure": "erasure",
            "restriction": "restriction",
            "portability": "portability",
            "objection": "objection",
        },
        "representative": "representative {who} ({kind}), since {since}",
        "until": ", until {when}",
        "kinds": {
            "parental_authority": "parent with parental authority",
            "guardian": "guardian",
            "curator": "curator",
            "mentor": "mentor",
            "administrator": "administrator",
            "authorised_person": "authorised person",
        },
        "purposes": "What we process your data for",
        "no_purposes": "We process your data for no purpose.",
        "what_for": "Purpose",
        "basis": "Legal basis",
        "data": "Data",
        "recipients": "Recipients",
        "retention": "Retention",
        "since": "Since",
        "standing": "Standing now",
        "special_condition": "for special categories",
        "data_general": "the data in your file for this purpose",
        "data_special": "special categories",
        "no_recipients": "no one outside our practice",
        "retention_none": "as long as needed for this purpose",
        "starts": {"basis_end": "after the basis ends", "collection": "after collection"},
        "until_date": "until {when}",
        "and": " and ",
        "from_until": "{since} until {until}",
        "consent_line": "Consent given on {when} ({how}, {who}; privacy statement version "
        "{notice}).",
        "withdrawal_line": "Consent withdrawn on {when}.",
        "by_you": "by you",
        "by_rep": "by your representative {who}",
        "methods": {
            "written": "in writing",
            "email": "by e-mail",
            "signed_electronic": "signed electronically",
            "web_form": "by a web form",
            "verbal": "verbally",
            "double_opt_in": "by a confirmation link",
            "unsubscribe_link": "by an unsubscribe link",
        },
        "rights_title": "Your rights",
        "rights_intro": "You have the following rights:",
        "rights": _RIGHTS_EN,
        "how": "To exercise any of these rights, please contact us at {contact}. We answer {term}.",
        "term_month": "within one month",
        "term_days": "within {days} days",
        "complaint_title": "Making a complaint",
        "complaint": "If you disagree with how we handle your data, please tell us. You can "
        "also lodge a complaint with {authority}: {url}.",
        "ap": "the Dutch Data Protection Authority, the Autoriteit Persoonsgegevens (PO Box "
        "93374, 2509 AJ The Hague)",
        "authority": "the supervisory authority",
        "regards": "Yours faithfully,",
        "privacy_statement": "Privacy statement",
        "dpo": "Data protection officer",
        "generated": "This letter was drawn up from our register of legal bases and consents.",
    },
}
