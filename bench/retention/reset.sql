-- Back to the loaded state between measurements: every participant retained, no notices, no
-- queue, no runs (triggers off: these are the benchmark's own repairs, not members' changes).
\set ON_ERROR_STOP on
SET session_replication_role = replica;
UPDATE outreach.participant
SET retention_status = 'retained', retention_reasons = NULL, retention_due_on = NULL, retention_marked_on = NULL,
    retention_notice_id = NULL, deletion_confirmed_at = NULL, deletion_confirmed_by = NULL
WHERE retention_status <> 'retained';
TRUNCATE outreach.deletion_notice, outreach.retention_queue, outreach.retention_run RESTART IDENTITY;
RESET session_replication_role;
VACUUM (ANALYZE) outreach.participant, outreach.retention_queue, outreach.deletion_notice, outreach.retention_run;
CHECKPOINT;
