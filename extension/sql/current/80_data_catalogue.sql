-- The data catalogue: every column of the schema that holds personal data, with its category,
-- whether it is special category data (UK GDPR Art. 9) and under which condition, the purposes
-- it serves, its lawful basis and how long it is kept; and each table that holds none. The
-- record of processing (81_record_of_processing.sql) is built from it, and sql/90_catalog.sql
-- fails when a table or a column of the schema has no row here.
--
-- Shipped with the extension, as the schema is: the rows are written by the install script and
-- written again by every update (the DO block below), never dumped.

CREATE TABLE outreach.data_catalogue (
  table_name text COLLATE "C" NOT NULL,
  column_name text COLLATE "C" NOT NULL,                 -- '*': the table holds no personal data
  category text NOT NULL CHECK (category IN (
    'none', 'record_key', 'identifier', 'name', 'date_of_birth', 'address', 'education', 'special_category',
    'pseudonym', 'participation', 'outcome', 'disclosure', 'rights_status', 'rights_request', 'retention_state',
    'record_keeping', 'staff_account', 'staff_contact')),
  special_category boolean NOT NULL DEFAULT false,
  purposes text[] NOT NULL DEFAULT '{}' CHECK (purposes <@ ARRAY[
    'evaluation', 'linkage', 'sharing', 'equality', 'retention', 'rights', 'art19', 'accountability',
    'service_operation']::text[]),
  -- 'member': the member's own recorded basis (outreach.controller_processing); else the
  -- service's: 6(1)(c) legal obligation (records the law requires), 6(1)(f) legitimate interests
  lawful_basis text CHECK (lawful_basis IN ('member', '6(1)(c)', '6(1)(f)')),
  art9_condition text CHECK (art9_condition IN ('member', '9(2)(j)', '9(2)(g)')),
  retention text CHECK (retention IN ('participant_policy', 'with_participant', 'ledger', 'rights_register',
                                      'audit_trail', 'staging', 'service_records', 'tombstone')),
  description text NOT NULL,
  PRIMARY KEY (table_name, column_name),
  CONSTRAINT data_catalogue_art9 CHECK (NOT special_category OR art9_condition IS NOT NULL),
  CONSTRAINT data_catalogue_personal CHECK ((category = 'none') = (lawful_basis IS NULL AND retention IS NULL))
);
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
    ('export', ARRAY['export_id', 'recipient', 'layout_version', 'as_of', 'entry_year_from', 'entry_year_to', 'status', 'file_name', 'row_count', 'sha256', 'manifest', 'followups', 'started_at', 'finished_at', 'error', 'action_rows', 'directory', 'recreates', 'delivered_at', 'delivery_reference', 'removed_at', 'removal'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'exports: recipient, counts, checksum'),
    ('export', ARRAY['started_by', 'delivery_confirmed_by'], 'staff_account', false, ARRAY['accountability'], '6(1)(f)', NULL, 'service_records', 'who started it, who recorded its delivery'),
    ('outcome_import', ARRAY['import_id', 'recipient', 'layout_version', 'file_name', 'sha256', 'same_as', 'imported_at', 'lines', 'inserted', 'updated', 'unchanged', 'rejected', 'duplicates', 'unknown_references', 'deferred'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'outcome imports: counts and checksum'),
    ('outcome_import', ARRAY['imported_by'], 'staff_account', false, ARRAY['accountability'], '6(1)(f)', NULL, 'service_records', 'who imported it'),
    ('member_import', ARRAY['controller_id', 'import_id', 'kind', 'file_name', 'sha256', 'bytes', 'encoding', 'date_format', 'lines', 'inserted', 'updated', 'unchanged', 'matched', 'bad', 'started_at', 'finished_at'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'members'' imports: file, counts and checksum (the lines themselves are not kept)'),
    ('member_import', ARRAY['imported_by'], 'staff_account', false, ARRAY['accountability'], '6(1)(f)', NULL, 'audit_trail', 'who imported it'),
    ('coding_frame', ARRAY['*'], 'none', false, ARRAY[]::text[], NULL, NULL, NULL, 'the codes imports accept for the coded fields'),
    ('possible_duplicate', ARRAY['controller_id', 'participant_id', 'other_participant_id', 'reasons', 'found_at', 'status', 'decided_at'], 'record_key', false, ARRAY['evaluation'], 'member', NULL, 'with_participant', 'pairs of a member''s records likely of the same person, with the reasons, for review'),
    ('possible_duplicate', ARRAY['decided_by'], 'staff_account', false, ARRAY['accountability'], '6(1)(f)', NULL, 'with_participant', 'who dismissed the pair'),
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
