-- The operator's event log: what happened, when, to which slot, hold, booking
-- or call. Append-only; the dashboard (`GET /v1/ops/summary`) aggregates it
-- over a window.
--
-- Two writers, one table:
-- * The API records what exists only in Redis or in a response: slates served,
--   holds placed / refused / released, confirmations refused. It queues them
--   in process and batch-inserts them off the request path (see
--   crates/api/src/ops/events.rs).
-- * The triggers below record what Postgres already writes: bookings
--   confirmed / cancelled / completed, call attempts started / answered /
--   bridged / ended, calls finished. They run in the writer's own
--   transaction, so each of these facts is recorded exactly once, whoever
--   wrote it (the API, the call worker, an operator with psql).
--
-- Privacy: a seeker appears only by pseudonymous id (`seekers.id`), priority
-- group and self-declared region. No phone number, no host-app subject, no
-- note: the triggers copy only the columns named below.
CREATE TABLE events (
    id              bigserial PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    -- slate_served, hold_placed, hold_refused, hold_released, booking_refused,
    -- booking_confirmed, booking_cancelled, booking_completed,
    -- call_attempt_started, call_expert_answered, call_bridged,
    -- call_attempt_ended, call_finished
    kind            text NOT NULL,
    seeker_id       uuid,
    priority_group  text,
    region          text,
    expert_id       uuid,
    -- slate_served: the experts on the slate, in order.
    expert_ids      uuid[],
    slot_id         uuid,
    hold_id         uuid,
    booking_id      uuid,
    -- A refusal's code, a call's outcome, who cancelled.
    outcome         text,
    -- The slot's start (holds, bookings, calls).
    starts_at       timestamptz,
    -- hold_placed: when the hold runs out unless confirmed or released.
    expires_at      timestamptz,
    -- call_bridged: when the call was due (the slot's start, or the
    -- confirmation for a slot already running); time to connect is at - due_at.
    due_at          timestamptz
);

-- Every summary query is "events of these kinds in this window". The index
-- carries every column but the slate's expert list, so those queries are
-- index-only scans of a narrow index (an append-only table is all-visible
-- once vacuumed) and never read the wide slate rows.
CREATE INDEX events_kind_at ON events (kind, at)
    INCLUDE (seeker_id, priority_group, region, expert_id, hold_id, booking_id, outcome,
             expires_at, due_at);
-- A seeker's first slate, for the time-to-match histogram.
CREATE INDEX events_seeker_slate ON events (seeker_id, at) WHERE kind = 'slate_served';
-- Upcoming calls on the dashboard.
CREATE INDEX bookings_active_by_start ON bookings (starts_at) WHERE status <> 'cancelled';

CREATE FUNCTION events_from_bookings() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    seeker_region text;
BEGIN
    SELECT region INTO seeker_region FROM seekers WHERE id = NEW.seeker_id;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO events (kind, at, seeker_id, priority_group, region, expert_id, slot_id,
                            hold_id, booking_id, starts_at)
        VALUES ('booking_confirmed', NEW.created_at, NEW.seeker_id, NEW.priority_group,
                seeker_region, NEW.expert_id, NEW.slot_id, NEW.hold_id, NEW.id, NEW.starts_at);
    ELSIF NEW.status IS DISTINCT FROM OLD.status AND NEW.status IN ('cancelled', 'completed') THEN
        INSERT INTO events (kind, at, seeker_id, priority_group, region, expert_id, slot_id,
                            hold_id, booking_id, outcome, starts_at)
        VALUES ('booking_' || NEW.status,
                CASE WHEN NEW.status = 'cancelled' THEN COALESCE(NEW.cancelled_at, now()) ELSE now() END,
                NEW.seeker_id, NEW.priority_group, seeker_region, NEW.expert_id, NEW.slot_id,
                NEW.hold_id, NEW.id,
                CASE WHEN NEW.status = 'cancelled' THEN NEW.cancelled_by_role END, NEW.starts_at);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER bookings_events AFTER INSERT OR UPDATE OF status ON bookings
    FOR EACH ROW EXECUTE FUNCTION events_from_bookings();

-- One attempt row passes through several updates (answered, bridged, ended;
-- the last may set all three at once); each transition is recorded once,
-- when its column goes from empty to set, at the time the column holds.
CREATE FUNCTION events_from_call_attempts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    b record;
    was_answered timestamptz;
    was_bridged timestamptz;
    was_ended timestamptz;
BEGIN
    SELECT bk.id, bk.seeker_id, bk.expert_id, bk.slot_id, bk.priority_group, s.region,
           bk.starts_at, GREATEST(bk.starts_at, bk.created_at) AS due_at
      INTO b
      FROM call_tasks t
      JOIN bookings bk ON bk.id = t.booking_id
      LEFT JOIN seekers s ON s.id = bk.seeker_id
     WHERE t.id = NEW.task_id;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO events (kind, at, seeker_id, priority_group, region, expert_id, slot_id,
                            booking_id, starts_at)
        VALUES ('call_attempt_started', NEW.started_at, b.seeker_id, b.priority_group, b.region,
                b.expert_id, b.slot_id, b.id, b.starts_at);
    ELSE
        was_answered := OLD.expert_answered_at;
        was_bridged := OLD.bridged_at;
        was_ended := OLD.ended_at;
    END IF;
    IF was_answered IS NULL AND NEW.expert_answered_at IS NOT NULL THEN
        INSERT INTO events (kind, at, seeker_id, priority_group, region, expert_id, slot_id,
                            booking_id, starts_at)
        VALUES ('call_expert_answered', NEW.expert_answered_at, b.seeker_id, b.priority_group,
                b.region, b.expert_id, b.slot_id, b.id, b.starts_at);
    END IF;
    IF was_bridged IS NULL AND NEW.bridged_at IS NOT NULL THEN
        INSERT INTO events (kind, at, seeker_id, priority_group, region, expert_id, slot_id,
                            booking_id, starts_at, due_at)
        VALUES ('call_bridged', NEW.bridged_at, b.seeker_id, b.priority_group, b.region,
                b.expert_id, b.slot_id, b.id, b.starts_at, b.due_at);
    END IF;
    IF was_ended IS NULL AND NEW.ended_at IS NOT NULL THEN
        INSERT INTO events (kind, at, seeker_id, priority_group, region, expert_id, slot_id,
                            booking_id, outcome, starts_at)
        VALUES ('call_attempt_ended', NEW.ended_at, b.seeker_id, b.priority_group, b.region,
                b.expert_id, b.slot_id, b.id, COALESCE(NEW.outcome, 'failed'), b.starts_at);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER call_attempts_events_insert AFTER INSERT ON call_attempts
    FOR EACH ROW EXECUTE FUNCTION events_from_call_attempts();
CREATE TRIGGER call_attempts_events_update AFTER UPDATE ON call_attempts
    FOR EACH ROW
    WHEN ((OLD.expert_answered_at IS NULL AND NEW.expert_answered_at IS NOT NULL)
       OR (OLD.bridged_at IS NULL AND NEW.bridged_at IS NOT NULL)
       OR (OLD.ended_at IS NULL AND NEW.ended_at IS NOT NULL))
    EXECUTE FUNCTION events_from_call_attempts();

-- A call is finished when its task is done: the last attempt's outcome is the
-- call's ('none' when it ended without ever dialing).
CREATE FUNCTION events_from_call_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events (kind, at, seeker_id, priority_group, region, expert_id, slot_id,
                        booking_id, outcome, starts_at)
    SELECT 'call_finished', now(), bk.seeker_id, bk.priority_group, s.region, bk.expert_id,
           bk.slot_id, bk.id, COALESCE(NEW.outcome, 'none'), bk.starts_at
      FROM bookings bk LEFT JOIN seekers s ON s.id = bk.seeker_id
     WHERE bk.id = NEW.booking_id;
    RETURN NULL;
END
$$;

CREATE TRIGGER call_tasks_events AFTER UPDATE OF state ON call_tasks
    FOR EACH ROW
    WHEN (NEW.state = 'done' AND OLD.state IS DISTINCT FROM 'done')
    EXECUTE FUNCTION events_from_call_tasks();

-- Slate appearances per expert, priority group and UTC hour: exposure over
-- a window is these rows for the window's whole hours plus the raw events of
-- its two partial hours, so it stays exact without unnesting every slate of
-- a week. Kept in step with `events` by statement-level triggers (one
-- aggregated upsert per batch, in the writer's transaction), including
-- updates and deletes (retention).
CREATE TABLE exposure_hourly (
    hour            timestamptz NOT NULL,
    expert_id       uuid NOT NULL,
    priority_group  text NOT NULL,
    n               bigint NOT NULL,
    PRIMARY KEY (hour, expert_id, priority_group)
);

CREATE FUNCTION exposure_from_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO exposure_hourly (hour, expert_id, priority_group, n)
        SELECT date_bin('1 hour', o.at, timestamptz '2000-01-01 00:00:00+00'), x,
               COALESCE(o.priority_group, 'general'), -count(*)
          FROM old_rows o CROSS JOIN LATERAL unnest(o.expert_ids) AS x
         WHERE o.kind = 'slate_served'
         GROUP BY 1, 2, 3
         -- One lock order for every writer: no deadlocks between batches.
         ORDER BY 1, 2, 3
        ON CONFLICT (hour, expert_id, priority_group)
        DO UPDATE SET n = exposure_hourly.n + EXCLUDED.n;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO exposure_hourly (hour, expert_id, priority_group, n)
        SELECT date_bin('1 hour', i.at, timestamptz '2000-01-01 00:00:00+00'), x,
               COALESCE(i.priority_group, 'general'), count(*)
          FROM new_rows i CROSS JOIN LATERAL unnest(i.expert_ids) AS x
         WHERE i.kind = 'slate_served'
         GROUP BY 1, 2, 3
         ORDER BY 1, 2, 3
        ON CONFLICT (hour, expert_id, priority_group)
        DO UPDATE SET n = exposure_hourly.n + EXCLUDED.n;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER events_exposure_insert AFTER INSERT ON events
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION exposure_from_events();
CREATE TRIGGER events_exposure_update AFTER UPDATE ON events
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION exposure_from_events();
CREATE TRIGGER events_exposure_delete AFTER DELETE ON events
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION exposure_from_events();
