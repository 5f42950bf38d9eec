-- outreach.uk_postcode: a validated UK postcode in canonical form, 8 bytes, passed by value.

CREATE TYPE outreach.uk_postcode;

CREATE OR REPLACE FUNCTION outreach.uk_postcode_in(cstring) RETURNS outreach.uk_postcode
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION outreach.uk_postcode_out(outreach.uk_postcode) RETURNS cstring
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION outreach.uk_postcode_recv(internal) RETURNS outreach.uk_postcode
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION outreach.uk_postcode_send(outreach.uk_postcode) RETURNS bytea
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE outreach.uk_postcode (
  INPUT = outreach.uk_postcode_in,
  OUTPUT = outreach.uk_postcode_out,
  RECEIVE = outreach.uk_postcode_recv,
  SEND = outreach.uk_postcode_send,
  INTERNALLENGTH = 8,
  PASSEDBYVALUE,
  ALIGNMENT = double,
  STORAGE = plain
);

CREATE OR REPLACE FUNCTION outreach.uk_postcode(text) RETURNS outreach.uk_postcode
  AS 'MODULE_PATHNAME', 'uk_postcode_from_text' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON TYPE outreach.uk_postcode IS
  'UK postcode in canonical form (upper case, outward code, one space, inward code), validated by the BS 7666 rules';
COMMENT ON FUNCTION outreach.uk_postcode(text) IS 'parses text as a UK postcode; 22P02 when it is not one';
CREATE CAST (text AS outreach.uk_postcode) WITH FUNCTION outreach.uk_postcode(text) AS ASSIGNMENT;
CREATE CAST (outreach.uk_postcode AS text) WITH INOUT AS ASSIGNMENT;

CREATE OR REPLACE FUNCTION outreach.is_valid_postcode(text) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.is_valid_postcode(text) IS 'true when the text is a valid UK postcode; never raises';

CREATE OR REPLACE FUNCTION outreach.postcode_outward(outreach.uk_postcode) RETURNS text
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.postcode_outward(outreach.uk_postcode) IS 'outward code, e.g. SW1A';
CREATE OR REPLACE FUNCTION outreach.postcode_inward(outreach.uk_postcode) RETURNS text
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.postcode_inward(outreach.uk_postcode) IS 'inward code, e.g. 1AA';
CREATE OR REPLACE FUNCTION outreach.postcode_area(outreach.uk_postcode) RETURNS text
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.postcode_area(outreach.uk_postcode) IS 'postcode area: the leading letters, e.g. SW';
CREATE OR REPLACE FUNCTION outreach.postcode_district(outreach.uk_postcode) RETURNS text
  AS 'MODULE_PATHNAME', 'postcode_outward' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.postcode_district(outreach.uk_postcode) IS 'postcode district (the outward code), e.g. SW1A';
CREATE OR REPLACE FUNCTION outreach.postcode_sector(outreach.uk_postcode) RETURNS text
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.postcode_sector(outreach.uk_postcode) IS 'postcode sector, e.g. SW1A 1';

-- Comparison: byte order of the canonical text (C collation).
CREATE OR REPLACE FUNCTION outreach.uk_postcode_eq(outreach.uk_postcode, outreach.uk_postcode) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.uk_postcode_ne(outreach.uk_postcode, outreach.uk_postcode) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.uk_postcode_lt(outreach.uk_postcode, outreach.uk_postcode) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.uk_postcode_le(outreach.uk_postcode, outreach.uk_postcode) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.uk_postcode_gt(outreach.uk_postcode, outreach.uk_postcode) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.uk_postcode_ge(outreach.uk_postcode, outreach.uk_postcode) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.uk_postcode_cmp(outreach.uk_postcode, outreach.uk_postcode) RETURNS integer
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.uk_postcode_sortsupport(internal) RETURNS void
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION outreach.uk_postcode_hash(outreach.uk_postcode) RETURNS integer
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.uk_postcode_hash_extended(outreach.uk_postcode, bigint) RETURNS bigint
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE OPERATOR outreach.= (
  LEFTARG = outreach.uk_postcode, RIGHTARG = outreach.uk_postcode, PROCEDURE = outreach.uk_postcode_eq,
  COMMUTATOR = OPERATOR(outreach.=), NEGATOR = OPERATOR(outreach.<>),
  RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES);
CREATE OPERATOR outreach.<> (
  LEFTARG = outreach.uk_postcode, RIGHTARG = outreach.uk_postcode, PROCEDURE = outreach.uk_postcode_ne,
  COMMUTATOR = OPERATOR(outreach.<>), NEGATOR = OPERATOR(outreach.=), RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR outreach.< (
  LEFTARG = outreach.uk_postcode, RIGHTARG = outreach.uk_postcode, PROCEDURE = outreach.uk_postcode_lt,
  COMMUTATOR = OPERATOR(outreach.>), NEGATOR = OPERATOR(outreach.>=), RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
CREATE OPERATOR outreach.<= (
  LEFTARG = outreach.uk_postcode, RIGHTARG = outreach.uk_postcode, PROCEDURE = outreach.uk_postcode_le,
  COMMUTATOR = OPERATOR(outreach.>=), NEGATOR = OPERATOR(outreach.>), RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
CREATE OPERATOR outreach.> (
  LEFTARG = outreach.uk_postcode, RIGHTARG = outreach.uk_postcode, PROCEDURE = outreach.uk_postcode_gt,
  COMMUTATOR = OPERATOR(outreach.<), NEGATOR = OPERATOR(outreach.<=), RESTRICT = scalargtsel, JOIN = scalargtjoinsel);
CREATE OPERATOR outreach.>= (
  LEFTARG = outreach.uk_postcode, RIGHTARG = outreach.uk_postcode, PROCEDURE = outreach.uk_postcode_ge,
  COMMUTATOR = OPERATOR(outreach.<=), NEGATOR = OPERATOR(outreach.<), RESTRICT = scalargesel, JOIN = scalargejoinsel);

CREATE OPERATOR CLASS outreach.uk_postcode_ops DEFAULT FOR TYPE outreach.uk_postcode USING btree AS
  OPERATOR 1 outreach.<, OPERATOR 2 outreach.<=, OPERATOR 3 outreach.=, OPERATOR 4 outreach.>=, OPERATOR 5 outreach.>,
  FUNCTION 1 outreach.uk_postcode_cmp(outreach.uk_postcode, outreach.uk_postcode),
  FUNCTION 2 outreach.uk_postcode_sortsupport(internal);
CREATE OPERATOR CLASS outreach.uk_postcode_hash_ops DEFAULT FOR TYPE outreach.uk_postcode USING hash AS
  OPERATOR 1 outreach.=,
  FUNCTION 1 outreach.uk_postcode_hash(outreach.uk_postcode),
  FUNCTION 2 outreach.uk_postcode_hash_extended(outreach.uk_postcode, bigint);
