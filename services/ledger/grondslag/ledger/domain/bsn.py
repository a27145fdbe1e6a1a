"""R5: no BSN in free text. The ledger never needs a citizen service number, so a text
field that carries one (a staff note "ID checked, BSN 123456782") is refused before
anything is recorded — the log is append-only and would keep it for good.

A BSN is nine digits that pass the eleven-test (9·d1 + 8·d2 + … + 2·d8 − d9 ≡ 0 mod 11),
also when written with spaces, dots or hyphens between the digits (``1234.56.782``).
"""

from __future__ import annotations

import re

from .errors import InvalidInput

_NINE_DIGITS = re.compile(r"(?<![\d])(?:\d[ .-]?){8}\d(?![\d])")


def passes_eleven_test(digits: str) -> bool:
    """Whether nine digits pass the BSN eleven-test (all zeros do not count)."""
    if len(digits) != 9 or not digits.isdigit() or set(digits) == {"0"}:
        return False
    weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
    return sum(w * int(d) for w, d in zip(weights, digits, strict=True)) % 11 == 0


def carries_bsn(text: str) -> bool:
    return any(
        passes_eleven_test(re.sub(r"[ .-]", "", match.group()))
        for match in _NINE_DIGITS.finditer(text)
    )


def check_no_bsn(fields: dict[str, str | None]) -> None:
    """Refuse (422, R5) the first field whose text carries a number that may be a BSN."""
    for name, text in fields.items():
        if text is not None and carries_bsn(text):
            raise InvalidInput(
                f"{name} carries a number that passes the BSN eleven-test; the ledger "
                "records how identity was checked, never the citizen service number",
                rule="R5",
                field=name,
            )
