"""Migration 1: the schema of release 0.1.0, the last that made its tables at every start.

Every statement is one that release ran (``IF NOT EXISTS``, ``ADD COLUMN IF NOT EXISTS``),
so the same text makes a new database and adopts one that release made, whatever of it
is there already: nothing is dropped or re-created, a missing table or column is added.

Never edit this text: a change to the schema is a new migration (see ``__init__``).
"""

NAME = "the schema of release 0.1.0"

SQL = r"""
-- the event store (eventsourcing 9.5.6's PostgreSQL recorder, as it creates them)
CREATE TABLE IF NOT EXISTS "public"."grondslag_events" (
    originator_id "uuid" NOT NULL,
    originator_version bigint NOT NULL,
    topic text,
    state bytea,
    notification_id bigserial,
    PRIMARY KEY (originator_id, originator_version)
) WITH (
    autovacuum_enabled = true,
    autovacuum_vacuum_threshold = 100000000,
    autovacuum_vacuum_scale_factor = 0.5,
    autovacuum_analyze_threshold = 1000,
    autovacuum_analyze_scale_factor = 0.01
);
DO $$ BEGIN
    CREATE TYPE "public"."stored_event_uuid" AS (
        originator_id "uuid", originator_version bigint, topic text, state bytea
    );
EXCEPTION WHEN duplicate_object THEN NULL;  -- types have no IF NOT EXISTS
END $$;
CREATE UNIQUE INDEX IF NOT EXISTS "grondslag_events_notification_id_idx"
    ON "public"."grondslag_events" (notification_id ASC);
CREATE OR REPLACE FUNCTION "public"."es_insert_events_uuid"(events "public"."stored_event_uuid"[])
RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$BEGIN
    SET LOCAL lock_timeout = '0s';
    NOTIFY "grondslag_events";
    RETURN QUERY
    INSERT INTO "public"."grondslag_events" AS t (originator_id, originator_version, topic, state)
    SELECT originator_id, originator_version, topic, state
    FROM unnest(events)
    RETURNING notification_id;
END;$BODY$;
-- the stream index and the subject keys (persistence/postgres.py)
CREATE TABLE IF NOT EXISTS grondslag_streams (
    originator_id uuid PRIMARY KEY,
    tenant text NOT NULL,
    kind text NOT NULL,
    subject_ref text,
    purpose text
);
CREATE INDEX IF NOT EXISTS grondslag_streams_lookup
    ON grondslag_streams (tenant, kind, subject_ref, purpose);
CREATE TABLE IF NOT EXISTS grondslag_subject_keys (
    subject_id uuid PRIMARY KEY,
    key bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    destroyed_at timestamptz
);
ALTER TABLE grondslag_subject_keys ADD COLUMN IF NOT EXISTS kek_id text;
-- Idempotency-Key results, committed with the events (persistence/idempotency.py)
CREATE TABLE IF NOT EXISTS grondslag_idempotency_results (
    tenant text NOT NULL,
    key text NOT NULL,
    request_hash bytea NOT NULL,
    result bytea NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, key)
);
ALTER TABLE grondslag_idempotency_results ADD COLUMN IF NOT EXISTS subject_ref text;
CREATE INDEX IF NOT EXISTS grondslag_idempotency_results_subject
    ON grondslag_idempotency_results (tenant, subject_ref);
-- keys.py
CREATE TABLE IF NOT EXISTS grondslag_api_keys (
    key_hash bytea PRIMARY KEY,
    tenant text NOT NULL,
    roles text[] NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
ALTER TABLE grondslag_api_keys ADD COLUMN IF NOT EXISTS key_id text;
ALTER TABLE grondslag_api_keys ADD COLUMN IF NOT EXISTS hash_kind text NOT NULL DEFAULT 'sha256';
ALTER TABLE grondslag_api_keys ADD COLUMN IF NOT EXISTS last_used_at timestamptz;
ALTER TABLE grondslag_api_keys ADD COLUMN IF NOT EXISTS bootstrap boolean NOT NULL DEFAULT false;
ALTER TABLE grondslag_api_keys ADD COLUMN IF NOT EXISTS replaced_by text;
-- a key of an older installation is named as events recorded with it name it: the first
-- 12 hex digits of its unsalted hash
UPDATE grondslag_api_keys SET key_id = encode(substr(key_hash, 1, 6), 'hex')
    WHERE key_id IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS grondslag_api_keys_id ON grondslag_api_keys (key_id);
CREATE INDEX IF NOT EXISTS grondslag_api_keys_tenant ON grondslag_api_keys (tenant);
-- schema.py
CREATE TABLE IF NOT EXISTS grondslag_idempotency (
    tenant text NOT NULL,
    key text NOT NULL,
    request_hash bytea NOT NULL,
    status int,
    content_type text,
    body bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, key)
);
ALTER TABLE grondslag_idempotency ADD COLUMN IF NOT EXISTS subject_ref text;
CREATE INDEX IF NOT EXISTS grondslag_idempotency_subject
    ON grondslag_idempotency (tenant, subject_ref);
-- links.py
CREATE TABLE IF NOT EXISTS grondslag_tenant_secrets (
    tenant text NOT NULL,
    key_id int NOT NULL,
    secret bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, key_id)
);
ALTER TABLE grondslag_tenant_secrets ADD COLUMN IF NOT EXISTS kek_id text;
ALTER TABLE grondslag_tenant_secrets ADD COLUMN IF NOT EXISTS retires_at timestamptz;
CREATE TABLE IF NOT EXISTS grondslag_link_tokens (
    token_id bytea PRIMARY KEY,
    kind text NOT NULL,
    tenant text NOT NULL,
    subject_ref text NOT NULL,
    purpose text NOT NULL,
    key_id int NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    used_at timestamptz
);
CREATE INDEX IF NOT EXISTS grondslag_link_tokens_subject
    ON grondslag_link_tokens (tenant, subject_ref);
DROP INDEX IF EXISTS grondslag_link_tokens_unsubscribe;
CREATE UNIQUE INDEX IF NOT EXISTS grondslag_link_tokens_unsubscribe_per_key
    ON grondslag_link_tokens (tenant, subject_ref, purpose, key_id) WHERE kind = 'unsubscribe';
-- email_index.py
CREATE TABLE IF NOT EXISTS grondslag_email_index (
    tenant text NOT NULL,
    email_hash bytea NOT NULL,
    subject_ref text NOT NULL,
    PRIMARY KEY (tenant, email_hash)
);
CREATE INDEX IF NOT EXISTS grondslag_email_index_subject
    ON grondslag_email_index (tenant, subject_ref);
-- persistence/access_log.py
CREATE TABLE IF NOT EXISTS grondslag_access_log (
    id bigserial PRIMARY KEY,
    tenant text NOT NULL,
    subject_ref text NOT NULL,
    actor_id text NOT NULL,
    actor_roles text[] NOT NULL,
    what text NOT NULL,
    read_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS grondslag_access_log_subject
    ON grondslag_access_log (tenant, subject_ref, id DESC);
CREATE OR REPLACE FUNCTION grondslag_access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the access log is append-only (NEN 7513)';
END $$;
CREATE OR REPLACE TRIGGER grondslag_access_log_append_only
    BEFORE UPDATE OR DELETE ON grondslag_access_log
    FOR EACH ROW EXECUTE FUNCTION grondslag_access_log_append_only();
-- auditor_sessions.py
CREATE TABLE IF NOT EXISTS grondslag_auditor_sessions (
    session_hash bytea PRIMARY KEY,
    tenant text NOT NULL,
    key_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
-- sessions of the first layout named the key by its hash, which a re-hash changes: they end
ALTER TABLE grondslag_auditor_sessions ADD COLUMN IF NOT EXISTS key_id text;
ALTER TABLE grondslag_auditor_sessions DROP COLUMN IF EXISTS key_hash;
CREATE INDEX IF NOT EXISTS grondslag_auditor_sessions_key ON grondslag_auditor_sessions (key_id);
-- audit/store.py
CREATE TABLE IF NOT EXISTS grondslag_audit_leaves (
    tenant text NOT NULL,
    leaf_index bigint NOT NULL,
    event_id uuid NOT NULL UNIQUE,
    notification_id bigint NOT NULL,
    originator_id uuid NOT NULL,
    originator_version integer NOT NULL,
    PRIMARY KEY (tenant, leaf_index)
);
CREATE TABLE IF NOT EXISTS grondslag_audit_nodes (
    tenant text NOT NULL,
    level smallint NOT NULL,
    index bigint NOT NULL,
    hash bytea NOT NULL,
    PRIMARY KEY (tenant, level, index)
);
CREATE TABLE IF NOT EXISTS grondslag_audit_trees (
    tenant text PRIMARY KEY,
    size bigint NOT NULL,
    root_hash bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS grondslag_audit_keys (
    key_id text PRIMARY KEY,
    public_key bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS grondslag_audit_checkpoints (
    id bigserial PRIMARY KEY,
    tenant text NOT NULL,
    tree_size bigint NOT NULL,
    root_hash bytea NOT NULL,
    issued_at timestamptz NOT NULL,
    key_id text NOT NULL REFERENCES grondslag_audit_keys (key_id),
    signature bytea NOT NULL,
    published_at timestamptz,
    UNIQUE (tenant, tree_size, issued_at)
);
CREATE INDEX IF NOT EXISTS grondslag_audit_checkpoints_unpublished
    ON grondslag_audit_checkpoints (id) WHERE published_at IS NULL;
CREATE TABLE IF NOT EXISTS grondslag_audit_key_rotations (
    new_key_id text PRIMARY KEY REFERENCES grondslag_audit_keys (key_id),
    old_key_id text NOT NULL UNIQUE REFERENCES grondslag_audit_keys (key_id),
    rotated_at timestamptz NOT NULL,
    old_signature bytea NOT NULL,
    new_signature bytea NOT NULL
);
-- projector/current_standing.py
CREATE TABLE IF NOT EXISTS grondslag_current_standing (
    tenant text NOT NULL,
    purpose text NOT NULL,
    subject_ref text NOT NULL,
    lawful boolean NOT NULL,
    status text NOT NULL,
    basis text,
    reason text,
    since timestamptz,
    until timestamptz,
    changes_at timestamptz,
    stream_version bigint NOT NULL,
    PRIMARY KEY (tenant, purpose, subject_ref)
);
CREATE INDEX IF NOT EXISTS grondslag_current_standing_changes
    ON grondslag_current_standing (changes_at)
    WHERE changes_at IS NOT NULL;
-- projector/quarantine.py
CREATE TABLE IF NOT EXISTS grondslag_quarantine (
    projection text NOT NULL,
    scope text NOT NULL,   -- what the key names: stream, tenant or standing
    key text NOT NULL,
    tenant text,
    first_held bigint,     -- notification id (the deadline clock holds no events)
    since timestamptz NOT NULL DEFAULT now(),
    error text NOT NULL,
    attempts integer NOT NULL DEFAULT 1,
    last_attempt timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, scope, key)
);
-- projector/request_index.py
CREATE TABLE IF NOT EXISTS grondslag_subject_requests (
    tenant text NOT NULL,
    request_id text NOT NULL,
    subject_ref text NOT NULL,
    kind text NOT NULL,
    status text NOT NULL,
    received_at timestamptz NOT NULL,
    due_at timestamptz NOT NULL,
    answered_at timestamptz,
    late boolean NOT NULL,
    due_soon_noticed_for timestamptz,
    overdue_noticed boolean NOT NULL,
    stream_version bigint NOT NULL,
    PRIMARY KEY (tenant, request_id)
);
CREATE INDEX IF NOT EXISTS grondslag_subject_requests_by_due
    ON grondslag_subject_requests (tenant, status, due_at, request_id);
CREATE INDEX IF NOT EXISTS grondslag_subject_requests_open ON grondslag_subject_requests (due_at)
    WHERE status = 'open';
-- projector/follower.py
CREATE TABLE IF NOT EXISTS grondslag_tracking (
    projection text PRIMARY KEY,
    position bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE grondslag_tracking ADD COLUMN IF NOT EXISTS failures bigint NOT NULL DEFAULT 0;
ALTER TABLE grondslag_tracking ADD COLUMN IF NOT EXISTS last_error text;
"""
