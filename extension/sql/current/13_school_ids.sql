-- School and learner identifiers on participants: the UPN (Unique Pupil Number, DfE) and the
-- ULN (Unique Learner Number, Learning Records Service), which recipients match on where held.
-- The check algorithms are in C (extension/src/core/school_ids.cpp). The school's URN comes
-- from the participant's institution.

CREATE OR REPLACE FUNCTION outreach.is_valid_upn(text) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.is_valid_upn(text) IS
  'whether the text is a UPN: check letter and 12 digits (the last a letter for a temporary UPN), capitals; never raises';
CREATE OR REPLACE FUNCTION outreach.is_valid_uln(text) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.is_valid_uln(text) IS
  'whether the text is a ULN: 10 digits, not beginning with 0, modulus-11 check digit; never raises';
-- For CHECK constraints: true, or 22P02 naming what is wrong (a CHECK returning false would only
-- name the constraint).
CREATE OR REPLACE FUNCTION outreach.validate_upn(text) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.validate_upn(text) IS 'true for a valid UPN; otherwise raises 22P02 with the reason';
CREATE OR REPLACE FUNCTION outreach.validate_uln(text) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.validate_uln(text) IS 'true for a valid ULN; otherwise raises 22P02 with the reason';
CREATE OR REPLACE FUNCTION outreach.upn_check_letter(text) RETURNS text
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.upn_check_letter(text) IS 'the check letter of a UPN for the 12 characters after it';
CREATE OR REPLACE FUNCTION outreach.uln_check_digit(text) RETURNS text
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.uln_check_digit(text) IS 'the check digit of a ULN for its first nine digits';
GRANT EXECUTE ON FUNCTION outreach.is_valid_upn(text), outreach.is_valid_uln(text), outreach.validate_upn(text),
  outreach.validate_uln(text), outreach.upn_check_letter(text), outreach.uln_check_digit(text) TO PUBLIC;

