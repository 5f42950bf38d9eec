-- Finding a data subject by their identifiers, for a request: a member's DPO finds every record
-- its own member holds on the person (a second registration too, since records are matched by
-- the linkage pseudonym of name, date of birth and postcode, not by spelling); the service's
-- processor learns only which members hold a record, so that it can signpost the person to them.
-- Every lookup is logged: in the service's outreach.subject_lookup (no identifiers, no
-- pseudonym), and in each member's audit log where the lookup concerned its records.

CREATE TABLE outreach.subject_lookup (
  lookup_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  looked_up_at timestamptz NOT NULL DEFAULT statement_timestamp(),
  session_role name NOT NULL,
  acting_role name NOT NULL,
  as_dpo_of int[] NOT NULL,          -- the controllers searched as their DPO
  as_processor boolean NOT NULL,     -- every member searched, only members' names answered
  matched_controllers int[] NOT NULL
);
REVOKE ALL ON outreach.subject_lookup FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('outreach.subject_lookup', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.subject_lookup', 'lookup_id')::pg_catalog.regclass, '');
COMMENT ON TABLE outreach.subject_lookup IS
  'every find_subject() call: who, when, as whose DPO or as the processor, which members matched (never the identifiers); the service''s DBA reads it';

CREATE OR REPLACE FUNCTION outreach.find_subject(first_name text, last_name text, date_of_birth date, postcode text)
RETURNS TABLE (controller_id int, controller_code text, controller_name text, participant_id bigint,
               external_ref text, registered_at timestamptz, withdrawn boolean, restricted boolean)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  actor regrole := outreach.invoking_role();
  dpo_of int[] := outreach.caller_controller_ids('dpo');
  processor boolean := pg_has_role(actor, 'outreach_processor', 'MEMBER');
  person outreach.pseudo_id;
  found_controllers int[];     -- the records found, as two arrays (no temporary table: a
  found_participants bigint[]; -- caller's own temp table of that name could carry a trigger)
  matched int[];
BEGIN
  IF cardinality(dpo_of) = 0 AND NOT processor THEN
    RAISE EXCEPTION 'permission denied: role "%" is neither a data-protection officer nor the processor', actor
      USING ERRCODE = '42501';
  END IF;
  IF coalesce(btrim(first_name), '') = '' OR coalesce(btrim(last_name), '') = '' OR date_of_birth IS NULL
     OR coalesce(btrim(postcode), '') = '' THEN
    RAISE EXCEPTION 'a person is found by first name, last name, date of birth and postcode together'
      USING ERRCODE = '22023', HINT = 'records missing any of them have no linkage pseudonym and cannot be matched';
  END IF;
  -- As the participant table holds them: a longer name matches no record, and is no reason to
  -- hash megabytes.
  IF length(first_name) > 200 OR length(last_name) > 200 OR length(postcode) > 20 THEN
    RAISE EXCEPTION 'names are at most 200 characters and a postcode at most 20' USING ERRCODE = '22023';
  END IF;
  person := outreach.pseudonymise(first_name, last_name, date_of_birth, postcode, 'linkage');  -- 22P02 for a bad postcode
  IF person IS NULL THEN
    RAISE EXCEPTION 'the identifiers normalise to nothing' USING ERRCODE = '22023';
  END IF;
  SELECT coalesce(array_agg(p.controller_id ORDER BY p.controller_id, p.participant_id), '{}'),
         coalesce(array_agg(p.participant_id ORDER BY p.controller_id, p.participant_id), '{}')
    INTO found_controllers, found_participants
  FROM outreach.participant p
  WHERE p.controller_id = ANY (CASE WHEN processor THEN ARRAY(SELECT c.controller_id FROM outreach.controller c) ELSE dpo_of END)
    AND p.linkage_id OPERATOR(outreach.=) person;
  SELECT coalesce(array_agg(DISTINCT f ORDER BY f), '{}') INTO matched FROM unnest(found_controllers) AS f;
  INSERT INTO outreach.subject_lookup (session_role, acting_role, as_dpo_of, as_processor, matched_controllers)
  VALUES (session_user, actor::text, dpo_of, processor, matched);
  -- Each member whose records were searched as its DPO, or found by the processor, sees it.
  INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record, columns)
  SELECT s.controller_id, session_user, actor::text, 'find_subject', 'participant',
         jsonb_build_object('participant_ids', coalesce((SELECT jsonb_agg(f.participant_id ORDER BY f.participant_id)
                                                          FROM unnest(found_controllers, found_participants) AS f(controller_id, participant_id)
                                                          WHERE f.controller_id = s.controller_id), '[]'),
                            'as_processor', NOT (s.controller_id = ANY (dpo_of))),
         NULL
  FROM (SELECT unnest(dpo_of) AS controller_id UNION SELECT unnest(matched)) s;
  RETURN QUERY
  SELECT c.controller_id, c.code::text, c.name::text, p.participant_id, p.external_ref, p.created_at,
         p.withdrawn_at IS NOT NULL, p.restricted_at IS NOT NULL
  FROM unnest(found_controllers, found_participants) AS f(controller_id, participant_id)
  JOIN outreach.controller c ON c.controller_id = f.controller_id
  JOIN outreach.participant p ON p.controller_id = f.controller_id AND p.participant_id = f.participant_id
  WHERE f.controller_id = ANY (dpo_of)
  UNION ALL
  -- Other members, for the processor: the member only.
  SELECT DISTINCT c.controller_id, c.code::text, c.name::text, NULL::bigint, NULL::text, NULL::timestamptz,
         NULL::boolean, NULL::boolean
  FROM unnest(found_controllers) AS f(controller_id)
  JOIN outreach.controller c ON c.controller_id = f.controller_id
  WHERE processor AND NOT (f.controller_id = ANY (dpo_of))
  ORDER BY 2, 4;
EXCEPTION WHEN OTHERS THEN
  PERFORM outreach.log_refusal('find_subject', NULL, SQLSTATE);
  RAISE;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.find_subject(text, text, date, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.find_subject(text, text, date, text) TO outreach_dpo, outreach_processor;
COMMENT ON FUNCTION outreach.find_subject(text, text, date, text) IS
  'a DPO finds its own member''s records of a person by name, date of birth and postcode (by linkage pseudonym); the processor learns which members hold one; every lookup logged';
