-- One name per concept.
--
-- * `slots.reserved_until` said "reserved", the word the holds crate
--   (`reserve`) uses for something else; the column holds back a slot for
--   priority groups until that instant, so it is `priority_until`.
-- * `events.outcome` held three things: a refusal's code, a call's outcome
--   and who cancelled a booking. Each now has a column of its own, and a
--   check that only its kinds of event set it.
ALTER TABLE slots RENAME COLUMN reserved_until TO priority_until;

ALTER TABLE events
    ADD COLUMN refusal      text,
    ADD COLUMN call_outcome text,
    ADD COLUMN cancelled_by text;

UPDATE events SET refusal = outcome WHERE kind IN ('hold_refused', 'booking_refused');
UPDATE events SET call_outcome = outcome WHERE kind IN ('call_attempt_ended', 'call_finished');
UPDATE events SET cancelled_by = outcome WHERE kind = 'booking_cancelled';

DROP INDEX events_kind_at;
ALTER TABLE events DROP COLUMN outcome;

ALTER TABLE events
    ADD CONSTRAINT events_refusal_kind
        CHECK (refusal IS NULL OR kind IN ('hold_refused', 'booking_refused')),
    ADD CONSTRAINT events_call_outcome_kind
        CHECK (call_outcome IS NULL OR kind IN ('call_attempt_ended', 'call_finished')),
    ADD CONSTRAINT events_cancelled_by_kind
        CHECK (cancelled_by IS NULL OR kind = 'booking_cancelled');

-- As before: the summary's queries are index-only scans of this index.
CREATE INDEX events_kind_at ON events (kind, at)
    INCLUDE (seeker_id, priority_group, region, expert_id, hold_id, booking_id, refusal,
             call_outcome, cancelled_by, expires_at, due_at);

CREATE OR REPLACE FUNCTION events_from_bookings() RETURNS trigger LANGUAGE plpgsql AS $$
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
                            hold_id, booking_id, cancelled_by, starts_at)
        VALUES ('booking_' || NEW.status,
                CASE WHEN NEW.status = 'cancelled' THEN COALESCE(NEW.cancelled_at, now()) ELSE now() END,
                NEW.seeker_id, NEW.priority_group, seeker_region, NEW.expert_id, NEW.slot_id,
                NEW.hold_id, NEW.id,
                CASE WHEN NEW.status = 'cancelled' THEN NEW.cancelled_by_role END, NEW.starts_at);
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION events_from_call_attempts() RETURNS trigger LANGUAGE plpgsql AS $$
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
                            booking_id, call_outcome, starts_at)
        VALUES ('call_attempt_ended', NEW.ended_at, b.seeker_id, b.priority_group, b.region,
                b.expert_id, b.slot_id, b.id, COALESCE(NEW.outcome, 'failed'), b.starts_at);
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION events_from_call_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events (kind, at, seeker_id, priority_group, region, expert_id, slot_id,
                        booking_id, call_outcome, starts_at)
    SELECT 'call_finished', now(), bk.seeker_id, bk.priority_group, s.region, bk.expert_id,
           bk.slot_id, bk.id, COALESCE(NEW.outcome, 'none'), bk.starts_at
      FROM bookings bk LEFT JOIN seekers s ON s.id = bk.seeker_id
     WHERE bk.id = NEW.booking_id;
    RETURN NULL;
END
$$;
