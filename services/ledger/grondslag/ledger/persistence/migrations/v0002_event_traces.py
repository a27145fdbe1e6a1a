"""Migration 2: the trace context of the request that recorded an event (``persistence.traces``).

A side table keyed by the event's stream and version, written in the events' own
transaction; it holds W3C ``traceparent`` ids only, nothing personal.

Never edit this text: a change to the schema is a new migration (see ``__init__``).
"""

NAME = "the trace context beside each event"

SQL = """
CREATE TABLE IF NOT EXISTS grondslag_event_traces (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    traceparent text NOT NULL,
    PRIMARY KEY (originator_id, originator_version)
);
"""
