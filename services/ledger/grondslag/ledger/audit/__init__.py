"""Auditor's proofs: a per-tenant append-only Merkle tree over the event log.

Pure (bytes in, bytes out, no I/O): ``canonical`` (the RFC 8785 bytes of one stored event,
the data of its leaf), ``merkle`` (RFC 9162 tree hashing, audit paths, consistency proofs,
an incremental compact tree), ``checkpoints`` (the signed tree-head text), ``bundle``
(export bundles and their offline verification) and ``replay`` (what applied, folded from
a verified bundle). ``signing`` keeps the Ed25519 key in its file; ``store`` holds every
statement on the audit log's tables.
"""
