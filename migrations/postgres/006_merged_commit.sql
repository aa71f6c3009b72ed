-- Raises SQLSTATE AP409 for booking k of a merged commit (src/store/postgres/commit_merge.h):
-- its time, free when it was probed, was taken before it got the staff lock. DETAIL carries k,
-- so the store hands the failure to that booking alone and commits the others. Called only
-- when a time was taken; the check itself is plain SQL (sql.h kExpectFreeMany).
CREATE OR REPLACE FUNCTION appointd_raise_taken(k integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'appointd: the time of booking % of the commit was taken since its probe', k
    USING ERRCODE = 'AP409', DETAIL = k::text;
END $$;
