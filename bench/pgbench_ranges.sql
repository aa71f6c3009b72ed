-- pgbench script for bench/postgres.sh (raw ceiling): one transaction inserts one blocked
-- range that never overlaps another (slot n of a sequence: staff n % 50, 30 minutes at
-- n / 50 half-hours after 2030-01-01), into a table with the segments' EXCLUDE constraint.
INSERT INTO ranges(staff_id, blocked_from, blocked_until)
SELECT n % 50, to_timestamp(1893456000 + (n / 50) * 1800),
       to_timestamp(1893456000 + (n / 50) * 1800 + 1800)
FROM (SELECT nextval('ranges_slot') AS n) s;
