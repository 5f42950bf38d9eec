-- Rectification (UK GDPR Art. 16) by the member's DPO: the values before and after are kept
-- where only the DPO reads them (outreach.rectification, deleted with the record, so an
-- erasure leaves none behind), the linkage pseudonym follows the identifiers (participant_derive)
-- and every recipient that received the old values gets a follow-up (56_followup.sql).

CREATE TABLE outreach.rectification (
  controller_id int NOT NULL,
  rectification_id bigint GENERATED ALWAYS AS IDENTITY,
  participant_id bigint NOT NULL,
  request_id bigint,                       -- the rectification request it answers
  field text COLLATE "C" NOT NULL,
  before_value text,
  after_value text,
  rectified_at timestamptz NOT NULL DEFAULT now(),
  rectified_by text NOT NULL,
  PRIMARY KEY (controller_id, rectification_id),
  FOREIGN KEY (controller_id, participant_id) REFERENCES outreach.participant ON DELETE CASCADE
);
CREATE INDEX rectification_participant_idx ON outreach.rectification (controller_id, participant_id);
-- No statistics of the values: the planner's estimates would tell any DPO which values other
-- members' rectifications hold (as for participant, docs/decisions.md).
ALTER TABLE outreach.rectification ALTER field SET STATISTICS 0, ALTER before_value SET STATISTICS 0,
  ALTER after_value SET STATISTICS 0;
COMMENT ON TABLE outreach.rectification IS
  'values before and after each rectification by the DPO (deleted with the participant); the member''s DPO reads its own';
SELECT pg_catalog.pg_extension_config_dump('outreach.rectification', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.rectification', 'rectification_id')::pg_catalog.regclass, '');
ALTER TABLE outreach.rectification ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.rectification FORCE ROW LEVEL SECURITY;
CREATE POLICY rectification_dpo_read ON outreach.rectification FOR SELECT
  USING (outreach.controller_visible(controller_id, 'dpo'));
REVOKE ALL ON outreach.rectification FROM PUBLIC;
GRANT SELECT ON outreach.rectification TO outreach_dpo;

-- changes: a JSON object of the columns to correct and their new values (null clears one), e.g.
-- {"last_name": "Smith", "postcode": "SW1A 1AA"}. Values are read as the columns' types, so a
-- bad one is the type's own error (22P02, 22007, 22008, 23514 for a check). Returns what
-- changed, one row a column (nothing for values that were right already).
CREATE OR REPLACE FUNCTION outreach.rectify_participant(controller_id int, participant_id bigint, changes jsonb,
                                                        request_id bigint DEFAULT NULL)
RETURNS TABLE (field text, before_value text, after_value text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
AS $$
#variable_conflict use_column
DECLARE
  allowed text[] := ARRAY['external_ref', 'first_name', 'last_name', 'date_of_birth', 'postcode', 'institution_id',
                          'sex', 'gender_identity', 'ethnicity', 'disability', 'religion', 'he_entry_year_override',
                          'he_entry_year_override_reason', 'upn', 'uln'];
  bad text;
  cols text[];
  before jsonb;
  after jsonb;
BEGIN
  PERFORM outreach.require_dpo(rectify_participant.controller_id);
  IF changes IS NULL OR jsonb_typeof(changes) <> 'object' OR changes = '{}' THEN
    RAISE EXCEPTION 'changes must be a non-empty JSON object of columns and their new values' USING ERRCODE = '22023',
      HINT = 'e.g. {"last_name": "Smith", "postcode": "SW1A 1AA"}';
  END IF;
  SELECT min(k) INTO bad FROM jsonb_object_keys(changes) AS k WHERE NOT k = ANY (allowed);
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'column "%" cannot be rectified', left(bad, 100) USING ERRCODE = '22023',
      HINT = 'Columns: ' || array_to_string(allowed, ', ') || '.';
  END IF;
  SELECT to_jsonb(p) INTO before FROM outreach.participant p
  WHERE p.controller_id = rectify_participant.controller_id AND p.participant_id = rectify_participant.participant_id
  FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'participant % of controller % not found', participant_id, controller_id USING ERRCODE = '42704';
  END IF;
  PERFORM outreach.rights_request_for_kinds(rectify_participant.controller_id, rectify_participant.request_id,
                                            ARRAY['rectification']);
  SELECT array_agg(k ORDER BY k) INTO cols FROM jsonb_object_keys(changes) AS k;
  -- Only whitelisted names reach the statement, each quoted; the values come typed from
  -- jsonb_populate_record, never as text in the statement.
  BEGIN
    EXECUTE format('UPDATE outreach.participant p SET (%s) = (SELECT %s FROM jsonb_populate_record(NULL::outreach.participant, $3) r)
                    WHERE p.controller_id = $1 AND p.participant_id = $2 RETURNING to_jsonb(p)',
                   (SELECT string_agg(quote_ident(c), ', ') FROM unnest(cols) AS c),
                   (SELECT string_agg('r.' || quote_ident(c), ', ') FROM unnest(cols) AS c))
      INTO after USING rectify_participant.controller_id, rectify_participant.participant_id, changes;
  EXCEPTION WHEN integrity_constraint_violation THEN
    -- Run as the owner, a failed check would print the whole row ("Failing row contains ...",
    -- special categories and the pseudonym included) to the caller and the server log: the
    -- error is given again with its SQLSTATE and message only.
    DECLARE
      state text;
      msg text;
    BEGIN
      GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
      RAISE EXCEPTION '%', msg USING ERRCODE = state, HINT = 'Nothing was changed.';
    END;
  END;
  INSERT INTO outreach.rectification (controller_id, participant_id, request_id, field, before_value, after_value,
                                      rectified_by)
  SELECT rectify_participant.controller_id, rectify_participant.participant_id, rectify_participant.request_id, c,
         before ->> c, after ->> c, outreach.invoking_role()::text
  FROM unnest(cols) AS c
  WHERE (before -> c) IS DISTINCT FROM (after -> c);
  RETURN QUERY SELECT c, before ->> c, after ->> c FROM unnest(cols) AS c
               WHERE (before -> c) IS DISTINCT FROM (after -> c) ORDER BY c;
EXCEPTION WHEN OTHERS THEN
  PERFORM outreach.log_refusal('rectify_participant', rectify_participant.controller_id, SQLSTATE);
  RAISE;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.rectify_participant(int, bigint, jsonb, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.rectify_participant(int, bigint, jsonb, bigint) TO outreach_dpo;
COMMENT ON FUNCTION outreach.rectify_participant(int, bigint, jsonb, bigint) IS
  'the DPO corrects a participant''s columns: before and after kept for the DPO, linkage recomputed, recipients followed up';
