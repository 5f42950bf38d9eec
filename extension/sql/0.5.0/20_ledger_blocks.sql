-- The disclosure ledger in blocks. 0.4.0 kept one row per participant per export (with a
-- primary-key index): writing a million of them was 1.7 s, most of an export's cost beyond
-- computing the records. Now one row holds, for one member, one export and one block of 4096
-- participant ids (participant_id >> 12), the participants sent in ascending order with their
-- cohort, reference and content hash, as parallel arrays. An export writes a few hundred rows
-- (copied from its staging blocks), and a participant's disclosures are found through the
-- primary key (controller, block) and a search of that block's ids.
-- outreach.disclosure keeps 0.4.0's columns as a view, for DPOs, BI tools and scripts.

CREATE TABLE outreach.disclosure_block (
  controller_id int NOT NULL,
  block int NOT NULL,                                -- participant_id >> 12 of every participant in it
  export_id bigint NOT NULL,
  recipient text COLLATE "C" NOT NULL,
  participant_ids bigint[] NOT NULL,                 -- ascending
  cohort_years int[] NOT NULL,                       -- the rest: the same positions as participant_ids
  participant_references text[] COLLATE "C" NOT NULL,
  content_hashes bigint[] NOT NULL,
  PRIMARY KEY (controller_id, block, export_id),
  CHECK (cardinality(participant_ids) BETWEEN 1 AND 4096
         AND cardinality(cohort_years) = cardinality(participant_ids)
         AND cardinality(participant_references) = cardinality(participant_ids)
         AND cardinality(content_hashes) = cardinality(participant_ids))
);
-- References are random and ids dense: compression would cost time and save little.
ALTER TABLE outreach.disclosure_block ALTER participant_ids SET STORAGE EXTERNAL,
  ALTER cohort_years SET STORAGE EXTERNAL, ALTER participant_references SET STORAGE EXTERNAL,
  ALTER content_hashes SET STORAGE EXTERNAL;
CREATE INDEX disclosure_block_recipient_idx ON outreach.disclosure_block (recipient, export_id);
COMMENT ON TABLE outreach.disclosure_block IS
  'the disclosure ledger: per member, export and block of participant ids, who was sent (under which reference, with which content hash)';
SELECT pg_catalog.pg_extension_config_dump('outreach.disclosure_block', '');

INSERT INTO outreach.disclosure_block (controller_id, block, export_id, recipient, participant_ids, cohort_years,
                                       participant_references, content_hashes)
SELECT d.controller_id, (d.participant_id >> 12)::int, d.export_id, d.recipient,
       array_agg(d.participant_id ORDER BY d.participant_id), array_agg(d.cohort_year ORDER BY d.participant_id),
       array_agg(d.reference ORDER BY d.participant_id), array_agg(d.content_hash ORDER BY d.participant_id)
FROM outreach.disclosure d
GROUP BY d.controller_id, (d.participant_id >> 12)::int, d.export_id, d.recipient;

ALTER TABLE outreach.disclosure_block ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.disclosure_block FORCE ROW LEVEL SECURITY;
CREATE POLICY disclosure_block_dpo_read ON outreach.disclosure_block FOR SELECT
  USING (outreach.controller_visible(controller_id, 'dpo'));
REVOKE ALL ON outreach.disclosure_block FROM PUBLIC;
GRANT SELECT ON outreach.disclosure_block TO outreach_dpo;

DROP VIEW outreach.participant_disclosures;
DROP VIEW outreach.progression_summary;
-- (out of the extension first, which also removes it from the tables pg_dump copies)
ALTER EXTENSION outreach DROP TABLE outreach.disclosure;
DROP TABLE outreach.disclosure;

-- The ledger a row per participant per export, as 0.4.0 stored it (the caller's row security
-- applies: a DPO sees their members' rows).
CREATE VIEW outreach.disclosure WITH (security_invoker = true) AS
SELECT b.controller_id, u.participant_id, b.recipient, b.export_id, u.cohort_year, u.reference, u.content_hash
FROM outreach.disclosure_block b
CROSS JOIN LATERAL unnest(b.participant_ids, b.cohort_years, b.participant_references, b.content_hashes)
  AS u(participant_id, cohort_year, reference, content_hash);
COMMENT ON VIEW outreach.disclosure IS
  'the disclosure ledger a row per participant and export: which participant was sent to which recipient in which export, under which reference';
REVOKE ALL ON outreach.disclosure FROM PUBLIC;
GRANT SELECT ON outreach.disclosure TO outreach_dpo;

-- As in 0.4.0, reading the blocks (with the views' owner's rights, as they read the table
-- before; each filters by the caller's own access).
CREATE VIEW outreach.participant_disclosures WITH (security_barrier = true) AS
SELECT d.controller_id, d.participant_id, d.recipient, r.title AS recipient_title, d.export_id,
       e.finished_at AS exported_at, e.file_name, d.reference, d.cohort_year AS entry_year
FROM (SELECT b.controller_id, u.participant_id, b.recipient, b.export_id, u.cohort_year, u.reference
      FROM outreach.disclosure_block b
      CROSS JOIN LATERAL unnest(b.participant_ids, b.cohort_years, b.participant_references)
        AS u(participant_id, cohort_year, reference)) AS d
JOIN outreach.export e ON e.export_id = d.export_id
LEFT JOIN outreach.recipient r ON r.name = d.recipient
WHERE outreach.controller_visible(d.controller_id, 'dpo');
COMMENT ON VIEW outreach.participant_disclosures IS
  'for the DPO''s participants: every export that sent them, to whom, when, and under which reference';
REVOKE ALL ON outreach.participant_disclosures FROM PUBLIC;
GRANT SELECT ON outreach.participant_disclosures TO outreach_dpo;

CREATE VIEW outreach.progression_summary WITH (security_barrier = true) AS
WITH sent AS (
  SELECT d.controller_id, d.recipient, count(DISTINCT u.participant_id) AS participants_sent
  FROM outreach.disclosure_block d
  CROSS JOIN LATERAL unnest(d.participant_ids) AS u(participant_id)
  WHERE outreach.controller_visible(d.controller_id, 'analyst')
  GROUP BY d.controller_id, d.recipient
)
SELECT o.controller_id, c.code AS controller_code, o.recipient, o.outcome, o.academic_year, o.measure,
       count(DISTINCT o.participant_id) AS participants,
       s.participants_sent,
       round(avg(CASE WHEN o.value ~ '^\s*-?[0-9]{1,9}(\.[0-9]{1,6})?\s*$' THEN o.value::numeric END), 2) AS mean_value
FROM outreach.outcome o
JOIN outreach.controller c ON c.controller_id = o.controller_id
LEFT JOIN sent s ON s.controller_id = o.controller_id AND s.recipient = o.recipient
WHERE outreach.controller_visible(o.controller_id, 'analyst')
GROUP BY o.controller_id, c.code, o.recipient, o.outcome, o.academic_year, o.measure, s.participants_sent;
COMMENT ON VIEW outreach.progression_summary IS
  'per member: participants with each outcome (recipient, kind, year, measure), the numeric mean, and how many were sent';
REVOKE ALL ON outreach.progression_summary FROM PUBLIC;
GRANT SELECT ON outreach.progression_summary TO outreach_reader, outreach_analyst, outreach_processor;

-- Art. 19 triggers, reading the blocks: a row trigger looks in the participant's own block of
-- each export; the deletion trigger reads each block its statement touched once.
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
    CASE WHEN lower(btrim(NEW.sex)) IS DISTINCT FROM lower(btrim(OLD.sex)) THEN 'sex' END,
    CASE WHEN NEW.institution_id IS DISTINCT FROM OLD.institution_id THEN 'school_urn' END,
    CASE WHEN NEW.institution_id IS DISTINCT FROM OLD.institution_id THEN 'school_ukprn' END,
    CASE WHEN NEW.upn IS DISTINCT FROM OLD.upn THEN 'upn' END,
    CASE WHEN NEW.uln IS DISTINCT FROM OLD.uln THEN 'uln' END], NULL);
  restricted boolean := NEW.restricted_at IS NOT NULL AND OLD.restricted_at IS NULL;
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
  )
  INSERT INTO outreach.recipient_followup (controller_id, participant_id, recipient, kind, reference, export_id, fields)
  SELECT NEW.controller_id, NEW.participant_id, s.recipient, 'rectification', s.reference, s.export_id, h.headers
  FROM sent s
  JOIN outreach.export e ON e.export_id = s.export_id
  CROSS JOIN LATERAL (SELECT array_agg(lc.header ORDER BY lc.position) AS headers
                      FROM outreach.recipient_layout_column lc
                      WHERE lc.recipient = s.recipient AND lc.kind = 'export' AND lc.version = e.layout_version
                        AND lc.field = ANY (changed)) AS h
  WHERE h.headers IS NOT NULL
  UNION ALL
  SELECT NEW.controller_id, NEW.participant_id, s.recipient, 'restriction', s.reference, s.export_id, NULL
  FROM sent s WHERE restricted;
  RETURN NULL;
END
$$;

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
  DELETE FROM outreach.outcome o USING old_rows d
  WHERE o.controller_id = d.controller_id AND o.participant_id = d.participant_id;
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
