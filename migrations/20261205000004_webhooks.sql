-- Webhooks to the host app: an outbox (`webhooks`) written in the same
-- transaction as the change each event reports, by triggers on bookings,
-- call tasks and payments (so no code path can change one without its
-- event), and by the reminder sweep. Each type happens at most once per
-- booking. The payload's `data` never holds a phone number or a subject;
-- the seeker's `ref` (the `ref` claim of their token) is sealed on the
-- booking and erased with the phone, and is added only when an event is
-- sent. Nothing is written while webhooks are off (`webhook_config`).
ALTER TABLE bookings
    ADD COLUMN seeker_ref_ciphertext bytea,
    ADD COLUMN seeker_ref_key_id text,
    ADD CONSTRAINT bookings_seeker_ref CHECK ((seeker_ref_ciphertext IS NULL) = (seeker_ref_key_id IS NULL));

-- One row: whether a webhook URL is configured (set at start-up).
CREATE TABLE webhook_config (
    id       integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    enabled  boolean NOT NULL DEFAULT false
);
INSERT INTO webhook_config (id, enabled) VALUES (1, false);

CREATE TABLE webhooks (
    id                uuid PRIMARY KEY,
    type              text NOT NULL CHECK (type IN ('booking.confirmed', 'booking.cancelled',
                          'call.reminder', 'call.completed', 'call.failed', 'payment.refunded')),
    booking_id        uuid REFERENCES bookings (id),
    payment_id        uuid REFERENCES payments (id),
    data              jsonb NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    state             text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts          integer NOT NULL DEFAULT 0,
    -- Retries stop 24 h after this: the event's making, or its replay.
    retry_from        timestamptz NOT NULL DEFAULT now(),
    next_at           timestamptz NOT NULL DEFAULT now(),
    lease_owner       text,
    lease_expires_at  timestamptz,
    last_status       integer,
    last_error        text,
    delivered_at      timestamptz
);
CREATE UNIQUE INDEX webhooks_once_per_booking ON webhooks (booking_id, type) WHERE booking_id IS NOT NULL;
CREATE UNIQUE INDEX webhooks_once_per_payment ON webhooks (payment_id, type) WHERE payment_id IS NOT NULL;
CREATE INDEX webhooks_due ON webhooks (next_at) WHERE state = 'pending';
CREATE INDEX webhooks_created ON webhooks (created_at);

CREATE FUNCTION webhook(p_type text, p_booking uuid, p_payment uuid, p_data jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT (SELECT enabled FROM webhook_config WHERE id = 1) THEN
        RETURN;
    END IF;
    INSERT INTO webhooks (id, type, booking_id, payment_id, data)
    VALUES (gen_random_uuid(), p_type, p_booking, p_payment, p_data)
    ON CONFLICT DO NOTHING;
END
$$;

CREATE FUNCTION webhooks_of_bookings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' AND NEW.status = 'confirmed' THEN
        PERFORM webhook('booking.confirmed', NEW.id, NULL, jsonb_build_object(
            'booking_id', NEW.id, 'starts_at', NEW.starts_at, 'ends_at', NEW.ends_at));
    ELSIF TG_OP = 'UPDATE' AND NEW.status = 'cancelled' AND OLD.status <> 'cancelled' THEN
        PERFORM webhook('booking.cancelled', NEW.id, NULL, jsonb_build_object(
            'booking_id', NEW.id, 'starts_at', NEW.starts_at, 'ends_at', NEW.ends_at,
            'reason', NEW.cancel_reason));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER webhooks_of_bookings AFTER INSERT OR UPDATE OF status ON bookings
    FOR EACH ROW EXECUTE FUNCTION webhooks_of_bookings();

-- A booking's call task finished: completed, or failed with its outcome. A
-- task cancelled with its booking reports nothing more (booking.cancelled
-- said it); a referral's callback is not the host app's business.
CREATE FUNCTION webhooks_of_calls() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    b bookings%ROWTYPE;
BEGIN
    IF NEW.booking_id IS NULL OR NEW.state <> 'done' OR OLD.state = 'done' THEN
        RETURN NULL;
    END IF;
    SELECT * INTO b FROM bookings WHERE id = NEW.booking_id;
    PERFORM webhook(CASE WHEN NEW.outcome = 'completed' THEN 'call.completed' ELSE 'call.failed' END,
        b.id, NULL, jsonb_build_object('booking_id', b.id, 'starts_at', b.starts_at,
            'ends_at', b.ends_at, 'outcome', NEW.outcome, 'attempts', NEW.attempts));
    RETURN NULL;
END
$$;
CREATE TRIGGER webhooks_of_calls AFTER UPDATE OF state ON call_tasks
    FOR EACH ROW EXECUTE FUNCTION webhooks_of_calls();

CREATE FUNCTION webhooks_of_payments() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    b bookings%ROWTYPE;
BEGIN
    IF NEW.status <> 'refunded' OR OLD.status = 'refunded' THEN
        RETURN NULL;
    END IF;
    SELECT * INTO b FROM bookings WHERE hold_id = NEW.hold_id;
    PERFORM webhook('payment.refunded', b.id, NEW.id, jsonb_build_object(
        'booking_id', b.id, 'starts_at', b.starts_at, 'payment_id', NEW.id,
        'amount_minor', NEW.amount_minor, 'currency', NEW.currency));
    RETURN NULL;
END
$$;
CREATE TRIGGER webhooks_of_payments AFTER UPDATE OF status ON payments
    FOR EACH ROW EXECUTE FUNCTION webhooks_of_payments();

-- As before (20261203000001_max_sessions_per_day.sql), plus the seeker's
-- sealed `ref`.
DROP FUNCTION confirm_booking(uuid, uuid, uuid, uuid, uuid, timestamptz, timestamptz, bytea, text,
    text, text, text, integer, text, bytea, bigint, timestamptz, uuid, bytea, interval);
CREATE FUNCTION confirm_booking(
    p_id uuid, p_slot_id uuid, p_expert_id uuid, p_seeker_id uuid, p_hold_id uuid,
    p_starts_at timestamptz, p_ends_at timestamptz,
    p_phone_ciphertext bytea, p_phone_key_id text, p_phone_masked text, p_note text,
    p_priority_group text, p_fee_minor integer, p_idempotency_key text, p_request_hash bytea,
    p_max_active bigint, p_now timestamptz,
    p_task_id uuid, p_task_payload bytea, p_notify_within interval,
    p_seeker_ref_ciphertext bytea, p_seeker_ref_key_id text
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
                          fee_minor, idempotency_key, request_hash, seeker_ref_ciphertext,
                          seeker_ref_key_id)
    SELECT p_id, p_slot_id, p_expert_id, p_seeker_id, p_hold_id, p_starts_at, p_ends_at, 'confirmed',
           p_phone_ciphertext, p_phone_key_id, p_phone_masked, p_note, p_priority_group,
           p_fee_minor, p_idempotency_key, p_request_hash, p_seeker_ref_ciphertext,
           p_seeker_ref_key_id
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
