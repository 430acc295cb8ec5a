-- Operators scoped to one area (national coordination, local management):
-- they see and act within the regions of their area only. NULL: a national
-- operator. An organisation's administrator has no area of its own.
ALTER TABLE operators ADD COLUMN area text
    CHECK (area IN ('north', 'east', 'central', 'south', 'west')),
    ADD CONSTRAINT operators_area_or_organisation CHECK (area IS NULL OR organisation_id IS NULL);
