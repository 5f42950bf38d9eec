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
-- Both take one more argument.
DROP FUNCTION outreach.export_finish(bigint, text, bigint);
DROP FUNCTION outreach.set_service_retention(int, int);
