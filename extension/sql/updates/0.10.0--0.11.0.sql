-- 0.10.0 to 0.11.0: what an update must do besides re-creating every function, view, trigger,
-- comment and grant from extension/sql/current/ (which follows this file in the update script).

-- Withdrawals are marked for deletion at once, on a notice per member and day, with the
-- policy's short deadline (31_retention_policy.sql, 32_retention_state.sql,
-- 73_withdrawal_restriction.sql).
-- (Functions whose SQL bodies read the policy's row type stop a column being added; they and
-- the view over one are created again from 33_retention_sweep.sql and 35_retention_views.sql.)
DROP VIEW outreach.retention_status;
DROP FUNCTION outreach.participant_decision(text, text, boolean, date, timestamptz, date, timestamptz, int,
                                            outreach.retention_policy, date);
DROP FUNCTION outreach.participant_due_on(outreach.participant, outreach.retention_policy, date);
DROP FUNCTION outreach.participant_retention(outreach.participant, outreach.retention_policy, date);
ALTER TABLE outreach.retention_policy ADD COLUMN withdrawal_confirm_days int NOT NULL DEFAULT 14
  CHECK (withdrawal_confirm_days BETWEEN 1 AND 90);
-- How long the service's records about each member's records are kept (36_service_records.sql).
ALTER TABLE outreach.retention_policy
  ADD COLUMN audit_trail_years int NOT NULL DEFAULT 6 CHECK (audit_trail_years BETWEEN 1 AND 50),
  ADD COLUMN tombstone_years int NOT NULL DEFAULT 6 CHECK (tombstone_years BETWEEN 1 AND 50),
  ADD COLUMN ledger_years int NOT NULL DEFAULT 16 CHECK (ledger_years BETWEEN 1 AND 50),
  ADD COLUMN notice_days int NOT NULL DEFAULT 90 CHECK (notice_days BETWEEN 7 AND 3650);
CREATE TABLE outreach.service_retention (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  import_error_days int NOT NULL DEFAULT 90 CHECK (import_error_days BETWEEN 7 AND 3650),
  subject_lookup_years int NOT NULL DEFAULT 6 CHECK (subject_lookup_years BETWEEN 1 AND 50),
  updated_at timestamptz NOT NULL DEFAULT now()
);
SELECT pg_catalog.pg_extension_config_dump('outreach.service_retention', '');
CREATE TABLE outreach.swept_records (
  controller_id int,
  kind text COLLATE "C" NOT NULL CHECK (kind IN ('audit_log', 'tombstone', 'ledger', 'notice_delivery',
                                                  'outcome_import_error', 'subject_lookup')),
  month date NOT NULL,
  records bigint NOT NULL CHECK (records >= 0),
  swept_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE NULLS NOT DISTINCT (controller_id, kind, month)
);
SELECT pg_catalog.pg_extension_config_dump('outreach.swept_records', '');
ALTER TABLE outreach.swept_records ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.swept_records FORCE ROW LEVEL SECURITY;
CREATE POLICY swept_records_read ON outreach.swept_records FOR SELECT
  USING ((controller_id IS NOT NULL AND outreach.controller_visible(controller_id, 'dpo'))
         OR pg_has_role('outreach_processor', 'MEMBER'));
DROP FUNCTION outreach.set_retention_policy(text, int, int, int, text, int, time, int, int, text);
ALTER TABLE outreach.deletion_notice
  ADD COLUMN kind text NOT NULL DEFAULT 'cycle' CHECK (kind IN ('cycle', 'withdrawal')),
  ADD COLUMN opened_on date,
  ADD CONSTRAINT deletion_notice_kind_opened_on CHECK ((kind = 'withdrawal') = (opened_on IS NOT NULL)),
  DROP CONSTRAINT deletion_notice_controller_id_cycle_year_key;
CREATE UNIQUE INDEX deletion_notice_cycle_key ON outreach.deletion_notice (controller_id, cycle_year) WHERE kind = 'cycle';
CREATE UNIQUE INDEX deletion_notice_withdrawal_key ON outreach.deletion_notice (controller_id, opened_on)
  WHERE kind = 'withdrawal';

-- Art. 19 follow-ups of a withdrawal (56_followup.sql).
ALTER TABLE outreach.recipient_followup DROP CONSTRAINT recipient_followup_kind_check,
  ADD CONSTRAINT recipient_followup_kind_check CHECK (kind IN ('rectification', 'erasure', 'restriction', 'withdrawal'));
ALTER TABLE outreach.recipient_followup_batch ADD COLUMN withdrawals int NOT NULL DEFAULT 0;

-- Rectification's before and after values, for the DPO (74_rectification.sql).
CREATE TABLE outreach.rectification (
  controller_id int NOT NULL,
  rectification_id bigint GENERATED ALWAYS AS IDENTITY,
  participant_id bigint NOT NULL,
  request_id bigint,
  field text COLLATE "C" NOT NULL,
  before_value text,
  after_value text,
  rectified_at timestamptz NOT NULL DEFAULT now(),
  rectified_by text NOT NULL,
  PRIMARY KEY (controller_id, rectification_id),
  FOREIGN KEY (controller_id, participant_id) REFERENCES outreach.participant ON DELETE CASCADE
);
CREATE INDEX rectification_participant_idx ON outreach.rectification (controller_id, participant_id);
ALTER TABLE outreach.rectification ALTER field SET STATISTICS 0, ALTER before_value SET STATISTICS 0,
  ALTER after_value SET STATISTICS 0;
SELECT pg_catalog.pg_extension_config_dump('outreach.rectification', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.rectification', 'rectification_id')::pg_catalog.regclass, '');
ALTER TABLE outreach.rectification ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.rectification FORCE ROW LEVEL SECURITY;
CREATE POLICY rectification_dpo_read ON outreach.rectification FOR SELECT
  USING (outreach.controller_visible(controller_id, 'dpo'));

-- erase_participant returns the tombstone (34_deletion.sql).
DROP FUNCTION outreach.erase_participant(int, bigint, text);

-- Art. 19 in the recipient's next file: a record_action column, records of erasures,
-- withdrawals and restrictions (51_recipients.sql, 52_exports.sql, 56_followup.sql).
ALTER TABLE outreach.recipient_layout_column DROP CONSTRAINT recipient_layout_column_check,
  ADD CONSTRAINT recipient_layout_column_check
  CHECK ((kind = 'export' AND field IN ('reference', 'forename', 'surname', 'date_of_birth', 'postcode', 'sex',
                                        'school_urn', 'school_ukprn', 'upn', 'uln', 'entry_year', 'extend_link_by',
                                        'member', 'blank', 'record_action'))
      OR (kind = 'outcome' AND field IN ('reference', 'outcome', 'academic_year', 'measure', 'value',
                                         'provider_ukprn', 'provider_name', 'ignore')));
ALTER TABLE outreach.export ADD COLUMN action_rows int NOT NULL DEFAULT 0;
ALTER TABLE outreach.recipient_followup ADD COLUMN carried_by bigint;
CREATE UNLOGGED TABLE outreach.export_action_line (
  export_id bigint NOT NULL,
  controller_id int NOT NULL,
  participant_id bigint NOT NULL,
  followup_ids bigint[] NOT NULL,
  line text NOT NULL,
  PRIMARY KEY (export_id, controller_id, participant_id)
);
ALTER TABLE outreach.export_action_line ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.export_action_line FORCE ROW LEVEL SECURITY;
CREATE POLICY export_action_line_dpo_read ON outreach.export_action_line FOR SELECT
  USING (outreach.controller_visible(controller_id, 'dpo'));
-- The staging aggregate takes what is hashed when it is not the line (a record_action column).
DROP AGGREGATE outreach.export_block(bigint, int, xid, text, bigint, text);
DROP FUNCTION outreach.export_block_add(internal, bigint, int, xid, text, bigint, text);

-- Reminders and escalations of rights requests (41_notifications.sql, 75_rights_reminders.sql).
ALTER TABLE outreach.notice_delivery DROP CONSTRAINT notice_delivery_purpose_check,
  ADD CONSTRAINT notice_delivery_purpose_check
    CHECK (purpose IN ('deletion_notice', 'escalation', 'recipient_followup', 'rights_reminder', 'rights_escalation',
                       'breach'));
ALTER TABLE outreach.recipient_followup ADD COLUMN cancelled_at timestamptz;

-- Accountability: the data catalogue, members' lawful bases and the record of processing
-- (80_data_catalogue.sql, 81_record_of_processing.sql; the catalogue's rows are written by the
-- DO block there, at install and at every update).
CREATE TABLE outreach.data_catalogue (
  table_name text COLLATE "C" NOT NULL,
  column_name text COLLATE "C" NOT NULL,
  category text NOT NULL CHECK (category IN (
    'none', 'record_key', 'identifier', 'name', 'date_of_birth', 'address', 'education', 'special_category',
    'pseudonym', 'participation', 'outcome', 'disclosure', 'rights_status', 'rights_request', 'retention_state',
    'record_keeping', 'staff_account', 'staff_contact')),
  special_category boolean NOT NULL DEFAULT false,
  purposes text[] NOT NULL DEFAULT '{}' CHECK (purposes <@ ARRAY[
    'evaluation', 'linkage', 'sharing', 'equality', 'retention', 'rights', 'art19', 'accountability',
    'service_operation']::text[]),
  lawful_basis text CHECK (lawful_basis IN ('member', '6(1)(c)', '6(1)(f)')),
  art9_condition text CHECK (art9_condition IN ('member', '9(2)(j)', '9(2)(g)')),
  retention text CHECK (retention IN ('participant_policy', 'with_participant', 'ledger', 'rights_register',
                                      'audit_trail', 'staging', 'service_records', 'tombstone')),
  description text NOT NULL,
  PRIMARY KEY (table_name, column_name),
  CONSTRAINT data_catalogue_art9 CHECK (NOT special_category OR art9_condition IS NOT NULL),
  CONSTRAINT data_catalogue_personal CHECK ((category = 'none') = (lawful_basis IS NULL AND retention IS NULL))
);
CREATE TABLE outreach.controller_processing (
  controller_id int PRIMARY KEY REFERENCES outreach.controller ON DELETE CASCADE,
  organisation_kind text NOT NULL CHECK (organisation_kind IN ('university', 'college', 'charity', 'other_public_body')),
  lawful_basis text NOT NULL CHECK (lawful_basis IN ('6(1)(e)', '6(1)(f)')),
  art9_condition text NOT NULL CHECK (art9_condition IN ('9(2)(j)', '9(2)(g)')),
  ico_registration text NOT NULL CHECK (ico_registration ~ '^Z[A-Z0-9][0-9]{6}$'),
  dpo_contact text NOT NULL CHECK (length(dpo_contact) BETWEEN 1 AND 200),
  recorded_at timestamptz NOT NULL DEFAULT now(),
  recorded_by text NOT NULL,
  CONSTRAINT controller_processing_basis CHECK (lawful_basis = '6(1)(e)' OR organisation_kind = 'charity')
);
SELECT pg_catalog.pg_extension_config_dump('outreach.controller_processing', '');
ALTER TABLE outreach.controller_processing ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.controller_processing FORCE ROW LEVEL SECURITY;
CREATE POLICY controller_processing_read ON outreach.controller_processing FOR SELECT
  USING (outreach.controller_visible(controller_id, 'dpo') OR pg_has_role('outreach_processor', 'MEMBER'));

-- Sharing agreements gate exports (82_sharing_agreements.sql). Exports to a recipient are
-- refused until its agreement is recorded (docs/upgrading.md).
CREATE TABLE outreach.sharing_agreement (
  agreement_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  recipient text COLLATE "C" NOT NULL CHECK (recipient ~ '^[a-z][a-z0-9_]{1,39}$'),
  legal_gateway text NOT NULL CHECK (length(btrim(legal_gateway)) BETWEEN 1 AND 500),
  reference text NOT NULL CHECK (length(btrim(reference)) BETWEEN 1 AND 200),
  approved_by text NOT NULL CHECK (length(btrim(approved_by)) BETWEEN 1 AND 200),
  valid_from date NOT NULL,
  valid_until date NOT NULL,
  leaves_uk boolean NOT NULL DEFAULT false,
  transfer_safeguard text CHECK (length(transfer_safeguard) <= 500),
  recorded_at timestamptz NOT NULL DEFAULT now(),
  recorded_by text NOT NULL DEFAULT session_user,
  ended_on date,                                     -- ended early: the last day it was in force
  ended_by text,
  end_reason text CHECK (length(end_reason) <= 500),
  CONSTRAINT sharing_agreement_dates CHECK (valid_until >= valid_from),
  CONSTRAINT sharing_agreement_ended CHECK ((ended_on IS NULL) = (ended_by IS NULL) AND (ended_on IS NULL) = (end_reason IS NULL)),
  CONSTRAINT sharing_agreement_dates_finite CHECK (valid_from >= DATE '1990-01-01' AND valid_until <= DATE '2200-01-01'),
  CONSTRAINT sharing_agreement_safeguard CHECK (NOT leaves_uk OR coalesce(length(btrim(transfer_safeguard)), 0) > 0)
);
CREATE INDEX sharing_agreement_recipient_idx ON outreach.sharing_agreement (recipient, valid_until);
SELECT pg_catalog.pg_extension_config_dump('outreach.sharing_agreement', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.sharing_agreement', 'agreement_id')::pg_catalog.regclass, '');

-- The breach register (83_breach_register.sql); the role outreach_security is created by
-- 20_roles.sql.
CREATE TABLE outreach.breach (
  breach_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  aware_at timestamptz NOT NULL,
  ico_deadline timestamptz NOT NULL,
  nature text NOT NULL CHECK (length(btrim(nature)) BETWEEN 1 AND 2000),
  data_categories text[] NOT NULL CHECK (cardinality(data_categories) BETWEEN 1 AND 20),
  people_approx int NOT NULL CHECK (people_approx >= 0),
  records_approx bigint NOT NULL CHECK (records_approx >= 0),
  likely_consequences text NOT NULL CHECK (length(btrim(likely_consequences)) BETWEEN 1 AND 2000),
  measures_taken text NOT NULL CHECK (length(btrim(measures_taken)) BETWEEN 1 AND 2000),
  risk text NOT NULL CHECK (risk IN ('unlikely', 'risk', 'high_risk')),
  risk_reasoning text NOT NULL CHECK (length(btrim(risk_reasoning)) BETWEEN 1 AND 2000),
  recorded_at timestamptz NOT NULL DEFAULT now(),
  recorded_by text NOT NULL,
  closed_at timestamptz,
  CONSTRAINT breach_aware_range CHECK (aware_at >= '2000-01-01 00:00:00+00' AND aware_at < '2200-01-01 00:00:00+00'),
  CONSTRAINT breach_deadline CHECK (ico_deadline = aware_at + interval '72 hours')
);
CREATE TABLE outreach.breach_member (
  controller_id int NOT NULL REFERENCES outreach.controller,
  breach_id bigint NOT NULL REFERENCES outreach.breach ON DELETE CASCADE,
  told_at timestamptz NOT NULL DEFAULT now(),
  report_to_ico boolean,
  ico_reference text CHECK (length(ico_reference) <= 100),
  tell_people boolean,
  decision_reason text CHECK (length(decision_reason) <= 2000),
  decided_at timestamptz,
  decided_by text,
  PRIMARY KEY (controller_id, breach_id),
  CONSTRAINT breach_member_decision CHECK ((report_to_ico IS NULL) = (decided_at IS NULL)
                                           AND (report_to_ico IS NULL OR (tell_people IS NOT NULL AND decision_reason IS NOT NULL)))
);
CREATE INDEX breach_member_breach_idx ON outreach.breach_member (breach_id);
SELECT pg_catalog.pg_extension_config_dump('outreach.breach', '');
SELECT pg_catalog.pg_extension_config_dump('outreach.breach_member', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.breach', 'breach_id')::pg_catalog.regclass, '');
ALTER TABLE outreach.breach_member ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.breach_member FORCE ROW LEVEL SECURITY;
CREATE POLICY breach_member_read ON outreach.breach_member FOR SELECT
  USING (outreach.controller_visible(controller_id, 'dpo') OR pg_has_role('outreach_security', 'MEMBER'));
ALTER TABLE outreach.breach ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.breach FORCE ROW LEVEL SECURITY;
CREATE POLICY breach_read ON outreach.breach FOR SELECT
  USING (pg_has_role('outreach_security', 'MEMBER')
         OR EXISTS (SELECT 1 FROM outreach.breach_member m WHERE m.breach_id = breach.breach_id));

-- Support staff's purpose-bound look-ups are audited (84_support_reads.sql).
ALTER TABLE outreach.audit_log DROP CONSTRAINT audit_log_action_check,
  ADD CONSTRAINT audit_log_action_check CHECK (action IN ('insert', 'update', 'delete', 'read_special', 'unmark',
                                                          'confirm_deletion', 'erasure', 'find_subject', 'reinstate',
                                                          'lift_restriction', 'support_read'));
