"""The Art. 15 answer as a printable letter (Dutch by default, English on request), from the
subject's export: per purpose what for, on which basis, which data, which recipients, how
long kept and since when; then the subject's rights and how to complain to the supervisory
authority, signed off with the controller's identity. Every value is escaped."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from html import escape

from litestar import Response

from ..domain.controller import AUTORITEIT_PERSOONSGEGEVENS, promised_days
from ..domain.values import Retention
from ..reads.export import PurposeExport, SubjectExport
from .layout import html_page
from .letter_texts import BASES, CATEGORIES, CONDITIONS, MONTHS, REASONS, STATUS, TEXTS, UNITS
from .times import AMSTERDAM

_INSTANT = timedelta(microseconds=1)  # due instants are exclusive: the end of the last day


def access_letter(export: SubjectExport, lang: str) -> Response[str]:
    """The letter answering an access request (art. 15) for ``export``, in ``lang``."""
    t = TEXTS[lang]
    body = (
        _letterhead(export, lang)
        + f"<h1>{t['subject']}</h1>"
        + f"<p>{t['salutation']}</p>"
        + f"<p>{t['intro'].format(practice=_practice(export))}</p>"
        + _personal_data(export, lang)
        + f"<h2>{t['purposes']}</h2>"
        + ("".join(_purpose(p, lang) for p in export.purposes) or f"<p>{t['no_purposes']}</p>")
        + _rights(export, lang)
        + _sign_off(export, lang)
    )
    return html_page(
        f"{t['subject']} — {_practice(export, escaped=False)}", body, lang=lang, kind="letter"
    )


def _practice(export: SubjectExport, *, escaped: bool = True) -> str:
    name = export.controller.display_name if export.controller else export.tenant
    return escape(name) if escaped else name


def _letterhead(export: SubjectExport, lang: str) -> str:
    t, c = TEXTS[lang], export.controller
    lines = [f"<strong>{_practice(export)}</strong>"]
    if c is not None:
        lines += [escape(line) for line in c.postal_address.splitlines() if line.strip()]
        lines.append(_mail(c.email))
        if c.telephone:
            lines.append(escape(c.telephone))
    sender = "<br>".join(lines)
    meta = (
        f"<p>{t['date']}: {_date(export.generated_at.astimezone(AMSTERDAM).date(), lang)}<br>"
        f"{t['reference']}: <code>{escape(export.subject_ref)}</code></p>"
    )
    return f'<header class="letterhead"><address>{sender}</address>{meta}</header>'


def _personal_data(export: SubjectExport, lang: str) -> str:
    t, personal = TEXTS[lang], export.personal_data
    rows = []
    if personal.birth_date:
        rows.append(f"<li>{t['birth_date']}: {_date(personal.birth_date, lang)}</li>")
    if personal.email:
        rows.append(f"<li>{t['email']}: {escape(personal.email)}</li>")
    if personal.destroyed:  # R22: gone with the key, but what a hold kept
        kept = personal.birth_date or personal.email
        rows.append(f"<li>{t['destroyed_partly' if kept else 'destroyed']}</li>")
    elif len(personal.history) > 1:
        rows.append(f"<li>{t['rectified'].format(n=len(personal.history) - 1)}</li>")
    for r in export.representations:
        who = escape(r.representation.representative_ref)
        kind = t["kinds"].get(r.representation.kind, escape(r.representation.kind))
        since = _date(r.representation.valid_from.astimezone(AMSTERDAM).date(), lang)
        until = (
            t["until"].format(when=_date(r.ends_at.astimezone(AMSTERDAM).date(), lang))
            if r.ends_at
            else ""
        )
        rows.append(
            f"<li>{t['representative'].format(who=who, kind=kind, since=since)}{until}</li>"
        )
    for request in export.requests:
        received = _date(request.received_at.astimezone(AMSTERDAM).date(), lang)
        last_day = date.fromisoformat(request.due_date)
        if request.promised_by is not None:  # the practice's own, shorter promise (R23)
            last_day = min(last_day, (request.promised_by - _INSTANT).astimezone(AMSTERDAM).date())
        state = (
            t["request_answered"]
            if request.answer is not None
            else t["request_open"].format(due=_date(last_day, lang))
        )
        kind = t["request_kinds"].get(request.kind, escape(request.kind))
        rows.append(f"<li>{t['request'].format(kind=kind, received=received, state=state)}</li>")
    items = "".join(rows) or f"<li>{t['nothing_personal']}</li>"
    return f"<h2>{t['held']}</h2><p>{t['held_intro']}</p><ul>{items}</ul>"


def _purpose(p: PurposeExport, lang: str) -> str:
    t, terms, s = TEXTS[lang], p.terms, p.standing
    basis = BASES[lang][terms.basis]
    if terms.legal_provision:
        basis += f" ({escape(terms.legal_provision)})"
    if terms.special_condition:
        condition = CONDITIONS[lang].get(terms.special_condition, escape(terms.special_condition))
        basis += f"; {t['special_condition']}: {condition}"
    categories = [CATEGORIES[lang].get(c, escape(c)) for c in terms.special_categories]
    data = t["data_general"] + (
        f"; {t['data_special']}: {', '.join(categories)}" if categories else ""
    )
    recipients = ", ".join(escape(r) for r in terms.recipients) or t["no_recipients"]
    status = STATUS[lang][s.status]
    if s.reason:
        status += f" ({REASONS[lang].get(s.reason, escape(s.reason))})"
    since = _date(s.since.astimezone(AMSTERDAM).date(), lang) if s.since else "—"
    if s.status == "lapsed" and s.until:
        since = t["from_until"].format(
            since=since, until=_date(s.until.astimezone(AMSTERDAM).date(), lang)
        )
    rows = [
        (t["basis"], basis),
        (t["data"], data),
        (t["recipients"], recipients),
        (t["retention"], _retention(terms.retention, s.retention_until, lang)),
        (t["since"], since),
        (t["standing"], status),
    ]
    consents = [
        t["consent_line"].format(
            when=_date(c.effective_at.astimezone(AMSTERDAM).date(), lang),
            how=t["methods"].get(c.method or "", escape(c.method or "")),
            who=(
                t["by_you"]
                if c.given_by is None or c.given_by.party == "subject"
                else t["by_rep"].format(who=escape(c.given_by.representative_ref or ""))
            ),
            notice=escape(c.notice.version) if c.notice else "—",
        )
        for c in p.consents
    ]
    consents += [
        t["withdrawal_line"].format(when=_date(w.effective_at.astimezone(AMSTERDAM).date(), lang))
        for w in p.withdrawals
    ]
    table = "".join(f"<tr><th scope=row>{k}</th><td>{v}</td></tr>" for k, v in rows)
    extra = f"<p class=small>{'<br>'.join(consents)}</p>" if consents else ""
    return (
        f"<section class=purpose><h3>{escape(p.title)}</h3><table>{table}</table>{extra}</section>"
    )


def _retention(retention: Retention | None, until: datetime | None, lang: str) -> str:
    t = TEXTS[lang]
    if retention is None:
        text = t["retention_none"]
    else:
        start = t["starts"][retention.starts]
        text = f"{_term(retention.term, lang)} {start}"
    if until is not None:
        text += f"; {t['until_date'].format(when=_date(until.astimezone(AMSTERDAM).date(), lang))}"
    return text


def _term(term: str, lang: str) -> str:
    """``P7Y`` → "7 jaar" / "7 years"."""
    parts = []
    for amount, unit in re.findall(r"(\d+)([YMWD])", term):
        one, many = UNITS[lang][unit]
        parts.append(f"{amount} {one if amount == '1' else many}")
    return TEXTS[lang]["and"].join(parts) or escape(term)


def _rights(export: SubjectExport, lang: str) -> str:
    t, c = TEXTS[lang], export.controller
    contact = _mail(c.email) if c else _practice(export)
    rights = "".join(f"<li>{right}</li>" for right in t["rights"])
    days = promised_days(c.promised_term) if c else None
    term = t["term_days"].format(days=days) if days else t["term_month"]
    complaint = c.complaint_url if c else AUTORITEIT_PERSOONSGEGEVENS
    authority = t["ap"] if complaint == AUTORITEIT_PERSOONSGEGEVENS else t["authority"]
    return (
        f"<h2>{t['rights_title']}</h2><p>{t['rights_intro']}</p><ul class=rights>{rights}</ul>"
        f"<p>{t['how'].format(contact=contact, term=term)}</p>"
        f"<h2>{t['complaint_title']}</h2><p>"
        + t["complaint"].format(
            authority=authority, url=f'<a href="{escape(complaint)}">{escape(complaint)}</a>'
        )
        + "</p>"
    )


def _sign_off(export: SubjectExport, lang: str) -> str:
    t, c = TEXTS[lang], export.controller
    lines = [f"<p>{t['regards']}</p><p class=signature><strong>{_practice(export)}</strong>"]
    if c is not None:
        lines.append(
            f'<br>{t["privacy_statement"]}: <a href="{escape(c.privacy_statement_url)}">'
            f"{escape(c.privacy_statement_url)}</a>"
        )
        if c.dpo is not None:
            lines.append(f"<br>{t['dpo']}: {escape(c.dpo.name)}, {_contact(c.dpo.contact)}")
    lines.append("</p>")
    lines.append(f'<p class="muted small">{t["generated"]}</p>')
    return "".join(lines)


def _mail(address: str) -> str:
    return f'<a href="mailto:{escape(address)}">{escape(address)}</a>'


def _contact(text: str) -> str:
    return _mail(text) if "@" in text and " " not in text else escape(text)


def _date(day: date, lang: str) -> str:
    return f"{day.day} {MONTHS[lang][day.month - 1]} {day.year}"
