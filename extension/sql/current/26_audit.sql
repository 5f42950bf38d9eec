-- The audit trail: every change to personal data, and every read of special-category data
-- through outreach.read_special_category(). It records who (session role and acting role),
-- when, which record and which columns, never the personal values. Members cannot write it;
-- each controller's DPO reads its own part.

CREATE TABLE outreach.audit_log (
  controller_id int NOT NULL,
  audit_id bigint GENERATED ALWAYS AS IDENTITY,
  logged_at timestamptz NOT NULL DEFAULT statement_timestamp(),
  session_role name NOT NULL,
  acting_role name NOT NULL,
  action text NOT NULL CHECK (action IN ('insert', 'update', 'delete', 'read_special', 'unmark', 'confirm_deletion', 'erasure',
                                         'find_subject', 'reinstate', 'lift_restriction', 'support_read', 'import',
                                         'dismiss_duplicate')),
  relation text NOT NULL,
  record jsonb NOT NULL,      -- the record's key, e.g. {"participant_id": 42}
  columns text[],             -- for updates and reads: which columns
  PRIMARY KEY (controller_id, audit_id)
);
COMMENT ON TABLE outreach.audit_log IS 'who changed personal data or read special-category data, when, which record and columns';
SELECT pg_catalog.pg_extension_config_dump('outreach.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.audit_log', 'audit_id')::pg_catalog.regclass, '');

ALTER TABLE outreach.audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_log_dpo_read ON outreach.audit_log FOR SELECT
  USING (outreach.controller_visible(controller_id, 'dpo'));
REVOKE ALL ON outreach.audit_log FROM PUBLIC;
GRANT SELECT ON outreach.audit_log TO outreach_dpo;

-- The audit of participant updates: per row, the ordinary columns that changed (the writer can
-- read them, so whether they changed tells it nothing) and the special-category columns the
-- statement wrote (never whether they changed). A row is logged when either list is non-empty:
-- so an UPDATE that writes a special-category column logs every row it touched, whatever was
-- stored. The values themselves are never logged, old or new.
CREATE OR REPLACE FUNCTION outreach.audit_participant() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  actor name := outreach.invoking_role()::text;
  written text[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record)
    SELECT n.controller_id, session_user, actor, 'insert', 'participant', jsonb_build_object('participant_id', n.participant_id)
    FROM new_rows n;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record)
    SELECT o.controller_id, session_user, actor, 'delete', 'participant', jsonb_build_object('participant_id', o.participant_id)
    FROM old_rows o;
  ELSE
    -- noted by the audit_spec_* triggers of this statement; only the five names count
    written := ARRAY(SELECT c FROM unnest(ARRAY['sex', 'gender_identity', 'ethnicity', 'disability', 'religion']) AS c
                     WHERE c OPERATOR(pg_catalog.=) ANY (string_to_array(current_setting('outreach_audit.written', true), ',')));
    PERFORM set_config('outreach_audit.written', '', true);
    -- Status columns maintained by the extension itself (retention, last attendance) are not
    -- personal data.
    INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record, columns)
    SELECT controller_id, session_user, actor, 'update', 'participant', jsonb_build_object('participant_id', participant_id), changed
    FROM (
    SELECT n.controller_id, n.participant_id,
           array_remove(ARRAY[
             CASE WHEN n.external_ref IS DISTINCT FROM o.external_ref THEN 'external_ref' END,
             CASE WHEN n.first_name IS DISTINCT FROM o.first_name THEN 'first_name' END,
             CASE WHEN n.last_name IS DISTINCT FROM o.last_name THEN 'last_name' END,
             CASE WHEN n.date_of_birth IS DISTINCT FROM o.date_of_birth THEN 'date_of_birth' END,
             CASE WHEN n.postcode::text IS DISTINCT FROM o.postcode::text THEN 'postcode' END,
             CASE WHEN n.institution_id IS DISTINCT FROM o.institution_id THEN 'institution_id' END,
             CASE WHEN 'sex' OPERATOR(pg_catalog.=) ANY (written) THEN 'sex' END,
             CASE WHEN 'gender_identity' OPERATOR(pg_catalog.=) ANY (written) THEN 'gender_identity' END,
             CASE WHEN 'ethnicity' OPERATOR(pg_catalog.=) ANY (written) THEN 'ethnicity' END,
             CASE WHEN 'disability' OPERATOR(pg_catalog.=) ANY (written) THEN 'disability' END,
             CASE WHEN 'religion' OPERATOR(pg_catalog.=) ANY (written) THEN 'religion' END,
             CASE WHEN n.he_entry_year_override IS DISTINCT FROM o.he_entry_year_override THEN 'he_entry_year_override' END,
             CASE WHEN n.he_entry_year_override_reason IS DISTINCT FROM o.he_entry_year_override_reason THEN 'he_entry_year_override_reason' END,
             CASE WHEN n.withdrawn_at IS DISTINCT FROM o.withdrawn_at THEN 'withdrawn_at' END,
             CASE WHEN n.restricted_at IS DISTINCT FROM o.restricted_at THEN 'restricted_at' END,
             CASE WHEN n.upn IS DISTINCT FROM o.upn THEN 'upn' END,
             CASE WHEN n.uln IS DISTINCT FROM o.uln THEN 'uln' END
           ], NULL) AS changed
    FROM new_rows n JOIN old_rows o USING (controller_id, participant_id)
    ) AS c
    WHERE cardinality(changed) > 0;
  END IF;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION outreach.audit_activity() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  actor name := outreach.invoking_role()::text;
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record)
    SELECT o.controller_id, session_user, actor, 'delete', 'activity', jsonb_build_object('activity_id', o.activity_id)
    FROM old_rows o;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record, columns)
    SELECT n.controller_id, session_user, actor, 'update', 'activity', jsonb_build_object('activity_id', n.activity_id),
           array_remove(ARRAY[
             CASE WHEN n.activity_type IS DISTINCT FROM o.activity_type THEN 'activity_type' END,
             CASE WHEN n.name IS DISTINCT FROM o.name THEN 'name' END,
             CASE WHEN n.starts_on IS DISTINCT FROM o.starts_on THEN 'starts_on' END,
             CASE WHEN n.ends_on IS DISTINCT FROM o.ends_on THEN 'ends_on' END,
             CASE WHEN n.delivered_by IS DISTINCT FROM o.delivered_by THEN 'delivered_by' END
           ], NULL)
    FROM new_rows n JOIN old_rows o USING (controller_id, activity_id);
  ELSE
    INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record)
    SELECT n.controller_id, session_user, actor, 'insert', 'activity', jsonb_build_object('activity_id', n.activity_id)
    FROM new_rows n;
  END IF;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION outreach.audit_attendance() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  actor name := outreach.invoking_role()::text;
BEGIN
  IF TG_LEVEL = 'ROW' THEN
    -- Updates, row by row: attended_on is part of the key, so a statement's old and new rows
    -- could not be paired to tell which columns changed.
    INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record, columns)
    VALUES (NEW.controller_id, session_user, actor, 'update', 'attendance',
            jsonb_build_object('participant_id', NEW.participant_id, 'activity_id', NEW.activity_id),
            array_remove(ARRAY[
              CASE WHEN NEW.participant_id IS DISTINCT FROM OLD.participant_id THEN 'participant_id' END,
              CASE WHEN NEW.activity_id IS DISTINCT FROM OLD.activity_id THEN 'activity_id' END,
              CASE WHEN NEW.attended_on IS DISTINCT FROM OLD.attended_on THEN 'attended_on' END
            ], NULL));
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record)
    SELECT o.controller_id, session_user, actor, 'delete', 'attendance',
           jsonb_build_object('participant_id', o.participant_id, 'activity_id', o.activity_id)
    FROM old_rows o;
  ELSE
    INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record)
    SELECT n.controller_id, session_user, actor, 'insert', 'attendance',
           jsonb_build_object('participant_id', n.participant_id, 'activity_id', n.activity_id)
    FROM new_rows n;
  END IF;
  RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.audit_participant(), outreach.audit_activity(), outreach.audit_attendance() FROM PUBLIC;
COMMENT ON FUNCTION outreach.audit_participant() IS
  'trigger: writes participant changes to the audit log (special-category columns: when written, never whether they changed)';
COMMENT ON FUNCTION outreach.audit_activity() IS 'trigger: writes activity changes to the audit log';
COMMENT ON FUNCTION outreach.audit_attendance() IS 'trigger: writes attendance changes to the audit log';

-- Transition tables need one trigger per event. Attendance updates are the exception, logged
-- per row (see audit_attendance); members rarely change an attendance date.
CREATE OR REPLACE TRIGGER audit_insert AFTER INSERT ON outreach.participant
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_participant();
CREATE OR REPLACE TRIGGER audit_update AFTER UPDATE ON outreach.participant
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_participant();
CREATE OR REPLACE TRIGGER audit_delete AFTER DELETE ON outreach.participant
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_participant();
CREATE OR REPLACE TRIGGER audit_insert AFTER INSERT ON outreach.activity
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_activity();
CREATE OR REPLACE TRIGGER audit_update AFTER UPDATE ON outreach.activity
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_activity();
CREATE OR REPLACE TRIGGER audit_delete AFTER DELETE ON outreach.activity
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_activity();
CREATE OR REPLACE TRIGGER audit_insert AFTER INSERT ON outreach.attendance
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_attendance();
CREATE OR REPLACE TRIGGER audit_update AFTER UPDATE ON outreach.attendance
  FOR EACH ROW EXECUTE FUNCTION outreach.audit_attendance();
CREATE OR REPLACE TRIGGER audit_delete AFTER DELETE ON outreach.attendance
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_attendance();

-----------------------------------------------------------------------------------------------
-- read_special_category(): only the columns the caller may read. A column the calling role
-- holds no SELECT privilege on comes back NULL (every caller gets the same result columns); the
-- audit row names only the columns returned. A caller who may read none of the five, or is
-- neither DPO nor reader of the controller, is refused. DPOs hold all five through outreach_dpo.
-----------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION outreach.read_special_category(controller_id int, participant_ids bigint[] DEFAULT NULL)
RETURNS TABLE (participant_id bigint, sex text, gender_identity text, ethnicity text, disability text, religion text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller regrole := outreach.invoking_role();
  allowed boolean;
  readable text[];
BEGIN
  SELECT pg_has_role(caller::oid, cr.role::oid, 'USAGE') INTO allowed
  FROM outreach.controller_role cr
  WHERE cr.controller_id OPERATOR(pg_catalog.=) read_special_category.controller_id AND cr.level OPERATOR(pg_catalog.=) 'dpo';
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown controller %', read_special_category.controller_id USING ERRCODE = '42704';
  END IF;
  -- the columns the calling role may read (its own grants, its groups', table-wide SELECT)
  readable := ARRAY(SELECT c FROM unnest(ARRAY['sex', 'gender_identity', 'ethnicity', 'disability', 'religion']) WITH ORDINALITY AS u(c, i)
                    WHERE has_column_privilege(caller::oid, 'outreach.participant'::regclass, c, 'SELECT')
                    ORDER BY i);
  IF cardinality(readable) OPERATOR(pg_catalog.=) 0
     OR NOT (allowed OR pg_has_role(caller::oid, (SELECT r.role FROM outreach.controller_role r
                                                   WHERE r.controller_id OPERATOR(pg_catalog.=) read_special_category.controller_id
                                                     AND r.level OPERATOR(pg_catalog.=) 'reader')::oid, 'USAGE')) THEN
    RAISE EXCEPTION 'permission denied to read special-category data of controller %', read_special_category.controller_id
      USING ERRCODE = '42501';
  END IF;
  RETURN QUERY
  WITH picked AS (
    SELECT p.participant_id,
           CASE WHEN 'sex' OPERATOR(pg_catalog.=) ANY (readable) THEN p.sex END AS sex,
           CASE WHEN 'gender_identity' OPERATOR(pg_catalog.=) ANY (readable) THEN p.gender_identity END AS gender_identity,
           CASE WHEN 'ethnicity' OPERATOR(pg_catalog.=) ANY (readable) THEN p.ethnicity END AS ethnicity,
           CASE WHEN 'disability' OPERATOR(pg_catalog.=) ANY (readable) THEN p.disability END AS disability,
           CASE WHEN 'religion' OPERATOR(pg_catalog.=) ANY (readable) THEN p.religion END AS religion
    FROM outreach.participant p
    WHERE p.controller_id OPERATOR(pg_catalog.=) read_special_category.controller_id
      AND (participant_ids IS NULL OR p.participant_id OPERATOR(pg_catalog.=) ANY (participant_ids))
  ), logged AS (
    INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record, columns)
    SELECT read_special_category.controller_id, session_user, caller::text, 'read_special', 'participant',
           jsonb_build_object('participant_id', picked.participant_id), readable
    FROM picked
  )
  SELECT * FROM picked;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.read_special_category(int, bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.read_special_category(int, bigint[]) TO outreach_reader;
COMMENT ON FUNCTION outreach.read_special_category(int, bigint[]) IS
  'special-category data of a controller''s participants for its DPO (or a reader granted some of the columns: the others are NULL), recorded in the audit log with the columns returned';
