\echo Use "ALTER EXTENSION outreach UPDATE TO '0.11.0'" to load this file. \quit

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

-- Every function, view, trigger, comment and grant, as extension/sql/current/ defines it.

-- Names and values in UK personal data are Unicode; normalisation and pseudonyms assume UTF-8.
DO $$
BEGIN
  IF pg_catalog.getdatabaseencoding() OPERATOR(pg_catalog.<>) 'UTF8' THEN
    RAISE EXCEPTION 'the outreach extension needs a UTF8 database, this one is %',
      pg_catalog.getdatabaseencoding()
      USING ERRCODE = '0A000', HINT = 'CREATE DATABASE ... ENCODING ''UTF8'' TEMPLATE template0';
  END IF;
END
$$;
COMMENT ON SCHEMA outreach IS 'pg_outreach: outreach participation data under UK GDPR';
GRANT USAGE ON SCHEMA outreach TO PUBLIC;

-- The library must be loaded through shared_preload_libraries: its utility hook keeps members
-- from locking the service's tables (see extension/src/pg/lock_guard.cpp), and
-- outreach.key_file is then a superuser-only setting from the server's start, not a placeholder
-- any role could SHOW.
CREATE OR REPLACE FUNCTION outreach.preloaded() RETURNS boolean
  AS 'MODULE_PATHNAME', 'outreach_preloaded' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION outreach.preloaded() IS
  'whether this server loaded the outreach library through shared_preload_libraries (required)';

DO $preload$
BEGIN
  IF NOT outreach.preloaded() THEN
    RAISE EXCEPTION 'the outreach library must be loaded through shared_preload_libraries'
      USING ERRCODE = '55000',
            HINT = 'Add outreach to shared_preload_libraries in postgresql.conf, restart the server, then run this again.';
  END IF;
END
$preload$;

CREATE OR REPLACE FUNCTION outreach.uk_postcode_in(cstring) RETURNS outreach.uk_postcode
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION outreach.uk_postcode_out(outreach.uk_postcode) RETURNS cstring
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION outreach.uk_postcode_recv(internal) RETURNS outreach.uk_postcode
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION outreach.uk_postcode_send(outreach.uk_postcode) RETURNS bytea
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OR REPLACE FUNCTION outreach.uk_postcode(text) RETURNS outreach.uk_postcode
  AS 'MODULE_PATHNAME', 'uk_postcode_from_text' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON TYPE outreach.uk_postcode IS
  'UK postcode in canonical form (upper case, outward code, one space, inward code), validated by the BS 7666 rules';
COMMENT ON FUNCTION outreach.uk_postcode(text) IS 'parses text as a UK postcode; 22P02 when it is not one';

CREATE OR REPLACE FUNCTION outreach.is_valid_postcode(text) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.is_valid_postcode(text) IS 'true when the text is a valid UK postcode; never raises';

CREATE OR REPLACE FUNCTION outreach.postcode_outward(outreach.uk_postcode) RETURNS text
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.postcode_outward(outreach.uk_postcode) IS 'outward code, e.g. SW1A';
CREATE OR REPLACE FUNCTION outreach.postcode_inward(outreach.uk_postcode) RETURNS text
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.postcode_inward(outreach.uk_postcode) IS 'inward code, e.g. 1AA';
CREATE OR REPLACE FUNCTION outreach.postcode_area(outreach.uk_postcode) RETURNS text
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.postcode_area(outreach.uk_postcode) IS 'postcode area: the leading letters, e.g. SW';
CREATE OR REPLACE FUNCTION outreach.postcode_district(outreach.uk_postcode) RETURNS text
  AS 'MODULE_PATHNAME', 'postcode_outward' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.postcode_district(outreach.uk_postcode) IS 'postcode district (the outward code), e.g. SW1A';
CREATE OR REPLACE FUNCTION outreach.postcode_sector(outreach.uk_postcode) RETURNS text
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.postcode_sector(outreach.uk_postcode) IS 'postcode sector, e.g. SW1A 1';

-- Comparison: byte order of the canonical text (C collation).
CREATE OR REPLACE FUNCTION outreach.uk_postcode_eq(outreach.uk_postcode, outreach.uk_postcode) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.uk_postcode_ne(outreach.uk_postcode, outreach.uk_postcode) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.uk_postcode_lt(outreach.uk_postcode, outreach.uk_postcode) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.uk_postcode_le(outreach.uk_postcode, outreach.uk_postcode) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.uk_postcode_gt(outreach.uk_postcode, outreach.uk_postcode) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.uk_postcode_ge(outreach.uk_postcode, outreach.uk_postcode) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.uk_postcode_cmp(outreach.uk_postcode, outreach.uk_postcode) RETURNS integer
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.uk_postcode_sortsupport(internal) RETURNS void
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION outreach.uk_postcode_hash(outreach.uk_postcode) RETURNS integer
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.uk_postcode_hash_extended(outreach.uk_postcode, bigint) RETURNS bigint
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE OR REPLACE FUNCTION outreach.pseudo_id_in(cstring) RETURNS outreach.pseudo_id
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION outreach.pseudo_id_out(outreach.pseudo_id) RETURNS cstring
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION outreach.pseudo_id_recv(internal) RETURNS outreach.pseudo_id
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION outreach.pseudo_id_send(outreach.pseudo_id) RETURNS bytea
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON TYPE outreach.pseudo_id IS
  'keyed pseudonym: key version and 16 bytes of HMAC-SHA256; text form <version>-<26 base32 digits><check>';

CREATE OR REPLACE FUNCTION outreach.pseudo_id_eq(outreach.pseudo_id, outreach.pseudo_id) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.pseudo_id_ne(outreach.pseudo_id, outreach.pseudo_id) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.pseudo_id_lt(outreach.pseudo_id, outreach.pseudo_id) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.pseudo_id_le(outreach.pseudo_id, outreach.pseudo_id) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.pseudo_id_gt(outreach.pseudo_id, outreach.pseudo_id) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.pseudo_id_ge(outreach.pseudo_id, outreach.pseudo_id) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.pseudo_id_cmp(outreach.pseudo_id, outreach.pseudo_id) RETURNS integer
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.pseudo_id_hash(outreach.pseudo_id) RETURNS integer
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.pseudo_id_hash_extended(outreach.pseudo_id, bigint) RETURNS bigint
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE OR REPLACE FUNCTION outreach.pseudo_id_digest(outreach.pseudo_id) RETURNS bytea
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.pseudo_id_digest(outreach.pseudo_id) IS 'the 16 bytes of the pseudonym';
CREATE OR REPLACE FUNCTION outreach.pseudo_id_key_version(outreach.pseudo_id) RETURNS integer
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.pseudo_id_key_version(outreach.pseudo_id) IS 'version of the key that made the pseudonym';

CREATE OR REPLACE FUNCTION outreach.normalise_name(text) RETURNS text
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.normalise_name(text) IS
  'Unicode NFKD, marks removed, case-folded, letters and digits only: the form names take in pseudonyms';

-- STABLE, not IMMUTABLE: the result depends on the key file, which may be rotated.
CREATE OR REPLACE FUNCTION outreach.pseudonymise(first_name text, last_name text, date_of_birth date, postcode text,
                                      scope text DEFAULT 'linkage') RETURNS outreach.pseudo_id
  AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.pseudonymise(text, text, date, text, text) IS
  'keyed pseudonym of a person from the newest key of the scope; NULL when an identifier is missing';

CREATE OR REPLACE FUNCTION outreach.pseudo_id_matches(id outreach.pseudo_id, first_name text, last_name text,
                                           date_of_birth date, postcode text, scope text DEFAULT 'linkage')
  RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.pseudo_id_matches(outreach.pseudo_id, text, text, date, text, text) IS
  'whether the pseudonym belongs to these identifiers, checked with the key version it was made with';

-- Computing pseudonyms is a privilege: whoever can call these can test guesses of identity
-- against stored pseudonyms. Roles that need it are granted it explicitly.
REVOKE EXECUTE ON FUNCTION outreach.pseudonymise(text, text, date, text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION outreach.pseudo_id_matches(outreach.pseudo_id, text, text, date, text, text) FROM PUBLIC;
-- Expected HE Entry Year and academic years.

CREATE OR REPLACE FUNCTION outreach.expected_he_entry_year(date_of_birth date, nation text DEFAULT 'england') RETURNS integer
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.expected_he_entry_year(date, text) IS
  'year a pupil born on this date is expected to enter HE (england and wales: 1 Sep cutoff; scotland: 1 Mar; northern_ireland: 2 Jul)';

CREATE OR REPLACE FUNCTION outreach.academic_year(d date) RETURNS integer
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.academic_year(date) IS 'starting year of the English academic year (1 Sep - 31 Aug) containing the date';

CREATE OR REPLACE FUNCTION outreach.academic_year_label(start_year integer) RETURNS text
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.academic_year_label(integer) IS 'label of an academic year, e.g. 2025/26 for 2025';

CREATE OR REPLACE FUNCTION outreach.academic_year_label(d date) RETURNS text
  AS 'MODULE_PATHNAME', 'academic_year_label_of_date' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.academic_year_label(date) IS 'label of the academic year containing the date, e.g. 2025/26';
-- School and learner identifiers on participants: the UPN (Unique Pupil Number, DfE) and the
-- ULN (Unique Learner Number, Learning Records Service), which recipients match on where held.
-- The check algorithms are in C (extension/src/core/school_ids.cpp). The school's URN comes
-- from the participant's institution.

CREATE OR REPLACE FUNCTION outreach.is_valid_upn(text) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.is_valid_upn(text) IS
  'whether the text is a UPN: check letter and 12 digits (the last a letter for a temporary UPN), capitals; never raises';
CREATE OR REPLACE FUNCTION outreach.is_valid_uln(text) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.is_valid_uln(text) IS
  'whether the text is a ULN: 10 digits, not beginning with 0, modulus-11 check digit; never raises';
-- For CHECK constraints: true, or 22P02 naming what is wrong (a CHECK returning false would only
-- name the constraint).
CREATE OR REPLACE FUNCTION outreach.validate_upn(text) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.validate_upn(text) IS 'true for a valid UPN; otherwise raises 22P02 with the reason';
CREATE OR REPLACE FUNCTION outreach.validate_uln(text) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.validate_uln(text) IS 'true for a valid ULN; otherwise raises 22P02 with the reason';
CREATE OR REPLACE FUNCTION outreach.upn_check_letter(text) RETURNS text
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.upn_check_letter(text) IS 'the check letter of a UPN for the 12 characters after it';
CREATE OR REPLACE FUNCTION outreach.uln_check_digit(text) RETURNS text
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.uln_check_digit(text) IS 'the check digit of a ULN for its first nine digits';
GRANT EXECUTE ON FUNCTION outreach.is_valid_upn(text), outreach.is_valid_uln(text), outreach.validate_upn(text),
  outreach.validate_uln(text), outreach.upn_check_letter(text), outreach.uln_check_digit(text) TO PUBLIC;
-- Roles: the cluster-wide group roles that hold the extension's privileges (each controller's
-- own roles join them: see 22_controllers.sql), and invoking_role(), the role a session acts as.

CREATE OR REPLACE FUNCTION outreach.invoking_role() RETURNS regrole
  AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.invoking_role() IS
  'the role the session acts as (after SET ROLE), also inside SECURITY DEFINER functions';
-- Global roles. Roles belong to the cluster, not the database, so a second database with the
-- extension finds them already there; an existing role is adopted only when it cannot log in
-- and holds no superuser, CREATEROLE, CREATEDB, replication or BYPASSRLS attribute.
DO $roles$
DECLARE
  r record;
  wanted text[] := ARRAY[
    'outreach_processor',  -- the service itself: sees every controller's non-special data
    'outreach_security',   -- the service's security role: the breach register
    'outreach_support',    -- the service's support staff: purpose-bound look-ups, each on the record
    'outreach_bi',         -- BI tools: aggregate views only
    'outreach_daemon',     -- outreachd: only the functions it calls
    'outreach_reader',     -- privileges shared by every controller's reader role
    'outreach_writer',     -- ... writer role
    'outreach_dpo',        -- ... data-protection officer role
    'outreach_analyst'];   -- ... analyst role (aggregates of its own controller)
  name text;
BEGIN
  FOREACH name IN ARRAY wanted LOOP
    SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls
      INTO r FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) name;
    IF NOT FOUND THEN
      EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', name);
    ELSIF r.rolcanlogin OR r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication OR r.rolbypassrls THEN
      RAISE EXCEPTION 'role "%" already exists with attributes the extension will not adopt', name
        USING ERRCODE = '42710', HINT = 'Drop it or make it NOLOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS.';
    END IF;
  END LOOP;
END
$roles$;
COMMENT ON TABLE outreach.activity_type IS 'typology of outreach activities; activity.activity_type takes these codes';
GRANT SELECT ON outreach.activity_type, outreach.institution
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;
COMMENT ON TABLE outreach.institution IS 'schools (URN) and colleges or providers (UKPRN) participants attend';

GRANT SELECT (controller_id, code, name) ON outreach.controller
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi, outreach_daemon;
COMMENT ON TABLE outreach.controller IS 'member organisations: each is the data controller of its participants';
GRANT SELECT ON outreach.controller_role
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi, outreach_daemon;
COMMENT ON TABLE outreach.controller_role IS 'the group role of each controller and access level';

-- The controllers the current role may act for at a level: reader (also writer and DPO),
-- writer (also DPO), dpo, or analyst (aggregates: analysts and everyone who may read rows).
-- The processor role reads every controller. Written in C with a per-backend cache that is
-- dropped whenever controller_role or any role membership changes (extension/src/pg/
-- controller_access.cpp); within one query the array is built once.
CREATE OR REPLACE FUNCTION outreach.my_controller_ids(level text DEFAULT 'reader') RETURNS int[]
  AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION outreach.my_controller_ids(text) IS
  'ids of the controllers the current role may act for at a level (reader, writer, dpo, analyst)';
CREATE OR REPLACE FUNCTION outreach.caller_controller_ids(level text) RETURNS int[]
  AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION outreach.caller_controller_ids(text) IS
  'my_controller_ids() for the role the session acts as, also inside SECURITY DEFINER functions';
REVOKE EXECUTE ON FUNCTION outreach.caller_controller_ids(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.caller_controller_ids(text) TO outreach_dpo;

-- The row-security test itself: controller_visible(controller_id, level). While a query is
-- planned, its support function replaces the call by the planning role's answer as a plain
-- condition (controller_id = 42, or = ANY('{...}'), or false) and marks the plan as depending
-- on the role; the planner then estimates with the real controllers and carries
-- controller_id = 42 across joins on controller_id, as for a query that named its controller.
-- Every cached plan is invalidated when an answer may change (extension/src/pg/controller_access.cpp).
CREATE OR REPLACE FUNCTION outreach.controller_visible_support(internal) RETURNS internal
  AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
CREATE OR REPLACE FUNCTION outreach.controller_visible(controller_id int, level text) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED
  SUPPORT outreach.controller_visible_support;
COMMENT ON FUNCTION outreach.controller_visible(int, text) IS
  'whether the current role may act for the controller at the level (the row-security test)';
REVOKE EXECUTE ON FUNCTION outreach.controller_visible_support(internal) FROM PUBLIC;

CREATE OR REPLACE FUNCTION outreach.controller_role_changed() RETURNS trigger
  AS 'MODULE_PATHNAME' LANGUAGE C;
REVOKE EXECUTE ON FUNCTION outreach.controller_role_changed() FROM PUBLIC;
COMMENT ON FUNCTION outreach.controller_role_changed() IS
  'trigger: makes every backend drop its cached answers of my_controller_ids()';
CREATE OR REPLACE TRIGGER controller_role_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON outreach.controller_role
  FOR EACH STATEMENT EXECUTE FUNCTION outreach.controller_role_changed();

-- controller_id's default: the caller's controller when it writes for exactly one.
CREATE OR REPLACE FUNCTION outreach.default_controller_id() RETURNS int
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  ids int[] := outreach.my_controller_ids('writer');
BEGIN
  IF cardinality(ids) OPERATOR(pg_catalog.=) 1 THEN
    RETURN ids[1];
  END IF;
  RAISE EXCEPTION '%', CASE WHEN cardinality(ids) OPERATOR(pg_catalog.=) 0
                            THEN 'role "' || current_user || '" may not write for any controller'
                            ELSE 'role "' || current_user || '" writes for several controllers; give controller_id' END
    USING ERRCODE = CASE WHEN cardinality(ids) OPERATOR(pg_catalog.=) 0 THEN '42501' ELSE '23502' END;
END
$$;
GRANT EXECUTE ON FUNCTION outreach.my_controller_ids(text), outreach.default_controller_id()
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi, outreach_daemon;
REVOKE EXECUTE ON FUNCTION outreach.my_controller_ids(text), outreach.default_controller_id() FROM PUBLIC;
COMMENT ON FUNCTION outreach.default_controller_id() IS
  'the controller the current role writes for, when it is exactly one (default of controller_id)';

CREATE OR REPLACE FUNCTION outreach.create_controller(code text, name text) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, outreach, pg_temp
AS $$
DECLARE
  new_id int;
  lvl text;
  role_name text;
BEGIN
  IF code IS NULL OR code !~ '^[a-z][a-z0-9_]{1,39}$' THEN
    RAISE EXCEPTION 'invalid controller code "%"', code
      USING ERRCODE = '22023', HINT = 'Use 2 to 40 characters: a lower-case letter, then letters, digits or underscores.';
  END IF;
  IF name IS NULL OR length(btrim(name)) = 0 THEN
    RAISE EXCEPTION 'a controller needs a name' USING ERRCODE = '22023';
  END IF;
  IF EXISTS (SELECT 1 FROM outreach.controller c WHERE c.code = create_controller.code) THEN
    RAISE EXCEPTION 'controller "%" already exists', code USING ERRCODE = '23505';
  END IF;
  INSERT INTO outreach.controller (code, name) VALUES (code, btrim(name)) RETURNING controller_id INTO new_id;
  FOREACH lvl IN ARRAY ARRAY['reader', 'writer', 'dpo', 'analyst'] LOOP
    role_name := format('outreach_%s_%s', code, lvl);
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
      RAISE EXCEPTION 'role "%" already exists', role_name
        USING ERRCODE = '42710', HINT = 'Controller roles are created by create_controller and must not exist beforehand.';
    END IF;
    EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
    EXECUTE format('GRANT %I TO %I', 'outreach_' || lvl, role_name);
    INSERT INTO outreach.controller_role (controller_id, level, role) VALUES (new_id, lvl, role_name::regrole);
  END LOOP;
  EXECUTE format('GRANT %I TO %I', format('outreach_%s_reader', code), format('outreach_%s_writer', code));
  EXECUTE format('GRANT %I TO %I', format('outreach_%s_writer', code), format('outreach_%s_dpo', code));
  RETURN new_id;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.create_controller(text, text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.create_controller(text, text) IS
  'creates a member (data controller) and its reader, writer, dpo and analyst group roles; returns its id';

-- Special-category columns are protected by column privileges, which belong to a role, not to
-- a row. A login that is DPO for one controller and reader or writer for another would read the
-- second controller's special-category data too, so such a mix is refused: use two logins.
CREATE OR REPLACE FUNCTION outreach.grant_controller_access(member regrole, controller_code text, level text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, outreach, pg_temp
AS $$
DECLARE
  target_role regrole;
  m record;
  conflict text;
  conflict_role regrole;
BEGIN
  IF level IS NULL OR level NOT IN ('reader', 'writer', 'dpo', 'analyst') THEN
    RAISE EXCEPTION 'unknown access level "%"', level
      USING ERRCODE = '22023', HINT = 'Levels are reader, writer, dpo and analyst.';
  END IF;
  SELECT cr.role INTO target_role
  FROM outreach.controller c JOIN outreach.controller_role cr USING (controller_id)
  WHERE c.code = controller_code AND cr.level = grant_controller_access.level;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown controller "%"', controller_code USING ERRCODE = '42704';
  END IF;
  SELECT rolsuper, rolbypassrls INTO m FROM pg_roles WHERE oid = member::oid;
  IF m.rolsuper OR m.rolbypassrls THEN
    RAISE EXCEPTION 'role "%" is a superuser or bypasses row-level security; member access needs an ordinary role', member
      USING ERRCODE = '42501';
  END IF;
  -- Row access and DPO status per controller, as they would be after this grant, for the member
  -- and for every role that is a member of it (directly or through others): they gain the
  -- grant too, so granting DPO to a group must not make a reader of another controller a DPO.
  -- (Superusers are left out: they bypass row security and privileges anyway.)
  WITH RECURSIVE heirs(heir) AS (
    SELECT member::oid
    UNION
    SELECT am.member FROM pg_auth_members am JOIN heirs h ON am.roleid = h.heir
  ), access AS (
    SELECT h.heir, c.code,
           coalesce(bool_or(pg_has_role(h.heir, cr.role::oid, 'MEMBER')) FILTER (WHERE cr.level <> 'analyst'), false)
             OR (c.code = controller_code AND grant_controller_access.level <> 'analyst') AS reads_rows,
           coalesce(bool_or(pg_has_role(h.heir, cr.role::oid, 'MEMBER')) FILTER (WHERE cr.level = 'dpo'), false)
             OR (c.code = controller_code AND grant_controller_access.level = 'dpo') AS is_dpo
    FROM heirs h JOIN pg_roles r ON r.oid = h.heir AND NOT r.rolsuper
    CROSS JOIN outreach.controller c JOIN outreach.controller_role cr USING (controller_id)
    GROUP BY h.heir, c.code
  )
  SELECT heir::regrole, string_agg(code, ', ' ORDER BY code) FILTER (WHERE reads_rows AND NOT is_dpo)
    INTO conflict_role, conflict
  FROM access
  GROUP BY heir
  HAVING bool_or(is_dpo) AND (bool_or(reads_rows AND NOT is_dpo) OR pg_has_role(heir, 'outreach_processor', 'MEMBER'))
  ORDER BY heir = member::oid DESC, heir::regrole::text
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'role "%"% would be DPO for one controller and read others'' rows without being their DPO (%)',
                    conflict_role,
                    CASE WHEN conflict_role = member THEN '' ELSE format(' (a member of "%s")', member) END,
                    coalesce(conflict, 'as the processor')
      USING ERRCODE = '42501',
            HINT = 'Column privileges on special-category data are per role: use a separate login for DPO work.';
  END IF;
  EXECUTE format('GRANT %s TO %s', target_role, member);  -- regrole's text is already quoted
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.grant_controller_access(regrole, text, text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.grant_controller_access(regrole, text, text) IS
  'lets a role act for a controller at a level: reader, writer, dpo or analyst';

CREATE OR REPLACE FUNCTION outreach.revoke_controller_access(member regrole, controller_code text, level text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, outreach, pg_temp
AS $$
DECLARE
  target_role regrole;
BEGIN
  SELECT cr.role INTO target_role
  FROM outreach.controller c JOIN outreach.controller_role cr USING (controller_id)
  WHERE c.code = controller_code AND cr.level = revoke_controller_access.level;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown controller "%" or level "%"', controller_code, level USING ERRCODE = '42704';
  END IF;
  EXECUTE format('REVOKE %s FROM %s', target_role, member);
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.revoke_controller_access(regrole, text, text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.revoke_controller_access(regrole, text, text) IS 'undoes grant_controller_access';
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
COMMENT ON TABLE outreach.participant IS 'people who take part in outreach, one row per controller that registered them';
COMMENT ON COLUMN outreach.participant.upn IS 'Unique Pupil Number (DfE), where the member holds it';
COMMENT ON COLUMN outreach.participant.uln IS 'Unique Learner Number (Learning Records Service), where the member holds it';
-- Every date and time a member writes is finite and within 1900-2100: one member's
-- 'infinity' once failed retention_sweep_prepare for every member (22008; docs/decisions.md).
COMMENT ON CONSTRAINT participant_withdrawn_at_range ON outreach.participant IS 'finite, in 1900-2100';
COMMENT ON CONSTRAINT participant_restricted_at_range ON outreach.participant IS 'finite, in 1900-2100';
COMMENT ON COLUMN outreach.participant.linkage_id IS 'outreach.pseudonymise() of name, date of birth and postcode; NULL while any is missing';
GRANT INSERT (controller_id, activity_type, name, starts_on, ends_on, delivered_by),
      UPDATE (activity_type, name, starts_on, ends_on, delivered_by), DELETE
  ON outreach.activity TO outreach_writer;
COMMENT ON TABLE outreach.activity IS 'outreach activities a controller runs';
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
COMMENT ON TABLE outreach.attendance IS 'who attended which activity when';

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

-- linkage_id follows the identifiers; updated_at follows any change. SECURITY DEFINER because
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
  IF TG_OP = 'UPDATE' THEN
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.participant_derive() FROM PUBLIC;
COMMENT ON FUNCTION outreach.participant_derive() IS 'trigger: keeps linkage_id and updated_at current';

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
-- Views members read: their participants without the special-category columns, and what other
-- members' records of the same people (by linkage pseudonym) show about shared engagement.

-- Participants without the special-category columns, for readers. New columns go at the end,
-- so existing queries keep working.
CREATE OR REPLACE VIEW outreach.participant_core WITH (security_invoker = true) AS
SELECT controller_id, participant_id, external_ref, first_name, last_name, date_of_birth, postcode,
       institution_id, linkage_id, he_entry_year_override, he_entry_year_override_reason,
       withdrawn_at, restricted_at, created_at, updated_at, upn, uln
FROM outreach.participant;
COMMENT ON VIEW outreach.participant_core IS 'participants without special-category columns (for readers)';
GRANT SELECT ON outreach.participant_core TO outreach_reader, outreach_processor;
-- Nobody but the extension's owner reads or writes it; row security with no policy as a second lock.
REVOKE ALL ON outreach.shareable_participant FROM PUBLIC;
COMMENT ON TABLE outreach.shareable_participant IS
  'participants whose engagement other members may see: linkage known, not withdrawn or restricted, at least one attendance (kept by triggers on participant; read through shared_engagement only)';

-- Kept from the participant row itself (last_attended_on follows attendance through its own
-- trigger), so a write never touches another member's rows. A new participant has no
-- attendance yet, so only updates can make one shareable.
CREATE OR REPLACE FUNCTION outreach.participant_shareable() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  DELETE FROM outreach.shareable_participant
  WHERE controller_id = OLD.controller_id AND participant_id = OLD.participant_id;
  IF NEW.linkage_id IS NOT NULL AND NEW.withdrawn_at IS NULL AND NEW.restricted_at IS NULL
     AND NEW.last_attended_on IS NOT NULL THEN
    INSERT INTO outreach.shareable_participant (controller_id, participant_id, linkage_id)
    VALUES (NEW.controller_id, NEW.participant_id, NEW.linkage_id);
  END IF;
  RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.participant_shareable() FROM PUBLIC;
COMMENT ON FUNCTION outreach.participant_shareable() IS 'trigger: keeps outreach.shareable_participant current';
-- The WHEN clause keeps the cost off every other write (bulk loads, retention marks).
CREATE OR REPLACE TRIGGER participant_shareable_update AFTER UPDATE ON outreach.participant
  FOR EACH ROW WHEN ((OLD.linkage_id IS NULL) <> (NEW.linkage_id IS NULL)
                     OR OLD.linkage_id OPERATOR(outreach.<>) NEW.linkage_id
                     OR (OLD.withdrawn_at IS NULL) <> (NEW.withdrawn_at IS NULL)
                     OR (OLD.restricted_at IS NULL) <> (NEW.restricted_at IS NULL)
                     OR (OLD.last_attended_on IS NULL) <> (NEW.last_attended_on IS NULL))
  EXECUTE FUNCTION outreach.participant_shareable();

-- controller_visible() becomes controller_id = 42 while the query is planned (22_controllers.sql),
-- so a member's query plans, and runs in parallel, as the same query naming its controller.
CREATE OR REPLACE VIEW outreach.shared_engagement WITH (security_barrier = true) AS
SELECT mine.controller_id,
       mine.participant_id,
       other.controller_id AS other_controller_id,
       other_c.code AS other_controller_code,
       other_c.name AS other_controller_name,
       a.activity_type,
       att.attended_on
FROM outreach.participant mine
JOIN outreach.shareable_participant other
  ON other.linkage_id OPERATOR(outreach.=) mine.linkage_id
 AND other.controller_id OPERATOR(pg_catalog.<>) mine.controller_id
JOIN outreach.attendance att
  ON att.controller_id OPERATOR(pg_catalog.=) other.controller_id
 AND att.participant_id OPERATOR(pg_catalog.=) other.participant_id
JOIN outreach.activity a
  ON a.controller_id OPERATOR(pg_catalog.=) att.controller_id
 AND a.activity_id OPERATOR(pg_catalog.=) att.activity_id
JOIN outreach.controller other_c ON other_c.controller_id OPERATOR(pg_catalog.=) other.controller_id
WHERE outreach.controller_visible(mine.controller_id, 'reader')
  AND mine.linkage_id IS NOT NULL
  AND mine.withdrawn_at IS NULL AND mine.restricted_at IS NULL
OFFSET 0;
COMMENT ON VIEW outreach.shared_engagement IS
  'for own participants: other members'' activities the same person attended (member, activity type, date)';
GRANT SELECT ON outreach.shared_engagement TO outreach_reader, outreach_processor;
COMMENT ON TABLE outreach.audit_log IS 'who changed personal data or read special-category data, when, which record and columns';
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
-- Special-category data (UK GDPR Art. 9) and inference: nothing a role observes of its own
-- statements may depend on a value it may not read (issue 12, class 3).
--
-- Writers may UPDATE sex, gender_identity, ethnicity, disability and religion but not SELECT
-- them. Were a trigger to act only when such a value changed (log it, queue a rectification),
-- a writer could write a guess, read pg_stat_get_xact_tuples_inserted() (or EXPLAIN ANALYZE's
-- trigger calls) and roll back, learning whether the guess was the stored value with nothing
-- persisted. So every trigger decides on special-category columns by whether the statement
-- *wrote* them (its SET list, as UPDATE OF does), never by whether they changed:
--   * audit_log records, for every row an UPDATE touched, the special-category columns in its
--     SET list (written), next to the other columns that changed (which the writer may read);
--   * the Art. 19 follow-up is queued whenever sex is written to a participant already sent to
--     a recipient whose layout has sex (the recipient is told "sex may have changed").
-- Row counts, errors (CHECKs test only the new value) and RETURNING (refused) do not depend on
-- the stored value; WAL volume does, through PostgreSQL's prefix compression of same-page
-- updates, which only wal_level = logical turns off (docs/decisions.md).

-----------------------------------------------------------------------------------------------
-- Which special-category columns a statement wrote. A statement trigger with a column list
-- (AFTER UPDATE OF religion) fires when the column is in the statement's SET list, whether or
-- not any value changed; it cannot have transition tables, so each one notes its column in a
-- transaction-local setting which audit_update (fired after them: statement triggers fire in
-- name order, and no code of the caller's runs between them) reads and clears. The first one
-- (audit_spec_0) clears whatever the caller may have put there.
-----------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION outreach.audit_note_written() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_NARGS OPERATOR(pg_catalog.=) 0 THEN
    PERFORM pg_catalog.set_config('outreach_audit.written', '', true);
  ELSE
    PERFORM pg_catalog.set_config('outreach_audit.written',
      pg_catalog.concat_ws(',', NULLIF(pg_catalog.current_setting('outreach_audit.written', true), ''), TG_ARGV[0]),
      true);
  END IF;
  RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.audit_note_written() FROM PUBLIC;
COMMENT ON FUNCTION outreach.audit_note_written() IS
  'trigger: notes a special-category column the UPDATE statement wrote (no argument: clears the note), for audit_update';

CREATE OR REPLACE TRIGGER audit_spec_0 AFTER UPDATE ON outreach.participant
  FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_note_written();
CREATE OR REPLACE TRIGGER audit_spec_disability AFTER UPDATE OF disability ON outreach.participant
  FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_note_written('disability');
CREATE OR REPLACE TRIGGER audit_spec_ethnicity AFTER UPDATE OF ethnicity ON outreach.participant
  FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_note_written('ethnicity');
CREATE OR REPLACE TRIGGER audit_spec_gender_identity AFTER UPDATE OF gender_identity ON outreach.participant
  FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_note_written('gender_identity');
CREATE OR REPLACE TRIGGER audit_spec_religion AFTER UPDATE OF religion ON outreach.participant
  FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_note_written('religion');
CREATE OR REPLACE TRIGGER audit_spec_sex AFTER UPDATE OF sex ON outreach.participant
  FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_note_written('sex');
COMMENT ON TABLE outreach.delivery_partner IS
  'members that agreed to be named as delivered_by of another member''s activities';
REVOKE ALL ON outreach.delivery_partner FROM PUBLIC;
GRANT SELECT ON outreach.delivery_partner TO outreach_reader, outreach_processor;

CREATE OR REPLACE FUNCTION outreach.agree_delivery_partner(partner_id int, controller_code text, agreed boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cid int;
BEGIN
  PERFORM outreach.require_dpo(partner_id);
  SELECT c.controller_id INTO cid FROM outreach.controller c WHERE c.code OPERATOR(pg_catalog.=) controller_code;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown controller "%"', controller_code USING ERRCODE = '42704';
  END IF;
  IF cid OPERATOR(pg_catalog.=) partner_id THEN
    RAISE EXCEPTION 'a member needs no agreement to name itself' USING ERRCODE = '22023';
  END IF;
  IF agreed THEN
    INSERT INTO outreach.delivery_partner (partner_id, controller_id, agreed_by)
    VALUES (partner_id, cid, outreach.invoking_role()::text)
    ON CONFLICT ON CONSTRAINT delivery_partner_pkey DO NOTHING;
  ELSE
    DELETE FROM outreach.delivery_partner d
    WHERE d.partner_id OPERATOR(pg_catalog.=) agree_delivery_partner.partner_id
      AND d.controller_id OPERATOR(pg_catalog.=) cid;
  END IF;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.agree_delivery_partner(int, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.agree_delivery_partner(int, text, boolean) TO outreach_dpo;
COMMENT ON FUNCTION outreach.agree_delivery_partner(int, text, boolean) IS
  'the DPO of partner_id agrees (or, with false, no longer agrees) to be named delivered_by by another member';

CREATE OR REPLACE FUNCTION outreach.activity_check_partner() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- (Runs as the caller: it sees only agreements its member is part of.) Another member's row is
  -- row security's to refuse, with its own error: whether that member has an agreement must not
  -- show in which error comes back.
  IF NOT outreach.controller_visible(NEW.controller_id, 'writer') THEN
    RETURN NEW;
  END IF;
  IF NEW.delivered_by IS NOT NULL AND NEW.delivered_by OPERATOR(pg_catalog.<>) NEW.controller_id
     AND NOT EXISTS (SELECT 1 FROM outreach.delivery_partner d
                     WHERE d.partner_id OPERATOR(pg_catalog.=) NEW.delivered_by
                       AND d.controller_id OPERATOR(pg_catalog.=) NEW.controller_id) THEN
    RAISE EXCEPTION 'member % has not agreed to be named as delivered_by of this member''s activities', NEW.delivered_by
      USING ERRCODE = '42501', HINT = 'Its DPO agrees with outreach.agree_delivery_partner().';
  END IF;
  RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.activity_check_partner() FROM PUBLIC;
COMMENT ON FUNCTION outreach.activity_check_partner() IS
  'trigger: delivered_by names only the member itself or a member that agreed (delivery_partner)';
CREATE OR REPLACE TRIGGER activity_check_partner BEFORE INSERT OR UPDATE OF delivered_by ON outreach.activity
  FOR EACH ROW EXECUTE FUNCTION outreach.activity_check_partner();

-- The rules live in C (extension/src/core/retention.cpp); the policy comes in as arguments.
CREATE OR REPLACE FUNCTION outreach.retention_decide(
    has_first_name boolean, has_last_name boolean, has_postcode boolean, date_of_birth date,
    created_on date, last_attended_on date, withdrawn_on date, entry_year_override int,
    long_track_years int, short_track_years int, attendance_window_years int, nation text, as_of date)
  RETURNS outreach.retention_decision
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION outreach.retention_decide(boolean, boolean, boolean, date, date, date, date, int, int, int, int, text, date) IS
  'retention track, Expected HE Entry Year, due date and reasons for a participant''s facts under a policy';

CREATE OR REPLACE FUNCTION outreach.retention_due_on(
    has_first_name boolean, has_last_name boolean, has_postcode boolean, date_of_birth date,
    created_on date, last_attended_on date, withdrawn_on date, entry_year_override int,
    long_track_years int, short_track_years int, attendance_window_years int, nation text, as_of date)
  RETURNS date
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION outreach.retention_due_on(boolean, boolean, boolean, date, date, date, date, int, int, int, int, text, date) IS
  'the date a participant falls due for deletion under a policy (retention_decide''s due_on, computed faster)';
COMMENT ON TABLE outreach.retention_policy IS 'each controller''s retention periods and deletion cycle';

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
COMMENT ON TABLE outreach.deletion_notice IS
  'per controller: the records a cycle''s sweep marked, or the people who withdrew on a day, and the confirmation deadline';
COMMENT ON TABLE outreach.retention_run IS 'history and progress of retention sweeps and deletion runs';
COMMENT ON TABLE outreach.retention_queue IS 'participants a sweep found due and has not marked yet';
COMMENT ON TABLE outreach.tombstone IS 'deleted participants: who confirmed, why and when; no personal data';
REVOKE ALL ON outreach.deletion_notice, outreach.retention_run, outreach.retention_queue, outreach.tombstone FROM PUBLIC;
GRANT SELECT ON outreach.deletion_notice, outreach.tombstone TO outreach_dpo;
-- A run's counts are every member's together (candidates, rows marked or deleted): DPOs read
-- their own member's figures in deletion_notice and tombstone, not the service's.
GRANT SELECT ON outreach.retention_run TO outreach_processor, outreach_daemon;
-- Sweeps: find the participants that are due (prepare), then mark them in small batches, each
-- its own transaction, so a sweep interrupted at any point leaves every row swept or not and
-- the next sweep finishes the job. Concurrent sweeps claim different work (SKIP LOCKED) and
-- take notices in controller order, so they neither mark twice nor deadlock.


-- A member's impossible row never breaks a statement that serves every member: dates members
-- write are bounded (the *_range constraints of outreach.participant, activity and attendance),
-- and rows outside those bounds (an upgraded database may hold some) are skipped and reported.

-- What keeps a participant's retention from being computed: NULL when nothing does, else the
-- column and why. Columns one by one (not the row): readers may not read every column.
CREATE OR REPLACE FUNCTION outreach.retention_facts_problem(date_of_birth date, created_at timestamptz,
                                                 last_attended_on date, withdrawn_at timestamptz)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
  WHEN NOT (date_of_birth BETWEEN '1900-01-01' AND '2100-12-31') THEN 'date_of_birth is outside 1900-2100'
  WHEN created_at IS NULL OR NOT (created_at >= '1900-01-01 00:00:00+00' AND created_at < '2101-01-01 00:00:00+00')
    THEN 'created_at is outside 1900-2100'
  WHEN NOT (last_attended_on BETWEEN '1900-01-01' AND '2100-12-31') THEN 'an attendance date is outside 1900-2100'
  WHEN NOT (withdrawn_at >= '1900-01-01 00:00:00+00' AND withdrawn_at < '2101-01-01 00:00:00+00')
    THEN 'withdrawn_at is outside 1900-2100'
END;
COMMENT ON FUNCTION outreach.retention_facts_problem(date, timestamptz, date, timestamptz) IS
  'why a participant''s retention cannot be computed (a date outside 1900-2100), or NULL';

-- retention_status's decision, from the columns a reader may read; NULL for impossible facts.
CREATE OR REPLACE FUNCTION outreach.participant_decision(
    first_name text, last_name text, has_postcode boolean, date_of_birth date, created_at timestamptz,
    last_attended_on date, withdrawn_at timestamptz, entry_year_override int, pol outreach.retention_policy,
    as_of date)
RETURNS outreach.retention_decision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN outreach.retention_facts_problem(date_of_birth, created_at, last_attended_on, withdrawn_at) IS NULL
  THEN outreach.retention_decide(
    coalesce(outreach.normalise_name(first_name), '') <> '', coalesce(outreach.normalise_name(last_name), '') <> '',
    has_postcode, date_of_birth, (created_at AT TIME ZONE 'UTC')::date, last_attended_on,
    (withdrawn_at AT TIME ZONE 'UTC')::date, entry_year_override,
    pol.long_track_years, pol.short_track_years, pol.attendance_window_years, pol.nation, as_of) END;
COMMENT ON FUNCTION outreach.participant_decision(text, text, boolean, date, timestamptz, date, timestamptz, int,
                                                  outreach.retention_policy, date) IS
  'retention_decide for a participant''s columns under a policy; NULL when a date is impossible';
GRANT EXECUTE ON FUNCTION outreach.participant_decision(text, text, boolean, date, timestamptz, date, timestamptz, int,
                                                         outreach.retention_policy, date) TO PUBLIC;
COMMENT ON TABLE outreach.retention_skipped IS
  'participants the last sweep skipped because a date is impossible, and why (each member sees its own)';
REVOKE ALL ON outreach.retention_skipped FROM PUBLIC;
GRANT SELECT ON outreach.retention_skipped TO outreach_reader, outreach_processor;

-- The service's clock: a role that is not a superuser may name a date at most
-- outreach.future_as_of_days ahead of today (default 1), so the daemon's credential alone cannot
-- mark or confirm years of records early.
CREATE OR REPLACE FUNCTION outreach.check_service_date(value timestamptz, what text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  horizon int := pg_catalog.current_setting('outreach.future_as_of_days')::int;
BEGIN
  IF value IS NULL OR NOT isfinite(value) THEN
    RAISE EXCEPTION '% must be a finite date', what USING ERRCODE = '22023';
  END IF;
  IF value > now() + make_interval(days => horizon + 1)
     AND NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = session_user) THEN
    RAISE EXCEPTION '% % is more than % days ahead of today', what, value::date, horizon
      USING ERRCODE = '22023',
            HINT = 'Only a superuser, or a role a superuser gave a larger outreach.future_as_of_days, may run the service ahead of time.';
  END IF;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.check_service_date(timestamptz, text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.check_service_date(timestamptz, text) IS
  'refuses infinite dates, and dates beyond outreach.future_as_of_days from a role that is not a superuser';

-- A participant's due date under its controller's policy; NULL (never an error) when its facts are impossible.
CREATE OR REPLACE FUNCTION outreach.participant_due_on(p outreach.participant, pol outreach.retention_policy, as_of date)
RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN outreach.retention_facts_problem(p.date_of_birth, p.created_at, p.last_attended_on, p.withdrawn_at) IS NULL
  THEN outreach.retention_due_on(
    coalesce(outreach.normalise_name(p.first_name), '') <> '',
    coalesce(outreach.normalise_name(p.last_name), '') <> '',
    p.postcode IS NOT NULL, p.date_of_birth, (p.created_at AT TIME ZONE 'UTC')::date, p.last_attended_on,
    (p.withdrawn_at AT TIME ZONE 'UTC')::date, p.he_entry_year_override,
    pol.long_track_years, pol.short_track_years, pol.attendance_window_years, pol.nation, as_of) END;
COMMENT ON FUNCTION outreach.participant_due_on(outreach.participant, outreach.retention_policy, date) IS
  'the date a participant falls due under its controller''s policy';

CREATE OR REPLACE FUNCTION outreach.participant_retention(p outreach.participant, pol outreach.retention_policy, as_of date)
RETURNS outreach.retention_decision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN outreach.retention_facts_problem(p.date_of_birth, p.created_at, p.last_attended_on, p.withdrawn_at) IS NULL
  THEN outreach.retention_decide(
    coalesce(outreach.normalise_name(p.first_name), '') <> '',
    coalesce(outreach.normalise_name(p.last_name), '') <> '',
    p.postcode IS NOT NULL, p.date_of_birth, (p.created_at AT TIME ZONE 'UTC')::date, p.last_attended_on,
    (p.withdrawn_at AT TIME ZONE 'UTC')::date, p.he_entry_year_override,
    pol.long_track_years, pol.short_track_years, pol.attendance_window_years, pol.nation, as_of) END;
GRANT EXECUTE ON FUNCTION
  outreach.retention_decide(boolean, boolean, boolean, date, date, date, date, int, int, int, int, text, date),
  outreach.retention_due_on(boolean, boolean, boolean, date, date, date, date, int, int, int, int, text, date),
  outreach.participant_due_on(outreach.participant, outreach.retention_policy, date),
  outreach.participant_retention(outreach.participant, outreach.retention_policy, date)
  TO PUBLIC;
COMMENT ON FUNCTION outreach.participant_retention(outreach.participant, outreach.retention_policy, date) IS
  'track, entry year, due date and reasons of a participant under its controller''s policy';

-- Queues every participant due at as_of and reports those whose facts are impossible. No NOTIFY:
-- a payload would count every member's records.
CREATE OR REPLACE FUNCTION outreach.retention_sweep_prepare(as_of date DEFAULT current_date) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  run bigint;
  queued bigint;
BEGIN
  PERFORM outreach.check_service_date(as_of, 'as_of');  -- (also refuses NULL and infinity)
  INSERT INTO outreach.retention_run (kind, as_of) VALUES ('sweep', as_of) RETURNING run_id INTO run;
  -- Participants with an impossible date are the member's to correct: reported, not judged.
  DELETE FROM outreach.retention_skipped;
  INSERT INTO outreach.retention_skipped (controller_id, participant_id, problem, run_id)
  SELECT p.controller_id, p.participant_id, x.problem, run
  FROM outreach.participant p,
       LATERAL (SELECT outreach.retention_facts_problem(p.date_of_birth, p.created_at, p.last_attended_on,
                                                        p.withdrawn_at) AS problem) x
  WHERE p.retention_status = 'retained' AND x.problem IS NOT NULL;
  INSERT INTO outreach.retention_queue (controller_id, participant_id, as_of)
  SELECT p.controller_id, p.participant_id, retention_sweep_prepare.as_of
  FROM outreach.participant p JOIN outreach.retention_policy pol ON pol.controller_id = p.controller_id
  WHERE p.retention_status = 'retained' AND p.restricted_at IS NULL   -- a restricted record is only stored
    AND (p.retention_hold_until IS NULL OR p.retention_hold_until <= retention_sweep_prepare.as_of)
    AND outreach.participant_due_on(p, pol, retention_sweep_prepare.as_of) <= retention_sweep_prepare.as_of
  ON CONFLICT (controller_id, participant_id) DO UPDATE SET as_of = EXCLUDED.as_of;
  SELECT count(*) INTO queued FROM outreach.retention_queue;
  UPDATE outreach.retention_run SET candidates = queued WHERE run_id = run;
  RETURN run;
END
$$;
COMMENT ON FUNCTION outreach.retention_sweep_prepare(date) IS
  'sweep step 1: queues every participant due at as_of; returns the run id';

CREATE OR REPLACE FUNCTION outreach.retention_sweep_batch(run_id bigint, batch_size int DEFAULT 10000) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  claimed int;
  marked int;
  cids int[];
  pids bigint[];
  as_ofs date[];
  run_as_of date;
BEGIN
  IF batch_size IS NULL OR batch_size < 1 OR batch_size > 1000000 THEN
    RAISE EXCEPTION 'batch_size must be between 1 and 1000000' USING ERRCODE = '22023';
  END IF;
  -- The queue may hold rows an interrupted sweep as of a later date left: this run marks
  -- nothing as of a date after its own.
  SELECT r.as_of INTO run_as_of FROM outreach.retention_run r WHERE r.run_id = retention_sweep_batch.run_id;
  WITH claim AS (
    SELECT q.controller_id, q.participant_id FROM outreach.retention_queue q
    ORDER BY q.controller_id, q.participant_id LIMIT batch_size FOR UPDATE SKIP LOCKED
  ), taken AS (
    DELETE FROM outreach.retention_queue q USING claim c
    WHERE q.controller_id = c.controller_id AND q.participant_id = c.participant_id
    RETURNING q.controller_id, q.participant_id, q.as_of
  )
  SELECT array_agg(controller_id), array_agg(participant_id), array_agg(least(as_of, run_as_of)), count(*)
    INTO cids, pids, as_ofs, claimed
  FROM taken;
  IF claimed = 0 THEN
    RETURN 0;
  END IF;

  -- Decide again from the current facts (they may have changed since the queue was built).
  -- The cycle depends only on the controller and the date: computed once per pair, not per row
  -- (MATERIALIZED: pulled up into the query, the call would run again for every row).
  WITH batch AS (
    SELECT * FROM unnest(cids, pids, as_ofs) AS b(controller_id, participant_id, as_of)
  ), cycles AS MATERIALIZED (
    SELECT k.controller_id, k.as_of, outreach.retention_cycle(k.as_of, k.controller_id) AS cycle_year
    FROM (SELECT DISTINCT controller_id, as_of FROM batch) AS k
  ), due AS (
    SELECT p.controller_id, p.participant_id, b.as_of, d.due_on, d.reasons, c.cycle_year
    FROM batch b
    JOIN cycles c ON c.controller_id = b.controller_id AND c.as_of = b.as_of
    JOIN outreach.participant p ON p.controller_id = b.controller_id AND p.participant_id = b.participant_id
    JOIN outreach.retention_policy pol ON pol.controller_id = p.controller_id
    CROSS JOIN LATERAL outreach.participant_retention(p, pol, b.as_of) d
    WHERE p.retention_status = 'retained' AND p.restricted_at IS NULL
      AND (p.retention_hold_until IS NULL OR p.retention_hold_until <= b.as_of)
      AND d.due_on <= b.as_of
    FOR UPDATE OF p SKIP LOCKED
  ), notices AS (
    INSERT INTO outreach.deletion_notice AS n (controller_id, cycle_year, confirm_by, records_marked)
    SELECT controller_id, cycle_year, outreach.retention_confirm_by(cycle_year, controller_id), count(*)
    FROM due GROUP BY controller_id, cycle_year ORDER BY controller_id, cycle_year
    ON CONFLICT (controller_id, cycle_year) WHERE kind = 'cycle'
      DO UPDATE SET records_marked = n.records_marked + EXCLUDED.records_marked, updated_at = now()
    RETURNING n.controller_id, n.cycle_year, n.notice_id
  )
  UPDATE outreach.participant p
  SET retention_status = 'ready_for_deletion', retention_reasons = due.reasons, retention_due_on = due.due_on,
      retention_marked_on = due.as_of, retention_notice_id = notices.notice_id
  FROM due JOIN notices ON notices.controller_id = due.controller_id AND notices.cycle_year = due.cycle_year
  WHERE p.controller_id = due.controller_id AND p.participant_id = due.participant_id;
  GET DIAGNOSTICS marked = ROW_COUNT;

  UPDATE outreach.retention_run r
  SET batches = r.batches + 1, rows_marked = r.rows_marked + marked, rows_skipped = r.rows_skipped + (claimed - marked)
  WHERE r.run_id = retention_sweep_batch.run_id;
  IF marked > 0 THEN
    PERFORM outreach.notify_service('records_marked');
  END IF;
  RETURN claimed;
END
$$;
COMMENT ON FUNCTION outreach.retention_sweep_batch(bigint, int) IS
  'sweep step 2: marks one batch of queued participants ready for deletion; returns how many it took from the queue (0: done)';

-- "error" is qualified as the parameter: unqualified, the CASE would read the table's column.
CREATE OR REPLACE FUNCTION outreach.retention_run_finish(run_id bigint, error text DEFAULT NULL) RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  UPDATE outreach.retention_run r
  SET finished_at = clock_timestamp(),
      status = CASE WHEN retention_run_finish.error IS NULL THEN 'finished' ELSE 'failed' END,
      error = retention_run_finish.error
  WHERE r.run_id = retention_run_finish.run_id AND r.status = 'running'
$$;
COMMENT ON FUNCTION outreach.retention_run_finish(bigint, text) IS 'records the end of a sweep or deletion run';

-- The whole sweep, committing after every batch: CALL outreach.retention_sweep();
-- (A procedure that commits cannot pin search_path; it calls only qualified names and
-- qualified operators.)
CREATE OR REPLACE PROCEDURE outreach.retention_sweep(as_of date DEFAULT current_date, batch_size int DEFAULT 10000)
LANGUAGE plpgsql
AS $$
DECLARE
  run bigint;
  taken int;
BEGIN
  run := outreach.retention_sweep_prepare(as_of);
  COMMIT;
  LOOP
    taken := outreach.retention_sweep_batch(run, batch_size);
    COMMIT;
    EXIT WHEN taken OPERATOR(pg_catalog.=) 0;
  END LOOP;
  PERFORM outreach.retention_run_finish(run);
  COMMIT;
END
$$;
COMMENT ON PROCEDURE outreach.retention_sweep(date, int) IS
  'marks every participant due at as_of ready for deletion, in batches of batch_size, committing after each';

REVOKE EXECUTE ON FUNCTION outreach.retention_sweep_prepare(date), outreach.retention_sweep_batch(bigint, int),
  outreach.retention_run_finish(bigint, text) FROM PUBLIC;
REVOKE EXECUTE ON PROCEDURE outreach.retention_sweep(date, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.retention_sweep_prepare(date), outreach.retention_sweep_batch(bigint, int),
  outreach.retention_run_finish(bigint, text) TO outreach_daemon;
GRANT EXECUTE ON PROCEDURE outreach.retention_sweep(date, int) TO outreach_daemon;
-- Confirmation by the controller's DPO, un-marking, deletion with tombstones, erasure.
-- These run with the extension owner's rights so they can change retention columns members
-- cannot write; each checks its caller with caller_controller_ids() (role membership only).

CREATE OR REPLACE FUNCTION outreach.require_dpo(controller_id int) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF controller_id IS NULL OR NOT controller_id = ANY (outreach.caller_controller_ids('dpo')) THEN
    RAISE EXCEPTION 'permission denied: role "%" is not the data-protection officer of controller %',
                    outreach.invoking_role(), coalesce(controller_id::text, 'NULL')
      USING ERRCODE = '42501';
  END IF;
END
$$;
COMMENT ON FUNCTION outreach.require_dpo(int) IS 'raises 42501 unless the calling role is DPO of the controller';

-- Confirmation: of a whole notice, or of listed participants. Each record confirmed is audited,
-- and the daemon is woken through notify_service() to delete them.
CREATE OR REPLACE FUNCTION outreach.confirm_deletion(notice_id bigint) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cid int;
  n int;
BEGIN
  SELECT d.controller_id INTO cid FROM outreach.deletion_notice d WHERE d.notice_id = confirm_deletion.notice_id;
  -- An unknown notice and another controller's notice give the same answer: no probing.
  IF NOT FOUND OR NOT cid = ANY (outreach.caller_controller_ids('dpo')) THEN
    RAISE EXCEPTION 'permission denied: no deletion notice % of a controller whose DPO you are', notice_id
      USING ERRCODE = '42501';
  END IF;
  WITH confirmed AS (
    UPDATE outreach.participant p
    SET retention_status = 'deletion_confirmed', deletion_confirmed_at = now(),
        deletion_confirmed_by = outreach.invoking_role()::text
    WHERE p.controller_id = cid AND p.retention_notice_id = confirm_deletion.notice_id
      AND p.retention_status = 'ready_for_deletion'
    RETURNING p.controller_id, p.participant_id
  )
  INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record)
  SELECT c.controller_id, session_user, outreach.invoking_role()::text, 'confirm_deletion', 'participant',
         jsonb_build_object('participant_id', c.participant_id, 'notice_id', confirm_deletion.notice_id)
  FROM confirmed c;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n = 0 THEN
    RAISE EXCEPTION 'deletion notice % has no records waiting for confirmation', notice_id
      USING ERRCODE = '55000', HINT = 'It was confirmed already, or its records were un-marked or deleted.';
  END IF;
  PERFORM outreach.notify_service('deletion_confirmed');
  RETURN n;
END
$$;
COMMENT ON FUNCTION outreach.confirm_deletion(bigint) IS
  'the DPO confirms deletion of every record of a notice still waiting; returns how many';

CREATE OR REPLACE FUNCTION outreach.confirm_deletion(controller_id int, participant_ids bigint[]) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n int;
  bad bigint[];
BEGIN
  PERFORM outreach.require_dpo(controller_id);
  IF participant_ids IS NULL OR cardinality(participant_ids) = 0 THEN
    RAISE EXCEPTION 'no participants given' USING ERRCODE = '22023';
  END IF;
  SELECT array_agg(id ORDER BY id) INTO bad
  FROM unnest(participant_ids) AS id
  WHERE NOT EXISTS (SELECT 1 FROM outreach.participant p
                    WHERE p.controller_id = confirm_deletion.controller_id AND p.participant_id = id
                      AND p.retention_status = 'ready_for_deletion');
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'participants % of controller % are not waiting for confirmation', bad, controller_id
      USING ERRCODE = '55000', HINT = 'Only records marked ready for deletion can be confirmed, once.';
  END IF;
  WITH confirmed AS (
    UPDATE outreach.participant p
    SET retention_status = 'deletion_confirmed', deletion_confirmed_at = now(),
        deletion_confirmed_by = outreach.invoking_role()::text
    WHERE p.controller_id = confirm_deletion.controller_id AND p.participant_id = ANY (participant_ids)
    RETURNING p.controller_id, p.participant_id, p.retention_notice_id
  )
  INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record)
  SELECT c.controller_id, session_user, outreach.invoking_role()::text, 'confirm_deletion', 'participant',
         jsonb_build_object('participant_id', c.participant_id, 'notice_id', c.retention_notice_id)
  FROM confirmed c;
  GET DIAGNOSTICS n = ROW_COUNT;
  PERFORM outreach.notify_service('deletion_confirmed');
  RETURN n;
END
$$;
COMMENT ON FUNCTION outreach.confirm_deletion(int, bigint[]) IS
  'the DPO confirms deletion of listed participants (all must be ready for deletion); returns how many';

-- Un-marked records are held from sweeps until hold_until, a year when it is not given.
CREATE OR REPLACE FUNCTION outreach.unmark_deletion(controller_id int, participant_ids bigint[], reason text,
                                         hold_until date DEFAULT NULL) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n int;
  bad bigint[];
BEGIN
  PERFORM outreach.require_dpo(controller_id);
  IF reason IS NULL OR length(btrim(reason)) = 0 THEN
    RAISE EXCEPTION 'un-marking needs a reason' USING ERRCODE = '22023';
  END IF;
  IF hold_until IS NOT NULL AND hold_until <= current_date THEN
    RAISE EXCEPTION 'hold_until must be in the future' USING ERRCODE = '22023';
  END IF;
  -- A hold keeps records past their policy: at most five years at a time, never for ever.
  IF hold_until IS NOT NULL AND (NOT isfinite(hold_until) OR hold_until > current_date + interval '5 years') THEN
    RAISE EXCEPTION 'hold_until must be at most five years from today, not %', hold_until USING ERRCODE = '22023';
  END IF;
  SELECT array_agg(id ORDER BY id) INTO bad
  FROM unnest(participant_ids) AS id
  WHERE NOT EXISTS (SELECT 1 FROM outreach.participant p
                    WHERE p.controller_id = unmark_deletion.controller_id AND p.participant_id = id
                      AND p.retention_status IN ('ready_for_deletion', 'deletion_confirmed'));
  IF bad IS NOT NULL OR participant_ids IS NULL THEN
    RAISE EXCEPTION 'participants % of controller % are not marked for deletion', coalesce(bad, '{}'), controller_id
      USING ERRCODE = '55000';
  END IF;
  WITH unmarked AS (
    UPDATE outreach.participant p
    SET retention_status = 'retained', retention_reasons = NULL, retention_due_on = NULL, retention_marked_on = NULL,
        retention_notice_id = NULL, deletion_confirmed_at = NULL, deletion_confirmed_by = NULL,
        retention_hold_until = coalesce(unmark_deletion.hold_until, current_date + 365),
        retention_hold_reason = reason
    WHERE p.controller_id = unmark_deletion.controller_id AND p.participant_id = ANY (participant_ids)
    RETURNING p.controller_id, p.participant_id
  )
  INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record, columns)
  SELECT u.controller_id, session_user, outreach.invoking_role()::text, 'unmark', 'participant',
         jsonb_build_object('participant_id', u.participant_id), ARRAY['retention_status']
  FROM unmarked u;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;
COMMENT ON FUNCTION outreach.unmark_deletion(int, bigint[], text, date) IS
  'the DPO returns marked records to retained, with a reason, held from sweeps until hold_until';

-- Deletes one batch of confirmed participants: their rows, their attendance (by cascade) and
-- every other personal row, and writes a tombstone for each, in one statement and so in one
-- transaction. Returns how many were deleted (0: nothing left).
CREATE OR REPLACE FUNCTION outreach.execute_deletions(batch_size int DEFAULT 10000, run_id bigint DEFAULT NULL) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n int;
BEGIN
  IF batch_size IS NULL OR batch_size < 1 OR batch_size > 1000000 THEN
    RAISE EXCEPTION 'batch_size must be between 1 and 1000000' USING ERRCODE = '22023';
  END IF;
  WITH victims AS (
    SELECT p.controller_id, p.participant_id FROM outreach.participant p
    WHERE p.retention_status = 'deletion_confirmed'
      AND p.restricted_at IS NULL   -- restricted since its confirmation: kept until the DPO lifts it
    ORDER BY p.controller_id, p.participant_id LIMIT batch_size FOR UPDATE SKIP LOCKED
  ), gone AS (
    DELETE FROM outreach.participant p USING victims v
    WHERE p.controller_id = v.controller_id AND p.participant_id = v.participant_id
    RETURNING p.controller_id, p.participant_id, coalesce(p.retention_reasons, '{}') AS reasons, p.retention_due_on,
              p.retention_marked_on, p.retention_notice_id, p.deletion_confirmed_at, p.deletion_confirmed_by
  )
  INSERT INTO outreach.tombstone (controller_id, participant_id, reasons, due_on, marked_on, notice_id,
                                  confirmed_at, confirmed_by, run_id)
  SELECT g.controller_id, g.participant_id, g.reasons, g.retention_due_on, g.retention_marked_on, g.retention_notice_id,
         g.deletion_confirmed_at, g.deletion_confirmed_by, execute_deletions.run_id
  FROM gone g;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF run_id IS NOT NULL THEN
    UPDATE outreach.retention_run r SET batches = r.batches + 1, rows_deleted = r.rows_deleted + n
    WHERE r.run_id = execute_deletions.run_id;
  END IF;
  RETURN n;
END
$$;
COMMENT ON FUNCTION outreach.execute_deletions(int, bigint) IS
  'deletes one batch of confirmed participants with all their personal rows, leaving tombstones; returns how many';

CREATE OR REPLACE FUNCTION outreach.start_deletion_run() RETURNS bigint
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ INSERT INTO outreach.retention_run (kind) VALUES ('delete') RETURNING run_id $$;
COMMENT ON FUNCTION outreach.start_deletion_run() IS 'opens a deletion run in the history; returns its id';

CREATE OR REPLACE PROCEDURE outreach.delete_confirmed(batch_size int DEFAULT 10000)
LANGUAGE plpgsql
AS $$
DECLARE
  run bigint;
  n int;
BEGIN
  run := outreach.start_deletion_run();
  COMMIT;
  LOOP
    n := outreach.execute_deletions(batch_size, run);
    COMMIT;
    EXIT WHEN n OPERATOR(pg_catalog.=) 0;
  END LOOP;
  PERFORM outreach.retention_run_finish(run);
  COMMIT;
END
$$;
COMMENT ON PROCEDURE outreach.delete_confirmed(int) IS
  'deletes every confirmed participant, in batches, committing after each';

-- Erasure (UK GDPR Art. 17): the same path at once, for one participant.
CREATE OR REPLACE FUNCTION outreach.erase_participant(controller_id int, participant_id bigint,
                                           reason text DEFAULT 'erasure_request') RETURNS outreach.tombstone
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n int;
  t outreach.tombstone;
BEGIN
  PERFORM outreach.require_dpo(controller_id);
  -- A restricted record is kept (Art. 18: e.g. the person needs it for a legal claim) until the
  -- DPO lifts the restriction, with a reason, which makes the decision explicit.
  IF EXISTS (SELECT 1 FROM outreach.participant p
             WHERE p.controller_id = erase_participant.controller_id AND p.participant_id = erase_participant.participant_id
               AND p.restricted_at IS NOT NULL) THEN
    RAISE EXCEPTION 'participant % of controller % is restricted: it is kept until the restriction is lifted',
                    participant_id, controller_id
      USING ERRCODE = '55000', HINT = 'outreach.lift_restriction(controller_id, participant_ids, reason), then erase';
  END IF;
  UPDATE outreach.participant p
  SET retention_status = 'deletion_confirmed', retention_reasons = ARRAY[coalesce(reason, 'erasure_request')],
      retention_marked_on = current_date, deletion_confirmed_at = now(),
      deletion_confirmed_by = outreach.invoking_role()::text
  WHERE p.controller_id = erase_participant.controller_id AND p.participant_id = erase_participant.participant_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n = 0 THEN
    -- Erased already (a repeated request, a retry): say so and change nothing.
    SELECT * INTO t FROM outreach.tombstone x
    WHERE x.controller_id = erase_participant.controller_id AND x.participant_id = erase_participant.participant_id;
    IF FOUND THEN
      RAISE NOTICE 'participant % of controller % was erased already, on %', participant_id, controller_id, t.deleted_at;
      RETURN t;
    END IF;
    RAISE EXCEPTION 'participant % of controller % not found', participant_id, controller_id USING ERRCODE = '42704';
  END IF;
  INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record)
  VALUES (controller_id, session_user, outreach.invoking_role()::text, 'erasure', 'participant',
          jsonb_build_object('participant_id', participant_id));
  WITH gone AS (
    DELETE FROM outreach.participant p
    WHERE p.controller_id = erase_participant.controller_id AND p.participant_id = erase_participant.participant_id
    RETURNING p.controller_id, p.participant_id, p.retention_reasons, p.retention_marked_on,
              p.deletion_confirmed_at, p.deletion_confirmed_by
  )
  INSERT INTO outreach.tombstone (controller_id, participant_id, reasons, marked_on, confirmed_at, confirmed_by)
  SELECT g.controller_id, g.participant_id, g.retention_reasons, g.retention_marked_on, g.deletion_confirmed_at,
         g.deletion_confirmed_by
  FROM gone g
  RETURNING * INTO t;
  RETURN t;
END
$$;
COMMENT ON FUNCTION outreach.erase_participant(int, bigint, text) IS
  'the DPO erases a participant at once (erasure request): same deletion path; returns the tombstone (the same one when erased already)';

-- at is checked against the service's clock: a date far ahead would confirm records through
-- their grace period early.
CREATE OR REPLACE FUNCTION outreach.escalate_overdue_notices(at timestamptz DEFAULT now())
RETURNS TABLE (controller_id int, notice_id bigint, confirm_by timestamptz, records_waiting bigint, legal_contact text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
  PERFORM outreach.check_service_date(at, 'at');
  -- A record a member's open transaction holds locked is skipped (the next run confirms it), so
  -- no member can stall the grace period of every other.
  WITH due AS (
    SELECT p.controller_id, p.participant_id
    FROM outreach.participant p
    JOIN outreach.deletion_notice d ON p.controller_id = d.controller_id AND p.retention_notice_id = d.notice_id
    JOIN outreach.retention_policy pol ON pol.controller_id = d.controller_id
    WHERE p.retention_status = 'ready_for_deletion'
      AND pol.grace_days IS NOT NULL AND d.confirm_by + make_interval(days => pol.grace_days) < at
    FOR UPDATE OF p SKIP LOCKED
  ), graced AS (
    UPDATE outreach.participant p
    SET retention_status = 'deletion_confirmed', deletion_confirmed_at = at, deletion_confirmed_by = 'grace period'
    FROM due
    WHERE p.controller_id = due.controller_id AND p.participant_id = due.participant_id
    RETURNING p.controller_id, p.participant_id, p.retention_notice_id
  )
  INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record)
  SELECT g.controller_id, session_user, 'grace period', 'confirm_deletion', 'participant',
         jsonb_build_object('participant_id', g.participant_id, 'notice_id', g.retention_notice_id)
  FROM graced g;
  RETURN QUERY
  WITH overdue AS (
    SELECT d.controller_id, d.notice_id, d.confirm_by, count(*) AS waiting
    FROM outreach.deletion_notice d
    JOIN outreach.participant p ON p.controller_id = d.controller_id AND p.retention_notice_id = d.notice_id
    WHERE d.escalated_at IS NULL AND d.confirm_by < at AND p.retention_status = 'ready_for_deletion'
    GROUP BY d.controller_id, d.notice_id, d.confirm_by
  ), marked AS (
    UPDATE outreach.deletion_notice d SET escalated_at = at
    FROM overdue o WHERE d.controller_id = o.controller_id AND d.notice_id = o.notice_id
    RETURNING d.controller_id, d.notice_id
  )
  SELECT o.controller_id, o.notice_id, o.confirm_by, o.waiting, pol.legal_contact
  FROM overdue o JOIN marked m USING (controller_id, notice_id)
  JOIN outreach.retention_policy pol ON pol.controller_id = o.controller_id
  ORDER BY o.controller_id, o.notice_id;
END
$$;
COMMENT ON FUNCTION outreach.escalate_overdue_notices(timestamptz) IS
  'escalates notices whose confirmation deadline passed with records waiting; applies grace periods';

REVOKE EXECUTE ON FUNCTION outreach.require_dpo(int), outreach.execute_deletions(int, bigint),
  outreach.start_deletion_run(), outreach.escalate_overdue_notices(timestamptz) FROM PUBLIC;
REVOKE EXECUTE ON PROCEDURE outreach.delete_confirmed(int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.execute_deletions(int, bigint), outreach.start_deletion_run(),
  outreach.escalate_overdue_notices(timestamptz) TO outreach_daemon;
GRANT EXECUTE ON PROCEDURE outreach.delete_confirmed(int) TO outreach_daemon;
REVOKE EXECUTE ON FUNCTION outreach.confirm_deletion(bigint), outreach.confirm_deletion(int, bigint[]),
  outreach.unmark_deletion(int, bigint[], text, date), outreach.erase_participant(int, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.confirm_deletion(bigint), outreach.confirm_deletion(int, bigint[]),
  outreach.unmark_deletion(int, bigint[], text, date), outreach.erase_participant(int, bigint, text) TO outreach_dpo;
GRANT EXECUTE ON FUNCTION outreach.require_dpo(int) TO outreach_dpo;
-- Retention views: each participant's retention status (for readers), and per-controller
-- aggregates and a 20-year forecast (for DPOs and analysts).

-- A participant whose facts are impossible shows why in reasons instead of failing the whole
-- view for its member.
CREATE OR REPLACE VIEW outreach.retention_status WITH (security_invoker = true) AS
SELECT p.controller_id,
       p.participant_id,
       d.track,
       d.expected_he_entry_year,
       d.entry_year_overridden,
       CASE WHEN p.retention_status = 'retained' THEN d.due_on ELSE p.retention_due_on END AS due_on,
       p.retention_status AS status,
       CASE WHEN p.retention_status = 'retained'
            THEN coalesce(d.reasons, ARRAY['not computed: ' || outreach.retention_facts_problem(
                   p.date_of_birth, p.created_at, p.last_attended_on, p.withdrawn_at)])
            ELSE p.retention_reasons END AS reasons,
       p.last_attended_on,
       p.withdrawn_at,
       p.retention_marked_on AS marked_on,
       p.retention_notice_id AS notice_id,
       p.deletion_confirmed_at AS confirmed_at,
       p.retention_hold_until AS hold_until
FROM outreach.participant p
JOIN outreach.retention_policy pol ON pol.controller_id = p.controller_id
CROSS JOIN LATERAL outreach.participant_decision(
  p.first_name, p.last_name, p.postcode IS NOT NULL, p.date_of_birth, p.created_at, p.last_attended_on,
  p.withdrawn_at, p.he_entry_year_override, pol, current_date) d;
-- (Columns are passed one by one, not as the whole row: readers may not read every column.)
COMMENT ON VIEW outreach.retention_status IS
  'per participant: retention track, Expected HE Entry Year, due date, status and reasons';

-- Aggregates for DPOs and analysts, computed behind a function boundary (as the reports in
-- 62_area_reports.sql are): exact counts for the members whose rows the caller reads anyway
-- (reader level and up), HESA-rounded counts for those it reads only aggregates of (analysts),
-- and a plan that never shows the rows behind them.
CREATE OR REPLACE FUNCTION outreach.retention_summary_rows()
RETURNS TABLE (controller_id int, status text, due_year int, participants bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL RESTRICTED
SET search_path = pg_catalog, outreach, pg_temp
SET jit = off   -- (as report_reach_by_area: compiling costs seconds, saves milliseconds)
AS $$
DECLARE
  ids int[] := outreach.caller_controller_ids('analyst');
  exact int[] := outreach.caller_controller_ids('reader');
BEGIN
  RETURN QUERY
  SELECT g.controller_id, g.status, g.due_year,
         CASE WHEN g.controller_id OPERATOR(pg_catalog.=) ANY (exact) THEN g.n ELSE outreach.sdc_count(g.n, 'hesa') END
  FROM (SELECT p.controller_id, p.retention_status AS status,
               extract(year FROM outreach.participant_due_on(p, pol, current_date))::int AS due_year, count(*) AS n
        FROM outreach.participant p
        JOIN outreach.retention_policy pol ON pol.controller_id OPERATOR(pg_catalog.=) p.controller_id
        WHERE p.controller_id OPERATOR(pg_catalog.=) ANY (ids)
        GROUP BY 1, 2, 3) g;
END
$$;
COMMENT ON FUNCTION outreach.retention_summary_rows() IS
  'rows of outreach.retention_summary for the caller''s members (exact for readers, rounded for analysts)';
REVOKE EXECUTE ON FUNCTION outreach.retention_summary_rows() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.retention_summary_rows() TO outreach_reader, outreach_analyst, outreach_processor;

CREATE OR REPLACE VIEW outreach.retention_summary WITH (security_barrier = true) AS
SELECT r.controller_id, r.status, r.due_year, r.participants FROM outreach.retention_summary_rows() r;
COMMENT ON VIEW outreach.retention_summary IS
  'participants per controller, retention status and year they fall due (rounded for analysts)';

CREATE OR REPLACE FUNCTION outreach.retention_forecast_rows()
RETURNS TABLE (controller_id int, due_year int, participants bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL RESTRICTED
SET search_path = pg_catalog, outreach, pg_temp
SET jit = off   -- (as report_reach_by_area: compiling costs seconds, saves milliseconds)
AS $$
DECLARE
  ids int[] := outreach.caller_controller_ids('analyst');
  exact int[] := outreach.caller_controller_ids('reader');
  this_year int := extract(year FROM current_date)::int;
BEGIN
  RETURN QUERY
  WITH due AS (
    SELECT p.controller_id, extract(year FROM outreach.participant_due_on(p, pol, current_date))::int AS due_year
    FROM outreach.participant p
    JOIN outreach.retention_policy pol ON pol.controller_id OPERATOR(pg_catalog.=) p.controller_id
    WHERE p.controller_id OPERATOR(pg_catalog.=) ANY (ids) AND p.retention_status OPERATOR(pg_catalog.=) 'retained'
  ), counted AS (
    SELECT c.controller_id, y.year,
           (SELECT count(*) FROM due WHERE due.controller_id OPERATOR(pg_catalog.=) c.controller_id
              AND (due.due_year OPERATOR(pg_catalog.=) y.year
                   OR (y.year OPERATOR(pg_catalog.=) this_year AND due.due_year OPERATOR(pg_catalog.<) y.year))) AS n
    FROM outreach.controller c
    CROSS JOIN LATERAL generate_series(this_year, this_year + 19) AS y(year)
    WHERE c.controller_id OPERATOR(pg_catalog.=) ANY (ids)
  )
  SELECT k.controller_id, k.year,
         CASE WHEN k.controller_id OPERATOR(pg_catalog.=) ANY (exact) THEN k.n ELSE outreach.sdc_count(k.n, 'hesa') END
  FROM counted k;
END
$$;
COMMENT ON FUNCTION outreach.retention_forecast_rows() IS
  'rows of outreach.retention_forecast for the caller''s members (exact for readers, rounded for analysts)';
REVOKE EXECUTE ON FUNCTION outreach.retention_forecast_rows() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.retention_forecast_rows() TO outreach_reader, outreach_analyst, outreach_processor;

CREATE OR REPLACE VIEW outreach.retention_forecast WITH (security_barrier = true) AS
SELECT r.controller_id, r.due_year, r.participants FROM outreach.retention_forecast_rows() r;
COMMENT ON VIEW outreach.retention_forecast IS
  'for each controller, how many retained records fall due in each of the next 20 years (overdue counted in this year; rounded for analysts)';

GRANT SELECT ON outreach.retention_status TO outreach_reader, outreach_processor;
GRANT SELECT ON outreach.retention_summary, outreach.retention_forecast
  TO outreach_reader, outreach_analyst, outreach_processor;
COMMENT ON TABLE outreach.service_retention IS
  'how long the service keeps its own records that belong to no member: outcome import error lines, subject look-ups (no row: the defaults)';
REVOKE ALL ON outreach.service_retention FROM PUBLIC;
GRANT SELECT ON outreach.service_retention TO outreach_processor, outreach_daemon;
COMMENT ON TABLE outreach.swept_records IS
  'counts of the service''s records removed when their retention period ended, per member, kind and month';
REVOKE ALL ON outreach.swept_records FROM PUBLIC;
GRANT SELECT ON outreach.swept_records TO outreach_dpo, outreach_processor;

-- Adds what a sweep removed to the counts.
CREATE OR REPLACE FUNCTION outreach.count_swept(counts jsonb) RETURNS bigint
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
  WITH rows AS (
    SELECT (c ->> 'controller_id')::int AS controller_id, c ->> 'kind' AS kind, (c ->> 'month')::date AS month,
           (c ->> 'records')::bigint AS records
    FROM jsonb_array_elements(coalesce(counts, '[]')) c
  ), added AS (
    INSERT INTO outreach.swept_records AS s (controller_id, kind, month, records)
    SELECT controller_id, kind, month, sum(records) FROM rows GROUP BY 1, 2, 3
    ON CONFLICT (controller_id, kind, month) DO UPDATE SET records = s.records + EXCLUDED.records, swept_at = now()
  )
  -- (a data-modifying WITH runs to completion whether or not the query reads it)
  SELECT coalesce(sum(records), 0)::bigint FROM rows
$$;
REVOKE EXECUTE ON FUNCTION outreach.count_swept(jsonb) FROM PUBLIC;
COMMENT ON FUNCTION outreach.count_swept(jsonb) IS 'adds a sweep''s removals ([{controller_id, kind, month, records}]) to outreach.swept_records';

-- The sweep of the service's records as of a day (a superuser may sweep ahead, for tests and
-- catch-up). Returns how many records it removed.
CREATE OR REPLACE FUNCTION outreach.sweep_service_records(as_of date DEFAULT current_date) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
  counts jsonb;
  total bigint := 0;
  svc outreach.service_retention;
BEGIN
  PERFORM outreach.check_service_date(sweep_service_records.as_of::timestamptz, 'as_of');
  SELECT * INTO svc FROM outreach.service_retention;
  IF NOT FOUND THEN
    svc := ROW(true, 90, 6, now());  -- the defaults, until the DBA sets them
  END IF;
  -- Each member's audit trail.
  WITH gone AS (
    DELETE FROM outreach.audit_log a USING outreach.retention_policy p
    WHERE p.controller_id = a.controller_id AND a.logged_at < (sweep_service_records.as_of - make_interval(years => p.audit_trail_years))
    RETURNING a.controller_id, date_trunc('month', a.logged_at)::date AS month
  )
  SELECT jsonb_agg(jsonb_build_object('controller_id', controller_id, 'kind', 'audit_log', 'month', month, 'records', n))
    INTO counts FROM (SELECT controller_id, month, count(*) AS n FROM gone GROUP BY 1, 2) g;
  total := total + outreach.count_swept(counts);
  -- Tombstones.
  WITH gone AS (
    DELETE FROM outreach.tombstone t USING outreach.retention_policy p
    WHERE p.controller_id = t.controller_id AND t.deleted_at < (sweep_service_records.as_of - make_interval(years => p.tombstone_years))
    RETURNING t.controller_id, date_trunc('month', t.deleted_at)::date AS month
  )
  SELECT jsonb_agg(jsonb_build_object('controller_id', controller_id, 'kind', 'tombstone', 'month', month, 'records', n))
    INTO counts FROM (SELECT controller_id, month, count(*) AS n FROM gone GROUP BY 1, 2) g;
  total := total + outreach.count_swept(counts);
  -- The ledger: a finished export's blocks once its period has passed (the export's row, with
  -- its counts and checksum, stays).
  WITH gone AS (
    DELETE FROM outreach.disclosure_block b USING outreach.export e, outreach.retention_policy p
    WHERE e.export_id = b.export_id AND p.controller_id = b.controller_id
      AND e.finished_at < (sweep_service_records.as_of - make_interval(years => p.ledger_years))
    RETURNING b.controller_id, date_trunc('month', e.finished_at)::date AS month, cardinality(b.participant_ids) AS n
  )
  SELECT jsonb_agg(jsonb_build_object('controller_id', controller_id, 'kind', 'ledger', 'month', month, 'records', n))
    INTO counts FROM (SELECT controller_id, month, sum(n) AS n FROM gone GROUP BY 1, 2) g;
  total := total + outreach.count_swept(counts);
  -- Notices delivered or given up (their payloads can list participants); their attempts go by
  -- the foreign key's cascade.
  WITH gone AS (
    DELETE FROM outreach.notice_delivery d USING outreach.retention_policy p
    WHERE p.controller_id = d.controller_id AND d.status IN ('delivered', 'failed')
      AND d.created_at < (sweep_service_records.as_of - make_interval(days => p.notice_days))
    RETURNING d.controller_id, date_trunc('month', d.created_at)::date AS month
  )
  SELECT jsonb_agg(jsonb_build_object('controller_id', controller_id, 'kind', 'notice_delivery', 'month', month, 'records', n))
    INTO counts FROM (SELECT controller_id, month, count(*) AS n FROM gone GROUP BY 1, 2) g;
  total := total + outreach.count_swept(counts);
  -- The service's own: import error lines (the import's counts stay) and subject look-ups.
  WITH gone AS (
    DELETE FROM outreach.outcome_import_error x USING outreach.outcome_import i
    WHERE i.import_id = x.import_id AND i.imported_at < (sweep_service_records.as_of - make_interval(days => svc.import_error_days))
    RETURNING date_trunc('month', i.imported_at)::date AS month
  )
  SELECT jsonb_agg(jsonb_build_object('controller_id', NULL, 'kind', 'outcome_import_error', 'month', month, 'records', n))
    INTO counts FROM (SELECT month, count(*) AS n FROM gone GROUP BY 1) g;
  total := total + outreach.count_swept(counts);
  WITH gone AS (
    DELETE FROM outreach.subject_lookup s
    WHERE s.looked_up_at < (sweep_service_records.as_of - make_interval(years => svc.subject_lookup_years))
    RETURNING date_trunc('month', s.looked_up_at)::date AS month
  )
  SELECT jsonb_agg(jsonb_build_object('controller_id', NULL, 'kind', 'subject_lookup', 'month', month, 'records', n))
    INTO counts FROM (SELECT month, count(*) AS n FROM gone GROUP BY 1) g;
  total := total + outreach.count_swept(counts);
  RETURN total;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.sweep_service_records(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.sweep_service_records(date) TO outreach_daemon;
COMMENT ON FUNCTION outreach.sweep_service_records(date) IS
  'removes the service''s records past their retention period (audit trail, tombstones, ledger, notices, import errors, look-ups), keeping counts; returns how many';

-- The service's own periods (the service's DBA). Only the values given change.
CREATE OR REPLACE FUNCTION outreach.set_service_retention(import_error_days int DEFAULT NULL,
                                                          subject_lookup_years int DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF import_error_days NOT BETWEEN 7 AND 3650 THEN
    RAISE EXCEPTION 'import_error_days must be between 7 and 3650, not %', import_error_days USING ERRCODE = '22023';
  END IF;
  IF subject_lookup_years NOT BETWEEN 1 AND 50 THEN
    RAISE EXCEPTION 'subject_lookup_years must be between 1 and 50, not %', subject_lookup_years USING ERRCODE = '22023';
  END IF;
  INSERT INTO outreach.service_retention AS s (import_error_days, subject_lookup_years)
  VALUES (coalesce(import_error_days, 90), coalesce(subject_lookup_years, 6))
  ON CONFLICT (only_row) DO UPDATE
    SET import_error_days = coalesce(set_service_retention.import_error_days, s.import_error_days),
        subject_lookup_years = coalesce(set_service_retention.subject_lookup_years, s.subject_lookup_years),
        updated_at = now();
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.set_service_retention(int, int) FROM PUBLIC;
COMMENT ON FUNCTION outreach.set_service_retention(int, int) IS
  'changes how long the service keeps outcome import error lines and subject look-ups (the service''s DBA)';
COMMENT ON TABLE outreach.daemon_lease IS 'which daemon acts on which job, until when (renewed with every batch)';

-- Takes or renews the lease on a job for ttl_seconds. The row stays locked until the caller's
-- transaction ends, so a daemon that renews the lease in the same transaction as a batch fences
-- out a second daemon for that batch: the other waits for the commit and then sees the renewal.
CREATE OR REPLACE FUNCTION outreach.daemon_hold(job text, holder text, ttl_seconds int) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  held text;
BEGIN
  IF ttl_seconds IS NULL OR ttl_seconds < 1 OR ttl_seconds > 86400 THEN
    RAISE EXCEPTION 'ttl_seconds must be between 1 and 86400' USING ERRCODE = '22023';
  END IF;
  IF job IS NULL OR job !~ '^[a-z][a-z0-9_:.-]{0,99}$' THEN
    RAISE EXCEPTION 'job must be a lower-case name (letters, digits, _ : . -)' USING ERRCODE = '22023';
  END IF;
  IF holder IS NULL OR length(holder) NOT BETWEEN 1 AND 200 THEN
    RAISE EXCEPTION 'holder must be 1 to 200 characters' USING ERRCODE = '22023';
  END IF;
  INSERT INTO outreach.daemon_lease AS l (job, holder, acquired_at, renewed_at, expires_at)
  VALUES (daemon_hold.job, daemon_hold.holder, clock_timestamp(), clock_timestamp(),
          clock_timestamp() + make_interval(secs => ttl_seconds))
  ON CONFLICT ON CONSTRAINT daemon_lease_pkey DO UPDATE
    SET holder = EXCLUDED.holder,
        acquired_at = CASE WHEN l.holder = EXCLUDED.holder THEN l.acquired_at ELSE EXCLUDED.acquired_at END,
        renewed_at = EXCLUDED.renewed_at, expires_at = EXCLUDED.expires_at
    WHERE l.holder = EXCLUDED.holder OR l.expires_at < clock_timestamp()
  RETURNING l.holder INTO held;
  RETURN held IS NOT NULL;
END
$$;
COMMENT ON FUNCTION outreach.daemon_hold(text, text, int) IS
  'takes or renews a daemon''s lease on a job; false while another daemon holds it';

CREATE OR REPLACE FUNCTION outreach.daemon_release(job text, holder text) RETURNS boolean
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  WITH gone AS (
    DELETE FROM outreach.daemon_lease l WHERE l.job = daemon_release.job AND l.holder = daemon_release.holder
    RETURNING 1)
  SELECT count(*) > 0 FROM gone
$$;
COMMENT ON FUNCTION outreach.daemon_release(text, text) IS 'gives a job''s lease up (at shutdown), so another daemon need not wait for it to run out';
COMMENT ON TABLE outreach.job_run IS 'history of the daemon''s job runs: who ran what, when, with what result';

-- Opens a run. Runs of the same job left 'running' by a daemon whose lease has run out (it
-- died) are closed as 'interrupted', so the history never shows two live runs of a job.
CREATE OR REPLACE FUNCTION outreach.job_run_start(job text, holder text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  run bigint;
BEGIN
  UPDATE outreach.job_run r SET status = 'interrupted', finished_at = clock_timestamp(),
         detail = coalesce(r.detail || '; ', '') || 'daemon ' || r.holder || ' stopped before finishing'
  WHERE r.job = job_run_start.job AND r.status = 'running'
    AND NOT EXISTS (SELECT 1 FROM outreach.daemon_lease l
                    WHERE l.job = r.job AND l.holder = r.holder AND l.expires_at >= clock_timestamp()
                      AND l.holder <> job_run_start.holder);
  INSERT INTO outreach.job_run (job, holder) VALUES (job_run_start.job, job_run_start.holder)
  RETURNING run_id INTO run;
  RETURN run;
END
$$;
COMMENT ON FUNCTION outreach.job_run_start(text, text) IS 'opens a job run in the history (closing runs of dead daemons as interrupted)';

CREATE OR REPLACE FUNCTION outreach.job_run_progress(run_id bigint, rows_done bigint) RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  UPDATE outreach.job_run r SET rows_done = r.rows_done + job_run_progress.rows_done
  WHERE r.run_id = job_run_progress.run_id
$$;
COMMENT ON FUNCTION outreach.job_run_progress(bigint, bigint) IS 'adds to the rows a job run has done';

CREATE OR REPLACE FUNCTION outreach.job_run_finish(run_id bigint, status text, detail text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF status IS NULL OR status NOT IN ('succeeded', 'failed', 'interrupted') THEN
    RAISE EXCEPTION 'status must be succeeded, failed or interrupted' USING ERRCODE = '22023';
  END IF;
  UPDATE outreach.job_run r SET status = job_run_finish.status, finished_at = clock_timestamp(),
         detail = left(job_run_finish.detail, 2000)
  WHERE r.run_id = job_run_finish.run_id AND r.status = 'running';
END
$$;
COMMENT ON FUNCTION outreach.job_run_finish(bigint, text, text) IS 'closes a job run with its result';

-- Last run and last success per job, for monitoring.
CREATE OR REPLACE VIEW outreach.job_status AS
SELECT j.job,
       (SELECT max(r.started_at) FROM outreach.job_run r WHERE r.job = j.job) AS last_started_at,
       (SELECT max(r.finished_at) FROM outreach.job_run r WHERE r.job = j.job AND r.status = 'succeeded') AS last_success_at,
       (SELECT count(*) FROM outreach.job_run r WHERE r.job = j.job AND r.status = 'failed') AS failures,
       l.holder AS lease_holder, l.expires_at AS lease_expires_at
FROM (SELECT DISTINCT r.job FROM outreach.job_run r UNION SELECT l.job FROM outreach.daemon_lease l) j
LEFT JOIN outreach.daemon_lease l ON l.job = j.job;
COMMENT ON VIEW outreach.job_status IS 'per job: last run, last success, failures and the lease holder';

REVOKE ALL ON outreach.daemon_lease, outreach.job_run, outreach.job_status FROM PUBLIC;
GRANT SELECT ON outreach.daemon_lease, outreach.job_run, outreach.job_status TO outreach_daemon, outreach_processor;
REVOKE EXECUTE ON FUNCTION outreach.daemon_hold(text, text, int), outreach.daemon_release(text, text),
  outreach.job_run_start(text, text), outreach.job_run_progress(bigint, bigint),
  outreach.job_run_finish(bigint, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.daemon_hold(text, text, int), outreach.daemon_release(text, text),
  outreach.job_run_start(text, text), outreach.job_run_progress(bigint, bigint),
  outreach.job_run_finish(bigint, text, text) TO outreach_daemon;

-- A retention run left 'running' by a daemon that was killed is closed when the lease holder
-- starts the next run of that kind (only the lease holder runs them, so none is live).
CREATE OR REPLACE FUNCTION outreach.close_interrupted_retention_runs(kind text) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n int;
BEGIN
  UPDATE outreach.retention_run r SET status = 'failed', finished_at = clock_timestamp(),
         error = 'interrupted: the daemon running it stopped'
  WHERE r.kind = close_interrupted_retention_runs.kind AND r.status = 'running';
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;
COMMENT ON FUNCTION outreach.close_interrupted_retention_runs(text) IS
  'closes sweep or deletion runs a stopped daemon left running';
REVOKE EXECUTE ON FUNCTION outreach.close_interrupted_retention_runs(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.close_interrupted_retention_runs(text) TO outreach_daemon;

-- How many confirmed records wait for deletion (the delete job skips a run when none do).
CREATE OR REPLACE FUNCTION outreach.deletions_pending() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT count(*) FROM outreach.participant p WHERE p.retention_status = 'deletion_confirmed' $$;
COMMENT ON FUNCTION outreach.deletions_pending() IS 'how many participants are confirmed for deletion and not yet deleted';
REVOKE EXECUTE ON FUNCTION outreach.deletions_pending() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.deletions_pending() TO outreach_daemon;
REVOKE ALL ON outreach.service_channel FROM PUBLIC;
COMMENT ON TABLE outreach.service_channel IS
  'the LISTEN/NOTIFY channel between the extension and outreachd (random name, not dumped, readable by outreach_daemon only)';

CREATE OR REPLACE FUNCTION outreach.service_channel() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT c.name FROM outreach.service_channel c $$;
REVOKE EXECUTE ON FUNCTION outreach.service_channel() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.service_channel() TO outreach_daemon;
COMMENT ON FUNCTION outreach.service_channel() IS 'the channel outreachd LISTENs on (for outreach_daemon only)';

-- event: deletion_confirmed, records_marked or delivery_queued; nothing else goes in the payload.
CREATE OR REPLACE FUNCTION outreach.notify_service(event text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- trace_notify is a setting any session may turn on: it would print the channel's name to the
-- member whose statement sends the notification.
SET trace_notify = off
AS $$
BEGIN
  IF event IS NULL OR event NOT IN ('deletion_confirmed', 'records_marked', 'delivery_queued') THEN
    RAISE EXCEPTION 'unknown service event "%"', event USING ERRCODE = '22023';
  END IF;
  PERFORM pg_notify((SELECT c.name FROM outreach.service_channel c), event);
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.notify_service(text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.notify_service(text) IS
  'wakes outreachd on its private channel; the payload is the event name alone';
COMMENT ON TABLE outreach.notification_channel IS
  'where a member wants its notices: webhook URLs (signed with the member''s secret) and email addresses';
COMMENT ON TABLE outreach.notice_delivery IS 'one message to one channel of a member, with its state and retries';
COMMENT ON TABLE outreach.delivery_attempt IS 'every attempt to deliver a message, successful or not';
REVOKE ALL ON outreach.notification_channel, outreach.notice_delivery, outreach.delivery_attempt FROM PUBLIC;
GRANT SELECT, DELETE ON outreach.notification_channel TO outreach_dpo;
GRANT INSERT (controller_id, kind, target, enabled), UPDATE (target, enabled) ON outreach.notification_channel TO outreach_dpo;
GRANT SELECT ON outreach.notice_delivery, outreach.delivery_attempt TO outreach_dpo;

CREATE OR REPLACE FUNCTION outreach.enqueue_delivery(controller_id int, purpose text, idempotency_key text, payload jsonb,
                                          subject text DEFAULT NULL, message text DEFAULT NULL,
                                          notice_id bigint DEFAULT NULL,
                                          to_kind text DEFAULT NULL, to_target text DEFAULT NULL,
                                          not_before timestamptz DEFAULT NULL) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n int;
  body jsonb;
  subj text;
  msg text;
BEGIN
  IF idempotency_key IS NULL OR length(idempotency_key) NOT BETWEEN 1 AND 200 THEN
    RAISE EXCEPTION 'idempotency_key must be 1 to 200 characters' USING ERRCODE = '22023';
  END IF;
  body := coalesce(payload, '{}') || jsonb_build_object('idempotency_key', idempotency_key, 'purpose', purpose);
  subj := coalesce(subject, 'pg_outreach: ' || replace(purpose, '_', ' '));
  msg := coalesce(message, jsonb_pretty(body));
  IF to_kind IS NOT NULL THEN
    INSERT INTO outreach.notice_delivery AS d (controller_id, purpose, notice_id, channel_id, kind, target,
                                               idempotency_key, subject, message, payload, status, last_error)
    VALUES (enqueue_delivery.controller_id, purpose, notice_id, NULL, to_kind, to_target, idempotency_key, subj, msg,
            body, CASE WHEN to_target IS NULL THEN 'failed' ELSE 'pending' END,
            CASE WHEN to_target IS NULL THEN 'no address to deliver to' END)
    ON CONFLICT ON CONSTRAINT notice_delivery_once DO NOTHING;
  ELSE
    INSERT INTO outreach.notice_delivery AS d (controller_id, purpose, notice_id, channel_id, kind, target,
                                               idempotency_key, subject, message, payload, next_attempt_at)
    SELECT c.controller_id, purpose, notice_id, c.channel_id, c.kind, c.target, idempotency_key, subj, msg, body,
           greatest(clock_timestamp(), not_before)
    FROM outreach.notification_channel c
    WHERE c.controller_id = enqueue_delivery.controller_id AND c.enabled
    ON CONFLICT ON CONSTRAINT notice_delivery_once DO NOTHING;
  END IF;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n > 0 THEN
    PERFORM outreach.notify_service('delivery_queued');
  END IF;
  RETURN n;
END
$$;
COMMENT ON FUNCTION outreach.enqueue_delivery(int, text, text, jsonb, text, text, bigint, text, text, timestamptz) IS
  'queues a message to every enabled channel of a member (or to one address); idempotent per key and channel';

-- What a deletion notice says. No personal data: counts, dates and how to act.
CREATE OR REPLACE FUNCTION outreach.deletion_notice_payload(n outreach.deletion_notice) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT jsonb_build_object(
    'type', 'deletion_notice', 'notice_id', n.notice_id, 'controller', c.code, 'kind', n.kind,
    'cycle_year', n.cycle_year, 'withdrawn_on', n.opened_on,
    'records_marked', n.records_marked, 'confirm_by', n.confirm_by, 'created_at', n.created_at,
    'updated_at', n.updated_at,
    'confirm_with', format('SELECT outreach.confirm_deletion(%s)', n.notice_id))
  FROM outreach.controller c WHERE c.controller_id = n.controller_id
$$;
COMMENT ON FUNCTION outreach.deletion_notice_payload(outreach.deletion_notice) IS 'the JSON a member receives for a deletion notice';

-- A new notice is delivered to the member's channels at once. When more records join a notice
-- whose message is out (or being sent: claimed by a daemon), a revised message follows with its
-- own key, held back a minute so that the batches of one sweep make one revision, not one each;
-- a message not yet claimed is just brought up to date.
CREATE OR REPLACE FUNCTION outreach.deletion_notice_deliver() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  body jsonb := outreach.deletion_notice_payload(NEW);
  revision int;
  subj text := format('Records ready for deletion: %s records, confirm by %s', NEW.records_marked,
                      to_char(NEW.confirm_by AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"'));
  msg text := format(CASE NEW.kind
                       WHEN 'withdrawal' THEN E'%s participants of your organisation withdrew on %s and are ready for deletion.\n'
                       ELSE E'%s participant records of your organisation are ready for deletion under the retention policy (cycle %s).\n' END
                     || E'Please review and confirm the deletion by %s:\n  %s\n'
                        'The list is in outreach.retention_status for your data-protection officer.\n',
                     NEW.records_marked, CASE NEW.kind WHEN 'withdrawal' THEN NEW.opened_on::text ELSE NEW.cycle_year::text END,
                     to_char(NEW.confirm_by AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"'), body ->> 'confirm_with');
BEGIN
  -- A withdrawal notice is opened empty and counted after the statement: its first message
  -- goes out when it has records.
  IF TG_OP = 'INSERT' AND NEW.records_marked = 0 THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' AND NOT EXISTS (SELECT 1 FROM outreach.notice_delivery d
                                      WHERE d.controller_id = NEW.controller_id AND d.notice_id = NEW.notice_id
                                        AND d.purpose = 'deletion_notice') THEN
    IF NEW.records_marked > OLD.records_marked THEN
      PERFORM outreach.enqueue_delivery(NEW.controller_id, 'deletion_notice', format('outreach-notice-%s', NEW.notice_id),
                                        body || jsonb_build_object('revision', 1), subj, msg, NEW.notice_id);
    END IF;
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    IF NEW.records_marked <= OLD.records_marked THEN
      RETURN NULL;
    END IF;
    UPDATE outreach.notice_delivery d SET payload = body || jsonb_build_object('idempotency_key', d.idempotency_key,
                                                                               'purpose', d.purpose),
           subject = subj, message = msg
    WHERE d.controller_id = NEW.controller_id AND d.notice_id = NEW.notice_id AND d.status = 'pending'
      AND d.attempts = 0 AND (d.claim_expires_at IS NULL OR d.claim_expires_at < clock_timestamp());
    SELECT count(DISTINCT d.idempotency_key) + 1 INTO revision FROM outreach.notice_delivery d
    WHERE d.controller_id = NEW.controller_id AND d.notice_id = NEW.notice_id AND d.purpose = 'deletion_notice';
    IF NOT EXISTS (SELECT 1 FROM outreach.notice_delivery d
                   WHERE d.controller_id = NEW.controller_id AND d.notice_id = NEW.notice_id
                     AND d.status = 'pending' AND d.attempts = 0
                     AND (d.claim_expires_at IS NULL OR d.claim_expires_at < clock_timestamp())) THEN
      PERFORM outreach.enqueue_delivery(NEW.controller_id, 'deletion_notice',
                                        format('outreach-notice-%s-r%s', NEW.notice_id, revision),
                                        body || jsonb_build_object('revision', revision), subj, msg, NEW.notice_id,
                                        not_before => clock_timestamp() + interval '1 minute');
    END IF;
  ELSE
    PERFORM outreach.enqueue_delivery(NEW.controller_id, 'deletion_notice', format('outreach-notice-%s', NEW.notice_id),
                                      body || jsonb_build_object('revision', 1), subj, msg, NEW.notice_id);
  END IF;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION outreach.deletion_notice_deliver() IS 'trigger: queues the deliveries of a new or grown deletion notice';
CREATE OR REPLACE TRIGGER deletion_notice_deliver AFTER INSERT OR UPDATE OF records_marked ON outreach.deletion_notice
  FOR EACH ROW EXECUTE FUNCTION outreach.deletion_notice_deliver();

-- Missed deadlines: escalate_overdue_notices() decides which; each goes by email to the
-- legal contact of the member's policy (else of the member). Returns how many were escalated.
CREATE OR REPLACE FUNCTION outreach.enqueue_escalations(at timestamptz DEFAULT now()) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  e record;
  n int := 0;
BEGIN
  FOR e IN SELECT o.*, c.code, coalesce(o.legal_contact, c.legal_contact) AS contact
           FROM outreach.escalate_overdue_notices(at) o JOIN outreach.controller c USING (controller_id) LOOP
    PERFORM outreach.enqueue_delivery(e.controller_id, 'escalation', format('outreach-escalation-%s', e.notice_id),
      jsonb_build_object('type', 'escalation', 'notice_id', e.notice_id, 'controller', e.code,
                         'confirm_by', e.confirm_by, 'records_waiting', e.records_waiting),
      format('Deletion deadline missed: %s records of %s still waiting', e.records_waiting, e.code),
      format(E'The confirmation deadline %s of deletion notice %s has passed with %s records still waiting.\n'
             'Under the processing agreement the records must be confirmed for deletion or held with a reason.\n',
             to_char(e.confirm_by AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"'), e.notice_id, e.records_waiting),
      e.notice_id, 'email', e.contact);
    n := n + 1;
  END LOOP;
  RETURN n;
END
$$;
COMMENT ON FUNCTION outreach.enqueue_escalations(timestamptz) IS
  'escalates overdue deletion notices and queues an email to each member''s legal contact';

-- The daemon's side: claim due deliveries (a claim is a committed lease, so it works through a
-- transaction pooler and a dead daemon's claims run out), then record each attempt.
CREATE OR REPLACE FUNCTION outreach.claim_deliveries(daemon text, max_count int DEFAULT 100, lease_seconds int DEFAULT 60)
RETURNS TABLE (controller_id int, delivery_id bigint, controller_code text, kind text, target text,
               idempotency_key text, attempts int, subject text, message text, payload text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
  IF max_count IS NULL OR max_count NOT BETWEEN 1 AND 10000 THEN
    RAISE EXCEPTION 'max_count must be between 1 and 10000' USING ERRCODE = '22023';
  END IF;
  IF lease_seconds IS NULL OR lease_seconds NOT BETWEEN 1 AND 3600 THEN
    RAISE EXCEPTION 'lease_seconds must be between 1 and 3600' USING ERRCODE = '22023';
  END IF;
  RETURN QUERY
  WITH due AS (
    SELECT d.controller_id, d.delivery_id FROM outreach.notice_delivery d
    WHERE d.status = 'pending' AND d.next_attempt_at <= clock_timestamp()
      AND (d.claim_expires_at IS NULL OR d.claim_expires_at < clock_timestamp())
    ORDER BY d.next_attempt_at, d.delivery_id LIMIT max_count FOR UPDATE SKIP LOCKED
  )
  UPDATE outreach.notice_delivery d
  SET claimed_by = daemon, claim_expires_at = clock_timestamp() + make_interval(secs => lease_seconds)
  FROM due JOIN outreach.controller c ON c.controller_id = due.controller_id
  WHERE d.controller_id = due.controller_id AND d.delivery_id = due.delivery_id
  RETURNING d.controller_id, d.delivery_id, c.code, d.kind, d.target, d.idempotency_key, d.attempts, d.subject,
            d.message, d.payload::text;
END
$$;
COMMENT ON FUNCTION outreach.claim_deliveries(text, int, int) IS
  'claims up to max_count due deliveries for a daemon for lease_seconds';

-- Records one attempt. ok: delivered. Not ok: retry after retry_after_seconds, or, when that is
-- NULL, give up (status failed: a permanently failing channel, visible to the member).
CREATE OR REPLACE FUNCTION outreach.record_delivery(controller_id int, delivery_id bigint, daemon text, ok boolean,
                                         detail text DEFAULT NULL, retry_after_seconds double precision DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  n int;
  result text;
BEGIN
  UPDATE outreach.notice_delivery d
  SET attempts = d.attempts + 1,
      status = CASE WHEN d.status = 'delivered' OR ok THEN 'delivered'
                    WHEN retry_after_seconds IS NULL THEN 'failed' ELSE 'pending' END,
      delivered_at = CASE WHEN d.status = 'delivered' THEN d.delivered_at WHEN ok THEN clock_timestamp() END,
      next_attempt_at = CASE WHEN NOT ok AND retry_after_seconds IS NOT NULL
                             THEN clock_timestamp() + make_interval(secs => greatest(retry_after_seconds, 0))
                             ELSE d.next_attempt_at END,
      last_error = CASE WHEN ok THEN d.last_error ELSE left(detail, 2000) END,
      claimed_by = NULL, claim_expires_at = NULL
  WHERE d.controller_id = record_delivery.controller_id AND d.delivery_id = record_delivery.delivery_id
  RETURNING d.attempts, d.status INTO n, result;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'delivery % of controller % not found', delivery_id, controller_id USING ERRCODE = '42704';
  END IF;
  INSERT INTO outreach.delivery_attempt (controller_id, delivery_id, attempt, daemon, ok, detail)
  VALUES (record_delivery.controller_id, record_delivery.delivery_id, n, daemon, ok, left(detail, 2000));
  RETURN result;
END
$$;
COMMENT ON FUNCTION outreach.record_delivery(int, bigint, text, boolean, text, double precision) IS
  'records a delivery attempt: delivered, retry later, or failed for good; returns the new status';

-- Counts for the daemon's /metrics.
CREATE OR REPLACE FUNCTION outreach.delivery_counts() RETURNS TABLE (purpose text, status text, deliveries bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT d.purpose, d.status, count(*) FROM outreach.notice_delivery d GROUP BY 1, 2 ORDER BY 1, 2
$$;
COMMENT ON FUNCTION outreach.delivery_counts() IS 'deliveries per purpose and status, for monitoring';

REVOKE EXECUTE ON FUNCTION outreach.enqueue_delivery(int, text, text, jsonb, text, text, bigint, text, text, timestamptz),
  outreach.deletion_notice_payload(outreach.deletion_notice), outreach.deletion_notice_deliver(),
  outreach.enqueue_escalations(timestamptz), outreach.claim_deliveries(text, int, int),
  outreach.record_delivery(int, bigint, text, boolean, text, double precision), outreach.delivery_counts() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.enqueue_escalations(timestamptz), outreach.claim_deliveries(text, int, int),
  outreach.record_delivery(int, bigint, text, boolean, text, double precision), outreach.delivery_counts()
  TO outreach_daemon;
GRANT EXECUTE ON FUNCTION outreach.delivery_counts() TO outreach_processor;

-- Seconds until the next pending delivery is due (0 if one is due now, NULL if none), so the
-- daemon can sleep on its steady clock until then.
CREATE OR REPLACE FUNCTION outreach.next_delivery_in() RETURNS double precision
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  -- (The CASE matters: greatest() ignores a NULL argument, so greatest(0, NULL) is 0, "due now",
  -- and an idle daemon would run its notify job again every 50 ms.)
  SELECT CASE WHEN s.due_at IS NOT NULL
              THEN greatest(0, extract(epoch FROM s.due_at - clock_timestamp()))::double precision END
  FROM (SELECT min(greatest(d.next_attempt_at, coalesce(d.claim_expires_at, d.next_attempt_at))) AS due_at
        FROM outreach.notice_delivery d WHERE d.status = 'pending') AS s
$$;
COMMENT ON FUNCTION outreach.next_delivery_in() IS 'seconds until the next pending delivery is due; NULL when none is pending';
REVOKE EXECUTE ON FUNCTION outreach.next_delivery_in() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.next_delivery_in() TO outreach_daemon;
-- A member has at most 10 notification channels: each one is a delivery the daemon makes for
-- every notice, so an unbounded number would let one member slow every member's notices.
-- The count takes no lock: a lock on a row every member's statements touch (the controller's,
-- which foreign-key checks share) would let a DPO holding a transaction open stall the daemon.
-- Concurrent inserts of one member can pass the count together, so the bound is 10 plus that
-- member's own concurrent transactions: limited, and only that member's.
CREATE OR REPLACE FUNCTION outreach.notification_channel_limit() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- (Runs as the caller, under row security.) Another member's row is row security's to refuse,
  -- with its own error: the count below must not tell the caller how many channels it has.
  IF NOT outreach.controller_visible(NEW.controller_id, 'dpo') THEN
    RETURN NEW;
  END IF;
  IF (SELECT count(*) FROM outreach.notification_channel c
      WHERE c.controller_id OPERATOR(pg_catalog.=) NEW.controller_id) >= 10 THEN
    RAISE EXCEPTION 'a member has at most 10 notification channels' USING ERRCODE = '54000',
      HINT = 'Delete or reuse a channel (UPDATE its target) instead.';
  END IF;
  RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.notification_channel_limit() FROM PUBLIC;
COMMENT ON FUNCTION outreach.notification_channel_limit() IS 'trigger: at most 10 notification channels per member';
CREATE OR REPLACE TRIGGER notification_channel_limit BEFORE INSERT ON outreach.notification_channel
  FOR EACH ROW EXECUTE FUNCTION outreach.notification_channel_limit();
-- RFC 4180 CSV for linkage files: the exports to DfE, ESFA, HESA and UCAS and the outcome files
-- they return (extension/src/core/csv.hpp has the rules). Pure utilities: EXECUTE stays with
-- PUBLIC.

CREATE OR REPLACE FUNCTION outreach.csv_record(fields text[]) RETURNS text
  AS 'MODULE_PATHNAME', 'csv_record' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.csv_record(text[]) IS
  'one RFC 4180 CSV record (no line terminator) of a one-dimensional array: a field is quoted only '
  'when it contains a comma, double quote, CR or LF, begins or ends with a space or begins with '
  'U+FEFF; quotes are doubled; NULL and empty elements are written empty (a record of one empty '
  'field as "")';

CREATE OR REPLACE FUNCTION outreach.csv_records(content bytea)
  RETURNS TABLE (line_no integer, fields text[], error text, terminated boolean)
  AS 'MODULE_PATHNAME', 'csv_records' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000;
COMMENT ON FUNCTION outreach.csv_records(bytea) IS
  'the records of an RFC 4180 CSV file (UTF-8, LF or CRLF, optional byte order mark), one row per '
  'record with the physical line it starts on; a bad record has fields NULL and error set and '
  'reading resumes at the next line; terminated is false for a last line without a line '
  'terminator (a possible truncation); empty fields are empty strings, never NULL';
COMMENT ON TABLE outreach.recipient_definition IS
  'linkage recipients: shipped definitions and the service''s own (which take precedence); read outreach.recipient';

-- What the service uses: the service's own row of a name if there is one, else the shipped one.
CREATE OR REPLACE VIEW outreach.recipient AS
SELECT DISTINCT ON (d.name)
       d.name, d.title, d.enabled, d.export_layout, d.outcome_layout, d.cohort_from, d.cohort_to,
       d.file_pattern, d.pgp_public_key, d.shipped, d.updated_at
FROM outreach.recipient_definition d
ORDER BY d.name, d.shipped;
COMMENT ON VIEW outreach.recipient IS
  'the linkage recipients in force: name, title, enabled, current layouts, cohort window, file pattern, OpenPGP key';
COMMENT ON TABLE outreach.recipient_layout IS
  'versions of each recipient''s export and outcome file layouts (1-100 shipped, from 101 the service''s own)';
COMMENT ON COLUMN outreach.recipient_layout.outcome_kind IS
  'outcome layouts without an outcome column: the kind of outcome every row is';
COMMENT ON TABLE outreach.recipient_layout_column IS
  'the columns of a layout in order: header, the field it holds, and whether a participant without it is left out';

-- Checks a layout's columns (jsonb array of {"header", "field", "required"}) for its kind.
-- Raises 22023 with the reason; used by define_layout and by the shipped definitions below.
CREATE OR REPLACE FUNCTION outreach.check_layout_columns(kind text, columns jsonb, outcome_kind text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  c jsonb;
  fields text[] := '{}';
  headers text[] := '{}';
  allowed text[] := CASE kind
    WHEN 'export' THEN ARRAY['reference', 'forename', 'surname', 'date_of_birth', 'postcode', 'sex', 'school_urn',
                             'school_ukprn', 'upn', 'uln', 'entry_year', 'extend_link_by', 'member', 'blank',
                             'record_action']
    WHEN 'outcome' THEN ARRAY['reference', 'outcome', 'academic_year', 'measure', 'value', 'provider_ukprn',
                              'provider_name', 'ignore'] END;
  f text;
BEGIN
  IF allowed IS NULL THEN
    RAISE EXCEPTION 'layout kind must be export or outcome, not "%"', kind USING ERRCODE = '22023';
  END IF;
  IF columns IS NULL OR jsonb_typeof(columns) <> 'array' OR jsonb_array_length(columns) = 0 THEN
    RAISE EXCEPTION 'a layout needs a non-empty JSON array of columns' USING ERRCODE = '22023',
      HINT = 'e.g. [{"header": "Reference", "field": "reference", "required": true}, ...]';
  END IF;
  IF jsonb_array_length(columns) > 100 THEN
    RAISE EXCEPTION 'a layout has at most 100 columns' USING ERRCODE = '22023';
  END IF;
  FOR c IN SELECT * FROM jsonb_array_elements(columns) LOOP
    IF jsonb_typeof(c) <> 'object' OR jsonb_typeof(c -> 'header') <> 'string' OR jsonb_typeof(c -> 'field') <> 'string'
       OR (c ? 'required' AND jsonb_typeof(c -> 'required') <> 'boolean')
       OR EXISTS (SELECT 1 FROM jsonb_object_keys(c) k WHERE k NOT IN ('header', 'field', 'required')) THEN
      RAISE EXCEPTION 'layout column % is not {"header": text, "field": text, "required": boolean}', c
        USING ERRCODE = '22023';
    END IF;
    f := c ->> 'field';
    IF NOT f = ANY (allowed) THEN
      RAISE EXCEPTION 'unknown % field "%"', kind, f USING ERRCODE = '22023',
        HINT = 'Fields: ' || array_to_string(allowed, ', ') || '.';
    END IF;
    IF length(c ->> 'header') NOT BETWEEN 1 AND 100 OR (c ->> 'header') ~ '[\r\n]' THEN
      RAISE EXCEPTION 'header "%" must be 1 to 100 characters on one line', c ->> 'header' USING ERRCODE = '22023';
    END IF;
    IF lower(c ->> 'header') = ANY (headers) THEN
      RAISE EXCEPTION 'header "%" appears twice', c ->> 'header' USING ERRCODE = '22023';
    END IF;
    IF f = ANY (fields) AND f NOT IN ('blank', 'ignore') THEN
      RAISE EXCEPTION 'field "%" appears twice', f USING ERRCODE = '22023';
    END IF;
    headers := headers || lower(c ->> 'header');
    fields := fields || f;
  END LOOP;
  IF NOT 'reference' = ANY (fields) THEN
    RAISE EXCEPTION 'a layout needs a reference column' USING ERRCODE = '22023',
      HINT = 'The per-recipient pseudonymous reference is how returned rows are matched back.';
  END IF;
  IF kind = 'outcome' THEN
    IF NOT 'academic_year' = ANY (fields) THEN
      RAISE EXCEPTION 'an outcome layout needs an academic_year column' USING ERRCODE = '22023';
    END IF;
    IF NOT 'outcome' = ANY (fields) AND outcome_kind IS NULL THEN
      RAISE EXCEPTION 'an outcome layout needs an outcome column or a fixed outcome_kind' USING ERRCODE = '22023';
    END IF;
  END IF;
END
$$;
COMMENT ON FUNCTION outreach.check_layout_columns(text, jsonb, text) IS
  'raises 22023 unless the columns are a valid layout of the kind (fields known, headers unique, a reference column)';

-- Creates or changes a recipient (the service's DBA). Only the values given change; '' clears
-- the OpenPGP key. A shipped recipient is changed by writing the service's own row beside it.
CREATE OR REPLACE FUNCTION outreach.define_recipient(name text, title text DEFAULT NULL, enabled boolean DEFAULT NULL,
                                          cohort_from int DEFAULT NULL, cohort_to int DEFAULT NULL,
                                          file_pattern text DEFAULT NULL, pgp_public_key text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cur outreach.recipient_definition;
BEGIN
  IF name IS NULL OR name !~ '^[a-z][a-z0-9_]{1,39}$' THEN
    RAISE EXCEPTION 'invalid recipient name "%"', name USING ERRCODE = '22023',
      HINT = 'Use 2 to 40 characters: a lower-case letter, then letters, digits or underscores.';
  END IF;
  IF file_pattern IS NOT NULL AND (file_pattern !~ '^[A-Za-z0-9_.{}-]{1,200}$' OR strpos(file_pattern, '{export_id}') = 0
                                   OR file_pattern ~ '^[.]') THEN
    RAISE EXCEPTION 'invalid file pattern "%"', file_pattern USING ERRCODE = '22023',
      HINT = 'Letters, digits, _ . - and the tokens {recipient} {year} {academic_year} {date} {export_id}; {export_id} is required.';
  END IF;
  IF pgp_public_key IS NOT NULL AND pgp_public_key <> '' AND pgp_public_key !~ '^-----BEGIN PGP PUBLIC KEY BLOCK-----' THEN
    RAISE EXCEPTION 'pgp_public_key must be an ASCII-armoured OpenPGP public key' USING ERRCODE = '22023';
  END IF;
  SELECT d.* INTO cur FROM outreach.recipient_definition d
  WHERE d.name = define_recipient.name ORDER BY d.shipped LIMIT 1;
  IF NOT FOUND AND (title IS NULL OR cohort_from IS NULL OR cohort_to IS NULL) THEN
    RAISE EXCEPTION 'a new recipient needs a title, cohort_from and cohort_to' USING ERRCODE = '22023';
  END IF;
  IF coalesce(cohort_from, cur.cohort_from) > coalesce(cohort_to, cur.cohort_to)
     OR coalesce(cohort_from, cur.cohort_from) NOT BETWEEN -30 AND 30 OR coalesce(cohort_to, cur.cohort_to) NOT BETWEEN -30 AND 30 THEN
    RAISE EXCEPTION 'the cohort window must satisfy -30 <= cohort_from <= cohort_to <= 30' USING ERRCODE = '22023';
  END IF;
  INSERT INTO outreach.recipient_definition AS d (name, shipped, title, enabled, export_layout, outcome_layout,
                                                  cohort_from, cohort_to, file_pattern, pgp_public_key)
  VALUES (define_recipient.name, false, coalesce(define_recipient.title, cur.title),
          coalesce(define_recipient.enabled, cur.enabled, true), cur.export_layout, cur.outcome_layout,
          coalesce(define_recipient.cohort_from, cur.cohort_from), coalesce(define_recipient.cohort_to, cur.cohort_to),
          coalesce(define_recipient.file_pattern, cur.file_pattern, '{recipient}_outreach_{year}_{export_id}.csv'),
          CASE WHEN define_recipient.pgp_public_key = '' THEN NULL
               ELSE coalesce(define_recipient.pgp_public_key, cur.pgp_public_key) END)
  ON CONFLICT ON CONSTRAINT recipient_definition_pkey DO UPDATE
    SET title = EXCLUDED.title, enabled = EXCLUDED.enabled, cohort_from = EXCLUDED.cohort_from,
        cohort_to = EXCLUDED.cohort_to, file_pattern = EXCLUDED.file_pattern,
        pgp_public_key = EXCLUDED.pgp_public_key, updated_at = now();
END
$$;
COMMENT ON FUNCTION outreach.define_recipient(text, text, boolean, int, int, text, text) IS
  'creates or changes a linkage recipient (only the values given; '''' clears the OpenPGP key)';

-- Adds a layout version for a recipient and (by default) makes it the current one. Layouts are
-- never changed in place: an export records the version it used.
CREATE OR REPLACE FUNCTION outreach.define_layout(recipient text, kind text, columns jsonb,
                                       date_format text DEFAULT 'YYYY-MM-DD', value_codes jsonb DEFAULT '{}',
                                       unknown_postcode text DEFAULT NULL, outcome_kind text DEFAULT NULL,
                                       note text DEFAULT NULL, activate boolean DEFAULT true)
RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v int;
  codes jsonb;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM outreach.recipient_definition d WHERE d.name = define_layout.recipient) THEN
    RAISE EXCEPTION 'unknown recipient "%"', recipient USING ERRCODE = '42704';
  END IF;
  PERFORM outreach.check_layout_columns(kind, columns, outcome_kind);
  IF date_format IS NULL OR date_format NOT IN ('YYYY-MM-DD', 'DD/MM/YYYY', 'YYYYMMDD', 'DD-MM-YYYY') THEN
    RAISE EXCEPTION 'date_format must be one of YYYY-MM-DD, DD/MM/YYYY, YYYYMMDD, DD-MM-YYYY' USING ERRCODE = '22023';
  END IF;
  IF value_codes IS NULL OR jsonb_typeof(value_codes) <> 'object'
     OR EXISTS (SELECT 1 FROM jsonb_each(value_codes) e
                WHERE e.key NOT IN ('sex', 'outcome', 'record_action') OR jsonb_typeof(e.value) <> 'object'
                   OR EXISTS (SELECT 1 FROM jsonb_each(e.value) c WHERE jsonb_typeof(c.value) <> 'string')) THEN
    RAISE EXCEPTION 'value_codes must be {"sex": {code: text, ...}}, {"record_action": {action: text, ...}} or {"outcome": {code: kind, ...}}'
      USING ERRCODE = '22023';
  END IF;
  -- record_action: what the file writes for each action (new, correction, erasure, withdrawal,
  -- restriction); an action not listed is written as an empty field.
  IF value_codes ? 'record_action' AND EXISTS (
       SELECT 1 FROM jsonb_object_keys(value_codes -> 'record_action') k
       WHERE lower(btrim(k)) NOT IN ('new', 'correction', 'erasure', 'withdrawal', 'restriction')) THEN
    RAISE EXCEPTION 'record_action codes are given for new, correction, erasure, withdrawal and restriction'
      USING ERRCODE = '22023', HINT = 'e.g. {"record_action": {"new": "N", "correction": "C", "erasure": "D", "withdrawal": "D", "restriction": "R"}}';
  END IF;
  IF value_codes ? 'outcome' AND EXISTS (
       SELECT 1 FROM jsonb_each_text(value_codes -> 'outcome') c
       WHERE c.value NOT IN ('ks4', 'ks5', 'he_application', 'he_entry', 'continuation')) THEN
    RAISE EXCEPTION 'outcome codes must map to ks4, ks5, he_application, he_entry or continuation' USING ERRCODE = '22023';
  END IF;
  -- Codes are matched trimmed and in lower case: store the keys that way.
  SELECT coalesce(jsonb_object_agg(f.key, (SELECT coalesce(jsonb_object_agg(lower(btrim(c.key)), c.value), '{}')
                                            FROM jsonb_each(f.value) c)), '{}')
    INTO codes FROM jsonb_each(value_codes) f;
  IF outcome_kind IS NOT NULL AND (kind <> 'outcome' OR outcome_kind NOT IN ('ks4', 'ks5', 'he_application', 'he_entry', 'continuation')) THEN
    RAISE EXCEPTION 'outcome_kind applies to outcome layouts and is one of ks4, ks5, he_application, he_entry, continuation'
      USING ERRCODE = '22023';
  END IF;
  -- Serialise definitions of the same recipient, then take the next free version (from 101).
  PERFORM 1 FROM outreach.recipient_definition d WHERE d.name = define_layout.recipient FOR UPDATE;
  SELECT greatest(coalesce(max(l.version), 0), 100) + 1 INTO v
  FROM outreach.recipient_layout l WHERE l.recipient = define_layout.recipient AND l.kind = define_layout.kind;
  INSERT INTO outreach.recipient_layout (recipient, kind, version, date_format, value_codes, unknown_postcode, outcome_kind, note)
  VALUES (define_layout.recipient, define_layout.kind, v, date_format, codes, nullif(btrim(unknown_postcode), ''),
          outcome_kind, note);
  INSERT INTO outreach.recipient_layout_column (recipient, kind, version, position, header, field, required)
  SELECT define_layout.recipient, define_layout.kind, v, c.ord, btrim(c.col ->> 'header'), c.col ->> 'field',
         coalesce((c.col ->> 'required')::boolean, c.col ->> 'field' = 'reference')
  FROM jsonb_array_elements(columns) WITH ORDINALITY AS c(col, ord);
  IF activate THEN
    PERFORM outreach.define_recipient(define_layout.recipient);  -- the service's own row, if not yet there
    UPDATE outreach.recipient_definition d
    SET export_layout = CASE WHEN define_layout.kind = 'export' THEN v ELSE d.export_layout END,
        outcome_layout = CASE WHEN define_layout.kind = 'outcome' THEN v ELSE d.outcome_layout END,
        updated_at = now()
    WHERE d.name = define_layout.recipient AND NOT d.shipped;
  END IF;
  RETURN v;
END
$$;
COMMENT ON FUNCTION outreach.define_layout(text, text, jsonb, text, jsonb, text, text, text, boolean) IS
  'adds a version of a recipient''s export or outcome layout (and makes it current unless activate is false); returns the version';

-- A layout that an export or import has used must stay as it was: rows are never changed.
CREATE OR REPLACE FUNCTION outreach.layout_immutable() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE EXCEPTION 'layouts are not changed in place' USING ERRCODE = '55000',
    HINT = 'Add a new version with outreach.define_layout().';
END
$$;
COMMENT ON FUNCTION outreach.layout_immutable() IS 'trigger: refuses updates of layouts (add a version instead)';
CREATE OR REPLACE TRIGGER layout_immutable BEFORE UPDATE ON outreach.recipient_layout
  FOR EACH ROW EXECUTE FUNCTION outreach.layout_immutable();
CREATE OR REPLACE TRIGGER layout_immutable BEFORE UPDATE ON outreach.recipient_layout_column
  FOR EACH ROW EXECUTE FUNCTION outreach.layout_immutable();

-- Recipients and layouts are not personal data: the daemon and the service read them, members
-- may see which recipients exist and how their files look.
REVOKE ALL ON outreach.recipient_definition, outreach.recipient, outreach.recipient_layout,
              outreach.recipient_layout_column FROM PUBLIC;
GRANT SELECT ON outreach.recipient, outreach.recipient_definition, outreach.recipient_layout,
                outreach.recipient_layout_column
  TO outreach_daemon, outreach_processor, outreach_reader, outreach_analyst;
REVOKE EXECUTE ON FUNCTION outreach.define_recipient(text, text, boolean, int, int, text, text),
  outreach.define_layout(text, text, jsonb, text, jsonb, text, text, text, boolean),
  outreach.layout_immutable() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION outreach.check_layout_columns(text, jsonb, text) FROM PUBLIC;
COMMENT ON TABLE outreach.export IS
  'linkage exports: recipient, layout, status (building, finished, abandoned), file name, rows, checksum, manifest';
REVOKE ALL ON outreach.export FROM PUBLIC;
GRANT SELECT ON outreach.export TO outreach_daemon, outreach_processor;

-- The column specs of an export layout for export_line (core/export_format.hpp): how each
-- column's value is written. Coded fields (sex, record_action) map values through the layout's
-- value_codes, matched trimmed and in lower case, "*" for anything else.
CREATE OR REPLACE FUNCTION outreach.export_column_specs(recipient text, layout_version int) RETURNS text[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT array_agg(CASE c.field
           WHEN 'forename' THEN 'trim' WHEN 'surname' THEN 'trim'
           WHEN 'date_of_birth' THEN 'date:' || l.date_format
           WHEN 'sex' THEN 'code:' || coalesce(codes.spec, '')
           WHEN 'record_action' THEN CASE WHEN codes.spec IS NULL THEN 'text' ELSE 'code:' || codes.spec END
           ELSE 'text' END ORDER BY c.position)
  FROM outreach.recipient_layout l
  JOIN outreach.recipient_layout_column c ON c.recipient = l.recipient AND c.kind = l.kind AND c.version = l.version
  LEFT JOIN LATERAL (
    SELECT string_agg(replace(replace(replace(k.key, '\', '\\'), ';', '\;'), '=', '\=') || '='
                      || replace(replace(replace(k.value, '\', '\\'), ';', '\;'), '=', '\='), ';' ORDER BY k.key) AS spec
    FROM jsonb_each_text(l.value_codes -> c.field) k WHERE c.field IN ('sex', 'record_action')) AS codes ON true
  WHERE l.recipient = export_column_specs.recipient AND l.kind = 'export' AND l.version = layout_version
$$;
COMMENT ON FUNCTION outreach.export_column_specs(text, int) IS
  'export_line''s column specs for an export layout, in column order';
REVOKE EXECUTE ON FUNCTION outreach.export_column_specs(text, int) FROM PUBLIC;

-- The SELECT that renders a recipient's export rows under a layout: per participant its keys,
-- cohort (entry year), row version, reference (the one it was sent under before, else a new
-- one), the hash of what it was last sent, and its record. Built from the layout (data) with
-- every value quoted as a literal; the field kinds are the only code. eligible_only adds the
-- eligibility rule; keyed ($1 controller ids, $2 participant ids) restricts it to those.
CREATE OR REPLACE FUNCTION outreach.export_render_sql(recipient text, layout_version int, as_of date,
                                                      eligible_only boolean, keyed boolean DEFAULT false)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  r record;
  lay outreach.recipient_layout;
  c record;
  ay int := outreach.academic_year(as_of);
  specs text[] := outreach.export_column_specs(recipient, layout_version);
  exprs text[] := '{}';
  hashed_exprs text[] := '{}';
  conds text[] := '{}';
  e text;
  sex_case text;
  sex_codes jsonb;
  has_action boolean := false;
  needs_institution boolean := false;
  needs_controller boolean := false;
BEGIN
  SELECT * INTO r FROM outreach.recipient v WHERE v.name = export_render_sql.recipient;
  SELECT * INTO lay FROM outreach.recipient_layout l
  WHERE l.recipient = export_render_sql.recipient AND l.kind = 'export' AND l.version = layout_version;
  IF NOT FOUND OR r.name IS NULL THEN
    RAISE EXCEPTION 'recipient "%" has no export layout version %', recipient, layout_version USING ERRCODE = '22023';
  END IF;
  -- sex: codes matched on the trimmed, lower-cased value; "*" is everything else
  sex_codes := coalesce(lay.value_codes -> 'sex', '{}');
  SELECT 'CASE lower(btrim(p.sex))' || coalesce(string_agg(format(' WHEN %L THEN %L', k.key, k.value), '' ORDER BY k.key), '')
    INTO sex_case FROM jsonb_each_text(sex_codes) k WHERE k.key <> '*';
  FOR c IN SELECT * FROM outreach.recipient_layout_column lc
           WHERE lc.recipient = export_render_sql.recipient AND lc.kind = 'export' AND lc.version = layout_version
           ORDER BY lc.position LOOP
    -- the value; export_line writes it by the column's spec (export_column_specs)
    e := CASE c.field
      WHEN 'reference' THEN 'x.reference'
      WHEN 'forename' THEN 'x.first_name'
      WHEN 'surname' THEN 'x.last_name'
      WHEN 'date_of_birth' THEN 'x.date_of_birth'
      WHEN 'postcode' THEN CASE WHEN lay.unknown_postcode IS NULL THEN 'x.postcode'
                                ELSE format('coalesce(x.postcode, %L)', lay.unknown_postcode) END
      WHEN 'sex' THEN 'x.sex'
      WHEN 'school_urn' THEN 'x.urn'
      WHEN 'school_ukprn' THEN 'x.ukprn'
      WHEN 'upn' THEN 'x.upn'
      WHEN 'uln' THEN 'x.uln'
      WHEN 'entry_year' THEN 'x.cohort_year'
      WHEN 'extend_link_by' THEN format('CASE WHEN x.cohort_year < %s THEN %s - x.cohort_year END', ay, ay)
      WHEN 'member' THEN 'x.member'
      WHEN 'blank' THEN 'NULL::text'
      -- first sent, or sent before and changed since (Art. 19: a correction)
      WHEN 'record_action' THEN 'CASE WHEN x.prev_hash IS NULL THEN ''new'' ELSE ''correction'' END'
    END;
    IF e IS NULL THEN
      RAISE EXCEPTION 'unknown export field "%"', c.field USING ERRCODE = '22023';
    END IF;
    exprs := exprs || e;
    -- the content hash leaves the action out: "new" then "correction" is no change of content
    hashed_exprs := hashed_exprs || CASE WHEN c.field = 'record_action' THEN 'NULL::text' ELSE e END;
    has_action := has_action OR c.field = 'record_action';
    needs_institution := needs_institution OR c.field IN ('school_urn', 'school_ukprn');
    needs_controller := needs_controller OR c.field = 'member';
    IF c.required THEN
      conds := conds || CASE c.field
        WHEN 'forename' THEN 'outreach.normalise_name(p.first_name) <> '''''
        WHEN 'surname' THEN 'outreach.normalise_name(p.last_name) <> '''''
        WHEN 'date_of_birth' THEN 'p.date_of_birth IS NOT NULL'
        WHEN 'postcode' THEN 'p.postcode IS NOT NULL'
        WHEN 'sex' THEN '(' || sex_case || ' END) IS NOT NULL'
        WHEN 'school_urn' THEN 'i.urn IS NOT NULL'
        WHEN 'school_ukprn' THEN 'i.ukprn IS NOT NULL'
        WHEN 'upn' THEN 'p.upn IS NOT NULL'
        WHEN 'uln' THEN 'p.uln IS NOT NULL'
        ELSE 'true' END;
    END IF;
  END LOOP;
  IF eligible_only THEN
    conds := ARRAY['p.withdrawn_at IS NULL', 'p.restricted_at IS NULL', 'p.retention_status = ''retained''',
                   format('e.cohort_year BETWEEN %s AND %s', ay + r.cohort_from, ay + r.cohort_to)] || conds;
  ELSE
    conds := '{}';
  END IF;
  IF keyed THEN
    conds := conds || '(p.controller_id, p.participant_id) IN (SELECT k.c, k.p FROM unnest($1::int[], $2::bigint[]) AS k(c, p))'::text;
  END IF;
  -- The inner query picks the participants and their values, the outer one writes each record
  -- in one call. No OFFSET 0 fences: flattened into one level, the records can be computed in
  -- parallel workers (export_stage_blocks); the price is that the reference's expression is
  -- evaluated twice per record (for the record and as a column), which costs less.
  -- The previous disclosure: hash-grouped rather than DISTINCT ON (a sort), the latest export's
  -- hash taken with max(ARRAY[export_id, hash]); a participant's reference never changes for a
  -- recipient (it is reused from the ledger), so min() of it is that reference.
  RETURN format($sql$
    SELECT x.controller_id, x.participant_id, x.cohort_year, x.src_xmin, x.restricted, x.reference, x.prev_hash,
           outreach.export_line(%L::text[], %s) AS line, %s AS hashed
    FROM (SELECT p.controller_id, p.participant_id, e.cohort_year, p.xmin AS src_xmin,
                 p.restricted_at IS NOT NULL AS restricted, prev.content_hash AS prev_hash,
                 coalesce(prev.reference, outreach.recipient_reference(p.controller_id, p.participant_id, %L)) AS reference,
                 p.first_name, p.last_name, p.date_of_birth, p.postcode::text AS postcode, p.sex, p.upn, p.uln,
                 %s AS urn, %s AS ukprn, %s AS member
          FROM outreach.participant p
          JOIN outreach.retention_policy pol ON pol.controller_id = p.controller_id
          %s %s
          CROSS JOIN LATERAL (SELECT coalesce(p.he_entry_year_override,
                                              outreach.expected_he_entry_year(p.date_of_birth, pol.nation)) AS cohort_year) AS e
          LEFT JOIN (SELECT d.controller_id, d.participant_id, min(d.reference) AS reference,
                            (max(ARRAY[d.export_id, d.content_hash]))[2] AS content_hash
                     FROM (SELECT b.controller_id, b.export_id, unnest(b.participant_ids) AS participant_id,
                                  unnest(b.participant_references) AS reference, unnest(b.content_hashes) AS content_hash
                           FROM outreach.disclosure_block b
                           WHERE b.recipient = %L %s) AS d
                     GROUP BY d.controller_id, d.participant_id) AS prev
            ON prev.controller_id = p.controller_id AND prev.participant_id = p.participant_id
          WHERE %s) AS x$sql$,
    specs, array_to_string(exprs, ', '),
    CASE WHEN has_action THEN format('outreach.export_line(%L::text[], %s)', specs, array_to_string(hashed_exprs, ', '))
         ELSE 'NULL::text' END,
    'recipient:' || recipient,
    CASE WHEN needs_institution THEN 'i.urn' ELSE 'NULL::int' END,
    CASE WHEN needs_institution THEN 'i.ukprn' ELSE 'NULL::int' END,
    CASE WHEN needs_controller THEN 'ctl.code' ELSE 'NULL::text' END,
    CASE WHEN needs_institution THEN 'LEFT JOIN outreach.institution i ON i.institution_id = p.institution_id' ELSE '' END,
    CASE WHEN needs_controller THEN 'JOIN outreach.controller ctl ON ctl.controller_id = p.controller_id' ELSE '' END,
    recipient,
    CASE WHEN keyed THEN 'AND (b.controller_id, b.block) IN (SELECT k.c, (k.p >> 12)::int FROM unnest($1::int[], $2::bigint[]) AS k(c, p))'
         ELSE '' END,
    CASE WHEN cardinality(conds) = 0 THEN 'true' ELSE array_to_string(conds, ' AND ') END);
END
$$;
COMMENT ON FUNCTION outreach.export_render_sql(text, int, date, boolean, boolean) IS
  'the query rendering a recipient''s export rows from its layout (with the eligibility rule when eligible_only)';

-- File name from the recipient's pattern.
CREATE OR REPLACE FUNCTION outreach.export_file_name(pattern text, recipient text, as_of date, export_id bigint) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT replace(replace(replace(replace(replace(pattern,
           '{recipient}', recipient),
           '{year}', extract(year FROM as_of)::int::text),
           '{academic_year}', outreach.academic_year(as_of)::text),
           '{date}', to_char(as_of, 'YYYYMMDD')),
           '{export_id}', lpad(export_id::text, greatest(6, length(export_id::text)), '0'))
$$;
COMMENT ON FUNCTION outreach.export_file_name(text, text, date, bigint) IS
  'an export''s file name from the recipient''s pattern ({recipient} {year} {academic_year} {date} {export_id})';

-- Removes an export's staged blocks: the whole (unlogged) table at once when no other export is
-- being built, which is the usual case, else just its rows.
CREATE OR REPLACE FUNCTION outreach.export_clear_staging(export_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  DELETE FROM outreach.export_touch t WHERE t.export_id = export_clear_staging.export_id;
  DELETE FROM outreach.export_action_line a WHERE a.export_id = export_clear_staging.export_id;
  IF NOT EXISTS (SELECT 1 FROM outreach.export e
                 WHERE e.status = 'building' AND e.export_id <> export_clear_staging.export_id) THEN
    -- Waits for a begin in progress (it holds a lock on the table while it stages); then looks again.
    LOCK TABLE outreach.export_chunk IN ACCESS EXCLUSIVE MODE;
    IF NOT EXISTS (SELECT 1 FROM outreach.export e
                   WHERE e.status = 'building' AND e.export_id <> export_clear_staging.export_id) THEN
      TRUNCATE outreach.export_chunk;
      RETURN;
    END IF;
  END IF;
  DELETE FROM outreach.export_chunk s WHERE s.export_id = export_clear_staging.export_id;
END
$$;
COMMENT ON FUNCTION outreach.export_clear_staging(bigint) IS 'removes the staged rows of an export';

-- export_begin takes its locks (a still-building export's row, then SHARE on
-- outreach.participant) through lock_ahead_of_members, so that waiting for members'
-- transactions never stalls every other member.
CREATE OR REPLACE FUNCTION outreach.export_begin(recipient text, as_of date DEFAULT current_date)
RETURNS TABLE (export_id bigint, file_name text, layout_version int, row_count bigint, pgp_public_key text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
-- (other locks: the SHARE lock below is taken by lock_ahead_of_members)
SET lock_timeout = '60s'
AS $$
#variable_conflict use_column
DECLARE
  r record;
  ay int;
  new_id bigint;
  fname text;
  n bigint;
  actions int := 0;
BEGIN
  IF as_of IS NULL OR as_of NOT BETWEEN DATE '1950-01-01' AND DATE '2200-01-01' THEN
    RAISE EXCEPTION 'as_of must be a date between 1950 and 2200' USING ERRCODE = '22023';
  END IF;
  SELECT * INTO r FROM outreach.recipient v WHERE v.name = export_begin.recipient;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown recipient "%"', recipient USING ERRCODE = '42704',
      HINT = 'Recipients are listed in outreach.recipient.';
  END IF;
  IF r.export_layout IS NULL OR NOT EXISTS (SELECT 1 FROM outreach.recipient_layout l
                                            WHERE l.recipient = r.name AND l.kind = 'export' AND l.version = r.export_layout) THEN
    RAISE EXCEPTION 'recipient "%" has no export layout', recipient USING ERRCODE = '22023',
      HINT = 'Define one with outreach.define_layout(recipient, ''export'', columns).';
  END IF;
  IF NOT r.enabled THEN
    RAISE EXCEPTION 'recipient "%" is disabled', recipient USING ERRCODE = '55000';
  END IF;
  -- A sharing agreement in force today, or nothing is written or recorded.
  PERFORM outreach.require_agreement(r.name);
  -- The recipient's key must be in the key file (42704 naming the scope, before any work).
  PERFORM outreach.pseudonymise('c0', 'p0', DATE '1900-01-01', 'GIR 0AA', 'recipient:' || r.name);
  -- One export of a recipient is built at a time: begins of the same recipient queue here.
  PERFORM 1 FROM outreach.recipient_definition d WHERE d.name = r.name FOR UPDATE;
  -- An export still building is a run that crashed or was given up: abandon it. (Members'
  -- transactions changing participants hold its row in share mode: lock it without queueing.)
  PERFORM outreach.lock_ahead_of_members(pg_catalog.format(
    'SELECT 1 FROM outreach.export e WHERE e.recipient = %L AND e.status = ''building'' FOR UPDATE NOWAIT', r.name));
  UPDATE outreach.export e SET status = 'abandoned', finished_at = clock_timestamp(),
         error = 'abandoned: a new export of the recipient began'
  WHERE e.recipient = r.name AND e.status = 'building';
  IF FOUND THEN
    DELETE FROM outreach.export_chunk s USING outreach.export e
    WHERE s.export_id = e.export_id AND e.recipient = r.name AND e.status = 'abandoned';
    DELETE FROM outreach.export_touch t USING outreach.export e
    WHERE t.export_id = e.export_id AND e.recipient = r.name AND e.status = 'abandoned';
    DELETE FROM outreach.export_action_line t USING outreach.export e
    WHERE t.export_id = e.export_id AND e.recipient = r.name AND e.status = 'abandoned';
  END IF;

  ay := outreach.academic_year(as_of);
  INSERT INTO outreach.export (recipient, layout_version, as_of, entry_year_from, entry_year_to, file_name, started_by)
  VALUES (r.name, r.export_layout, as_of, ay + r.cohort_from, ay + r.cohort_to, '', outreach.invoking_role()::text)
  RETURNING export.export_id INTO new_id;
  fname := outreach.export_file_name(r.file_pattern, r.name, as_of, new_id);
  IF r.pgp_public_key IS NOT NULL THEN
    fname := fname || '.gpg';  -- the daemon encrypts it to the recipient's OpenPGP key
  END IF;

  -- No participant changes between the staging snapshot and this transaction's commit: the
  -- lock waits for members' transactions in progress (their changes are then staged) and holds
  -- new ones until the export is visible to their triggers (which record them in export_touch).
  PERFORM outreach.lock_ahead_of_members('LOCK TABLE outreach.participant IN SHARE MODE NOWAIT');

  -- Stage the blocks (the eligible participants whose record changed or was never sent).
  INSERT INTO outreach.export_chunk
  SELECT * FROM outreach.export_stage_blocks(new_id, r.name, r.export_layout, as_of);
  SELECT coalesce(sum(cardinality(s.participant_ids)), 0) INTO n FROM outreach.export_chunk s WHERE s.export_id = new_id;
  IF EXISTS (SELECT 1 FROM outreach.recipient_layout_column c
             WHERE c.recipient = r.name AND c.kind = 'export' AND c.version = r.export_layout AND c.field = 'record_action') THEN
    actions := outreach.export_stage_actions(new_id, r.name, r.export_layout);
  END IF;

  UPDATE outreach.export e SET file_name = fname, row_count = n + actions, action_rows = actions
  WHERE e.export_id = new_id;
  n := n + actions;
  RETURN QUERY SELECT new_id, fname, r.export_layout, n, r.pgp_public_key;
END
$$;
COMMENT ON FUNCTION outreach.export_begin(text, date) IS
  'opens an export of a recipient and stages its eligible participants; returns id, file name, layout, rows and OpenPGP key';

CREATE OR REPLACE FUNCTION outreach.export_lines(export_id bigint) RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- RETURN QUERY collects the lines before the caller reads them: in memory, not in a file.
SET work_mem = '256MB'
AS $$
DECLARE
  e outreach.export;
BEGIN
  SELECT * INTO e FROM outreach.export x WHERE x.export_id = export_lines.export_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown export %', export_id USING ERRCODE = '42704';
  END IF;
  IF e.status <> 'building' THEN
    RAISE EXCEPTION 'export % is %: its rows are no longer staged', export_id, e.status USING ERRCODE = '55000',
      HINT = 'Begin a new export.';
  END IF;
  RETURN QUERY
  SELECT outreach.csv_record(array_agg(c.header ORDER BY c.position))
  FROM outreach.recipient_layout_column c
  WHERE c.recipient = e.recipient AND c.kind = 'export' AND c.version = e.layout_version;
  -- Block by block in key order, each block's records in participant order.
  RETURN QUERY
  SELECT u.line
  FROM (SELECT s.lines FROM outreach.export_chunk s WHERE s.export_id = export_lines.export_id
        ORDER BY s.controller_id, s.block) AS s
  CROSS JOIN LATERAL unnest(s.lines) AS u(line);
  -- Then the erasure, withdrawal and restriction records.
  RETURN QUERY
  SELECT a.line FROM outreach.export_action_line a WHERE a.export_id = export_lines.export_id
  ORDER BY a.controller_id, a.participant_id;
END
$$;
COMMENT ON FUNCTION outreach.export_lines(bigint) IS
  'the records of an export''s file, header first, one RFC 4180 record per staged row, without line terminators';

-- Follow-ups for participants staged in an export who changed or were deleted after staging
-- (their trigger ran before the ledger rows existed): what was staged compared with now.
CREATE OR REPLACE FUNCTION outreach.export_changed_since_staging(export_id bigint) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
AS $$
DECLARE
  e outreach.export;
  cids int[];
  pids bigint[];
  n int;
BEGIN
  SELECT * INTO e FROM outreach.export x WHERE x.export_id = export_changed_since_staging.export_id;
  -- Candidates: participants changed or deleted since they were staged (their triggers
  -- recorded them; this export's row lock made their transactions finish first).
  SELECT array_agg(t.controller_id), array_agg(t.participant_id) INTO cids, pids
  FROM outreach.export_touch t WHERE t.export_id = e.export_id;
  IF cids IS NULL THEN
    RETURN 0;
  END IF;
  EXECUTE format($sql$
    INSERT INTO outreach.recipient_followup (controller_id, participant_id, recipient, kind, reference, export_id, fields)
    SELECT s.controller_id, s.participant_id, %L, k.kind, s.reference, %s, k.fields
    FROM (SELECT c.controller_id, u.participant_id, u.reference, u.line
          FROM outreach.export_chunk c
          CROSS JOIN LATERAL unnest(c.participant_ids, c.participant_references, c.lines) AS u(participant_id, reference, line)
          WHERE c.export_id = %s
            AND (c.controller_id, c.block) IN (SELECT k.c, (k.p >> 12)::int FROM unnest($1::int[], $2::bigint[]) AS k(c, p))) AS s
    JOIN unnest($1::int[], $2::bigint[]) AS c(controller_id, participant_id)
      ON c.controller_id = s.controller_id AND c.participant_id = s.participant_id
    LEFT JOIN (%s) AS now ON now.controller_id = s.controller_id AND now.participant_id = s.participant_id
    CROSS JOIN LATERAL (
      SELECT 'erasure' AS kind, NULL::text[] AS fields WHERE now.participant_id IS NULL
      UNION ALL
      SELECT 'restriction', NULL WHERE now.restricted
      UNION ALL
      SELECT 'rectification', changed.headers
      FROM (SELECT array_agg(col.header ORDER BY col.i) AS headers
            FROM (SELECT lc.header, lc.field, row_number() OVER (ORDER BY lc.position) AS i
                  FROM outreach.recipient_layout_column lc
                  WHERE lc.recipient = %L AND lc.kind = 'export' AND lc.version = %s) AS col,
                 -- the staged record's fields and the current one's, read back
                 (SELECT sf.fields FROM outreach.csv_records(convert_to(s.line, 'UTF8')) AS sf LIMIT 1) AS staged,
                 (SELECT nf.fields FROM outreach.csv_records(convert_to(now.line, 'UTF8')) AS nf LIMIT 1) AS cur
            WHERE col.field NOT IN ('reference', 'record_action')
              AND staged.fields[col.i] IS DISTINCT FROM cur.fields[col.i]) AS changed
      WHERE now.participant_id IS NOT NULL AND changed.headers IS NOT NULL) AS k
    -- not when the participant's trigger has queued the same already (an earlier export sent them)
    WHERE NOT EXISTS (SELECT 1 FROM outreach.recipient_followup f
                      WHERE f.controller_id = s.controller_id AND f.participant_id = s.participant_id
                        AND f.recipient = %L AND f.kind = k.kind AND f.queued_at >= %L::timestamptz)$sql$,
    e.recipient, e.export_id, e.export_id,
    outreach.export_render_sql(e.recipient, e.layout_version, e.as_of, false, true),
    e.recipient, e.layout_version, e.recipient, e.started_at)
  USING cids, pids;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;
COMMENT ON FUNCTION outreach.export_changed_since_staging(bigint) IS
  'queues Art. 19 follow-ups for staged participants rectified, restricted or deleted before their export finished';

CREATE OR REPLACE FUNCTION outreach.export_finish(export_id bigint, sha256 text, row_count bigint) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
  e outreach.export;
  n bigint;
  f int;
  m jsonb;
BEGIN
  -- Waits for members' transactions that are changing staged participants (they lock the
  -- building exports in share mode), so every change is either seen below or sees the ledger.
  PERFORM outreach.lock_ahead_of_members(
    pg_catalog.format('SELECT 1 FROM outreach.export x WHERE x.export_id = %s FOR UPDATE NOWAIT', export_id));
  SELECT * INTO e FROM outreach.export x WHERE x.export_id = export_finish.export_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown export %', export_id USING ERRCODE = '42704';
  END IF;
  IF e.status = 'finished' AND e.sha256 = export_finish.sha256 AND e.row_count = export_finish.row_count THEN
    RETURN e.manifest;  -- a repeated call (the first one's reply was lost): same answer
  END IF;
  IF e.status = 'finished' THEN
    RAISE EXCEPTION 'export % is finished already, with another checksum or row count', export_id USING ERRCODE = '55000';
  ELSIF e.status <> 'building' THEN
    RAISE EXCEPTION 'export % was abandoned and cannot be finished', export_id USING ERRCODE = '55000',
      HINT = 'Begin a new export.';
  END IF;
  IF sha256 IS NULL OR sha256 !~ '^[0-9a-f]{64}$' THEN
    RAISE EXCEPTION 'sha256 must be 64 lower-case hexadecimal digits' USING ERRCODE = '22023';
  END IF;
  -- The agreement must still be in force when the file is handed over (it may have ended
  -- since the export began): else nothing is recorded and the daemon removes the file.
  PERFORM outreach.require_agreement(e.recipient);
  IF row_count IS DISTINCT FROM e.row_count THEN
    RAISE EXCEPTION 'export % staged % rows, not %', export_id, e.row_count, coalesce(row_count::text, 'NULL')
      USING ERRCODE = '22023', HINT = 'The file must hold every staged row (the header not counted).';
  END IF;

  -- The ledger: the staged blocks as they are, without the records themselves.
  WITH ledger AS (
    INSERT INTO outreach.disclosure_block (controller_id, block, export_id, recipient, participant_ids, cohort_years,
                                           participant_references, content_hashes)
    SELECT s.controller_id, s.block, s.export_id, e.recipient, s.participant_ids, s.cohort_years,
           s.participant_references, s.content_hashes
    FROM outreach.export_chunk s WHERE s.export_id = e.export_id
    RETURNING cardinality(participant_ids) AS n
  )
  SELECT coalesce(sum(ledger.n), 0) INTO n FROM ledger;
  -- The records of the follow-ups the file carried: those follow-ups are answered. (Counted
  -- with the blocks: a restart loses both, unlogged.)
  UPDATE outreach.recipient_followup f SET carried_by = e.export_id
  FROM (SELECT a.controller_id, unnest(a.followup_ids) AS followup_id
        FROM outreach.export_action_line a WHERE a.export_id = e.export_id) AS c
  WHERE f.controller_id = c.controller_id AND f.followup_id = c.followup_id AND f.carried_by IS NULL;
  n := n + (SELECT count(*) FROM outreach.export_action_line a WHERE a.export_id = e.export_id);
  IF e.action_rows > 0 THEN
    -- A corrected record sent again answers its rectification follow-ups too.
    UPDATE outreach.recipient_followup f SET carried_by = e.export_id
    WHERE f.recipient = e.recipient AND f.kind = 'rectification' AND f.carried_by IS NULL
      AND EXISTS (SELECT 1 FROM outreach.export_chunk s
                  WHERE s.export_id = e.export_id AND s.controller_id = f.controller_id
                    AND s.block = (f.participant_id >> 12)::int AND f.participant_id = ANY (s.participant_ids));
  END IF;
  IF n <> e.row_count THEN
    RAISE EXCEPTION 'export % lost its staged rows (% of %): the server restarted while it was built', export_id, n, e.row_count
      USING ERRCODE = '55000', HINT = 'Begin the export again (that abandons this one).';
  END IF;

  f := outreach.export_changed_since_staging(e.export_id);
  m := jsonb_build_object('recipient', e.recipient, 'layout_version', e.layout_version, 'created_at', e.started_at,
                          'row_count', e.row_count, 'sha256', sha256, 'file', e.file_name);
  IF e.action_rows > 0 THEN
    m := m || jsonb_build_object('action_rows', e.action_rows);
  END IF;
  UPDATE outreach.export x SET status = 'finished', finished_at = clock_timestamp(), sha256 = export_finish.sha256,
         manifest = m, followups = f
  WHERE x.export_id = e.export_id;
  PERFORM outreach.export_clear_staging(e.export_id);
  IF f > 0 THEN
    PERFORM outreach.recipient_followup_dispatch();
  END IF;
  RETURN m;
END
$$;
COMMENT ON FUNCTION outreach.export_finish(bigint, text, bigint) IS
  'finishes an export: checks the row count, writes the ledger, marks it finished and returns the manifest, in one transaction';

CREATE OR REPLACE FUNCTION outreach.export_abandon(export_id bigint, reason text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  e outreach.export;
BEGIN
  SELECT * INTO e FROM outreach.export x WHERE x.export_id = export_abandon.export_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown export %', export_id USING ERRCODE = '42704';
  END IF;
  IF e.status = 'finished' THEN
    RAISE EXCEPTION 'export % is finished and cannot be abandoned', export_id USING ERRCODE = '55000';
  END IF;
  IF e.status = 'building' THEN
    UPDATE outreach.export x SET status = 'abandoned', finished_at = clock_timestamp(),
           error = left(coalesce(nullif(btrim(reason), ''), 'abandoned'), 2000)
    WHERE x.export_id = e.export_id;
    PERFORM outreach.export_clear_staging(e.export_id);
  END IF;
END
$$;
COMMENT ON FUNCTION outreach.export_abandon(bigint, text) IS
  'abandons an export being built (its staged rows are dropped; nothing reaches the ledger)';

REVOKE EXECUTE ON FUNCTION outreach.export_render_sql(text, int, date, boolean, boolean),
  outreach.export_clear_staging(bigint), outreach.export_begin(text, date), outreach.export_lines(bigint),
  outreach.export_changed_since_staging(bigint), outreach.export_finish(bigint, text, bigint),
  outreach.export_abandon(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.export_begin(text, date), outreach.export_lines(bigint),
  outreach.export_finish(bigint, text, bigint), outreach.export_abandon(bigint, text) TO outreach_daemon;
REVOKE EXECUTE ON FUNCTION outreach.export_file_name(text, text, date, bigint) FROM PUBLIC;

-- Records in C, for speed: export_line writes one export record per call
-- (extension/src/core/export_format.hpp has the column specs), and recipient_reference makes the
-- per-recipient reference without SQL string building. Both serve export_render_sql(). Records
-- are staged in blocks of participants, the blocks the disclosure ledger keeps.
CREATE OR REPLACE FUNCTION outreach.export_line(spec text[], VARIADIC "any") RETURNS text
  AS 'MODULE_PATHNAME', 'export_line' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION outreach.export_line(text[], "any") IS
  'one RFC 4180 record of an export: each value written by its column spec (text, trim, date:FORMAT, '
  'code:K=V;...;*=V), as csv_record() of the formatted fields';

CREATE OR REPLACE FUNCTION outreach.recipient_reference(controller_id int, participant_id bigint, scope text) RETURNS text
  AS 'MODULE_PATHNAME', 'recipient_reference' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.recipient_reference(int, bigint, text) IS
  'a participant''s reference in a recipient''s files: pseudonymise(''c'' || controller_id, ''p'' || participant_id, '
  '''1900-01-01'', ''GIR 0AA'', scope)::text';

-- The reference is a keyed pseudonym (the same privilege as pseudonymise); export_line is only
-- used by the export functions.
REVOKE EXECUTE ON FUNCTION outreach.export_line(text[], "any"), outreach.recipient_reference(int, bigint, text) FROM PUBLIC;
CREATE OR REPLACE FUNCTION outreach.export_block_add(internal, bigint, int, xid, text, bigint, text, text) RETURNS internal
  AS 'MODULE_PATHNAME', 'export_block_add' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION outreach.export_block_final(internal) RETURNS outreach.export_block_data
  AS 'MODULE_PATHNAME', 'export_block_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE OR REPLACE AGGREGATE outreach.export_block(bigint, int, xid, text, bigint, text, text) (
  SFUNC = outreach.export_block_add, STYPE = internal, FINALFUNC = outreach.export_block_final,
  PARALLEL = SAFE   -- (no combine function: it runs above the workers, which compute its input)
);
COMMENT ON AGGREGATE outreach.export_block(bigint, int, xid, text, bigint, text, text) IS
  'the records of a block of an export being staged (participant id, cohort, row version, reference, hash last sent, line, what is hashed when not the line) that changed since sent, as arrays sorted by participant id';
REVOKE EXECUTE ON FUNCTION outreach.export_block_add(internal, bigint, int, xid, text, bigint, text, text),
  outreach.export_block_final(internal), outreach.export_block(bigint, int, xid, text, bigint, text, text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.export_block_add(internal, bigint, int, xid, text, bigint, text, text) IS
  'transition function of outreach.export_block: adds one record to the block';
COMMENT ON FUNCTION outreach.export_block_final(internal) IS
  'final function of outreach.export_block: the block''s records as arrays sorted by participant id';
COMMENT ON TABLE outreach.export_chunk IS
  'records of exports being built, per member and block of participants (unlogged; removed when the export finishes or is abandoned)';
REVOKE ALL ON outreach.export_chunk FROM PUBLIC;

-- The staged records a row each (for DBAs looking at an export in progress).
CREATE OR REPLACE VIEW outreach.export_row WITH (security_invoker = true) AS
SELECT c.export_id, c.controller_id, u.participant_id, u.cohort_year, u.src_xmin, u.reference, u.content_hash, u.line
FROM outreach.export_chunk c
CROSS JOIN LATERAL unnest(c.participant_ids, c.cohort_years, c.src_xmins, c.participant_references, c.content_hashes, c.lines)
  AS u(participant_id, cohort_year, src_xmin, reference, content_hash, line);
COMMENT ON VIEW outreach.export_row IS 'records of exports being built, a row each (from outreach.export_chunk)';
REVOKE ALL ON outreach.export_row FROM PUBLIC;
COMMENT ON TABLE outreach.export_touch IS
  'participants changed or deleted while an export was being built (compared with what it staged when it finishes)';
REVOKE ALL ON outreach.export_touch FROM PUBLIC;
COMMENT ON TABLE outreach.export_action_line IS
  'erasure, withdrawal and restriction records of exports being built (unlogged; removed when the export finishes or is abandoned)';
REVOKE ALL ON outreach.export_action_line FROM PUBLIC;

-- The records of the pending follow-ups of a recipient (one per person: erasure before
-- withdrawal before restriction, of what still holds; the person's pending rectifications are
-- answered by it too), written under the layout with only the reference and the action.
CREATE OR REPLACE FUNCTION outreach.export_stage_actions(export_id bigint, recipient text, layout_version int) RETURNS int
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  exprs text;
  n int;
BEGIN
  SELECT string_agg(CASE c.field WHEN 'reference' THEN 'a.reference' WHEN 'record_action' THEN 'a.kind'
                                 WHEN 'date_of_birth' THEN 'NULL::date'
                                 WHEN 'school_urn' THEN 'NULL::int' WHEN 'school_ukprn' THEN 'NULL::int'
                                 WHEN 'entry_year' THEN 'NULL::int' WHEN 'extend_link_by' THEN 'NULL::int'
                                 ELSE 'NULL::text' END, ', ' ORDER BY c.position)
    INTO exprs
  FROM outreach.recipient_layout_column c
  WHERE c.recipient = export_stage_actions.recipient AND c.kind = 'export' AND c.version = layout_version;
  EXECUTE format($sql$
    INSERT INTO outreach.export_action_line (export_id, controller_id, participant_id, followup_ids, line)
    SELECT %s, a.controller_id, a.participant_id, a.followup_ids, outreach.export_line(%L::text[], %s)
    FROM (SELECT f.controller_id, f.participant_id,
                 -- what still holds now: erased (gone), withdrawn, restricted
                 (array_agg(f.kind ORDER BY array_position(ARRAY['erasure', 'withdrawal', 'restriction'], f.kind::text))
                    FILTER (WHERE (f.kind = 'erasure' AND p.participant_id IS NULL)
                               OR (f.kind = 'withdrawal' AND p.withdrawn_at IS NOT NULL)
                               OR (f.kind = 'restriction' AND p.restricted_at IS NOT NULL)))[1] AS kind,
                 min(f.reference) AS reference, array_agg(f.followup_id ORDER BY f.followup_id) AS followup_ids
          FROM outreach.recipient_followup f
          LEFT JOIN outreach.participant p ON p.controller_id = f.controller_id AND p.participant_id = f.participant_id
          WHERE f.recipient = %L AND f.carried_by IS NULL AND f.cancelled_at IS NULL
          GROUP BY f.controller_id, f.participant_id) AS a
    WHERE a.kind IS NOT NULL$sql$,
    export_id, outreach.export_column_specs(recipient, layout_version), exprs, recipient);
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;
COMMENT ON FUNCTION outreach.export_stage_actions(bigint, text, int) IS
  'stages an export''s erasure, withdrawal and restriction records (layouts with a record_action column); returns how many';
REVOKE EXECUTE ON FUNCTION outreach.export_stage_actions(bigint, text, int) FROM PUBLIC;

-- The staged blocks of an export, by one query: the eligible participants' records, collected
-- per member and block by export_block (which keeps those changed since last sent). A function
-- of its own because INSERT ... SELECT never uses parallel workers, while a query run by RETURN
-- QUERY may: the records are then computed by two workers and the caller, and the blocks
-- gathered and collected in one hash table.
CREATE OR REPLACE FUNCTION outreach.export_stage_blocks(export_id bigint, recipient text, layout_version int, as_of date)
RETURNS SETOF outreach.export_chunk
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
SET jit = off   -- (the statement's estimate is far above jit_above_cost; compiling does not pay)
-- With stale statistics (a bulk update not yet analysed) the planner took the previous
-- disclosures for one row and rescanned them per participant until the statement timeout;
-- hash and merge joins only.
SET enable_nestloop = off
-- The blocks are collected in one hash table (export_block sorts each block's records by
-- participant), not after sorting every record; a million records fit in memory.
SET work_mem = '512MB'
SET enable_sort = off
AS $$
BEGIN
  RETURN QUERY EXECUTE format($sql$
    SELECT %s::bigint, g.controller_id, g.block, (g.b).participant_ids, (g.b).cohort_years, (g.b).src_xmins,
           (g.b).participant_references, (g.b).content_hashes, (g.b).lines
    FROM (SELECT r.controller_id, (r.participant_id >> 12)::int AS block,
                 outreach.export_block(r.participant_id, r.cohort_year, r.src_xmin, r.reference, r.prev_hash, r.line,
                                       r.hashed) AS b
          FROM (%s) AS r
          GROUP BY r.controller_id, (r.participant_id >> 12)::int
          OFFSET 0) AS g
    WHERE g.b IS NOT NULL$sql$,
    export_id, outreach.export_render_sql(recipient, layout_version, as_of, true));
END
$$;
COMMENT ON FUNCTION outreach.export_stage_blocks(bigint, text, int, date) IS
  'the staged blocks of an export: its eligible participants'' records that changed since last sent (used by export_begin)';
REVOKE EXECUTE ON FUNCTION outreach.export_stage_blocks(bigint, text, int, date) FROM PUBLIC;
-- Exports wait for members' transactions without stalling every other member. An export takes
-- a SHARE lock on outreach.participant at staging and, at finish, its own row, which members'
-- changes to participants lock in share mode while their transactions run (docs/linkage.md).
-- Queueing for those locks would be worse: while the export waited, every member's write to
-- participant would queue behind it, and a member that kept a transaction open would make every
-- export fail. So it never waits in the queue (NOWAIT, retried every 100 ms); after
-- outreach.member_lock_seconds (30 s) it ends the sessions of members' roles that hold locks on
-- outreach.participant (the only locks that can be in its way), and after twice that it gives up
-- with 55P03. The service's own roles and superusers are never ended.
CREATE OR REPLACE FUNCTION outreach.lock_ahead_of_members(attempt text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  started timestamptz := clock_timestamp();
  grace interval := pg_catalog.current_setting('outreach.member_lock_seconds')::interval;  -- ('30s')
  holder record;
BEGIN
  LOOP
    BEGIN
      EXECUTE attempt;
      RETURN;
    EXCEPTION WHEN lock_not_available THEN
      IF clock_timestamp() > started + 2 * grace THEN
        RAISE EXCEPTION 'members'' transactions held outreach.participant for % seconds',
          extract(epoch FROM 2 * grace) USING ERRCODE = '55P03',
          HINT = 'The export is retried at its next run.';
      END IF;
    END;
    IF clock_timestamp() > started + grace THEN
      FOR holder IN
        SELECT DISTINCT l.pid, a.usename
        FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid OPERATOR(pg_catalog.=) l.pid
        JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.usesysid
        WHERE l.locktype OPERATOR(pg_catalog.=) 'relation' AND l.granted
          AND l.relation OPERATOR(pg_catalog.=) 'outreach.participant'::pg_catalog.regclass
          AND l.database OPERATOR(pg_catalog.=) (SELECT d.oid FROM pg_catalog.pg_database d
                                                 WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database())
          AND l.mode OPERATOR(pg_catalog.<>) 'AccessShareLock'
          AND l.pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid()
          AND NOT r.rolsuper
          AND NOT pg_catalog.pg_has_role(r.oid, 'outreach_daemon', 'MEMBER')
          AND NOT pg_catalog.pg_has_role(r.oid, 'outreach_processor', 'MEMBER')
      LOOP
        RAISE WARNING 'outreach: ending session % of role "%": its transaction held up an export for % seconds',
          holder.pid, holder.usename, extract(epoch FROM grace);
        PERFORM pg_catalog.pg_terminate_backend(holder.pid);
      END LOOP;
    END IF;
    PERFORM pg_catalog.pg_sleep(0.1);
  END LOOP;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.lock_ahead_of_members(text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.lock_ahead_of_members(text) IS
  'runs a NOWAIT lock statement until it succeeds, never queueing; after outreach.member_lock_seconds ends members'' '
  'sessions holding outreach.participant, after twice that gives up (55P03)';
COMMENT ON TABLE outreach.disclosure_block IS
  'the disclosure ledger: per member, export and block of participant ids, who was sent (under which reference, with which content hash)';
REVOKE ALL ON outreach.disclosure_block FROM PUBLIC;
GRANT SELECT ON outreach.disclosure_block TO outreach_dpo;

-- The ledger a row per participant per export (the caller's row security applies: a DPO sees
-- their members' rows).
CREATE OR REPLACE VIEW outreach.disclosure WITH (security_invoker = true) AS
SELECT b.controller_id, u.participant_id, b.recipient, b.export_id, u.cohort_year, u.reference, u.content_hash
FROM outreach.disclosure_block b
CROSS JOIN LATERAL unnest(b.participant_ids, b.cohort_years, b.participant_references, b.content_hashes)
  AS u(participant_id, cohort_year, reference, content_hash);
COMMENT ON VIEW outreach.disclosure IS
  'the disclosure ledger a row per participant and export: which participant was sent to which recipient in which export, under which reference';
REVOKE ALL ON outreach.disclosure FROM PUBLIC;
GRANT SELECT ON outreach.disclosure TO outreach_dpo;
COMMENT ON COLUMN outreach.outcome_import.deferred IS
  'lines not imported because their member was deleting participants at the time (import the file again)';
COMMENT ON TABLE outreach.outcome_import IS 'every outcome file imported: recipient, file, checksum and what became of its lines';
COMMENT ON TABLE outreach.outcome_import_error IS 'the lines of an outcome file that were not imported, with the reason';
-- The files' bookkeeping spans members (one file, many members) and holds no personal data.
REVOKE ALL ON outreach.outcome_import, outreach.outcome_import_error FROM PUBLIC;
GRANT SELECT ON outreach.outcome_import, outreach.outcome_import_error TO outreach_daemon, outreach_processor;
-- The arrays are compressed with LZ4 where the server has it (ids, kinds, years and codes
-- repeat: a million facts take 13 MB instead of 96 MB), else with PostgreSQL's own: writing
-- a million facts' blocks uncompressed was 0.2 s of TOAST chunks, compressed with LZ4 0.1 s.
DO $$
DECLARE
  method text := CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_settings
                                   WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals))
                      THEN 'lz4' ELSE 'pglz' END;
  col text;
BEGIN
  FOREACH col IN ARRAY ARRAY['participant_ids', 'outcomes', 'academic_years', 'measures', 'provider_ukprns',
                             'provider_names', 'outcome_values', 'import_ids', 'line_nos', 'updated_ats'] LOOP
    EXECUTE format('ALTER TABLE outreach.outcome_block ALTER %I SET COMPRESSION %s', col, method);
  END LOOP;
END $$;
COMMENT ON TABLE outreach.outcome_block IS
  'outcomes returned by linkage recipients, per member, recipient and block of participant ids: KS4/KS5 attainment, HE applications, HE entry, continuation';
REVOKE ALL ON outreach.outcome_block FROM PUBLIC;
GRANT SELECT ON outreach.outcome_block TO outreach_reader, outreach_processor;

-- The facts a row each (the caller's row security applies: a member sees their own
-- participants' outcomes).
CREATE OR REPLACE VIEW outreach.outcome WITH (security_invoker = true) AS
SELECT b.controller_id, u.participant_id, b.recipient, u.outcome, u.academic_year, u.measure, u.provider_ukprn,
       u.provider_name, u.value, u.import_id, u.line_no, u.updated_at
FROM outreach.outcome_block b
CROSS JOIN LATERAL unnest(b.participant_ids, b.outcomes, b.academic_years, b.measures, b.provider_ukprns,
                          b.provider_names, b.outcome_values, b.import_ids, b.line_nos, b.updated_ats)
  AS u(participant_id, outcome, academic_year, measure, provider_ukprn, provider_name, value, import_id, line_no, updated_at);
COMMENT ON VIEW outreach.outcome IS
  'outcomes of participants returned by linkage recipients, a row per fact: KS4/KS5 attainment, HE applications, HE entry, continuation';
REVOKE ALL ON outreach.outcome FROM PUBLIC;
GRANT SELECT ON outreach.outcome TO outreach_reader, outreach_processor;
-- The outcomes by kind (the caller's row security applies).
CREATE OR REPLACE VIEW outreach.outcome_attainment WITH (security_invoker = true) AS
SELECT o.controller_id, o.participant_id, o.recipient, o.outcome AS key_stage, o.academic_year, o.measure, o.value,
       CASE WHEN o.value ~ '^\s*-?[0-9]{1,9}(\.[0-9]{1,6})?\s*$' THEN o.value::numeric END AS numeric_value,
       o.provider_ukprn, o.updated_at
FROM outreach.outcome o WHERE o.outcome IN ('ks4', 'ks5');
COMMENT ON VIEW outreach.outcome_attainment IS 'KS4 and KS5 attainment of own participants: one measure per row';

CREATE OR REPLACE VIEW outreach.outcome_he_application WITH (security_invoker = true) AS
SELECT o.controller_id, o.participant_id, o.recipient, o.academic_year AS cycle, o.value AS status,
       nullif(o.provider_ukprn, 0) AS provider_ukprn, o.provider_name, o.updated_at
FROM outreach.outcome o WHERE o.outcome = 'he_application';
COMMENT ON VIEW outreach.outcome_he_application IS 'HE applications of own participants: cycle, status and provider';

CREATE OR REPLACE VIEW outreach.outcome_he_entry WITH (security_invoker = true) AS
SELECT o.controller_id, o.participant_id, o.recipient, o.academic_year AS entry_year,
       nullif(o.provider_ukprn, 0) AS provider_ukprn, o.provider_name, o.value AS detail, o.updated_at
FROM outreach.outcome o WHERE o.outcome = 'he_entry';
COMMENT ON VIEW outreach.outcome_he_entry IS 'entry of own participants to higher education: year and provider';

CREATE OR REPLACE VIEW outreach.outcome_continuation WITH (security_invoker = true) AS
SELECT o.controller_id, o.participant_id, o.recipient, o.academic_year, nullif(o.provider_ukprn, 0) AS provider_ukprn,
       o.provider_name, o.value AS status, o.updated_at
FROM outreach.outcome o WHERE o.outcome = 'continuation';
COMMENT ON VIEW outreach.outcome_continuation IS 'continuation of own participants in higher education, per academic year';
GRANT SELECT ON outreach.outcome_attainment, outreach.outcome_he_application, outreach.outcome_he_entry,
                outreach.outcome_continuation TO outreach_reader, outreach_processor;
REVOKE ALL ON outreach.outcome_lock FROM PUBLIC;
COMMENT ON TABLE outreach.outcome_lock IS
  'a row per member, locked by outcome imports (FOR UPDATE SKIP LOCKED) and participant deletions (FOR SHARE)';

CREATE OR REPLACE FUNCTION outreach.controller_outcome_lock() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  INSERT INTO outreach.outcome_lock (controller_id) VALUES (NEW.controller_id);
  RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.controller_outcome_lock() FROM PUBLIC;
COMMENT ON FUNCTION outreach.controller_outcome_lock() IS 'trigger: gives a new member its row in outreach.outcome_lock';
CREATE OR REPLACE TRIGGER controller_outcome_lock AFTER INSERT ON outreach.controller
  FOR EACH ROW EXECUTE FUNCTION outreach.controller_outcome_lock();
-- Outcome imports in one C++ pass: outcome_import_rows() parses and checks each line
-- (core/outcome_lines), matches its reference through the recipient's ledger, judges it against
-- the participants as held now and merges the good lines with the facts held in each block
-- they fall in (core/outcome_import). import_outcomes() checks the header, records the import,
-- writes the blocks and the lines not imported.

CREATE OR REPLACE FUNCTION outreach.outcome_import_rows(recipient text, import_id bigint, content bytea, header_line int,
                                             n_fields int, positions int[], fixed_kind text, code_keys text[],
                                             code_values text[])
RETURNS TABLE (controller_id int, block int, participant_ids bigint[], outcomes text[], academic_years int[],
               measures text[], provider_ukprns int[], provider_names text[], outcome_values text[],
               import_ids bigint[], line_nos int[], updated_ats timestamptz[], inserted int, updated int,
               unchanged int, line_no int, status text, reason text)
AS 'MODULE_PATHNAME', 'outcome_import_rows' LANGUAGE C VOLATILE ROWS 10000;
COMMENT ON FUNCTION outreach.outcome_import_rows(text, bigint, bytea, int, int, int[], text, text[], text[]) IS
  'the work of import_outcomes on one file: per block of outcome_block it touches, the new arrays (NULL when unchanged) '
  'and the facts inserted, updated and unchanged; per line not imported, its number, status and reason';
-- Only import_outcomes() (as the extension's owner) calls it: it reads the ledger and the
-- participants of every member.
REVOKE EXECUTE ON FUNCTION outreach.outcome_import_rows(text, bigint, bytea, int, int, int[], text, text[], text[]) FROM PUBLIC;

CREATE OR REPLACE FUNCTION outreach.import_outcomes(recipient text, file_name text, content bytea)
RETURNS TABLE (import_id bigint, line_no int, status text, reason text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- The blocks outcome_import_rows returns (tens of MB for a million facts) are kept in memory
-- (imports run one at a time, so this much memory is taken once).
SET work_mem = '256MB'
-- Its scan of the participants of a large service is costed above jit_above_cost; compiling
-- the scan's few expressions costs more than it saves.
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
  r record;
  lay outreach.recipient_layout;
  expected text[];
  got text[];
  head record;
  nl int;
  new_id bigint;
  checksum text;
  pos jsonb := '{}';
  n_fields int;
  codes jsonb;
  code_keys text[];
  code_values text[];
  stats record;
  fld text;
  free int[];  -- the members locked for this import (the others were deleting participants)
BEGIN
  SELECT * INTO r FROM outreach.recipient v WHERE v.name = import_outcomes.recipient;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown recipient "%"', recipient USING ERRCODE = '42704';
  END IF;
  SELECT * INTO lay FROM outreach.recipient_layout l
  WHERE l.recipient = r.name AND l.kind = 'outcome' AND l.version = r.outcome_layout;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'recipient "%" has no outcome layout', recipient USING ERRCODE = '22023';
  END IF;
  IF file_name IS NULL OR length(file_name) NOT BETWEEN 1 AND 255 THEN
    RAISE EXCEPTION 'file_name must be 1 to 255 characters' USING ERRCODE = '22023';
  END IF;
  IF content IS NULL THEN
    RAISE EXCEPTION 'no content given for file "%"', file_name USING ERRCODE = '22023';
  END IF;

  SELECT array_agg(c.header ORDER BY c.position), count(*)::int INTO expected, n_fields
  FROM outreach.recipient_layout_column c
  WHERE c.recipient = r.name AND c.kind = 'outcome' AND c.version = lay.version;
  -- Field name -> index in the record (1-based, in position order).
  SELECT jsonb_object_agg(c.field, c.i) INTO pos
  FROM (SELECT lc.field, row_number() OVER (ORDER BY lc.position) AS i FROM outreach.recipient_layout_column lc
        WHERE lc.recipient = r.name AND lc.kind = 'outcome' AND lc.version = lay.version AND lc.field <> 'ignore') AS c;

  -- The header: the first record, parsed from the first physical line alone.
  nl := position('\x0a'::bytea IN content);
  SELECT h.line_no, h.fields, h.error INTO head
  FROM outreach.csv_records(CASE WHEN nl = 0 THEN content ELSE substring(content FROM 1 FOR nl) END) h
  ORDER BY h.line_no LIMIT 1;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'file "%" is empty: expected the header %', file_name, outreach.csv_record(expected)
      USING ERRCODE = '22P04';
  END IF;
  IF head.error IS NOT NULL THEN
    RAISE EXCEPTION 'file "%" does not begin with a valid header record: %', file_name, head.error
      USING ERRCODE = '22P04', DETAIL = format('Expected the header %s.', outreach.csv_record(expected));
  END IF;
  got := head.fields;
  IF cardinality(got) <> n_fields
     OR EXISTS (SELECT 1 FROM unnest(expected, got) AS h(e, f) WHERE lower(btrim(h.e)) IS DISTINCT FROM lower(btrim(h.f))) THEN
    RAISE EXCEPTION 'file "%" does not have the header of the % outcome layout (version %): expected "%", found "%"',
                    file_name, r.name, lay.version, outreach.csv_record(expected), left(outreach.csv_record(got), 500)
      USING ERRCODE = '22P04', HINT = 'Nothing was imported. Ask the recipient for a file in the agreed layout.';
  END IF;

  -- Imports run one at a time; each member's deletions wait for them, and a member deleting now
  -- is skipped (see outreach.outcome_lock).
  LOCK TABLE outreach.outcome_lock IN SHARE ROW EXCLUSIVE MODE;
  -- (a member without its row, restored by hand without it, gets one)
  INSERT INTO outreach.outcome_lock (controller_id) SELECT c.controller_id FROM outreach.controller c
  ON CONFLICT DO NOTHING;
  SELECT coalesce(array_agg(l.controller_id), '{}') INTO free
  FROM (SELECT k.controller_id FROM outreach.outcome_lock k ORDER BY k.controller_id FOR UPDATE SKIP LOCKED) l;

  checksum := encode(sha256(content), 'hex');
  INSERT INTO outreach.outcome_import (recipient, layout_version, file_name, sha256, same_as, imported_by)
  VALUES (r.name, lay.version, file_name, checksum,
          (SELECT min(i.import_id) FROM outreach.outcome_import i WHERE i.recipient = r.name AND i.sha256 = checksum),
          outreach.invoking_role()::text)
  RETURNING outcome_import.import_id INTO new_id;

  -- The outcome kind of a row: the layout's fixed kind, or its outcome column through the codes.
  codes := coalesce(lay.value_codes -> 'outcome', '{}');
  SELECT coalesce(array_agg(k.key ORDER BY k.key), '{}'), coalesce(array_agg(k.value ORDER BY k.key), '{}')
    INTO code_keys, code_values FROM jsonb_each_text(codes) k;

  -- One statement: the C++ pass (outcome_import_rows: parse, check, match through the ledger,
  -- judge against the participants, merge with the facts held) returns the blocks to write and
  -- the lines not imported; both are written here.
  WITH res AS MATERIALIZED (
    SELECT x.* FROM outreach.outcome_import_rows(
      r.name, new_id, content, head.line_no, n_fields,
      ARRAY[coalesce((pos ->> 'reference')::int, 0), coalesce((pos ->> 'academic_year')::int, 0),
            coalesce((pos ->> 'measure')::int, 0), coalesce((pos ->> 'value')::int, 0),
            coalesce((pos ->> 'provider_ukprn')::int, 0), coalesce((pos ->> 'provider_name')::int, 0),
            coalesce((pos ->> 'outcome')::int, 0)],
      CASE WHEN lay.outcome_kind IS NOT NULL AND NOT pos ? 'outcome' THEN lay.outcome_kind END,
      code_keys, code_values) AS x
  ), blocks AS (
    -- Imports run one at a time and only they add outcomes (deletions of the members locked here
    -- wait: see outreach.outcome_lock), so the blocks read by the C++ pass are still the ones held.
    -- A member that was busy keeps its blocks as they are.
    INSERT INTO outreach.outcome_block AS b (controller_id, recipient, block, participant_ids, outcomes, academic_years,
                                             measures, provider_ukprns, provider_names, outcome_values, import_ids,
                                             line_nos, updated_ats)
    SELECT x.controller_id, r.name, x.block, x.participant_ids, x.outcomes, x.academic_years, x.measures,
           x.provider_ukprns, x.provider_names, x.outcome_values, x.import_ids, x.line_nos, x.updated_ats
    FROM res x WHERE x.participant_ids IS NOT NULL AND x.controller_id = ANY (free)
    ON CONFLICT (controller_id, recipient, block) DO UPDATE
    SET participant_ids = excluded.participant_ids, outcomes = excluded.outcomes,
        academic_years = excluded.academic_years, measures = excluded.measures,
        provider_ukprns = excluded.provider_ukprns, provider_names = excluded.provider_names,
        outcome_values = excluded.outcome_values, import_ids = excluded.import_ids, line_nos = excluded.line_nos,
        updated_ats = excluded.updated_ats
    RETURNING 1
  ), errs AS (
    INSERT INTO outreach.outcome_import_error (import_id, line_no, status, reason)
    SELECT new_id, x.line_no, x.status, x.reason FROM res x WHERE x.line_no IS NOT NULL
    UNION ALL
    -- the lines this import would have stored for a member that was busy
    SELECT new_id, u.line_no, 'deferred',
           'not imported: the participant''s member was deleting participants at the time; import the file again'
    FROM res x CROSS JOIN LATERAL unnest(x.line_nos, x.import_ids) AS u(line_no, import_id)
    WHERE x.participant_ids IS NOT NULL AND x.controller_id <> ALL (free) AND u.import_id = new_id
    RETURNING outcome_import_error.status
  )
  SELECT (SELECT count(*) FROM errs) + coalesce(sum(x.unchanged + CASE WHEN x.controller_id = ANY (free)
                                                                      THEN x.inserted + x.updated ELSE 0 END), 0) AS lines,
         coalesce(sum(x.unchanged + CASE WHEN x.controller_id = ANY (free) THEN x.inserted + x.updated ELSE 0 END), 0) AS good,
         coalesce(sum(x.inserted) FILTER (WHERE x.controller_id = ANY (free)), 0) AS inserted,
         coalesce(sum(x.updated) FILTER (WHERE x.controller_id = ANY (free)), 0) AS updated,
         (SELECT count(*) FROM blocks) AS blocks,
         (SELECT count(*) FILTER (WHERE e.status = 'rejected') FROM errs e) AS rejected,
         (SELECT count(*) FILTER (WHERE e.status = 'duplicate') FROM errs e) AS duplicates,
         (SELECT count(*) FILTER (WHERE e.status = 'unknown_reference') FROM errs e) AS unknown_references,
         (SELECT count(*) FILTER (WHERE e.status = 'deferred') FROM errs e) AS deferred
  INTO stats
  FROM res x WHERE x.block IS NOT NULL;

  UPDATE outreach.outcome_import i
  SET lines = stats.lines, inserted = stats.inserted, updated = stats.updated,
      unchanged = stats.good - stats.inserted - stats.updated, rejected = stats.rejected,
      duplicates = stats.duplicates, unknown_references = stats.unknown_references, deferred = stats.deferred
  WHERE i.import_id = new_id;

  RETURN QUERY
  SELECT e.import_id, e.line_no, e.status, e.reason FROM outreach.outcome_import_error e
  WHERE e.import_id = new_id ORDER BY e.line_no;
END
$$;
COMMENT ON FUNCTION outreach.import_outcomes(text, text, bytea) IS
  'imports a recipient''s outcome file: header checked (22P04 if wrong), good rows inserted or updated, every other line returned with its reason';

REVOKE EXECUTE ON FUNCTION outreach.import_outcomes(text, text, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.import_outcomes(text, text, bytea) TO outreach_daemon, outreach_processor;
-- Art. 19 follow-ups: when a participant sent to a recipient is rectified, restricted or
-- erased, the recipient must be told; the member is notified in batches. Also the views of what
-- was disclosed (participant_disclosures); what came back is reported in 63_outcome_reports.sql.

-- Reads the ledger's blocks with the view owner's rights, filtered by the caller's own access.
CREATE OR REPLACE VIEW outreach.participant_disclosures WITH (security_barrier = true) AS
SELECT d.controller_id, d.participant_id, d.recipient, r.title AS recipient_title, d.export_id,
       e.finished_at AS exported_at, e.file_name, d.reference, d.cohort_year AS entry_year
FROM (SELECT b.controller_id, u.participant_id, b.recipient, b.export_id, u.cohort_year, u.reference
      FROM outreach.disclosure_block b
      CROSS JOIN LATERAL unnest(b.participant_ids, b.cohort_years, b.participant_references)
        AS u(participant_id, cohort_year, reference)) AS d
JOIN outreach.export e ON e.export_id = d.export_id
LEFT JOIN outreach.recipient r ON r.name = d.recipient
WHERE outreach.controller_visible(d.controller_id, 'dpo');
REVOKE ALL ON outreach.participant_disclosures FROM PUBLIC;
GRANT SELECT ON outreach.participant_disclosures TO outreach_dpo;
COMMENT ON VIEW outreach.participant_disclosures IS
  'for the DPO''s participants: every export that sent them, to whom, when, and under which reference';
COMMENT ON TABLE outreach.recipient_followup IS
  'Art. 19 follow-ups: a participant sent to a recipient was rectified, restricted, withdrew or was erased; the recipient must be told';
COMMENT ON TABLE outreach.recipient_followup_batch IS
  'notices of follow-ups: one per member, recipient and statement (at most 1000 follow-ups each)';
REVOKE ALL ON outreach.recipient_followup, outreach.recipient_followup_batch FROM PUBLIC;
GRANT SELECT ON outreach.recipient_followup, outreach.recipient_followup_batch TO outreach_dpo;

-- Groups the pending follow-ups (those this transaction queued, and any left behind) per
-- member and recipient into batches of at most max_items, and queues one notice per batch to
-- the member's channels. Returns the number of batches.
CREATE OR REPLACE FUNCTION outreach.recipient_followup_dispatch(max_items int DEFAULT 1000) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
  g record;
  b bigint;
  body jsonb;
  n int := 0;
  sent int;
BEGIN
  IF max_items IS NULL OR max_items NOT BETWEEN 1 AND 100000 THEN
    RAISE EXCEPTION 'max_items must be between 1 and 100000' USING ERRCODE = '22023';
  END IF;
  FOR g IN
    WITH pending AS (
      SELECT f.controller_id, f.followup_id, f.recipient FROM outreach.recipient_followup f
      WHERE f.batch_id IS NULL
      ORDER BY f.controller_id, f.recipient, f.followup_id
      FOR UPDATE SKIP LOCKED
    )
    SELECT p.controller_id, p.recipient, array_agg(p.followup_id ORDER BY p.followup_id) AS ids
    FROM (SELECT pending.*, (row_number() OVER (PARTITION BY controller_id, recipient ORDER BY followup_id) - 1)
                              / max_items AS chunk
          FROM pending) AS p
    GROUP BY p.controller_id, p.recipient, p.chunk
    ORDER BY p.controller_id, p.recipient, p.chunk
  LOOP
    INSERT INTO outreach.recipient_followup_batch (controller_id, recipient, items, rectifications, erasures, restrictions,
                                                   withdrawals)
    SELECT g.controller_id, g.recipient, count(*), count(*) FILTER (WHERE f.kind = 'rectification'),
           count(*) FILTER (WHERE f.kind = 'erasure'), count(*) FILTER (WHERE f.kind = 'restriction'),
           count(*) FILTER (WHERE f.kind = 'withdrawal')
    FROM outreach.recipient_followup f
    WHERE f.controller_id = g.controller_id AND f.followup_id = ANY (g.ids)
    RETURNING batch_id INTO b;
    UPDATE outreach.recipient_followup f SET batch_id = b
    WHERE f.controller_id = g.controller_id AND f.followup_id = ANY (g.ids);

    SELECT jsonb_build_object(
             'type', 'recipient_followup', 'batch_id', b, 'controller', c.code,
             'recipient', g.recipient, 'recipient_title', (SELECT r.title FROM outreach.recipient r WHERE r.name = g.recipient),
             -- whether its next export will carry the erasures, withdrawals and restrictions
             'in_next_file', EXISTS (SELECT 1 FROM outreach.recipient r
                                     JOIN outreach.recipient_layout_column lc ON lc.recipient = r.name AND lc.kind = 'export'
                                                                              AND lc.version = r.export_layout
                                     WHERE r.name = g.recipient AND r.enabled AND lc.field = 'record_action')
                             AND (outreach.agreement_in_force(g.recipient)).agreement_id IS NOT NULL,
             'counts', jsonb_build_object('rectification', fb.rectifications, 'erasure', fb.erasures,
                                          'restriction', fb.restrictions, 'withdrawal', fb.withdrawals),
             'items', (SELECT jsonb_agg(jsonb_build_object('reference', f.reference, 'participant_id', f.participant_id,
                                                           'kind', f.kind, 'fields', f.fields, 'export_id', f.export_id,
                                                           'exported_at', e.finished_at)
                                        ORDER BY f.followup_id)
                       FROM outreach.recipient_followup f LEFT JOIN outreach.export e ON e.export_id = f.export_id
                       WHERE f.controller_id = g.controller_id AND f.batch_id = b))
      INTO body
    FROM outreach.controller c, outreach.recipient_followup_batch fb
    WHERE c.controller_id = g.controller_id AND fb.controller_id = g.controller_id AND fb.batch_id = b;

    sent := outreach.enqueue_delivery(
      g.controller_id, 'recipient_followup', format('outreach-followup-%s', b), body,
      format('Linkage follow-up: %s records sent to %s changed', cardinality(g.ids), body ->> 'recipient_title'),
      format(E'%s participant records of your organisation that were sent to %s (%s) have since been '
             'rectified (%s), erased (%s), restricted (%s) or withdrawn (%s).\n'
             'UK GDPR Art. 19: the recipient must be told. Rectified records go to it again with the next export;\n'
             || CASE WHEN (body ->> 'in_next_file')::boolean
                     THEN E'erasures, withdrawals and restrictions go in its next file too (its layout has a record_action column).\n'
                     ELSE E'erasures, withdrawals and restrictions must be passed on with the references listed (its layout has\n'
                          'no record_action column, or it has no sharing agreement in force, so no file goes to it now).\n' END
             || E'The list is in outreach.recipient_followup (batch %s) for your data-protection officer.\n',
             cardinality(g.ids), body ->> 'recipient_title', g.recipient, body #>> '{counts,rectification}',
             body #>> '{counts,erasure}', body #>> '{counts,restriction}', body #>> '{counts,withdrawal}', b));
    UPDATE outreach.recipient_followup_batch fb SET deliveries = coalesce(sent, 0)
    WHERE fb.controller_id = g.controller_id AND fb.batch_id = b;
    n := n + 1;
  END LOOP;
  RETURN n;
END
$$;
COMMENT ON FUNCTION outreach.recipient_followup_dispatch(int) IS
  'batches pending Art. 19 follow-ups per member and recipient and queues a notice for each batch; returns the number of batches';

-----------------------------------------------------------------------------------------------
-- Art. 19 follow-ups and sex. recipient_followup_update does not look at sex: a WHEN clause
-- comparing it, and its EXPLAIN ANALYZE "calls", would tell a writer whether sex changed.
-- recipient_followup_sex fires for every row of an UPDATE whose SET list has sex, before it
-- (row triggers fire in name order), and queues the follow-up with sex among the fields. When
-- both fire for a row, the second queues nothing already pending from this statement, so a
-- recipient is told once.
-----------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION outreach.participant_followup_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  changed text[] := array_remove(ARRAY[
    CASE WHEN btrim(NEW.first_name) IS DISTINCT FROM btrim(OLD.first_name) THEN 'forename' END,
    CASE WHEN btrim(NEW.last_name) IS DISTINCT FROM btrim(OLD.last_name) THEN 'surname' END,
    CASE WHEN NEW.date_of_birth IS DISTINCT FROM OLD.date_of_birth THEN 'date_of_birth' END,
    CASE WHEN NEW.date_of_birth IS DISTINCT FROM OLD.date_of_birth
           OR NEW.he_entry_year_override IS DISTINCT FROM OLD.he_entry_year_override THEN 'entry_year' END,
    CASE WHEN NEW.date_of_birth IS DISTINCT FROM OLD.date_of_birth
           OR NEW.he_entry_year_override IS DISTINCT FROM OLD.he_entry_year_override THEN 'extend_link_by' END,
    CASE WHEN NEW.postcode::text IS DISTINCT FROM OLD.postcode::text THEN 'postcode' END,
    -- sex: written by this statement (the recipient_followup_sex trigger), never compared
    CASE WHEN TG_NARGS > 0 AND TG_ARGV[0] = 'sex' THEN 'sex' END,
    CASE WHEN NEW.institution_id IS DISTINCT FROM OLD.institution_id THEN 'school_urn' END,
    CASE WHEN NEW.institution_id IS DISTINCT FROM OLD.institution_id THEN 'school_ukprn' END,
    CASE WHEN NEW.upn IS DISTINCT FROM OLD.upn THEN 'upn' END,
    CASE WHEN NEW.uln IS DISTINCT FROM OLD.uln THEN 'uln' END], NULL);
  restricted boolean := NEW.restricted_at IS NOT NULL AND OLD.restricted_at IS NULL;
  withdrawn boolean := NEW.withdrawn_at IS NOT NULL AND OLD.withdrawn_at IS NULL;
BEGIN
  -- A change to a participant staged in an export being finished: export_finish waits for this
  -- transaction (and then compares what it staged), or this statement waits for it (and then
  -- sees the ledger rows).
  -- (recorded for each building export, whose row this locks in share mode)
  INSERT INTO outreach.export_touch (export_id, controller_id, participant_id)
  SELECT e.export_id, NEW.controller_id, NEW.participant_id FROM outreach.export e WHERE e.status = 'building'
  FOR SHARE OF e
  ON CONFLICT DO NOTHING;
  WITH sent AS (
    -- the latest export to each recipient that sent them
    SELECT DISTINCT ON (b.recipient) b.recipient, b.export_id, b.participant_references[k.i] AS reference
    FROM outreach.disclosure_block b
    CROSS JOIN LATERAL (SELECT array_position(b.participant_ids, NEW.participant_id) AS i) AS k
    WHERE b.controller_id = NEW.controller_id AND b.block = (NEW.participant_id >> 12)::int AND k.i IS NOT NULL
    ORDER BY b.recipient, b.export_id DESC
  ), queued AS (
    SELECT NEW.controller_id, NEW.participant_id, s.recipient, 'rectification' AS kind, s.reference, s.export_id, h.headers
    FROM sent s
    JOIN outreach.export e ON e.export_id = s.export_id
    CROSS JOIN LATERAL (SELECT array_agg(lc.header ORDER BY lc.position) AS headers
                        FROM outreach.recipient_layout_column lc
                        WHERE lc.recipient = s.recipient AND lc.kind = 'export' AND lc.version = e.layout_version
                          AND lc.field = ANY (changed)) AS h
    WHERE h.headers IS NOT NULL
    UNION ALL
    SELECT NEW.controller_id, NEW.participant_id, s.recipient, 'restriction', s.reference, s.export_id, NULL
    FROM sent s WHERE restricted
    UNION ALL
    SELECT NEW.controller_id, NEW.participant_id, s.recipient, 'withdrawal', s.reference, s.export_id, NULL
    FROM sent s WHERE withdrawn
  )
  INSERT INTO outreach.recipient_followup (controller_id, participant_id, recipient, kind, reference, export_id, fields)
  SELECT q.* FROM queued q
  WHERE NOT EXISTS (SELECT 1 FROM outreach.recipient_followup f
                    WHERE f.controller_id = NEW.controller_id AND f.participant_id = NEW.participant_id
                      AND f.recipient = q.recipient AND f.kind = q.kind AND f.batch_id IS NULL
                      AND f.queued_at >= statement_timestamp());
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION outreach.participant_followup_update() IS
  'trigger: queues Art. 19 follow-ups when fields a recipient received change (sex: is written), processing is restricted or the person withdraws';

CREATE OR REPLACE FUNCTION outreach.participant_followup_flush() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM outreach.recipient_followup f WHERE f.batch_id IS NULL) THEN
    PERFORM outreach.recipient_followup_dispatch();
  END IF;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION outreach.participant_followup_flush() IS
  'trigger: sends the follow-ups a statement queued, batched per member and recipient';

-- Deletions wait for an outcome import only through their own member's row of
-- outreach.outcome_lock (FOR SHARE), so deletions of any members run side by side.
CREATE OR REPLACE FUNCTION outreach.participant_followup_delete() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n int;
BEGIN
  -- (recorded for each building export, whose row this locks in share mode)
  INSERT INTO outreach.export_touch (export_id, controller_id, participant_id)
  SELECT e.export_id, o.controller_id, o.participant_id FROM outreach.export e, old_rows o WHERE e.status = 'building'
  FOR SHARE OF e
  ON CONFLICT DO NOTHING;
  -- An outcome import in progress finishes first (it may be storing outcomes of these people).
  PERFORM 1 FROM outreach.outcome_lock l WHERE l.controller_id IN (SELECT DISTINCT o.controller_id FROM old_rows o)
  ORDER BY l.controller_id FOR SHARE;
  WITH gone AS (
    SELECT r.controller_id, (r.participant_id >> 16)::int AS block, array_agg(r.participant_id) AS ids
    FROM old_rows r GROUP BY r.controller_id, (r.participant_id >> 16)::int
  ), emptied AS (
    DELETE FROM outreach.outcome_block b USING gone g
    WHERE b.controller_id = g.controller_id AND b.block = g.block AND b.participant_ids <@ g.ids
    RETURNING b.controller_id, b.recipient, b.block
  )
  UPDATE outreach.outcome_block b
  SET (participant_ids, outcomes, academic_years, measures, provider_ukprns, provider_names, outcome_values,
       import_ids, line_nos, updated_ats) =
      (SELECT array_agg(u.participant_id ORDER BY u.k), array_agg(u.outcome ORDER BY u.k),
              array_agg(u.academic_year ORDER BY u.k), array_agg(u.measure ORDER BY u.k),
              array_agg(u.provider_ukprn ORDER BY u.k), array_agg(u.provider_name ORDER BY u.k),
              array_agg(u.value ORDER BY u.k), array_agg(u.import_id ORDER BY u.k),
              array_agg(u.line_no ORDER BY u.k), array_agg(u.updated_at ORDER BY u.k)
       FROM unnest(b.participant_ids, b.outcomes, b.academic_years, b.measures, b.provider_ukprns, b.provider_names,
                   b.outcome_values, b.import_ids, b.line_nos, b.updated_ats) WITH ORDINALITY
         AS u(participant_id, outcome, academic_year, measure, provider_ukprn, provider_name, value, import_id,
              line_no, updated_at, k)
       WHERE u.participant_id <> ALL (g.ids))
  FROM gone g
  WHERE b.controller_id = g.controller_id AND b.block = g.block AND b.participant_ids && g.ids
    AND NOT b.participant_ids <@ g.ids;
  INSERT INTO outreach.recipient_followup (controller_id, participant_id, recipient, kind, reference, export_id)
  SELECT DISTINCT ON (o.controller_id, o.participant_id, b.recipient)
         o.controller_id, o.participant_id, b.recipient, 'erasure', u.reference, b.export_id
  FROM (SELECT DISTINCT r.controller_id, (r.participant_id >> 12)::int AS block FROM old_rows r) AS t
  JOIN outreach.disclosure_block b ON b.controller_id = t.controller_id AND b.block = t.block
  CROSS JOIN LATERAL unnest(b.participant_ids, b.participant_references) AS u(participant_id, reference)
  JOIN old_rows o ON o.controller_id = b.controller_id AND o.participant_id = u.participant_id
  ORDER BY o.controller_id, o.participant_id, b.recipient, b.export_id DESC;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n > 0 THEN
    PERFORM outreach.recipient_followup_dispatch();
  END IF;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION outreach.participant_followup_delete() IS
  'trigger: deletes a deleted participant''s outcomes and queues an Art. 19 follow-up for every recipient that received them';
CREATE OR REPLACE TRIGGER recipient_followup_update
  AFTER UPDATE OF first_name, last_name, date_of_birth, postcode, institution_id, upn, uln,
                  he_entry_year_override, restricted_at, withdrawn_at ON outreach.participant
  FOR EACH ROW
  WHEN (btrim(NEW.first_name) IS DISTINCT FROM btrim(OLD.first_name)
        OR btrim(NEW.last_name) IS DISTINCT FROM btrim(OLD.last_name)
        OR NEW.date_of_birth IS DISTINCT FROM OLD.date_of_birth
        OR NEW.postcode::text IS DISTINCT FROM OLD.postcode::text
        OR NEW.institution_id IS DISTINCT FROM OLD.institution_id
        OR NEW.upn IS DISTINCT FROM OLD.upn OR NEW.uln IS DISTINCT FROM OLD.uln
        OR NEW.he_entry_year_override IS DISTINCT FROM OLD.he_entry_year_override
        OR (NEW.restricted_at IS NOT NULL AND OLD.restricted_at IS NULL)
        OR (NEW.withdrawn_at IS NOT NULL AND OLD.withdrawn_at IS NULL))
  EXECUTE FUNCTION outreach.participant_followup_update();
CREATE OR REPLACE TRIGGER recipient_followup_sex AFTER UPDATE OF sex ON outreach.participant
  FOR EACH ROW EXECUTE FUNCTION outreach.participant_followup_update('sex');
CREATE OR REPLACE TRIGGER recipient_followup_update_flush
  AFTER UPDATE OF first_name, last_name, date_of_birth, postcode, sex, institution_id, upn, uln,
                  he_entry_year_override, restricted_at, withdrawn_at ON outreach.participant
  FOR EACH STATEMENT EXECUTE FUNCTION outreach.participant_followup_flush();
CREATE OR REPLACE TRIGGER recipient_followup_delete AFTER DELETE ON outreach.participant
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION outreach.participant_followup_delete();

REVOKE EXECUTE ON FUNCTION outreach.recipient_followup_dispatch(int), outreach.participant_followup_update(),
  outreach.participant_followup_flush(), outreach.participant_followup_delete() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.recipient_followup_dispatch(int) TO outreach_daemon;
COMMENT ON TABLE outreach.area_lookup_field IS
  'the fields the area look-up loader takes from each kind of file (position: the order of a staged row''s values)';
COMMENT ON TABLE outreach.area_lookup_header IS
  'header names (or regular expressions, is_pattern) under which the loader finds each field of an area look-up file; '
  'lowest preference wins; add a row when an edition renames a column';
COMMENT ON TABLE outreach.area_lookup_load IS
  'the loads of area look-ups: file, who, when, lines read, loaded and rejected, rows of the previous edition replaced';
COMMENT ON TABLE outreach.postcode_geography IS
  'the ONS Postcode Directory as loaded: each postcode (current and terminated) with its introduction and termination '
  'month (first day), its grid-reference quality (9: none) and its GSS geography codes';
COMMENT ON TABLE outreach.polar4_area IS 'POLAR4 quintiles (1 lowest young participation) by 2011 MSOA or ward; NULL: withheld';
COMMENT ON TABLE outreach.tundra_area IS 'TUNDRA quintiles (1 lowest participation) by 2011 MSOA and 2011 LSOA; NULL: withheld';
COMMENT ON TABLE outreach.deprivation_area IS
  'area deprivation deciles (1 most deprived 10%) and ranks by index (imd: England, wimd, simd, nimdm) and vintage; '
  'geography: the ONSPD column the area code matches (data zones in lsoa11, NI 2001 SOAs in lsoa01)';
COMMENT ON TABLE outreach.area_lookup_stage IS 'area look-up loads in progress (area_lookup_stage until load_area_lookup)';
COMMENT ON TABLE outreach.area_lookup_staged_row IS 'the good lines of a load in progress, as the values of the kind''s fields';
COMMENT ON TABLE outreach.area_lookup_stage_error IS 'the lines of a load in progress that were not taken, with their reasons';

GRANT SELECT ON outreach.postcode_geography, outreach.polar4_area, outreach.tundra_area, outreach.deprivation_area,
  outreach.area_lookup_load, outreach.area_lookup_field, outreach.area_lookup_header
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;

-----------------------------------------------------------------------------------------------
-- Checking lines
-----------------------------------------------------------------------------------------------

-- The values of a record in the order of the kind's fields (positions: the record's column of
-- each field, 0 when the file has none), trimmed, empty as NULL.
CREATE OR REPLACE FUNCTION outreach.area_lookup_values(fields text[], positions int[]) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT ARRAY(SELECT NULLIF(pg_catalog.btrim(fields[u.p]), '')
               FROM pg_catalog.unnest(positions) WITH ORDINALITY AS u(p, o) ORDER BY u.o)
$$;
COMMENT ON FUNCTION outreach.area_lookup_values(text[], int[]) IS
  'the values of a look-up record in the order of its kind''s fields (trimmed, empty as NULL)';

-- A month YYYYMM of an ONSPD date, or NULL when it is not one.
CREATE OR REPLACE FUNCTION outreach.onspd_month(yyyymm text) RETURNS date
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT CASE WHEN yyyymm OPERATOR(pg_catalog.~) '^(19|20)[0-9]{2}(0[1-9]|1[0-2])$'
              THEN pg_catalog.make_date(pg_catalog.substr(yyyymm, 1, 4)::int, pg_catalog.substr(yyyymm, 5, 2)::int, 1) END
$$;
COMMENT ON FUNCTION outreach.onspd_month(text) IS
  'the first day of an ONSPD month YYYYMM (dointr, doterm), NULL when the text is not such a month';

-- Why a line of a look-up file cannot be loaded, as {status, reason}; NULL when it can.
CREATE OR REPLACE FUNCTION outreach.area_lookup_problem(kind text, v text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE kind
    WHEN 'onspd' THEN CASE
      WHEN v[1] IS NULL THEN ARRAY['invalid_postcode', 'no postcode']
      WHEN NOT outreach.is_valid_postcode(v[1])
        THEN ARRAY['invalid_postcode', pg_catalog.format('"%s" is not a valid UK postcode', pg_catalog.left(v[1], 20))]
      WHEN v[2] IS NULL OR outreach.onspd_month(v[2]) IS NULL
        THEN ARRAY['bad_date', pg_catalog.format('introduced (dointr) "%s" is not a month YYYYMM', pg_catalog.left(v[2], 20))]
      WHEN v[3] IS NOT NULL AND outreach.onspd_month(v[3]) IS NULL
        THEN ARRAY['bad_date', pg_catalog.format('terminated (doterm) "%s" is not a month YYYYMM', pg_catalog.left(v[3], 20))]
      WHEN v[3] IS NOT NULL AND v[3] OPERATOR(pg_catalog.<) v[2]
        THEN ARRAY['bad_date', pg_catalog.format('terminated %s before it was introduced %s', v[3], v[2])]
      WHEN c.bad IS NOT NULL THEN ARRAY['bad_value', c.bad]
      WHEN v[13] OPERATOR(pg_catalog.!~) '^[0-9]$'
        THEN ARRAY['bad_value', pg_catalog.format('grid reference quality (osgrdind) "%s" is not a digit', pg_catalog.left(v[13], 20))]
      WHEN v[14] OPERATOR(pg_catalog.!~) '^[01]$'
        THEN ARRAY['bad_value', pg_catalog.format('user type (usertype) "%s" is not 0 or 1', pg_catalog.left(v[14], 20))]
      END
    WHEN 'imd' THEN CASE
      WHEN v[1] IS NULL OR v[1] OPERATOR(pg_catalog.!~) '^[A-Za-z0-9]{1,12}$'
        THEN ARRAY['bad_value', pg_catalog.format('area code "%s" is not a code', pg_catalog.left(v[1], 20))]
      WHEN v[2] OPERATOR(pg_catalog.!~) '^([1-9]|10)$'
        THEN ARRAY['bad_value', pg_catalog.format('decile "%s" is not 1 to 10', pg_catalog.left(v[2], 20))]
      WHEN v[3] OPERATOR(pg_catalog.!~) '^[1-9][0-9]{0,6}$'
        THEN ARRAY['bad_value', pg_catalog.format('rank "%s" is not a whole number from 1', pg_catalog.left(v[3], 20))]
      WHEN v[2] IS NULL AND v[3] IS NULL THEN ARRAY['bad_value', 'neither a decile nor a rank']
      END
    ELSE CASE  -- polar4, tundra
      WHEN v[1] IS NULL OR v[1] OPERATOR(pg_catalog.!~) '^[A-Za-z0-9]{1,12}$'
        THEN ARRAY['bad_value', pg_catalog.format('area code "%s" is not a code', pg_catalog.left(v[1], 20))]
      WHEN v[2] OPERATOR(pg_catalog.!~) '^[1-5]$'
        THEN ARRAY['bad_value', pg_catalog.format('quintile "%s" is not 1 to 5', pg_catalog.left(v[2], 20))]
      END
    END
  FROM (SELECT (SELECT pg_catalog.format('%s "%s" is not a code', n.name, pg_catalog.left(v[(n.o OPERATOR(pg_catalog.+) 3)::int], 20))
                FROM pg_catalog.unnest(ARRAY['country', 'region', 'local authority', 'ward', 'lsoa01', 'lsoa11',
                                             'msoa11', 'lsoa21', 'msoa21']) WITH ORDINALITY AS n(name, o)
                WHERE kind OPERATOR(pg_catalog.=) 'onspd'
                  AND v[(n.o OPERATOR(pg_catalog.+) 3)::int] OPERATOR(pg_catalog.!~) '^[A-Za-z0-9]{1,12}$'
                ORDER BY n.o LIMIT 1) AS bad) AS c
$$;
COMMENT ON FUNCTION outreach.area_lookup_problem(text, text[]) IS
  'why the values of a line of an area look-up file of the kind cannot be loaded, as {status, reason}; NULL when they can';

-- The columns of a header that hold each field of the kind, or 22P04 naming the expected and
-- found names when a required field has no column or a field has two.
CREATE OR REPLACE FUNCTION outreach.area_lookup_map_header(kind text, header text[], file_name text,
                                                           OUT positions int[], OUT geography text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  problems text;
BEGIN
  WITH cols AS (
    SELECT c.i::int AS i, btrim(c.h) AS h FROM unnest(header) WITH ORDINALITY AS c(h, i)
  ), hits AS (
    SELECT a.field, a.preference, a.geography, c.i, c.h
    FROM outreach.area_lookup_header a
    JOIN cols c ON CASE WHEN a.is_pattern THEN c.h ~* ('^(?:' || a.header || ')$') ELSE lower(c.h) = lower(a.header) END
    WHERE a.kind = area_lookup_map_header.kind
  ), best AS (
    SELECT h.field, array_agg(DISTINCT h.i ORDER BY h.i) AS cols, array_agg(DISTINCT h.h ORDER BY h.h) AS names,
           min(h.geography) AS geo
    FROM hits h
    WHERE h.preference = (SELECT min(x.preference) FROM hits x WHERE x.field = h.field)
    GROUP BY h.field
  ), fields AS (
    SELECT f.field, f.position, f.required, b.cols, b.names, b.geo,
           (SELECT string_agg(CASE WHEN a.is_pattern THEN '/' || a.header || '/' ELSE '"' || a.header || '"' END, ' or '
                              ORDER BY a.preference, a.header)
            FROM outreach.area_lookup_header a WHERE a.kind = f.kind AND a.field = f.field) AS expected
    FROM outreach.area_lookup_field f LEFT JOIN best b ON b.field = f.field
    WHERE f.kind = area_lookup_map_header.kind
  )
  SELECT array_agg(CASE WHEN cardinality(x.cols) = 1 THEN x.cols[1] ELSE 0 END ORDER BY x.position),
         max(x.geo),
         string_agg(CASE WHEN x.cols IS NULL AND x.required
                           THEN format('no column for %s (expected %s)', x.field, x.expected)
                         WHEN cardinality(x.cols) > 1
                           THEN format('%s columns for %s (%s)', cardinality(x.cols), x.field,
                                       array_to_string(x.names, ', ')) END, '; ' ORDER BY x.position)
    INTO positions, geography, problems
  FROM fields x;
  IF problems IS NOT NULL THEN
    RAISE EXCEPTION 'file "%" does not have the header of an area look-up of kind %: %; found "%"',
                    coalesce(file_name, '(unnamed)'), kind, problems, left(outreach.csv_record(header), 2000)
      USING ERRCODE = '22P04', HINT = 'Nothing was loaded. outreach.area_lookup_header lists the accepted names; '
                                      'a renamed column of a new edition is one INSERT there.';
  END IF;
END
$$;
COMMENT ON FUNCTION outreach.area_lookup_map_header(text, text[], text) IS
  'the column of each field of the kind in a look-up file''s header (0: absent) and the geography its area code names; '
  '22P04 naming the expected and found names when a required field is missing or a field is found twice';
REVOKE EXECUTE ON FUNCTION outreach.area_lookup_map_header(text, text[], text) FROM PUBLIC;

-----------------------------------------------------------------------------------------------
-- Loading: stage, append chunks, load (replacing the edition in one transaction)
-----------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION outreach.area_lookup_stage(kind text, file_name text DEFAULT NULL, vintage text DEFAULT NULL,
                                                      deprivation_index text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, outreach, pg_temp
AS $$
DECLARE
  new_id bigint;
BEGIN
  IF kind IS NULL OR kind NOT IN ('onspd', 'polar4', 'tundra', 'imd') THEN
    RAISE EXCEPTION 'unknown look-up kind "%"', kind USING ERRCODE = '22023', HINT = 'Kinds: onspd, polar4, tundra, imd.';
  END IF;
  IF deprivation_index IS NOT NULL AND kind <> 'imd' THEN
    RAISE EXCEPTION 'a deprivation index applies to kind imd only' USING ERRCODE = '22023';
  END IF;
  IF kind = 'imd' AND coalesce(deprivation_index, 'imd') NOT IN ('imd', 'wimd', 'simd', 'nimdm') THEN
    RAISE EXCEPTION 'unknown deprivation index "%"', deprivation_index
      USING ERRCODE = '22023', HINT = 'Indices: imd (England), wimd, simd, nimdm.';
  END IF;
  -- A year in range: the newest vintage of a devolved index is the one every profile uses, so
  -- a vintage of 9999 would take the place of the real one for every member.
  IF vintage IS NOT NULL AND (kind <> 'imd' OR vintage !~ '^[0-9]{4}$'
                              OR vintage::int NOT BETWEEN 2000 AND extract(year FROM current_date)::int + 1) THEN
    RAISE EXCEPTION 'vintage "%" applies to kind imd only, as a year from 2000 to next year', vintage USING ERRCODE = '22023';
  END IF;
  IF file_name IS NOT NULL AND length(file_name) NOT BETWEEN 1 AND 255 THEN
    RAISE EXCEPTION 'file_name must be 1 to 255 characters' USING ERRCODE = '22023';
  END IF;
  -- Loads abandoned more than a day ago are forgotten.
  DELETE FROM outreach.area_lookup_stage s WHERE s.staged_at < now() - interval '1 day';
  INSERT INTO outreach.area_lookup_stage (kind, deprivation_index, vintage, file_name, staged_by)
  VALUES (kind, CASE WHEN kind = 'imd' THEN coalesce(deprivation_index, 'imd') END, vintage, file_name,
          outreach.invoking_role()::text)
  RETURNING stage_id INTO new_id;
  RETURN new_id;
END
$$;
COMMENT ON FUNCTION outreach.area_lookup_stage(text, text, text, text) IS
  'begins loading an area look-up file (kind onspd, polar4, tundra or imd; for imd the index and vintage); returns the '
  'stage id for area_lookup_append and load_area_lookup';

-- The lines of one chunk: checked, the good ones staged, the bad ones recorded. Called by the
-- loading functions only (as the extension's owner).
CREATE OR REPLACE FUNCTION outreach.area_lookup_take(stage_id bigint, first_line int, chunk bytea) RETURNS int
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  s outreach.area_lookup_stage;
  head record;
  map record;
  header_line int := 0;
  n int;
  last int;
BEGIN
  SELECT * INTO s FROM outreach.area_lookup_stage t WHERE t.stage_id = area_lookup_take.stage_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no area look-up load % in progress', stage_id USING ERRCODE = '42704';
  END IF;
  IF s.staged_by <> outreach.invoking_role()::text THEN
    RAISE EXCEPTION 'area look-up load % belongs to %', stage_id, s.staged_by USING ERRCODE = '42501';
  END IF;
  IF first_line IS NULL OR first_line < 1 OR (first_line = 1) <> (s.header IS NULL) OR first_line <= s.last_line THEN
    RAISE EXCEPTION 'a chunk of load % must begin at line 1 (the header) first, then after line %', stage_id, s.last_line
      USING ERRCODE = '22023';
  END IF;

  IF s.header IS NULL THEN
    SELECT h.line_no, h.fields, h.error INTO head
    FROM outreach.csv_records(substring(chunk FROM 1 FOR coalesce(nullif(position('\x0a'::bytea IN chunk), 0), length(chunk)))) h
    ORDER BY h.line_no LIMIT 1;
    IF NOT FOUND OR head.error IS NOT NULL THEN
      RAISE EXCEPTION 'file "%" does not begin with a header record: %', coalesce(s.file_name, '(unnamed)'),
                      coalesce(head.error, 'the file is empty')
        USING ERRCODE = '22P04', HINT = 'Nothing was loaded.';
    END IF;
    header_line := head.line_no;
    SELECT * INTO map FROM outreach.area_lookup_map_header(s.kind, head.fields, s.file_name);
    IF s.kind = 'imd' AND s.vintage IS NULL THEN
      s.vintage := CASE WHEN s.deprivation_index = 'imd' THEN
                     CASE map.geography WHEN 'lsoa11' THEN '2019' WHEN 'lsoa21' THEN '2025' END END;
      IF s.vintage IS NULL THEN
        RAISE EXCEPTION 'the vintage of % file "%" must be given', s.deprivation_index, coalesce(s.file_name, '(unnamed)')
          USING ERRCODE = '22023', HINT = 'Nothing was loaded.';
      END IF;
    END IF;
    IF s.kind = 'imd' AND s.deprivation_index = 'imd' AND (s.vintage, map.geography) IN (('2019', 'lsoa21'), ('2025', 'lsoa11')) THEN
      RAISE EXCEPTION 'IMD % is published for % LSOAs, file "%" has % codes', s.vintage,
                      CASE s.vintage WHEN '2019' THEN '2011' ELSE '2021' END, coalesce(s.file_name, '(unnamed)'), map.geography
        USING ERRCODE = '22P04', HINT = 'Nothing was loaded.';
    END IF;
    UPDATE outreach.area_lookup_stage t
    SET header = head.fields, positions = map.positions, geography = map.geography, vintage = s.vintage
    WHERE t.stage_id = s.stage_id;
    s.header := head.fields;
    s.positions := map.positions;
  END IF;

  WITH recs AS MATERIALIZED (
    SELECT first_line - 1 + r.line_no AS line_no, r.fields, r.error
    FROM outreach.csv_records(chunk) r
    WHERE r.line_no <> header_line
  ), judged AS (
    SELECT r.line_no,
           CASE WHEN r.error IS NOT NULL THEN ARRAY['malformed', r.error]
                WHEN cardinality(r.fields) <> cardinality(s.header)
                  THEN ARRAY['malformed', format('%s fields where the header has %s', cardinality(r.fields), cardinality(s.header))]
                ELSE outreach.area_lookup_problem(s.kind, x.v) END AS problem,
           x.v
    FROM recs r
    CROSS JOIN LATERAL (SELECT CASE WHEN r.error IS NULL AND cardinality(r.fields) = cardinality(s.header)
                                    THEN outreach.area_lookup_values(r.fields, s.positions) END AS v) x
  ), good AS (
    INSERT INTO outreach.area_lookup_staged_row (stage_id, line_no, key, v)
    SELECT s.stage_id, j.line_no,
           CASE WHEN s.kind = 'onspd' THEN outreach.uk_postcode(j.v[1])::text ELSE upper(j.v[1]) END, j.v
    FROM judged j WHERE j.problem IS NULL
    RETURNING 1
  ), bad AS (
    INSERT INTO outreach.area_lookup_stage_error (stage_id, line_no, status, reason)
    SELECT s.stage_id, j.line_no, j.problem[1], j.problem[2] FROM judged j WHERE j.problem IS NOT NULL
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM good) + (SELECT count(*) FROM bad), coalesce((SELECT max(r.line_no) FROM recs r), first_line)
    INTO n, last;
  UPDATE outreach.area_lookup_stage t
  SET lines_read = t.lines_read + n, last_line = greatest(last, first_line)
  WHERE t.stage_id = s.stage_id;
  RETURN n;
END
$$;
COMMENT ON FUNCTION outreach.area_lookup_take(bigint, int, bytea) IS
  'checks the lines of one chunk of a staged look-up file (the first chunk begins with the header), stages the good ones '
  'and records the bad ones; returns the number of lines read';
REVOKE EXECUTE ON FUNCTION outreach.area_lookup_take(bigint, int, bytea) FROM PUBLIC;

CREATE OR REPLACE FUNCTION outreach.area_lookup_append(stage_id bigint, first_line int, chunk bytea) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, outreach, pg_temp
AS $$
BEGIN
  IF chunk IS NULL OR length(chunk) > 64 * 1024 * 1024 THEN
    RAISE EXCEPTION 'a chunk must be given and hold at most 64 MB (this one: % bytes)', length(chunk)
      USING ERRCODE = '54000', HINT = 'Cut the file into chunks at line ends.';
  END IF;
  RETURN outreach.area_lookup_take(stage_id, first_line, chunk);
END
$$;
COMMENT ON FUNCTION outreach.area_lookup_append(bigint, int, bytea) IS
  'adds a chunk (at most 64 MB, cut at a line end; first_line: the file''s line it begins on, 1 for the chunk with the '
  'header) to a staged area look-up load; 22P04 when the header is wrong; returns the lines read';

CREATE OR REPLACE FUNCTION outreach.load_area_lookup(stage_id bigint)
RETURNS TABLE (line_no int, status text, reason text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, outreach, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  s outreach.area_lookup_stage;
  new_id bigint;
  good int;
  bad int;
  replaced bigint;
  n_ranked bigint;
  edition text;
BEGIN
  SELECT * INTO s FROM outreach.area_lookup_stage t WHERE t.stage_id = load_area_lookup.stage_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no area look-up load % in progress', stage_id USING ERRCODE = '42704';
  END IF;
  IF s.staged_by <> outreach.invoking_role()::text THEN
    RAISE EXCEPTION 'area look-up load % belongs to %', stage_id, s.staged_by USING ERRCODE = '42501';
  END IF;
  IF s.header IS NULL THEN
    RAISE EXCEPTION 'file "%" was not sent: no header', coalesce(s.file_name, '(unnamed)') USING ERRCODE = '22P04';
  END IF;

  -- Loads of one kind take turns; readers go on reading the edition they began with.
  CASE s.kind
    WHEN 'onspd' THEN LOCK TABLE outreach.postcode_geography IN SHARE ROW EXCLUSIVE MODE;
    WHEN 'polar4' THEN LOCK TABLE outreach.polar4_area IN SHARE ROW EXCLUSIVE MODE;
    WHEN 'tundra' THEN LOCK TABLE outreach.tundra_area IN SHARE ROW EXCLUSIVE MODE;
    ELSE LOCK TABLE outreach.deprivation_area IN SHARE ROW EXCLUSIVE MODE;
  END CASE;

  -- A key given twice: the first line is kept, the others reported.
  INSERT INTO outreach.area_lookup_stage_error (stage_id, line_no, status, reason)
  SELECT s.stage_id, d.line_no, 'duplicate', format('%s is also on line %s, which is kept', d.key, d.first_line)
  FROM (SELECT r.line_no, r.key, min(r.line_no) OVER (PARTITION BY r.key) AS first_line
        FROM outreach.area_lookup_staged_row r WHERE r.stage_id = s.stage_id) d
  WHERE d.line_no <> d.first_line;
  SELECT count(DISTINCT r.key) INTO good FROM outreach.area_lookup_staged_row r WHERE r.stage_id = s.stage_id;
  SELECT count(*) INTO bad FROM outreach.area_lookup_stage_error e WHERE e.stage_id = s.stage_id;
  IF good = 0 THEN
    RAISE EXCEPTION 'file "%" has no line that can be loaded (% lines read, % rejected): the edition loaded before is kept',
                    coalesce(s.file_name, '(unnamed)'), s.lines_read, bad
      USING ERRCODE = '22P04';
  END IF;

  INSERT INTO outreach.area_lookup_load (kind, deprivation_index, vintage, geography, file_name, loaded_by, staged_at,
                                         lines_read, lines_loaded, lines_rejected)
  VALUES (s.kind, s.deprivation_index, s.vintage, s.geography, s.file_name, s.staged_by, s.staged_at,
          s.lines_read, good, bad)
  RETURNING load_id INTO new_id;

  IF s.kind = 'onspd' THEN
    edition := 'the ONS Postcode Directory';
    DELETE FROM outreach.postcode_geography;
    GET DIAGNOSTICS replaced = ROW_COUNT;
    INSERT INTO outreach.postcode_geography (postcode, introduced, terminated, country, region, local_authority, ward,
                                             lsoa01, lsoa11, msoa11, lsoa21, msoa21, grid_quality, user_type, load_id)
    SELECT DISTINCT ON (r.key) r.key::outreach.uk_postcode, outreach.onspd_month(r.v[2]), outreach.onspd_month(r.v[3]),
           upper(r.v[4]), upper(r.v[5]), upper(r.v[6]), upper(r.v[7]), upper(r.v[8]), upper(r.v[9]), upper(r.v[10]),
           upper(r.v[11]), upper(r.v[12]), r.v[13]::smallint, r.v[14]::smallint, new_id
    FROM outreach.area_lookup_staged_row r WHERE r.stage_id = s.stage_id ORDER BY r.key, r.line_no;
  ELSIF s.kind = 'polar4' THEN
    edition := format('POLAR4 by %s', s.geography);
    DELETE FROM outreach.polar4_area a WHERE a.geography = s.geography;
    GET DIAGNOSTICS replaced = ROW_COUNT;
    INSERT INTO outreach.polar4_area (geography, area_code, quintile, load_id)
    SELECT DISTINCT ON (r.key) s.geography, r.key, r.v[2]::smallint, new_id
    FROM outreach.area_lookup_staged_row r WHERE r.stage_id = s.stage_id ORDER BY r.key, r.line_no;
  ELSIF s.kind = 'tundra' THEN
    edition := format('TUNDRA by %s', s.geography);
    DELETE FROM outreach.tundra_area a WHERE a.geography = s.geography;
    GET DIAGNOSTICS replaced = ROW_COUNT;
    INSERT INTO outreach.tundra_area (geography, area_code, quintile, load_id)
    SELECT DISTINCT ON (r.key) s.geography, r.key, r.v[2]::smallint, new_id
    FROM outreach.area_lookup_staged_row r WHERE r.stage_id = s.stage_id ORDER BY r.key, r.line_no;
  ELSE
    edition := format('%s %s', upper(s.deprivation_index), s.vintage);
    DELETE FROM outreach.deprivation_area a WHERE a.deprivation_index = s.deprivation_index AND a.vintage = s.vintage;
    GET DIAGNOSTICS replaced = ROW_COUNT;
    -- A file with ranks and no deciles: deciles from the ranks (1: the most deprived tenth).
    SELECT count(DISTINCT r.key) INTO n_ranked FROM outreach.area_lookup_staged_row r WHERE r.stage_id = s.stage_id;
    INSERT INTO outreach.deprivation_area (deprivation_index, vintage, geography, area_code, decile, rank, load_id)
    SELECT DISTINCT ON (r.key) s.deprivation_index, s.vintage, s.geography, r.key,
           coalesce(r.v[2]::smallint, least(10, ((r.v[3]::bigint - 1) * 10 / n_ranked) + 1)::smallint), r.v[3]::int, new_id
    FROM outreach.area_lookup_staged_row r WHERE r.stage_id = s.stage_id ORDER BY r.key, r.line_no;
  END IF;
  UPDATE outreach.area_lookup_load l SET rows_replaced = replaced WHERE l.load_id = new_id;

  RETURN QUERY
  SELECT e.line_no, e.status, e.reason FROM outreach.area_lookup_stage_error e
  WHERE e.stage_id = s.stage_id ORDER BY e.line_no;
  RETURN QUERY
  SELECT NULL::int, 'loaded'::text,
         format('load %s of "%s": %s lines read, %s loaded, %s rejected; %s rows of %s replaced', new_id,
                coalesce(s.file_name, '(unnamed)'), s.lines_read, good, bad, replaced, edition);
  DELETE FROM outreach.area_lookup_stage t WHERE t.stage_id = s.stage_id;
END
$$;
COMMENT ON FUNCTION outreach.load_area_lookup(bigint) IS
  'loads a staged area look-up file: in one transaction its good lines replace the edition of its kind (and index, '
  'vintage or geography); returns each line not loaded (number, status, reason) and a summary row (line_no NULL)';

CREATE OR REPLACE FUNCTION outreach.load_area_lookup(kind text, content bytea, file_name text DEFAULT NULL,
                                                     vintage text DEFAULT NULL, deprivation_index text DEFAULT NULL)
RETURNS TABLE (line_no int, status text, reason text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, outreach, pg_temp
AS $$
DECLARE
  sid bigint;
BEGIN
  IF content IS NULL THEN
    RAISE EXCEPTION 'no content given' USING ERRCODE = '22023';
  END IF;
  sid := outreach.area_lookup_stage(kind, file_name, vintage, deprivation_index);
  PERFORM outreach.area_lookup_take(sid, 1, content);
  RETURN QUERY SELECT * FROM outreach.load_area_lookup(sid);
END
$$;
COMMENT ON FUNCTION outreach.load_area_lookup(text, bytea, text, text, text) IS
  'loads a whole area look-up file in one call (area_lookup_stage, area_lookup_append, load_area_lookup(stage_id))';

REVOKE EXECUTE ON FUNCTION outreach.area_lookup_stage(text, text, text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION outreach.area_lookup_append(bigint, int, bytea) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION outreach.load_area_lookup(bigint) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION outreach.load_area_lookup(text, bytea, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.area_lookup_stage(text, text, text, text), outreach.area_lookup_append(bigint, int, bytea),
  outreach.load_area_lookup(bigint), outreach.load_area_lookup(text, bytea, text, text, text)
  TO outreach_processor, outreach_daemon;

-----------------------------------------------------------------------------------------------
-- Profiles
-----------------------------------------------------------------------------------------------

-- Inlined into the query that calls it (LANGUAGE sql, STABLE, one SELECT, no SET, not SECURITY
-- DEFINER): a view over millions of participants LEFT JOIN LATERALs it and plans plain joins.
-- Everything is schema-qualified, operators too, since the caller's search_path is in force.
-- Months: a postcode counts as live during the whole month it was introduced and the whole
-- month it was terminated (ONSPD gives months, not days).
-- The typed form: a participant's postcode is already a valid uk_postcode, so a view over
-- millions of them neither re-parses nor re-validates it (that was most of the view's time).
CREATE OR REPLACE FUNCTION outreach.area_profile(postcode outreach.uk_postcode, as_of date)
RETURNS TABLE (status text, reason text, introduced date, terminated date, country text, region text,
               local_authority text, ward text, lsoa11 text, msoa11 text, lsoa21 text, msoa21 text,
               polar4_quintile smallint, tundra_msoa_quintile smallint, tundra_lsoa_quintile smallint,
               imd2019_decile smallint, imd2025_decile smallint, wimd_decile smallint, wimd_vintage text,
               simd_decile smallint, simd_vintage text, nimdm_decile smallint, nimdm_vintage text)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT s0.status, st.reason, g.introduced, g.terminated,
         CASE WHEN st.ok THEN g.country END, CASE WHEN st.ok THEN g.region END,
         CASE WHEN st.ok THEN g.local_authority END, CASE WHEN st.ok THEN g.ward END,
         CASE WHEN st.ok THEN g.lsoa11 END, CASE WHEN st.ok THEN g.msoa11 END,
         CASE WHEN st.ok THEN g.lsoa21 END, CASE WHEN st.ok THEN g.msoa21 END,
         CASE WHEN st.ok THEN COALESCE(pm.quintile, pw.quintile) END,
         CASE WHEN st.ok THEN tm.quintile END, CASE WHEN st.ok THEN tl.quintile END,
         CASE WHEN st.ok THEN d19.decile END, CASE WHEN st.ok THEN d25.decile END,
         CASE WHEN st.ok THEN coalesce(dw_lsoa11.decile, dw_lsoa21.decile) END, CASE WHEN st.ok THEN coalesce(dw_lsoa11.vintage, dw_lsoa21.vintage) END,
         CASE WHEN st.ok THEN coalesce(ds_lsoa11.decile, ds_lsoa21.decile) END, CASE WHEN st.ok THEN coalesce(ds_lsoa11.vintage, ds_lsoa21.vintage) END,
         CASE WHEN st.ok THEN coalesce(dn_lsoa01.decile, dn_lsoa11.decile, dn_lsoa21.decile) END, CASE WHEN st.ok THEN coalesce(dn_lsoa01.vintage, dn_lsoa11.vintage, dn_lsoa21.vintage) END
  FROM (SELECT area_profile.postcode AS pc) AS p
  LEFT JOIN outreach.postcode_geography g ON g.postcode OPERATOR(outreach.=) p.pc
  LEFT JOIN outreach.polar4_area pm
    ON pm.geography OPERATOR(pg_catalog.=) 'msoa11' AND pm.area_code OPERATOR(pg_catalog.=) g.msoa11
  LEFT JOIN outreach.polar4_area pw
    ON pw.geography OPERATOR(pg_catalog.=) 'ward' AND pw.area_code OPERATOR(pg_catalog.=) g.ward
  LEFT JOIN outreach.tundra_area tm
    ON tm.geography OPERATOR(pg_catalog.=) 'msoa11' AND tm.area_code OPERATOR(pg_catalog.=) g.msoa11
  LEFT JOIN outreach.tundra_area tl
    ON tl.geography OPERATOR(pg_catalog.=) 'lsoa11' AND tl.area_code OPERATOR(pg_catalog.=) g.lsoa11
  LEFT JOIN outreach.deprivation_area d19
    ON d19.deprivation_index OPERATOR(pg_catalog.=) 'imd' AND d19.vintage OPERATOR(pg_catalog.=) '2019'
   AND d19.area_code OPERATOR(pg_catalog.=) g.lsoa11
  LEFT JOIN outreach.deprivation_area d25
    ON d25.deprivation_index OPERATOR(pg_catalog.=) 'imd' AND d25.vintage OPERATOR(pg_catalog.=) '2025'
   AND d25.area_code OPERATOR(pg_catalog.=) g.lsoa21
  -- The devolved indices: the newest vintage loaded, through the geography of its codes. One
  -- plain join per geography, each unique on the table's key, so that a query which does not
  -- read a measure does not pay for its join (PostgreSQL removes it).
  LEFT JOIN outreach.deprivation_area dw_lsoa11
    ON dw_lsoa11.deprivation_index OPERATOR(pg_catalog.=) 'wimd' AND dw_lsoa11.geography OPERATOR(pg_catalog.=) 'lsoa11'
   AND dw_lsoa11.vintage OPERATOR(pg_catalog.=) (SELECT pg_catalog.max(d.vintage) FROM outreach.deprivation_area d
                                           WHERE d.deprivation_index OPERATOR(pg_catalog.=) 'wimd')
   AND dw_lsoa11.area_code OPERATOR(pg_catalog.=) g.lsoa11 AND g.country OPERATOR(pg_catalog.=) 'W92000004'
  LEFT JOIN outreach.deprivation_area dw_lsoa21
    ON dw_lsoa21.deprivation_index OPERATOR(pg_catalog.=) 'wimd' AND dw_lsoa21.geography OPERATOR(pg_catalog.=) 'lsoa21'
   AND dw_lsoa21.vintage OPERATOR(pg_catalog.=) (SELECT pg_catalog.max(d.vintage) FROM outreach.deprivation_area d
                                           WHERE d.deprivation_index OPERATOR(pg_catalog.=) 'wimd')
   AND dw_lsoa21.area_code OPERATOR(pg_catalog.=) g.lsoa21 AND g.country OPERATOR(pg_catalog.=) 'W92000004'
  LEFT JOIN outreach.deprivation_area ds_lsoa11
    ON ds_lsoa11.deprivation_index OPERATOR(pg_catalog.=) 'simd' AND ds_lsoa11.geography OPERATOR(pg_catalog.=) 'lsoa11'
   AND ds_lsoa11.vintage OPERATOR(pg_catalog.=) (SELECT pg_catalog.max(d.vintage) FROM outreach.deprivation_area d
                                           WHERE d.deprivation_index OPERATOR(pg_catalog.=) 'simd')
   AND ds_lsoa11.area_code OPERATOR(pg_catalog.=) g.lsoa11 AND g.country OPERATOR(pg_catalog.=) 'S92000003'
  LEFT JOIN outreach.deprivation_area ds_lsoa21
    ON ds_lsoa21.deprivation_index OPERATOR(pg_catalog.=) 'simd' AND ds_lsoa21.geography OPERATOR(pg_catalog.=) 'lsoa21'
   AND ds_lsoa21.vintage OPERATOR(pg_catalog.=) (SELECT pg_catalog.max(d.vintage) FROM outreach.deprivation_area d
                                           WHERE d.deprivation_index OPERATOR(pg_catalog.=) 'simd')
   AND ds_lsoa21.area_code OPERATOR(pg_catalog.=) g.lsoa21 AND g.country OPERATOR(pg_catalog.=) 'S92000003'
  LEFT JOIN outreach.deprivation_area dn_lsoa01
    ON dn_lsoa01.deprivation_index OPERATOR(pg_catalog.=) 'nimdm' AND dn_lsoa01.geography OPERATOR(pg_catalog.=) 'lsoa01'
   AND dn_lsoa01.vintage OPERATOR(pg_catalog.=) (SELECT pg_catalog.max(d.vintage) FROM outreach.deprivation_area d
                                           WHERE d.deprivation_index OPERATOR(pg_catalog.=) 'nimdm')
   AND dn_lsoa01.area_code OPERATOR(pg_catalog.=) g.lsoa01 AND g.country OPERATOR(pg_catalog.=) 'N92000002'
  LEFT JOIN outreach.deprivation_area dn_lsoa11
    ON dn_lsoa11.deprivation_index OPERATOR(pg_catalog.=) 'nimdm' AND dn_lsoa11.geography OPERATOR(pg_catalog.=) 'lsoa11'
   AND dn_lsoa11.vintage OPERATOR(pg_catalog.=) (SELECT pg_catalog.max(d.vintage) FROM outreach.deprivation_area d
                                           WHERE d.deprivation_index OPERATOR(pg_catalog.=) 'nimdm')
   AND dn_lsoa11.area_code OPERATOR(pg_catalog.=) g.lsoa11 AND g.country OPERATOR(pg_catalog.=) 'N92000002'
  LEFT JOIN outreach.deprivation_area dn_lsoa21
    ON dn_lsoa21.deprivation_index OPERATOR(pg_catalog.=) 'nimdm' AND dn_lsoa21.geography OPERATOR(pg_catalog.=) 'lsoa21'
   AND dn_lsoa21.vintage OPERATOR(pg_catalog.=) (SELECT pg_catalog.max(d.vintage) FROM outreach.deprivation_area d
                                           WHERE d.deprivation_index OPERATOR(pg_catalog.=) 'nimdm')
   AND dn_lsoa21.area_code OPERATOR(pg_catalog.=) g.lsoa21 AND g.country OPERATOR(pg_catalog.=) 'N92000002'
  CROSS JOIN LATERAL (SELECT CASE
      WHEN p.pc IS NULL THEN 'no_postcode'
      WHEN g.postcode IS NULL AND outreach.postcode_area(p.pc) OPERATOR(pg_catalog.=) ANY (ARRAY['BX', 'BF'])
        THEN 'non_geographic'
      WHEN g.postcode IS NULL THEN 'unknown_postcode'
      WHEN g.grid_quality OPERATOR(pg_catalog.=) 9 OR pg_catalog.substr(g.ward, 2) OPERATOR(pg_catalog.=) '99999999'
        THEN 'non_geographic'
      WHEN area_profile.as_of IS NULL THEN 'no_date'
      WHEN area_profile.as_of OPERATOR(pg_catalog.<) g.introduced THEN 'not_yet_introduced'
      WHEN pg_catalog.date_trunc('month', area_profile.as_of::pg_catalog.timestamp)
           OPERATOR(pg_catalog.>) g.terminated::pg_catalog.timestamp THEN 'terminated_before'
      ELSE 'resolved' END AS status) AS s0
  CROSS JOIN LATERAL (SELECT s0.status OPERATOR(pg_catalog.=) 'resolved' AS ok, CASE
      WHEN s0.status OPERATOR(pg_catalog.=) 'no_postcode' THEN 'no postcode was given'
      WHEN s0.status OPERATOR(pg_catalog.=) 'non_geographic'
        THEN 'a non-geographic postcode (PO box, large user, BFPO): no area'
      WHEN s0.status OPERATOR(pg_catalog.=) 'unknown_postcode' THEN 'the postcode is not in the ONS Postcode Directory loaded'
      WHEN s0.status OPERATOR(pg_catalog.=) 'no_date' THEN 'no date to profile at'
      WHEN s0.status OPERATOR(pg_catalog.=) 'not_yet_introduced'
        THEN pg_catalog.format('the postcode was introduced in %s, after %s',
                               pg_catalog.to_char(g.introduced, 'YYYY-MM'), area_profile.as_of)
      WHEN s0.status OPERATOR(pg_catalog.=) 'terminated_before'
        THEN pg_catalog.format('the postcode was terminated in %s, before %s',
                               pg_catalog.to_char(g.terminated, 'YYYY-MM'), area_profile.as_of)
      ELSE 'the postcode''s areas as they stood at the date' END AS reason) AS st
$$;
COMMENT ON FUNCTION outreach.area_profile(outreach.uk_postcode, date) IS
  'the areas and measures of a postcode as it stood at a date (status resolved, or not_yet_introduced, '
  'terminated_before, unknown_postcode, non_geographic, no_postcode, no_date with a reason); one row; inlined into the calling query';
REVOKE EXECUTE ON FUNCTION outreach.area_profile(outreach.uk_postcode, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.area_profile(outreach.uk_postcode, date)
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;

-- The text form takes what a person typed: it says so for HESA's ZZ99 pseudo-postcodes and for
-- text that is no postcode, and profiles the rest through the typed form below.
CREATE OR REPLACE FUNCTION outreach.area_profile(postcode text, as_of date)
RETURNS TABLE (status text, reason text, introduced date, terminated date, country text, region text,
               local_authority text, ward text, lsoa11 text, msoa11 text, lsoa21 text, msoa21 text,
               polar4_quintile smallint, tundra_msoa_quintile smallint, tundra_lsoa_quintile smallint,
               imd2019_decile smallint, imd2025_decile smallint, wimd_decile smallint, wimd_vintage text,
               simd_decile smallint, simd_vintage text, nimdm_decile smallint, nimdm_vintage text)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT coalesce(c.status, a.status), coalesce(c.reason, a.reason), a.introduced, a.terminated, a.country,
         a.region, a.local_authority, a.ward, a.lsoa11, a.msoa11, a.lsoa21, a.msoa21, a.polar4_quintile,
         a.tundra_msoa_quintile, a.tundra_lsoa_quintile, a.imd2019_decile, a.imd2025_decile, a.wimd_decile,
         a.wimd_vintage, a.simd_decile, a.simd_vintage, a.nimdm_decile, a.nimdm_vintage
  FROM (SELECT pg_catalog.upper(pg_catalog.regexp_replace(area_profile.postcode, '\s', '', 'g')) AS squeezed) AS t
  CROSS JOIN LATERAL (SELECT CASE
      WHEN t.squeezed IS NULL OR t.squeezed OPERATOR(pg_catalog.=) '' THEN NULL
      WHEN t.squeezed OPERATOR(pg_catalog.~~) 'ZZ99%' THEN 'hesa_unknown'
      WHEN NOT outreach.is_valid_postcode(area_profile.postcode) THEN 'invalid_postcode' END AS status) AS c0
  CROSS JOIN LATERAL (SELECT c0.status, CASE
      WHEN c0.status OPERATOR(pg_catalog.=) 'hesa_unknown'
        THEN 'ZZ99 is the pseudo-postcode of an unknown or overseas address (HESA): no area'
      WHEN c0.status OPERATOR(pg_catalog.=) 'invalid_postcode' THEN 'not a valid UK postcode' END AS reason) AS c
  LEFT JOIN LATERAL outreach.area_profile(
      -- (a guard the planner folds when the postcode is a constant: ZZ99 9ZZ never reaches the cast)
      CASE WHEN outreach.is_valid_postcode(area_profile.postcode) THEN outreach.uk_postcode(area_profile.postcode) END,
      area_profile.as_of) AS a ON true
$$;
COMMENT ON FUNCTION outreach.area_profile(text, date) IS
  'the areas and measures of a postcode as it stood at a date (status resolved, or not_yet_introduced, '
  'terminated_before, unknown_postcode, invalid_postcode, hesa_unknown, non_geographic, no_postcode, no_date with a '
  'reason); one row; inlined into the calling query';
REVOKE EXECUTE ON FUNCTION outreach.area_profile(text, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.area_profile(text, date)
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;
-- Statistical disclosure control (issue 14, docs/disclosure.md): the rounding and suppression
-- every figure leaving a member's own rows goes through. Policies: 'hesa' (the default) and
-- 'ofs'. All are pure functions of their arguments (no table, no catalog lookup, the policy
-- parsed once per query), so they are IMMUTABLE and cheap enough to wrap any aggregate.
-- EXECUTE stays with PUBLIC (granted explicitly below): they reveal nothing but arithmetic on
-- their arguments, and views for outreach_bi and outreach_analyst, security_invoker or not,
-- must be able to call them whoever owns or queries the view.

CREATE OR REPLACE FUNCTION outreach.round_hesa(n bigint) RETURNS bigint
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.round_hesa(bigint) IS
  'HESA rounding of a count: 0, 1, 2 -> 0, otherwise the nearest multiple of 5, halves up; 22023 for a negative count';

CREATE OR REPLACE FUNCTION outreach.round_hesa(x numeric) RETURNS numeric
  AS 'MODULE_PATHNAME', 'round_hesa_numeric' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.round_hesa(numeric) IS
  'HESA rounding of a fractional count (FPE): floor(x/5 + 0.5)*5, exact, so under 2.5 -> 0 and 2.5 -> 5; 22023 for negative, NaN or Infinity';

CREATE OR REPLACE FUNCTION outreach.round_ofs(n bigint) RETURNS bigint
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.round_ofs(bigint) IS
  'OfS rounding of a count: the nearest multiple of 10, halves up (rounding only: sdc_count also suppresses 0..2); 22023 for a negative count';

CREATE OR REPLACE FUNCTION outreach.round_ofs(x numeric) RETURNS numeric
  AS 'MODULE_PATHNAME', 'round_ofs_numeric' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.round_ofs(numeric) IS
  'OfS rounding of a fractional count: floor(x/10 + 0.5)*10, exact; 22023 for negative, NaN or Infinity';

CREATE OR REPLACE FUNCTION outreach.sdc_count(n bigint, policy text DEFAULT 'hesa') RETURNS bigint
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.sdc_count(bigint, text) IS
  'a count as published under the policy: hesa rounds (0..2 show 0); ofs rounds to 10 and gives NULL for 0..2 (show sdc_count_marker); 42704 for an unknown policy';

CREATE OR REPLACE FUNCTION outreach.sdc_count(x numeric, policy text DEFAULT 'hesa') RETURNS numeric
  AS 'MODULE_PATHNAME', 'sdc_count_numeric' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.sdc_count(numeric, text) IS
  'a fractional count (FPE) as published under the policy, as sdc_count(bigint, text)';

CREATE OR REPLACE FUNCTION outreach.sdc_count_marker(n bigint, policy text DEFAULT 'hesa') RETURNS text
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.sdc_count_marker(bigint, text) IS
  'what a published table shows instead of a suppressed count ([DPL] for 0..2 under ofs), NULL when sdc_count shows it';

CREATE OR REPLACE FUNCTION outreach.sdc_percent(part bigint, base bigint, policy text DEFAULT 'hesa') RETURNS numeric
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.sdc_percent(bigint, bigint, text) IS
  '100*part/base on unrounded values, 1 decimal place halves up; NULL when suppressed (hesa: base under 22.5; ofs: base under 23, part <= 2 or within 2 of base); 22023 for negatives, base 0 or part > base';

CREATE OR REPLACE FUNCTION outreach.sdc_percent(part numeric, base numeric, policy text DEFAULT 'hesa') RETURNS numeric
  AS 'MODULE_PATHNAME', 'sdc_percent_numeric' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.sdc_percent(numeric, numeric, text) IS
  'sdc_percent of fractional part and base (FPE), thresholds compared exactly (hesa: 22.4 suppressed, 22.5 shown)';

CREATE OR REPLACE FUNCTION outreach.sdc_marker(part bigint, base bigint, policy text DEFAULT 'hesa') RETURNS text
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.sdc_marker(bigint, bigint, text) IS
  'what a published table shows instead of a suppressed percentage (hesa ..; ofs [none], [low], [DPL], [DPH]), NULL when sdc_percent shows it';

CREATE OR REPLACE FUNCTION outreach.sdc_marker(part numeric, base numeric, policy text DEFAULT 'hesa') RETURNS text
  AS 'MODULE_PATHNAME', 'sdc_marker_numeric' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.sdc_marker(numeric, numeric, text) IS
  'sdc_marker of fractional part and base (FPE)';

CREATE OR REPLACE FUNCTION outreach.sdc_mean(total numeric, n bigint, policy text DEFAULT 'hesa') RETURNS numeric
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.sdc_mean(numeric, bigint, text) IS
  'total/n to 1 decimal place, NULL when n <= 7 people (show the policy''s suppressed_marker); 22023 for n <= 0 or a non-finite total';

CREATE OR REPLACE FUNCTION outreach.sdc_total_publishable(parts bigint[], policy text DEFAULT 'hesa') RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.sdc_total_publishable(bigint[], text) IS
  'false when the rounded total published beside the parts'' published counts would pin a part or the total to one true value';

CREATE OR REPLACE FUNCTION outreach.sdc_total(parts bigint[], policy text DEFAULT 'hesa') RETURNS bigint
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.sdc_total(bigint[], text) IS
  'the published total of these parts: sdc_count of their sum, or NULL when suppressed (sdc_total_publishable false: secondary suppression)';

CREATE OR REPLACE FUNCTION outreach.disclosure_policies()
  RETURNS TABLE (policy text, is_default boolean, rounding_base integer, small_count_max integer,
                 small_count_shown text, percent_min_base numeric, mean_max_suppressed integer,
                 suppressed_marker text, description text)
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 2;
COMMENT ON FUNCTION outreach.disclosure_policies() IS
  'the compiled-in disclosure policies and their parameters, for documentation and BI tools';

-- integer forms: without them an integer argument (a literal, a sum of int4) would fit the
-- bigint and the numeric form equally, and PostgreSQL would refuse the call as ambiguous.
-- Standard SQL bodies (parsed at creation, so no caller's search_path reaches them) that
-- the planner inlines, so they cost nothing.
CREATE OR REPLACE FUNCTION outreach.round_hesa(n integer) RETURNS bigint
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE RETURN outreach.round_hesa(n::bigint);
COMMENT ON FUNCTION outreach.round_hesa(integer) IS 'round_hesa(bigint) of an integer';
CREATE OR REPLACE FUNCTION outreach.round_ofs(n integer) RETURNS bigint
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE RETURN outreach.round_ofs(n::bigint);
COMMENT ON FUNCTION outreach.round_ofs(integer) IS 'round_ofs(bigint) of an integer';
CREATE OR REPLACE FUNCTION outreach.sdc_count(n integer, policy text DEFAULT 'hesa') RETURNS bigint
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE RETURN outreach.sdc_count(n::bigint, policy);
COMMENT ON FUNCTION outreach.sdc_count(integer, text) IS 'sdc_count(bigint, text) of an integer';
CREATE OR REPLACE FUNCTION outreach.sdc_percent(part integer, base integer, policy text DEFAULT 'hesa') RETURNS numeric
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE RETURN outreach.sdc_percent(part::bigint, base::bigint, policy);
COMMENT ON FUNCTION outreach.sdc_percent(integer, integer, text) IS 'sdc_percent(bigint, bigint, text) of integers';
CREATE OR REPLACE FUNCTION outreach.sdc_marker(part integer, base integer, policy text DEFAULT 'hesa') RETURNS text
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE RETURN outreach.sdc_marker(part::bigint, base::bigint, policy);
COMMENT ON FUNCTION outreach.sdc_marker(integer, integer, text) IS 'sdc_marker(bigint, bigint, text) of integers';

GRANT EXECUTE ON FUNCTION outreach.round_hesa(bigint), outreach.round_hesa(numeric), outreach.round_ofs(bigint),
  outreach.round_ofs(numeric), outreach.sdc_count(bigint, text), outreach.sdc_count(numeric, text),
  outreach.sdc_count_marker(bigint, text), outreach.sdc_percent(bigint, bigint, text),
  outreach.sdc_percent(numeric, numeric, text), outreach.sdc_marker(bigint, bigint, text),
  outreach.sdc_marker(numeric, numeric, text), outreach.sdc_mean(numeric, bigint, text),
  outreach.sdc_total_publishable(bigint[], text), outreach.sdc_total(bigint[], text),
  outreach.disclosure_policies(), outreach.round_hesa(integer), outreach.round_ofs(integer),
  outreach.sdc_count(integer, text), outreach.sdc_percent(integer, integer, text),
  outreach.sdc_marker(integer, integer, text) TO PUBLIC;
-- Postcode profiling of participants and the reach of a member's outreach by neighbourhood.
-- participant_area is a row per participant (readers, under row security); reach_by_area is
-- an aggregate under the disclosure policy (analysts, BI tools), computed behind a function
-- boundary so that EXPLAIN ANALYZE never shows the unrounded counts of its plan's nodes.

-- Each participant's neighbourhood as at the date of their first activity (or of their
-- registration, before any activity): area_profile() says why a measure is missing.
CREATE OR REPLACE VIEW outreach.participant_area WITH (security_invoker = true) AS
SELECT p.controller_id, p.participant_id, p.postcode, f.first_activity_on,
       coalesce(f.first_activity_on, (p.created_at AT TIME ZONE 'UTC')::date) AS profiled_as_at,
       a.status AS area_status, a.reason AS area_reason,
       a.country, a.region, a.local_authority, a.ward, a.lsoa11, a.msoa11, a.lsoa21, a.msoa21,
       a.polar4_quintile, a.tundra_msoa_quintile, a.tundra_lsoa_quintile, a.imd2019_decile, a.imd2025_decile,
       a.wimd_decile, a.simd_decile, a.nimdm_decile, p.withdrawn_at, p.restricted_at
FROM outreach.participant p
LEFT JOIN (SELECT att.controller_id, att.participant_id, min(att.attended_on) AS first_activity_on
           FROM outreach.attendance att GROUP BY att.controller_id, att.participant_id) f
  ON f.controller_id OPERATOR(pg_catalog.=) p.controller_id
 AND f.participant_id OPERATOR(pg_catalog.=) p.participant_id
LEFT JOIN LATERAL outreach.area_profile(p.postcode,
                                        coalesce(f.first_activity_on, (p.created_at AT TIME ZONE 'UTC')::date)) a ON true;
COMMENT ON VIEW outreach.participant_area IS
  'own participants'' neighbourhood measures (POLAR4, TUNDRA, IMD) as at their first activity, with the reason when one is missing';
COMMENT ON COLUMN outreach.participant_area.first_activity_on IS 'date of the participant''s first attended activity (NULL: none yet)';
COMMENT ON COLUMN outreach.participant_area.profiled_as_at IS 'the date the postcode is resolved at: the first activity, else the registration date (UTC)';
COMMENT ON COLUMN outreach.participant_area.area_status IS 'resolved, or why not (outreach.area_profile)';
COMMENT ON COLUMN outreach.participant_area.area_reason IS 'the status in words';
COMMENT ON COLUMN outreach.participant_area.polar4_quintile IS 'POLAR4 quintile of the postcode''s ward (1: lowest young participation)';
COMMENT ON COLUMN outreach.participant_area.tundra_msoa_quintile IS 'TUNDRA quintile of the postcode''s 2011 MSOA (England)';
COMMENT ON COLUMN outreach.participant_area.tundra_lsoa_quintile IS 'TUNDRA quintile of the postcode''s 2011 LSOA (England)';
COMMENT ON COLUMN outreach.participant_area.imd2019_decile IS 'English IMD 2019 decile of the 2011 LSOA (1: most deprived 10%)';
COMMENT ON COLUMN outreach.participant_area.imd2025_decile IS 'English IMD 2025 decile of the 2021 LSOA (1: most deprived 10%)';
REVOKE ALL ON outreach.participant_area FROM PUBLIC;
GRANT SELECT ON outreach.participant_area TO outreach_reader, outreach_processor;

-- The controllers whose aggregates the calling role reads: its own at analyst level (readers
-- and analysts of a member; the processor: all), or every member for the service's BI tools.
CREATE OR REPLACE FUNCTION outreach.report_controller_ids() RETURNS int[]
LANGUAGE sql STABLE SECURITY DEFINER PARALLEL RESTRICTED
SET search_path = pg_catalog, outreach, pg_temp
AS $$
SELECT CASE WHEN pg_catalog.pg_has_role(outreach.invoking_role()::pg_catalog.oid, 'outreach_bi', 'MEMBER')
            THEN ARRAY(SELECT c.controller_id FROM outreach.controller c ORDER BY 1)
            ELSE outreach.caller_controller_ids('analyst') END
$$;
COMMENT ON FUNCTION outreach.report_controller_ids() IS
  'members whose disclosure-controlled aggregates the calling role reads: its own (analyst level), or all for outreach_bi';
REVOKE EXECUTE ON FUNCTION outreach.report_controller_ids() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.report_controller_ids()
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;

-- Reach: participants who attended an activity of a type in an academic year, by band of each
-- neighbourhood measure. A participant counts once per year, type and measure, profiled as at
-- their first activity; withdrawn and restricted participants are never counted. Rows with
-- activity_type '(all)' count each participant once across types.
CREATE OR REPLACE FUNCTION outreach.report_reach_by_area(policy text DEFAULT 'hesa')
RETURNS TABLE (controller_id int, controller_code text, academic_year text, activity_type text, measure text,
               band text, participants bigint, percent numeric, marker text)
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL RESTRICTED
SET search_path = pg_catalog, outreach, pg_temp
-- Whole-member aggregates with rough row estimates: JIT would compile for seconds (4 s of
-- the 5 s a 10,000-participant report took) to save milliseconds.
SET jit = off
AS $$
DECLARE
  ids int[] := outreach.report_controller_ids();
  cid int;
BEGIN
  PERFORM outreach.sdc_count(0, policy);   -- an unknown policy stops here (42704), before any work
  -- One member at a time: controller_id = cid reaches the first-activity aggregate inside
  -- participant_area (= ANY would not, and it would aggregate every member's attendance).
  FOREACH cid IN ARRAY ids LOOP
  RETURN QUERY
  WITH profiled AS MATERIALIZED (   -- each participant profiled once, not once per year and type
    SELECT pa.controller_id, pa.participant_id, pa.polar4_quintile, pa.tundra_msoa_quintile, pa.tundra_lsoa_quintile,
           pa.imd2019_decile, pa.imd2025_decile, pa.wimd_decile, pa.simd_decile, pa.nimdm_decile
    FROM outreach.participant_area pa
    WHERE pa.controller_id OPERATOR(pg_catalog.=) cid
      AND pa.withdrawn_at IS NULL AND pa.restricted_at IS NULL
  ), attended AS (
    -- each participant once per year and type, and once per year across types ('(all)')
    SELECT DISTINCT att.participant_id, outreach.academic_year(att.attended_on) AS year, act.activity_type
    FROM outreach.attendance att
    JOIN outreach.activity act
      ON act.controller_id OPERATOR(pg_catalog.=) att.controller_id
     AND act.activity_id OPERATOR(pg_catalog.=) att.activity_id
    WHERE att.controller_id OPERATOR(pg_catalog.=) cid
    UNION
    SELECT att.participant_id, outreach.academic_year(att.attended_on), '(all)'
    FROM outreach.attendance att
    WHERE att.controller_id OPERATOR(pg_catalog.=) cid
  ), cells AS (
    SELECT p.controller_id, a.year, a.activity_type, m.measure, coalesce(m.band::text, 'not known') AS band,
           count(*) AS n
    FROM profiled p
    JOIN attended a ON a.participant_id OPERATOR(pg_catalog.=) p.participant_id
    CROSS JOIN LATERAL (VALUES ('polar4', p.polar4_quintile), ('tundra_msoa', p.tundra_msoa_quintile),
                               ('tundra_lsoa', p.tundra_lsoa_quintile), ('imd2019', p.imd2019_decile),
                               ('imd2025', p.imd2025_decile), ('wimd', p.wimd_decile), ('simd', p.simd_decile),
                               ('nimdm', p.nimdm_decile)) AS m(measure, band)
    GROUP BY p.controller_id, a.year, a.activity_type, m.measure, coalesce(m.band::text, 'not known')
  ), grid AS (
    -- Every band of every measure for each year and type the member has, zeros included: were
    -- empty cells left out, a published 0 would always mean 1 or 2 people.
    SELECT k.controller_id, k.year, k.activity_type, k.measure, bd.band, coalesce(c.n, 0) AS n
    FROM (SELECT DISTINCT c.controller_id, c.year, c.activity_type, c.measure FROM cells c) AS k
    CROSS JOIN LATERAL (
      SELECT g::text AS band
      FROM generate_series(1, CASE WHEN k.measure OPERATOR(pg_catalog.~~) ANY (ARRAY['polar4', 'tundra%']) THEN 5 ELSE 10 END) AS g
      UNION ALL SELECT 'not known') AS bd
    LEFT JOIN cells c ON c.controller_id OPERATOR(pg_catalog.=) k.controller_id AND c.year OPERATOR(pg_catalog.=) k.year
                     AND c.activity_type OPERATOR(pg_catalog.=) k.activity_type
                     AND c.measure OPERATOR(pg_catalog.=) k.measure AND c.band OPERATOR(pg_catalog.=) bd.band
  ), based AS (
    SELECT g.*, sum(g.n) OVER (PARTITION BY g.controller_id, g.year, g.activity_type, g.measure)::bigint AS base
    FROM grid g
  ), controlled AS (
    SELECT b.*, outreach.sdc_count(b.n, policy) AS shown, outreach.sdc_percent(b.n, b.base, policy) AS pct,
           coalesce(outreach.sdc_count_marker(b.n, policy), outreach.sdc_marker(b.n, b.base, policy)) AS mk
    FROM based b
  ), secondary AS (
    -- The percentages of one measure's bands add up to 100: when exactly one is withheld it
    -- would be 100 less the others, so the smallest shown one is withheld too.
    SELECT c.*, count(*) FILTER (WHERE c.pct IS NULL) OVER p AS withheld,
           row_number() OVER (PARTITION BY c.controller_id, c.year, c.activity_type, c.measure, c.pct IS NULL
                              ORDER BY c.n, c.band) AS rank_shown
    FROM controlled c
    WINDOW p AS (PARTITION BY c.controller_id, c.year, c.activity_type, c.measure)
  )
  SELECT s.controller_id, ctl.code::text, outreach.academic_year_label(s.year), s.activity_type, s.measure, s.band,
         s.shown,
         CASE WHEN s.withheld = 1 AND s.pct IS NOT NULL AND s.rank_shown = 1 THEN NULL ELSE s.pct END,
         CASE WHEN s.withheld = 1 AND s.pct IS NOT NULL AND s.rank_shown = 1
              THEN CASE WHEN policy OPERATOR(pg_catalog.=) 'ofs' THEN '[DP]' ELSE '..' END ELSE s.mk END
  FROM secondary s
  JOIN outreach.controller ctl ON ctl.controller_id OPERATOR(pg_catalog.=) s.controller_id;
  END LOOP;
END
$$;
COMMENT ON FUNCTION outreach.report_reach_by_area(text) IS
  'participants reached per member, academic year, activity type and band of each neighbourhood measure, under a disclosure policy (hesa, ofs)';
REVOKE EXECUTE ON FUNCTION outreach.report_reach_by_area(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.report_reach_by_area(text)
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;

CREATE OR REPLACE VIEW outreach.reach_by_area WITH (security_barrier = true) AS
SELECT r.controller_id, r.controller_code, r.academic_year, r.activity_type, r.measure, r.band,
       r.participants, r.percent, r.marker
FROM outreach.report_reach_by_area('hesa') r;
COMMENT ON VIEW outreach.reach_by_area IS
  'participants reached per member, academic year, activity type and neighbourhood band, HESA rounding and suppression (report_reach_by_area(''ofs'') for the OfS convention)';
COMMENT ON COLUMN outreach.reach_by_area.controller_id IS 'the member (outreach.controller)';
COMMENT ON COLUMN outreach.reach_by_area.controller_code IS 'the member''s code';
COMMENT ON COLUMN outreach.reach_by_area.academic_year IS 'academic year of the attendance, e.g. 2025/26';
COMMENT ON COLUMN outreach.reach_by_area.activity_type IS 'activity type, or (all): each participant once across types';
COMMENT ON COLUMN outreach.reach_by_area.measure IS 'polar4, tundra_msoa, tundra_lsoa (quintiles), imd2019, imd2025 (deciles)';
COMMENT ON COLUMN outreach.reach_by_area.band IS 'quintile or decile (1: least participation / most deprived), or not known';
COMMENT ON COLUMN outreach.reach_by_area.participants IS 'participants reached, rounded (HESA: nearest 5, 0-2 shown as 0)';
COMMENT ON COLUMN outreach.reach_by_area.percent IS 'share of the year''s and type''s participants in this band, from unrounded counts; NULL when suppressed';
COMMENT ON COLUMN outreach.reach_by_area.marker IS 'why a figure is withheld (HESA ..; OfS [low], [DPL], [DPH], [DP] for the second of a measure''s percentages); NULL when shown';
REVOKE ALL ON outreach.reach_by_area FROM PUBLIC;
GRANT SELECT ON outreach.reach_by_area TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;
-- Outcome reports: what became of participants (progression to HE, applications, KS4/KS5
-- results, continuation) by activity type, intensity and cohort, against the member's whole
-- participant population; and what each recipient returned (progression_summary). Both under
-- the disclosure policy, computed behind a function boundary (see 62_area_reports.sql), and
-- never counting a withdrawn or restricted participant.

-- A participant's cohort is their Expected HE Entry Year (the override where the member set
-- one); intensity is how many distinct activities they attended, of the row's type ('(all)':
-- of any type). The row with activity_type '(all participants)' is the member's whole
-- population of the cohort, attended or not: the comparison group.
-- The groups every outcome report compares: one row per counted participant (not withdrawn, not
-- restricted) of the given members and cohort, for each activity type they attended and for
-- '(all)' types with their intensity band, and one row '(all participants)' (intensity '(any)').
-- Inlined into the SECURITY DEFINER report functions that call it (their pinned search_path
-- applies; a SET clause here would stop the inlining), and nobody else may call it.
CREATE OR REPLACE FUNCTION outreach.report_groups(ids int[])
RETURNS TABLE (controller_id int, participant_id bigint, cohort int, activity_type text, intensity text)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  WITH people AS (
    SELECT p.controller_id, p.participant_id,
           coalesce(p.he_entry_year_override, outreach.expected_he_entry_year(p.date_of_birth, pol.nation)) AS cohort
    FROM outreach.participant p
    JOIN outreach.retention_policy pol ON pol.controller_id OPERATOR(pg_catalog.=) p.controller_id
    WHERE p.controller_id OPERATOR(pg_catalog.=) ANY (ids)
      AND p.withdrawn_at IS NULL AND p.restricted_at IS NULL
  ), attended AS (
    SELECT att.controller_id, att.participant_id, coalesce(act.activity_type, '(all)') AS activity_type,
           count(DISTINCT att.activity_id) AS activities
    FROM outreach.attendance att
    JOIN outreach.activity act
      ON act.controller_id OPERATOR(pg_catalog.=) att.controller_id
     AND act.activity_id OPERATOR(pg_catalog.=) att.activity_id
    WHERE att.controller_id OPERATOR(pg_catalog.=) ANY (ids)
    GROUP BY GROUPING SETS ((att.controller_id, att.participant_id, act.activity_type),
                            (att.controller_id, att.participant_id))
  )
  SELECT pe.controller_id, pe.participant_id, pe.cohort, a.activity_type,
         CASE WHEN a.activities OPERATOR(pg_catalog.=) 1 THEN '1'
              WHEN a.activities OPERATOR(pg_catalog.<=) 3 THEN '2-3' ELSE '4+' END
  FROM people pe
  JOIN attended a ON a.controller_id OPERATOR(pg_catalog.=) pe.controller_id
                 AND a.participant_id OPERATOR(pg_catalog.=) pe.participant_id
  UNION ALL
  SELECT pe.controller_id, pe.participant_id, pe.cohort, '(all participants)', '(any)' FROM people pe
$$;
REVOKE EXECUTE ON FUNCTION outreach.report_groups(int[]) FROM PUBLIC;
COMMENT ON FUNCTION outreach.report_groups(int[]) IS
  'for the outcome reports: counted participants of the members by cohort, activity type (or (all), (all participants)) and intensity';

-- The intensity bands every activity type is reported in (the whole population: one), zeros
-- included. A standard SQL body: parsed once, when created, and inlined into its callers.
CREATE OR REPLACE FUNCTION outreach.report_intensities(activity_type text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN activity_type OPERATOR(pg_catalog.=) '(all participants)' THEN ARRAY['(any)']
            ELSE ARRAY['1', '2-3', '4+', '(any)'] END;
COMMENT ON FUNCTION outreach.report_intensities(text) IS
  'the intensity bands an outcome report lists for an activity type: 1, 2-3, 4+ and (any); (any) alone for (all participants)';

CREATE OR REPLACE FUNCTION outreach.report_outcomes(policy text DEFAULT 'hesa')
RETURNS TABLE (controller_id int, controller_code text, cohort int, activity_type text, intensity text,
               outcome text, participants bigint, with_outcome bigint, percent numeric, marker text)
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL RESTRICTED
SET search_path = pg_catalog, outreach, pg_temp
SET jit = off   -- (as report_reach_by_area: compiling costs seconds, saves milliseconds)
AS $$
DECLARE
  ids int[] := outreach.report_controller_ids();
BEGIN
  PERFORM outreach.sdc_count(0, policy);   -- an unknown policy stops here (42704), before any work
  RETURN QUERY
  WITH groups AS (
    SELECT * FROM outreach.report_groups(ids)
  ), outcomes AS (
    SELECT DISTINCT b.controller_id, u.participant_id, u.outcome
    FROM outreach.outcome_block b
    CROSS JOIN LATERAL unnest(b.participant_ids, b.outcomes) AS u(participant_id, outcome)
    WHERE b.controller_id OPERATOR(pg_catalog.=) ANY (ids)
  ), kinds AS (
    SELECT k.outcome FROM unnest(ARRAY['he_entry', 'he_application', 'ks4', 'ks5', 'continuation']) AS k(outcome)
  ), cells AS (
    SELECT g.controller_id, g.cohort, g.activity_type, g.intensity, k.outcome,
           count(*) AS base, count(o.participant_id) AS n
    FROM groups g
    CROSS JOIN kinds k
    LEFT JOIN outcomes o ON o.controller_id OPERATOR(pg_catalog.=) g.controller_id
                        AND o.participant_id OPERATOR(pg_catalog.=) g.participant_id
                        AND o.outcome OPERATOR(pg_catalog.=) k.outcome
    GROUP BY GROUPING SETS ((g.controller_id, g.cohort, g.activity_type, g.intensity, k.outcome),
                            (g.controller_id, g.cohort, g.activity_type, k.outcome))
  ), grid AS (
    -- Every intensity and outcome of each cohort and type the member has, zeros included (were
    -- empty cells left out, a published 0 would always mean 1 or 2 people).
    SELECT k.controller_id, k.cohort, k.activity_type, i.intensity, kd.outcome,
           coalesce(c.base, 0) AS base, coalesce(c.n, 0) AS n
    FROM (SELECT DISTINCT c.controller_id, c.cohort, c.activity_type FROM cells c) AS k
    CROSS JOIN LATERAL unnest(outreach.report_intensities(k.activity_type)) AS i(intensity)
    CROSS JOIN kinds kd
    LEFT JOIN cells c ON c.controller_id OPERATOR(pg_catalog.=) k.controller_id AND c.cohort OPERATOR(pg_catalog.=) k.cohort
                     AND c.activity_type OPERATOR(pg_catalog.=) k.activity_type
                     AND coalesce(c.intensity, '(any)') OPERATOR(pg_catalog.=) i.intensity
                     AND c.outcome OPERATOR(pg_catalog.=) kd.outcome
                     AND (c.intensity IS NOT NULL OR c.activity_type OPERATOR(pg_catalog.<>) '(all participants)')
  )
  SELECT g.controller_id, ctl.code::text, g.cohort, g.activity_type, g.intensity, g.outcome,
         outreach.sdc_count(g.base, policy), outreach.sdc_count(g.n, policy),
         CASE WHEN g.base OPERATOR(pg_catalog.>) 0 THEN outreach.sdc_percent(g.n, g.base, policy) END,
         -- an empty group is marked as one of 1 or 2 people is, so the two cannot be told apart
         coalesce(outreach.sdc_count_marker(g.n, policy),
                  outreach.sdc_marker(g.n, greatest(g.base, 1), policy))
  FROM grid g
  JOIN outreach.controller ctl ON ctl.controller_id OPERATOR(pg_catalog.=) g.controller_id;
END
$$;
COMMENT ON FUNCTION outreach.report_outcomes(text) IS
  'participants with each outcome per member, cohort, activity type and intensity, against the whole participant population, under a disclosure policy (hesa, ofs)';
REVOKE EXECUTE ON FUNCTION outreach.report_outcomes(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.report_outcomes(text)
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;

CREATE OR REPLACE VIEW outreach.outcomes_by_activity WITH (security_barrier = true) AS
SELECT r.controller_id, r.controller_code, r.cohort, r.activity_type, r.intensity, r.outcome,
       r.participants, r.with_outcome, r.percent, r.marker
FROM outreach.report_outcomes('hesa') r;
COMMENT ON VIEW outreach.outcomes_by_activity IS
  'progression to HE, HE applications, KS4/KS5 results and continuation per member, cohort, activity type and intensity, HESA rounding and suppression';
COMMENT ON COLUMN outreach.outcomes_by_activity.controller_id IS 'the member (outreach.controller)';
COMMENT ON COLUMN outreach.outcomes_by_activity.controller_code IS 'the member''s code';
COMMENT ON COLUMN outreach.outcomes_by_activity.cohort IS 'Expected HE Entry Year (the member''s override where set)';
COMMENT ON COLUMN outreach.outcomes_by_activity.activity_type IS 'activity type attended, (all) for any type, (all participants) for the member''s whole population of the cohort';
COMMENT ON COLUMN outreach.outcomes_by_activity.intensity IS 'distinct activities attended (of the type): 1, 2-3, 4+, or (any)';
COMMENT ON COLUMN outreach.outcomes_by_activity.outcome IS 'he_entry, he_application, ks4, ks5 or continuation (a record returned by a linkage recipient)';
COMMENT ON COLUMN outreach.outcomes_by_activity.participants IS 'participants in the group, rounded';
COMMENT ON COLUMN outreach.outcomes_by_activity.with_outcome IS 'of them, those with the outcome, rounded';
COMMENT ON COLUMN outreach.outcomes_by_activity.percent IS 'with_outcome as a share of participants, from unrounded counts; NULL when suppressed';
COMMENT ON COLUMN outreach.outcomes_by_activity.marker IS 'why a figure is suppressed (HESA .., OfS [DPL], [DPH], [low], [none]); NULL when shown';
REVOKE ALL ON outreach.outcomes_by_activity FROM PUBLIC;
GRANT SELECT ON outreach.outcomes_by_activity TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;

-- KS4/KS5 attainment: the mean of each numeric measure per member, cohort, activity type and
-- intensity, against the member's whole population of the cohort. Each person counts once per
-- measure (the mean of their own values: a result may come from several providers or years),
-- so that "more than 7" counts people. Every cohort, type and intensity the member has, for
-- every key stage and measure it holds, zeros included.
CREATE OR REPLACE FUNCTION outreach.report_attainment(policy text DEFAULT 'hesa')
RETURNS TABLE (controller_id int, controller_code text, cohort int, activity_type text, intensity text,
               key_stage text, measure text, participants bigint, mean_value numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL RESTRICTED
SET search_path = pg_catalog, outreach, pg_temp
SET jit = off   -- (as report_reach_by_area: compiling costs seconds, saves milliseconds)
AS $$
DECLARE
  ids int[] := outreach.report_controller_ids();
BEGIN
  PERFORM outreach.sdc_count(0, policy);   -- an unknown policy stops here (42704), before any work
  RETURN QUERY
  WITH groups AS MATERIALIZED (
    SELECT * FROM outreach.report_groups(ids)
  ), results AS (
    SELECT r.controller_id, r.participant_id, r.key_stage, r.measure, avg(r.value) AS value
    FROM (SELECT b.controller_id, u.participant_id, u.outcome AS key_stage, u.measure,
                 CASE WHEN u.value ~ '^\s*-?[0-9]{1,9}(\.[0-9]{1,6})?\s*$' THEN u.value::numeric END AS value
          FROM outreach.outcome_block b
          CROSS JOIN LATERAL unnest(b.participant_ids, b.outcomes, b.measures, b.outcome_values)
            AS u(participant_id, outcome, measure, value)
          WHERE b.controller_id OPERATOR(pg_catalog.=) ANY (ids)
            AND u.outcome OPERATOR(pg_catalog.=) ANY (ARRAY['ks4', 'ks5'])) r
    WHERE r.value IS NOT NULL
    GROUP BY r.controller_id, r.participant_id, r.key_stage, r.measure
  ), measures AS (
    SELECT DISTINCT r.controller_id, r.key_stage, r.measure FROM results r
  ), cells AS (
    SELECT g.controller_id, g.cohort, g.activity_type, g.intensity, r.key_stage, r.measure,
           count(*) AS n, sum(r.value) AS total
    FROM groups g
    JOIN results r ON r.controller_id OPERATOR(pg_catalog.=) g.controller_id
                  AND r.participant_id OPERATOR(pg_catalog.=) g.participant_id
    GROUP BY GROUPING SETS ((g.controller_id, g.cohort, g.activity_type, g.intensity, r.key_stage, r.measure),
                            (g.controller_id, g.cohort, g.activity_type, r.key_stage, r.measure))
  ), grid AS (
    SELECT k.controller_id, k.cohort, k.activity_type, i.intensity, m.key_stage, m.measure,
           coalesce(c.n, 0) AS n, c.total
    FROM (SELECT DISTINCT g.controller_id, g.cohort, g.activity_type FROM groups g) AS k
    CROSS JOIN LATERAL unnest(outreach.report_intensities(k.activity_type)) AS i(intensity)
    JOIN measures m ON m.controller_id OPERATOR(pg_catalog.=) k.controller_id
    LEFT JOIN cells c ON c.controller_id OPERATOR(pg_catalog.=) k.controller_id AND c.cohort OPERATOR(pg_catalog.=) k.cohort
                     AND c.activity_type OPERATOR(pg_catalog.=) k.activity_type
                     AND coalesce(c.intensity, '(any)') OPERATOR(pg_catalog.=) i.intensity
                     AND c.key_stage OPERATOR(pg_catalog.=) m.key_stage AND c.measure OPERATOR(pg_catalog.=) m.measure
                     AND (c.intensity IS NOT NULL OR c.activity_type OPERATOR(pg_catalog.<>) '(all participants)')
  )
  SELECT g.controller_id, ctl.code::text, g.cohort, g.activity_type, g.intensity, g.key_stage::text, g.measure::text,
         outreach.sdc_count(g.n, policy), outreach.sdc_mean(g.total, g.n, policy)
  FROM grid g
  JOIN outreach.controller ctl ON ctl.controller_id OPERATOR(pg_catalog.=) g.controller_id;
END
$$;
COMMENT ON FUNCTION outreach.report_attainment(text) IS
  'KS4/KS5 attainment: the mean of each numeric measure per member, cohort, activity type and intensity, against the whole participant population, under a disclosure policy (hesa, ofs)';
REVOKE EXECUTE ON FUNCTION outreach.report_attainment(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.report_attainment(text)
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;

CREATE OR REPLACE VIEW outreach.attainment_by_activity WITH (security_barrier = true) AS
SELECT r.controller_id, r.controller_code, r.cohort, r.activity_type, r.intensity, r.key_stage, r.measure,
       r.participants, r.mean_value
FROM outreach.report_attainment('hesa') r;
COMMENT ON VIEW outreach.attainment_by_activity IS
  'KS4/KS5 attainment (the mean of each measure) per member, cohort, activity type and intensity, against the whole population; HESA rounding and suppression';
COMMENT ON COLUMN outreach.attainment_by_activity.controller_id IS 'the member (outreach.controller)';
COMMENT ON COLUMN outreach.attainment_by_activity.controller_code IS 'the member''s code';
COMMENT ON COLUMN outreach.attainment_by_activity.cohort IS 'Expected HE Entry Year (the member''s override where set)';
COMMENT ON COLUMN outreach.attainment_by_activity.activity_type IS 'activity type attended, (all) for any type, (all participants) for the member''s whole population of the cohort';
COMMENT ON COLUMN outreach.attainment_by_activity.intensity IS 'distinct activities attended (of the type): 1, 2-3, 4+, or (any)';
COMMENT ON COLUMN outreach.attainment_by_activity.key_stage IS 'ks4 or ks5';
COMMENT ON COLUMN outreach.attainment_by_activity.measure IS 'the measure as the recipient returned it (for example attainment8 for KS4)';
COMMENT ON COLUMN outreach.attainment_by_activity.participants IS 'participants in the group with a numeric value of the measure, rounded';
COMMENT ON COLUMN outreach.attainment_by_activity.mean_value IS 'mean of the measure over those participants (each person''s own mean first; one decimal); NULL for 7 people or fewer';
REVOKE ALL ON outreach.attainment_by_activity FROM PUBLIC;
GRANT SELECT ON outreach.attainment_by_activity TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;

-- Continuation in HE: of the participants with a continuation record, the share with each
-- status (as the recipient returned it; each person's status of their latest year), per
-- member, cohort, activity type and intensity, against the whole population. Every status the
-- member holds in every group, zeros included.
CREATE OR REPLACE FUNCTION outreach.report_continuation(policy text DEFAULT 'hesa')
RETURNS TABLE (controller_id int, controller_code text, cohort int, activity_type text, intensity text,
               status text, participants bigint, with_status bigint, percent numeric, marker text)
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL RESTRICTED
SET search_path = pg_catalog, outreach, pg_temp
SET jit = off   -- (as report_reach_by_area: compiling costs seconds, saves milliseconds)
AS $$
DECLARE
  ids int[] := outreach.report_controller_ids();
BEGIN
  PERFORM outreach.sdc_count(0, policy);   -- an unknown policy stops here (42704), before any work
  RETURN QUERY
  WITH groups AS MATERIALIZED (
    SELECT * FROM outreach.report_groups(ids)
  ), latest AS (
    SELECT DISTINCT ON (b.controller_id, u.participant_id) b.controller_id, u.participant_id,
           coalesce(nullif(btrim(u.value), ''), '(none)') AS status
    FROM outreach.outcome_block b
    CROSS JOIN LATERAL unnest(b.participant_ids, b.outcomes, b.academic_years, b.outcome_values, b.updated_ats)
      AS u(participant_id, outcome, academic_year, value, updated_at)
    WHERE b.controller_id OPERATOR(pg_catalog.=) ANY (ids) AND u.outcome OPERATOR(pg_catalog.=) 'continuation'
    ORDER BY b.controller_id, u.participant_id, u.academic_year DESC, u.updated_at DESC, u.value
  ), statuses AS (
    SELECT DISTINCT l.controller_id, l.status FROM latest l
  ), bases AS (
    SELECT g.controller_id, g.cohort, g.activity_type, g.intensity, count(*) AS base
    FROM groups g
    JOIN latest l ON l.controller_id OPERATOR(pg_catalog.=) g.controller_id
                 AND l.participant_id OPERATOR(pg_catalog.=) g.participant_id
    GROUP BY GROUPING SETS ((g.controller_id, g.cohort, g.activity_type, g.intensity),
                            (g.controller_id, g.cohort, g.activity_type))
  ), cells AS (
    SELECT g.controller_id, g.cohort, g.activity_type, g.intensity, l.status, count(*) AS n
    FROM groups g
    JOIN latest l ON l.controller_id OPERATOR(pg_catalog.=) g.controller_id
                 AND l.participant_id OPERATOR(pg_catalog.=) g.participant_id
    GROUP BY GROUPING SETS ((g.controller_id, g.cohort, g.activity_type, g.intensity, l.status),
                            (g.controller_id, g.cohort, g.activity_type, l.status))
  ), grid AS (
    SELECT k.controller_id, k.cohort, k.activity_type, i.intensity, st.status,
           coalesce(b.base, 0) AS base, coalesce(c.n, 0) AS n
    FROM (SELECT DISTINCT g.controller_id, g.cohort, g.activity_type FROM groups g) AS k
    CROSS JOIN LATERAL unnest(outreach.report_intensities(k.activity_type)) AS i(intensity)
    JOIN statuses st ON st.controller_id OPERATOR(pg_catalog.=) k.controller_id
    LEFT JOIN bases b ON b.controller_id OPERATOR(pg_catalog.=) k.controller_id AND b.cohort OPERATOR(pg_catalog.=) k.cohort
                     AND b.activity_type OPERATOR(pg_catalog.=) k.activity_type
                     AND coalesce(b.intensity, '(any)') OPERATOR(pg_catalog.=) i.intensity
                     AND (b.intensity IS NOT NULL OR b.activity_type OPERATOR(pg_catalog.<>) '(all participants)')
    LEFT JOIN cells c ON c.controller_id OPERATOR(pg_catalog.=) k.controller_id AND c.cohort OPERATOR(pg_catalog.=) k.cohort
                     AND c.activity_type OPERATOR(pg_catalog.=) k.activity_type
                     AND coalesce(c.intensity, '(any)') OPERATOR(pg_catalog.=) i.intensity
                     AND c.status OPERATOR(pg_catalog.=) st.status
                     AND (c.intensity IS NOT NULL OR c.activity_type OPERATOR(pg_catalog.<>) '(all participants)')
  )
  SELECT g.controller_id, ctl.code::text, g.cohort, g.activity_type, g.intensity, g.status,
         outreach.sdc_count(g.base, policy), outreach.sdc_count(g.n, policy),
         CASE WHEN g.base OPERATOR(pg_catalog.>) 0 THEN outreach.sdc_percent(g.n, g.base, policy) END,
         -- an empty group is marked as one of 1 or 2 people is (report_outcomes)
         coalesce(outreach.sdc_count_marker(g.n, policy),
                  outreach.sdc_marker(g.n, greatest(g.base, 1), policy))
  FROM grid g
  JOIN outreach.controller ctl ON ctl.controller_id OPERATOR(pg_catalog.=) g.controller_id;
END
$$;
COMMENT ON FUNCTION outreach.report_continuation(text) IS
  'continuation in HE: of participants with a continuation record, the share with each status, per member, cohort, activity type and intensity, under a disclosure policy (hesa, ofs)';
REVOKE EXECUTE ON FUNCTION outreach.report_continuation(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.report_continuation(text)
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;

CREATE OR REPLACE VIEW outreach.continuation_by_activity WITH (security_barrier = true) AS
SELECT r.controller_id, r.controller_code, r.cohort, r.activity_type, r.intensity, r.status,
       r.participants, r.with_status, r.percent, r.marker
FROM outreach.report_continuation('hesa') r;
COMMENT ON VIEW outreach.continuation_by_activity IS
  'continuation in HE (the share of each status among participants with a record) per member, cohort, activity type and intensity, against the whole population; HESA rounding and suppression';
COMMENT ON COLUMN outreach.continuation_by_activity.controller_id IS 'the member (outreach.controller)';
COMMENT ON COLUMN outreach.continuation_by_activity.controller_code IS 'the member''s code';
COMMENT ON COLUMN outreach.continuation_by_activity.cohort IS 'Expected HE Entry Year (the member''s override where set)';
COMMENT ON COLUMN outreach.continuation_by_activity.activity_type IS 'activity type attended, (all) for any type, (all participants) for the member''s whole population of the cohort';
COMMENT ON COLUMN outreach.continuation_by_activity.intensity IS 'distinct activities attended (of the type): 1, 2-3, 4+, or (any)';
COMMENT ON COLUMN outreach.continuation_by_activity.status IS 'continuation status as the recipient returned it, of the person''s latest year ((none) when empty)';
COMMENT ON COLUMN outreach.continuation_by_activity.participants IS 'participants in the group with a continuation record, rounded';
COMMENT ON COLUMN outreach.continuation_by_activity.with_status IS 'of them, those with the status, rounded';
COMMENT ON COLUMN outreach.continuation_by_activity.percent IS 'with_status as a share of participants, from unrounded counts; NULL when suppressed';
COMMENT ON COLUMN outreach.continuation_by_activity.marker IS 'why a figure is suppressed (HESA .., OfS [DPL], [DPH], [low], [none]); NULL when shown';
REVOKE ALL ON outreach.continuation_by_activity FROM PUBLIC;
GRANT SELECT ON outreach.continuation_by_activity TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;

-- Per member and recipient: participants with each kind of outcome returned, how many were
-- sent, and the mean of numeric values, rounded and suppressed by the policy.
CREATE OR REPLACE FUNCTION outreach.report_progression(policy text DEFAULT 'hesa')
RETURNS TABLE (controller_id int, controller_code text, recipient text, outcome text, academic_year int,
               measure text, participants bigint, participants_sent bigint, mean_value numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL RESTRICTED
SET search_path = pg_catalog, outreach, pg_temp
SET jit = off   -- (as report_reach_by_area: compiling costs seconds, saves milliseconds)
AS $$
DECLARE
  ids int[] := outreach.report_controller_ids();
BEGIN
  PERFORM outreach.sdc_count(0, policy);
  RETURN QUERY
  WITH counted AS (
    SELECT p.controller_id, p.participant_id FROM outreach.participant p
    WHERE p.controller_id OPERATOR(pg_catalog.=) ANY (ids) AND p.withdrawn_at IS NULL AND p.restricted_at IS NULL
  ), sent AS (
    SELECT d.controller_id, d.recipient, count(DISTINCT u.participant_id) AS n
    FROM outreach.disclosure_block d
    CROSS JOIN LATERAL unnest(d.participant_ids) AS u(participant_id)
    JOIN counted c ON c.controller_id OPERATOR(pg_catalog.=) d.controller_id
                  AND c.participant_id OPERATOR(pg_catalog.=) u.participant_id
    WHERE d.controller_id OPERATOR(pg_catalog.=) ANY (ids)
    GROUP BY d.controller_id, d.recipient
  ), facts AS (
    SELECT b.controller_id, b.recipient, u.participant_id, u.outcome, u.academic_year, u.measure,
           CASE WHEN u.value ~ '^\s*-?[0-9]{1,9}(\.[0-9]{1,6})?\s*$' THEN u.value::numeric END AS value
    FROM outreach.outcome_block b
    CROSS JOIN LATERAL unnest(b.participant_ids, b.outcomes, b.academic_years, b.measures, b.outcome_values)
      AS u(participant_id, outcome, academic_year, measure, value)
    JOIN counted c ON c.controller_id OPERATOR(pg_catalog.=) b.controller_id
                  AND c.participant_id OPERATOR(pg_catalog.=) u.participant_id
    WHERE b.controller_id OPERATOR(pg_catalog.=) ANY (ids)
  ), per_person AS (
    -- One value per person (the mean of their values: a person may have a result at several
    -- providers), so that "more than 7" counts people, not results.
    SELECT f.controller_id, f.recipient, f.outcome, f.academic_year, f.measure, f.participant_id, avg(f.value) AS value
    FROM facts f
    GROUP BY f.controller_id, f.recipient, f.outcome, f.academic_year, f.measure, f.participant_id
  ), cells AS (
    SELECT pp.controller_id, pp.recipient, pp.outcome, pp.academic_year, pp.measure,
           count(*) AS n, sum(pp.value) AS total, count(pp.value) AS valued
    FROM per_person pp
    GROUP BY pp.controller_id, pp.recipient, pp.outcome, pp.academic_year, pp.measure
  )
  SELECT c.controller_id, ctl.code::text, c.recipient::text, c.outcome::text, c.academic_year, c.measure::text,
         outreach.sdc_count(c.n, policy), outreach.sdc_count(coalesce(s.n, 0), policy),
         outreach.sdc_mean(c.total, c.valued, policy)
  FROM cells c
  JOIN outreach.controller ctl ON ctl.controller_id OPERATOR(pg_catalog.=) c.controller_id
  LEFT JOIN sent s ON s.controller_id OPERATOR(pg_catalog.=) c.controller_id
                  AND s.recipient OPERATOR(pg_catalog.=) c.recipient;
END
$$;
COMMENT ON FUNCTION outreach.report_progression(text) IS
  'per member and recipient: participants with each outcome (kind, year, measure), how many were sent, the numeric mean, under a disclosure policy';
REVOKE EXECUTE ON FUNCTION outreach.report_progression(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.report_progression(text)
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;

CREATE OR REPLACE VIEW outreach.progression_summary WITH (security_barrier = true) AS
SELECT r.controller_id, r.controller_code, r.recipient, r.outcome, r.academic_year, r.measure,
       r.participants, r.participants_sent, r.mean_value
FROM outreach.report_progression('hesa') r;
REVOKE ALL ON outreach.progression_summary FROM PUBLIC;
GRANT SELECT ON outreach.progression_summary TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;
COMMENT ON VIEW outreach.progression_summary IS
  'per member: participants with each outcome (recipient, kind, year, measure), the numeric mean, and how many were sent; HESA rounding and suppression';
COMMENT ON COLUMN outreach.progression_summary.controller_id IS 'the member (outreach.controller)';
COMMENT ON COLUMN outreach.progression_summary.controller_code IS 'the member''s code';
COMMENT ON COLUMN outreach.progression_summary.recipient IS 'the linkage recipient that returned the outcomes (outreach.recipient)';
COMMENT ON COLUMN outreach.progression_summary.outcome IS 'he_entry, he_application, ks4, ks5 or continuation';
COMMENT ON COLUMN outreach.progression_summary.academic_year IS 'the academic year of the outcome, as the recipient returned it';
COMMENT ON COLUMN outreach.progression_summary.measure IS 'the measure (KS4/KS5, for example attainment8); empty for other outcomes';
COMMENT ON COLUMN outreach.progression_summary.participants IS 'participants with the outcome, rounded (HESA: nearest 5, 0-2 shown as 0)';
COMMENT ON COLUMN outreach.progression_summary.participants_sent IS 'participants sent to the recipient, rounded';
COMMENT ON COLUMN outreach.progression_summary.mean_value IS 'mean of the numeric values (each person''s own mean first; one decimal); NULL for 7 people or fewer';
-- The register of data subjects' requests (UK GDPR Arts. 12-22): what was asked, by whom, when
-- it was received and when it must be answered, and how it ended. Each member's DPO keeps its
-- own, under row security; rows change only through the functions below, each audited.
--
-- The statutory clock: one calendar month from the day of receipt, by the corresponding-day
-- rule (the same day of the next month, or that month's last day when it has none: 31 January
-- gives 28 or 29 February), which is PostgreSQL's own month arithmetic (date + interval
-- '1 month'); extendable once, by up to two further months, with a reason, notified to the
-- person within the first month.
-- Children: a parent or guardian may ask for a child under 12; from 12 the child's own agreement
-- is recorded, or an override with its reason (the age on the day received, from the date of
-- birth held; a 29 February birthday counts from 1 March in other years).
-- "Today" is the date in the UK (Europe/London), whatever the session's TimeZone: a session set
-- to UTC+14 must not date a request tomorrow.

-- A refused call rolls back whatever it wrote, its audit row too, so refusals are recorded in the
-- server log instead (as pgaudit does), which no rollback undoes: the function, the controller,
-- the acting role and the SQLSTATE, never the arguments (they may name a person).
CREATE OR REPLACE FUNCTION outreach.log_refusal(what text, controller_id int, state text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  actor text;
BEGIN
  BEGIN
    actor := outreach.invoking_role()::text;   -- the acting role, not this function's owner
  EXCEPTION WHEN OTHERS THEN
    actor := '(unknown)';                      -- never hide the refusal being logged
  END;
  RAISE LOG 'outreach audit: refused %(controller %) for role "%" (session "%"): SQLSTATE %',
            what, coalesce(controller_id::text, 'NULL'), actor, session_user, state;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.log_refusal(text, int, text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.log_refusal(text, int, text) IS
  'writes a refused rights call to the server log (no rollback undoes it); never the arguments';
REVOKE ALL ON outreach.rights_request FROM PUBLIC;
GRANT SELECT ON outreach.rights_request TO outreach_dpo;
COMMENT ON TABLE outreach.rights_request IS
  'data subjects'' requests (access, rectification, erasure, restriction, objection, portability, withdrawal) with their statutory due dates; each member''s DPO sees its own';
COMMENT ON COLUMN outreach.rights_request.details IS 'what was asked; for an objection, its grounds (required); the DPO''s decision is the outcome';
COMMENT ON COLUMN outreach.rights_request.due_on IS 'one calendar month from receipt (corresponding day, or the month''s last day)';
COMMENT ON COLUMN outreach.rights_request.extended_due_on IS 'after the one extension allowed: at most three months from receipt';
COMMENT ON COLUMN outreach.rights_request.child_age IS 'for a parent''s or guardian''s request: the oldest named child''s age on the day received (NULL: a date of birth not held)';

-- The request as the audit log records it: its key and kind, never the people or the reasons.
CREATE OR REPLACE FUNCTION outreach.audit_rights_request(r outreach.rights_request, action text, columns text[])
RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record, columns)
  VALUES (r.controller_id, session_user, outreach.invoking_role()::text, action, 'rights_request',
          jsonb_build_object('request_id', r.request_id, 'kind', r.kind), columns);
$$;
REVOKE EXECUTE ON FUNCTION outreach.audit_rights_request(outreach.rights_request, text, text[]) FROM PUBLIC;
COMMENT ON FUNCTION outreach.audit_rights_request(outreach.rights_request, text, text[]) IS
  'records a change of a rights request in the audit log (its key and kind only)';

-- A request of the caller's own member, locked for a change; another member's or an unknown
-- one is the same 42704, so the call is no probe.
CREATE OR REPLACE FUNCTION outreach.rights_request_for_update(controller_id int, request_id bigint)
RETURNS outreach.rights_request
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  r outreach.rights_request;
BEGIN
  PERFORM outreach.require_dpo(controller_id);
  SELECT * INTO r FROM outreach.rights_request q
  WHERE q.controller_id = rights_request_for_update.controller_id AND q.request_id = rights_request_for_update.request_id
  FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'rights request % of controller % not found', request_id, controller_id USING ERRCODE = '42704';
  END IF;
  RETURN r;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.rights_request_for_update(int, bigint) FROM PUBLIC;
COMMENT ON FUNCTION outreach.rights_request_for_update(int, bigint) IS
  'the DPO''s own request, locked (42704 for an unknown or another member''s one)';

CREATE OR REPLACE FUNCTION outreach.open_rights_request(
  controller_id int, kind text, received_on date,
  requester text DEFAULT 'subject',
  participant_ids bigint[] DEFAULT '{}',
  identity_verified_on date DEFAULT NULL,
  identity_verified_how text DEFAULT NULL,
  child_agreement boolean DEFAULT NULL,
  child_override_reason text DEFAULT NULL,
  details text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  r outreach.rights_request;
  unknown bigint;
  oldest int;
  undated bigint;
  today date := (now() AT TIME ZONE 'Europe/London')::date;
BEGIN
  PERFORM outreach.require_dpo(controller_id);
  IF kind IS NULL OR kind NOT IN ('access', 'rectification', 'erasure', 'restriction', 'objection', 'portability', 'withdrawal') THEN
    RAISE EXCEPTION 'unknown kind of request "%"', kind
      USING ERRCODE = '22023',
            HINT = 'access, rectification, erasure, restriction, objection, portability or withdrawal';
  END IF;
  IF kind = 'objection' AND coalesce(btrim(details), '') = '' THEN
    RAISE EXCEPTION 'an objection is recorded with its grounds' USING ERRCODE = '22023',
      HINT = 'details => the person''s grounds, in their words; the DPO''s decision is the outcome given when closing it';
  END IF;
  IF requester IS NULL OR requester NOT IN ('subject', 'parent_or_guardian', 'representative') THEN
    RAISE EXCEPTION 'unknown requester "%"', requester
      USING ERRCODE = '22023', HINT = 'subject, parent_or_guardian or representative';
  END IF;
  IF received_on IS NULL OR NOT isfinite(received_on) OR received_on > today OR received_on < DATE '1900-01-01' THEN
    RAISE EXCEPTION 'a request is received on a day between 1900 and today, not %', coalesce(received_on::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  IF identity_verified_on IS NOT NULL AND (NOT isfinite(identity_verified_on) OR identity_verified_on > today
                                           OR identity_verified_on < DATE '1900-01-01') THEN
    RAISE EXCEPTION 'identity is verified on a day between 1900 and today, not %', identity_verified_on USING ERRCODE = '22023';
  END IF;
  participant_ids := coalesce(participant_ids, '{}');
  IF array_ndims(participant_ids) > 1 THEN
    RAISE EXCEPTION 'participant_ids is a list of ids, not a % dimensional array', array_ndims(participant_ids)
      USING ERRCODE = '22023';
  END IF;
  IF cardinality(participant_ids) > 1000 THEN
    RAISE EXCEPTION 'a request concerns at most 1000 records, not %', cardinality(participant_ids) USING ERRCODE = '22023';
  END IF;
  SELECT min(id) INTO unknown FROM unnest(participant_ids) AS id
  WHERE id IS NULL OR NOT EXISTS (SELECT 1 FROM outreach.participant p
                                  WHERE p.controller_id = open_rights_request.controller_id AND p.participant_id = id);
  IF unknown IS NOT NULL OR array_position(participant_ids, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'participant % of controller % not found', coalesce(unknown::text, 'NULL'), controller_id
      USING ERRCODE = '42704';
  END IF;
  -- Stored sorted, once each, numbered from 1 (whatever bounds or repeats the caller sent).
  participant_ids := ARRAY(SELECT DISTINCT id FROM unnest(participant_ids) AS id ORDER BY id);
  IF requester = 'parent_or_guardian' THEN
    IF cardinality(participant_ids) = 0 THEN
      RAISE EXCEPTION 'a parent''s or guardian''s request names the child''s records (participant_ids)'
        USING ERRCODE = '22023', HINT = 'the child''s age on the day received decides whether their agreement is needed';
    END IF;
    -- Every child named must be under 12, or have agreed, or be overridden with a reason.
    SELECT max(date_part('year', age(received_on, p.date_of_birth)))::int,
           count(*) FILTER (WHERE p.date_of_birth IS NULL)
      INTO oldest, undated
    FROM outreach.participant p
    WHERE p.controller_id = open_rights_request.controller_id AND p.participant_id = ANY (participant_ids);
    IF (undated > 0 OR oldest >= 12) AND NOT coalesce(child_agreement, false)
       AND coalesce(length(btrim(child_override_reason)), 0) = 0 THEN
      RAISE EXCEPTION 'a parent''s or guardian''s request for a child of 12 or more needs the child''s agreement'
        USING ERRCODE = '22023',
              DETAIL = CASE WHEN undated > 0 THEN 'a date of birth is not held, so the child''s age is not known'
                            ELSE format('the child was %s on %s', oldest, received_on) END,
              HINT = 'pass child_agreement => true once the child has agreed, or child_override_reason';
    END IF;
  END IF;
  INSERT INTO outreach.rights_request (controller_id, kind, received_on, requester, participant_ids, details,
                                       identity_verified_on, identity_verified_how, child_age, child_agreement,
                                       child_override_reason, due_on, opened_by)
  VALUES (controller_id, kind, received_on, requester, participant_ids, nullif(btrim(details), ''), identity_verified_on,
          nullif(btrim(identity_verified_how), ''), CASE WHEN requester = 'parent_or_guardian' AND undated = 0 THEN oldest END,
          child_agreement, nullif(btrim(child_override_reason), ''), (received_on + interval '1 month')::date,
          outreach.invoking_role())
  RETURNING * INTO r;
  PERFORM outreach.audit_rights_request(r, 'insert', NULL);
  RETURN r.request_id;
EXCEPTION WHEN OTHERS THEN
  PERFORM outreach.log_refusal('open_rights_request', open_rights_request.controller_id, SQLSTATE);
  RAISE;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.open_rights_request(int, text, date, text, bigint[], date, text, boolean, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.open_rights_request(int, text, date, text, bigint[], date, text, boolean, text, text) TO outreach_dpo;
COMMENT ON FUNCTION outreach.open_rights_request(int, text, date, text, bigint[], date, text, boolean, text, text) IS
  'the DPO opens a request: kind, day received, who asked, the records concerned; returns its id (due one month after receipt)';

-- One extension, by up to two further months (to three months from receipt), with a reason, the
-- person told within the first month. Returns the new due date.
CREATE OR REPLACE FUNCTION outreach.extend_rights_request(controller_id int, request_id bigint, reason text,
                                                          months int DEFAULT 2, notified_on date DEFAULT NULL)
RETURNS date
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  r outreach.rights_request;
  today date := (now() AT TIME ZONE 'Europe/London')::date;
BEGIN
  r := outreach.rights_request_for_update(controller_id, request_id);   -- (in the body: its refusal is logged)
  notified_on := coalesce(notified_on, today);   -- NULL: told today
  IF reason IS NULL OR length(btrim(reason)) = 0 THEN
    RAISE EXCEPTION 'an extension needs a reason' USING ERRCODE = '22023';
  END IF;
  IF months IS NULL OR months NOT IN (1, 2) THEN
    RAISE EXCEPTION 'a request is extended by one or two further months (three at most from receipt), not %',
                    coalesce(months::text, 'NULL') USING ERRCODE = '22023';
  END IF;
  IF r.status <> 'open' THEN
    RAISE EXCEPTION 'rights request % is closed (%)', request_id, r.status USING ERRCODE = '55000';
  END IF;
  IF r.extended_due_on IS NOT NULL THEN
    RAISE EXCEPTION 'rights request % was already extended to %', request_id, r.extended_due_on USING ERRCODE = '55000';
  END IF;
  IF notified_on < r.received_on OR notified_on > least(r.due_on, today) THEN
    RAISE EXCEPTION 'the person must be told of an extension within the first month (by %), not on %',
                    r.due_on, coalesce(notified_on::text, 'NULL')
      USING ERRCODE = '55000';
  END IF;
  UPDATE outreach.rights_request q
  SET extended_due_on = (r.received_on + make_interval(months => 1 + months))::date,
      extension_reason = btrim(reason), extension_notified_on = notified_on
  WHERE q.controller_id = r.controller_id AND q.request_id = r.request_id
  RETURNING * INTO r;
  PERFORM outreach.audit_rights_request(r, 'update', ARRAY['extended_due_on', 'extension_reason', 'extension_notified_on']);
  RETURN r.extended_due_on;
EXCEPTION WHEN OTHERS THEN
  PERFORM outreach.log_refusal('extend_rights_request', extend_rights_request.controller_id, SQLSTATE);
  RAISE;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.extend_rights_request(int, bigint, text, int, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.extend_rights_request(int, bigint, text, int, date) TO outreach_dpo;
COMMENT ON FUNCTION outreach.extend_rights_request(int, bigint, text, int, date) IS
  'the DPO extends a request once, by one or two further months, with a reason told to the person within the first month';

-- Closing: completed with what was done, or refused with the reason given to the person.
CREATE OR REPLACE FUNCTION outreach.close_rights_request(controller_id int, request_id bigint, outcome text,
                                                         refusal_reason text DEFAULT NULL,
                                                         closed_on date DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  r outreach.rights_request;
  today date := (now() AT TIME ZONE 'Europe/London')::date;
BEGIN
  r := outreach.rights_request_for_update(controller_id, request_id);   -- (in the body: its refusal is logged)
  closed_on := coalesce(closed_on, today);   -- NULL: closed today
  IF outcome IS NULL OR length(btrim(outcome)) = 0 THEN
    RAISE EXCEPTION 'closing a request needs its outcome' USING ERRCODE = '22023';
  END IF;
  IF refusal_reason IS NOT NULL AND length(btrim(refusal_reason)) = 0 THEN
    RAISE EXCEPTION 'a refusal needs its reason' USING ERRCODE = '22023';
  END IF;
  IF r.status <> 'open' THEN
    RAISE EXCEPTION 'rights request % is already closed (%)', request_id, r.status USING ERRCODE = '55000';
  END IF;
  IF closed_on < r.received_on OR closed_on > today THEN
    RAISE EXCEPTION 'a request is closed between its receipt (%) and today, not %', r.received_on,
                    coalesce(closed_on::text, 'NULL') USING ERRCODE = '22023';
  END IF;
  UPDATE outreach.rights_request q
  SET status = CASE WHEN close_rights_request.refusal_reason IS NULL THEN 'completed' ELSE 'refused' END,
      outcome = btrim(close_rights_request.outcome), refusal_reason = btrim(close_rights_request.refusal_reason),
      closed_on = close_rights_request.closed_on
  WHERE q.controller_id = r.controller_id AND q.request_id = r.request_id
  RETURNING * INTO r;
  PERFORM outreach.audit_rights_request(r, 'update', ARRAY['status', 'outcome', 'refusal_reason', 'closed_on']);
  RETURN r.status;
EXCEPTION WHEN OTHERS THEN
  PERFORM outreach.log_refusal('close_rights_request', close_rights_request.controller_id, SQLSTATE);
  RAISE;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.close_rights_request(int, bigint, text, text, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.close_rights_request(int, bigint, text, text, date) TO outreach_dpo;
COMMENT ON FUNCTION outreach.close_rights_request(int, bigint, text, text, date) IS
  'the DPO closes a request: completed with its outcome, or refused with the reason (returns the status)';

-- What needs answering: open requests due within 7 days, and overdue ones.
CREATE OR REPLACE VIEW outreach.rights_requests_due WITH (security_invoker = true) AS
SELECT q.controller_id, q.request_id, q.kind, q.received_on, q.requester,
       coalesce(q.extended_due_on, q.due_on) AS due_on, q.extended_due_on IS NOT NULL AS extended,
       coalesce(q.extended_due_on, q.due_on) - t.today AS days_left,
       CASE WHEN coalesce(q.extended_due_on, q.due_on) < t.today THEN 'overdue' ELSE 'due_soon' END AS state
FROM outreach.rights_request q
CROSS JOIN (SELECT (now() AT TIME ZONE 'Europe/London')::date AS today) t
WHERE q.status = 'open' AND coalesce(q.extended_due_on, q.due_on) <= t.today + 7;
COMMENT ON VIEW outreach.rights_requests_due IS 'open rights requests due within 7 days or overdue (the DPO''s own)';
COMMENT ON COLUMN outreach.rights_requests_due.due_on IS 'the date the answer is due, after any extension';
COMMENT ON COLUMN outreach.rights_requests_due.days_left IS 'days until due; negative when overdue';
REVOKE ALL ON outreach.rights_requests_due FROM PUBLIC;
GRANT SELECT ON outreach.rights_requests_due TO outreach_dpo;

-- Reinstating a withdrawn participant, lifting a restriction: the member's DPO only, with a
-- reason, audited (the reason in the DPO's own audit log). A writer cannot (keep_withdrawal).
-- A record already marked for deletion because of the withdrawal stays marked: the DPO
-- un-marks it with outreach.unmark_deletion() if it is to be kept.
CREATE OR REPLACE FUNCTION outreach.clear_participant_flag(controller_id int, participant_ids bigint[], reason text,
                                                           flag text) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  unknown bigint;
  unset bigint;
  n int;
BEGIN
  PERFORM outreach.require_dpo(controller_id);
  IF reason IS NULL OR length(btrim(reason)) = 0 OR length(reason) > 1000 THEN
    RAISE EXCEPTION 'a reason of 1 to 1000 characters is needed' USING ERRCODE = '22023';
  END IF;
  IF participant_ids IS NULL OR cardinality(participant_ids) = 0 OR cardinality(participant_ids) > 10000 THEN
    RAISE EXCEPTION 'name 1 to 10000 participants' USING ERRCODE = '22023';
  END IF;
  SELECT min(coalesce(id, -1)) INTO unknown FROM unnest(participant_ids) AS id
  WHERE id IS NULL OR NOT EXISTS (SELECT 1 FROM outreach.participant p
                                  WHERE p.controller_id = clear_participant_flag.controller_id AND p.participant_id = id);
  IF unknown IS NOT NULL THEN
    RAISE EXCEPTION 'participant % of controller % not found', unknown, controller_id USING ERRCODE = '42704';
  END IF;
  SELECT min(p.participant_id) INTO unset FROM outreach.participant p
  WHERE p.controller_id = clear_participant_flag.controller_id AND p.participant_id = ANY (participant_ids)
    AND CASE flag WHEN 'withdrawn' THEN p.withdrawn_at IS NULL ELSE p.restricted_at IS NULL END;
  IF unset IS NOT NULL THEN
    RAISE EXCEPTION 'participant % of controller % is not %', unset, controller_id, flag USING ERRCODE = '55000';
  END IF;
  WITH cleared AS (
    UPDATE outreach.participant p
    SET withdrawn_at = CASE WHEN flag = 'withdrawn' THEN NULL ELSE p.withdrawn_at END,
        restricted_at = CASE WHEN flag = 'restricted' THEN NULL ELSE p.restricted_at END
    WHERE p.controller_id = clear_participant_flag.controller_id AND p.participant_id = ANY (participant_ids)
    RETURNING p.controller_id, p.participant_id
  )
  INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record, columns)
  SELECT c.controller_id, session_user, outreach.invoking_role()::text,
         CASE WHEN flag = 'withdrawn' THEN 'reinstate' ELSE 'lift_restriction' END, 'participant',
         jsonb_build_object('participant_id', c.participant_id, 'reason', btrim(reason)),
         ARRAY[CASE WHEN flag = 'withdrawn' THEN 'withdrawn_at' ELSE 'restricted_at' END]
  FROM cleared c;
  GET DIAGNOSTICS n = ROW_COUNT;
  -- Recipients not yet told of the restriction or withdrawal in a file are not told of it now.
  UPDATE outreach.recipient_followup f SET cancelled_at = now()
  WHERE f.controller_id = clear_participant_flag.controller_id AND f.participant_id = ANY (participant_ids)
    AND f.kind = CASE WHEN flag = 'withdrawn' THEN 'withdrawal' ELSE 'restriction' END
    AND f.carried_by IS NULL AND f.cancelled_at IS NULL;
  RETURN n;
EXCEPTION WHEN OTHERS THEN
  PERFORM outreach.log_refusal('clear_participant_flag', clear_participant_flag.controller_id, SQLSTATE);
  RAISE;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.clear_participant_flag(int, bigint[], text, text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.clear_participant_flag(int, bigint[], text, text) IS
  'reinstate_participant() and lift_restriction(): clears withdrawn_at or restricted_at for the DPO, audited with the reason';

CREATE OR REPLACE FUNCTION outreach.reinstate_participant(controller_id int, participant_ids bigint[], reason text)
RETURNS int
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT outreach.clear_participant_flag(controller_id, participant_ids, reason, 'withdrawn') $$;
REVOKE EXECUTE ON FUNCTION outreach.reinstate_participant(int, bigint[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.reinstate_participant(int, bigint[], text) TO outreach_dpo;
COMMENT ON FUNCTION outreach.reinstate_participant(int, bigint[], text) IS
  'the DPO reinstates withdrawn participants (the person gave permission again), with a reason; audited';

CREATE OR REPLACE FUNCTION outreach.lift_restriction(controller_id int, participant_ids bigint[], reason text)
RETURNS int
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT outreach.clear_participant_flag(controller_id, participant_ids, reason, 'restricted') $$;
REVOKE EXECUTE ON FUNCTION outreach.lift_restriction(int, bigint[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.lift_restriction(int, bigint[], text) TO outreach_dpo;
COMMENT ON FUNCTION outreach.lift_restriction(int, bigint[], text) IS
  'the DPO lifts the restriction of processing of participants, with a reason; audited';
REVOKE ALL ON outreach.subject_lookup FROM PUBLIC;
COMMENT ON TABLE outreach.subject_lookup IS
  'every find_subject() call: who, when, as whose DPO or as the processor, which members matched (never the identifiers); the service''s DBA reads it';

CREATE OR REPLACE FUNCTION outreach.find_subject(first_name text, last_name text, date_of_birth date, postcode text)
RETURNS TABLE (controller_id int, controller_code text, controller_name text, participant_id bigint,
               external_ref text, registered_at timestamptz, withdrawn boolean, restricted boolean)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  actor regrole := outreach.invoking_role();
  dpo_of int[] := outreach.caller_controller_ids('dpo');
  processor boolean := pg_has_role(actor, 'outreach_processor', 'MEMBER');
  person outreach.pseudo_id;
  found_controllers int[];     -- the records found, as two arrays (no temporary table: a
  found_participants bigint[]; -- caller's own temp table of that name could carry a trigger)
  matched int[];
BEGIN
  IF cardinality(dpo_of) = 0 AND NOT processor THEN
    RAISE EXCEPTION 'permission denied: role "%" is neither a data-protection officer nor the processor', actor
      USING ERRCODE = '42501';
  END IF;
  IF coalesce(btrim(first_name), '') = '' OR coalesce(btrim(last_name), '') = '' OR date_of_birth IS NULL
     OR coalesce(btrim(postcode), '') = '' THEN
    RAISE EXCEPTION 'a person is found by first name, last name, date of birth and postcode together'
      USING ERRCODE = '22023', HINT = 'records missing any of them have no linkage pseudonym and cannot be matched';
  END IF;
  -- As the participant table holds them: a longer name matches no record, and is no reason to
  -- hash megabytes.
  IF length(first_name) > 200 OR length(last_name) > 200 OR length(postcode) > 20 THEN
    RAISE EXCEPTION 'names are at most 200 characters and a postcode at most 20' USING ERRCODE = '22023';
  END IF;
  person := outreach.pseudonymise(first_name, last_name, date_of_birth, postcode, 'linkage');  -- 22P02 for a bad postcode
  IF person IS NULL THEN
    RAISE EXCEPTION 'the identifiers normalise to nothing' USING ERRCODE = '22023';
  END IF;
  SELECT coalesce(array_agg(p.controller_id ORDER BY p.controller_id, p.participant_id), '{}'),
         coalesce(array_agg(p.participant_id ORDER BY p.controller_id, p.participant_id), '{}')
    INTO found_controllers, found_participants
  FROM outreach.participant p
  WHERE p.controller_id = ANY (CASE WHEN processor THEN ARRAY(SELECT c.controller_id FROM outreach.controller c) ELSE dpo_of END)
    AND p.linkage_id OPERATOR(outreach.=) person;
  SELECT coalesce(array_agg(DISTINCT f ORDER BY f), '{}') INTO matched FROM unnest(found_controllers) AS f;
  INSERT INTO outreach.subject_lookup (session_role, acting_role, as_dpo_of, as_processor, matched_controllers)
  VALUES (session_user, actor::text, dpo_of, processor, matched);
  -- Each member whose records were searched as its DPO, or found by the processor, sees it.
  INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record, columns)
  SELECT s.controller_id, session_user, actor::text, 'find_subject', 'participant',
         jsonb_build_object('participant_ids', coalesce((SELECT jsonb_agg(f.participant_id ORDER BY f.participant_id)
                                                          FROM unnest(found_controllers, found_participants) AS f(controller_id, participant_id)
                                                          WHERE f.controller_id = s.controller_id), '[]'),
                            'as_processor', NOT (s.controller_id = ANY (dpo_of))),
         NULL
  FROM (SELECT unnest(dpo_of) AS controller_id UNION SELECT unnest(matched)) s;
  RETURN QUERY
  SELECT c.controller_id, c.code::text, c.name::text, p.participant_id, p.external_ref, p.created_at,
         p.withdrawn_at IS NOT NULL, p.restricted_at IS NOT NULL
  FROM unnest(found_controllers, found_participants) AS f(controller_id, participant_id)
  JOIN outreach.controller c ON c.controller_id = f.controller_id
  JOIN outreach.participant p ON p.controller_id = f.controller_id AND p.participant_id = f.participant_id
  WHERE f.controller_id = ANY (dpo_of)
  UNION ALL
  -- Other members, for the processor: the member only.
  SELECT DISTINCT c.controller_id, c.code::text, c.name::text, NULL::bigint, NULL::text, NULL::timestamptz,
         NULL::boolean, NULL::boolean
  FROM unnest(found_controllers) AS f(controller_id)
  JOIN outreach.controller c ON c.controller_id = f.controller_id
  WHERE processor AND NOT (f.controller_id = ANY (dpo_of))
  ORDER BY 2, 4;
EXCEPTION WHEN OTHERS THEN
  PERFORM outreach.log_refusal('find_subject', NULL, SQLSTATE);
  RAISE;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.find_subject(text, text, date, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.find_subject(text, text, date, text) TO outreach_dpo, outreach_processor;
COMMENT ON FUNCTION outreach.find_subject(text, text, date, text) IS
  'a DPO finds its own member''s records of a person by name, date of birth and postcode (by linkage pseudonym); the processor learns which members hold one; every lookup logged';
-- Subject access (UK GDPR Art. 15) and portability (Art. 20) in one call: everything a member
-- holds on a person, as one JSON document whose layout is versioned and documented in
-- docs/subject_access.md ("schema": "pg_outreach.subject_access/1"). Only the member's DPO may
-- call it, for a request it has opened (the call is tied to it in the audit log), and each call
-- records the special-category read. Every part is found by the person's keys (indexes and
-- blocks of ids), never by reading the member's whole population, so the time does not grow with
-- the member's size.

-- What the member tells every person about the processing (Art. 13/14, 15(1)(a)-(h)): the
-- service's defaults, as the members' privacy notices state them. (Issue 17's record of
-- processing activities will let a member state its own.)
CREATE OR REPLACE FUNCTION outreach.processing_statement(controller_id int) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT jsonb_build_object(
    'controller', (SELECT jsonb_build_object('code', c.code, 'name', c.name) FROM outreach.controller c
                   WHERE c.controller_id = processing_statement.controller_id),
    'purposes', jsonb_build_array(
      'to record participation in outreach activities that widen access to higher education',
      'to evaluate the effect of outreach on progression, by linking to education records (DfE, ESFA, HESA/Jisc, UCAS)',
      'to report, in aggregate only, on equality of access (to the Office for Students among others)'),
    -- the member's own, as its DPO recorded them (outreach.controller_processing), else the
    -- service's defaults: public task, and archiving, research and statistics
    'lawful_bases', (SELECT jsonb_build_object(
                       'personal_data', outreach.catalogue_words('basis', coalesce(p.lawful_basis, '6(1)(e)')),
                       'special_category_data', outreach.catalogue_words('art9', coalesce(p.art9_condition, '9(2)(j)')),
                       'recorded_by_the_member', p.lawful_basis IS NOT NULL)
                     FROM (SELECT processing_statement.controller_id AS id) AS k
                     LEFT JOIN outreach.controller_processing p ON p.controller_id = k.id),
    'categories', jsonb_build_array('identity and contact (name, date of birth, postcode, school)',
      'participation (activities and dates attended)', 'education outcomes returned by linkage',
      'special category: sex, gender identity, ethnicity, disability, religion, where given'),
    'source', 'the member that registered the person (from the person, their school or college), and the education bodies that return outcomes',
    'recipients', 'the bodies in "disclosures" below, each under a pseudonymous reference; other members see only that the same person attended their activities (member, activity type, date)',
    'retention', 'as "retention" below: 15 years from the Expected HE Entry Year where the record is complete and the person attended within 15 years, otherwise 7 years from the last activity, then deleted leaving no personal data',
    'rights', jsonb_build_array('access', 'rectification', 'erasure', 'restriction of processing',
      'objection', 'data portability', 'withdrawal of permission at any time'),
    'complaints', 'to the member''s data-protection officer, or to the Information Commissioner''s Office: ico.org.uk/make-a-complaint, 0303 123 1113',
    'automated_decision_making', 'none: no decision about the person is made by automated means, and no profiling with legal or similar effects')
$$;
REVOKE EXECUTE ON FUNCTION outreach.processing_statement(int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.processing_statement(int) TO outreach_dpo;
COMMENT ON FUNCTION outreach.processing_statement(int) IS
  'what a member tells each person about the processing: purposes, lawful bases, categories, source, recipients, retention, rights, complaints';

-- The recipients whose next export would include a participant now: the export's own
-- eligibility rule (export_render_sql), keyed to the person.
CREATE OR REPLACE FUNCTION outreach.recipients_due(controller_id int, participant_id bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  r record;
  due jsonb := '[]';
  hit boolean;
BEGIN
  -- (no agreement in force: its export is refused, so it is due nothing)
  FOR r IN SELECT d.name, d.title, d.export_layout FROM outreach.recipient_definition d
           WHERE d.enabled AND d.export_layout IS NOT NULL AND (outreach.agreement_in_force(d.name)).agreement_id IS NOT NULL
           ORDER BY d.name LOOP
    BEGIN
      EXECUTE format('SELECT EXISTS (%s)', outreach.export_render_sql(r.name, r.export_layout, current_date, true, true))
        INTO hit USING ARRAY[controller_id], ARRAY[participant_id];
    EXCEPTION WHEN undefined_object THEN
      hit := false;   -- no key for the recipient in the key file: nothing can be sent to it
    END;
    IF hit THEN
      due := due || jsonb_build_object('recipient', r.name, 'title', r.title);
    END IF;
  END LOOP;
  RETURN due;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.recipients_due(int, bigint) FROM PUBLIC;
COMMENT ON FUNCTION outreach.recipients_due(int, bigint) IS
  'the recipients whose next export would include the participant (their eligibility rules)';

CREATE OR REPLACE FUNCTION outreach.subject_access(controller_id int, participant_ids bigint[],
                                                   request_id bigint DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  req outreach.rights_request;
  unknown bigint;
  people jsonb;
  gone jsonb;
BEGIN
  PERFORM outreach.require_dpo(controller_id);
  IF participant_ids IS NULL OR cardinality(participant_ids) = 0 OR cardinality(participant_ids) > 100 THEN
    RAISE EXCEPTION 'name 1 to 100 records of the person' USING ERRCODE = '22023';
  END IF;
  -- Every id is the member's participant or tombstone; anything else is the same 42704.
  SELECT min(coalesce(id, -1)) INTO unknown FROM unnest(subject_access.participant_ids) AS id
  WHERE id IS NULL
     OR (NOT EXISTS (SELECT 1 FROM outreach.participant p WHERE p.controller_id = subject_access.controller_id AND p.participant_id = id)
         AND NOT EXISTS (SELECT 1 FROM outreach.tombstone t WHERE t.controller_id = subject_access.controller_id AND t.participant_id = id));
  IF unknown IS NOT NULL THEN
    RAISE EXCEPTION 'participant % of controller % not found', unknown, controller_id USING ERRCODE = '42704';
  END IF;
  -- The request it answers: the member's open access or portability request that names all
  -- these records (the one given, or else the oldest).
  SELECT * INTO req FROM outreach.rights_request q
  WHERE q.controller_id = subject_access.controller_id AND q.status = 'open'
    AND q.kind IN ('access', 'portability') AND q.participant_ids @> subject_access.participant_ids
    AND (subject_access.request_id IS NULL OR q.request_id = subject_access.request_id)
  ORDER BY q.received_on, q.request_id LIMIT 1;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no open access or portability request of controller % names these records%', controller_id,
                    CASE WHEN request_id IS NULL THEN '' ELSE format(' (request %s)', request_id) END
      USING ERRCODE = '55000',
            HINT = 'open one with outreach.open_rights_request(controller_id, ''access'', received_on, participant_ids => ...)';
  END IF;

  SELECT coalesce(jsonb_agg(x.doc ORDER BY x.participant_id), '[]') INTO people
  FROM (
    SELECT p.participant_id, jsonb_build_object(
      'participant', to_jsonb(p),
      'expected_he_entry_year', jsonb_build_object(
        'year', rs.expected_he_entry_year, 'overridden', rs.entry_year_overridden,
        'override_reason', p.he_entry_year_override_reason),
      'retention', jsonb_build_object('track', rs.track, 'due_on', rs.due_on, 'status', rs.status,
                                      'reasons', to_jsonb(rs.reasons), 'hold_until', rs.hold_until,
                                      'explanation', CASE rs.track
        WHEN '15y' THEN format('kept while the name, date of birth and postcode are held, the person attended an activity '
                               'within the last 15 years and has not withdrawn permission, and at most until 1 September '
                               '15 years after the Expected HE Entry Year: due for deletion on %s', rs.due_on)
        WHEN '7y' THEN format('kept 7 years after the later of the record''s creation and the last activity (it does not '
                              'meet every condition of the 15-year period): due for deletion on %s', rs.due_on)
        WHEN 'withdrawn' THEN 'permission withdrawn: due for deletion at once'
        ELSE 'not computed: ' || array_to_string(rs.reasons, '; ') END
        || CASE WHEN rs.status <> 'retained' THEN format(' (status: %s)', rs.status) ELSE '' END),
      'attendance', coalesce((
        SELECT jsonb_agg(jsonb_build_object('activity_id', a.activity_id, 'activity_type', a.activity_type,
                                            'activity_type_label', t.label, 'activity_name', a.name,
                                            'starts_on', a.starts_on, 'ends_on', a.ends_on,
                                            'delivered_by', dc.code, 'attended_on', att.attended_on)
                         ORDER BY att.attended_on, a.activity_id)
        FROM outreach.attendance att
        JOIN outreach.activity a ON a.controller_id = att.controller_id AND a.activity_id = att.activity_id
        JOIN outreach.activity_type t ON t.code = a.activity_type
        LEFT JOIN outreach.controller dc ON dc.controller_id = a.delivered_by
        WHERE att.controller_id = p.controller_id AND att.participant_id = p.participant_id), '[]'),
      'outcomes', coalesce((
        SELECT jsonb_agg(jsonb_build_object('recipient', b.recipient, 'outcome', u.outcome,
                                            'academic_year', u.academic_year, 'measure', u.measure,
                                            'provider_ukprn', nullif(u.provider_ukprn, 0), 'provider_name', u.provider_name,
                                            'value', u.value, 'updated_at', u.updated_at)
                         ORDER BY b.recipient, u.outcome, u.academic_year, u.measure)
        FROM outreach.outcome_block b
        CROSS JOIN LATERAL unnest(b.participant_ids, b.outcomes, b.academic_years, b.measures, b.provider_ukprns,
                                  b.provider_names, b.outcome_values, b.updated_ats)
          AS u(participant_id, outcome, academic_year, measure, provider_ukprn, provider_name, value, updated_at)
        WHERE b.controller_id = p.controller_id AND b.block = (p.participant_id >> 16)::int
          AND u.participant_id = p.participant_id), '[]'),
      'disclosures', coalesce((
        SELECT jsonb_agg(jsonb_build_object('recipient', e.recipient, 'export_id', e.export_id, 'file_name', e.file_name,
                                            'sent_at', e.finished_at, 'reference', u.reference)
                         ORDER BY e.finished_at, e.export_id)
        FROM outreach.disclosure_block d
        CROSS JOIN LATERAL unnest(d.participant_ids, d.participant_references) AS u(participant_id, reference)
        JOIN outreach.export e ON e.export_id = d.export_id AND e.status = 'finished'
        WHERE d.controller_id = p.controller_id AND d.block = (p.participant_id >> 12)::int
          AND u.participant_id = p.participant_id), '[]'),
      'due_to_recipients', outreach.recipients_due(p.controller_id, p.participant_id),
      'shared_with_other_members', coalesce((
        SELECT jsonb_agg(jsonb_build_object('member', oc.code, 'member_name', oc.name, 'activity_type', oa.activity_type,
                                            'attended_on', oatt.attended_on)
                         ORDER BY oatt.attended_on, oc.code)
        FROM outreach.shareable_participant o
        JOIN outreach.attendance oatt ON oatt.controller_id = o.controller_id AND oatt.participant_id = o.participant_id
        JOIN outreach.activity oa ON oa.controller_id = oatt.controller_id AND oa.activity_id = oatt.activity_id
        JOIN outreach.controller oc ON oc.controller_id = o.controller_id
        WHERE o.linkage_id OPERATOR(outreach.=) p.linkage_id AND o.controller_id <> p.controller_id
          AND p.withdrawn_at IS NULL AND p.restricted_at IS NULL), '[]')
    ) AS doc
    FROM outreach.participant p
    LEFT JOIN outreach.retention_status rs ON rs.controller_id = p.controller_id AND rs.participant_id = p.participant_id
    WHERE p.controller_id = subject_access.controller_id AND p.participant_id = ANY (subject_access.participant_ids)
  ) x;

  SELECT coalesce(jsonb_agg(jsonb_build_object('participant_id', t.participant_id, 'deleted_at', t.deleted_at,
                                               'reasons', to_jsonb(t.reasons), 'due_on', t.due_on,
                                               'confirmed_at', t.confirmed_at) ORDER BY t.participant_id), '[]')
    INTO gone
  FROM outreach.tombstone t
  WHERE t.controller_id = subject_access.controller_id AND t.participant_id = ANY (subject_access.participant_ids)
    AND NOT EXISTS (SELECT 1 FROM outreach.participant p WHERE p.controller_id = t.controller_id AND p.participant_id = t.participant_id);

  -- The read of everything, special-category columns included, tied to the request.
  INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record, columns)
  SELECT subject_access.controller_id, session_user, outreach.invoking_role()::text, 'read_special', 'participant',
         jsonb_build_object('participant_id', id, 'request_id', req.request_id, 'purpose', 'subject_access'),
         ARRAY['sex', 'gender_identity', 'ethnicity', 'disability', 'religion']
  FROM unnest(subject_access.participant_ids) AS id
  WHERE EXISTS (SELECT 1 FROM outreach.participant p WHERE p.controller_id = subject_access.controller_id AND p.participant_id = id);

  RETURN jsonb_build_object(
    'schema', 'pg_outreach.subject_access/1',
    'generated_at', statement_timestamp(),
    'request', jsonb_build_object('request_id', req.request_id, 'kind', req.kind, 'received_on', req.received_on,
                                  'due_on', coalesce(req.extended_due_on, req.due_on)),
    'processing', outreach.processing_statement(controller_id),
    'records', people,
    'deleted_records', gone);
EXCEPTION WHEN OTHERS THEN
  PERFORM outreach.log_refusal('subject_access', subject_access.controller_id, SQLSTATE);
  RAISE;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.subject_access(int, bigint[], bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.subject_access(int, bigint[], bigint) TO outreach_dpo;
COMMENT ON FUNCTION outreach.subject_access(int, bigint[], bigint) IS
  'the DPO''s answer to an access or portability request: everything the member holds on the person, as versioned JSON (docs/subject_access.md); audited';

-- Portability in flat form: the same answer as CSV files (RFC 4180, CRLF line ends), one per
-- kind of record, each with a header of every field that kind holds (participant_id first).
-- A pure function of the document subject_access() returned, so the two cannot disagree:
--   SELECT * FROM outreach.subject_access_csv(outreach.subject_access(42, ARRAY[1001]));
CREATE OR REPLACE FUNCTION outreach.subject_access_csv(doc jsonb)
RETURNS TABLE (file_name text, content text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  WITH recs AS (
    SELECT r FROM jsonb_array_elements(doc -> 'records') AS r
  ), rows (kind, obj) AS (
    SELECT 'participants', (r -> 'participant') || jsonb_build_object(
             'expected_he_entry_year', r #> '{expected_he_entry_year,year}',
             'expected_he_entry_year_overridden', r #> '{expected_he_entry_year,overridden}',
             'retention_track', r #> '{retention,track}', 'retention_due_on', r #> '{retention,due_on}',
             'retention_explanation', r #> '{retention,explanation}')
    FROM recs
    UNION ALL
    SELECT k.kind, jsonb_build_object('participant_id', r #> '{participant,participant_id}') || e
    FROM recs
    CROSS JOIN (VALUES ('attendance'), ('outcomes'), ('disclosures'), ('due_to_recipients'),
                       ('shared_with_other_members')) AS k(kind)
    CROSS JOIN LATERAL jsonb_array_elements(r -> k.kind) AS e
    UNION ALL
    SELECT 'deleted_records', e FROM jsonb_array_elements(doc -> 'deleted_records') AS e
    UNION ALL
    SELECT 'processing', jsonb_build_object('item', p.key, 'statement',
                                            CASE jsonb_typeof(p.value) WHEN 'string' THEN p.value #>> '{}' ELSE p.value::text END)
    FROM jsonb_each(doc -> 'processing') AS p
  ), cols AS (
    SELECT c.kind, array_agg(c.key ORDER BY c.key <> 'participant_id', c.key) AS keys
    FROM (SELECT DISTINCT r.kind, k.key FROM rows r CROSS JOIN LATERAL jsonb_object_keys(r.obj) AS k(key)) AS c
    GROUP BY c.kind
  )
  SELECT c.kind || '.csv',
         outreach.csv_record(c.keys) || E'\r\n'
         || string_agg(outreach.csv_record(ARRAY(SELECT r.obj ->> k FROM unnest(c.keys) WITH ORDINALITY AS u(k, n) ORDER BY u.n)),
                       E'\r\n' ORDER BY (r.obj ->> 'participant_id')::bigint, r.obj::text) || E'\r\n'
  FROM cols c JOIN rows r ON r.kind = c.kind
  GROUP BY c.kind, c.keys
  ORDER BY 1
$$;
COMMENT ON FUNCTION outreach.subject_access_csv(jsonb) IS
  'subject_access() as CSV files for portability, one per kind of record (participants, attendance, outcomes, disclosures, due_to_recipients, shared_with_other_members, deleted_records, processing)';
-- Withdrawal and restriction take effect at once (UK GDPR Arts. 7(3), 18 and 21).
--
-- Recording a withdrawal (through withdraw_participant() or a writer's own UPDATE or INSERT of
-- withdrawn_at) marks the record ready for deletion with reason 'withdrawn' in the same
-- statement, on the member's withdrawal notice of that day, to be confirmed within the policy's
-- withdrawal_confirm_days: not at the next yearly sweep, months later. Exports, sharing and every
-- aggregate leave withdrawn people out already (their conditions read withdrawn_at); the
-- recipients that received the person get a follow-up (56_followup.sql). A restricted record is
-- withdrawn but not marked: the restriction holds it until the DPO lifts it.

-- Per row, the record is marked on its member's notice of the day (created on the first
-- withdrawal, with no records yet); per statement, each notice's count grows by the rows the
-- statement put on it (from the statement's transition tables, which the audit triggers
-- collect anyway), so a bulk load of withdrawn records updates each notice once, not once a
-- row (which made 20,000 rows take 20 s instead of 0.5), and nothing a caller can set decides
-- which notices are counted.
CREATE OR REPLACE FUNCTION outreach.participant_withdrawal_mark() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  today date;
  nid bigint;
BEGIN
  -- Restricted: kept. Marked already (by a sweep, or a restore's copy of a marked row): its
  -- notice stands.
  IF NEW.restricted_at IS NOT NULL OR NEW.retention_status <> 'retained' THEN
    RETURN NEW;
  END IF;
  SELECT (now() AT TIME ZONE pol.time_zone)::date INTO today
  FROM outreach.retention_policy pol WHERE pol.controller_id = NEW.controller_id;
  IF NOT FOUND THEN
    RETURN NEW;  -- no such controller: the foreign key refuses the row
  END IF;
  -- A row inserted withdrawn and held by the DPO (un-marked with a reason, as a restore copies
  -- it) stays held until the hold ends; a withdrawal recorded now overrides a hold.
  IF TG_OP = 'INSERT' AND NEW.retention_hold_until > today THEN
    RETURN NEW;
  END IF;
  SELECT n.notice_id INTO nid FROM outreach.deletion_notice n
  WHERE n.controller_id = NEW.controller_id AND n.kind = 'withdrawal' AND n.opened_on = today;
  IF nid IS NULL THEN
    INSERT INTO outreach.deletion_notice AS n (controller_id, kind, opened_on, cycle_year, confirm_by, records_marked)
    SELECT NEW.controller_id, 'withdrawal', today,
           extract(year FROM today)::int
             - CASE WHEN (extract(month FROM today), extract(day FROM today)) >= (pol.cycle_month, pol.cycle_day)
                    THEN 0 ELSE 1 END,
           outreach.withdrawal_confirm_by(today, NEW.controller_id), 0
    FROM outreach.retention_policy pol WHERE pol.controller_id = NEW.controller_id
    ON CONFLICT (controller_id, opened_on) WHERE kind = 'withdrawal' DO NOTHING
    RETURNING n.notice_id INTO nid;
    IF nid IS NULL THEN  -- another transaction opened it meanwhile
      SELECT n.notice_id INTO nid FROM outreach.deletion_notice n
      WHERE n.controller_id = NEW.controller_id AND n.kind = 'withdrawal' AND n.opened_on = today;
    END IF;
  END IF;
  NEW.retention_status := 'ready_for_deletion';
  NEW.retention_reasons := ARRAY['withdrawn'];
  NEW.retention_due_on := today;
  NEW.retention_marked_on := today;
  NEW.retention_notice_id := nid;
  NEW.deletion_confirmed_at := NULL;
  NEW.deletion_confirmed_by := NULL;
  RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.participant_withdrawal_mark() FROM PUBLIC;
COMMENT ON FUNCTION outreach.participant_withdrawal_mark() IS
  'trigger: a withdrawal recorded marks the record ready for deletion at once, on the member''s withdrawal notice of the day';

-- The rows a statement put on a withdrawal notice (inserted marked, or moved onto it) are added
-- to its count; a notice whose count grew is delivered (deletion_notice_deliver).
CREATE OR REPLACE FUNCTION outreach.participant_withdrawal_count() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n int;
BEGIN
  -- Cheap first: most statements mark nobody.
  IF NOT EXISTS (SELECT 1 FROM new_rows r WHERE r.retention_status = 'ready_for_deletion'
                   AND r.retention_reasons = ARRAY['withdrawn'] AND r.retention_notice_id IS NOT NULL) THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    UPDATE outreach.deletion_notice d SET records_marked = d.records_marked + a.marked, updated_at = now()
    FROM (SELECT r.controller_id, r.retention_notice_id, count(*) AS marked FROM new_rows r
          WHERE r.retention_status = 'ready_for_deletion' AND r.retention_reasons = ARRAY['withdrawn']
          GROUP BY 1, 2) AS a
    WHERE d.controller_id = a.controller_id AND d.notice_id = a.retention_notice_id AND d.kind = 'withdrawal';
  ELSE
    UPDATE outreach.deletion_notice d SET records_marked = d.records_marked + a.marked, updated_at = now()
    FROM (SELECT r.controller_id, r.retention_notice_id, count(*) AS marked
          FROM new_rows r JOIN old_rows o ON o.controller_id = r.controller_id AND o.participant_id = r.participant_id
          WHERE r.retention_status = 'ready_for_deletion' AND r.retention_reasons = ARRAY['withdrawn']
            AND r.retention_notice_id IS DISTINCT FROM o.retention_notice_id
          GROUP BY 1, 2) AS a
    WHERE d.controller_id = a.controller_id AND d.notice_id = a.retention_notice_id AND d.kind = 'withdrawal';
  END IF;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n > 0 THEN
    PERFORM outreach.notify_service('records_marked');
  END IF;
  RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.participant_withdrawal_count() FROM PUBLIC;
COMMENT ON FUNCTION outreach.participant_withdrawal_count() IS
  'trigger: adds the records a statement put on withdrawal notices to their counts';
-- (Named to fire after participant_keep_withdrawal, which refuses changing a recorded value.)
CREATE OR REPLACE TRIGGER participant_withdrawal_mark BEFORE UPDATE OF withdrawn_at ON outreach.participant
  FOR EACH ROW WHEN (OLD.withdrawn_at IS NULL AND NEW.withdrawn_at IS NOT NULL)
  EXECUTE FUNCTION outreach.participant_withdrawal_mark();
CREATE OR REPLACE TRIGGER participant_withdrawal_mark_insert BEFORE INSERT ON outreach.participant
  FOR EACH ROW WHEN (NEW.withdrawn_at IS NOT NULL)
  EXECUTE FUNCTION outreach.participant_withdrawal_mark();
CREATE OR REPLACE TRIGGER participant_withdrawal_count_insert AFTER INSERT ON outreach.participant
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION outreach.participant_withdrawal_count();
CREATE OR REPLACE TRIGGER participant_withdrawal_count_update AFTER UPDATE ON outreach.participant
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION outreach.participant_withdrawal_count();

-- The participants named, all of the caller's member (writer or DPO), locked; an unknown
-- participant and another member's give the same 42704, so the call is no probe.
CREATE OR REPLACE FUNCTION outreach.require_own_participants(controller_id int, participant_ids bigint[], what text)
RETURNS bigint[]
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  ids bigint[];
  unknown bigint;
BEGIN
  IF controller_id IS NULL OR NOT (controller_id = ANY (outreach.caller_controller_ids('writer'))
                                   OR controller_id = ANY (outreach.caller_controller_ids('dpo'))) THEN
    RAISE EXCEPTION 'permission denied: role "%" cannot % participants of controller %',
                    outreach.invoking_role(), what, coalesce(controller_id::text, 'NULL')
      USING ERRCODE = '42501';
  END IF;
  IF participant_ids IS NULL OR cardinality(participant_ids) = 0 OR cardinality(participant_ids) > 10000
     OR array_ndims(participant_ids) > 1 THEN
    RAISE EXCEPTION 'name 1 to 10000 participants in a one-dimensional array' USING ERRCODE = '22023';
  END IF;
  SELECT array_agg(DISTINCT id ORDER BY id) INTO ids FROM unnest(participant_ids) AS id;
  SELECT min(coalesce(id, -1)) INTO unknown FROM unnest(participant_ids) AS id
  WHERE id IS NULL OR NOT EXISTS (SELECT 1 FROM outreach.participant p
                                  WHERE p.controller_id = require_own_participants.controller_id AND p.participant_id = id);
  IF unknown IS NOT NULL THEN
    RAISE EXCEPTION 'participant % of controller % not found', unknown, controller_id USING ERRCODE = '42704';
  END IF;
  PERFORM 1 FROM outreach.participant p
  WHERE p.controller_id = require_own_participants.controller_id AND p.participant_id = ANY (ids)
  ORDER BY p.participant_id FOR UPDATE;
  RETURN ids;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.require_own_participants(int, bigint[], text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.require_own_participants(int, bigint[], text) IS
  'the named participants of the caller''s member, locked, sorted and distinct; 42501 for a non-member, 42704 for any other';

-- The request an action answers, when one is named: open, of the member, of a fitting kind.
CREATE OR REPLACE FUNCTION outreach.rights_request_for_kinds(controller_id int, request_id bigint, kinds text[])
RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  r outreach.rights_request;
BEGIN
  IF request_id IS NULL THEN
    RETURN;
  END IF;
  SELECT * INTO r FROM outreach.rights_request q
  WHERE q.controller_id = rights_request_for_kinds.controller_id AND q.request_id = rights_request_for_kinds.request_id;
  -- A writer may name a request but not read the register: for it, every request that does
  -- not fit is the same 42704, so the call tells nothing of the register.
  IF NOT FOUND OR ((r.status <> 'open' OR NOT r.kind = ANY (kinds))
                   AND NOT controller_id = ANY (outreach.caller_controller_ids('dpo'))) THEN
    RAISE EXCEPTION 'no open % request % of controller %', array_to_string(kinds, ', ', ''), request_id, controller_id
      USING ERRCODE = '42704';
  END IF;
  IF r.status <> 'open' OR NOT r.kind = ANY (kinds) THEN
    RAISE EXCEPTION 'rights request % is % and of kind %, not an open % request', request_id, r.status, r.kind,
                    array_to_string(kinds, ', ', '') USING ERRCODE = '55000';
  END IF;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.rights_request_for_kinds(int, bigint, text[]) FROM PUBLIC;
COMMENT ON FUNCTION outreach.rights_request_for_kinds(int, bigint, text[]) IS
  'checks that a named request is the member''s, open and of one of the kinds (42704, 55000)';

-- What withdraw_participant and restrict_participant return for each person.
CREATE OR REPLACE FUNCTION outreach.participant_rights_state(controller_id int, ids bigint[])
RETURNS TABLE (participant_id bigint, withdrawn_at timestamptz, restricted_at timestamptz, retention_status text,
               notice_id bigint, confirm_by timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT p.participant_id, p.withdrawn_at, p.restricted_at, p.retention_status, p.retention_notice_id, d.confirm_by
  FROM outreach.participant p
  LEFT JOIN outreach.deletion_notice d ON d.controller_id = p.controller_id AND d.notice_id = p.retention_notice_id
  WHERE p.controller_id = participant_rights_state.controller_id AND p.participant_id = ANY (ids)
  ORDER BY p.participant_id
$$;
REVOKE EXECUTE ON FUNCTION outreach.participant_rights_state(int, bigint[]) FROM PUBLIC;
COMMENT ON FUNCTION outreach.participant_rights_state(int, bigint[]) IS
  'what withdraw_participant and restrict_participant return: each person''s withdrawal, restriction and retention state';

-- Withdrawal and restriction, recorded now (one recorded before stays as it was), for
-- withdraw_participant and restrict_participant. A withdrawal marks each record
-- (participant_withdrawal_mark); both queue the recipients' follow-ups. request_id ties the
-- change to the register (a request of a fitting kind) and is audited with it.
CREATE OR REPLACE FUNCTION outreach.set_participant_flag(controller_id int, participant_ids bigint[], request_id bigint,
                                                         flag text)
RETURNS TABLE (participant_id bigint, withdrawn_at timestamptz, restricted_at timestamptz, retention_status text,
               notice_id bigint, confirm_by timestamptz)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  ids bigint[];
  withdrawing boolean := flag = 'withdrawn';
BEGIN
  ids := outreach.require_own_participants(set_participant_flag.controller_id, set_participant_flag.participant_ids,
                                           CASE WHEN withdrawing THEN 'withdraw' ELSE 'restrict' END);
  PERFORM outreach.rights_request_for_kinds(set_participant_flag.controller_id, set_participant_flag.request_id,
                                            CASE WHEN withdrawing THEN ARRAY['withdrawal', 'objection', 'erasure']
                                                 ELSE ARRAY['restriction', 'objection', 'rectification'] END);
  IF withdrawing THEN
    UPDATE outreach.participant p SET withdrawn_at = now()
    WHERE p.controller_id = set_participant_flag.controller_id AND p.participant_id = ANY (ids) AND p.withdrawn_at IS NULL;
  ELSE
    UPDATE outreach.participant p SET restricted_at = now()
    WHERE p.controller_id = set_participant_flag.controller_id AND p.participant_id = ANY (ids) AND p.restricted_at IS NULL;
  END IF;
  INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record, columns)
  SELECT set_participant_flag.controller_id, session_user, outreach.invoking_role()::text, 'update', 'participant',
         jsonb_build_object('participant_id', id, 'request_id', set_participant_flag.request_id),
         ARRAY[CASE WHEN withdrawing THEN 'withdrawn_at' ELSE 'restricted_at' END]
  FROM unnest(ids) AS id
  WHERE set_participant_flag.request_id IS NOT NULL;
  RETURN QUERY SELECT * FROM outreach.participant_rights_state(set_participant_flag.controller_id, ids);
EXCEPTION WHEN OTHERS THEN
  PERFORM outreach.log_refusal(CASE WHEN flag = 'withdrawn' THEN 'withdraw_participant' ELSE 'restrict_participant' END,
                               set_participant_flag.controller_id, SQLSTATE);
  RAISE;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.set_participant_flag(int, bigint[], bigint, text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.set_participant_flag(int, bigint[], bigint, text) IS
  'withdraw_participant() and restrict_participant(): records withdrawn_at or restricted_at now, audited with the request';

CREATE OR REPLACE FUNCTION outreach.withdraw_participant(controller_id int, participant_ids bigint[],
                                                         request_id bigint DEFAULT NULL)
RETURNS TABLE (participant_id bigint, withdrawn_at timestamptz, restricted_at timestamptz, retention_status text,
               notice_id bigint, confirm_by timestamptz)
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM outreach.set_participant_flag(controller_id, participant_ids, request_id, 'withdrawn') $$;
REVOKE EXECUTE ON FUNCTION outreach.withdraw_participant(int, bigint[], bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.withdraw_participant(int, bigint[], bigint) TO outreach_writer, outreach_dpo;
COMMENT ON FUNCTION outreach.withdraw_participant(int, bigint[], bigint) IS
  'records a withdrawal now: out of exports, sharing and aggregates at once, marked for deletion on the day''s withdrawal notice, recipients followed up';

-- Restriction: the record is kept (no sweep, confirmation or erasure deletes it) and left out
-- of exports, sharing and aggregates until the DPO lifts it (lift_restriction).
CREATE OR REPLACE FUNCTION outreach.restrict_participant(controller_id int, participant_ids bigint[],
                                                         request_id bigint DEFAULT NULL)
RETURNS TABLE (participant_id bigint, withdrawn_at timestamptz, restricted_at timestamptz, retention_status text,
               notice_id bigint, confirm_by timestamptz)
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM outreach.set_participant_flag(controller_id, participant_ids, request_id, 'restricted') $$;
REVOKE EXECUTE ON FUNCTION outreach.restrict_participant(int, bigint[], bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.restrict_participant(int, bigint[], bigint) TO outreach_writer, outreach_dpo;
COMMENT ON FUNCTION outreach.restrict_participant(int, bigint[], bigint) IS
  'restricts processing now: kept from deletion, left out of exports, sharing and aggregates until the DPO lifts it; recipients followed up';
COMMENT ON TABLE outreach.rectification IS
  'values before and after each rectification by the DPO (deleted with the participant); the member''s DPO reads its own';
REVOKE ALL ON outreach.rectification FROM PUBLIC;
GRANT SELECT ON outreach.rectification TO outreach_dpo;

-- changes: a JSON object of the columns to correct and their new values (null clears one), e.g.
-- {"last_name": "Smith", "postcode": "SW1A 1AA"}. Values are read as the columns' types, so a
-- bad one is the type's own error (22P02, 22007, 22008, 23514 for a check). Returns what
-- changed, one row a column (nothing for values that were right already).
CREATE OR REPLACE FUNCTION outreach.rectify_participant(controller_id int, participant_id bigint, changes jsonb,
                                                        request_id bigint DEFAULT NULL)
RETURNS TABLE (field text, before_value text, after_value text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
AS $$
#variable_conflict use_column
DECLARE
  allowed text[] := ARRAY['external_ref', 'first_name', 'last_name', 'date_of_birth', 'postcode', 'institution_id',
                          'sex', 'gender_identity', 'ethnicity', 'disability', 'religion', 'he_entry_year_override',
                          'he_entry_year_override_reason', 'upn', 'uln'];
  bad text;
  cols text[];
  before jsonb;
  after jsonb;
BEGIN
  PERFORM outreach.require_dpo(rectify_participant.controller_id);
  IF changes IS NULL OR jsonb_typeof(changes) <> 'object' OR changes = '{}' THEN
    RAISE EXCEPTION 'changes must be a non-empty JSON object of columns and their new values' USING ERRCODE = '22023',
      HINT = 'e.g. {"last_name": "Smith", "postcode": "SW1A 1AA"}';
  END IF;
  SELECT min(k) INTO bad FROM jsonb_object_keys(changes) AS k WHERE NOT k = ANY (allowed);
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'column "%" cannot be rectified', left(bad, 100) USING ERRCODE = '22023',
      HINT = 'Columns: ' || array_to_string(allowed, ', ') || '.';
  END IF;
  SELECT to_jsonb(p) INTO before FROM outreach.participant p
  WHERE p.controller_id = rectify_participant.controller_id AND p.participant_id = rectify_participant.participant_id
  FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'participant % of controller % not found', participant_id, controller_id USING ERRCODE = '42704';
  END IF;
  PERFORM outreach.rights_request_for_kinds(rectify_participant.controller_id, rectify_participant.request_id,
                                            ARRAY['rectification']);
  SELECT array_agg(k ORDER BY k) INTO cols FROM jsonb_object_keys(changes) AS k;
  -- Only whitelisted names reach the statement, each quoted; the values come typed from
  -- jsonb_populate_record, never as text in the statement.
  BEGIN
    EXECUTE format('UPDATE outreach.participant p SET (%s) = (SELECT %s FROM jsonb_populate_record(NULL::outreach.participant, $3) r)
                    WHERE p.controller_id = $1 AND p.participant_id = $2 RETURNING to_jsonb(p)',
                   (SELECT string_agg(quote_ident(c), ', ') FROM unnest(cols) AS c),
                   (SELECT string_agg('r.' || quote_ident(c), ', ') FROM unnest(cols) AS c))
      INTO after USING rectify_participant.controller_id, rectify_participant.participant_id, changes;
  EXCEPTION WHEN integrity_constraint_violation THEN
    -- Run as the owner, a failed check would print the whole row ("Failing row contains ...",
    -- special categories and the pseudonym included) to the caller and the server log: the
    -- error is given again with its SQLSTATE and message only.
    DECLARE
      state text;
      msg text;
    BEGIN
      GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
      RAISE EXCEPTION '%', msg USING ERRCODE = state, HINT = 'Nothing was changed.';
    END;
  END;
  INSERT INTO outreach.rectification (controller_id, participant_id, request_id, field, before_value, after_value,
                                      rectified_by)
  SELECT rectify_participant.controller_id, rectify_participant.participant_id, rectify_participant.request_id, c,
         before ->> c, after ->> c, outreach.invoking_role()::text
  FROM unnest(cols) AS c
  WHERE (before -> c) IS DISTINCT FROM (after -> c);
  RETURN QUERY SELECT c, before ->> c, after ->> c FROM unnest(cols) AS c
               WHERE (before -> c) IS DISTINCT FROM (after -> c) ORDER BY c;
EXCEPTION WHEN OTHERS THEN
  PERFORM outreach.log_refusal('rectify_participant', rectify_participant.controller_id, SQLSTATE);
  RAISE;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.rectify_participant(int, bigint, jsonb, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.rectify_participant(int, bigint, jsonb, bigint) TO outreach_dpo;
COMMENT ON FUNCTION outreach.rectify_participant(int, bigint, jsonb, bigint) IS
  'the DPO corrects a participant''s columns: before and after kept for the DPO, linkage recomputed, recipients followed up';
-- Reminders of rights requests' statutory clocks, through the members' notification channels:
-- one digest per member and day while it has open requests due within 7 days (a reminder) or
-- overdue (an escalation, also emailed to its legal contact), listing them. The daemon's
-- escalate job calls enqueue_rights_reminders(); a second call on the same day queues nothing.
-- One message per member, however many requests it opens, so no member can fill the shared
-- delivery queue ahead of the others. No personal data: the requests' numbers, kinds and
-- dates, never who asked or about whom.
CREATE OR REPLACE FUNCTION outreach.enqueue_rights_reminders(at timestamptz DEFAULT now()) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  today date;
  m record;
  body jsonb;
  key text;
  n int := 0;
  sent int;
BEGIN
  PERFORM outreach.check_service_date(at, 'at');
  today := (at AT TIME ZONE 'Europe/London')::date;
  FOR m IN
    SELECT r.controller_id, c.code, coalesce(pol.legal_contact, c.legal_contact) AS contact,
           count(*) FILTER (WHERE coalesce(r.extended_due_on, r.due_on) < today) AS overdue,
           count(*) FILTER (WHERE coalesce(r.extended_due_on, r.due_on) >= today) AS due_soon,
           jsonb_agg(jsonb_build_object('request_id', r.request_id, 'kind', r.kind, 'received_on', r.received_on,
                                         'due_on', coalesce(r.extended_due_on, r.due_on),
                                         'extended', r.extended_due_on IS NOT NULL,
                                         'days_left', coalesce(r.extended_due_on, r.due_on) - today)
                      ORDER BY coalesce(r.extended_due_on, r.due_on), r.request_id) AS requests
    FROM outreach.rights_request r
    JOIN outreach.controller c ON c.controller_id = r.controller_id
    LEFT JOIN outreach.retention_policy pol ON pol.controller_id = r.controller_id
    WHERE r.status = 'open' AND coalesce(r.extended_due_on, r.due_on) <= today + 7
    GROUP BY r.controller_id, c.code, coalesce(pol.legal_contact, c.legal_contact)
    ORDER BY r.controller_id
  LOOP
    body := jsonb_build_object('type', CASE WHEN m.overdue > 0 THEN 'rights_escalation' ELSE 'rights_reminder' END,
                               'controller', m.code, 'on', today, 'overdue', m.overdue, 'due_within_7_days', m.due_soon,
                               -- at most 100 listed (the soonest due); the counts are complete
                               'requests', (SELECT jsonb_agg(e) FROM (SELECT e FROM jsonb_array_elements(m.requests) e LIMIT 100) x),
                               'see', 'SELECT * FROM outreach.rights_requests_due');
    key := format('outreach-rights-%s-%s', m.controller_id, today);
    IF m.overdue = 0 THEN
      sent := outreach.enqueue_delivery(m.controller_id, 'rights_reminder', key, body,
        format('Rights requests due: %s within 7 days', m.due_soon),
        format(E'%s data subjects'' requests of your organisation must be answered within 7 days.\n'
               'They are listed in outreach.rights_requests_due for your data-protection officer.\n', m.due_soon));
    ELSE
      sent := outreach.enqueue_delivery(m.controller_id, 'rights_escalation', key, body,
        format('Rights requests overdue: %s (and %s due within 7 days)', m.overdue, m.due_soon),
        format(E'%s data subjects'' requests of your organisation are past their statutory due date, and %s more\n'
               'are due within 7 days. UK GDPR Art. 12(3): answer them, extend them (within the first month)\n'
               'or refuse them with a reason. They are listed in outreach.rights_requests_due.\n', m.overdue, m.due_soon))
        + outreach.enqueue_delivery(m.controller_id, 'rights_escalation', key, body,
        format('Rights requests of %s overdue: %s', m.code, m.overdue),
        format(E'%s data subjects'' requests of %s are past their statutory due date.\n', m.overdue, m.code),
        NULL, 'email', m.contact);
    END IF;
    IF sent > 0 THEN
      n := n + 1;
    END IF;
  END LOOP;
  RETURN n;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.enqueue_rights_reminders(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.enqueue_rights_reminders(timestamptz) TO outreach_daemon;
COMMENT ON FUNCTION outreach.enqueue_rights_reminders(timestamptz) IS
  'queues one digest a day per member with open rights requests due within 7 days (a reminder) or overdue (an escalation, also to its legal contact); returns how many members got one';
COMMENT ON TABLE outreach.data_catalogue IS
  'every column of the schema holding personal data (category, special category, purposes, lawful basis, retention) and each table holding none';
REVOKE ALL ON outreach.data_catalogue FROM PUBLIC;
GRANT SELECT ON outreach.data_catalogue TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi, outreach_dpo;

-- (table, columns, category, special, purposes, basis, Art. 9 condition, retention, description)
DO $catalogue$
BEGIN
  DELETE FROM outreach.data_catalogue;
  INSERT INTO outreach.data_catalogue (table_name, column_name, category, special_category, purposes, lawful_basis,
                                       art9_condition, retention, description)
  SELECT v.t, c, v.category, v.special, v.purposes, v.basis, v.art9, v.retention, v.description
  FROM (VALUES
    -- participants: the member's records of young people
    ('participant', ARRAY['controller_id', 'participant_id'], 'record_key', false, ARRAY['evaluation'], 'member', NULL, 'participant_policy', 'which member holds the record, and its number'),
    ('participant', ARRAY['external_ref'], 'identifier', false, ARRAY['evaluation'], 'member', NULL, 'participant_policy', 'the member''s own reference'),
    ('participant', ARRAY['first_name', 'last_name'], 'name', false, ARRAY['evaluation', 'linkage', 'sharing'], 'member', NULL, 'participant_policy', 'names'),
    ('participant', ARRAY['date_of_birth'], 'date_of_birth', false, ARRAY['evaluation', 'linkage', 'sharing'], 'member', NULL, 'participant_policy', 'date of birth (gives the Expected HE Entry Year)'),
    ('participant', ARRAY['postcode'], 'address', false, ARRAY['evaluation', 'linkage', 'sharing', 'equality'], 'member', NULL, 'participant_policy', 'home postcode (neighbourhood measures)'),
    ('participant', ARRAY['institution_id', 'he_entry_year_override', 'he_entry_year_override_reason'], 'education', false, ARRAY['evaluation', 'linkage'], 'member', NULL, 'participant_policy', 'school or college, and an adult''s entry year with its reason'),
    ('participant', ARRAY['upn', 'uln'], 'identifier', false, ARRAY['linkage'], 'member', NULL, 'participant_policy', 'unique pupil and learner numbers'),
    ('participant', ARRAY['sex', 'gender_identity', 'ethnicity', 'disability', 'religion'], 'special_category', true, ARRAY['equality'], 'member', 'member', 'participant_policy', 'equality monitoring: readable by the member''s DPO only'),
    ('participant', ARRAY['linkage_id'], 'pseudonym', false, ARRAY['sharing'], 'member', NULL, 'participant_policy', 'keyed pseudonym of name, date of birth and postcode'),
    ('participant', ARRAY['withdrawn_at', 'restricted_at'], 'rights_status', false, ARRAY['rights'], 'member', NULL, 'participant_policy', 'withdrawal and restriction of processing'),
    ('participant', ARRAY['created_at', 'updated_at'], 'record_keeping', false, ARRAY['evaluation', 'retention'], 'member', NULL, 'participant_policy', 'when the record was made and changed'),
    ('participant', ARRAY['last_attended_on'], 'participation', false, ARRAY['evaluation', 'retention'], 'member', NULL, 'participant_policy', 'the latest attendance'),
    ('participant', ARRAY['retention_status', 'retention_reasons', 'retention_due_on', 'retention_marked_on', 'retention_notice_id', 'deletion_confirmed_at', 'retention_hold_until', 'retention_hold_reason'], 'retention_state', false, ARRAY['retention'], 'member', NULL, 'participant_policy', 'where the record is in the retention cycle'),
    ('participant', ARRAY['deletion_confirmed_by'], 'staff_account', false, ARRAY['retention', 'accountability'], '6(1)(c)', NULL, 'participant_policy', 'who confirmed the deletion'),
    ('attendance', ARRAY['controller_id', 'participant_id'], 'record_key', false, ARRAY['evaluation'], 'member', NULL, 'with_participant', 'whose attendance'),
    ('attendance', ARRAY['activity_id', 'attended_on', 'created_at'], 'participation', false, ARRAY['evaluation', 'sharing'], 'member', NULL, 'with_participant', 'which activity, when'),
    ('shareable_participant', ARRAY['controller_id', 'participant_id'], 'record_key', false, ARRAY['sharing'], 'member', NULL, 'with_participant', 'participants other members may see'),
    ('shareable_participant', ARRAY['linkage_id'], 'pseudonym', false, ARRAY['sharing'], 'member', NULL, 'with_participant', 'their linkage pseudonym'),
    ('outcome_block', ARRAY['controller_id', 'block', 'participant_ids'], 'record_key', false, ARRAY['evaluation'], 'member', NULL, 'with_participant', 'whose outcomes'),
    ('outcome_block', ARRAY['recipient', 'outcomes', 'academic_years', 'measures', 'provider_ukprns', 'provider_names', 'outcome_values', 'import_ids', 'line_nos', 'updated_ats'], 'outcome', false, ARRAY['evaluation'], 'member', NULL, 'with_participant', 'outcomes returned by linkage (KS4, KS5, HE applications, entry, continuation)'),
    ('rectification', ARRAY['controller_id', 'rectification_id', 'participant_id', 'request_id'], 'record_key', false, ARRAY['rights'], '6(1)(c)', NULL, 'with_participant', 'whose record was rectified, for which request'),
    ('rectification', ARRAY['field', 'before_value', 'after_value', 'rectified_at'], 'rights_request', true, ARRAY['rights'], '6(1)(c)', 'member', 'with_participant', 'values before and after a rectification (special categories too): the DPO only'),
    ('rectification', ARRAY['rectified_by'], 'staff_account', false, ARRAY['accountability'], '6(1)(c)', NULL, 'with_participant', 'who rectified'),
    ('retention_queue', ARRAY['controller_id', 'participant_id', 'as_of'], 'record_key', false, ARRAY['retention'], 'member', NULL, 'staging', 'records a sweep found due (unlogged, minutes)'),
    ('retention_skipped', ARRAY['controller_id', 'participant_id', 'problem', 'run_id'], 'retention_state', false, ARRAY['retention'], 'member', NULL, 'with_participant', 'records a sweep could not judge, and why'),
    ('tombstone', ARRAY['controller_id', 'participant_id'], 'record_key', false, ARRAY['accountability'], '6(1)(c)', NULL, 'tombstone', 'the number a deleted record had'),
    ('tombstone', ARRAY['reasons', 'due_on', 'marked_on', 'notice_id', 'confirmed_at', 'deleted_at', 'run_id'], 'retention_state', false, ARRAY['accountability'], '6(1)(c)', NULL, 'tombstone', 'why and when it was deleted'),
    ('tombstone', ARRAY['confirmed_by'], 'staff_account', false, ARRAY['accountability'], '6(1)(c)', NULL, 'tombstone', 'who confirmed the deletion'),
    -- linkage: what was sent to whom, and staging
    ('disclosure_block', ARRAY['controller_id', 'block', 'participant_ids'], 'record_key', false, ARRAY['linkage', 'accountability'], 'member', NULL, 'ledger', 'who was sent'),
    ('disclosure_block', ARRAY['export_id', 'recipient', 'cohort_years', 'participant_references', 'content_hashes'], 'disclosure', false, ARRAY['linkage', 'accountability', 'art19'], 'member', NULL, 'ledger', 'to whom, in which export, under which reference'),
    ('export_chunk', ARRAY['export_id', 'controller_id', 'block', 'participant_ids', 'cohort_years', 'src_xmins', 'participant_references', 'content_hashes'], 'disclosure', false, ARRAY['linkage'], 'member', NULL, 'staging', 'an export being built (unlogged, minutes)'),
    ('export_chunk', ARRAY['lines'], 'name', false, ARRAY['linkage'], 'member', NULL, 'staging', 'the export file''s records: names, date of birth, postcode, as the layout says'),
    ('export_action_line', ARRAY['export_id', 'controller_id', 'participant_id', 'followup_ids', 'line'], 'disclosure', false, ARRAY['art19'], 'member', NULL, 'staging', 'erasure, withdrawal and restriction records of an export being built'),
    ('export_touch', ARRAY['export_id', 'controller_id', 'participant_id'], 'record_key', false, ARRAY['linkage'], 'member', NULL, 'staging', 'records changed while an export was built'),
    ('recipient_followup', ARRAY['controller_id', 'followup_id', 'participant_id'], 'record_key', false, ARRAY['art19'], 'member', NULL, 'ledger', 'whose change a recipient must be told of'),
    ('recipient_followup', ARRAY['recipient', 'kind', 'reference', 'export_id', 'fields', 'queued_at', 'batch_id', 'carried_by', 'cancelled_at'], 'disclosure', false, ARRAY['art19'], 'member', NULL, 'ledger', 'what the recipient must be told, and when it was'),
    ('outcome_import_error', ARRAY['import_id', 'line_no', 'status', 'reason'], 'disclosure', false, ARRAY['linkage'], 'member', NULL, 'service_records', 'refused lines of outcome files (the reason may quote a reference)'),
    ('notice_delivery', ARRAY['controller_id', 'delivery_id', 'purpose', 'notice_id', 'channel_id', 'kind', 'idempotency_key', 'status', 'attempts', 'next_attempt_at', 'claimed_by', 'claim_expires_at', 'last_error', 'created_at', 'delivered_at'], 'record_keeping', false, ARRAY['service_operation'], '6(1)(f)', NULL, 'service_records', 'notices to members and their delivery'),
    ('notice_delivery', ARRAY['subject', 'message', 'payload'], 'disclosure', false, ARRAY['art19', 'retention', 'rights'], 'member', NULL, 'service_records', 'a notice''s text: follow-ups list participant numbers and references'),
    ('notice_delivery', ARRAY['target'], 'staff_contact', false, ARRAY['service_operation'], '6(1)(f)', NULL, 'service_records', 'the address a notice went to'),
    -- rights and accountability
    ('rights_request', ARRAY['controller_id', 'request_id', 'participant_ids'], 'record_key', false, ARRAY['rights'], '6(1)(c)', NULL, 'rights_register', 'whose request'),
    ('rights_request', ARRAY['kind', 'received_on', 'requester', 'details', 'identity_verified_on', 'identity_verified_how', 'child_age', 'child_agreement', 'child_override_reason', 'due_on', 'extended_due_on', 'extension_reason', 'extension_notified_on', 'status', 'closed_on', 'outcome', 'refusal_reason', 'opened_at'], 'rights_request', false, ARRAY['rights', 'accountability'], '6(1)(c)', NULL, 'rights_register', 'the request, its clock and how it ended'),
    ('rights_request', ARRAY['opened_by'], 'staff_account', false, ARRAY['accountability'], '6(1)(c)', NULL, 'rights_register', 'who opened it'),
    ('subject_lookup', ARRAY['lookup_id', 'looked_up_at', 'as_dpo_of', 'as_processor', 'matched_controllers'], 'record_keeping', false, ARRAY['rights', 'accountability'], '6(1)(c)', NULL, 'audit_trail', 'who looked a person up, as whom, which members matched (no identifiers)'),
    ('subject_lookup', ARRAY['session_role', 'acting_role'], 'staff_account', false, ARRAY['accountability'], '6(1)(c)', NULL, 'audit_trail', 'who looked'),
    ('audit_log', ARRAY['controller_id', 'audit_id', 'logged_at', 'action', 'relation', 'record', 'columns'], 'record_keeping', false, ARRAY['accountability'], '6(1)(c)', NULL, 'audit_trail', 'what was read or changed (keys, never values)'),
    ('audit_log', ARRAY['session_role', 'acting_role'], 'staff_account', false, ARRAY['accountability'], '6(1)(c)', NULL, 'audit_trail', 'who read or changed it'),
    -- the service's and members' staff
    ('controller', ARRAY['controller_id', 'code', 'name', 'created_at'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'the member organisation'),
    ('controller', ARRAY['dpo_contact', 'legal_contact'], 'staff_contact', false, ARRAY['service_operation', 'accountability'], '6(1)(f)', NULL, 'service_records', 'the member''s DPO and legal contacts'),
    ('controller_processing', ARRAY['controller_id', 'organisation_kind', 'lawful_basis', 'art9_condition', 'ico_registration', 'recorded_at'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'the member''s lawful bases and ICO registration'),
    ('controller_processing', ARRAY['dpo_contact', 'recorded_by'], 'staff_contact', false, ARRAY['accountability'], '6(1)(c)', NULL, 'service_records', 'the member''s DPO, and who recorded the bases'),
    ('retention_policy', ARRAY['controller_id', 'long_track_years', 'short_track_years', 'attendance_window_years', 'nation', 'cycle_month', 'cycle_day', 'confirm_by_month', 'confirm_by_time', 'time_zone', 'min_response_days', 'grace_days', 'updated_at', 'withdrawal_confirm_days', 'audit_trail_years', 'tombstone_years', 'ledger_years', 'notice_days'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'the member''s retention policy'),
    ('retention_policy', ARRAY['legal_contact'], 'staff_contact', false, ARRAY['retention'], '6(1)(f)', NULL, 'service_records', 'who is told of missed deadlines'),
    ('notification_channel', ARRAY['controller_id', 'channel_id', 'kind', 'enabled', 'created_at'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'how a member receives notices'),
    ('notification_channel', ARRAY['target'], 'staff_contact', false, ARRAY['service_operation'], '6(1)(f)', NULL, 'service_records', 'a webhook URL or email address'),
    ('delivery_partner', ARRAY['partner_id', 'controller_id', 'agreed_at'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'which member may name which as delivering partner'),
    ('delivery_partner', ARRAY['agreed_by'], 'staff_account', false, ARRAY['accountability'], '6(1)(f)', NULL, 'service_records', 'who agreed'),
    ('export', ARRAY['export_id', 'recipient', 'layout_version', 'as_of', 'entry_year_from', 'entry_year_to', 'status', 'file_name', 'row_count', 'sha256', 'manifest', 'followups', 'started_at', 'finished_at', 'error', 'action_rows'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'exports: recipient, counts, checksum'),
    ('export', ARRAY['started_by'], 'staff_account', false, ARRAY['accountability'], '6(1)(f)', NULL, 'service_records', 'who started it'),
    ('outcome_import', ARRAY['import_id', 'recipient', 'layout_version', 'file_name', 'sha256', 'same_as', 'imported_at', 'lines', 'inserted', 'updated', 'unchanged', 'rejected', 'duplicates', 'unknown_references', 'deferred'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'outcome imports: counts and checksum'),
    ('outcome_import', ARRAY['imported_by'], 'staff_account', false, ARRAY['accountability'], '6(1)(f)', NULL, 'service_records', 'who imported it'),
    ('retention_run', ARRAY['run_id', 'kind', 'as_of', 'started_at', 'finished_at', 'status', 'candidates', 'batches', 'rows_marked', 'rows_skipped', 'rows_deleted', 'error'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'retention runs: counts'),
    ('retention_run', ARRAY['started_by'], 'staff_account', false, ARRAY['accountability'], '6(1)(f)', NULL, 'service_records', 'who started it'),
    ('area_lookup_load', ARRAY['load_id', 'kind', 'deprivation_index', 'vintage', 'geography', 'file_name', 'staged_at', 'loaded_at', 'lines_read', 'lines_loaded', 'lines_rejected', 'rows_replaced'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'loads of public area look-ups'),
    ('area_lookup_load', ARRAY['loaded_by'], 'staff_account', false, ARRAY['accountability'], '6(1)(f)', NULL, 'service_records', 'who loaded it'),
    ('area_lookup_stage', ARRAY['stage_id', 'kind', 'deprivation_index', 'vintage', 'file_name', 'staged_at', 'header', 'positions', 'geography', 'last_line', 'lines_read'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'public area look-ups being loaded'),
    ('area_lookup_stage', ARRAY['staged_by'], 'staff_account', false, ARRAY['accountability'], '6(1)(f)', NULL, 'service_records', 'who staged it'),
    ('sharing_agreement', ARRAY['agreement_id', 'recipient', 'legal_gateway', 'reference', 'valid_from', 'valid_until', 'leaves_uk', 'transfer_safeguard', 'recorded_at'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'recipients'' sharing agreements'),
    ('sharing_agreement', ARRAY['ended_on', 'end_reason'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'an agreement ended early'),
    ('sharing_agreement', ARRAY['approved_by', 'recorded_by', 'ended_by'], 'staff_account', false, ARRAY['accountability'], '6(1)(f)', NULL, 'service_records', 'who approved and recorded it'),
    ('breach', ARRAY['breach_id', 'aware_at', 'ico_deadline', 'nature', 'data_categories', 'people_approx', 'records_approx', 'likely_consequences', 'measures_taken', 'risk', 'risk_reasoning', 'recorded_at', 'closed_at'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'breaches: what happened, to how many, the risk (no one named)'),
    ('breach', ARRAY['recorded_by'], 'staff_account', false, ARRAY['accountability'], '6(1)(c)', NULL, 'service_records', 'who recorded it'),
    ('breach_member', ARRAY['controller_id', 'breach_id', 'told_at', 'report_to_ico', 'ico_reference', 'tell_people', 'decision_reason', 'decided_at'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'the members a breach affects and their decisions'),
    ('breach_member', ARRAY['decided_by'], 'staff_account', false, ARRAY['accountability'], '6(1)(c)', NULL, 'service_records', 'who decided'),
    -- tables holding no personal data
    ('activity', ARRAY['*'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'outreach events: type, name, dates, delivering member'),
    ('activity_type', ARRAY['*'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'activity types'),
    ('area_lookup_field', ARRAY['*'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'layouts of public look-up files'),
    ('area_lookup_header', ARRAY['*'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'layouts of public look-up files'),
    ('area_lookup_stage_error', ARRAY['*'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'refused lines of public look-up files'),
    ('area_lookup_staged_row', ARRAY['*'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'rows of public look-up files being loaded'),
    ('deprivation_area', ARRAY['*'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'public area statistics'),
    ('polar4_area', ARRAY['*'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'public area statistics'),
    ('tundra_area', ARRAY['*'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'public area statistics'),
    ('postcode_geography', ARRAY['*'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'the public postcode directory'),
    ('institution', ARRAY['*'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'schools and colleges (public registers)'),
    ('controller_role', ARRAY['*'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'which group role acts for which member'),
    ('daemon_lease', ARRAY['*'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'which daemon runs which job'),
    ('job_run', ARRAY['*'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'daemon jobs: counts'),
    ('outcome_lock', ARRAY['*'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'a lock row per member'),
    ('recipient_definition', ARRAY['*'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'linkage recipients'),
    ('recipient_layout', ARRAY['*'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'recipients'' file layouts'),
    ('recipient_layout_column', ARRAY['*'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'recipients'' file layouts'),
    ('service_channel', ARRAY['*'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'the daemon''s wake-up channel'),
    ('deletion_notice', ARRAY['*'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'counts and deadlines of deletion notices'),
    ('recipient_followup_batch', ARRAY['*'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'counts of follow-up notices'),
    ('delivery_attempt', ARRAY['*'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'attempts to deliver notices'),
    ('service_retention', ARRAY['*'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'how long the service keeps its own records'),
    ('swept_records', ARRAY['*'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'counts of the service''s records removed when due'),
    ('data_catalogue', ARRAY['*'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'this catalogue')
  ) AS v(t, cols, category, special, purposes, basis, art9, retention, description)
  CROSS JOIN LATERAL unnest(v.cols) AS c;
END
$catalogue$;
COMMENT ON TABLE outreach.controller_processing IS
  'each member''s lawful basis (Art. 6), Art. 9 condition, ICO registration and DPO contact, as its DPO recorded them';
REVOKE ALL ON outreach.controller_processing FROM PUBLIC;
GRANT SELECT ON outreach.controller_processing TO outreach_dpo, outreach_processor;

-- The member's DPO records (or changes) its bases. Unknown values are 22023 with the choices.
CREATE OR REPLACE FUNCTION outreach.set_processing_basis(controller_id int, organisation_kind text, lawful_basis text,
                                                         ico_registration text, dpo_contact text,
                                                         art9_condition text DEFAULT '9(2)(j)')
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM outreach.require_dpo(controller_id);
  IF organisation_kind IS NULL OR organisation_kind NOT IN ('university', 'college', 'charity', 'other_public_body') THEN
    RAISE EXCEPTION 'unknown organisation kind "%"', left(organisation_kind, 100) USING ERRCODE = '22023',
      HINT = 'university, college, charity or other_public_body';
  END IF;
  IF lawful_basis IS NULL OR lawful_basis NOT IN ('6(1)(e)', '6(1)(f)') THEN
    RAISE EXCEPTION 'unknown lawful basis "%"', left(lawful_basis, 100) USING ERRCODE = '22023',
      HINT = '6(1)(e) (public task) or, for a charity, 6(1)(f) (legitimate interests)';
  END IF;
  IF lawful_basis = '6(1)(f)' AND organisation_kind <> 'charity' THEN
    RAISE EXCEPTION 'a % processes this data as a public task: 6(1)(e)', organisation_kind USING ERRCODE = '22023',
      HINT = 'Legitimate interests (6(1)(f)) is open to charities only: public authorities cannot rely on it for their tasks.';
  END IF;
  IF art9_condition IS NULL OR art9_condition NOT IN ('9(2)(j)', '9(2)(g)') THEN
    RAISE EXCEPTION 'unknown Art. 9 condition "%"', left(art9_condition, 100) USING ERRCODE = '22023',
      HINT = '9(2)(j) (archiving, research and statistics) or 9(2)(g) (substantial public interest: equality of opportunity)';
  END IF;
  IF ico_registration IS NULL OR ico_registration !~ '^Z[A-Z0-9][0-9]{6}$' THEN
    RAISE EXCEPTION 'an ICO registration number is Z and seven characters, e.g. Z1234567 or ZA123456' USING ERRCODE = '22023';
  END IF;
  -- One line of printable text: no control or direction-changing characters, which could
  -- make the record show what the member did not write.
  IF dpo_contact IS NULL OR length(btrim(dpo_contact)) NOT BETWEEN 1 AND 200
     OR dpo_contact ~ '[[:cntrl:]\u200e\u200f\u202a-\u202e\u2066-\u2069]' THEN
    RAISE EXCEPTION 'the DPO contact is 1 to 200 printable characters on one line' USING ERRCODE = '22023';
  END IF;
  INSERT INTO outreach.controller_processing AS p (controller_id, organisation_kind, lawful_basis, art9_condition,
                                                   ico_registration, dpo_contact, recorded_by)
  VALUES (set_processing_basis.controller_id, organisation_kind, lawful_basis, art9_condition, ico_registration,
          btrim(dpo_contact), outreach.invoking_role()::text)
  ON CONFLICT ON CONSTRAINT controller_processing_pkey DO UPDATE
    SET organisation_kind = EXCLUDED.organisation_kind, lawful_basis = EXCLUDED.lawful_basis,
        art9_condition = EXCLUDED.art9_condition, ico_registration = EXCLUDED.ico_registration,
        dpo_contact = EXCLUDED.dpo_contact, recorded_at = now(), recorded_by = EXCLUDED.recorded_by;
EXCEPTION WHEN OTHERS THEN
  PERFORM outreach.log_refusal('set_processing_basis', set_processing_basis.controller_id, SQLSTATE);
  RAISE;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.set_processing_basis(int, text, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.set_processing_basis(int, text, text, text, text, text) TO outreach_dpo;
COMMENT ON FUNCTION outreach.set_processing_basis(int, text, text, text, text, text) IS
  'the member''s DPO records its lawful basis, Art. 9 condition, ICO registration and DPO contact';

-- Words for the catalogue's keys.
CREATE OR REPLACE FUNCTION outreach.catalogue_words(kind text, key text) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE kind
    WHEN 'purpose' THEN CASE key
      WHEN 'evaluation' THEN 'to record participation in outreach and evaluate its effect on progression to higher education'
      WHEN 'linkage' THEN 'to track outcomes by linkage with national education records (DfE, ESFA, Jisc/HESA, UCAS)'
      WHEN 'sharing' THEN 'to show members that their participants also took part in other members'' activities'
      WHEN 'equality' THEN 'to monitor equality of access, in aggregates that disclose no one'
      WHEN 'retention' THEN 'to apply the retention policy and delete records when due'
      WHEN 'rights' THEN 'to answer data subjects'' requests'
      WHEN 'art19' THEN 'to tell recipients of rectification, erasure and restriction (Art. 19)'
      WHEN 'accountability' THEN 'to show compliance: who read or changed what, and why (Art. 5(2))'
      WHEN 'service_operation' THEN 'to deliver notices to members' END
    WHEN 'basis' THEN CASE key
      WHEN '6(1)(e)' THEN 'UK GDPR Art. 6(1)(e): a task carried out in the public interest'
      WHEN '6(1)(f)' THEN 'UK GDPR Art. 6(1)(f): legitimate interests'
      WHEN '6(1)(c)' THEN 'UK GDPR Art. 6(1)(c): a legal obligation (records the law requires)' END
    WHEN 'art9' THEN CASE key
      WHEN '9(2)(j)' THEN 'UK GDPR Art. 9(2)(j) with DPA 2018 Sch. 1 Part 1 para 4: archiving, research and statistics'
      WHEN '9(2)(g)' THEN 'UK GDPR Art. 9(2)(g) with DPA 2018 Sch. 1 Part 2 para 8: equality of opportunity or treatment' END
    WHEN 'retention' THEN CASE key
      WHEN 'participant_policy' THEN 'the member''s retention policy (see its time limits)'
      WHEN 'with_participant' THEN 'deleted with the participant''s record'
      WHEN 'ledger' THEN 'kept, pseudonymous, as the record of what was disclosed, for the policy''s ledger_years after the export'
      WHEN 'rights_register' THEN 'kept as the register of requests'
      WHEN 'audit_trail' THEN 'kept as the audit trail for the policy''s audit_trail_years, then only counted'
      WHEN 'staging' THEN 'minutes: removed when the export or sweep ends'
      WHEN 'service_records' THEN 'kept with the service''s operational records (delivered notices for the policy''s notice_days, import error lines for the service''s import_error_days)'
      WHEN 'tombstone' THEN 'kept as the record of a deletion, with no personal data, for the policy''s tombstone_years' END END
$$;
COMMENT ON FUNCTION outreach.catalogue_words(text, text) IS 'the words for a data catalogue key (purpose, basis, art9, retention)';

-- The record itself: one row per item. Members' DPOs read their own member's Art. 30(1) and
-- the service's Art. 30(2); the processor role reads every member's.
CREATE OR REPLACE FUNCTION outreach.record_of_processing_rows()
RETURNS TABLE (controller_id int, controller_code text, article text, item text, entry jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off   -- a few dozen rows; the planner's estimate made JIT compile for 3 s
AS $$
#variable_conflict use_column
DECLARE
  ids int[] := CASE WHEN pg_has_role(outreach.invoking_role(), 'outreach_processor', 'MEMBER')
                    THEN ARRAY(SELECT c.controller_id FROM outreach.controller c)
                    ELSE outreach.caller_controller_ids('dpo') END;
  security jsonb;
  transfers jsonb;
BEGIN
  IF cardinality(ids) = 0 THEN
    RETURN;
  END IF;
  -- Measures in force, read from the catalogue of the database, not written down.
  security := jsonb_build_object(
    'row_level_security', format('%s tables holding personal data are under forced row security, one member''s rows apart from another''s',
      (SELECT count(*) FROM pg_class k JOIN pg_namespace n ON n.oid = k.relnamespace AND n.nspname = 'outreach'
       WHERE k.relkind = 'r' AND k.relrowsecurity AND k.relforcerowsecurity
         AND k.relname IN (SELECT d.table_name FROM outreach.data_catalogue d WHERE d.category <> 'none'))),
    'special_category', 'special category columns are readable by each member''s DPO only (column privileges), and every read is audited',
    'pseudonymisation', 'linkage and recipients'' references are keyed pseudonyms (HMAC-SHA-256) with keys kept outside the database and its backups',
    'audit', 'inserts, updates, deletions and special-category reads are logged per member (outreach.audit_log)',
    'encryption_in_transit', format('%s of %s enabled recipients have an OpenPGP key: their files are encrypted to it',
      (SELECT count(*) FROM outreach.recipient r WHERE r.enabled AND r.pgp_public_key IS NOT NULL),
      (SELECT count(*) FROM outreach.recipient r WHERE r.enabled)));
  -- Transfers outside the UK: the recipients whose agreement in force says so, with the safeguard.
  transfers := jsonb_build_object('transfers', coalesce((
    SELECT jsonb_agg(jsonb_build_object('recipient', r.name, 'safeguard', a.transfer_safeguard, 'agreement', a.reference)
                     ORDER BY r.name)
    FROM outreach.recipient r CROSS JOIN LATERAL outreach.agreement_in_force(r.name) a
    WHERE r.enabled AND a.leaves_uk), '[]'));
  RETURN QUERY
  WITH members AS (
    SELECT c.controller_id, c.code, c.name, c.dpo_contact AS contact, c.legal_contact,
           p.organisation_kind, p.lawful_basis, p.art9_condition, p.ico_registration, p.dpo_contact
    FROM outreach.controller c LEFT JOIN outreach.controller_processing p ON p.controller_id = c.controller_id
    WHERE c.controller_id = ANY (ids)
  ), personal AS (
    SELECT d.* FROM outreach.data_catalogue d WHERE d.category <> 'none'
  ), items AS (
    SELECT m.controller_id, m.code, '30(1)(a)' AS article, 'controller and data-protection officer' AS item,
           jsonb_build_object('name', m.name, 'code', m.code, 'organisation_kind', m.organisation_kind,
                              'ico_registration', m.ico_registration,
                              'dpo_contact', coalesce(m.dpo_contact, m.contact), 'legal_contact', m.legal_contact,
                              'recorded', m.lawful_basis IS NOT NULL) AS entry
    FROM members m
    UNION ALL
    SELECT m.controller_id, m.code, '30(1)(b)', 'purposes and lawful bases',
           (SELECT jsonb_agg(jsonb_build_object(
                     'purpose', x.purpose, 'description', outreach.catalogue_words('purpose', x.purpose),
                     'lawful_bases', (SELECT jsonb_agg(DISTINCT outreach.catalogue_words('basis', CASE WHEN b = 'member'
                                                             THEN coalesce(m.lawful_basis, '6(1)(e)') ELSE b END))
                                      FROM unnest(x.bases) AS b),
                     'art9_condition', CASE WHEN x.special THEN outreach.catalogue_words('art9', coalesce(m.art9_condition, '9(2)(j)')) END)
                     ORDER BY x.purpose)
            FROM (SELECT u.purpose, array_agg(DISTINCT d.lawful_basis) AS bases, bool_or(d.special_category) AS special
                  FROM personal d CROSS JOIN LATERAL unnest(d.purposes) AS u(purpose) GROUP BY u.purpose) AS x)
    FROM members m
    UNION ALL
    SELECT m.controller_id, m.code, '30(1)(c)', 'categories of data subjects and of personal data',
           jsonb_build_object(
             'data_subjects', jsonb_build_array('young people and adults taking part in the member''s outreach activities',
                                                'the member''s and the service''s staff (accounts and contacts)'),
             'personal_data', (SELECT jsonb_agg(jsonb_build_object('category', y.category, 'special_category', y.special,
                                                                   'where', y.places) ORDER BY y.category)
                               FROM (SELECT d.category, bool_or(d.special_category) AS special,
                                            jsonb_agg(d.table_name || '.' || d.column_name ORDER BY d.table_name, d.column_name) AS places
                                     FROM personal d GROUP BY d.category) AS y))
    FROM members m
    UNION ALL
    SELECT m.controller_id, m.code, '30(1)(d)', 'categories of recipients',
           jsonb_build_object(
             'linkage_recipients', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                       'recipient', r.name, 'title', r.title, 'enabled', r.enabled,
                                       'fields', (SELECT jsonb_agg(lc.field ORDER BY lc.position) FROM outreach.recipient_layout_column lc
                                                  WHERE lc.recipient = r.name AND lc.kind = 'export' AND lc.version = r.export_layout
                                                    AND lc.field NOT IN ('blank', 'record_action')),
                                       'sent_so_far', EXISTS (SELECT 1 FROM outreach.disclosure_block b
                                                              WHERE b.controller_id = m.controller_id AND b.recipient = r.name),
                                       'agreement', (SELECT jsonb_build_object('legal_gateway', a.legal_gateway, 'reference', a.reference,
                                                                               'approved_by', a.approved_by, 'valid_from', a.valid_from,
                                                                               'valid_until', a.valid_until)
                                                     FROM outreach.agreement_in_force(r.name) a WHERE a.agreement_id IS NOT NULL))
                                     ORDER BY r.name), '[]')
                                    FROM outreach.recipient r WHERE r.export_layout IS NOT NULL),
             'other_members', 'that the same person took part in their activities (member, activity type, date), by linkage pseudonym; no personal data',
             'processor', 'the service that runs this database, on the member''s instructions')
    FROM members m
    UNION ALL
    SELECT m.controller_id, m.code, '30(1)(e)', 'transfers to third countries', transfers
    FROM members m
    UNION ALL
    SELECT m.controller_id, m.code, '30(1)(f)', 'time limits for erasure',
           jsonb_build_object(
             'policy', (SELECT jsonb_build_object('long_track_years', pol.long_track_years, 'short_track_years', pol.short_track_years,
                                                  'attendance_window_years', pol.attendance_window_years,
                                                  'withdrawal_confirm_days', pol.withdrawal_confirm_days,
                                                  'grace_days', pol.grace_days, 'nation', pol.nation,
                                                  'rule', format('kept %s years from the Expected HE Entry Year if the record is complete and the person attended within %s years; otherwise %s years from creation or last activity; a withdrawal is deleted once confirmed, within %s days',
                                                                 pol.long_track_years, pol.attendance_window_years, pol.short_track_years,
                                                                 pol.withdrawal_confirm_days))
                        FROM outreach.retention_policy pol WHERE pol.controller_id = m.controller_id),
             'by_data', (SELECT jsonb_object_agg(z.retention, z.words) FROM
                         (SELECT DISTINCT d.retention, outreach.catalogue_words('retention', d.retention) AS words FROM personal d) AS z))
    FROM members m
    UNION ALL
    SELECT m.controller_id, m.code, '30(1)(g)', 'technical and organisational security measures', security
    FROM members m
    UNION ALL
    -- The service as processor, once.
    SELECT NULL::int, NULL::text, '30(2)(a)', 'processor and the controllers it acts for',
           jsonb_build_object('processor', current_database(),
                              'controllers', (SELECT jsonb_agg(jsonb_build_object('code', m.code, 'name', m.name,
                                                                                  'dpo_contact', coalesce(m.dpo_contact, m.contact))
                                                               ORDER BY m.code) FROM members m))
    UNION ALL
    SELECT NULL::int, NULL::text, '30(2)(b)', 'categories of processing carried out for each controller',
           (SELECT jsonb_agg(DISTINCT outreach.catalogue_words('purpose', u.purpose)) FROM personal d
            CROSS JOIN LATERAL unnest(d.purposes) AS u(purpose))
    UNION ALL
    SELECT NULL::int, NULL::text, '30(2)(c)', 'transfers to third countries', transfers
    UNION ALL
    SELECT NULL::int, NULL::text, '30(2)(d)', 'technical and organisational security measures', security
  )
  SELECT i.controller_id, i.code, i.article, i.item, i.entry FROM items i ORDER BY i.controller_id NULLS LAST, i.article;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.record_of_processing_rows() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.record_of_processing_rows() TO outreach_dpo, outreach_processor;
COMMENT ON FUNCTION outreach.record_of_processing_rows() IS 'the rows of outreach.record_of_processing for the caller';

CREATE OR REPLACE VIEW outreach.record_of_processing AS
SELECT controller_id, controller_code, article, item, entry FROM outreach.record_of_processing_rows();
REVOKE ALL ON outreach.record_of_processing FROM PUBLIC;
GRANT SELECT ON outreach.record_of_processing TO outreach_dpo, outreach_processor;
COMMENT ON VIEW outreach.record_of_processing IS
  'UK GDPR Art. 30: the record of processing activities of each member (30(1), its DPO reads its own) and of the service as processor (30(2)), rendered from the data catalogue, the members'' bases, retention policies and recipients';
COMMENT ON COLUMN outreach.record_of_processing.controller_id IS 'the member (NULL: the service''s own record as processor)';
COMMENT ON COLUMN outreach.record_of_processing.controller_code IS 'the member''s code';
COMMENT ON COLUMN outreach.record_of_processing.article IS 'the paragraph of Art. 30 the row answers, e.g. 30(1)(b)';
COMMENT ON COLUMN outreach.record_of_processing.item IS 'what the paragraph asks for, in words';
COMMENT ON COLUMN outreach.record_of_processing.entry IS 'the answer, as JSON';
COMMENT ON TABLE outreach.sharing_agreement IS
  'linkage recipients'' sharing agreements: gateway, reference, approval, dates in force, transfer outside the UK and its safeguard';
REVOKE ALL ON outreach.sharing_agreement FROM PUBLIC;
-- (the members' DPOs, the service and its daemon; not analysts or BI tools: it names staff)
GRANT SELECT ON outreach.sharing_agreement TO outreach_dpo, outreach_processor, outreach_daemon;

-- Records an agreement (the service's DBA). Returns its id.
CREATE OR REPLACE FUNCTION outreach.record_sharing_agreement(recipient text, legal_gateway text, reference text,
                                                             approved_by text, valid_from date, valid_until date,
                                                             leaves_uk boolean DEFAULT false,
                                                             transfer_safeguard text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  id bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM outreach.recipient_definition d WHERE d.name = record_sharing_agreement.recipient) THEN
    RAISE EXCEPTION 'unknown recipient "%"', left(recipient, 100) USING ERRCODE = '42704',
      HINT = 'Recipients are listed in outreach.recipient.';
  END IF;
  IF valid_from IS NULL OR valid_until IS NULL OR NOT isfinite(valid_from) OR NOT isfinite(valid_until) THEN
    RAISE EXCEPTION 'an agreement is in force between two finite dates' USING ERRCODE = '22023';
  END IF;
  INSERT INTO outreach.sharing_agreement (recipient, legal_gateway, reference, approved_by, valid_from, valid_until,
                                          leaves_uk, transfer_safeguard, recorded_by)
  VALUES (recipient, btrim(legal_gateway), btrim(reference), btrim(approved_by), valid_from, valid_until,
          coalesce(leaves_uk, false), nullif(btrim(transfer_safeguard), ''), outreach.invoking_role()::text)
  RETURNING agreement_id INTO id;
  RETURN id;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.record_sharing_agreement(text, text, text, text, date, date, boolean, text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.record_sharing_agreement(text, text, text, text, date, date, boolean, text) IS
  'records a recipient''s sharing agreement (the service''s DBA); an end before the start is 23514; returns its id';

-- Ends an agreement early (withdrawn, breached, superseded): in force up to and including
-- ended_on, kept as it was agreed. The service's DBA, with a reason.
CREATE OR REPLACE FUNCTION outreach.end_sharing_agreement(agreement_id bigint, ended_on date, reason text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  a outreach.sharing_agreement;
BEGIN
  SELECT * INTO a FROM outreach.sharing_agreement x WHERE x.agreement_id = end_sharing_agreement.agreement_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'sharing agreement % not found', agreement_id USING ERRCODE = '42704';
  END IF;
  IF a.ended_on IS NOT NULL THEN
    RAISE EXCEPTION 'sharing agreement % ended already, on %', agreement_id, a.ended_on USING ERRCODE = '55000';
  END IF;
  IF ended_on IS NULL OR NOT isfinite(ended_on) OR ended_on < a.valid_from - 1 OR ended_on > a.valid_until THEN
    RAISE EXCEPTION 'ended_on must fall within the agreement (% to %), or be the day before it starts', a.valid_from,
                    a.valid_until USING ERRCODE = '22023';
  END IF;
  IF reason IS NULL OR length(btrim(reason)) NOT BETWEEN 1 AND 500 THEN
    RAISE EXCEPTION 'ending an agreement needs a reason of 1 to 500 characters' USING ERRCODE = '22023';
  END IF;
  UPDATE outreach.sharing_agreement x
  SET ended_on = end_sharing_agreement.ended_on, ended_by = outreach.invoking_role()::text, end_reason = btrim(reason)
  WHERE x.agreement_id = end_sharing_agreement.agreement_id;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.end_sharing_agreement(bigint, date, text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.end_sharing_agreement(bigint, date, text) IS
  'ends a sharing agreement early (the service''s DBA, with a reason): in force up to and including ended_on';

-- The agreement in force for a recipient on a day (the latest to end, when several are).
CREATE OR REPLACE FUNCTION outreach.agreement_in_force(recipient text, on_day date DEFAULT NULL)
RETURNS outreach.sharing_agreement
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT a.* FROM outreach.sharing_agreement a
  WHERE a.recipient = agreement_in_force.recipient
    AND coalesce(on_day, (now() AT TIME ZONE 'Europe/London')::date)
        BETWEEN a.valid_from AND least(a.valid_until, coalesce(a.ended_on, a.valid_until))
  ORDER BY a.valid_until DESC, a.agreement_id DESC LIMIT 1
$$;
REVOKE EXECUTE ON FUNCTION outreach.agreement_in_force(text, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.agreement_in_force(text, date) TO outreach_dpo, outreach_processor, outreach_daemon;
COMMENT ON FUNCTION outreach.agreement_in_force(text, date) IS
  'the sharing agreement of a recipient in force on a day (today in the UK by default), or NULL';

-- Raises 55000 unless the recipient has an agreement in force today (export_begin).
CREATE OR REPLACE FUNCTION outreach.require_agreement(recipient text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  last outreach.sharing_agreement;
BEGIN
  IF (outreach.agreement_in_force(recipient)).agreement_id IS NOT NULL THEN
    RETURN;
  END IF;
  SELECT a.* INTO last FROM outreach.sharing_agreement a WHERE a.recipient = require_agreement.recipient
  ORDER BY least(a.valid_until, coalesce(a.ended_on, a.valid_until)) DESC LIMIT 1;
  last.valid_until := least(last.valid_until, coalesce(last.ended_on, last.valid_until));
  IF last.agreement_id IS NULL THEN
    RAISE EXCEPTION 'recipient "%" has no sharing agreement: nothing is sent to it', recipient USING ERRCODE = '55000',
      HINT = 'Record it with outreach.record_sharing_agreement(recipient, legal_gateway, reference, approved_by, valid_from, valid_until).';
  ELSIF last.valid_until < (now() AT TIME ZONE 'Europe/London')::date THEN
    RAISE EXCEPTION 'the sharing agreement of recipient "%" (%) ended on %: nothing is sent to it', recipient, last.reference,
                    last.valid_until USING ERRCODE = '55000', HINT = 'Record its renewal with outreach.record_sharing_agreement().';
  ELSE
    RAISE EXCEPTION 'the sharing agreement of recipient "%" (%) is in force from %: nothing is sent to it before', recipient,
                    last.reference, last.valid_from USING ERRCODE = '55000';
  END IF;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.require_agreement(text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.require_agreement(text) IS
  'raises 55000 (naming why) unless the recipient has a sharing agreement in force today';
COMMENT ON TABLE outreach.breach IS
  'personal data breaches: when the service became aware, the ICO deadline (72 hours), nature, categories and numbers, consequences, measures, risk';
COMMENT ON TABLE outreach.breach_member IS
  'the members a breach affects: when each was told, and its DPO''s decision to report to the ICO and to tell the people';
REVOKE ALL ON outreach.breach, outreach.breach_member FROM PUBLIC;
GRANT SELECT ON outreach.breach, outreach.breach_member TO outreach_dpo, outreach_security;

CREATE OR REPLACE FUNCTION outreach.require_security() RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT pg_has_role(outreach.invoking_role(), 'outreach_security', 'MEMBER') THEN
    RAISE EXCEPTION 'permission denied: role "%" is not in the service''s security role (outreach_security)',
                    outreach.invoking_role() USING ERRCODE = '42501';
  END IF;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.require_security() FROM PUBLIC;
COMMENT ON FUNCTION outreach.require_security() IS 'raises 42501 unless the calling role is in outreach_security';

-- Records a breach, tells every affected member at once, returns its id.
CREATE OR REPLACE FUNCTION outreach.record_breach(aware_at timestamptz, nature text, data_categories text[],
                                                  people_approx int, records_approx bigint, likely_consequences text,
                                                  measures_taken text, risk text, risk_reasoning text,
                                                  controller_ids int[])
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
  id bigint;
  unknown int;
  bad text;
  b outreach.breach;
  c record;
BEGIN
  PERFORM outreach.require_security();
  IF aware_at IS NULL OR NOT isfinite(aware_at) OR aware_at > now() THEN
    RAISE EXCEPTION 'aware_at must be a finite time that has come (the service cannot be aware of a breach in the future)'
      USING ERRCODE = '22023';
  END IF;
  IF controller_ids IS NULL OR cardinality(controller_ids) = 0 OR cardinality(controller_ids) > 10000 THEN
    RAISE EXCEPTION 'name the members affected (1 to 10000)' USING ERRCODE = '22023';
  END IF;
  SELECT min(coalesce(x, -1)) INTO unknown FROM unnest(controller_ids) AS x
  WHERE x IS NULL OR NOT EXISTS (SELECT 1 FROM outreach.controller k WHERE k.controller_id = x);
  IF unknown IS NOT NULL THEN
    RAISE EXCEPTION 'controller % not found', unknown USING ERRCODE = '42704';
  END IF;
  -- The categories are the data catalogue's.
  SELECT min(x) INTO bad FROM unnest(data_categories) AS x
  WHERE x IS NULL OR NOT EXISTS (SELECT 1 FROM outreach.data_catalogue d WHERE d.category = x AND d.category <> 'none');
  IF bad IS NOT NULL OR data_categories IS NULL THEN
    RAISE EXCEPTION 'unknown data category "%"', coalesce(left(bad, 100), 'NULL') USING ERRCODE = '22023',
      HINT = 'The categories of outreach.data_catalogue: name, date_of_birth, address, special_category, ...';
  END IF;
  IF risk IS NULL OR risk NOT IN ('unlikely', 'risk', 'high_risk') THEN
    RAISE EXCEPTION 'risk is unlikely, risk or high_risk, not "%"', left(risk, 100) USING ERRCODE = '22023';
  END IF;
  INSERT INTO outreach.breach (aware_at, ico_deadline, nature, data_categories, people_approx, records_approx,
                               likely_consequences, measures_taken, risk, risk_reasoning, recorded_by)
  VALUES (aware_at, aware_at + interval '72 hours', btrim(nature), ARRAY(SELECT DISTINCT x FROM unnest(data_categories) x ORDER BY 1),
          people_approx, records_approx, btrim(likely_consequences), btrim(measures_taken), risk, btrim(risk_reasoning),
          outreach.invoking_role()::text)
  RETURNING * INTO b;
  id := b.breach_id;
  FOR c IN SELECT DISTINCT k.controller_id, k.code FROM outreach.controller k WHERE k.controller_id = ANY (controller_ids)
           ORDER BY k.controller_id LOOP
    INSERT INTO outreach.breach_member (controller_id, breach_id) VALUES (c.controller_id, id);
    PERFORM outreach.enqueue_delivery(c.controller_id, 'breach', format('outreach-breach-%s', id),
      jsonb_build_object('type', 'breach', 'breach_id', id, 'controller', c.code, 'aware_at', b.aware_at,
                         'ico_deadline', b.ico_deadline, 'risk', b.risk, 'data_categories', b.data_categories,
                         'people_approx', b.people_approx, 'records_approx', b.records_approx,
                         'decide_with', format('SELECT outreach.decide_breach(%s, %s, report_to_ico => ..., tell_people => ..., reason => ...)',
                                               c.controller_id, id)),
      format('Personal data breach affecting your organisation: ICO deadline %s',
             to_char(b.ico_deadline, 'YYYY-MM-DD HH24:MI "UTC"')),
      format(E'The service became aware on %s of a personal data breach affecting your organisation\n'
             '(about %s people, %s records; risk: %s). As controller you decide whether to report it to the\n'
             'ICO, within 72 hours of awareness (by %s), and whether to tell the people affected.\n'
             'The details are in outreach.breach (breach %s) for your data-protection officer.\n',
             to_char(b.aware_at, 'YYYY-MM-DD HH24:MI "UTC"'), b.people_approx, b.records_approx, b.risk,
             to_char(b.ico_deadline, 'YYYY-MM-DD HH24:MI "UTC"'), id));
  END LOOP;
  RETURN id;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.record_breach(timestamptz, text, text[], int, bigint, text, text, text, text, int[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.record_breach(timestamptz, text, text[], int, bigint, text, text, text, text, int[])
  TO outreach_security;
COMMENT ON FUNCTION outreach.record_breach(timestamptz, text, text[], int, bigint, text, text, text, text, int[]) IS
  'the service''s security role records a breach (ICO deadline 72 hours after awareness) and every affected member is told at once; returns its id';

-- The member's DPO decides: report to the ICO (with the reference), tell the people, why.
CREATE OR REPLACE FUNCTION outreach.decide_breach(controller_id int, breach_id bigint, report_to_ico boolean,
                                                  tell_people boolean, reason text, ico_reference text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM outreach.require_dpo(controller_id);
  IF report_to_ico IS NULL OR tell_people IS NULL OR reason IS NULL OR length(btrim(reason)) NOT BETWEEN 1 AND 2000 THEN
    RAISE EXCEPTION 'a decision says whether to report to the ICO and to tell the people, and why (1 to 2000 characters)'
      USING ERRCODE = '22023';
  END IF;
  IF report_to_ico AND (ico_reference IS NULL OR length(btrim(ico_reference)) NOT BETWEEN 1 AND 100) THEN
    RAISE EXCEPTION 'a breach reported to the ICO is recorded with the ICO''s reference' USING ERRCODE = '22023';
  END IF;
  UPDATE outreach.breach_member m
  SET report_to_ico = decide_breach.report_to_ico, tell_people = decide_breach.tell_people,
      decision_reason = btrim(reason), ico_reference = nullif(btrim(decide_breach.ico_reference), ''),
      decided_at = now(), decided_by = outreach.invoking_role()::text
  WHERE m.controller_id = decide_breach.controller_id AND m.breach_id = decide_breach.breach_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'breach % of controller % not found', breach_id, controller_id USING ERRCODE = '42704';
  END IF;
  INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record, columns)
  VALUES (controller_id, session_user, outreach.invoking_role()::text, 'update', 'breach_member',
          jsonb_build_object('breach_id', breach_id), ARRAY['report_to_ico', 'tell_people']);
EXCEPTION WHEN OTHERS THEN
  PERFORM outreach.log_refusal('decide_breach', decide_breach.controller_id, SQLSTATE);
  RAISE;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.decide_breach(int, bigint, boolean, boolean, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.decide_breach(int, bigint, boolean, boolean, text, text) TO outreach_dpo;
COMMENT ON FUNCTION outreach.decide_breach(int, bigint, boolean, boolean, text, text) IS
  'a member''s DPO records its decision on a breach: report to the ICO (with the reference), tell the people, and why';

CREATE OR REPLACE FUNCTION outreach.close_breach(breach_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  waiting int;
BEGIN
  PERFORM outreach.require_security();
  PERFORM 1 FROM outreach.breach b WHERE b.breach_id = close_breach.breach_id AND b.closed_at IS NULL FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no open breach %', breach_id USING ERRCODE = '42704';
  END IF;
  SELECT count(*) INTO waiting FROM outreach.breach_member m
  WHERE m.breach_id = close_breach.breach_id AND m.report_to_ico IS NULL;
  IF waiting > 0 THEN
    RAISE EXCEPTION 'breach % waits for the decision of % affected members', breach_id, waiting USING ERRCODE = '55000',
      HINT = 'Each member''s DPO decides with outreach.decide_breach().';
  END IF;
  UPDATE outreach.breach b SET closed_at = now() WHERE b.breach_id = close_breach.breach_id;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.close_breach(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.close_breach(bigint) TO outreach_security;
COMMENT ON FUNCTION outreach.close_breach(bigint) IS 'closes a breach once every affected member''s DPO has decided (55000 before)';

-- Deadlines: open breaches whose ICO deadline is within 24 hours or has passed, with the
-- decisions still missing (each DPO sees its own member's; the security role every member's).
CREATE OR REPLACE VIEW outreach.breach_deadlines WITH (security_invoker = true) AS
SELECT b.breach_id, b.aware_at, b.ico_deadline, b.risk,
       CASE WHEN b.ico_deadline < now() THEN 'passed' ELSE 'within_24_hours' END AS state,
       (SELECT count(*) FROM outreach.breach_member m WHERE m.breach_id = b.breach_id AND m.report_to_ico IS NULL)
         AS decisions_missing
FROM outreach.breach b
WHERE b.closed_at IS NULL AND b.ico_deadline < now() + interval '24 hours';
REVOKE ALL ON outreach.breach_deadlines FROM PUBLIC;
GRANT SELECT ON outreach.breach_deadlines TO outreach_dpo, outreach_security;
COMMENT ON VIEW outreach.breach_deadlines IS 'open breaches whose ICO deadline is within 24 hours or has passed';

-- Who a breach may have touched: the participants an export sent, an import stored outcomes
-- for, or whose records were written or read (audit trail) in a time window. For the security
-- role, to tell the members affected; participant ids only.
CREATE OR REPLACE FUNCTION outreach.participants_touched(export_id bigint DEFAULT NULL, import_id bigint DEFAULT NULL,
                                                         from_at timestamptz DEFAULT NULL, to_at timestamptz DEFAULT NULL)
RETURNS TABLE (controller_id int, participant_id bigint, how text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
  PERFORM outreach.require_security();
  IF num_nonnulls(export_id, import_id, from_at) <> 1 OR (from_at IS NULL) <> (to_at IS NULL) THEN
    RAISE EXCEPTION 'name one export, one import, or a time window (from_at and to_at)' USING ERRCODE = '22023';
  END IF;
  IF from_at IS NOT NULL AND (NOT isfinite(from_at) OR NOT isfinite(to_at) OR to_at < from_at
                              OR to_at - from_at > interval '400 days') THEN
    RAISE EXCEPTION 'a time window is finite, in order, and at most 400 days' USING ERRCODE = '22023';
  END IF;
  IF export_id IS NOT NULL THEN
    RETURN QUERY SELECT DISTINCT b.controller_id, u.participant_id, 'sent by export ' || b.export_id
    FROM outreach.disclosure_block b CROSS JOIN LATERAL unnest(b.participant_ids) AS u(participant_id)
    WHERE b.export_id = participants_touched.export_id ORDER BY 1, 2;
  ELSIF import_id IS NOT NULL THEN
    RETURN QUERY SELECT DISTINCT b.controller_id, u.participant_id, 'outcome stored by import ' || participants_touched.import_id
    FROM outreach.outcome_block b CROSS JOIN LATERAL unnest(b.participant_ids, b.import_ids) AS u(participant_id, import_id)
    WHERE b.import_ids @> ARRAY[participants_touched.import_id] AND u.import_id = participants_touched.import_id ORDER BY 1, 2;
  ELSE
    RETURN QUERY SELECT DISTINCT a.controller_id, (a.record ->> 'participant_id')::bigint, a.relation || ': ' || a.action
    FROM outreach.audit_log a
    WHERE a.logged_at BETWEEN from_at AND to_at AND a.record ? 'participant_id'
      AND (a.record ->> 'participant_id') ~ '^[0-9]{1,18}$' ORDER BY 1, 2, 3;
  END IF;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.participants_touched(bigint, bigint, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.participants_touched(bigint, bigint, timestamptz, timestamptz) TO outreach_security;
COMMENT ON FUNCTION outreach.participants_touched(bigint, bigint, timestamptz, timestamptz) IS
  'the participants an export sent, an import stored outcomes for, or the audit trail shows touched in a window (the security role)';
-- Reads on the record: the service's support staff (outreach_support) find a member's record
-- through a purpose-bound function that says why (a purpose and the ticket it serves) and
-- records who looked, why and what in that member's audit log, instead of a blanket SELECT.
-- The processor role keeps its reads for the service's own machinery; staff get
-- outreach_support, not outreach_processor (README, "Accountability"), and every statement of
-- any role can also be logged through pgaudit (docs/pgaudit.md).

CREATE OR REPLACE FUNCTION outreach.support_lookup(controller_id int, purpose text, ticket text,
                                                   of_participant bigint DEFAULT NULL, of_external_ref text DEFAULT NULL)
RETURNS TABLE (participant_id bigint, external_ref text, first_name text, last_name text, date_of_birth date,
               postcode text, institution_id int, withdrawn_at timestamptz, restricted_at timestamptz,
               retention_status text, created_at timestamptz, updated_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p record;
BEGIN
  IF NOT pg_has_role(outreach.invoking_role(), 'outreach_support', 'MEMBER') THEN
    RAISE EXCEPTION 'permission denied: role "%" is not in the service''s support role (outreach_support)',
                    outreach.invoking_role() USING ERRCODE = '42501';
  END IF;
  IF purpose IS NULL OR purpose NOT IN ('member_support_request', 'data_quality', 'incident_investigation',
                                        'rights_request_assistance') THEN
    RAISE EXCEPTION 'unknown purpose "%"', left(purpose, 100) USING ERRCODE = '22023',
      HINT = 'member_support_request, data_quality, incident_investigation or rights_request_assistance';
  END IF;
  IF ticket IS NULL OR length(btrim(ticket)) NOT BETWEEN 1 AND 100 THEN
    RAISE EXCEPTION 'name the ticket the look-up serves (1 to 100 characters)' USING ERRCODE = '22023';
  END IF;
  IF num_nonnulls(of_participant, of_external_ref) <> 1 THEN
    RAISE EXCEPTION 'name the record by of_participant (its id) or by of_external_ref, one of them' USING ERRCODE = '22023';
  END IF;
  SELECT x.* INTO p FROM outreach.participant x
  WHERE x.controller_id = support_lookup.controller_id
    AND (x.participant_id = of_participant OR x.external_ref = of_external_ref);
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such participant of controller %', coalesce(controller_id::text, 'NULL') USING ERRCODE = '42704';
  END IF;
  INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record, columns)
  VALUES (p.controller_id, session_user, outreach.invoking_role()::text, 'support_read', 'participant',
          jsonb_build_object('participant_id', p.participant_id, 'purpose', purpose, 'ticket', btrim(ticket)),
          ARRAY['external_ref', 'first_name', 'last_name', 'date_of_birth', 'postcode', 'institution_id']);
  RETURN QUERY SELECT p.participant_id, p.external_ref, p.first_name, p.last_name, p.date_of_birth, p.postcode::text,
                      p.institution_id, p.withdrawn_at, p.restricted_at, p.retention_status, p.created_at, p.updated_at;
EXCEPTION WHEN OTHERS THEN
  PERFORM outreach.log_refusal('support_lookup', support_lookup.controller_id, SQLSTATE);
  RAISE;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.support_lookup(int, text, text, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.support_lookup(int, text, text, bigint, text) TO outreach_support;
COMMENT ON FUNCTION outreach.support_lookup(int, text, text, bigint, text) IS
  'support staff read one member''s record for a stated purpose and ticket; each look-up is in that member''s audit log (no special categories)';
