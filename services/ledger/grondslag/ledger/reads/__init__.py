"""The read side: asyncpg queries on the event store and the read models."""
