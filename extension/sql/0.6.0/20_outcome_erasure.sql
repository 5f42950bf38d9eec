-- A participant's deletion (erasure, retention) deletes their outcomes: each block of the
-- deleted participants is rewritten once per statement without their facts, or deleted when
-- nothing else is left in it. Otherwise as in 0.5.0.
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
  PERFORM pg_advisory_xact_lock_shared(outreach.outcome_lock_key(), 1);
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
