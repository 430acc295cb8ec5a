-- Synthetic week for timing the summary (on a database with every
-- migration applied): 200 experts, 100k seekers,
-- hourly slots for two weeks, 30k bookings, and exactly 1,000,000 events.
\set ON_ERROR_STOP on
ALTER TABLE bookings DISABLE TRIGGER bookings_events;
INSERT INTO experts (id, display_name, phone_ciphertext, phone_key_id, timezone, languages, specialties, region, status)
SELECT gen_random_uuid(), 'Expert ' || g, '\x00'::bytea, 'k1', 'UTC', ARRAY['zh'], ARRAY['anxiety'],
       (ARRAY['CN-HB','CN-BJ','CN-SH','CN-GD','CN-SC'])[1 + g % 5], 'approved'
  FROM generate_series(1, 200) g;
CREATE TEMP TABLE ex AS SELECT row_number() OVER (ORDER BY id) AS n, id, region FROM experts;
INSERT INTO seekers (id, subject_hash, priority_group, region)
SELECT gen_random_uuid(), sha256(g::text::bytea),
       (ARRAY['medical_worker','patient','bereaved_family','general','general'])[1 + g % 5],
       (ARRAY['CN-HB','CN-BJ','CN-SH','CN-GD','CN-SC', NULL])[1 + g % 6]
  FROM generate_series(1, 100000) g;
CREATE TEMP TABLE sk AS SELECT row_number() OVER (ORDER BY id) AS n, id, priority_group, region FROM seekers;
INSERT INTO slots (id, expert_id, starts_at, ends_at)
SELECT gen_random_uuid(), ex.id, date_trunc('hour', now()) + make_interval(hours => h),
       date_trunc('hour', now()) + make_interval(hours => h + 1)
  FROM ex, generate_series(-168, 168) h;
INSERT INTO bookings (id, slot_id, expert_id, seeker_id, hold_id, starts_at, ends_at, status, priority_group, created_at)
SELECT gen_random_uuid(), s.id, s.expert_id, sk.id, gen_random_uuid(), s.starts_at, s.ends_at,
       CASE WHEN random() < 0.1 THEN 'cancelled' ELSE 'confirmed' END, sk.priority_group,
       LEAST(s.starts_at, now()) - interval '1 hour'
  FROM (SELECT id, expert_id, starts_at, ends_at, row_number() OVER () AS r FROM slots WHERE random() < 0.45 LIMIT 30000) s
  JOIN sk ON sk.n = 1 + (s.r * 7919) % 100000;
ALTER TABLE bookings ENABLE TRIGGER bookings_events;

-- Events, spread uniformly over the last 7 days.
CREATE TEMP TABLE plan (kind text, n int);
INSERT INTO plan VALUES ('slate_served', 400000), ('hold_placed', 200000), ('hold_refused', 40000),
  ('hold_released', 30000), ('booking_confirmed', 150000), ('booking_cancelled', 15000),
  ('booking_completed', 25000), ('call_attempt_ended', 50000), ('call_bridged', 40000),
  ('call_finished', 50000);
INSERT INTO events (kind, at, seeker_id, priority_group, region, expert_id, expert_ids, slot_id,
                    hold_id, booking_id, refusal, call_outcome, starts_at, expires_at, due_at)
SELECT p.kind, t.at, sk.id, sk.priority_group, sk.region,
       CASE WHEN p.kind <> 'slate_served' THEN ex.id END,
       CASE WHEN p.kind = 'slate_served' THEN
            ARRAY(SELECT e2.id FROM ex e2 WHERE e2.n BETWEEN 1 + (g % 180) AND 20 + (g % 180)) END,
       NULL,
       -- Holds and their resolutions share ids: hold g pairs with booking g.
       CASE WHEN p.kind IN ('hold_placed', 'hold_released', 'booking_confirmed')
            THEN md5('hold' || (g % 200000))::uuid END,
       CASE WHEN p.kind LIKE 'booking_%' OR p.kind LIKE 'call_%'
            THEN md5('booking' || (g % 150000))::uuid END,
       CASE p.kind WHEN 'hold_refused' THEN (ARRAY['slot_unavailable','hold_limit'])[1 + g % 2] END,
       CASE p.kind WHEN 'call_attempt_ended' THEN (ARRAY['completed','expert_no_answer','seeker_busy','seeker_no_answer'])[1 + g % 4]
                   WHEN 'call_finished' THEN (ARRAY['completed','completed','expert_no_answer','seeker_busy'])[1 + g % 4] END,
       t.at + interval '1 hour',
       CASE WHEN p.kind = 'hold_placed' THEN t.at + interval '5 minutes' END,
       CASE WHEN p.kind = 'call_bridged' THEN t.at - make_interval(secs => 20 + g % 60) END
  FROM plan p
  CROSS JOIN LATERAL generate_series(1, p.n) g
  CROSS JOIN LATERAL (SELECT now() - make_interval(secs => ((g::bigint * 7919 + length(p.kind) * 104729) % 604800)::int) AS at) t
  JOIN sk ON sk.n = 1 + (g * 31) % 100000
  JOIN ex ON ex.n = 1 + g % 200
 ORDER BY t.at;  -- an append-only log is stored in time order
-- Three organisations with three quarters of the experts (the rest
-- independent), for the breakdown by organisation.
INSERT INTO organisations (id, name, kind, region, contact_name, contact_phone_ciphertext,
                           contact_phone_key_id, description, status, batch, approved_at)
SELECT gen_random_uuid(), 'Organisation ' || g, 'psychological', 'CN-HB', 'x', '\x00', 'k1', 'd',
       'approved', 1, now()
  FROM generate_series(1, 3) g;
UPDATE experts e SET organisation_id = o.id
  FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM organisations) o
 WHERE o.n = 1 + abs(hashtext(e.id::text)) % 4;
VACUUM ANALYZE;
SELECT kind, count(*) FROM events GROUP BY kind ORDER BY 2 DESC;
SELECT count(*) AS events FROM events;
