"""Auditor's proofs: a per-tenant append-only Merkle tree over the event log.

``merkle`` holds the RFC 9162 (Certificate Transparency v2) tree hashing, audit paths,
consistency proofs and an incremental compact tree; ``canonical`` holds the RFC 8785
(JCS) encoding of one stored event, the bytes that become a leaf. Both are pure: bytes
in, bytes out, no I/O.
"""
