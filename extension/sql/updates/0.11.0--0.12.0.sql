-- 0.11.0 to 0.12.0: what an update must do besides re-creating every function, view, trigger,
-- comment and grant from extension/sql/current/ (which follows this file in the update script).

-- Export files expire after the recipient confirms receipt, and can be sent again from the
-- ledger (52_exports.sql, 57_export_files.sql; the days in 36_service_records.sql).
ALTER TABLE outreach.export
  ADD COLUMN directory text,
  ADD COLUMN recreates bigint,
  ADD COLUMN delivered_at timestamptz,
  ADD COLUMN delivery_reference text,
  ADD COLUMN delivery_confirmed_by name,
  ADD COLUMN removed_at timestamptz,
  ADD COLUMN removal text CONSTRAINT export_removal_kind CHECK (removal IN ('overwritten', 'unlinked', 'not_found')),
  ADD CONSTRAINT export_removal_after_delivery
    CHECK ((removed_at IS NULL) = (removal IS NULL) AND (removed_at IS NULL OR delivered_at IS NOT NULL));
ALTER TABLE outreach.service_retention
  ADD COLUMN export_file_days int NOT NULL DEFAULT 30 CHECK (export_file_days BETWEEN 0 AND 365);
-- These take one more argument.
DROP FUNCTION outreach.export_finish(bigint, text, bigint);
DROP FUNCTION outreach.set_service_retention(int, int);
DROP FUNCTION outreach.export_render_sql(text, int, date, boolean, boolean);
DROP FUNCTION outreach.export_stage_actions(bigint, text, int);

-- Members import their own files (58_member_import.sql); each import is on the audit trail.
ALTER TABLE outreach.audit_log DROP CONSTRAINT audit_log_action_check,
  ADD CONSTRAINT audit_log_action_check CHECK (action IN ('insert', 'update', 'delete', 'read_special', 'unmark',
    'confirm_deletion', 'erasure', 'find_subject', 'reinstate', 'lift_restriction', 'support_read', 'import',
    'dismiss_duplicate'));
CREATE TABLE outreach.coding_frame (
  field text NOT NULL CHECK (field IN ('sex', 'gender_identity', 'ethnicity', 'disability', 'religion')),
  code text NOT NULL CHECK (code ~ '^[0-9A-Za-z]{1,10}$'),
  label text NOT NULL CHECK (length(label) BETWEEN 1 AND 200),
  stored text CHECK (length(stored) <= 100),
  aliases text[] NOT NULL DEFAULT '{}',
  shipped boolean NOT NULL DEFAULT false,
  PRIMARY KEY (field, code)
);
SELECT pg_catalog.pg_extension_config_dump('outreach.coding_frame', 'WHERE NOT shipped');
CREATE SEQUENCE outreach.member_import_id_seq;
SELECT pg_catalog.pg_extension_config_dump('outreach.member_import_id_seq', '');
CREATE TABLE outreach.member_import (
  controller_id int NOT NULL REFERENCES outreach.controller,
  import_id bigint NOT NULL,
  kind text NOT NULL CHECK (kind IN ('participants', 'activities', 'attendance')),
  file_name text NOT NULL,
  sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  bytes bigint NOT NULL,
  encoding text NOT NULL,
  date_format text NOT NULL,
  lines int NOT NULL,
  inserted int NOT NULL,
  updated int NOT NULL,
  unchanged int NOT NULL,
  matched int NOT NULL,
  bad int NOT NULL,
  started_at timestamptz NOT NULL,
  finished_at timestamptz NOT NULL,
  imported_by name NOT NULL,
  PRIMARY KEY (controller_id, import_id)
);
SELECT pg_catalog.pg_extension_config_dump('outreach.member_import', '');
ALTER TABLE outreach.member_import ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.member_import FORCE ROW LEVEL SECURITY;
CREATE POLICY member_import_read ON outreach.member_import FOR SELECT
  USING (outreach.controller_visible(controller_id, 'reader'));
ALTER TABLE outreach.swept_records DROP CONSTRAINT swept_records_kind_check,
  ADD CONSTRAINT swept_records_kind_check CHECK (kind IN ('audit_log', 'tombstone', 'ledger', 'notice_delivery',
                                                          'outcome_import_error', 'subject_lookup', 'member_import'));
-- Likely duplicates within a member (59_possible_duplicates.sql).
CREATE TABLE outreach.possible_duplicate (
  controller_id int NOT NULL,
  participant_id bigint NOT NULL,
  other_participant_id bigint NOT NULL,
  reasons text[] NOT NULL,
  found_at timestamptz NOT NULL DEFAULT now(),
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'dismissed')),
  decided_at timestamptz,
  decided_by name,
  PRIMARY KEY (controller_id, participant_id, other_participant_id),
  CHECK (participant_id < other_participant_id),
  CHECK ((status = 'open') = (decided_at IS NULL)),
  FOREIGN KEY (controller_id, participant_id) REFERENCES outreach.participant ON DELETE CASCADE,
  FOREIGN KEY (controller_id, other_participant_id) REFERENCES outreach.participant ON DELETE CASCADE
);
CREATE INDEX possible_duplicate_other_idx ON outreach.possible_duplicate (controller_id, other_participant_id);
SELECT pg_catalog.pg_extension_config_dump('outreach.possible_duplicate', '');
ALTER TABLE outreach.possible_duplicate ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.possible_duplicate FORCE ROW LEVEL SECURITY;
CREATE POLICY possible_duplicate_read ON outreach.possible_duplicate FOR SELECT
  USING (outreach.controller_visible(controller_id, 'reader'));
-- Activities get the member's own reference, for imports (58_member_import.sql).
ALTER TABLE outreach.activity
  ADD COLUMN external_ref text CONSTRAINT activity_external_ref_length CHECK (length(external_ref) <= 100),
  ADD CONSTRAINT activity_controller_id_external_ref_key UNIQUE (controller_id, external_ref);
GRANT INSERT (external_ref), UPDATE (external_ref) ON outreach.activity TO outreach_writer;
