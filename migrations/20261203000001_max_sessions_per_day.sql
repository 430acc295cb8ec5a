-- An expert's cap on sessions per local day (PUT availability's
-- max_sessions_per_day). Redis enforces it where holds are decided (the
-- expert's hash slot: see expert_prelude.lua); confirm_booking checks it
-- again, under a lock per expert, so a Redis that lost or forgot holds and
-- bookings can never book the expert past it.
ALTER TABLE availability
    ADD COLUMN max_sessions_per_day integer CHECK (max_sessions_per_day BETWEEN 1 AND 24);

-- As before (20261130000001_confirm_booking.sql), plus 'day_full': the
-- expert already has max_sessions_per_day active bookings on the slot's
-- local day.
CREATE OR REPLACE FUNCTION confirm_booking(
    p_id uuid, p_slot_id uuid, p_expert_id uuid, p_seeker_id uuid, p_hold_id uuid,
    p_starts_at timestamptz, p_ends_at timestamptz,
    p_phone_ciphertext bytea, p_phone_key_id text, p_phone_masked text, p_note text,
    p_priority_group text, p_fee_minor integer, p_idempotency_key text, p_request_hash bytea,
    p_max_active bigint, p_now timestamptz,
    p_task_id uuid, p_task_payload bytea, p_notify_within interval
) RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    active bigint;
    cap integer;
    zone text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(p_seeker_id::text, 0));
    SELECT count(*) INTO active FROM bookings
     WHERE seeker_id = p_seeker_id AND status = 'confirmed' AND ends_at > p_now;
    IF active >= p_max_active THEN
        RETURN 'too_many_bookings';
    END IF;
    SELECT max_sessions_per_day, timezone INTO cap, zone FROM availability WHERE expert_id = p_expert_id;
    IF cap IS NOT NULL THEN
        -- One confirmation at a time per capped expert, so two can't both
        -- see the last place free.
        PERFORM pg_advisory_xact_lock(hashtextextended('day-cap:' || p_expert_id::text, 0));
        SELECT count(*) INTO active FROM bookings
         WHERE expert_id = p_expert_id AND status <> 'cancelled'
           AND (starts_at AT TIME ZONE zone)::date = (p_starts_at AT TIME ZONE zone)::date;
        IF active >= cap THEN
            RETURN 'day_full';
        END IF;
    END IF;
    -- Only into a slot still offered: a withdrawn slot can't be booked even
    -- if Redis still listed it.
    INSERT INTO bookings (id, slot_id, expert_id, seeker_id, hold_id, starts_at, ends_at, status,
                          phone_ciphertext, phone_key_id, phone_masked, note, priority_group,
                          fee_minor, idempotency_key, request_hash)
    SELECT p_id, p_slot_id, p_expert_id, p_seeker_id, p_hold_id, p_starts_at, p_ends_at, 'confirmed',
           p_phone_ciphertext, p_phone_key_id, p_phone_masked, p_note, p_priority_group,
           p_fee_minor, p_idempotency_key, p_request_hash
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
