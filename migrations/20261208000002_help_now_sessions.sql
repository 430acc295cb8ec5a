-- A help-now call is a session like a booked one: the expert records its
-- outcome, a `refer` follow-up opens a referral, and a hard call opens a
-- debrief. Each of those names its session: a booking, or a help-now
-- request (exactly one of the two).
ALTER TABLE session_outcomes DROP CONSTRAINT session_outcomes_pkey;
ALTER TABLE session_outcomes
    ALTER COLUMN booking_id DROP NOT NULL,
    ADD CONSTRAINT session_outcomes_booking UNIQUE (booking_id),
    ADD COLUMN help_now_id uuid UNIQUE REFERENCES help_now_requests (id),
    ADD CONSTRAINT session_outcomes_one_session CHECK (num_nonnulls(booking_id, help_now_id) = 1);

ALTER TABLE referrals
    ALTER COLUMN booking_id DROP NOT NULL,
    ADD COLUMN help_now_id uuid UNIQUE REFERENCES help_now_requests (id),
    ADD CONSTRAINT referrals_one_session CHECK (num_nonnulls(booking_id, help_now_id) = 1);

ALTER TABLE debriefs
    ALTER COLUMN booking_id DROP NOT NULL,
    ADD COLUMN help_now_id uuid UNIQUE REFERENCES help_now_requests (id),
    ADD CONSTRAINT debriefs_one_session CHECK (num_nonnulls(booking_id, help_now_id) = 1);
