"""Migration 4: a tracking position per partition of each projection, so that several
projector processes share a projection's work (``grondslag.projector.partitions``).

Each projection's one row becomes the eight rows of the default partition count, each at
the position the row had: every event up to it was handled, none after, whichever
partition it belongs to. A projector started with another count changes them to its own
(``tracking.ensure``), since they are all at the same position until one of them moves.

Never edit this text: a change to the schema is a new migration (see ``__init__``).
"""

NAME = "a tracking position per partition"

SQL = """
ALTER TABLE grondslag_tracking ADD COLUMN IF NOT EXISTS partition integer NOT NULL DEFAULT 0;
ALTER TABLE grondslag_tracking ADD COLUMN IF NOT EXISTS partitions integer NOT NULL DEFAULT 1;
ALTER TABLE grondslag_tracking DROP CONSTRAINT IF EXISTS grondslag_tracking_pkey;
ALTER TABLE grondslag_tracking ADD PRIMARY KEY (projection, partition);
INSERT INTO grondslag_tracking (projection, position, updated_at, partition, partitions)
    SELECT t.projection, t.position, t.updated_at, p, 8
    FROM grondslag_tracking t CROSS JOIN generate_series(1, 7) AS p
    WHERE t.partitions = 1 AND t.partition = 0;
UPDATE grondslag_tracking SET partitions = 8 WHERE partition = 0 AND partitions = 1;
"""
