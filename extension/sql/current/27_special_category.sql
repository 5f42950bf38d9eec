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


-----------------------------------------------------------------------------------------------
-- Planner statistics. EXPLAIN's row estimates come from pg_statistic of the whole table, so a
-- DPO filtering on religion would see an estimate shaped by every member's religions. No
-- statistics are gathered for the special-category columns (nothing is indexed on them and
-- only DPOs can filter on them). Other columns keep theirs: see docs/decisions.md, "Planner
-- estimates".
-----------------------------------------------------------------------------------------------
ALTER TABLE outreach.participant
  ALTER COLUMN sex SET STATISTICS 0,
  ALTER COLUMN gender_identity SET STATISTICS 0,
  ALTER COLUMN ethnicity SET STATISTICS 0,
  ALTER COLUMN disability SET STATISTICS 0,
  ALTER COLUMN religion SET STATISTICS 0;
