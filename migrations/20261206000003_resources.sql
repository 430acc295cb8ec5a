-- A directory to refer to: mental-health centres, hotlines, hospitals and
-- social services per region, kept by operators. A referral's resolution
-- may name the one the seeker was passed to. Retired entries stay for the
-- referrals that name them.
CREATE TABLE resources (
    id         uuid PRIMARY KEY,
    name       text NOT NULL CHECK (length(btrim(name)) > 0),
    kind       text NOT NULL CHECK (kind IN ('mental_health_centre', 'hotline', 'hospital', 'social_service')),
    region     text NOT NULL REFERENCES regions (code),
    phone      text NOT NULL,
    hours      text NOT NULL,
    address    text,
    created_at timestamptz NOT NULL DEFAULT now(),
    retired_at timestamptz
);
CREATE INDEX resources_region_kind ON resources (region, kind) WHERE retired_at IS NULL;

ALTER TABLE referrals ADD COLUMN resource_id uuid REFERENCES resources (id);
