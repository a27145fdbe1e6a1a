"""What the two HTTP rooms share, the JSON API (``api/``) and the pages (``pages/``): the
path parameters that name a subject or a purpose, and the role sets their guards admit."""

from __future__ import annotations

from typing import Annotated

from litestar.params import Parameter

SubjectRef = Annotated[
    str,
    Parameter(
        pattern=r"^[A-Za-z0-9._:@-]{1,128}(?!\n)$",
        description="the practice's own opaque id of the subject",
    ),
]
CodePath = Annotated[str, Parameter(pattern=r"^[a-z0-9-]{1,64}(?!\n)$", description="purpose code")]

READERS = ("reader", "writer", "auditor", "admin")  # every key may read
PROOF_READERS = ("reader", "auditor", "admin")  # checkpoints and proofs: witness copies
AUDITORS = ("auditor", "admin")  # history, exports, the auditor's pages
