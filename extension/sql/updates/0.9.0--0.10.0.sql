-- 0.9.0 to 0.10.0: what an update must do besides re-creating every function, view, trigger,
-- comment and grant from extension/sql/current/ (which follows this file in the update script).

-- shared_engagement is an inlined view over a kept list of shareable participants
-- (25_member_views.sql) instead of a SECURITY DEFINER function's materialised result.
DROP VIEW outreach.shared_engagement;
DROP FUNCTION outreach.shared_engagement_rows();

CREATE TABLE outreach.shareable_participant (
  controller_id int NOT NULL,
  participant_id bigint NOT NULL,
  linkage_id outreach.pseudo_id NOT NULL,
  PRIMARY KEY (controller_id, participant_id),
  FOREIGN KEY (controller_id, participant_id) REFERENCES outreach.participant ON DELETE CASCADE
);
CREATE INDEX shareable_participant_linkage_idx ON outreach.shareable_participant (linkage_id, controller_id, participant_id);
REVOKE ALL ON outreach.shareable_participant FROM PUBLIC;
ALTER TABLE outreach.shareable_participant ENABLE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('outreach.shareable_participant', '');
INSERT INTO outreach.shareable_participant (controller_id, participant_id, linkage_id)
SELECT controller_id, participant_id, linkage_id FROM outreach.participant
WHERE linkage_id IS NOT NULL AND withdrawn_at IS NULL AND restricted_at IS NULL AND last_attended_on IS NOT NULL;

-- The caller's own records of a person are found by (controller_id, linkage_id), so a plan
-- never reads another member's records of that person (23_personal_data.sql).
DROP INDEX outreach.participant_linkage_idx;
CREATE INDEX participant_linkage_idx ON outreach.participant (controller_id, linkage_id) WHERE linkage_id IS NOT NULL;

-- The register of data subjects' requests (70_rights_requests.sql).
CREATE TABLE outreach.rights_request (
  controller_id int NOT NULL REFERENCES outreach.controller,
  request_id bigint GENERATED ALWAYS AS IDENTITY,
  kind text NOT NULL
    CHECK (kind IN ('access', 'rectification', 'erasure', 'restriction', 'objection', 'portability', 'withdrawal')),
  received_on date NOT NULL
    CONSTRAINT rights_request_received_on_range CHECK (received_on BETWEEN '1900-01-01' AND '2100-12-31'),
  requester text NOT NULL CHECK (requester IN ('subject', 'parent_or_guardian', 'representative')),
  participant_ids bigint[] NOT NULL,                -- the member's records it concerns (may grow)
  details text CHECK (length(details) <= 4000),     -- what was asked; for an objection, its grounds
  identity_verified_on date
    CONSTRAINT rights_request_verified_on_range CHECK (identity_verified_on BETWEEN '1900-01-01' AND '2100-12-31'),
  identity_verified_how text CHECK (length(identity_verified_how) <= 500),
  child_age int,                                    -- a parent's request: the oldest child's age when received
  child_agreement boolean,
  child_override_reason text CHECK (length(child_override_reason) <= 1000),
  due_on date NOT NULL,
  extended_due_on date,
  extension_reason text CHECK (length(extension_reason) <= 1000),
  extension_notified_on date,
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'completed', 'refused')),
  closed_on date,
  outcome text CHECK (length(outcome) <= 2000),
  refusal_reason text CHECK (length(refusal_reason) <= 2000),
  opened_by name NOT NULL,
  opened_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (controller_id, request_id),
  CONSTRAINT rights_request_due CHECK (due_on = (received_on + interval '1 month')::date),
  CONSTRAINT rights_request_extension CHECK (
    (extended_due_on IS NULL AND extension_reason IS NULL AND extension_notified_on IS NULL)
    OR (extended_due_on > due_on AND extended_due_on <= (received_on + interval '3 months')::date
        AND length(btrim(extension_reason)) > 0 AND extension_notified_on BETWEEN received_on AND due_on)),
  CONSTRAINT rights_request_closed CHECK (
    (status = 'open' AND closed_on IS NULL AND outcome IS NULL AND refusal_reason IS NULL)
    OR (status <> 'open' AND closed_on >= received_on AND length(btrim(outcome)) > 0)),
  CONSTRAINT rights_request_refusal CHECK (status <> 'refused' OR length(btrim(refusal_reason)) > 0),
  CONSTRAINT rights_request_objection CHECK (kind <> 'objection' OR length(btrim(details)) > 0),
  CONSTRAINT rights_request_child CHECK (
    requester <> 'parent_or_guardian' OR coalesce(child_age, 12) < 12 OR child_agreement
    OR length(btrim(child_override_reason)) > 0)
);
ALTER TABLE outreach.rights_request ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.rights_request FORCE ROW LEVEL SECURITY;
CREATE POLICY rights_request_dpo_read ON outreach.rights_request FOR SELECT
  USING (outreach.controller_visible(controller_id, 'dpo'));
REVOKE ALL ON outreach.rights_request FROM PUBLIC;
GRANT SELECT ON outreach.rights_request TO outreach_dpo;
SELECT pg_catalog.pg_extension_config_dump('outreach.rights_request', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.rights_request', 'request_id')::pg_catalog.regclass, '');

-- find_subject() (71_subject_lookup.sql): its log, and its entry in the members' audit log; the
-- DPO's reinstatement and lifting of a restriction (70_rights_requests.sql) are audited too.
ALTER TABLE outreach.audit_log DROP CONSTRAINT audit_log_action_check,
  ADD CONSTRAINT audit_log_action_check CHECK (action IN ('insert', 'update', 'delete', 'read_special', 'unmark',
                                                          'confirm_deletion', 'erasure', 'find_subject', 'reinstate',
                                                          'lift_restriction'));
CREATE TABLE outreach.subject_lookup (
  lookup_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  looked_up_at timestamptz NOT NULL DEFAULT statement_timestamp(),
  session_role name NOT NULL,
  acting_role name NOT NULL,
  as_dpo_of int[] NOT NULL,          -- the controllers searched as their DPO
  as_processor boolean NOT NULL,     -- every member searched, only members' names answered
  matched_controllers int[] NOT NULL
);
REVOKE ALL ON outreach.subject_lookup FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('outreach.subject_lookup', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.subject_lookup', 'lookup_id')::pg_catalog.regclass, '');
