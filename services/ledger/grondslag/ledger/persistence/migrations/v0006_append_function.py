"""Migration 6: ``grondslag_append``, a save in one statement (``persistence.append``).

The events, the stream index rows, R22's check, the trace and ``Idempotency-Key`` rows, under
the event store's table lock, in the transaction of the statement that calls it.

Never edit this text: a change to the schema is a new migration (see ``__init__``).
"""

NAME = "the one-statement append"

SQL = """
CREATE OR REPLACE FUNCTION grondslag_append(
    ids uuid[], versions bigint[], topics text[], states bytea[],
    stream_ids uuid[], stream_tenants text[], stream_kinds text[], stream_subjects text[],
    stream_purposes text[],
    starts uuid[],
    trace_ids uuid[], trace_versions bigint[], trace_parents text[],
    result_tenants text[], result_keys text[], result_hashes bytea[], result_values bytea[],
    result_subjects text[]
) RETURNS SETOF bigint
LANGUAGE plpgsql
SET lock_timeout = 0
AS $BODY$
BEGIN
    IF cardinality(stream_ids) > 0 THEN
        INSERT INTO grondslag_streams (originator_id, tenant, kind, subject_ref, purpose)
        SELECT * FROM unnest(stream_ids, stream_tenants, stream_kinds, stream_subjects,
            stream_purposes)
        ON CONFLICT DO NOTHING;
    END IF;
    LOCK TABLE grondslag_events IN EXCLUSIVE MODE;
    NOTIFY grondslag_events;
    RETURN QUERY
        INSERT INTO grondslag_events (originator_id, originator_version, topic, state)
        SELECT * FROM unnest(ids, versions, topics, states)
        RETURNING notification_id;
    IF cardinality(starts) > 0 AND EXISTS (
        SELECT 1 FROM grondslag_streams st
        JOIN grondslag_streams su ON su.tenant = st.tenant AND su.kind = 'subject'
            AND su.subject_ref = st.subject_ref
        JOIN grondslag_subject_keys k ON k.subject_id = su.originator_id
        WHERE st.originator_id = ANY(starts) AND k.key IS NULL AND k.destroyed_at IS NOT NULL
    ) THEN
        RAISE EXCEPTION 'R22: the subject was erased meanwhile' USING ERRCODE = 'unique_violation';
    END IF;
    IF cardinality(trace_ids) > 0 THEN
        INSERT INTO grondslag_event_traces (originator_id, originator_version, traceparent)
        SELECT * FROM unnest(trace_ids, trace_versions, trace_parents)
        ON CONFLICT DO NOTHING;
    END IF;
    IF cardinality(result_keys) > 0 THEN
        INSERT INTO grondslag_idempotency_results (tenant, key, request_hash, result, subject_ref)
        SELECT * FROM unnest(result_tenants, result_keys, result_hashes, result_values,
            result_subjects);
    END IF;
END;
$BODY$;
"""
