"""Migration 6: ``grondslag_append``, a save in one statement (``persistence.append``).

The events, the stream index rows, R22's check, the trace and ``Idempotency-Key`` rows, under
the event store's table lock, in the transaction of the statement that calls it. Its one
argument is a JSON document of rows (arrays, in column order; bytes in base64).

Never edit this text: a change to the schema is a new migration (see ``__init__``).
"""

NAME = "the one-statement append"

SQL = """
CREATE OR REPLACE FUNCTION grondslag_append(doc json) RETURNS SETOF bigint
LANGUAGE plpgsql
SET lock_timeout = 0
AS $BODY$
DECLARE
    started uuid;
BEGIN
    INSERT INTO grondslag_streams (originator_id, tenant, kind, subject_ref, purpose)
    SELECT (r->>0)::uuid, r->>1, r->>2, r->>3, r->>4 FROM json_array_elements(doc->'streams') r
    ON CONFLICT DO NOTHING;
    LOCK TABLE grondslag_events IN EXCLUSIVE MODE;
    NOTIFY grondslag_events;
    RETURN QUERY
        INSERT INTO grondslag_events (originator_id, originator_version, topic, state)
        SELECT (r->>0)::uuid, (r->>1)::bigint, r->>2, decode(r->>3, 'base64')
        FROM json_array_elements(doc->'events') WITH ORDINALITY AS e(r, n) ORDER BY n
        RETURNING notification_id;
    -- one standing at a time: each lookup is by primary key, whatever the planner knows
    FOR started IN SELECT s::uuid FROM json_array_elements_text(doc->'starts') s LOOP
        IF EXISTS (
            SELECT 1 FROM grondslag_streams st
            JOIN grondslag_streams su ON su.tenant = st.tenant AND su.kind = 'subject'
                AND su.subject_ref = st.subject_ref
            JOIN grondslag_subject_keys k ON k.subject_id = su.originator_id
            WHERE st.originator_id = started AND k.key IS NULL AND k.destroyed_at IS NOT NULL
        ) THEN
            RAISE EXCEPTION 'R22: the subject was erased meanwhile'
                USING ERRCODE = 'unique_violation';
        END IF;
    END LOOP;
    INSERT INTO grondslag_event_traces (originator_id, originator_version, traceparent)
    SELECT (r->>0)::uuid, (r->>1)::bigint, r->>2 FROM json_array_elements(doc->'traces') r
    ON CONFLICT DO NOTHING;
    INSERT INTO grondslag_idempotency_results (tenant, key, request_hash, result, subject_ref)
    SELECT r->>0, r->>1, decode(r->>2, 'base64'), decode(r->>3, 'base64'), r->>4
    FROM json_array_elements(doc->'results') r;
END;
$BODY$;
"""
