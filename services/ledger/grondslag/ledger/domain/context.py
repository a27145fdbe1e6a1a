"""What a command on a standing may know besides the standing's own facts."""

from __future__ import annotations

from datetime import datetime

import msgspec

from .purpose_versions import PurposeVersion
from .subject_view import SubjectView


class Context(msgspec.Struct, frozen=True):
    """The purpose's versions, the subject as the rules see it now, and now."""

    versions: list[PurposeVersion]
    subject: SubjectView
    now: datetime
