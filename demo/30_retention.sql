-- Demo, part 3: retention. What Northbridge's DPO sees, a sweep run as of a date years ahead
-- (as_of lets the demo travel in time), what became due and why, confirmation and deletion.
\pset footer off
\set ON_ERROR_STOP on
SET search_path = public, outreach;

-- One Highland participant withdraws permission today: due at once.
UPDATE participant SET withdrawn_at = now() WHERE external_ref = 'HL-1';

\echo
\echo '== 7. Retention as Highland Trust''s data-protection officer sees it =='
CREATE ROLE demo_hl_dpo LOGIN;
SELECT grant_controller_access('demo_hl_dpo', 'highland', 'dpo') \gset
SET ROLE demo_hl_dpo;
SELECT p.first_name, s.track, s.expected_he_entry_year AS entry_year, s.due_on, s.status, s.reasons
FROM retention_status s JOIN participant_core p USING (controller_id, participant_id) ORDER BY s.due_on;
\echo '-- the forecast: records falling due in each of the next 20 years (years with none left out)'
SELECT due_year, participants FROM retention_forecast WHERE participants > 0 ORDER BY due_year;
RESET ROLE;

\echo
\echo '== 8. A sweep as of 1 January 2034: what became due, and why =='
CALL retention_sweep('2034-01-01');
SELECT c.name AS member, p.first_name, p.retention_reasons AS reasons, p.retention_due_on AS due_on
FROM participant p JOIN controller c USING (controller_id)
WHERE p.retention_status = 'ready_for_deletion' ORDER BY c.name, p.first_name;
SELECT c.name AS member, n.cycle_year, n.confirm_by AT TIME ZONE 'Europe/London' AS confirm_by_london, n.records_marked
FROM deletion_notice n JOIN controller c USING (controller_id) ORDER BY c.name;
SELECT as_of, status, candidates, batches, rows_marked FROM retention_run ORDER BY run_id;

\echo
\echo '== 9. Highland''s DPO confirms; the deletion leaves tombstones and no personal data =='
SET ROLE demo_hl_dpo;
SELECT confirm_deletion(notice_id) AS confirmed FROM deletion_notice;
RESET ROLE;
CALL delete_confirmed();
SET ROLE demo_hl_dpo;
SELECT participant_id, reasons, due_on, confirmed_by, deleted_at IS NOT NULL AS deleted FROM tombstone;
SELECT count(*) AS highland_participants_left FROM participant_core;
RESET ROLE;
