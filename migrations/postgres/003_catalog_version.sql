-- Catalog version: one number per company that every committed change of the company's catalog
-- (its settings, branches, staff, services, staff_services, working_hours, time_off) increases in
-- the same transaction, whatever SQL made the change. An instance that caches a catalog checks it
-- inside a booking transaction by reading this number alone. Triggers, not application code,
-- keep it, so a change by hand (psql) or by a future code path cannot leave a cache stale.
-- Cost: the booking hot path writes none of these tables (it locks staff rows FOR UPDATE, which
-- fires no trigger), so per-row triggers are fine. A bump takes the company row's FOR NO KEY
-- UPDATE lock, which does not conflict with the FOR KEY SHARE of foreign-key checks: bookings
-- never wait for a catalog change; concurrent catalog changes of one company serialise on it.
ALTER TABLE companies ADD COLUMN catalog_version bigint NOT NULL DEFAULT 0;

-- companies: a change of any other column bumps the version; an UPDATE that raises the version
-- itself (an explicit bump, or the triggers below) goes through as written and fires nothing
-- else, so there is no recursion. The version never goes down: a lower value is ignored.
CREATE OR REPLACE FUNCTION appointd_company_catalog_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.catalog_version > OLD.catalog_version THEN
    RETURN NEW;
  END IF;
  NEW.catalog_version := OLD.catalog_version;
  IF ROW(NEW.*) IS DISTINCT FROM ROW(OLD.*) THEN
    NEW.catalog_version := OLD.catalog_version + 1;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER companies_catalog_version BEFORE UPDATE ON companies
  FOR EACH ROW EXECUTE FUNCTION appointd_company_catalog_version();

-- Tables with a company_id (branches, services, staff): bump the company of the old and of the
-- new row (both when an UPDATE moves a row between companies). An UPDATE that changes nothing
-- bumps nothing.
CREATE OR REPLACE FUNCTION appointd_bump_catalog_by_company() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  old_company bigint;
  new_company bigint;
BEGIN
  IF TG_OP = 'UPDATE' AND ROW(NEW.*) IS NOT DISTINCT FROM ROW(OLD.*) THEN
    RETURN NULL;
  END IF;
  IF TG_OP <> 'INSERT' THEN
    old_company := OLD.company_id;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    new_company := NEW.company_id;
  END IF;
  UPDATE companies SET catalog_version = catalog_version + 1
    WHERE id IN (old_company, new_company);
  RETURN NULL;
END $$;

-- Tables that reach the company through staff_id (staff_services, working_hours, time_off).
-- A staff row already gone (deleted earlier in the same statement) gives no company: nothing
-- to bump here, and the staff row's own deletion bumped it.
CREATE OR REPLACE FUNCTION appointd_bump_catalog_by_staff() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  old_company bigint;
  new_company bigint;
BEGIN
  IF TG_OP = 'UPDATE' AND ROW(NEW.*) IS NOT DISTINCT FROM ROW(OLD.*) THEN
    RETURN NULL;
  END IF;
  IF TG_OP <> 'INSERT' THEN
    SELECT s.company_id INTO old_company FROM staff s WHERE s.id = OLD.staff_id;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    IF TG_OP = 'UPDATE' AND NEW.staff_id = OLD.staff_id THEN
      new_company := old_company;
    ELSE
      SELECT s.company_id INTO new_company FROM staff s WHERE s.id = NEW.staff_id;
    END IF;
  END IF;
  UPDATE companies SET catalog_version = catalog_version + 1
    WHERE id IN (old_company, new_company);
  RETURN NULL;
END $$;

-- TRUNCATE fires no row trigger: it bumps every company.
CREATE OR REPLACE FUNCTION appointd_bump_catalog_all() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE companies SET catalog_version = catalog_version + 1;
  RETURN NULL;
END $$;

CREATE TRIGGER branches_catalog_version AFTER INSERT OR UPDATE OR DELETE ON branches
  FOR EACH ROW EXECUTE FUNCTION appointd_bump_catalog_by_company();
CREATE TRIGGER services_catalog_version AFTER INSERT OR UPDATE OR DELETE ON services
  FOR EACH ROW EXECUTE FUNCTION appointd_bump_catalog_by_company();
CREATE TRIGGER staff_catalog_version AFTER INSERT OR UPDATE OR DELETE ON staff
  FOR EACH ROW EXECUTE FUNCTION appointd_bump_catalog_by_company();
CREATE TRIGGER staff_services_catalog_version AFTER INSERT OR UPDATE OR DELETE ON staff_services
  FOR EACH ROW EXECUTE FUNCTION appointd_bump_catalog_by_staff();
CREATE TRIGGER working_hours_catalog_version AFTER INSERT OR UPDATE OR DELETE ON working_hours
  FOR EACH ROW EXECUTE FUNCTION appointd_bump_catalog_by_staff();
CREATE TRIGGER time_off_catalog_version AFTER INSERT OR UPDATE OR DELETE ON time_off
  FOR EACH ROW EXECUTE FUNCTION appointd_bump_catalog_by_staff();

CREATE TRIGGER branches_catalog_truncate AFTER TRUNCATE ON branches
  FOR EACH STATEMENT EXECUTE FUNCTION appointd_bump_catalog_all();
CREATE TRIGGER services_catalog_truncate AFTER TRUNCATE ON services
  FOR EACH STATEMENT EXECUTE FUNCTION appointd_bump_catalog_all();
CREATE TRIGGER staff_catalog_truncate AFTER TRUNCATE ON staff
  FOR EACH STATEMENT EXECUTE FUNCTION appointd_bump_catalog_all();
CREATE TRIGGER staff_services_catalog_truncate AFTER TRUNCATE ON staff_services
  FOR EACH STATEMENT EXECUTE FUNCTION appointd_bump_catalog_all();
CREATE TRIGGER working_hours_catalog_truncate AFTER TRUNCATE ON working_hours
  FOR EACH STATEMENT EXECUTE FUNCTION appointd_bump_catalog_all();
CREATE TRIGGER time_off_catalog_truncate AFTER TRUNCATE ON time_off
  FOR EACH STATEMENT EXECUTE FUNCTION appointd_bump_catalog_all();
