-- The exposure rollup's upserts moved off the events writer's batches.
--
-- Each batch of slates upserted one `exposure_hourly` row per expert shown
-- in it. At 10,000 experts a batch of 100 ms shows about 1,300 of them, so
-- every batch cost Postgres 6-10 ms of upserts (13,000 a second), which
-- took a third of the saturated slate rate at that size
-- (docs/benchmarks.md, "The slate at 10,000 experts").
--
-- Now a batch appends what it showed as one row per hour and priority group
-- (the experts and how often each, as two arrays) to `exposure_pending`,
-- and every instance folds the pending rows into `exposure_hourly` every
-- few seconds (`fold_exposure`): one upsert per expert per fold, however
-- many batches showed them. A fold deletes the rows it adds in the same
-- statement, so exposure is `exposure_hourly` plus `exposure_pending` at
-- every moment, and readers add both; instances folding at once take
-- different rows (SKIP LOCKED) and upsert in one order (no deadlocks).
-- What an update or a delete of slates (retention) takes away leaves
-- `exposure_hourly` at once; what an update writes is added like an insert.
CREATE TABLE exposure_pending (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hour            timestamptz NOT NULL,
    priority_group  text NOT NULL,
    expert_ids      uuid[] NOT NULL,
    counts          int8[] NOT NULL,
    CHECK (cardinality(expert_ids) = cardinality(counts))
);

CREATE OR REPLACE FUNCTION exposure_from_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO exposure_hourly (hour, expert_id, priority_group, n)
        SELECT date_bin('1 hour', o.at, timestamptz '2000-01-01 00:00:00+00'), x,
               COALESCE(o.priority_group, 'general'), -count(*)
          FROM old_rows o CROSS JOIN LATERAL unnest(o.expert_ids) AS x
         WHERE o.kind = 'slate_served'
         GROUP BY 1, 2, 3
         -- One lock order for every writer: no deadlocks between batches.
         ORDER BY 1, 2, 3
        ON CONFLICT (hour, expert_id, priority_group)
        DO UPDATE SET n = exposure_hourly.n + EXCLUDED.n;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO exposure_pending (hour, priority_group, expert_ids, counts)
        SELECT hour, priority_group, array_agg(expert_id), array_agg(n)
          FROM (SELECT date_bin('1 hour', i.at, timestamptz '2000-01-01 00:00:00+00') AS hour,
                       COALESCE(i.priority_group, 'general') AS priority_group,
                       x AS expert_id, count(*) AS n
                  FROM new_rows i CROSS JOIN LATERAL unnest(i.expert_ids) AS x
                 WHERE i.kind = 'slate_served'
                 GROUP BY 1, 2, 3) shown
         GROUP BY 1, 2;
    END IF;
    RETURN NULL;
END
$$;

-- Folds up to `most` pending rows into `exposure_hourly`; returns how many
-- it folded.
CREATE FUNCTION fold_exposure(most int) RETURNS int8 LANGUAGE sql AS $$
    WITH taken AS (
        DELETE FROM exposure_pending
         WHERE id IN (SELECT id FROM exposure_pending ORDER BY id LIMIT most
                         FOR UPDATE SKIP LOCKED)
        RETURNING hour, priority_group, expert_ids, counts
    ),
    added AS (
        INSERT INTO exposure_hourly (hour, expert_id, priority_group, n)
        SELECT t.hour, u.expert_id, t.priority_group, sum(u.n)::int8
          FROM taken t CROSS JOIN LATERAL unnest(t.expert_ids, t.counts) AS u(expert_id, n)
         GROUP BY 1, 2, 3
         ORDER BY 1, 2, 3
        ON CONFLICT (hour, expert_id, priority_group)
        DO UPDATE SET n = exposure_hourly.n + EXCLUDED.n
    )
    SELECT count(*) FROM taken;
$$;
