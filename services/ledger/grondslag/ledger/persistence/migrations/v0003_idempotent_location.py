"""Migration 3: the ``Location`` of an answer recorded under an ``Idempotency-Key``, so that a
replayed 201 names the resource it created as the first answer did.

Never edit this text: a change to the schema is a new migration (see ``__init__``).
"""

NAME = "the Location of an idempotent answer"

SQL = """
ALTER TABLE grondslag_idempotency ADD COLUMN IF NOT EXISTS location text;
"""
