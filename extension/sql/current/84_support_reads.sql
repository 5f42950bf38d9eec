-- Reads on the record: the service's support staff (outreach_support) find a member's record
-- through a purpose-bound function that says why (a purpose and the ticket it serves) and
-- records who looked, why and what in that member's audit log, instead of a blanket SELECT.
-- The processor role keeps its reads for the service's own machinery; staff get
-- outreach_support, not outreach_processor (README, "Accountability"), and every statement of
-- any role can also be logged through pgaudit (docs/pgaudit.md).

CREATE OR REPLACE FUNCTION outreach.support_lookup(controller_id int, purpose text, ticket text,
                                                   of_participant bigint DEFAULT NULL, of_external_ref text DEFAULT NULL)
RETURNS TABLE (participant_id bigint, external_ref text, first_name text, last_name text, date_of_birth date,
               postcode text, institution_id int, withdrawn_at timestamptz, restricted_at timestamptz,
               retention_status text, created_at timestamptz, updated_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p record;
BEGIN
  IF NOT pg_has_role(outreach.invoking_role(), 'outreach_support', 'MEMBER') THEN
    RAISE EXCEPTION 'permission denied: role "%" is not in the service''s support role (outreach_support)',
                    outreach.invoking_role() USING ERRCODE = '42501';
  END IF;
  IF purpose IS NULL OR purpose NOT IN ('member_support_request', 'data_quality', 'incident_investigation',
                                        'rights_request_assistance') THEN
    RAISE EXCEPTION 'unknown purpose "%"', left(purpose, 100) USING ERRCODE = '22023',
      HINT = 'member_support_request, data_quality, incident_investigation or rights_request_assistance';
  END IF;
  IF ticket IS NULL OR length(btrim(ticket)) NOT BETWEEN 1 AND 100 THEN
    RAISE EXCEPTION 'name the ticket the look-up serves (1 to 100 characters)' USING ERRCODE = '22023';
  END IF;
  IF num_nonnulls(of_participant, of_external_ref) <> 1 THEN
    RAISE EXCEPTION 'name the record by of_participant (its id) or by of_external_ref, one of them' USING ERRCODE = '22023';
  END IF;
  SELECT x.* INTO p FROM outreach.participant x
  WHERE x.controller_id = support_lookup.controller_id
    AND (x.participant_id = of_participant OR x.external_ref = of_external_ref);
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such participant of controller %', coalesce(controller_id::text, 'NULL') USING ERRCODE = '42704';
  END IF;
  INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record, columns)
  VALUES (p.controller_id, session_user, outreach.invoking_role()::text, 'support_read', 'participant',
          jsonb_build_object('participant_id', p.participant_id, 'purpose', purpose, 'ticket', btrim(ticket)),
          ARRAY['external_ref', 'first_name', 'last_name', 'date_of_birth', 'postcode', 'institution_id']);
  RETURN QUERY SELECT p.participant_id, p.external_ref, p.first_name, p.last_name, p.date_of_birth, p.postcode::text,
                      p.institution_id, p.withdrawn_at, p.restricted_at, p.retention_status, p.created_at, p.updated_at;
EXCEPTION WHEN OTHERS THEN
  PERFORM outreach.log_refusal('support_lookup', support_lookup.controller_id, SQLSTATE);
  RAISE;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.support_lookup(int, text, text, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.support_lookup(int, text, text, bigint, text) TO outreach_support;
COMMENT ON FUNCTION outreach.support_lookup(int, text, text, bigint, text) IS
  'support staff read one member''s record for a stated purpose and ticket; each look-up is in that member''s audit log (no special categories)';
