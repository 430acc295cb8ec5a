-- Organisations (national coordination, local management): services that
-- apply, are vetted by operators and published in numbered batches (公示),
-- and whose volunteers apply to them. Contact details are for the
-- operators only and are never published.
CREATE TABLE organisations (
    id             uuid PRIMARY KEY,
    name           text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 120),
    kind           text NOT NULL CHECK (kind IN ('social_work', 'psychological', 'medical', 'other')),
    region         text NOT NULL REFERENCES regions (code),
    contact_name   text NOT NULL,
    -- Sealed like every phone number Anxin keeps.
    contact_phone_ciphertext bytea NOT NULL,
    contact_phone_key_id     text NOT NULL,
    description    text NOT NULL,
    status         text NOT NULL DEFAULT 'applied'
                   CHECK (status IN ('applied', 'approved', 'rejected', 'suspended')),
    batch          integer CHECK (batch > 0),
    approved_at    timestamptz,
    reject_reason  text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'approved') <= (batch IS NOT NULL AND approved_at IS NOT NULL)),
    CHECK ((status = 'rejected') = (reject_reason IS NOT NULL))
);
CREATE INDEX organisations_published ON organisations (batch, approved_at) WHERE status = 'approved';

ALTER TABLE experts ADD COLUMN organisation_id uuid REFERENCES organisations (id);
CREATE INDEX experts_organisation ON experts (organisation_id) WHERE organisation_id IS NOT NULL;

-- An organisation's administrators are operator accounts scoped to it: they
-- sign in by one-time link like operators, and see and act on their own
-- organisation only.
ALTER TABLE operators ADD COLUMN organisation_id uuid REFERENCES organisations (id);
