"""The names every creator of tables shares: the advisory lock they take turns under, and the
table of the schema's migration steps (``migrations``, ``ddl``)."""

SCHEMA_LOCK = 4711001  # pg_advisory_xact_lock key of the ledger's table creation
VERSIONS_TABLE = "grondslag_schema_versions"  # (``migrations``) the steps applied
