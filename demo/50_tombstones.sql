-- Demo, part 5: after outreachd deleted the confirmed records: tombstones, no personal data.
\pset footer off
\set ON_ERROR_STOP on
SET search_path = public, outreach;

\echo
\echo '== 11. The deletion left tombstones; Highland''s data is gone =='
SET ROLE demo_hl_dpo;
SELECT participant_id, reasons, due_on, confirmed_by, deleted_at IS NOT NULL AS deleted FROM tombstone;
SELECT count(*) AS highland_participants_left FROM participant_core;
RESET ROLE;
\echo '-- the daemon''s job history'
SELECT job, holder, status, rows_done, detail FROM job_run ORDER BY run_id;
