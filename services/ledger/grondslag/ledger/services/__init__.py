"""Use cases that span the ledger and the stores beside it, for the HTTP rooms to call."""
