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
