-- When the provider was last asked about a payment whose notification is
-- late, so the settler asks each one now and then, not every round.
ALTER TABLE payments ADD COLUMN queried_at timestamptz;
