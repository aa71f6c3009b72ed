-- A booking checks no foreign keys against catalog rows. Companies, branches, staff and services
-- are never deleted (staff are deactivated), and every use case reads the branch, staff and
-- services it books, scoped by company, before it writes (DESIGN.md I7); so these four keys
-- guarded nothing at run time, yet each booking paid for them: one query per key, and a FOR KEY
-- SHARE lock on rows that every booking of the company shares (about a seventh of the server's
-- CPU per booking, measured). `appointd audit` checks the same references instead, and more
-- strictly (of the appointment's own company). The keys to customers and appointments stay.
ALTER TABLE appointments DROP CONSTRAINT IF EXISTS appointments_company_id_fkey,
  DROP CONSTRAINT IF EXISTS appointments_branch_id_fkey;
ALTER TABLE segments DROP CONSTRAINT IF EXISTS segments_company_id_fkey,
  DROP CONSTRAINT IF EXISTS segments_staff_id_fkey,
  DROP CONSTRAINT IF EXISTS segments_service_id_fkey;
