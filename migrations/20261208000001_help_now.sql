-- Help now: a seeker in distress is put through to an on-duty volunteer
-- within a minute. Experts switch on duty; seekers queue (priority group,
-- then arrival); the call worker rings one free on-duty expert per request at
-- a time, rolls over to the next when unanswered, and once an expert answers
-- dials the seeker and bridges them masked, as for bookings.

-- An expert on duty, until `until` (NULL: until switched off).
CREATE TABLE expert_duty (
    expert_id  uuid PRIMARY KEY REFERENCES experts (id),
    since      timestamptz NOT NULL DEFAULT clock_timestamp(),
    until      timestamptz
);

CREATE TABLE help_now_requests (
    id                uuid PRIMARY KEY,
    seeker_id         uuid NOT NULL REFERENCES seekers (id),
    priority_group    text NOT NULL,
    -- 0 before 1: priority groups are served first, then arrival.
    priority_rank     smallint NOT NULL,
    language          text,
    topic             text,
    region            text,
    phone_ciphertext  bytea,
    phone_key_id      text,
    note_ciphertext   bytea,
    note_key_id       text,
    idempotency_key   text,
    request_hash      bytea NOT NULL,
    status            text NOT NULL DEFAULT 'queued'
                      CHECK (status IN ('queued', 'ringing_expert', 'calling_seeker', 'connected',
                                        'completed', 'cancelled', 'timed_out')),
    created_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- The expert being rung or talking (NULL while queued).
    expert_id         uuid REFERENCES experts (id),
    connected_at      timestamptz,
    ended_at          timestamptz,
    rollovers         integer NOT NULL DEFAULT 0,
    CHECK ((status IN ('ringing_expert', 'calling_seeker', 'connected')) <= (expert_id IS NOT NULL)),
    CHECK ((phone_ciphertext IS NULL) = (phone_key_id IS NULL)),
    CHECK ((note_ciphertext IS NULL) = (note_key_id IS NULL))
);
-- One live request per seeker; one request per Idempotency-Key.
CREATE UNIQUE INDEX help_now_one_live ON help_now_requests (seeker_id)
    WHERE status IN ('queued', 'ringing_expert', 'calling_seeker', 'connected');
CREATE UNIQUE INDEX help_now_idempotency ON help_now_requests (seeker_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX help_now_queue ON help_now_requests (priority_rank, created_at, id)
    WHERE status = 'queued';
CREATE INDEX help_now_expert ON help_now_requests (expert_id, connected_at);
CREATE INDEX help_now_created ON help_now_requests (created_at);

-- Every expert rung for a request: nobody is rung twice for one request.
CREATE TABLE help_now_rings (
    request_id  uuid NOT NULL REFERENCES help_now_requests (id),
    expert_id   uuid NOT NULL REFERENCES experts (id),
    rung_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    outcome     text,
    PRIMARY KEY (request_id, expert_id)
);

-- A help-now call is a call task naming the request; at most one is live
-- per request, so one request is never bridged to two experts.
ALTER TABLE call_tasks
    ADD COLUMN help_now_id uuid REFERENCES help_now_requests (id),
    DROP CONSTRAINT call_tasks_one_subject,
    ADD CONSTRAINT call_tasks_one_subject CHECK (num_nonnulls(booking_id, referral_id, help_now_id) = 1);
CREATE UNIQUE INDEX call_tasks_live_help_now ON call_tasks (help_now_id)
    WHERE help_now_id IS NOT NULL AND state IN ('pending', 'leased');

-- The request follows its call: ringing the expert, calling the seeker,
-- connected. The worker writes the call's state; this keeps the request's in
-- step in the same statement. An ended request (cancelled, timed out) stays
-- ended.
CREATE FUNCTION help_now_follow_call() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE help_now_requests
       SET status = CASE NEW.call_state
                        WHEN 'dialing_expert' THEN 'ringing_expert'
                        WHEN 'dialing_seeker' THEN 'calling_seeker'
                        ELSE 'connected' END,
           connected_at = CASE WHEN NEW.call_state = 'bridged'
                               THEN COALESCE(connected_at, clock_timestamp())
                               ELSE connected_at END
     WHERE id = NEW.help_now_id
       AND status IN ('ringing_expert', 'calling_seeker', 'connected');
    RETURN NEW;
END
$$;
CREATE TRIGGER call_tasks_help_now_state
    AFTER UPDATE OF call_state ON call_tasks
    FOR EACH ROW
    WHEN (NEW.help_now_id IS NOT NULL
          AND NEW.call_state IN ('dialing_expert', 'dialing_seeker', 'bridged')
          AND NEW.call_state IS DISTINCT FROM OLD.call_state)
    EXECUTE FUNCTION help_now_follow_call();

-- Help-now calls count toward the expert's daily and weekly caps, as
-- bookings do.
CREATE OR REPLACE FUNCTION expert_day_full(p_expert_id uuid, p_starts_at timestamptz) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    cap integer;
    week_cap integer;
    zone text;
    active bigint;
BEGIN
    SELECT max_sessions_per_day, max_sessions_per_week, timezone INTO cap, week_cap, zone
      FROM availability WHERE expert_id = p_expert_id;
    IF cap IS NULL AND week_cap IS NULL THEN
        RETURN false;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('day-cap:' || p_expert_id::text, 0));
    IF cap IS NOT NULL THEN
        SELECT (SELECT count(*) FROM bookings
                 WHERE expert_id = p_expert_id AND status <> 'cancelled'
                   AND (starts_at AT TIME ZONE zone)::date = (p_starts_at AT TIME ZONE zone)::date)
             + (SELECT count(*) FROM help_now_requests
                 WHERE expert_id = p_expert_id AND connected_at IS NOT NULL
                   AND (connected_at AT TIME ZONE zone)::date = (p_starts_at AT TIME ZONE zone)::date)
          INTO active;
        IF active >= cap THEN
            RETURN true;
        END IF;
    END IF;
    IF week_cap IS NOT NULL THEN
        SELECT (SELECT count(*) FROM bookings
                 WHERE expert_id = p_expert_id AND status <> 'cancelled'
                   AND date_trunc('week', starts_at AT TIME ZONE zone)
                     = date_trunc('week', p_starts_at AT TIME ZONE zone))
             + (SELECT count(*) FROM help_now_requests
                 WHERE expert_id = p_expert_id AND connected_at IS NOT NULL
                   AND date_trunc('week', connected_at AT TIME ZONE zone)
                     = date_trunc('week', p_starts_at AT TIME ZONE zone))
          INTO active;
        IF active >= week_cap THEN
            RETURN true;
        END IF;
    END IF;
    RETURN false;
END
$$;
