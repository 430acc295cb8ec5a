-- The system of record. Redis is only a cache of what is here.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE experts (
    id                uuid PRIMARY KEY,
    display_name      text NOT NULL,
    -- AES-256-GCM: nonce || ciphertext, and the id of the key that sealed it.
    phone_ciphertext  bytea NOT NULL,
    phone_key_id      text NOT NULL,
    timezone          text NOT NULL,
    languages         text[] NOT NULL,
    specialties       text[] NOT NULL,
    region            text NOT NULL,
    bio               text,
    status            text NOT NULL CHECK (status IN ('applied', 'approved', 'suspended')),
    demo              boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX experts_status ON experts (status);

CREATE TABLE availability (
    expert_id     uuid PRIMARY KEY REFERENCES experts (id),
    timezone      text NOT NULL,
    slot_minutes  integer NOT NULL CHECK (slot_minutes BETWEEN 10 AND 240),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Weekly ranges, minutes since local midnight; weekday 0 = Monday.
CREATE TABLE availability_rules (
    expert_id     uuid NOT NULL REFERENCES availability (expert_id) ON DELETE CASCADE,
    weekday       smallint NOT NULL CHECK (weekday BETWEEN 0 AND 6),
    start_minute  integer NOT NULL CHECK (start_minute BETWEEN 0 AND 1440),
    end_minute    integer NOT NULL CHECK (end_minute BETWEEN 0 AND 1440),
    CHECK (end_minute > start_minute)
);
CREATE INDEX availability_rules_expert ON availability_rules (expert_id);

-- A date with a NULL range is closed; otherwise its ranges replace the week's.
CREATE TABLE availability_overrides (
    expert_id     uuid NOT NULL REFERENCES availability (expert_id) ON DELETE CASCADE,
    date          date NOT NULL,
    start_minute  integer CHECK (start_minute BETWEEN 0 AND 1440),
    end_minute    integer CHECK (end_minute BETWEEN 0 AND 1440),
    CHECK ((start_minute IS NULL) = (end_minute IS NULL)),
    CHECK (end_minute IS NULL OR end_minute > start_minute)
);
CREATE INDEX availability_overrides_expert ON availability_overrides (expert_id);

-- Slots are materialized for a rolling horizon. A slot the expert no longer
-- offers is withdrawn, not deleted, so bookings keep pointing at it.
CREATE TABLE slots (
    id          uuid PRIMARY KEY,
    expert_id   uuid NOT NULL REFERENCES experts (id),
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'withdrawn')),
    -- Held back for priority groups until this instant (NULL: for everyone).
    reserved_until timestamptz,
    UNIQUE (expert_id, starts_at),
    CHECK (ends_at > starts_at)
);
CREATE INDEX slots_open_by_time ON slots (starts_at) WHERE status = 'open';

CREATE TABLE seekers (
    id              uuid PRIMARY KEY,
    -- HMAC-SHA256 of the host app's subject under a server key; the subject
    -- itself is never stored.
    subject_hash    bytea NOT NULL UNIQUE,
    priority_group  text NOT NULL DEFAULT 'general'
                    CHECK (priority_group IN ('medical_worker', 'patient', 'bereaved_family', 'general')),
    region          text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE bookings (
    id                 uuid PRIMARY KEY,
    slot_id            uuid NOT NULL REFERENCES slots (id),
    expert_id          uuid NOT NULL REFERENCES experts (id),
    seeker_id          uuid NOT NULL REFERENCES seekers (id),
    hold_id            uuid NOT NULL UNIQUE,
    starts_at          timestamptz NOT NULL,
    ends_at            timestamptz NOT NULL,
    status             text NOT NULL CHECK (status IN ('confirmed', 'cancelled', 'completed')),
    -- Erased (set NULL) after the retention period; the outcome stays.
    phone_ciphertext   bytea,
    phone_key_id       text,
    phone_masked       text,
    note               text,
    priority_group     text NOT NULL,
    -- The token fee in the smallest unit (fen): 1 = 0.01 CNY.
    fee_minor          integer NOT NULL DEFAULT 0 CHECK (fee_minor >= 0),
    idempotency_key    text,
    request_hash       bytea,
    created_at         timestamptz NOT NULL DEFAULT now(),
    cancelled_at       timestamptz,
    cancelled_by_role  text,
    UNIQUE (seeker_id, idempotency_key),
    CHECK (ends_at > starts_at),
    -- The last guard of invariant 1: whatever Redis believed, an expert can't
    -- be in two active bookings at once (and so neither can a slot).
    CONSTRAINT bookings_no_expert_overlap EXCLUDE USING gist (
        expert_id WITH =, tstzrange(starts_at, ends_at) WITH &&
    ) WHERE (status <> 'cancelled')
);
CREATE UNIQUE INDEX bookings_one_active_per_slot ON bookings (slot_id) WHERE status <> 'cancelled';
CREATE INDEX bookings_seeker ON bookings (seeker_id, starts_at);
CREATE INDEX bookings_expert ON bookings (expert_id, starts_at);

-- The outbox: written in the same transaction as its booking; the call worker
-- leases due rows. `fence` grows with every lease, so a worker whose lease
-- expired can no longer write.
CREATE TABLE call_tasks (
    id                uuid PRIMARY KEY,
    booking_id        uuid NOT NULL UNIQUE REFERENCES bookings (id),
    payload           bytea NOT NULL,
    state             text NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'leased', 'done', 'cancelled')),
    call_state        text NOT NULL DEFAULT 'scheduled',
    outcome           text,
    due_at            timestamptz NOT NULL,
    attempts          integer NOT NULL DEFAULT 0,
    fence             bigint NOT NULL DEFAULT 0,
    lease_owner       text,
    lease_expires_at  timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX call_tasks_due ON call_tasks (due_at) WHERE state IN ('pending', 'leased');

CREATE TABLE call_attempts (
    id                  bigserial PRIMARY KEY,
    task_id             uuid NOT NULL REFERENCES call_tasks (id),
    attempt             integer NOT NULL,
    fence               bigint NOT NULL,
    started_at          timestamptz NOT NULL DEFAULT now(),
    expert_answered_at  timestamptz,
    bridged_at          timestamptz,
    ended_at            timestamptz,
    outcome             text,
    expert_sip_status   integer,
    seeker_sip_status   integer,
    talk_seconds        integer,
    reason              text,
    simulated           boolean NOT NULL DEFAULT false,
    UNIQUE (task_id, attempt)
);

CREATE TABLE audit_log (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    actor_role   text NOT NULL,
    -- An operator's or expert's subject, or a seeker's pseudonymous id.
    actor_id     text NOT NULL,
    action       text NOT NULL,
    target_type  text NOT NULL,
    target_id    uuid NOT NULL,
    detail       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_target ON audit_log (target_id);
