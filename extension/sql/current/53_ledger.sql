-- The disclosure ledger: who was sent to which recipient, in which export, under which
-- reference. Written by export_finish.

-- In blocks: one row holds, for one member, one export and one block of 4096 participant ids
-- (participant_id >> 12), the participants sent in ascending order with their cohort, reference
-- and content hash, as parallel arrays. One row per participant per export (with a primary-key
-- index) took 1.7 s to write for a million, most of an export's cost beyond computing the
-- records; an export writes a few hundred rows (copied from its staging blocks), and a
-- participant's disclosures are found through the primary key (controller, block) and a search
-- of that block's ids. The view outreach.disclosure shows a row per participant per export, for
-- DPOs, BI tools and scripts.

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

ALTER TABLE outreach.disclosure_block ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.disclosure_block FORCE ROW LEVEL SECURITY;
CREATE POLICY disclosure_block_dpo_read ON outreach.disclosure_block FOR SELECT
  USING (outreach.controller_visible(controller_id, 'dpo'));
REVOKE ALL ON outreach.disclosure_block FROM PUBLIC;
GRANT SELECT ON outreach.disclosure_block TO outreach_dpo;

-- The ledger a row per participant per export (the caller's row security applies: a DPO sees
-- their members' rows).
CREATE OR REPLACE VIEW outreach.disclosure WITH (security_invoker = true) AS
SELECT b.controller_id, u.participant_id, b.recipient, b.export_id, u.cohort_year, u.reference, u.content_hash
FROM outreach.disclosure_block b
CROSS JOIN LATERAL unnest(b.participant_ids, b.cohort_years, b.participant_references, b.content_hashes)
  AS u(participant_id, cohort_year, reference, content_hash);
COMMENT ON VIEW outreach.disclosure IS
  'the disclosure ledger a row per participant and export: which participant was sent to which recipient in which export, under which reference';
REVOKE ALL ON outreach.disclosure FROM PUBLIC;
GRANT SELECT ON outreach.disclosure TO outreach_dpo;
-- The ledger's blocks stay in their row up to 8160 bytes (a block of a few dozen participants):
-- out of line, reading a recipient's references back for an import was a TOAST fetch per block.
ALTER TABLE outreach.disclosure_block SET (toast_tuple_target = 8160);
