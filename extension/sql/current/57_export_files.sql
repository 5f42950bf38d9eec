-- Export files after they are written: copies of names, dates of birth and postcodes that must
-- not outlive their purpose. The service records the recipient's confirmed receipt
-- (confirm_export_delivered); the service's export_file_days later (service_retention, default
-- 30) outreachd's sweep job overwrites and removes the file and its manifest and records that
-- here (export_files_expired, export_file_removed). A file the recipient lost can be sent again
-- from the ledger (export_begin_recreation) while the service still holds every one of its
-- participants, unchanged and still shareable; the copy is a disclosure of its own, with its own
-- ledger rows and life. See docs/linkage.md, "Export files expire".

-- The days a delivered export file is kept (the service's DBA sets it with set_service_retention).
CREATE OR REPLACE FUNCTION outreach.export_file_days() RETURNS int
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce((SELECT s.export_file_days FROM outreach.service_retention s), 30)
$$;
COMMENT ON FUNCTION outreach.export_file_days() IS
  'days a delivered export file stays in outreachd''s export directory (service_retention, default 30)';

-- The service records that the recipient confirmed receipt (its acknowledgement's reference):
-- returns when the file will be removed. A second confirmation keeps the first.
CREATE OR REPLACE FUNCTION outreach.confirm_export_delivered(export_id bigint, reference text DEFAULT NULL,
                                                            delivered_at timestamptz DEFAULT now())
RETURNS timestamptz
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  e outreach.export;
BEGIN
  -- (control characters, and the format characters that reorder or hide text: line and
  -- paragraph separators, zero-width and bidirectional controls)
  IF reference IS NOT NULL AND (length(reference) > 200
                                OR reference ~ '[[:cntrl:]\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]') THEN
    RAISE EXCEPTION 'reference must be at most 200 printable characters' USING ERRCODE = '22023';
  END IF;
  IF delivered_at IS NULL THEN
    RAISE EXCEPTION 'delivered_at must be given' USING ERRCODE = '22004';
  ELSIF delivered_at > now() THEN
    RAISE EXCEPTION 'delivered_at must not be in the future' USING ERRCODE = '22023';
  END IF;
  SELECT * INTO e FROM outreach.export x WHERE x.export_id = confirm_export_delivered.export_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown export %', export_id USING ERRCODE = '42704';
  END IF;
  IF e.status <> 'finished' THEN
    RAISE EXCEPTION 'export % is %: only a finished export is delivered', export_id, e.status USING ERRCODE = '55000';
  END IF;
  IF delivered_at < e.finished_at THEN
    RAISE EXCEPTION 'delivered_at precedes the export''s finish (%)', e.finished_at USING ERRCODE = '22023';
  END IF;
  IF e.delivered_at IS NOT NULL THEN
    RAISE NOTICE 'export % was confirmed delivered already, at % (kept)', export_id, e.delivered_at;
    RETURN e.delivered_at + make_interval(days => outreach.export_file_days());
  END IF;
  UPDATE outreach.export x
  SET delivered_at = confirm_export_delivered.delivered_at, delivery_reference = reference,
      delivery_confirmed_by = outreach.invoking_role()
  WHERE x.export_id = e.export_id;
  RETURN delivered_at + make_interval(days => outreach.export_file_days());
END
$$;
COMMENT ON FUNCTION outreach.confirm_export_delivered(bigint, text, timestamptz) IS
  'records that the recipient confirmed receipt of an export; returns when outreachd removes its file';

-- What outreachd's sweep job removes: delivered exports past their days, files still there.
CREATE OR REPLACE FUNCTION outreach.export_files_expired()
RETURNS TABLE (export_id bigint, directory text, file_name text, sha256 text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT x.export_id, x.directory, x.file_name, x.sha256
  FROM outreach.export x
  WHERE x.status = 'finished' AND x.removed_at IS NULL
    AND x.delivered_at <= now() - make_interval(days => outreach.export_file_days())
  ORDER BY x.export_id
$$;
COMMENT ON FUNCTION outreach.export_files_expired() IS
  'delivered exports whose file is past the service''s export_file_days and not yet removed, with the file''s checksum (outreachd)';

-- outreachd removed the file and its manifest: overwritten then unlinked, unlinked only (a file
-- system that writes elsewhere: overwriting would not reach the old blocks), or not found.
CREATE OR REPLACE FUNCTION outreach.export_file_removed(export_id bigint, removal text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF removal IS NULL OR removal NOT IN ('overwritten', 'unlinked', 'not_found') THEN
    RAISE EXCEPTION 'removal must be overwritten, unlinked or not_found' USING ERRCODE = '22023';
  END IF;
  -- Only a file that is due (export_files_expired): the daemon's credential cannot record an
  -- early removal.
  UPDATE outreach.export x SET removed_at = now(), removal = export_file_removed.removal
  WHERE x.export_id = export_file_removed.export_id AND x.status = 'finished' AND x.removed_at IS NULL
    AND x.delivered_at <= now() - make_interval(days => outreach.export_file_days());
  IF NOT FOUND THEN
    IF NOT EXISTS (SELECT 1 FROM outreach.export x WHERE x.export_id = export_file_removed.export_id) THEN
      RAISE EXCEPTION 'unknown export %', export_id USING ERRCODE = '42704';
    ELSIF NOT EXISTS (SELECT 1 FROM outreach.export x
                      WHERE x.export_id = export_file_removed.export_id AND x.removed_at IS NOT NULL) THEN
      RAISE EXCEPTION 'export % is not due for removal (delivered and past export_file_days)', export_id
        USING ERRCODE = '55000';
    END IF;
  END IF;
END
$$;
COMMENT ON FUNCTION outreach.export_file_removed(bigint, text) IS
  'records outreachd''s removal of a delivered export''s file (overwritten, unlinked or not_found)';

-- Stages, for export new_id, the records an earlier export sent: the participants its ledger
-- lists, written under its layout and date with the references they were sent under. Refused
-- (55000) when the ledger no longer lists them, when one of them is no longer held or may no
-- longer be shared, or when a record would not be the one sent (it changed since: the
-- recipient's next export sends it as a correction).
CREATE OR REPLACE FUNCTION outreach.export_stage_copy(new_id bigint, original bigint) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
SET jit = off
SET enable_nestloop = off
SET work_mem = '512MB'
AS $$
DECLARE
  o outreach.export;
  cs int[];
  ps bigint[];
  listed bigint;
  gone bigint;
  not_shareable bigint;
  changed bigint;
  staged bigint;
BEGIN
  SELECT * INTO o FROM outreach.export x WHERE x.export_id = original;
  SELECT coalesce(array_agg(b.controller_id), '{}'), coalesce(array_agg(u.participant_id), '{}'), count(*)
    INTO cs, ps, listed
  FROM outreach.disclosure_block b CROSS JOIN LATERAL unnest(b.participant_ids) AS u(participant_id)
  WHERE b.export_id = original;
  IF listed <> o.row_count - o.action_rows THEN
    RAISE EXCEPTION 'export % cannot be re-created: the ledger lists % of its % records', original, listed,
      o.row_count - o.action_rows USING ERRCODE = '55000',
      HINT = 'The ledger of an export is swept after the policy''s ledger_years.';
  END IF;
  SELECT count(*) FILTER (WHERE p.participant_id IS NULL),
         count(*) FILTER (WHERE p.withdrawn_at IS NOT NULL OR p.restricted_at IS NOT NULL OR p.retention_status <> 'retained')
    INTO gone, not_shareable
  FROM unnest(cs, ps) AS k(c, p)
  LEFT JOIN outreach.participant p ON p.controller_id = k.c AND p.participant_id = k.p;
  IF gone > 0 THEN
    RAISE EXCEPTION 'export % cannot be re-created: % of its % participants are no longer held', original, gone, listed
      USING ERRCODE = '55000',
      HINT = 'Only records the service still holds can be sent again; the ledger keeps what was sent.';
  END IF;
  IF not_shareable > 0 THEN
    RAISE EXCEPTION 'export % cannot be re-created: % of its % participants have withdrawn, are restricted or are marked for deletion',
      original, not_shareable, listed USING ERRCODE = '55000',
      HINT = 'Records that may no longer be shared are not sent again.';
  END IF;
  -- Every record, whether or not it changed since (no previous hash given to export_block),
  -- rendered as before the export (its records say "new" or "correction" as they did).
  EXECUTE format($sql$
    INSERT INTO outreach.export_chunk
    SELECT %s::bigint, g.controller_id, g.block, (g.b).participant_ids, (g.b).cohort_years, (g.b).src_xmins,
           (g.b).participant_references, (g.b).content_hashes, (g.b).lines
    FROM (SELECT r.controller_id, (r.participant_id >> 12)::int AS block,
                 outreach.export_block(r.participant_id, r.cohort_year, r.src_xmin, r.reference, NULL::bigint, r.line,
                                       r.hashed) AS b
          FROM (%s) AS r
          GROUP BY r.controller_id, (r.participant_id >> 12)::int) AS g
    WHERE g.b IS NOT NULL$sql$,
    new_id, outreach.export_render_sql(o.recipient, o.layout_version, o.as_of, true, true, original)) USING cs, ps;
  -- The eligibility rule as of the export's date: the recipient's entry years and required fields.
  SELECT coalesce(sum(cardinality(c.participant_ids)), 0) INTO staged FROM outreach.export_chunk c WHERE c.export_id = new_id;
  IF staged < listed THEN
    RAISE EXCEPTION 'export % cannot be re-created: % of its % participants are no longer in the recipient''s scope',
      original, listed - staged, listed USING ERRCODE = '55000',
      HINT = 'Its entry years or required fields no longer include them.';
  END IF;
  SELECT count(*) INTO changed
  FROM (SELECT b.controller_id, u.participant_id, u.content_hash
        FROM outreach.disclosure_block b
        CROSS JOIN LATERAL unnest(b.participant_ids, b.content_hashes) AS u(participant_id, content_hash)
        WHERE b.export_id = original) AS sent
  LEFT JOIN (SELECT c.controller_id, u.participant_id, u.content_hash
             FROM outreach.export_chunk c
             CROSS JOIN LATERAL unnest(c.participant_ids, c.content_hashes) AS u(participant_id, content_hash)
             WHERE c.export_id = new_id) AS now_
    ON now_.controller_id = sent.controller_id AND now_.participant_id = sent.participant_id
  WHERE now_.content_hash IS DISTINCT FROM sent.content_hash;
  IF changed > 0 THEN
    RAISE EXCEPTION 'export % cannot be re-created: % of its % records changed since it was sent', original, changed, listed
      USING ERRCODE = '55000', HINT = 'The recipient''s next export sends the current records (as corrections).';
  END IF;
END
$$;
COMMENT ON FUNCTION outreach.export_stage_copy(bigint, bigint) IS
  'stages an earlier export''s records again, as they were sent, or refuses (export_begin_recreation)';

-- Opens an export sending an earlier finished export's records again (outreachd run-once export
-- --recreate): then export_lines and export_finish as for any export.
CREATE OR REPLACE FUNCTION outreach.export_begin_recreation(original bigint)
RETURNS TABLE (export_id bigint, file_name text, layout_version int, row_count bigint, pgp_public_key text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  o outreach.export;
BEGIN
  SELECT * INTO o FROM outreach.export x WHERE x.export_id = export_begin_recreation.original;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown export %', original USING ERRCODE = '42704';
  END IF;
  IF o.status <> 'finished' THEN
    RAISE EXCEPTION 'export % is %: only a finished export can be re-created', o.export_id, o.status
      USING ERRCODE = '55000';
  END IF;
  RETURN QUERY SELECT * FROM outreach.export_open(o.recipient, o.as_of, o.export_id);
END
$$;
COMMENT ON FUNCTION outreach.export_begin_recreation(bigint) IS
  'opens an export that sends an earlier export''s records again (every participant still held, unchanged, shareable)';

REVOKE EXECUTE ON FUNCTION outreach.export_file_days(), outreach.confirm_export_delivered(bigint, text, timestamptz),
  outreach.export_files_expired(), outreach.export_file_removed(bigint, text), outreach.export_stage_copy(bigint, bigint),
  outreach.export_begin_recreation(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.export_file_days() TO outreach_processor, outreach_daemon;
GRANT EXECUTE ON FUNCTION outreach.confirm_export_delivered(bigint, text, timestamptz) TO outreach_processor;
GRANT EXECUTE ON FUNCTION outreach.export_files_expired(), outreach.export_file_removed(bigint, text),
  outreach.export_begin_recreation(bigint) TO outreach_daemon;
