-- The check under the staff lock of a booking whose time a read without the lock (the probe,
-- src/store/postgres/pg_tx.cpp) found free: the same overlap query as the store's locked check
-- (sql.h kBlocksLocked), with its housekeeping of the staff member's expired holds, but instead
-- of returning the blocks it raises SQLSTATE AP409 when one overlaps. It travels in the round
-- trip that carries the booking's INSERTs and COMMIT: when it raises, the server skips the
-- rest of that round trip, COMMIT included, and the store runs the booking again, whose check
-- then reports the conflict. Each statement inside reads a snapshot taken after the lock.
CREATE OR REPLACE FUNCTION appointd_expect_free(p_staff bigint, p_from bigint, p_until bigint,
                                                p_exclude bigint, p_max_blocked bigint,
                                                p_now bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM holds WHERE staff_id = p_staff AND expires_at <= to_timestamp(p_now);
  IF EXISTS (SELECT 1 FROM segments WHERE staff_id = p_staff AND active
               AND blocked_from < to_timestamp(p_until)
               AND blocked_from > to_timestamp(p_from - p_max_blocked)
               AND blocked_until > to_timestamp(p_from) AND appointment_id <> p_exclude)
     OR EXISTS (SELECT 1 FROM holds WHERE staff_id = p_staff
               AND blocked_from < to_timestamp(p_until)
               AND blocked_from > to_timestamp(p_from - p_max_blocked)
               AND blocked_until > to_timestamp(p_from) AND expires_at > to_timestamp(p_now)) THEN
    RAISE EXCEPTION 'appointd: staff % is no longer free at that time', p_staff
      USING ERRCODE = 'AP409';
  END IF;
END $$;
