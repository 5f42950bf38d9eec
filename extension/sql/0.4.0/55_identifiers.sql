-- School and learner identifiers on participants: the UPN (Unique Pupil Number, DfE) and the
-- ULN (Unique Learner Number, Learning Records Service), which recipients match on where held.
-- The check algorithms are in C (extension/src/core/school_ids.cpp). The school's URN comes
-- from the participant's institution.

CREATE FUNCTION outreach.is_valid_upn(text) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.is_valid_upn(text) IS
  'whether the text is a UPN: check letter and 12 digits (the last a letter for a temporary UPN), capitals; never raises';
CREATE FUNCTION outreach.is_valid_uln(text) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.is_valid_uln(text) IS
  'whether the text is a ULN: 10 digits, not beginning with 0, modulus-11 check digit; never raises';
-- For CHECK constraints: true, or 22P02 naming what is wrong (a CHECK returning false would only
-- name the constraint).
CREATE FUNCTION outreach.validate_upn(text) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.validate_upn(text) IS 'true for a valid UPN; otherwise raises 22P02 with the reason';
CREATE FUNCTION outreach.validate_uln(text) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.validate_uln(text) IS 'true for a valid ULN; otherwise raises 22P02 with the reason';
CREATE FUNCTION outreach.upn_check_letter(text) RETURNS text
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.upn_check_letter(text) IS 'the check letter of a UPN for the 12 characters after it';
CREATE FUNCTION outreach.uln_check_digit(text) RETURNS text
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.uln_check_digit(text) IS 'the check digit of a ULN for its first nine digits';
GRANT EXECUTE ON FUNCTION outreach.is_valid_upn(text), outreach.is_valid_uln(text), outreach.validate_upn(text),
  outreach.validate_uln(text), outreach.upn_check_letter(text), outreach.uln_check_digit(text) TO PUBLIC;

ALTER TABLE outreach.participant
  ADD COLUMN upn text COLLATE "C" CONSTRAINT participant_upn_valid CHECK (outreach.validate_upn(upn)),
  ADD COLUMN uln text COLLATE "C" CONSTRAINT participant_uln_valid CHECK (outreach.validate_uln(uln));
COMMENT ON COLUMN outreach.participant.upn IS 'Unique Pupil Number (DfE), where the member holds it';
COMMENT ON COLUMN outreach.participant.uln IS 'Unique Learner Number (Learning Records Service), where the member holds it';

-- The same roles as the other identifying columns (names, date of birth, postcode).
GRANT SELECT (upn, uln) ON outreach.participant TO outreach_reader, outreach_processor;
GRANT INSERT (upn, uln), UPDATE (upn, uln) ON outreach.participant TO outreach_writer;

-- Readers' view of participants gains the two columns (appended, so existing queries keep working).
CREATE OR REPLACE VIEW outreach.participant_core WITH (security_invoker = true) AS
SELECT controller_id, participant_id, external_ref, first_name, last_name, date_of_birth, postcode,
       institution_id, linkage_id, he_entry_year_override, he_entry_year_override_reason,
       withdrawn_at, restricted_at, created_at, updated_at, upn, uln
FROM outreach.participant;

-- The audit trail names upn and uln among the changed columns (without them an update of only
-- a UPN would not be recorded at all).
CREATE OR REPLACE FUNCTION outreach.audit_participant() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  actor name := outreach.invoking_role()::text;
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record)
    SELECT n.controller_id, session_user, actor, 'insert', 'participant', jsonb_build_object('participant_id', n.participant_id)
    FROM new_rows n;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record)
    SELECT o.controller_id, session_user, actor, 'delete', 'participant', jsonb_build_object('participant_id', o.participant_id)
    FROM old_rows o;
  ELSE
    -- Only rows whose personal data changed: status columns maintained by the extension itself
    -- (retention, last attendance) are not personal data.
    INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record, columns)
    SELECT controller_id, session_user, actor, 'update', 'participant', jsonb_build_object('participant_id', participant_id), changed
    FROM (
    SELECT n.controller_id, n.participant_id,
           array_remove(ARRAY[
             CASE WHEN n.external_ref IS DISTINCT FROM o.external_ref THEN 'external_ref' END,
             CASE WHEN n.first_name IS DISTINCT FROM o.first_name THEN 'first_name' END,
             CASE WHEN n.last_name IS DISTINCT FROM o.last_name THEN 'last_name' END,
             CASE WHEN n.date_of_birth IS DISTINCT FROM o.date_of_birth THEN 'date_of_birth' END,
             CASE WHEN n.postcode::text IS DISTINCT FROM o.postcode::text THEN 'postcode' END,
             CASE WHEN n.institution_id IS DISTINCT FROM o.institution_id THEN 'institution_id' END,
             CASE WHEN n.sex IS DISTINCT FROM o.sex THEN 'sex' END,
             CASE WHEN n.gender_identity IS DISTINCT FROM o.gender_identity THEN 'gender_identity' END,
             CASE WHEN n.ethnicity IS DISTINCT FROM o.ethnicity THEN 'ethnicity' END,
             CASE WHEN n.disability IS DISTINCT FROM o.disability THEN 'disability' END,
             CASE WHEN n.religion IS DISTINCT FROM o.religion THEN 'religion' END,
             CASE WHEN n.he_entry_year_override IS DISTINCT FROM o.he_entry_year_override THEN 'he_entry_year_override' END,
             CASE WHEN n.he_entry_year_override_reason IS DISTINCT FROM o.he_entry_year_override_reason THEN 'he_entry_year_override_reason' END,
             CASE WHEN n.withdrawn_at IS DISTINCT FROM o.withdrawn_at THEN 'withdrawn_at' END,
             CASE WHEN n.restricted_at IS DISTINCT FROM o.restricted_at THEN 'restricted_at' END,
             CASE WHEN n.upn IS DISTINCT FROM o.upn THEN 'upn' END,
             CASE WHEN n.uln IS DISTINCT FROM o.uln THEN 'uln' END
           ], NULL) AS changed
    FROM new_rows n JOIN old_rows o USING (controller_id, participant_id)
    ) AS c
    WHERE cardinality(changed) > 0;
  END IF;
  RETURN NULL;
END
$$;
