-- An operator calls a referred seeker back through the call worker: the call
-- task of a callback names the referral instead of a booking, and carries the
-- operator's number, sealed like every number, for the first leg. A referral
-- has at most one callback waiting or ringing at a time. The operator's
-- number is erased once the callback is over.
ALTER TABLE call_tasks ALTER COLUMN booking_id DROP NOT NULL;
ALTER TABLE call_tasks
    ADD COLUMN referral_id uuid REFERENCES referrals (id),
    ADD COLUMN operator_phone_ciphertext bytea,
    ADD COLUMN operator_phone_key_id text,
    ADD CONSTRAINT call_tasks_one_subject CHECK ((booking_id IS NULL) <> (referral_id IS NULL)),
    ADD CONSTRAINT call_tasks_operator_phone
        CHECK ((operator_phone_ciphertext IS NULL) = (operator_phone_key_id IS NULL));
CREATE UNIQUE INDEX call_tasks_live_callback ON call_tasks (referral_id)
    WHERE referral_id IS NOT NULL AND state IN ('pending', 'leased');
