"""Adapters between the domain and PostgreSQL (write side: eventsourcing + psycopg)."""
