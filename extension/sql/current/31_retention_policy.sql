-- Retention policy: one row per controller, created with it, and the deletion cycle it sets.

-- The numbers are the defaults of the service's privacy notice and each member's agreement may
-- change them. Dates are policy, not code: the long track falls due on the cycle day
-- (1 September), and confirmation is due by a time on the last working day (Monday to Friday)
-- of a month (17:00 on the last working day of October, Europe/London).
CREATE TABLE outreach.retention_policy (
  controller_id int PRIMARY KEY REFERENCES outreach.controller ON DELETE CASCADE,
  long_track_years int NOT NULL DEFAULT 15 CHECK (long_track_years BETWEEN 1 AND 50),
  short_track_years int NOT NULL DEFAULT 7 CHECK (short_track_years BETWEEN 0 AND 50),
  attendance_window_years int NOT NULL DEFAULT 15 CHECK (attendance_window_years BETWEEN 1 AND 50),
  nation text NOT NULL DEFAULT 'england' CHECK (nation IN ('england', 'wales', 'scotland', 'northern_ireland')),
  cycle_month int NOT NULL DEFAULT 9 CHECK (cycle_month BETWEEN 1 AND 12),
  cycle_day int NOT NULL DEFAULT 1 CHECK (cycle_day BETWEEN 1 AND 28),
  confirm_by_month int NOT NULL DEFAULT 10 CHECK (confirm_by_month BETWEEN 1 AND 12),
  confirm_by_time time NOT NULL DEFAULT '17:00',
  time_zone text NOT NULL DEFAULT 'Europe/London',
  min_response_days int NOT NULL DEFAULT 14 CHECK (min_response_days BETWEEN 0 AND 366),
  grace_days int CHECK (grace_days BETWEEN 0 AND 3650),  -- NULL: never delete unconfirmed records
  legal_contact text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- a withdrawal is marked for deletion at once, to be confirmed within these days
  withdrawal_confirm_days int NOT NULL DEFAULT 14 CHECK (withdrawal_confirm_days BETWEEN 1 AND 90),
  -- how long the member's records about its records are kept (36_service_records.sql)
  audit_trail_years int NOT NULL DEFAULT 6 CHECK (audit_trail_years BETWEEN 1 AND 50),
  tombstone_years int NOT NULL DEFAULT 6 CHECK (tombstone_years BETWEEN 1 AND 50),
  ledger_years int NOT NULL DEFAULT 16 CHECK (ledger_years BETWEEN 1 AND 50),
  notice_days int NOT NULL DEFAULT 90 CHECK (notice_days BETWEEN 7 AND 3650)
);
COMMENT ON TABLE outreach.retention_policy IS 'each controller''s retention periods and deletion cycle';
SELECT pg_catalog.pg_extension_config_dump('outreach.retention_policy', '');

-- Every controller has a policy from its creation on.
CREATE OR REPLACE FUNCTION outreach.controller_default_policy() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  INSERT INTO outreach.retention_policy (controller_id) VALUES (NEW.controller_id);
  RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.controller_default_policy() FROM PUBLIC;
COMMENT ON FUNCTION outreach.controller_default_policy() IS 'trigger: gives a new controller the default retention policy';
CREATE OR REPLACE TRIGGER controller_default_policy AFTER INSERT ON outreach.controller
  FOR EACH ROW EXECUTE FUNCTION outreach.controller_default_policy();
INSERT INTO outreach.retention_policy (controller_id)
SELECT controller_id FROM outreach.controller ON CONFLICT DO NOTHING;

ALTER TABLE outreach.retention_policy ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.retention_policy FORCE ROW LEVEL SECURITY;
CREATE POLICY retention_policy_read ON outreach.retention_policy FOR SELECT
  USING (outreach.controller_visible(controller_id, 'analyst'));
REVOKE ALL ON outreach.retention_policy FROM PUBLIC;
GRANT SELECT ON outreach.retention_policy TO outreach_reader, outreach_analyst, outreach_processor;

-- Changing a policy: the service's DBA, per member agreement. Only the values given change.
CREATE OR REPLACE FUNCTION outreach.set_retention_policy(
    controller_code text,
    long_track_years int DEFAULT NULL, short_track_years int DEFAULT NULL,
    attendance_window_years int DEFAULT NULL, nation text DEFAULT NULL,
    confirm_by_month int DEFAULT NULL, confirm_by_time time DEFAULT NULL,
    min_response_days int DEFAULT NULL, grace_days int DEFAULT NULL, legal_contact text DEFAULT NULL,
    withdrawal_confirm_days int DEFAULT NULL, audit_trail_years int DEFAULT NULL, tombstone_years int DEFAULT NULL,
    ledger_years int DEFAULT NULL, notice_days int DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, outreach, pg_temp
AS $$
DECLARE
  cid int;
BEGIN
  SELECT c.controller_id INTO cid FROM outreach.controller c WHERE c.code = controller_code;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown controller "%"', controller_code USING ERRCODE = '42704';
  END IF;
  IF long_track_years NOT BETWEEN 1 AND 50 THEN
    RAISE EXCEPTION 'long_track_years must be between 1 and 50, not %', long_track_years USING ERRCODE = '22023';
  END IF;
  IF short_track_years NOT BETWEEN 0 AND 50 THEN
    RAISE EXCEPTION 'short_track_years must be between 0 and 50, not %', short_track_years USING ERRCODE = '22023';
  END IF;
  IF attendance_window_years NOT BETWEEN 1 AND 50 THEN
    RAISE EXCEPTION 'attendance_window_years must be between 1 and 50, not %', attendance_window_years USING ERRCODE = '22023';
  END IF;
  IF nation NOT IN ('england', 'wales', 'scotland', 'northern_ireland') THEN
    RAISE EXCEPTION 'unknown nation "%"', nation USING ERRCODE = '22023';
  END IF;
  IF confirm_by_month NOT BETWEEN 1 AND 12 THEN
    RAISE EXCEPTION 'confirm_by_month must be between 1 and 12, not %', confirm_by_month USING ERRCODE = '22023';
  END IF;
  IF min_response_days NOT BETWEEN 0 AND 366 THEN
    RAISE EXCEPTION 'min_response_days must be between 0 and 366, not %', min_response_days USING ERRCODE = '22023';
  END IF;
  IF grace_days NOT BETWEEN 0 AND 3650 THEN
    RAISE EXCEPTION 'grace_days must be between 0 and 3650, not %', grace_days USING ERRCODE = '22023';
  END IF;
  IF withdrawal_confirm_days NOT BETWEEN 1 AND 90 THEN
    RAISE EXCEPTION 'withdrawal_confirm_days must be between 1 and 90, not %', withdrawal_confirm_days USING ERRCODE = '22023';
  END IF;
  IF audit_trail_years NOT BETWEEN 1 AND 50 OR tombstone_years NOT BETWEEN 1 AND 50 OR ledger_years NOT BETWEEN 1 AND 50 THEN
    RAISE EXCEPTION 'audit_trail_years, tombstone_years and ledger_years are between 1 and 50' USING ERRCODE = '22023';
  END IF;
  IF notice_days NOT BETWEEN 7 AND 3650 THEN
    RAISE EXCEPTION 'notice_days must be between 7 and 3650, not %', notice_days USING ERRCODE = '22023';
  END IF;
  UPDATE outreach.retention_policy p SET
    long_track_years = coalesce(set_retention_policy.long_track_years, p.long_track_years),
    short_track_years = coalesce(set_retention_policy.short_track_years, p.short_track_years),
    attendance_window_years = coalesce(set_retention_policy.attendance_window_years, p.attendance_window_years),
    nation = coalesce(set_retention_policy.nation, p.nation),
    confirm_by_month = coalesce(set_retention_policy.confirm_by_month, p.confirm_by_month),
    confirm_by_time = coalesce(set_retention_policy.confirm_by_time, p.confirm_by_time),
    min_response_days = coalesce(set_retention_policy.min_response_days, p.min_response_days),
    grace_days = coalesce(set_retention_policy.grace_days, p.grace_days),
    legal_contact = coalesce(set_retention_policy.legal_contact, p.legal_contact),
    withdrawal_confirm_days = coalesce(set_retention_policy.withdrawal_confirm_days, p.withdrawal_confirm_days),
    audit_trail_years = coalesce(set_retention_policy.audit_trail_years, p.audit_trail_years),
    tombstone_years = coalesce(set_retention_policy.tombstone_years, p.tombstone_years),
    ledger_years = coalesce(set_retention_policy.ledger_years, p.ledger_years),
    notice_days = coalesce(set_retention_policy.notice_days, p.notice_days),
    updated_at = now()
  WHERE p.controller_id = cid;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.set_retention_policy(text, int, int, int, text, int, time, int, int, text, int, int, int, int, int) FROM PUBLIC;
COMMENT ON FUNCTION outreach.set_retention_policy(text, int, int, int, text, int, time, int, int, text, int, int, int, int, int) IS
  'changes a controller''s retention policy (only the values given); rejects absurd values with 22023';

-- The deletion cycle: which cycle a record marked on a date belongs to, and by when its
-- controller must confirm. The deadline is the confirm-by time on the last working day of the
-- confirm-by month of the cycle; a record marked too close to that deadline (less than
-- min_response_days before it) joins the next cycle.
CREATE OR REPLACE FUNCTION outreach.retention_confirm_by(cycle_year int, controller_id int) RETURNS timestamptz
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT ((d - CASE extract(isodow FROM d)::int WHEN 6 THEN 1 WHEN 7 THEN 2 ELSE 0 END) + p.confirm_by_time)
           AT TIME ZONE p.time_zone
  FROM outreach.retention_policy p,
       LATERAL (SELECT (make_date(cycle_year + CASE WHEN p.confirm_by_month < p.cycle_month THEN 1 ELSE 0 END,
                                  p.confirm_by_month, 1) + interval '1 month' - interval '1 day')::date AS d) AS last_day
  WHERE p.controller_id = retention_confirm_by.controller_id
$$;
COMMENT ON FUNCTION outreach.retention_confirm_by(int, int) IS
  'deadline for confirming the deletions of a cycle: the confirm-by time on the last working day of the policy''s month';

CREATE OR REPLACE FUNCTION outreach.retention_cycle(marked_on date, controller_id int) RETURNS int
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN outreach.retention_confirm_by(y, p.controller_id)
                   < (marked_on + p.min_response_days)::timestamp AT TIME ZONE p.time_zone
              THEN y + 1 ELSE y END
  FROM outreach.retention_policy p,
       LATERAL (SELECT CASE WHEN (extract(month FROM marked_on), extract(day FROM marked_on))
                                 >= (p.cycle_month, p.cycle_day)
                            THEN extract(year FROM marked_on)::int
                            ELSE extract(year FROM marked_on)::int - 1 END AS y) AS cycle
  WHERE p.controller_id = retention_cycle.controller_id
$$;
COMMENT ON FUNCTION outreach.retention_cycle(date, int) IS
  'the deletion cycle (year of its start) a record marked on a date joins';
-- A withdrawal's deadline: the confirm-by time, withdrawal_confirm_days after the day it was
-- recorded (brought back to the Friday when that is a weekend), in the policy's time zone.
CREATE OR REPLACE FUNCTION outreach.withdrawal_confirm_by(recorded_on date, controller_id int) RETURNS timestamptz
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT ((d - CASE extract(isodow FROM d)::int WHEN 6 THEN 1 WHEN 7 THEN 2 ELSE 0 END) + p.confirm_by_time)
           AT TIME ZONE p.time_zone
  FROM outreach.retention_policy p, LATERAL (SELECT recorded_on + p.withdrawal_confirm_days AS d) AS due
  WHERE p.controller_id = withdrawal_confirm_by.controller_id
$$;
COMMENT ON FUNCTION outreach.withdrawal_confirm_by(date, int) IS
  'deadline for confirming the deletion of people who withdrew on a day: the policy''s withdrawal_confirm_days later';

GRANT EXECUTE ON FUNCTION outreach.retention_confirm_by(int, int), outreach.retention_cycle(date, int),
  outreach.withdrawal_confirm_by(date, int)
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_daemon;
