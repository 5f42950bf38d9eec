-- The service's own records past their periods are swept, leaving counts: a member's audit
-- trail (audit_trail_years), tombstones (tombstone_years), ledger (ledger_years after the
-- export), delivered notices (notice_days), and the service's import error lines and subject
-- look-ups. Each member's DPO reads its own counts.
SET search_path = regress, outreach, public;
\set VERBOSITY terse

SET client_min_messages = warning;
CREATE FUNCTION pg_temp.sr_cleanup() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  r record;
  ids int[] := ARRAY(SELECT controller_id FROM outreach.controller WHERE code LIKE 'regress\_sr\_%');
BEGIN
  DELETE FROM outreach.swept_records WHERE controller_id = ANY (ids) OR controller_id IS NULL;
  DELETE FROM outreach.disclosure_block WHERE controller_id = ANY (ids);
  DELETE FROM outreach.export WHERE file_name LIKE 'regress_sr_%';
  DELETE FROM outreach.tombstone WHERE controller_id = ANY (ids);
  DELETE FROM outreach.notice_delivery WHERE controller_id = ANY (ids);
  DELETE FROM outreach.audit_log WHERE controller_id = ANY (ids);
  DELETE FROM outreach.controller WHERE controller_id = ANY (ids);
  DELETE FROM outreach.service_retention;
  FOR r IN SELECT rolname FROM pg_catalog.pg_roles
           WHERE rolname LIKE 'regress\_sr\_%' OR rolname LIKE 'outreach\_regress\_sr\_%' ORDER BY 1 LOOP
    EXECUTE pg_catalog.format('DROP ROLE %I', r.rolname);
  END LOOP;
END $$;
SELECT pg_temp.sr_cleanup();
RESET client_min_messages;

SELECT outreach.create_controller('regress_sr_a', 'Records A') AS sr_a \gset
SELECT outreach.create_controller('regress_sr_b', 'Records B') AS sr_b \gset
CREATE ROLE regress_sr_dpo_a;
SELECT outreach.grant_controller_access('regress_sr_dpo_a', 'regress_sr_a', 'dpo');
-- B keeps its audit trail 20 years, A the default 6; bad periods are 22023.
SELECT regress.try($$SELECT outreach.set_retention_policy('regress_sr_b', audit_trail_years => 0)::text$$) AS zero_years,
       regress.try($$SELECT outreach.set_retention_policy('regress_sr_b', notice_days => 1)::text$$) AS one_day,
       regress.try($$SELECT outreach.set_service_retention(import_error_days => 99999)::text$$) AS service_too_long,
       regress.try($$SELECT outreach.set_service_retention(export_file_days => -1)::text$$) AS files_negative;
SELECT outreach.set_retention_policy('regress_sr_b', audit_trail_years => 20);

-- Records of 2010 and of last year, for both members.
INSERT INTO outreach.audit_log (controller_id, logged_at, session_role, acting_role, action, relation, record)
SELECT c, t, 'x', 'x', 'update', 'participant', '{"participant_id": 1}'
FROM unnest(ARRAY[:sr_a, :sr_b]) AS c, unnest(ARRAY[timestamptz '2010-03-15 10:00+00', '2010-03-20 10:00+00', now() - interval '1 year']) AS t;
INSERT INTO outreach.tombstone (controller_id, participant_id, reasons, deleted_at)
VALUES (:sr_a, 1, '{withdrawn}', '2010-05-01'), (:sr_a, 2, '{withdrawn}', now() - interval '1 year');
INSERT INTO outreach.export (recipient, layout_version, as_of, entry_year_from, entry_year_to, status, file_name, started_by,
                             finished_at, sha256, manifest, row_count)
VALUES ('dfe', 1, '2005-11-01', 2004, 2006, 'finished', 'regress_sr_2005.csv', 'regress', '2005-11-01 18:00+00', repeat('0', 63) || '1', '{}', 2),
       ('dfe', 1, '2025-11-01', 2024, 2026, 'finished', 'regress_sr_2025.csv', 'regress', '2025-11-01 18:00+00', repeat('0', 63) || '2', '{}', 1);
INSERT INTO outreach.disclosure_block (controller_id, block, export_id, recipient, participant_ids, cohort_years,
                                       participant_references, content_hashes)
SELECT :sr_a, 0, export_id, 'dfe', CASE WHEN file_name LIKE '%2005%' THEN ARRAY[1, 2]::bigint[] ELSE ARRAY[3]::bigint[] END,
       CASE WHEN file_name LIKE '%2005%' THEN ARRAY[2005, 2005] ELSE ARRAY[2025] END,
       CASE WHEN file_name LIKE '%2005%' THEN ARRAY['R1', 'R2'] ELSE ARRAY['R3'] END,
       CASE WHEN file_name LIKE '%2005%' THEN ARRAY[1, 2]::bigint[] ELSE ARRAY[3]::bigint[] END
FROM outreach.export WHERE file_name LIKE 'regress_sr_%';
INSERT INTO outreach.notice_delivery (controller_id, purpose, kind, target, idempotency_key, subject, message, payload, status, created_at)
VALUES (:sr_a, 'recipient_followup', 'email', 'a@a.example', 'sr-old', 's', 'm', '{"items": [{"participant_id": 1}]}', 'delivered', now() - interval '200 days'),
       (:sr_a, 'recipient_followup', 'email', 'a@a.example', 'sr-pending', 's', 'm', '{}', 'pending', now() - interval '200 days'),
       (:sr_a, 'recipient_followup', 'email', 'a@a.example', 'sr-new', 's', 'm', '{}', 'delivered', now() - interval '10 days');

-- Only the daemon (and the DBA) sweeps; then what went, what stayed.
CREATE ROLE regress_sr_daemon;
GRANT outreach_daemon TO regress_sr_daemon;
SET ROLE regress_sr_dpo_a;
SELECT regress.try('SELECT outreach.sweep_service_records()::text') AS dpo_sweeps;
RESET ROLE;
SET ROLE regress_sr_daemon;
SELECT outreach.sweep_service_records() > 0 AS swept;
SELECT outreach.sweep_service_records() AS again;
RESET ROLE;
SELECT c.code, count(*) AS audit_rows_left, min(a.logged_at) > '2011-01-01' AS none_from_2010
FROM outreach.audit_log a JOIN outreach.controller c USING (controller_id)
WHERE c.code LIKE 'regress\_sr\_%' GROUP BY 1 ORDER BY 1;
SELECT participant_id AS tombstones_left FROM outreach.tombstone WHERE controller_id = :sr_a;
SELECT e.file_name, e.row_count, (SELECT count(*) FROM outreach.disclosure_block b WHERE b.export_id = e.export_id) AS ledger_blocks
FROM outreach.export e WHERE e.file_name LIKE 'regress_sr_%' ORDER BY 1;
SELECT idempotency_key AS notices_left FROM outreach.notice_delivery WHERE controller_id = :sr_a ORDER BY 1;
-- The counts: per member, kind and month; A's DPO reads A's only.
SELECT c.code, s.kind, CASE WHEN s.month > date '2020-01-01' THEN 'this year or last' ELSE s.month::text END AS month, s.records
FROM outreach.swept_records s JOIN outreach.controller c USING (controller_id)
WHERE c.code LIKE 'regress\_sr\_%' ORDER BY 1, 2, 3;
SET ROLE regress_sr_dpo_a;
SELECT count(*) AS rows_a_reads, count(*) FILTER (WHERE controller_id <> :sr_a) AS of_others FROM outreach.swept_records;
RESET ROLE;
-- B's audit trail from 2010 goes when its 20 years have passed (a sweep as of 2031, which only
-- the DBA may run ahead of today).
SELECT outreach.sweep_service_records(date '2031-01-01') > 0 AS swept_as_of_2031;
SELECT count(*) AS b_rows_from_2010 FROM outreach.audit_log WHERE controller_id = :sr_b AND logged_at < '2011-01-01';

SET client_min_messages = warning;
SELECT pg_temp.sr_cleanup();
RESET client_min_messages;
