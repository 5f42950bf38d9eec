-- The service's own records are kept no longer than their purpose needs either: each member's
-- audit trail, tombstones, ledger (what was sent to whom) and delivered notices, and the
-- service's import error lines and subject look-ups, each for a period of the policy (the
-- member's retention_policy; the service's service_retention), swept like participants
-- (outreachd's sweep job, after the participants), leaving counts, not people
-- (outreach.swept_records).

CREATE TABLE outreach.service_retention (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  import_error_days int NOT NULL DEFAULT 90 CHECK (import_error_days BETWEEN 7 AND 3650),
  subject_lookup_years int NOT NULL DEFAULT 6 CHECK (subject_lookup_years BETWEEN 1 AND 50),
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- export files (names, dates of birth, postcodes) in outreachd's export directory, counted
  -- from the recipient's confirmed receipt (57_export_files.sql)
  export_file_days int NOT NULL DEFAULT 30 CHECK (export_file_days BETWEEN 0 AND 365)
);
COMMENT ON TABLE outreach.service_retention IS
  'how long the service keeps its own records that belong to no member: outcome import error lines, subject look-ups, delivered export files (no row: the defaults)';
SELECT pg_catalog.pg_extension_config_dump('outreach.service_retention', '');
REVOKE ALL ON outreach.service_retention FROM PUBLIC;
GRANT SELECT ON outreach.service_retention TO outreach_processor, outreach_daemon;

-- What each sweep of the service's records removed: counts per member, kind and month of the
-- records' own dates; nothing about anyone.
CREATE TABLE outreach.swept_records (
  controller_id int,                                 -- NULL: the service's own records
  kind text COLLATE "C" NOT NULL CHECK (kind IN ('audit_log', 'tombstone', 'ledger', 'notice_delivery',
                                                  'outcome_import_error', 'subject_lookup', 'member_import')),
  month date NOT NULL,                               -- first day of the month the records were made
  records bigint NOT NULL CHECK (records >= 0),
  swept_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE NULLS NOT DISTINCT (controller_id, kind, month)
);
COMMENT ON TABLE outreach.swept_records IS
  'counts of the service''s records removed when their retention period ended, per member, kind and month';
SELECT pg_catalog.pg_extension_config_dump('outreach.swept_records', '');
ALTER TABLE outreach.swept_records ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.swept_records FORCE ROW LEVEL SECURITY;
CREATE POLICY swept_records_read ON outreach.swept_records FOR SELECT
  USING ((controller_id IS NOT NULL AND outreach.controller_visible(controller_id, 'dpo'))
         OR pg_has_role('outreach_processor', 'MEMBER'));
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
    svc := ROW(true, 90, 6, now(), 30);  -- the defaults, until the DBA sets them
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
  -- Each member's record of its imports, with its audit trail.
  WITH gone AS (
    DELETE FROM outreach.member_import m USING outreach.retention_policy p
    WHERE p.controller_id = m.controller_id AND m.finished_at < (sweep_service_records.as_of - make_interval(years => p.audit_trail_years))
    RETURNING m.controller_id, date_trunc('month', m.finished_at)::date AS month
  )
  SELECT jsonb_agg(jsonb_build_object('controller_id', controller_id, 'kind', 'member_import', 'month', month, 'records', n))
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
                                                          subject_lookup_years int DEFAULT NULL,
                                                          export_file_days int DEFAULT NULL) RETURNS void
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
  IF export_file_days NOT BETWEEN 0 AND 365 THEN
    RAISE EXCEPTION 'export_file_days must be between 0 and 365, not %', export_file_days USING ERRCODE = '22023';
  END IF;
  INSERT INTO outreach.service_retention AS s (import_error_days, subject_lookup_years, export_file_days)
  VALUES (coalesce(import_error_days, 90), coalesce(subject_lookup_years, 6), coalesce(export_file_days, 30))
  ON CONFLICT (only_row) DO UPDATE
    SET import_error_days = coalesce(set_service_retention.import_error_days, s.import_error_days),
        subject_lookup_years = coalesce(set_service_retention.subject_lookup_years, s.subject_lookup_years),
        export_file_days = coalesce(set_service_retention.export_file_days, s.export_file_days),
        updated_at = now();
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.set_service_retention(int, int, int) FROM PUBLIC;
COMMENT ON FUNCTION outreach.set_service_retention(int, int, int) IS
  'changes how long the service keeps outcome import error lines, subject look-ups and delivered export files (the service''s DBA)';
