-- Group commit: confirmations that arrive together are written by one
-- statement in one transaction, each under every guard it has alone
-- (confirm_booking, unchanged), each with its own answer. Measured with
-- pgbench on Anxin's schema, eight per transaction cost Postgres about half
-- the CPU per booking of one per transaction (docs/benchmarks.md).
--
-- Each row runs in a subtransaction, so a row the constraints refuse (its
-- slot already booked, an overlap, a hold or idempotency key used before) is
-- answered 'conflict:<constraint>' and the others still commit. Any other
-- error fails the whole statement and nothing is written; the caller then
-- confirms each on its own.
--
-- The advisory locks confirm_booking takes (each seeker's, and the day cap's
-- of each expert who has one) are taken first, every seeker's before any
-- expert's and each kind in one order, as confirm_booking alone takes them
-- (its seeker's, then its expert's): two confirmations, batched or not,
-- never wait for each other's locks in a circle.
CREATE FUNCTION confirm_bookings(
    p_id uuid[], p_slot_id uuid[], p_expert_id uuid[], p_seeker_id uuid[], p_hold_id uuid[],
    p_starts_at timestamptz[], p_ends_at timestamptz[],
    p_phone_ciphertext bytea[], p_phone_key_id text[], p_phone_masked text[],
    p_note_ciphertext bytea[], p_note_key_id text[],
    p_priority_group text[], p_priority_vouched boolean[], p_fee_minor integer[],
    p_idempotency_key text[], p_request_hash bytea[],
    p_max_active bigint, p_now timestamptz[],
    p_task_id uuid[], p_task_payload bytea[], p_notify_within interval,
    p_seeker_ref_ciphertext bytea[], p_seeker_ref_key_id text[]
) RETURNS text[] LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    k bigint;
    decided text[] := '{}';
    d text;
    c text;
BEGIN
    FOR k IN SELECT DISTINCT hashtextextended(s::text, 0) AS key FROM unnest(p_seeker_id) s ORDER BY key LOOP
        PERFORM pg_advisory_xact_lock(k);
    END LOOP;
    FOR k IN SELECT DISTINCT hashtextextended('day-cap:' || e::text, 0) AS key FROM unnest(p_expert_id) e
              WHERE EXISTS (SELECT 1 FROM availability a
                             WHERE a.expert_id = e AND a.max_sessions_per_day IS NOT NULL)
              ORDER BY key LOOP
        PERFORM pg_advisory_xact_lock(k);
    END LOOP;
    FOR i IN 1 .. coalesce(array_length(p_id, 1), 0) LOOP
        BEGIN
            d := confirm_booking(
                p_id[i], p_slot_id[i], p_expert_id[i], p_seeker_id[i], p_hold_id[i],
                p_starts_at[i], p_ends_at[i],
                p_phone_ciphertext[i], p_phone_key_id[i], p_phone_masked[i],
                p_note_ciphertext[i], p_note_key_id[i],
                p_priority_group[i], p_priority_vouched[i], p_fee_minor[i],
                p_idempotency_key[i], p_request_hash[i],
                p_max_active, p_now[i],
                p_task_id[i], p_task_payload[i], p_notify_within,
                p_seeker_ref_ciphertext[i], p_seeker_ref_key_id[i]);
        EXCEPTION WHEN unique_violation OR exclusion_violation OR check_violation THEN
            GET STACKED DIAGNOSTICS c = CONSTRAINT_NAME;
            d := 'conflict:' || coalesce(nullif(c, ''), 'constraint');
        END;
        decided := decided || d;
    END LOOP;
    RETURN decided;
END
$$;
