-- Demo, part 4 (after outreachd swept as of 1 January 2034): what became due and why, the
-- notices, and Highland's DPO confirming them. The daemon, woken by the confirmation, deletes.
\pset footer off
\set ON_ERROR_STOP on
SET search_path = public, outreach;

\echo
\echo '== 9. What the sweep as of 1 January 2034 marked, and why =='
SELECT c.name AS member, p.first_name, p.retention_reasons AS reasons, p.retention_due_on AS due_on
FROM participant p JOIN controller c USING (controller_id)
WHERE p.retention_status = 'ready_for_deletion' ORDER BY c.name, p.first_name;
SELECT c.name AS member, n.cycle_year, n.confirm_by AT TIME ZONE 'Europe/London' AS confirm_by_london, n.records_marked
FROM deletion_notice n JOIN controller c USING (controller_id) ORDER BY c.name;
SELECT as_of, status, candidates, batches, rows_marked FROM retention_run ORDER BY run_id;
\echo '-- every delivery of the notices, as the members can read them'
SELECT c.code AS member, d.kind, d.target, d.idempotency_key, d.status, d.attempts
FROM notice_delivery d JOIN controller c USING (controller_id) ORDER BY c.code, d.kind;

\echo
\echo '== 10. Highland''s DPO confirms the deletion (outreachd is woken and deletes) =='
SET ROLE demo_hl_dpo;
SELECT confirm_deletion(notice_id) AS confirmed FROM deletion_notice;
RESET ROLE;
