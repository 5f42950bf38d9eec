-- Art. 19 follow-ups: when a participant sent to a recipient is rectified, restricted or
-- erased, the recipient must be told; the member is notified in batches. Also the views of what
-- was disclosed (participant_disclosures); what came back is reported in 63_outcome_reports.sql.

-- Reads the ledger's blocks with the view owner's rights, filtered by the caller's own access.
CREATE OR REPLACE VIEW outreach.participant_disclosures WITH (security_barrier = true) AS
SELECT d.controller_id, d.participant_id, d.recipient, r.title AS recipient_title, d.export_id,
       e.finished_at AS exported_at, e.file_name, d.reference, d.cohort_year AS entry_year
FROM (SELECT b.controller_id, u.participant_id, b.recipient, b.export_id, u.cohort_year, u.reference
      FROM outreach.disclosure_block b
      CROSS JOIN LATERAL unnest(b.participant_ids, b.cohort_years, b.participant_references)
        AS u(participant_id, cohort_year, reference)) AS d
JOIN outreach.export e ON e.export_id = d.export_id
LEFT JOIN outreach.recipient r ON r.name = d.recipient
WHERE outreach.controller_visible(d.controller_id, 'dpo');
REVOKE ALL ON outreach.participant_disclosures FROM PUBLIC;
GRANT SELECT ON outreach.participant_disclosures TO outreach_dpo;
COMMENT ON VIEW outreach.participant_disclosures IS
  'for the DPO''s participants: every export that sent them, to whom, when, and under which reference';

CREATE TABLE outreach.recipient_followup (
  controller_id int NOT NULL,
  followup_id bigint GENERATED ALWAYS AS IDENTITY,
  participant_id bigint NOT NULL,
  recipient text COLLATE "C" NOT NULL,
  kind text COLLATE "C" NOT NULL
    CONSTRAINT recipient_followup_kind_check CHECK (kind IN ('rectification', 'erasure', 'restriction', 'withdrawal')),
  reference text COLLATE "C" NOT NULL,             -- what the recipient knows the record by
  export_id bigint NOT NULL,                       -- the latest export that sent it
  fields text[],                                   -- rectification: the recipient's headers of the changed fields
  queued_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  batch_id bigint,                                 -- the notice it went out in
  carried_by bigint,                               -- the export whose file told the recipient (record_action)
  cancelled_at timestamptz,                        -- the restriction lifted or the person reinstated before a file told it
  PRIMARY KEY (controller_id, followup_id)
);
CREATE INDEX recipient_followup_pending_idx ON outreach.recipient_followup (controller_id, recipient, followup_id)
  WHERE batch_id IS NULL;
CREATE INDEX recipient_followup_participant_idx ON outreach.recipient_followup (controller_id, participant_id);
COMMENT ON TABLE outreach.recipient_followup IS
  'Art. 19 follow-ups: a participant sent to a recipient was rectified, restricted, withdrew or was erased; the recipient must be told';

CREATE TABLE outreach.recipient_followup_batch (
  controller_id int NOT NULL,
  batch_id bigint GENERATED ALWAYS AS IDENTITY,
  recipient text COLLATE "C" NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  items int NOT NULL,
  rectifications int NOT NULL,
  erasures int NOT NULL,
  restrictions int NOT NULL,
  deliveries int NOT NULL DEFAULT 0,               -- messages queued (one per channel of the member)
  withdrawals int NOT NULL DEFAULT 0,
  PRIMARY KEY (controller_id, batch_id)
);
COMMENT ON TABLE outreach.recipient_followup_batch IS
  'notices of follow-ups: one per member, recipient and statement (at most 1000 follow-ups each)';

SELECT pg_catalog.pg_extension_config_dump('outreach.recipient_followup', '');
SELECT pg_catalog.pg_extension_config_dump('outreach.recipient_followup_batch', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.recipient_followup', 'followup_id')::pg_catalog.regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.recipient_followup_batch', 'batch_id')::pg_catalog.regclass, '');

ALTER TABLE outreach.recipient_followup ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.recipient_followup FORCE ROW LEVEL SECURITY;
CREATE POLICY recipient_followup_dpo_read ON outreach.recipient_followup FOR SELECT
  USING (outreach.controller_visible(controller_id, 'dpo'));
ALTER TABLE outreach.recipient_followup_batch ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.recipient_followup_batch FORCE ROW LEVEL SECURITY;
CREATE POLICY recipient_followup_batch_dpo_read ON outreach.recipient_followup_batch FOR SELECT
  USING (outreach.controller_visible(controller_id, 'dpo'));
REVOKE ALL ON outreach.recipient_followup, outreach.recipient_followup_batch FROM PUBLIC;
GRANT SELECT ON outreach.recipient_followup, outreach.recipient_followup_batch TO outreach_dpo;

-- Groups the pending follow-ups (those this transaction queued, and any left behind) per
-- member and recipient into batches of at most max_items, and queues one notice per batch to
-- the member's channels. Returns the number of batches.
CREATE OR REPLACE FUNCTION outreach.recipient_followup_dispatch(max_items int DEFAULT 1000) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
  g record;
  b bigint;
  body jsonb;
  n int := 0;
  sent int;
BEGIN
  IF max_items IS NULL OR max_items NOT BETWEEN 1 AND 100000 THEN
    RAISE EXCEPTION 'max_items must be between 1 and 100000' USING ERRCODE = '22023';
  END IF;
  FOR g IN
    WITH pending AS (
      SELECT f.controller_id, f.followup_id, f.recipient FROM outreach.recipient_followup f
      WHERE f.batch_id IS NULL
      ORDER BY f.controller_id, f.recipient, f.followup_id
      FOR UPDATE SKIP LOCKED
    )
    SELECT p.controller_id, p.recipient, array_agg(p.followup_id ORDER BY p.followup_id) AS ids
    FROM (SELECT pending.*, (row_number() OVER (PARTITION BY controller_id, recipient ORDER BY followup_id) - 1)
                              / max_items AS chunk
          FROM pending) AS p
    GROUP BY p.controller_id, p.recipient, p.chunk
    ORDER BY p.controller_id, p.recipient, p.chunk
  LOOP
    INSERT INTO outreach.recipient_followup_batch (controller_id, recipient, items, rectifications, erasures, restrictions,
                                                   withdrawals)
    SELECT g.controller_id, g.recipient, count(*), count(*) FILTER (WHERE f.kind = 'rectification'),
           count(*) FILTER (WHERE f.kind = 'erasure'), count(*) FILTER (WHERE f.kind = 'restriction'),
           count(*) FILTER (WHERE f.kind = 'withdrawal')
    FROM outreach.recipient_followup f
    WHERE f.controller_id = g.controller_id AND f.followup_id = ANY (g.ids)
    RETURNING batch_id INTO b;
    UPDATE outreach.recipient_followup f SET batch_id = b
    WHERE f.controller_id = g.controller_id AND f.followup_id = ANY (g.ids);

    SELECT jsonb_build_object(
             'type', 'recipient_followup', 'batch_id', b, 'controller', c.code,
             'recipient', g.recipient, 'recipient_title', (SELECT r.title FROM outreach.recipient r WHERE r.name = g.recipient),
             -- whether its next export will carry the erasures, withdrawals and restrictions
             'in_next_file', EXISTS (SELECT 1 FROM outreach.recipient r
                                     JOIN outreach.recipient_layout_column lc ON lc.recipient = r.name AND lc.kind = 'export'
                                                                              AND lc.version = r.export_layout
                                     WHERE r.name = g.recipient AND r.enabled AND lc.field = 'record_action')
                             AND (outreach.agreement_in_force(g.recipient)).agreement_id IS NOT NULL,
             'counts', jsonb_build_object('rectification', fb.rectifications, 'erasure', fb.erasures,
                                          'restriction', fb.restrictions, 'withdrawal', fb.withdrawals),
             'items', (SELECT jsonb_agg(jsonb_build_object('reference', f.reference, 'participant_id', f.participant_id,
                                                           'kind', f.kind, 'fields', f.fields, 'export_id', f.export_id,
                                                           'exported_at', e.finished_at)
                                        ORDER BY f.followup_id)
                       FROM outreach.recipient_followup f LEFT JOIN outreach.export e ON e.export_id = f.export_id
                       WHERE f.controller_id = g.controller_id AND f.batch_id = b))
      INTO body
    FROM outreach.controller c, outreach.recipient_followup_batch fb
    WHERE c.controller_id = g.controller_id AND fb.controller_id = g.controller_id AND fb.batch_id = b;

    sent := outreach.enqueue_delivery(
      g.controller_id, 'recipient_followup', format('outreach-followup-%s', b), body,
      format('Linkage follow-up: %s records sent to %s changed', cardinality(g.ids), body ->> 'recipient_title'),
      format(E'%s participant records of your organisation that were sent to %s (%s) have since been '
             'rectified (%s), erased (%s), restricted (%s) or withdrawn (%s).\n'
             'UK GDPR Art. 19: the recipient must be told. Rectified records go to it again with the next export;\n'
             || CASE WHEN (body ->> 'in_next_file')::boolean
                     THEN E'erasures, withdrawals and restrictions go in its next file too (its layout has a record_action column).\n'
                     ELSE E'erasures, withdrawals and restrictions must be passed on with the references listed (its layout has\n'
                          'no record_action column, or it has no sharing agreement in force, so no file goes to it now).\n' END
             || E'The list is in outreach.recipient_followup (batch %s) for your data-protection officer.\n',
             cardinality(g.ids), body ->> 'recipient_title', g.recipient, body #>> '{counts,rectification}',
             body #>> '{counts,erasure}', body #>> '{counts,restriction}', body #>> '{counts,withdrawal}', b));
    UPDATE outreach.recipient_followup_batch fb SET deliveries = coalesce(sent, 0)
    WHERE fb.controller_id = g.controller_id AND fb.batch_id = b;
    n := n + 1;
  END LOOP;
  RETURN n;
END
$$;
COMMENT ON FUNCTION outreach.recipient_followup_dispatch(int) IS
  'batches pending Art. 19 follow-ups per member and recipient and queues a notice for each batch; returns the number of batches';

-----------------------------------------------------------------------------------------------
-- Art. 19 follow-ups and sex. recipient_followup_update does not look at sex: a WHEN clause
-- comparing it, and its EXPLAIN ANALYZE "calls", would tell a writer whether sex changed.
-- recipient_followup_sex fires for every row of an UPDATE whose SET list has sex, before it
-- (row triggers fire in name order), and queues the follow-up with sex among the fields. When
-- both fire for a row, the second queues nothing already pending from this statement, so a
-- recipient is told once.
-----------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION outreach.participant_followup_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  changed text[] := array_remove(ARRAY[
    CASE WHEN btrim(NEW.first_name) IS DISTINCT FROM btrim(OLD.first_name) THEN 'forename' END,
    CASE WHEN btrim(NEW.last_name) IS DISTINCT FROM btrim(OLD.last_name) THEN 'surname' END,
    CASE WHEN NEW.date_of_birth IS DISTINCT FROM OLD.date_of_birth THEN 'date_of_birth' END,
    CASE WHEN NEW.date_of_birth IS DISTINCT FROM OLD.date_of_birth
           OR NEW.he_entry_year_override IS DISTINCT FROM OLD.he_entry_year_override THEN 'entry_year' END,
    CASE WHEN NEW.date_of_birth IS DISTINCT FROM OLD.date_of_birth
           OR NEW.he_entry_year_override IS DISTINCT FROM OLD.he_entry_year_override THEN 'extend_link_by' END,
    CASE WHEN NEW.postcode::text IS DISTINCT FROM OLD.postcode::text THEN 'postcode' END,
    -- sex: written by this statement (the recipient_followup_sex trigger), never compared
    CASE WHEN TG_NARGS > 0 AND TG_ARGV[0] = 'sex' THEN 'sex' END,
    CASE WHEN NEW.institution_id IS DISTINCT FROM OLD.institution_id THEN 'school_urn' END,
    CASE WHEN NEW.institution_id IS DISTINCT FROM OLD.institution_id THEN 'school_ukprn' END,
    CASE WHEN NEW.upn IS DISTINCT FROM OLD.upn THEN 'upn' END,
    CASE WHEN NEW.uln IS DISTINCT FROM OLD.uln THEN 'uln' END], NULL);
  restricted boolean := NEW.restricted_at IS NOT NULL AND OLD.restricted_at IS NULL;
  withdrawn boolean := NEW.withdrawn_at IS NOT NULL AND OLD.withdrawn_at IS NULL;
BEGIN
  -- A change to a participant staged in an export being finished: export_finish waits for this
  -- transaction (and then compares what it staged), or this statement waits for it (and then
  -- sees the ledger rows).
  -- (recorded for each building export, whose row this locks in share mode)
  INSERT INTO outreach.export_touch (export_id, controller_id, participant_id)
  SELECT e.export_id, NEW.controller_id, NEW.participant_id FROM outreach.export e WHERE e.status = 'building'
  FOR SHARE OF e
  ON CONFLICT DO NOTHING;
  WITH sent AS (
    -- the latest export to each recipient that sent them
    SELECT DISTINCT ON (b.recipient) b.recipient, b.export_id, b.participant_references[k.i] AS reference
    FROM outreach.disclosure_block b
    CROSS JOIN LATERAL (SELECT array_position(b.participant_ids, NEW.participant_id) AS i) AS k
    WHERE b.controller_id = NEW.controller_id AND b.block = (NEW.participant_id >> 12)::int AND k.i IS NOT NULL
    ORDER BY b.recipient, b.export_id DESC
  ), queued AS (
    SELECT NEW.controller_id, NEW.participant_id, s.recipient, 'rectification' AS kind, s.reference, s.export_id, h.headers
    FROM sent s
    JOIN outreach.export e ON e.export_id = s.export_id
    CROSS JOIN LATERAL (SELECT array_agg(lc.header ORDER BY lc.position) AS headers
                        FROM outreach.recipient_layout_column lc
                        WHERE lc.recipient = s.recipient AND lc.kind = 'export' AND lc.version = e.layout_version
                          AND lc.field = ANY (changed)) AS h
    WHERE h.headers IS NOT NULL
    UNION ALL
    SELECT NEW.controller_id, NEW.participant_id, s.recipient, 'restriction', s.reference, s.export_id, NULL
    FROM sent s WHERE restricted
    UNION ALL
    SELECT NEW.controller_id, NEW.participant_id, s.recipient, 'withdrawal', s.reference, s.export_id, NULL
    FROM sent s WHERE withdrawn
  )
  INSERT INTO outreach.recipient_followup (controller_id, participant_id, recipient, kind, reference, export_id, fields)
  SELECT q.* FROM queued q
  WHERE NOT EXISTS (SELECT 1 FROM outreach.recipient_followup f
                    WHERE f.controller_id = NEW.controller_id AND f.participant_id = NEW.participant_id
                      AND f.recipient = q.recipient AND f.kind = q.kind AND f.batch_id IS NULL
                      AND f.queued_at >= statement_timestamp());
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION outreach.participant_followup_update() IS
  'trigger: queues Art. 19 follow-ups when fields a recipient received change (sex: is written), processing is restricted or the person withdraws';

CREATE OR REPLACE FUNCTION outreach.participant_followup_flush() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM outreach.recipient_followup f WHERE f.batch_id IS NULL) THEN
    PERFORM outreach.recipient_followup_dispatch();
  END IF;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION outreach.participant_followup_flush() IS
  'trigger: sends the follow-ups a statement queued, batched per member and recipient';

-- Deletions wait for an outcome import only through their own member's row of
-- outreach.outcome_lock (FOR SHARE), so deletions of any members run side by side.
CREATE OR REPLACE FUNCTION outreach.participant_followup_delete() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n int;
BEGIN
  -- (recorded for each building export, whose row this locks in share mode)
  INSERT INTO outreach.export_touch (export_id, controller_id, participant_id)
  SELECT e.export_id, o.controller_id, o.participant_id FROM outreach.export e, old_rows o WHERE e.status = 'building'
  FOR SHARE OF e
  ON CONFLICT DO NOTHING;
  -- An outcome import in progress finishes first (it may be storing outcomes of these people).
  PERFORM 1 FROM outreach.outcome_lock l WHERE l.controller_id IN (SELECT DISTINCT o.controller_id FROM old_rows o)
  ORDER BY l.controller_id FOR SHARE;
  WITH gone AS (
    SELECT r.controller_id, (r.participant_id >> 16)::int AS block, array_agg(r.participant_id) AS ids
    FROM old_rows r GROUP BY r.controller_id, (r.participant_id >> 16)::int
  ), emptied AS (
    DELETE FROM outreach.outcome_block b USING gone g
    WHERE b.controller_id = g.controller_id AND b.block = g.block AND b.participant_ids <@ g.ids
    RETURNING b.controller_id, b.recipient, b.block
  )
  UPDATE outreach.outcome_block b
  SET (participant_ids, outcomes, academic_years, measures, provider_ukprns, provider_names, outcome_values,
       import_ids, line_nos, updated_ats) =
      (SELECT array_agg(u.participant_id ORDER BY u.k), array_agg(u.outcome ORDER BY u.k),
              array_agg(u.academic_year ORDER BY u.k), array_agg(u.measure ORDER BY u.k),
              array_agg(u.provider_ukprn ORDER BY u.k), array_agg(u.provider_name ORDER BY u.k),
              array_agg(u.value ORDER BY u.k), array_agg(u.import_id ORDER BY u.k),
              array_agg(u.line_no ORDER BY u.k), array_agg(u.updated_at ORDER BY u.k)
       FROM unnest(b.participant_ids, b.outcomes, b.academic_years, b.measures, b.provider_ukprns, b.provider_names,
                   b.outcome_values, b.import_ids, b.line_nos, b.updated_ats) WITH ORDINALITY
         AS u(participant_id, outcome, academic_year, measure, provider_ukprn, provider_name, value, import_id,
              line_no, updated_at, k)
       WHERE u.participant_id <> ALL (g.ids))
  FROM gone g
  WHERE b.controller_id = g.controller_id AND b.block = g.block AND b.participant_ids && g.ids
    AND NOT b.participant_ids <@ g.ids;
  INSERT INTO outreach.recipient_followup (controller_id, participant_id, recipient, kind, reference, export_id)
  SELECT DISTINCT ON (o.controller_id, o.participant_id, b.recipient)
         o.controller_id, o.participant_id, b.recipient, 'erasure', u.reference, b.export_id
  FROM (SELECT DISTINCT r.controller_id, (r.participant_id >> 12)::int AS block FROM old_rows r) AS t
  JOIN outreach.disclosure_block b ON b.controller_id = t.controller_id AND b.block = t.block
  CROSS JOIN LATERAL unnest(b.participant_ids, b.participant_references) AS u(participant_id, reference)
  JOIN old_rows o ON o.controller_id = b.controller_id AND o.participant_id = u.participant_id
  ORDER BY o.controller_id, o.participant_id, b.recipient, b.export_id DESC;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n > 0 THEN
    PERFORM outreach.recipient_followup_dispatch();
  END IF;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION outreach.participant_followup_delete() IS
  'trigger: deletes a deleted participant''s outcomes and queues an Art. 19 follow-up for every recipient that received them';
CREATE OR REPLACE TRIGGER recipient_followup_update
  AFTER UPDATE OF first_name, last_name, date_of_birth, postcode, institution_id, upn, uln,
                  he_entry_year_override, restricted_at, withdrawn_at ON outreach.participant
  FOR EACH ROW
  WHEN (btrim(NEW.first_name) IS DISTINCT FROM btrim(OLD.first_name)
        OR btrim(NEW.last_name) IS DISTINCT FROM btrim(OLD.last_name)
        OR NEW.date_of_birth IS DISTINCT FROM OLD.date_of_birth
        OR NEW.postcode::text IS DISTINCT FROM OLD.postcode::text
        OR NEW.institution_id IS DISTINCT FROM OLD.institution_id
        OR NEW.upn IS DISTINCT FROM OLD.upn OR NEW.uln IS DISTINCT FROM OLD.uln
        OR NEW.he_entry_year_override IS DISTINCT FROM OLD.he_entry_year_override
        OR (NEW.restricted_at IS NOT NULL AND OLD.restricted_at IS NULL)
        OR (NEW.withdrawn_at IS NOT NULL AND OLD.withdrawn_at IS NULL))
  EXECUTE FUNCTION outreach.participant_followup_update();
CREATE OR REPLACE TRIGGER recipient_followup_sex AFTER UPDATE OF sex ON outreach.participant
  FOR EACH ROW EXECUTE FUNCTION outreach.participant_followup_update('sex');
CREATE OR REPLACE TRIGGER recipient_followup_update_flush
  AFTER UPDATE OF first_name, last_name, date_of_birth, postcode, sex, institution_id, upn, uln,
                  he_entry_year_override, restricted_at, withdrawn_at ON outreach.participant
  FOR EACH STATEMENT EXECUTE FUNCTION outreach.participant_followup_flush();
CREATE OR REPLACE TRIGGER recipient_followup_delete AFTER DELETE ON outreach.participant
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION outreach.participant_followup_delete();

REVOKE EXECUTE ON FUNCTION outreach.recipient_followup_dispatch(int), outreach.participant_followup_update(),
  outreach.participant_followup_flush(), outreach.participant_followup_delete() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.recipient_followup_dispatch(int) TO outreach_daemon;
