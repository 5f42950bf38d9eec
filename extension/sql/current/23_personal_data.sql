-- Personal data. controller_id leads the primary key of every table and every foreign key
-- between them, so the tables can be hash-distributed by controller (Citus) or partitioned by
-- controller without redesign, and every member query has controller_id as an index condition.

CREATE TABLE outreach.participant (
  controller_id int NOT NULL DEFAULT outreach.default_controller_id() REFERENCES outreach.controller,
  participant_id bigint GENERATED ALWAYS AS IDENTITY,
  external_ref text CHECK (length(external_ref) <= 100),       -- the member's own reference
  first_name text CHECK (length(first_name) <= 200),
  last_name text CHECK (length(last_name) <= 200),
  date_of_birth date CHECK (date_of_birth BETWEEN DATE '1900-01-01' AND DATE '2100-01-01'),
  postcode outreach.uk_postcode,
  institution_id int REFERENCES outreach.institution,
  -- special category data (UK GDPR Art. 9): readable at the dpo level only
  sex text CHECK (length(sex) <= 50),
  gender_identity text CHECK (length(gender_identity) <= 100),
  ethnicity text CHECK (length(ethnicity) <= 100),
  disability text CHECK (length(disability) <= 200),
  religion text CHECK (length(religion) <= 100),
  -- derived and status columns
  linkage_id outreach.pseudo_id,                                -- kept current by a trigger
  he_entry_year_override int CHECK (he_entry_year_override BETWEEN 1950 AND 2100),
  he_entry_year_override_reason text,
  withdrawn_at timestamptz
    CONSTRAINT participant_withdrawn_at_range
    CHECK (withdrawn_at >= '1900-01-01 00:00:00+00' AND withdrawn_at < '2101-01-01 00:00:00+00'),
  restricted_at timestamptz
    CONSTRAINT participant_restricted_at_range
    CHECK (restricted_at >= '1900-01-01 00:00:00+00' AND restricted_at < '2101-01-01 00:00:00+00'),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- retention state (outreach.retention_sweep and the deletion functions keep it)
  last_attended_on date,                             -- kept by triggers on attendance
  retention_status text NOT NULL DEFAULT 'retained'
    CHECK (retention_status IN ('retained', 'ready_for_deletion', 'deletion_confirmed')),
  retention_reasons text[],                          -- why it was marked (retention_decide's reasons)
  retention_due_on date,                             -- the due date when it was marked
  retention_marked_on date,
  retention_notice_id bigint,
  deletion_confirmed_at timestamptz,
  deletion_confirmed_by name,
  retention_hold_until date,                         -- set when a DPO un-marks a record
  retention_hold_reason text,
  -- school identifiers, where the member holds them
  upn text COLLATE "C" CONSTRAINT participant_upn_valid CHECK (outreach.validate_upn(upn)),
  uln text COLLATE "C" CONSTRAINT participant_uln_valid CHECK (outreach.validate_uln(uln)),
  PRIMARY KEY (controller_id, participant_id),
  UNIQUE (controller_id, external_ref),
  CONSTRAINT override_needs_reason CHECK (
    he_entry_year_override IS NULL OR coalesce(length(btrim(he_entry_year_override_reason)), 0) > 0)
);
-- Columns are in the order upgrades from earlier versions added them, so that a fresh install
-- and an upgraded one agree on SELECT * and COPY.

-- Readers (and the processor) see everything but the special-category columns.
GRANT SELECT (controller_id, participant_id, external_ref, first_name, last_name, date_of_birth, postcode,
              institution_id, linkage_id, he_entry_year_override, he_entry_year_override_reason,
              withdrawn_at, restricted_at, created_at, updated_at)
  ON outreach.participant TO outreach_reader, outreach_processor;

-- Writers register and correct people; writing special-category data does not reveal it.
GRANT INSERT (controller_id, external_ref, first_name, last_name, date_of_birth, postcode, institution_id,
              sex, gender_identity, ethnicity, disability, religion,
              he_entry_year_override, he_entry_year_override_reason, withdrawn_at, restricted_at)
  ON outreach.participant TO outreach_writer;
GRANT UPDATE (external_ref, first_name, last_name, date_of_birth, postcode, institution_id,
              sex, gender_identity, ethnicity, disability, religion,
              he_entry_year_override, he_entry_year_override_reason, withdrawn_at, restricted_at)
  ON outreach.participant TO outreach_writer;
GRANT DELETE ON outreach.participant TO outreach_writer;

-- DPOs also read the special-category columns.
GRANT SELECT (sex, gender_identity, ethnicity, disability, religion) ON outreach.participant TO outreach_dpo;
-- The retention state is read like the ordinary columns; only the extension writes it.
GRANT SELECT (last_attended_on, retention_status, retention_reasons, retention_due_on, retention_marked_on,
              retention_notice_id, deletion_confirmed_at, deletion_confirmed_by, retention_hold_until,
              retention_hold_reason)
  ON outreach.participant TO outreach_reader, outreach_processor;

-- School identifiers: the same roles as the other identifying columns (names, date of birth, postcode).
GRANT SELECT (upn, uln) ON outreach.participant TO outreach_reader, outreach_processor;
GRANT INSERT (upn, uln), UPDATE (upn, uln) ON outreach.participant TO outreach_writer;
-- controller_id first: shared_engagement finds the caller's own records of a person through
-- it (controller_id = 42 AND linkage_id = ...) and never reads, and counts, another member's.
CREATE INDEX participant_linkage_idx ON outreach.participant (controller_id, linkage_id) WHERE linkage_id IS NOT NULL;
COMMENT ON TABLE outreach.participant IS 'people who take part in outreach, one row per controller that registered them';
COMMENT ON COLUMN outreach.participant.upn IS 'Unique Pupil Number (DfE), where the member holds it';
COMMENT ON COLUMN outreach.participant.uln IS 'Unique Learner Number (Learning Records Service), where the member holds it';
-- Every date and time a member writes is finite and within 1900-2100: one member's
-- 'infinity' once failed retention_sweep_prepare for every member (22008; docs/decisions.md).
COMMENT ON CONSTRAINT participant_withdrawn_at_range ON outreach.participant IS 'finite, in 1900-2100';
COMMENT ON CONSTRAINT participant_restricted_at_range ON outreach.participant IS 'finite, in 1900-2100';
COMMENT ON COLUMN outreach.participant.linkage_id IS 'outreach.pseudonymise() of name, date of birth and postcode; NULL while any is missing';

CREATE TABLE outreach.activity (
  controller_id int NOT NULL DEFAULT outreach.default_controller_id() REFERENCES outreach.controller,
  activity_id bigint GENERATED ALWAYS AS IDENTITY,
  activity_type text NOT NULL REFERENCES outreach.activity_type,
  name text CHECK (length(name) <= 300),
  starts_on date NOT NULL
    CONSTRAINT activity_starts_on_range CHECK (starts_on BETWEEN '1900-01-01' AND '2100-12-31'),
  ends_on date
    CONSTRAINT activity_ends_on_range CHECK (ends_on BETWEEN '1900-01-01' AND '2100-12-31'),
  delivered_by int REFERENCES outreach.controller,            -- a partner delivering it; NULL: the controller
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (controller_id, activity_id),
  CHECK (ends_on IS NULL OR ends_on >= starts_on),
  -- the member's own reference (imports match activities by it: 58_member_import.sql)
  external_ref text CONSTRAINT activity_external_ref_length CHECK (length(external_ref) <= 100),
  CONSTRAINT activity_controller_id_external_ref_key UNIQUE (controller_id, external_ref)
);
GRANT INSERT (controller_id, activity_type, name, starts_on, ends_on, delivered_by, external_ref),
      UPDATE (activity_type, name, starts_on, ends_on, delivered_by, external_ref), DELETE
  ON outreach.activity TO outreach_writer;
COMMENT ON TABLE outreach.activity IS 'outreach activities a controller runs';

CREATE TABLE outreach.attendance (
  controller_id int NOT NULL DEFAULT outreach.default_controller_id(),
  participant_id bigint NOT NULL,
  activity_id bigint NOT NULL,
  attended_on date NOT NULL
    CONSTRAINT attendance_attended_on_range CHECK (attended_on BETWEEN '1900-01-01' AND '2100-12-31'),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (controller_id, participant_id, activity_id, attended_on),
  FOREIGN KEY (controller_id, participant_id) REFERENCES outreach.participant ON DELETE CASCADE,
  FOREIGN KEY (controller_id, activity_id) REFERENCES outreach.activity
);
COMMENT ON CONSTRAINT activity_starts_on_range ON outreach.activity IS 'finite, in 1900-2100';
COMMENT ON CONSTRAINT activity_ends_on_range ON outreach.activity IS 'finite, in 1900-2100';
COMMENT ON CONSTRAINT attendance_attended_on_range ON outreach.attendance IS 'finite, in 1900-2100';

-- Table and column privileges, held by the global level roles each controller's roles join.
REVOKE ALL ON outreach.participant, outreach.activity, outreach.attendance,
              outreach.controller, outreach.controller_role, outreach.activity_type, outreach.institution
  FROM PUBLIC;
GRANT SELECT ON outreach.activity, outreach.attendance TO outreach_reader, outreach_processor;
GRANT INSERT (controller_id, participant_id, activity_id, attended_on), UPDATE (attended_on), DELETE
  ON outreach.attendance TO outreach_writer;
CREATE INDEX attendance_activity_idx ON outreach.attendance (controller_id, activity_id);
COMMENT ON TABLE outreach.attendance IS 'who attended which activity when';

SELECT pg_catalog.pg_extension_config_dump('outreach.participant', '');
SELECT pg_catalog.pg_extension_config_dump('outreach.activity', '');
SELECT pg_catalog.pg_extension_config_dump('outreach.attendance', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.participant', 'participant_id')::pg_catalog.regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.activity', 'activity_id')::pg_catalog.regclass, '');

-- Rows never move between controllers and keys never change: a member cannot launder a row
-- into another controller, and audit records keep pointing at the same record.
CREATE OR REPLACE FUNCTION outreach.keep_keys() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NEW.controller_id IS DISTINCT FROM OLD.controller_id THEN
    RAISE EXCEPTION 'a row cannot move to another controller' USING ERRCODE = '42501';
  END IF;
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION outreach.keep_keys() IS 'trigger: refuses UPDATEs that change controller_id';

-- linkage_id follows the identifiers; updated_at the columns readers see. SECURITY DEFINER because
-- members may not compute pseudonyms themselves (see outreach.pseudonymise).
CREATE OR REPLACE FUNCTION outreach.participant_derive() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, outreach, pg_temp
AS $$
BEGIN
  IF TG_OP = 'INSERT'
     OR NEW.first_name IS DISTINCT FROM OLD.first_name OR NEW.last_name IS DISTINCT FROM OLD.last_name
     OR NEW.date_of_birth IS DISTINCT FROM OLD.date_of_birth OR NEW.postcode IS DISTINCT FROM OLD.postcode
     OR NEW.linkage_id IS DISTINCT FROM OLD.linkage_id THEN
    NEW.linkage_id := outreach.pseudonymise(NEW.first_name, NEW.last_name, NEW.date_of_birth,
                                            NEW.postcode::text, 'linkage');
  END IF;
  -- updated_at: when a column the member's readers see last changed. A change of special-category
  -- data alone leaves it (writers write those columns but may not read them: a timestamp that
  -- moved would tell them whether the value they wrote was held already).
  IF TG_OP = 'UPDATE' AND (NEW.external_ref, NEW.first_name, NEW.last_name, NEW.date_of_birth, NEW.postcode::text,
                           NEW.institution_id, NEW.upn, NEW.uln, NEW.he_entry_year_override,
                           NEW.he_entry_year_override_reason, NEW.withdrawn_at, NEW.restricted_at)
                          IS DISTINCT FROM
                          (OLD.external_ref, OLD.first_name, OLD.last_name, OLD.date_of_birth, OLD.postcode::text,
                           OLD.institution_id, OLD.upn, OLD.uln, OLD.he_entry_year_override,
                           OLD.he_entry_year_override_reason, OLD.withdrawn_at, OLD.restricted_at) THEN
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.participant_derive() FROM PUBLIC;
COMMENT ON FUNCTION outreach.participant_derive() IS 'trigger: keeps linkage_id and updated_at (changes readers can see) current';

-- A withdrawal or restriction, once recorded, is changed only by the member's DPO through
-- outreach.reinstate_participant() and outreach.lift_restriction() (70_rights_requests.sql),
-- which run as the extension's owner, or by a superuser: a writer's UPDATE setting either
-- column back (or to another time) is refused. Not SECURITY DEFINER, so current_user is the
-- role that issued the UPDATE.
CREATE OR REPLACE FUNCTION outreach.keep_withdrawal() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF ((OLD.withdrawn_at IS NOT NULL AND NEW.withdrawn_at IS DISTINCT FROM OLD.withdrawn_at)
      OR (OLD.restricted_at IS NOT NULL AND NEW.restricted_at IS DISTINCT FROM OLD.restricted_at))
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r, pg_catalog.pg_extension e
                     WHERE r.rolname = current_user AND e.extname = 'outreach'
                       AND (r.rolsuper OR r.oid = e.extowner)) THEN
    RAISE LOG 'outreach audit: refused a change of withdrawn_at or restricted_at(controller %) for role "%" (session "%"): SQLSTATE 42501',
              OLD.controller_id, current_user, session_user;
    RAISE EXCEPTION 'permission denied: a withdrawal or restriction once recorded is changed only by the data-protection officer'
      USING ERRCODE = '42501',
            HINT = 'outreach.reinstate_participant(controller_id, participant_ids, reason) or outreach.lift_restriction(...)';
  END IF;
  RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.keep_withdrawal() FROM PUBLIC;
COMMENT ON FUNCTION outreach.keep_withdrawal() IS
  'trigger: refuses changing a recorded withdrawal or restriction except through the DPO''s functions';
CREATE OR REPLACE TRIGGER participant_keep_withdrawal BEFORE UPDATE OF withdrawn_at, restricted_at ON outreach.participant
  FOR EACH ROW EXECUTE FUNCTION outreach.keep_withdrawal();

CREATE OR REPLACE TRIGGER participant_derive BEFORE INSERT OR UPDATE ON outreach.participant
  FOR EACH ROW EXECUTE FUNCTION outreach.participant_derive();
CREATE OR REPLACE TRIGGER participant_keep_keys BEFORE UPDATE OF controller_id ON outreach.participant
  FOR EACH ROW EXECUTE FUNCTION outreach.keep_keys();
CREATE OR REPLACE TRIGGER activity_keep_keys BEFORE UPDATE OF controller_id ON outreach.activity
  FOR EACH ROW EXECUTE FUNCTION outreach.keep_keys();
CREATE OR REPLACE TRIGGER attendance_keep_keys BEFORE UPDATE OF controller_id ON outreach.attendance
  FOR EACH ROW EXECUTE FUNCTION outreach.keep_keys();
