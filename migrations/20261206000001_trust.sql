-- Trust: a suspended expert's bookings are handed to another expert (or
-- cancelled), operators are accounts that can be disabled, and the host app
-- hears of a reassignment.

-- A booking moved to another expert keeps its id; this says it was moved.
ALTER TABLE bookings ADD COLUMN reassigned boolean NOT NULL DEFAULT false;

-- Whether the booking's priority group was vouched for by the host app (the
-- token's `group` claim) or declared by the seeker: the dashboard counts them
-- apart.
ALTER TABLE bookings ADD COLUMN priority_vouched boolean NOT NULL DEFAULT false;

-- A disabled operator's sessions, links and bearer tokens stop working.
ALTER TABLE operators ADD COLUMN disabled_at timestamptz;

-- The daily cap's check, once, for confirm_booking and reassign_booking.
-- Takes the per-expert lock that serializes the expert's confirmations, so
-- two can't both see the last place free; the lock lasts to the end of the
-- caller's transaction.
CREATE FUNCTION expert_day_full(p_expert_id uuid, p_starts_at timestamptz) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    cap integer;
    zone text;
    active bigint;
BEGIN
    SELECT max_sessions_per_day, timezone INTO cap, zone FROM availability WHERE expert_id = p_expert_id;
    IF cap IS NULL THEN
        RETURN false;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('day-cap:' || p_expert_id::text, 0));
    SELECT count(*) INTO active FROM bookings
     WHERE expert_id = p_expert_id AND status <> 'cancelled'
       AND (starts_at AT TIME ZONE zone)::date = (p_starts_at AT TIME ZONE zone)::date;
    RETURN active >= cap;
END
$$;

-- The seeker's note and a cancellation's reason, sealed at rest like the
-- phone (AES-256-GCM in the application) and erased with it after the
-- retention period or on the seeker's erasure. Rows written before are
-- sealed by the application at start-up (the key is not in the database),
-- which empties the plain columns; nothing writes them any more.
ALTER TABLE bookings
    ADD COLUMN note_ciphertext bytea,
    ADD COLUMN note_key_id text,
    ADD COLUMN cancel_reason_ciphertext bytea,
    ADD COLUMN cancel_reason_key_id text,
    ADD CONSTRAINT bookings_note_sealed
        CHECK ((note_ciphertext IS NULL) = (note_key_id IS NULL)),
    ADD CONSTRAINT bookings_cancel_reason_sealed
        CHECK ((cancel_reason_ciphertext IS NULL) = (cancel_reason_key_id IS NULL));

-- As before (20261205000004_webhooks.sql), with the seeker's note sealed
-- (p_note_ciphertext, p_note_key_id in place of p_note), whether the
-- priority group is vouched for (p_priority_vouched), and the daily cap's
-- check in expert_day_full.
DROP FUNCTION confirm_booking(uuid, uuid, uuid, uuid, uuid, timestamptz, timestamptz, bytea, text,
    text, text, text, integer, text, bytea, bigint, timestamptz, uuid, bytea, interval, bytea, text);
CREATE FUNCTION confirm_booking(
    p_id uuid, p_slot_id uuid, p_expert_id uuid, p_seeker_id uuid, p_hold_id uuid,
    p_starts_at timestamptz, p_ends_at timestamptz,
    p_phone_ciphertext bytea, p_phone_key_id text, p_phone_masked text,
    p_note_ciphertext bytea, p_note_key_id text,
    p_priority_group text, p_priority_vouched boolean, p_fee_minor integer,
    p_idempotency_key text, p_request_hash bytea,
    p_max_active bigint, p_now timestamptz,
    p_task_id uuid, p_task_payload bytea, p_notify_within interval,
    p_seeker_ref_ciphertext bytea, p_seeker_ref_key_id text
) RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    active bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(p_seeker_id::text, 0));
    SELECT count(*) INTO active FROM bookings
     WHERE seeker_id = p_seeker_id AND status = 'confirmed' AND ends_at > p_now;
    IF active >= p_max_active THEN
        RETURN 'too_many_bookings';
    END IF;
    IF expert_day_full(p_expert_id, p_starts_at) THEN
        RETURN 'day_full';
    END IF;
    -- Only into a slot still offered: a withdrawn slot can't be booked even
    -- if Redis still listed it.
    INSERT INTO bookings (id, slot_id, expert_id, seeker_id, hold_id, starts_at, ends_at, status,
                          phone_ciphertext, phone_key_id, phone_masked, note_ciphertext,
                          note_key_id, priority_group, priority_vouched, fee_minor,
                          idempotency_key, request_hash, seeker_ref_ciphertext, seeker_ref_key_id)
    SELECT p_id, p_slot_id, p_expert_id, p_seeker_id, p_hold_id, p_starts_at, p_ends_at, 'confirmed',
           p_phone_ciphertext, p_phone_key_id, p_phone_masked, p_note_ciphertext,
           p_note_key_id, p_priority_group, p_priority_vouched, p_fee_minor,
           p_idempotency_key, p_request_hash,
           p_seeker_ref_ciphertext, p_seeker_ref_key_id
     WHERE EXISTS (SELECT 1 FROM slots WHERE id = p_slot_id AND status = 'open');
    IF NOT FOUND THEN
        RETURN 'slot_taken';
    END IF;
    INSERT INTO call_tasks (id, booking_id, payload, due_at)
    VALUES (p_task_id, p_id, p_task_payload, GREATEST(p_starts_at, now()));
    IF p_starts_at <= now() + p_notify_within THEN
        PERFORM pg_notify('anxin_call_tasks', p_id::text);
    END IF;
    RETURN 'confirmed';
END
$$;

-- Moves a confirmed booking from p_from_expert to p_expert_id's slot p_slot_id
-- (same start and end), in one statement's transaction, under the same
-- guards as a confirmation: the slot still offered, the new expert's daily
-- cap, and the constraints (one active booking per slot, no overlap for the
-- expert). A call already under way is not moved. Returns 'reassigned',
-- 'not_active' (cancelled, completed, already moved, or its call running)
-- or 'slot_taken'.
CREATE FUNCTION reassign_booking(
    p_booking_id uuid, p_from_expert uuid, p_slot_id uuid, p_expert_id uuid, p_task_payload bytea
) RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    b bookings%ROWTYPE;
BEGIN
    SELECT * INTO b FROM bookings WHERE id = p_booking_id FOR UPDATE;
    IF NOT FOUND OR b.status <> 'confirmed' OR b.expert_id <> p_from_expert THEN
        RETURN 'not_active';
    END IF;
    IF EXISTS (SELECT 1 FROM call_tasks WHERE booking_id = p_booking_id
                AND (state = 'done' OR call_state IN ('dialing_expert', 'dialing_seeker', 'bridged'))) THEN
        RETURN 'not_active';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM slots WHERE id = p_slot_id AND expert_id = p_expert_id
                      AND status = 'open' AND starts_at = b.starts_at AND ends_at = b.ends_at) THEN
        RETURN 'slot_taken';
    END IF;
    IF expert_day_full(p_expert_id, b.starts_at) THEN
        RETURN 'slot_taken';
    END IF;
    UPDATE bookings SET slot_id = p_slot_id, expert_id = p_expert_id, reassigned = true
     WHERE id = p_booking_id;
    UPDATE call_tasks SET payload = p_task_payload, updated_at = now()
     WHERE booking_id = p_booking_id;
    RETURN 'reassigned';
END
$$;

-- booking.reassigned: the booking's expert changed (it may happen more than
-- once to one booking, so it is not held to once per booking).
ALTER TABLE webhooks DROP CONSTRAINT webhooks_type_check;
ALTER TABLE webhooks ADD CONSTRAINT webhooks_type_check
    CHECK (type IN ('booking.confirmed', 'booking.cancelled', 'booking.reassigned',
                    'call.reminder', 'call.completed', 'call.failed', 'payment.refunded'));
DROP INDEX webhooks_once_per_booking;
CREATE UNIQUE INDEX webhooks_once_per_booking ON webhooks (booking_id, type)
    WHERE booking_id IS NOT NULL AND type <> 'booking.reassigned';

CREATE OR REPLACE FUNCTION webhooks_of_bookings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' AND NEW.status = 'confirmed' THEN
        PERFORM webhook('booking.confirmed', NEW.id, NULL, jsonb_build_object(
            'booking_id', NEW.id, 'starts_at', NEW.starts_at, 'ends_at', NEW.ends_at));
    ELSIF TG_OP = 'UPDATE' AND NEW.status = 'cancelled' AND OLD.status <> 'cancelled' THEN
        -- The reason is sealed: the sender opens it into `data.reason`.
        PERFORM webhook('booking.cancelled', NEW.id, NULL, jsonb_build_object(
            'booking_id', NEW.id, 'starts_at', NEW.starts_at, 'ends_at', NEW.ends_at));
    ELSIF TG_OP = 'UPDATE' AND NEW.status = 'confirmed' AND NEW.expert_id <> OLD.expert_id THEN
        PERFORM webhook('booking.reassigned', NEW.id, NULL, jsonb_build_object(
            'booking_id', NEW.id, 'starts_at', NEW.starts_at, 'ends_at', NEW.ends_at,
            'display_name', (SELECT display_name FROM experts WHERE id = NEW.expert_id)));
    END IF;
    RETURN NULL;
END
$$;
DROP TRIGGER webhooks_of_bookings ON bookings;
CREATE TRIGGER webhooks_of_bookings AFTER INSERT OR UPDATE OF status, expert_id ON bookings
    FOR EACH ROW EXECUTE FUNCTION webhooks_of_bookings();

-- Events already written carried the reason in the clear; the sender adds
-- it from the sealed copy from now on.
UPDATE webhooks SET data = data - 'reason' WHERE type = 'booking.cancelled';
