-- A confirmation in one round trip. The per-seeker limit check, the booking,
-- its call task (the outbox row) and the worker's wake-up used to be six
-- statements between BEGIN and COMMIT, each a round trip holding the seeker's
-- advisory lock. Here they are one call, run in the statement's own
-- transaction. The function is VOLATILE, so each statement in it takes a fresh
-- snapshot: the count after the lock sees every booking a concurrent
-- confirmation by the same seeker committed before releasing it.
--
-- Returns 'confirmed', 'too_many_bookings' or 'slot_taken' (the slot is no
-- longer offered). Constraint violations (the slot already booked, the expert
-- busy at that time, the hold or idempotency key already used) raise as they
-- would from the INSERT itself, with the same constraint names.
--
-- NOTIFY takes a lock that serializes every committing transaction that
-- issued one, so it is sent only for calls due soon; the worker's poll (15 s)
-- finds the rest well before they are due.
CREATE FUNCTION confirm_booking(
    p_id uuid, p_slot_id uuid, p_expert_id uuid, p_seeker_id uuid, p_hold_id uuid,
    p_starts_at timestamptz, p_ends_at timestamptz,
    p_phone_ciphertext bytea, p_phone_key_id text, p_phone_masked text, p_note text,
    p_priority_group text, p_fee_minor integer, p_idempotency_key text, p_request_hash bytea,
    p_max_active bigint, p_now timestamptz,
    p_task_id uuid, p_task_payload bytea, p_notify_within interval
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
