-- Retention state of each participant, the deletion notices, the run history and tombstones.

CREATE INDEX participant_retention_idx ON outreach.participant (retention_status, controller_id, participant_id)
  WHERE retention_status <> 'retained';

-- last_attended_on follows attendance. Statement-level, so a bulk load updates each person once.
CREATE OR REPLACE FUNCTION outreach.attendance_latest() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE outreach.participant p SET last_attended_on = n.latest
    FROM (SELECT controller_id, participant_id, max(attended_on) AS latest FROM new_rows GROUP BY 1, 2) n
    WHERE p.controller_id = n.controller_id AND p.participant_id = n.participant_id
      AND (p.last_attended_on IS NULL OR p.last_attended_on < n.latest);
  ELSE  -- UPDATE or DELETE: recompute for the people concerned
    UPDATE outreach.participant p
    SET last_attended_on = (SELECT max(a.attended_on) FROM outreach.attendance a
                            WHERE a.controller_id = p.controller_id AND a.participant_id = p.participant_id)
    FROM (SELECT DISTINCT controller_id, participant_id FROM old_rows) o
    WHERE p.controller_id = o.controller_id AND p.participant_id = o.participant_id;
  END IF;
  RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.attendance_latest() FROM PUBLIC;
COMMENT ON FUNCTION outreach.attendance_latest() IS 'trigger: keeps participant.last_attended_on current';
CREATE OR REPLACE TRIGGER attendance_latest_insert AFTER INSERT ON outreach.attendance
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION outreach.attendance_latest();
CREATE OR REPLACE TRIGGER attendance_latest_update AFTER UPDATE ON outreach.attendance
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION outreach.attendance_latest();
CREATE OR REPLACE TRIGGER attendance_latest_delete AFTER DELETE ON outreach.attendance
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION outreach.attendance_latest();

-- One deletion notice per controller and cycle, created or extended by sweeps.
CREATE TABLE outreach.deletion_notice (
  controller_id int NOT NULL REFERENCES outreach.controller,
  notice_id bigint GENERATED ALWAYS AS IDENTITY,
  cycle_year int NOT NULL,
  confirm_by timestamptz NOT NULL,
  records_marked int NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  escalated_at timestamptz,                          -- deadline missed, legal contact told
  -- 'cycle': the records a yearly sweep found due; 'withdrawal': the people who withdrew on
  -- opened_on (the member's date), marked at once with the policy's short deadline
  kind text NOT NULL DEFAULT 'cycle' CHECK (kind IN ('cycle', 'withdrawal')),
  opened_on date,
  PRIMARY KEY (controller_id, notice_id),
  CONSTRAINT deletion_notice_kind_opened_on CHECK ((kind = 'withdrawal') = (opened_on IS NOT NULL))
);
CREATE UNIQUE INDEX deletion_notice_cycle_key ON outreach.deletion_notice (controller_id, cycle_year) WHERE kind = 'cycle';
CREATE UNIQUE INDEX deletion_notice_withdrawal_key ON outreach.deletion_notice (controller_id, opened_on)
  WHERE kind = 'withdrawal';
COMMENT ON TABLE outreach.deletion_notice IS
  'per controller: the records a cycle''s sweep marked, or the people who withdrew on a day, and the confirmation deadline';

-- Sweeps and deletion runs: what ran, when, how far it got.
CREATE TABLE outreach.retention_run (
  run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('sweep', 'delete')),
  as_of date,
  started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  finished_at timestamptz,
  status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'finished', 'failed')),
  candidates bigint,                 -- sweep: records found due when it started
  batches int NOT NULL DEFAULT 0,
  rows_marked bigint NOT NULL DEFAULT 0,
  rows_skipped bigint NOT NULL DEFAULT 0,  -- taken from the queue but not marked: no longer due,
                                           -- held, or locked by a member at that moment (the
                                           -- next sweep looks at them again)
  rows_deleted bigint NOT NULL DEFAULT 0,
  error text,
  started_by name NOT NULL DEFAULT session_user
);
COMMENT ON TABLE outreach.retention_run IS 'history and progress of retention sweeps and deletion runs';

-- Work found by a sweep and not yet marked. Unlogged: after a crash it is empty and the next
-- sweep finds the same work again.
CREATE UNLOGGED TABLE outreach.retention_queue (
  controller_id int NOT NULL,
  participant_id bigint NOT NULL,
  as_of date NOT NULL,
  PRIMARY KEY (controller_id, participant_id)
);
COMMENT ON TABLE outreach.retention_queue IS 'participants a sweep found due and has not marked yet';

-- What is left of a deleted participant: no personal data.
CREATE TABLE outreach.tombstone (
  controller_id int NOT NULL,
  participant_id bigint NOT NULL,
  reasons text[] NOT NULL,
  due_on date,
  marked_on date,
  notice_id bigint,
  confirmed_at timestamptz,
  confirmed_by name,
  deleted_at timestamptz NOT NULL DEFAULT now(),
  run_id bigint,
  PRIMARY KEY (controller_id, participant_id)
);
COMMENT ON TABLE outreach.tombstone IS 'deleted participants: who confirmed, why and when; no personal data';

SELECT pg_catalog.pg_extension_config_dump('outreach.deletion_notice', '');
SELECT pg_catalog.pg_extension_config_dump('outreach.retention_run', '');
SELECT pg_catalog.pg_extension_config_dump('outreach.tombstone', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.deletion_notice', 'notice_id')::pg_catalog.regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.retention_run', 'run_id')::pg_catalog.regclass, '');

ALTER TABLE outreach.deletion_notice ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.deletion_notice FORCE ROW LEVEL SECURITY;
CREATE POLICY deletion_notice_read ON outreach.deletion_notice FOR SELECT
  USING (outreach.controller_visible(controller_id, 'dpo'));
ALTER TABLE outreach.tombstone ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.tombstone FORCE ROW LEVEL SECURITY;
CREATE POLICY tombstone_read ON outreach.tombstone FOR SELECT
  USING (outreach.controller_visible(controller_id, 'dpo'));
REVOKE ALL ON outreach.deletion_notice, outreach.retention_run, outreach.retention_queue, outreach.tombstone FROM PUBLIC;
GRANT SELECT ON outreach.deletion_notice, outreach.tombstone TO outreach_dpo;
-- A run's counts are every member's together (candidates, rows marked or deleted): DPOs read
-- their own member's figures in deletion_notice and tombstone, not the service's.
GRANT SELECT ON outreach.retention_run TO outreach_processor, outreach_daemon;
