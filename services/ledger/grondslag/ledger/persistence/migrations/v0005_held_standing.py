"""Migration 5: what a single standing read answers "now" with, kept beside the read model's
row (``projector.current_standing``, ``reads.held_standing``): the versions of the subject
and register streams folded with the standing's, the rendered answer, and the span of
"nows" it holds for. Rows of before stay without them (a read folds) until the projector
next refreshes them, or ``grondslag rebuild``.

Never edit this text: a change to the schema is a new migration (see ``__init__``).
"""

NAME = "the rendered answer beside each current standing"

SQL = """
ALTER TABLE grondslag_current_standing
    ADD COLUMN IF NOT EXISTS subject_version bigint,
    ADD COLUMN IF NOT EXISTS purpose_version bigint,
    ADD COLUMN IF NOT EXISTS answer bytea,
    ADD COLUMN IF NOT EXISTS answer_from timestamptz,
    ADD COLUMN IF NOT EXISTS answer_until timestamptz;
"""
