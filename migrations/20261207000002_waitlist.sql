-- The waitlist: a seeker waits for a slot that suits them (a language, a
-- topic, a particular expert, a latest time). When one opens the first
-- waiting seeker is given a hold on it through the same atomic path as any
-- hold, for at least ten minutes; unclaimed, it passes to the next.
CREATE TABLE waitlist (
    id                uuid PRIMARY KEY,
    seeker_id         uuid NOT NULL REFERENCES seekers (id),
    language          text,
    topic             text,
    expert_id         uuid REFERENCES experts (id),
    not_after         timestamptz,
    status            text NOT NULL DEFAULT 'waiting'
                      CHECK (status IN ('waiting', 'offered', 'booked', 'expired', 'cancelled')),
    created_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- The offer: a hold of this seeker's on this slot, until then.
    hold_id           uuid,
    slot_id           uuid REFERENCES slots (id),
    offer_expires_at  timestamptz,
    -- The host app's `ref` of the seeker, sealed, for `waitlist.offered`.
    seeker_ref_ciphertext bytea,
    seeker_ref_key_id     text,
    CHECK ((status IN ('offered', 'booked')) <= (hold_id IS NOT NULL AND slot_id IS NOT NULL)),
    CHECK ((seeker_ref_ciphertext IS NULL) = (seeker_ref_key_id IS NULL))
);
CREATE INDEX waitlist_waiting ON waitlist (created_at, id) WHERE status = 'waiting';
CREATE INDEX waitlist_offered ON waitlist (offer_expires_at) WHERE status = 'offered';
CREATE INDEX waitlist_seeker ON waitlist (seeker_id) WHERE status IN ('waiting', 'offered');

-- waitlist.offered goes to the host app like the booking events, naming the
-- waitlist entry; its seeker's ref is opened from the entry when sent.
ALTER TABLE webhooks ADD COLUMN waitlist_id uuid REFERENCES waitlist (id);
ALTER TABLE webhooks DROP CONSTRAINT webhooks_type_check;
ALTER TABLE webhooks ADD CONSTRAINT webhooks_type_check
    CHECK (type IN ('booking.confirmed', 'booking.cancelled', 'booking.reassigned',
                    'call.reminder', 'call.completed', 'call.failed', 'payment.refunded',
                    'waitlist.offered'));
CREATE UNIQUE INDEX webhooks_once_per_offer ON webhooks (waitlist_id, ((data ->> 'hold_id')))
    WHERE waitlist_id IS NOT NULL;

CREATE FUNCTION webhook_for_waitlist(p_waitlist uuid, p_data jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT (SELECT enabled FROM webhook_config WHERE id = 1) THEN
        RETURN;
    END IF;
    INSERT INTO webhooks (id, type, waitlist_id, data)
    VALUES (gen_random_uuid(), 'waitlist.offered', p_waitlist, p_data)
    ON CONFLICT DO NOTHING;
END
$$;
