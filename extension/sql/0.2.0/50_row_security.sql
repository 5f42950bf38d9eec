-- Row-level security: every personal-data table answers only for the controllers the current
-- role acts for. ENABLE and FORCE, so not even the tables' owner is exempt (superusers are,
-- as always in PostgreSQL: no application role may be one). The helper sits in a sub-select,
-- so it runs once per query and controller_id = ANY(...) is an index condition.

ALTER TABLE outreach.participant ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.participant FORCE ROW LEVEL SECURITY;
ALTER TABLE outreach.activity ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.activity FORCE ROW LEVEL SECURITY;
ALTER TABLE outreach.attendance ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.attendance FORCE ROW LEVEL SECURITY;

CREATE POLICY participant_read ON outreach.participant FOR SELECT
  USING (outreach.controller_visible(controller_id, 'reader'));
CREATE POLICY participant_insert ON outreach.participant FOR INSERT
  WITH CHECK (outreach.controller_visible(controller_id, 'writer'));
CREATE POLICY participant_update ON outreach.participant FOR UPDATE
  USING (outreach.controller_visible(controller_id, 'writer'))
  WITH CHECK (outreach.controller_visible(controller_id, 'writer'));
CREATE POLICY participant_delete ON outreach.participant FOR DELETE
  USING (outreach.controller_visible(controller_id, 'writer'));

CREATE POLICY activity_read ON outreach.activity FOR SELECT
  USING (outreach.controller_visible(controller_id, 'reader'));
CREATE POLICY activity_insert ON outreach.activity FOR INSERT
  WITH CHECK (outreach.controller_visible(controller_id, 'writer'));
CREATE POLICY activity_update ON outreach.activity FOR UPDATE
  USING (outreach.controller_visible(controller_id, 'writer'))
  WITH CHECK (outreach.controller_visible(controller_id, 'writer'));
CREATE POLICY activity_delete ON outreach.activity FOR DELETE
  USING (outreach.controller_visible(controller_id, 'writer'));

CREATE POLICY attendance_read ON outreach.attendance FOR SELECT
  USING (outreach.controller_visible(controller_id, 'reader'));
CREATE POLICY attendance_insert ON outreach.attendance FOR INSERT
  WITH CHECK (outreach.controller_visible(controller_id, 'writer'));
CREATE POLICY attendance_update ON outreach.attendance FOR UPDATE
  USING (outreach.controller_visible(controller_id, 'writer'))
  WITH CHECK (outreach.controller_visible(controller_id, 'writer'));
CREATE POLICY attendance_delete ON outreach.attendance FOR DELETE
  USING (outreach.controller_visible(controller_id, 'writer'));

-- Table and column privileges, held by the global level roles each controller's roles join.
REVOKE ALL ON outreach.participant, outreach.activity, outreach.attendance,
              outreach.controller, outreach.controller_role, outreach.activity_type, outreach.institution
  FROM PUBLIC;

GRANT SELECT (controller_id, code, name) ON outreach.controller
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi, outreach_daemon;
GRANT SELECT ON outreach.controller_role
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi, outreach_daemon;
GRANT SELECT ON outreach.activity_type, outreach.institution
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;
GRANT EXECUTE ON FUNCTION outreach.my_controller_ids(text), outreach.default_controller_id()
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi, outreach_daemon;
REVOKE EXECUTE ON FUNCTION outreach.my_controller_ids(text), outreach.default_controller_id() FROM PUBLIC;

-- Readers (and the processor) see everything but the special-category columns.
GRANT SELECT (controller_id, participant_id, external_ref, first_name, last_name, date_of_birth, postcode,
              institution_id, linkage_id, he_entry_year_override, he_entry_year_override_reason,
              withdrawn_at, restricted_at, created_at, updated_at)
  ON outreach.participant TO outreach_reader, outreach_processor;
GRANT SELECT ON outreach.activity, outreach.attendance TO outreach_reader, outreach_processor;

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
GRANT INSERT (controller_id, activity_type, name, starts_on, ends_on, delivered_by),
      UPDATE (activity_type, name, starts_on, ends_on, delivered_by), DELETE
  ON outreach.activity TO outreach_writer;
GRANT INSERT (controller_id, participant_id, activity_id, attended_on), UPDATE (attended_on), DELETE
  ON outreach.attendance TO outreach_writer;

-- DPOs also read the special-category columns.
GRANT SELECT (sex, gender_identity, ethnicity, disability, religion) ON outreach.participant TO outreach_dpo;
