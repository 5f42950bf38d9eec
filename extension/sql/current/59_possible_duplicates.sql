-- Likely duplicates within a member: the same young person registered twice under a typo, a
-- nickname, day and month swapped, a changed surname or a new address (docs/matching.md).
-- find_possible_duplicates() computes each participant's match keys (keyed hashes of several
-- normalised combinations of name, date of birth and postcode: never stored), compares the
-- pairs that share one (core/duplicate_match), and keeps the likely ones in
-- outreach.possible_duplicate for the member to review. Exact matches on the linkage pseudonym
-- are not added by imports in the first place (58_member_import.sql). Matching across members
-- is not done here: shared_engagement matches on the exact pseudonym only.

CREATE OR REPLACE FUNCTION outreach.match_keys(controller_id int, first_name text, last_name text, date_of_birth date,
                                              postcode text, school int, upn text, uln text) RETURNS bigint[]
  AS 'MODULE_PATHNAME' LANGUAGE C STABLE;
COMMENT ON FUNCTION outreach.match_keys(int, text, text, date, text, int, text, text) IS
  'a participant''s name key and duplicate match keys: keyed hashes of normalised combinations of its identifiers (never stored)';
CREATE OR REPLACE FUNCTION outreach.match_reasons(first_a text, last_a text, dob_a date, postcode_a text, school_a int,
                                                 upn_a text, uln_a text,
                                                 first_b text, last_b text, dob_b date, postcode_b text, school_b int,
                                                 upn_b text, uln_b text,
                                                 namesakes_a bigint, namesakes_b bigint) RETURNS text[]
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE;
COMMENT ON FUNCTION outreach.match_reasons(text, text, date, text, int, text, text, text, text, date, text, int, text, text, bigint, bigint) IS
  'why two participants are likely the same person (NULL: they are not)';
REVOKE EXECUTE ON FUNCTION outreach.match_keys(int, text, text, date, text, int, text, text),
  outreach.match_reasons(text, text, date, text, int, text, text, text, text, date, text, int, text, text, bigint, bigint) FROM PUBLIC;

CREATE TABLE outreach.possible_duplicate (
  controller_id int NOT NULL,
  participant_id bigint NOT NULL,
  other_participant_id bigint NOT NULL,
  reasons text[] NOT NULL,
  found_at timestamptz NOT NULL DEFAULT now(),
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'dismissed')),
  decided_at timestamptz,
  decided_by name,
  PRIMARY KEY (controller_id, participant_id, other_participant_id),
  CHECK (participant_id < other_participant_id),
  CHECK ((status = 'open') = (decided_at IS NULL)),
  FOREIGN KEY (controller_id, participant_id) REFERENCES outreach.participant ON DELETE CASCADE,
  FOREIGN KEY (controller_id, other_participant_id) REFERENCES outreach.participant ON DELETE CASCADE
);
CREATE INDEX possible_duplicate_other_idx ON outreach.possible_duplicate (controller_id, other_participant_id);
COMMENT ON TABLE outreach.possible_duplicate IS
  'pairs of a member''s participants that are likely the same person, with the reasons, for review (open or dismissed)';
SELECT pg_catalog.pg_extension_config_dump('outreach.possible_duplicate', '');
ALTER TABLE outreach.possible_duplicate ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.possible_duplicate FORCE ROW LEVEL SECURITY;
CREATE POLICY possible_duplicate_read ON outreach.possible_duplicate FOR SELECT
  USING (outreach.controller_visible(controller_id, 'reader'));
REVOKE ALL ON outreach.possible_duplicate FROM PUBLIC;
GRANT SELECT ON outreach.possible_duplicate TO outreach_reader, outreach_writer, outreach_dpo;

-- Finds the member's likely duplicates now: new pairs are added (open), open pairs whose data no
-- longer match are removed, dismissed pairs stay dismissed. Returns how many pairs are open
-- and how many of them are new. Writers and DPOs of the member.
CREATE OR REPLACE FUNCTION outreach.find_possible_duplicates(controller_id int)
RETURNS TABLE (open_pairs bigint, new_pairs bigint, compared_pairs bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET work_mem = '256MB'
AS $$
#variable_conflict use_column
DECLARE
  cid int := find_possible_duplicates.controller_id;
  compared bigint;
  added bigint;
BEGIN
  IF cid IS NULL OR NOT (cid = ANY (outreach.caller_controller_ids('writer')) OR cid = ANY (outreach.caller_controller_ids('dpo'))) THEN
    RAISE EXCEPTION 'permission denied: role "%" cannot look for duplicates of controller %',
                    outreach.invoking_role(), coalesce(cid::text, 'NULL') USING ERRCODE = '42501';
  END IF;
  -- (No lock of its own: two searches of a member at once compute the same pairs, and the
  -- writes below tolerate each other. An advisory key would be one any login could hold.)
  IF to_regclass('pg_temp.outreach_match_key') IS NOT NULL THEN
    DROP TABLE pg_temp.outreach_match_key;
  END IF;
  -- Each participant's keys ([1] is its name's, for counting namesakes).
  CREATE TEMP TABLE outreach_match_key ON COMMIT DROP AS
  SELECT p.participant_id, k.keys[1] AS name_key, unnest(k.keys[2:]) AS key
  FROM outreach.participant p
  CROSS JOIN LATERAL (SELECT outreach.match_keys(cid, p.first_name, p.last_name, p.date_of_birth, p.postcode::text,
                                                 p.institution_id, p.upn, p.uln) AS keys) AS k
  WHERE p.controller_id = cid AND k.keys IS NOT NULL;
  IF to_regclass('pg_temp.outreach_match_name') IS NOT NULL THEN
    DROP TABLE pg_temp.outreach_match_name;
  END IF;
  CREATE TEMP TABLE outreach_match_name ON COMMIT DROP AS
  SELECT n.participant_id, count(*) OVER (PARTITION BY n.name_key) AS namesakes
  FROM (SELECT DISTINCT k.participant_id, k.name_key FROM pg_temp.outreach_match_key k) AS n;
  -- Candidate pairs: sharing a key, in a group small enough to be a person's records (a key that
  -- 50 participants share says nothing about any two of them).
  IF to_regclass('pg_temp.outreach_match_pair') IS NOT NULL THEN
    DROP TABLE pg_temp.outreach_match_pair;
  END IF;
  CREATE TEMP TABLE outreach_match_pair ON COMMIT DROP AS
  SELECT DISTINCT x.a, y.b
  FROM (SELECT k.key, array_agg(k.participant_id) AS ids FROM pg_temp.outreach_match_key k
        GROUP BY k.key HAVING count(*) BETWEEN 2 AND 50) AS g
  CROSS JOIN LATERAL unnest(g.ids) AS x(a)
  CROSS JOIN LATERAL unnest(g.ids) AS y(b)
  WHERE x.a < y.b;
  GET DIAGNOSTICS compared = ROW_COUNT;
  IF to_regclass('pg_temp.outreach_match_found') IS NOT NULL THEN
    DROP TABLE pg_temp.outreach_match_found;
  END IF;
  CREATE TEMP TABLE outreach_match_found ON COMMIT DROP AS
  SELECT m.a, m.b, m.reasons
  FROM (SELECT c.a, c.b,
               outreach.match_reasons(pa.first_name, pa.last_name, pa.date_of_birth, pa.postcode::text, pa.institution_id,
                                      pa.upn, pa.uln,
                                      pb.first_name, pb.last_name, pb.date_of_birth, pb.postcode::text, pb.institution_id,
                                      pb.upn, pb.uln,
                                      na.namesakes, nb.namesakes) AS reasons
        FROM pg_temp.outreach_match_pair c
        JOIN outreach.participant pa ON pa.controller_id = cid AND pa.participant_id = c.a
        JOIN outreach.participant pb ON pb.controller_id = cid AND pb.participant_id = c.b
        JOIN pg_temp.outreach_match_name na ON na.participant_id = c.a
        JOIN pg_temp.outreach_match_name nb ON nb.participant_id = c.b) AS m
  WHERE m.reasons IS NOT NULL;

  DELETE FROM outreach.possible_duplicate d
  WHERE d.controller_id = cid AND d.status = 'open'
    AND NOT EXISTS (SELECT 1 FROM pg_temp.outreach_match_found f WHERE f.a = d.participant_id AND f.b = d.other_participant_id);
  UPDATE outreach.possible_duplicate d SET reasons = f.reasons
  FROM pg_temp.outreach_match_found f
  WHERE d.controller_id = cid AND d.participant_id = f.a AND d.other_participant_id = f.b AND d.status = 'open'
    AND d.reasons IS DISTINCT FROM f.reasons;
  INSERT INTO outreach.possible_duplicate (controller_id, participant_id, other_participant_id, reasons)
  SELECT cid, f.a, f.b, f.reasons FROM pg_temp.outreach_match_found f
  ON CONFLICT DO NOTHING;
  GET DIAGNOSTICS added = ROW_COUNT;
  RETURN QUERY
  SELECT (SELECT count(*) FROM outreach.possible_duplicate d WHERE d.controller_id = cid AND d.status = 'open'), added, compared;
END
$$;
COMMENT ON FUNCTION outreach.find_possible_duplicates(int) IS
  'looks for the member''s likely duplicates now (outreach.possible_duplicate); returns the open pairs, the new ones and the pairs compared';

-- The member's DPO decides that a pair is two people: it stays dismissed (audited).
CREATE OR REPLACE FUNCTION outreach.dismiss_possible_duplicate(controller_id int, participant_id bigint,
                                                              other_participant_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
  IF controller_id IS NULL OR NOT controller_id = ANY (outreach.caller_controller_ids('dpo')) THEN
    RAISE EXCEPTION 'permission denied: role "%" cannot decide on duplicates of controller %',
                    outreach.invoking_role(), coalesce(controller_id::text, 'NULL') USING ERRCODE = '42501';
  END IF;
  UPDATE outreach.possible_duplicate d
  SET status = 'dismissed', decided_at = now(), decided_by = outreach.invoking_role()
  WHERE d.controller_id = dismiss_possible_duplicate.controller_id
    AND d.participant_id = least(dismiss_possible_duplicate.participant_id, dismiss_possible_duplicate.other_participant_id)
    AND d.other_participant_id = greatest(dismiss_possible_duplicate.participant_id, dismiss_possible_duplicate.other_participant_id)
    AND d.status = 'open';
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no open pair % and % of controller %', participant_id, other_participant_id, controller_id
      USING ERRCODE = '42704';
  END IF;
  INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record)
  VALUES (dismiss_possible_duplicate.controller_id, session_user, outreach.invoking_role(), 'dismiss_duplicate',
          'possible_duplicate',
          jsonb_build_object('participant_id', least(dismiss_possible_duplicate.participant_id, dismiss_possible_duplicate.other_participant_id),
                             'other_participant_id', greatest(dismiss_possible_duplicate.participant_id, dismiss_possible_duplicate.other_participant_id)));
END
$$;
COMMENT ON FUNCTION outreach.dismiss_possible_duplicate(int, bigint, bigint) IS
  'the member''s DPO decides a likely duplicate pair is two people (kept dismissed, audited)';
REVOKE EXECUTE ON FUNCTION outreach.find_possible_duplicates(int), outreach.dismiss_possible_duplicate(int, bigint, bigint)
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.find_possible_duplicates(int) TO outreach_writer, outreach_dpo;
GRANT EXECUTE ON FUNCTION outreach.dismiss_possible_duplicate(int, bigint, bigint) TO outreach_dpo;
