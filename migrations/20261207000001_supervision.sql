-- Supervision and training (督导与培训): volunteers are trained before they
-- take calls, hard calls are debriefed with a supervisor, and the load on
-- each volunteer is watched.

-- What a volunteer must learn: the operating guides, recordings, courses.
CREATE TABLE training_modules (
    id          uuid PRIMARY KEY,
    title       text NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 200),
    url         text,
    body        text,
    -- Approval waits until every required module is complete.
    required    boolean NOT NULL,
    -- The volunteer may mark it complete themselves; otherwise their
    -- supervisor, an administrator of their organisation or an operator does.
    self_attest boolean NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE training_completions (
    expert_id       uuid NOT NULL REFERENCES experts (id),
    module_id       uuid NOT NULL REFERENCES training_modules (id),
    completed_at    timestamptz NOT NULL DEFAULT now(),
    marked_by_role  text NOT NULL,
    marked_by_id    text NOT NULL,
    PRIMARY KEY (expert_id, module_id)
);

-- A supervisor is an approved expert with the flag; each expert may have
-- one, of the same organisation.
ALTER TABLE experts ADD COLUMN supervisor boolean NOT NULL DEFAULT false;
ALTER TABLE experts ADD COLUMN supervisor_id uuid REFERENCES experts (id)
    CHECK (supervisor_id <> id);
CREATE INDEX experts_supervisor ON experts (supervisor_id) WHERE supervisor_id IS NOT NULL;

-- How the volunteer was after the session, and whether they asked to talk
-- it over.
ALTER TABLE session_outcomes ADD COLUMN wellbeing smallint CHECK (wellbeing BETWEEN 1 AND 5);
ALTER TABLE session_outcomes ADD COLUMN debrief_requested boolean NOT NULL DEFAULT false;

-- A conversation a supervisor owes a volunteer after a hard session. The
-- supervisor's note is sealed like every note Anxin keeps.
CREATE TABLE debriefs (
    id               uuid PRIMARY KEY,
    expert_id        uuid NOT NULL REFERENCES experts (id),
    booking_id       uuid NOT NULL REFERENCES bookings (id),
    reason           text NOT NULL CHECK (reason IN ('emergency_referral', 'urgent_referral',
                                                     'cut_short', 'requested', 'absent_streak')),
    due_at           timestamptz NOT NULL,
    status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
    done_at          timestamptz,
    done_by_role     text,
    done_by_id       text,
    note_ciphertext  bytea,
    note_key_id      text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    -- One debrief per session: correcting an outcome does not open another.
    UNIQUE (booking_id),
    CHECK ((status = 'done') = (done_at IS NOT NULL)),
    CHECK ((note_ciphertext IS NULL) = (note_key_id IS NULL))
);
CREATE INDEX debriefs_open ON debriefs (expert_id, due_at) WHERE status = 'open';

-- No volunteer worn out: a cap on sessions per local week (Monday to
-- Sunday) beside the daily one, enforced the same way — in Redis where
-- holds are decided, and here under the same per-expert lock.
ALTER TABLE availability
    ADD COLUMN max_sessions_per_week integer CHECK (max_sessions_per_week BETWEEN 1 AND 60);

-- As before (20261206000001_trust.sql), for the week's cap too: true when
-- the slot's local day or local week already has its cap of sessions.
CREATE OR REPLACE FUNCTION expert_day_full(p_expert_id uuid, p_starts_at timestamptz) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    cap integer;
    week_cap integer;
    zone text;
    active bigint;
BEGIN
    SELECT max_sessions_per_day, max_sessions_per_week, timezone INTO cap, week_cap, zone
      FROM availability WHERE expert_id = p_expert_id;
    IF cap IS NULL AND week_cap IS NULL THEN
        RETURN false;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('day-cap:' || p_expert_id::text, 0));
    IF cap IS NOT NULL THEN
        SELECT count(*) INTO active FROM bookings
         WHERE expert_id = p_expert_id AND status <> 'cancelled'
           AND (starts_at AT TIME ZONE zone)::date = (p_starts_at AT TIME ZONE zone)::date;
        IF active >= cap THEN
            RETURN true;
        END IF;
    END IF;
    IF week_cap IS NOT NULL THEN
        SELECT count(*) INTO active FROM bookings
         WHERE expert_id = p_expert_id AND status <> 'cancelled'
           AND date_trunc('week', starts_at AT TIME ZONE zone)
             = date_trunc('week', p_starts_at AT TIME ZONE zone);
        IF active >= week_cap THEN
            RETURN true;
        END IF;
    END IF;
    RETURN false;
END
$$;
