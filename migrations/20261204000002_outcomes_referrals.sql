-- After a call the expert records how it went; a `refer` follow-up opens a
-- referral that operators work until it is resolved. The expert's note is
-- sealed like a phone number. A referral keeps its own sealed copy of the
-- seeker's number (the booking's is erased after the call's retention
-- period) until it is resolved; the retention clock then starts again.
CREATE TABLE session_outcomes (
    booking_id        uuid PRIMARY KEY REFERENCES bookings (id),
    outcome           text NOT NULL CHECK (outcome IN ('completed', 'seeker_absent', 'cut_short')),
    follow_up         text NOT NULL CHECK (follow_up IN ('none', 'rebook', 'refer')),
    urgency           text CHECK (urgency IN ('routine', 'urgent', 'emergency')),
    note_ciphertext   bytea,
    note_key_id       text,
    recorded_by_role  text NOT NULL,
    recorded_by_id    text NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((follow_up = 'refer') = (urgency IS NOT NULL)),
    CHECK ((note_ciphertext IS NULL) = (note_key_id IS NULL))
);

CREATE TABLE referrals (
    id                uuid PRIMARY KEY,
    booking_id        uuid NOT NULL UNIQUE REFERENCES bookings (id),
    expert_id         uuid NOT NULL REFERENCES experts (id),
    seeker_id         uuid NOT NULL REFERENCES seekers (id),
    urgency           text NOT NULL CHECK (urgency IN ('routine', 'urgent', 'emergency')),
    region            text,
    phone_ciphertext  bytea,
    phone_key_id      text,
    status            text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    resolution        text CHECK (resolution IN ('referred', 'contacted', 'not_needed')),
    centre            text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    resolved_at       timestamptz,
    CHECK ((status = 'resolved') = (resolution IS NOT NULL AND resolved_at IS NOT NULL))
);
CREATE INDEX referrals_open ON referrals (created_at) WHERE status = 'open';
