-- People sign in through one-time links and then hold a session. Both are
-- stored only as a SHA-256 hash of their secret (a database dump can't be
-- replayed as a link or a cookie), and a session is a row so it can be
-- ended at once: by signing out, or by suspending the expert.
CREATE TABLE operators (
    id          uuid PRIMARY KEY,
    -- The operator's subject: what their bearer tokens carry as `sub` and
    -- the audit log records as the actor.
    name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sign_in_links (
    secret_hash  bytea PRIMARY KEY,
    expert_id    uuid REFERENCES experts (id),
    operator_id  uuid REFERENCES operators (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    CHECK ((expert_id IS NULL) <> (operator_id IS NULL))
);

CREATE TABLE sessions (
    secret_hash  bytea PRIMARY KEY,
    expert_id    uuid REFERENCES experts (id),
    operator_id  uuid REFERENCES operators (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    ended_at     timestamptz,
    CHECK ((expert_id IS NULL) <> (operator_id IS NULL))
);
CREATE INDEX sessions_expert_live ON sessions (expert_id) WHERE ended_at IS NULL;
