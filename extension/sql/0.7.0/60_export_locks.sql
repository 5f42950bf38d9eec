-- Exports wait for members' transactions without stalling every other member. An export takes
-- a SHARE lock on outreach.participant at staging and, at finish, its own row, which members'
-- changes to participants lock in share mode while their transactions run (docs/linkage.md).
-- Until 0.6.0 it queued for them with lock_timeout 60 s: while it waited, every member's write
-- to participant queued behind it, and a member that kept a transaction open made every export
-- fail. Now it never waits in the queue (NOWAIT, retried every 100 ms); after
-- outreach.member_lock_seconds (30 s) it ends the sessions of members' roles that hold locks on
-- outreach.participant (the only locks that can be in its way), and after twice that it gives up
-- with 55P03. The service's own roles and superusers are never ended.
CREATE FUNCTION outreach.lock_ahead_of_members(attempt text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  started timestamptz := clock_timestamp();
  grace interval := pg_catalog.current_setting('outreach.member_lock_seconds')::interval;  -- ('30s')
  holder record;
BEGIN
  LOOP
    BEGIN
      EXECUTE attempt;
      RETURN;
    EXCEPTION WHEN lock_not_available THEN
      IF clock_timestamp() > started + 2 * grace THEN
        RAISE EXCEPTION 'members'' transactions held outreach.participant for % seconds',
          extract(epoch FROM 2 * grace) USING ERRCODE = '55P03',
          HINT = 'The export is retried at its next run.';
      END IF;
    END;
    IF clock_timestamp() > started + grace THEN
      FOR holder IN
        SELECT DISTINCT l.pid, a.usename
        FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid OPERATOR(pg_catalog.=) l.pid
        JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.usesysid
        WHERE l.locktype OPERATOR(pg_catalog.=) 'relation' AND l.granted
          AND l.relation OPERATOR(pg_catalog.=) 'outreach.participant'::pg_catalog.regclass
          AND l.database OPERATOR(pg_catalog.=) (SELECT d.oid FROM pg_catalog.pg_database d
                                                 WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database())
          AND l.mode OPERATOR(pg_catalog.<>) 'AccessShareLock'
          AND l.pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid()
          AND NOT r.rolsuper
          AND NOT pg_catalog.pg_has_role(r.oid, 'outreach_daemon', 'MEMBER')
          AND NOT pg_catalog.pg_has_role(r.oid, 'outreach_processor', 'MEMBER')
      LOOP
        RAISE WARNING 'outreach: ending session % of role "%": its transaction held up an export for % seconds',
          holder.pid, holder.usename, extract(epoch FROM grace);
        PERFORM pg_catalog.pg_terminate_backend(holder.pid);
      END LOOP;
    END IF;
    PERFORM pg_catalog.pg_sleep(0.1);
  END LOOP;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.lock_ahead_of_members(text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.lock_ahead_of_members(text) IS
  'runs a NOWAIT lock statement until it succeeds, never queueing; after outreach.member_lock_seconds ends members'' '
  'sessions holding outreach.participant, after twice that gives up (55P03)';

-- As in 0.5.0, with the SHARE lock and an abandoned export's row taken by lock_ahead_of_members.
CREATE OR REPLACE FUNCTION outreach.export_begin(recipient text, as_of date DEFAULT current_date)
RETURNS TABLE (export_id bigint, file_name text, layout_version int, row_count bigint, pgp_public_key text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
-- (other locks: the SHARE lock below is taken by lock_ahead_of_members)
SET lock_timeout = '60s'
AS $$
#variable_conflict use_column
DECLARE
  r record;
  ay int;
  new_id bigint;
  fname text;
  n bigint;
BEGIN
  IF as_of IS NULL OR as_of NOT BETWEEN DATE '1950-01-01' AND DATE '2200-01-01' THEN
    RAISE EXCEPTION 'as_of must be a date between 1950 and 2200' USING ERRCODE = '22023';
  END IF;
  SELECT * INTO r FROM outreach.recipient v WHERE v.name = export_begin.recipient;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown recipient "%"', recipient USING ERRCODE = '42704',
      HINT = 'Recipients are listed in outreach.recipient.';
  END IF;
  IF r.export_layout IS NULL OR NOT EXISTS (SELECT 1 FROM outreach.recipient_layout l
                                            WHERE l.recipient = r.name AND l.kind = 'export' AND l.version = r.export_layout) THEN
    RAISE EXCEPTION 'recipient "%" has no export layout', recipient USING ERRCODE = '22023',
      HINT = 'Define one with outreach.define_layout(recipient, ''export'', columns).';
  END IF;
  IF NOT r.enabled THEN
    RAISE EXCEPTION 'recipient "%" is disabled', recipient USING ERRCODE = '55000';
  END IF;
  -- The recipient's key must be in the key file (42704 naming the scope, before any work).
  PERFORM outreach.pseudonymise('c0', 'p0', DATE '1900-01-01', 'GIR 0AA', 'recipient:' || r.name);
  -- One export of a recipient is built at a time: begins of the same recipient queue here.
  PERFORM 1 FROM outreach.recipient_definition d WHERE d.name = r.name FOR UPDATE;
  -- An export still building is a run that crashed or was given up: abandon it. (Members'
  -- transactions changing participants hold its row in share mode: lock it without queueing.)
  PERFORM outreach.lock_ahead_of_members(pg_catalog.format(
    'SELECT 1 FROM outreach.export e WHERE e.recipient = %L AND e.status = ''building'' FOR UPDATE NOWAIT', r.name));
  UPDATE outreach.export e SET status = 'abandoned', finished_at = clock_timestamp(),
         error = 'abandoned: a new export of the recipient began'
  WHERE e.recipient = r.name AND e.status = 'building';
  IF FOUND THEN
    DELETE FROM outreach.export_chunk s USING outreach.export e
    WHERE s.export_id = e.export_id AND e.recipient = r.name AND e.status = 'abandoned';
    DELETE FROM outreach.export_touch t USING outreach.export e
    WHERE t.export_id = e.export_id AND e.recipient = r.name AND e.status = 'abandoned';
  END IF;

  ay := outreach.academic_year(as_of);
  INSERT INTO outreach.export (recipient, layout_version, as_of, entry_year_from, entry_year_to, file_name, started_by)
  VALUES (r.name, r.export_layout, as_of, ay + r.cohort_from, ay + r.cohort_to, '', outreach.invoking_role()::text)
  RETURNING export.export_id INTO new_id;
  fname := outreach.export_file_name(r.file_pattern, r.name, as_of, new_id);
  IF r.pgp_public_key IS NOT NULL THEN
    fname := fname || '.gpg';  -- the daemon encrypts it to the recipient's OpenPGP key
  END IF;

  -- No participant changes between the staging snapshot and this transaction's commit: the
  -- lock waits for members' transactions in progress (their changes are then staged) and holds
  -- new ones until the export is visible to their triggers (which record them in export_touch).
  PERFORM outreach.lock_ahead_of_members('LOCK TABLE outreach.participant IN SHARE MODE NOWAIT');

  -- Stage the blocks (the eligible participants whose record changed or was never sent).
  INSERT INTO outreach.export_chunk
  SELECT * FROM outreach.export_stage_blocks(new_id, r.name, r.export_layout, as_of);
  SELECT coalesce(sum(cardinality(s.participant_ids)), 0) INTO n FROM outreach.export_chunk s WHERE s.export_id = new_id;

  UPDATE outreach.export e SET file_name = fname, row_count = n WHERE e.export_id = new_id;
  RETURN QUERY SELECT new_id, fname, r.export_layout, n, r.pgp_public_key;
END
$$;

-- As in 0.5.0, with the export's row locked by lock_ahead_of_members.
CREATE OR REPLACE FUNCTION outreach.export_finish(export_id bigint, sha256 text, row_count bigint) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
  e outreach.export;
  n bigint;
  f int;
  m jsonb;
BEGIN
  -- Waits for members' transactions that are changing staged participants (they lock the
  -- building exports in share mode), so every change is either seen below or sees the ledger.
  PERFORM outreach.lock_ahead_of_members(
    pg_catalog.format('SELECT 1 FROM outreach.export x WHERE x.export_id = %s FOR UPDATE NOWAIT', export_id));
  SELECT * INTO e FROM outreach.export x WHERE x.export_id = export_finish.export_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown export %', export_id USING ERRCODE = '42704';
  END IF;
  IF e.status = 'finished' AND e.sha256 = export_finish.sha256 AND e.row_count = export_finish.row_count THEN
    RETURN e.manifest;  -- a repeated call (the first one's reply was lost): same answer
  END IF;
  IF e.status = 'finished' THEN
    RAISE EXCEPTION 'export % is finished already, with another checksum or row count', export_id USING ERRCODE = '55000';
  ELSIF e.status <> 'building' THEN
    RAISE EXCEPTION 'export % was abandoned and cannot be finished', export_id USING ERRCODE = '55000',
      HINT = 'Begin a new export.';
  END IF;
  IF sha256 IS NULL OR sha256 !~ '^[0-9a-f]{64}$' THEN
    RAISE EXCEPTION 'sha256 must be 64 lower-case hexadecimal digits' USING ERRCODE = '22023';
  END IF;
  IF row_count IS DISTINCT FROM e.row_count THEN
    RAISE EXCEPTION 'export % staged % rows, not %', export_id, e.row_count, coalesce(row_count::text, 'NULL')
      USING ERRCODE = '22023', HINT = 'The file must hold every staged row (the header not counted).';
  END IF;

  -- The ledger: the staged blocks as they are, without the records themselves.
  WITH ledger AS (
    INSERT INTO outreach.disclosure_block (controller_id, block, export_id, recipient, participant_ids, cohort_years,
                                           participant_references, content_hashes)
    SELECT s.controller_id, s.block, s.export_id, e.recipient, s.participant_ids, s.cohort_years,
           s.participant_references, s.content_hashes
    FROM outreach.export_chunk s WHERE s.export_id = e.export_id
    RETURNING cardinality(participant_ids) AS n
  )
  SELECT coalesce(sum(ledger.n), 0) INTO n FROM ledger;
  IF n <> e.row_count THEN
    RAISE EXCEPTION 'export % lost its staged rows (% of %): the server restarted while it was built', export_id, n, e.row_count
      USING ERRCODE = '55000', HINT = 'Begin the export again (that abandons this one).';
  END IF;

  f := outreach.export_changed_since_staging(e.export_id);
  m := jsonb_build_object('recipient', e.recipient, 'layout_version', e.layout_version, 'created_at', e.started_at,
                          'row_count', e.row_count, 'sha256', sha256, 'file', e.file_name);
  UPDATE outreach.export x SET status = 'finished', finished_at = clock_timestamp(), sha256 = export_finish.sha256,
         manifest = m, followups = f
  WHERE x.export_id = e.export_id;
  PERFORM outreach.export_clear_staging(e.export_id);
  IF f > 0 THEN
    PERFORM outreach.recipient_followup_dispatch();
  END IF;
  RETURN m;
END
$$;
