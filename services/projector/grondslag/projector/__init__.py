"""The projector: follows the ledger's notification log and builds what follows from it."""
