"""The ledger's domain: aggregates, their past-tense events and the rules of docs/rules.md.

Nothing in this package does I/O. Each rule lives in the module named after it:
``register`` (R1–R3, R5), ``consent`` (R4, R6–R9), ``notice_revision`` (R10);
the standing of one subject for one purpose is folded in ``standing_at``.
"""
