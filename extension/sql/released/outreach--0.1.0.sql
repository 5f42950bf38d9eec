\echo Use "CREATE EXTENSION outreach" to load this file. \quit

-- Names and values in UK personal data are Unicode; normalisation and pseudonyms assume UTF-8.
DO $$
BEGIN
  IF pg_catalog.getdatabaseencoding() OPERATOR(pg_catalog.<>) 'UTF8' THEN
    RAISE EXCEPTION 'the outreach extension needs a UTF8 database, this one is %',
      pg_catalog.getdatabaseencoding()
      USING ERRCODE = '0A000', HINT = 'CREATE DATABASE ... ENCODING ''UTF8'' TEMPLATE template0';
  END IF;
END
$$;

-- Created here, not by the control file: if a schema named outreach already exists (perhaps
-- planted by someone hoping the extension would adopt it), CREATE EXTENSION fails.
CREATE SCHEMA outreach;
COMMENT ON SCHEMA outreach IS 'pg_outreach: outreach participation data under UK GDPR';
GRANT USAGE ON SCHEMA outreach TO PUBLIC;
-- outreach.uk_postcode: a validated UK postcode in canonical form, 8 bytes, passed by value.

CREATE TYPE outreach.uk_postcode;

CREATE FUNCTION outreach.uk_postcode_in(cstring) RETURNS outreach.uk_postcode
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION outreach.uk_postcode_out(outreach.uk_postcode) RETURNS cstring
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION outreach.uk_postcode_recv(internal) RETURNS outreach.uk_postcode
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION outreach.uk_postcode_send(outreach.uk_postcode) RETURNS bytea
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
COMMENT ON TYPE outreach.uk_postcode IS
  'UK postcode in canonical form (upper case, outward code, one space, inward code), validated by the BS 7666 rules';

CREATE FUNCTION outreach.uk_postcode(text) RETURNS outreach.uk_postcode
  AS 'MODULE_PATHNAME', 'uk_postcode_from_text' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.uk_postcode(text) IS 'parses text as a UK postcode; 22P02 when it is not one';
CREATE CAST (text AS outreach.uk_postcode) WITH FUNCTION outreach.uk_postcode(text) AS ASSIGNMENT;
CREATE CAST (outreach.uk_postcode AS text) WITH INOUT AS ASSIGNMENT;

CREATE FUNCTION outreach.is_valid_postcode(text) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.is_valid_postcode(text) IS 'true when the text is a valid UK postcode; never raises';

CREATE FUNCTION outreach.postcode_outward(outreach.uk_postcode) RETURNS text
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.postcode_outward(outreach.uk_postcode) IS 'outward code, e.g. SW1A';
CREATE FUNCTION outreach.postcode_inward(outreach.uk_postcode) RETURNS text
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.postcode_inward(outreach.uk_postcode) IS 'inward code, e.g. 1AA';
CREATE FUNCTION outreach.postcode_area(outreach.uk_postcode) RETURNS text
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.postcode_area(outreach.uk_postcode) IS 'postcode area: the leading letters, e.g. SW';
CREATE FUNCTION outreach.postcode_district(outreach.uk_postcode) RETURNS text
  AS 'MODULE_PATHNAME', 'postcode_outward' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.postcode_district(outreach.uk_postcode) IS 'postcode district (the outward code), e.g. SW1A';
CREATE FUNCTION outreach.postcode_sector(outreach.uk_postcode) RETURNS text
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.postcode_sector(outreach.uk_postcode) IS 'postcode sector, e.g. SW1A 1';

-- Comparison: byte order of the canonical text (C collation).
CREATE FUNCTION outreach.uk_postcode_eq(outreach.uk_postcode, outreach.uk_postcode) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION outreach.uk_postcode_ne(outreach.uk_postcode, outreach.uk_postcode) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION outreach.uk_postcode_lt(outreach.uk_postcode, outreach.uk_postcode) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION outreach.uk_postcode_le(outreach.uk_postcode, outreach.uk_postcode) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION outreach.uk_postcode_gt(outreach.uk_postcode, outreach.uk_postcode) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION outreach.uk_postcode_ge(outreach.uk_postcode, outreach.uk_postcode) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION outreach.uk_postcode_cmp(outreach.uk_postcode, outreach.uk_postcode) RETURNS integer
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION outreach.uk_postcode_sortsupport(internal) RETURNS void
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION outreach.uk_postcode_hash(outreach.uk_postcode) RETURNS integer
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION outreach.uk_postcode_hash_extended(outreach.uk_postcode, bigint) RETURNS bigint
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
-- outreach.pseudo_id: a keyed pseudonym (key version + 16 bytes of HMAC-SHA256), and the
-- functions that make and check pseudonyms. Keys come from the file named by the
-- superuser-only setting outreach.key_file, never from a table.

CREATE TYPE outreach.pseudo_id;

CREATE FUNCTION outreach.pseudo_id_in(cstring) RETURNS outreach.pseudo_id
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION outreach.pseudo_id_out(outreach.pseudo_id) RETURNS cstring
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION outreach.pseudo_id_recv(internal) RETURNS outreach.pseudo_id
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION outreach.pseudo_id_send(outreach.pseudo_id) RETURNS bytea
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE outreach.pseudo_id (
  INPUT = outreach.pseudo_id_in,
  OUTPUT = outreach.pseudo_id_out,
  RECEIVE = outreach.pseudo_id_recv,
  SEND = outreach.pseudo_id_send,
  INTERNALLENGTH = 20,
  ALIGNMENT = int4,
  STORAGE = plain
);
COMMENT ON TYPE outreach.pseudo_id IS
  'keyed pseudonym: key version and 16 bytes of HMAC-SHA256; text form <version>-<26 base32 digits><check>';

CREATE FUNCTION outreach.pseudo_id_eq(outreach.pseudo_id, outreach.pseudo_id) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION outreach.pseudo_id_ne(outreach.pseudo_id, outreach.pseudo_id) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION outreach.pseudo_id_lt(outreach.pseudo_id, outreach.pseudo_id) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION outreach.pseudo_id_le(outreach.pseudo_id, outreach.pseudo_id) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION outreach.pseudo_id_gt(outreach.pseudo_id, outreach.pseudo_id) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION outreach.pseudo_id_ge(outreach.pseudo_id, outreach.pseudo_id) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION outreach.pseudo_id_cmp(outreach.pseudo_id, outreach.pseudo_id) RETURNS integer
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION outreach.pseudo_id_hash(outreach.pseudo_id) RETURNS integer
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION outreach.pseudo_id_hash_extended(outreach.pseudo_id, bigint) RETURNS bigint
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE OPERATOR outreach.= (
  LEFTARG = outreach.pseudo_id, RIGHTARG = outreach.pseudo_id, PROCEDURE = outreach.pseudo_id_eq,
  COMMUTATOR = OPERATOR(outreach.=), NEGATOR = OPERATOR(outreach.<>),
  RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES);
CREATE OPERATOR outreach.<> (
  LEFTARG = outreach.pseudo_id, RIGHTARG = outreach.pseudo_id, PROCEDURE = outreach.pseudo_id_ne,
  COMMUTATOR = OPERATOR(outreach.<>), NEGATOR = OPERATOR(outreach.=), RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR outreach.< (
  LEFTARG = outreach.pseudo_id, RIGHTARG = outreach.pseudo_id, PROCEDURE = outreach.pseudo_id_lt,
  COMMUTATOR = OPERATOR(outreach.>), NEGATOR = OPERATOR(outreach.>=), RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
CREATE OPERATOR outreach.<= (
  LEFTARG = outreach.pseudo_id, RIGHTARG = outreach.pseudo_id, PROCEDURE = outreach.pseudo_id_le,
  COMMUTATOR = OPERATOR(outreach.>=), NEGATOR = OPERATOR(outreach.>), RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
CREATE OPERATOR outreach.> (
  LEFTARG = outreach.pseudo_id, RIGHTARG = outreach.pseudo_id, PROCEDURE = outreach.pseudo_id_gt,
  COMMUTATOR = OPERATOR(outreach.<), NEGATOR = OPERATOR(outreach.<=), RESTRICT = scalargtsel, JOIN = scalargtjoinsel);
CREATE OPERATOR outreach.>= (
  LEFTARG = outreach.pseudo_id, RIGHTARG = outreach.pseudo_id, PROCEDURE = outreach.pseudo_id_ge,
  COMMUTATOR = OPERATOR(outreach.<=), NEGATOR = OPERATOR(outreach.<), RESTRICT = scalargesel, JOIN = scalargejoinsel);

CREATE OPERATOR CLASS outreach.pseudo_id_ops DEFAULT FOR TYPE outreach.pseudo_id USING btree AS
  OPERATOR 1 outreach.<, OPERATOR 2 outreach.<=, OPERATOR 3 outreach.=, OPERATOR 4 outreach.>=, OPERATOR 5 outreach.>,
  FUNCTION 1 outreach.pseudo_id_cmp(outreach.pseudo_id, outreach.pseudo_id);
CREATE OPERATOR CLASS outreach.pseudo_id_hash_ops DEFAULT FOR TYPE outreach.pseudo_id USING hash AS
  OPERATOR 1 outreach.=,
  FUNCTION 1 outreach.pseudo_id_hash(outreach.pseudo_id),
  FUNCTION 2 outreach.pseudo_id_hash_extended(outreach.pseudo_id, bigint);

CREATE FUNCTION outreach.pseudo_id_digest(outreach.pseudo_id) RETURNS bytea
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.pseudo_id_digest(outreach.pseudo_id) IS 'the 16 bytes of the pseudonym';
CREATE FUNCTION outreach.pseudo_id_key_version(outreach.pseudo_id) RETURNS integer
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.pseudo_id_key_version(outreach.pseudo_id) IS 'version of the key that made the pseudonym';

CREATE FUNCTION outreach.normalise_name(text) RETURNS text
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.normalise_name(text) IS
  'Unicode NFKD, marks removed, case-folded, letters and digits only: the form names take in pseudonyms';

-- STABLE, not IMMUTABLE: the result depends on the key file, which may be rotated.
CREATE FUNCTION outreach.pseudonymise(first_name text, last_name text, date_of_birth date, postcode text,
                                      scope text DEFAULT 'linkage') RETURNS outreach.pseudo_id
  AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.pseudonymise(text, text, date, text, text) IS
  'keyed pseudonym of a person from the newest key of the scope; NULL when an identifier is missing';

CREATE FUNCTION outreach.pseudo_id_matches(id outreach.pseudo_id, first_name text, last_name text,
                                           date_of_birth date, postcode text, scope text DEFAULT 'linkage')
  RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.pseudo_id_matches(outreach.pseudo_id, text, text, date, text, text) IS
  'whether the pseudonym belongs to these identifiers, checked with the key version it was made with';

-- Computing pseudonyms is a privilege: whoever can call these can test guesses of identity
-- against stored pseudonyms. Roles that need it are granted it explicitly.
REVOKE EXECUTE ON FUNCTION outreach.pseudonymise(text, text, date, text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION outreach.pseudo_id_matches(outreach.pseudo_id, text, text, date, text, text) FROM PUBLIC;
-- Expected HE Entry Year and academic years.

CREATE FUNCTION outreach.expected_he_entry_year(date_of_birth date, nation text DEFAULT 'england') RETURNS integer
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.expected_he_entry_year(date, text) IS
  'year a pupil born on this date is expected to enter HE (england and wales: 1 Sep cutoff; scotland: 1 Mar; northern_ireland: 2 Jul)';

CREATE FUNCTION outreach.academic_year(d date) RETURNS integer
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.academic_year(date) IS 'starting year of the English academic year (1 Sep - 31 Aug) containing the date';

CREATE FUNCTION outreach.academic_year_label(start_year integer) RETURNS text
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.academic_year_label(integer) IS 'label of an academic year, e.g. 2025/26 for 2025';

CREATE FUNCTION outreach.academic_year_label(d date) RETURNS text
  AS 'MODULE_PATHNAME', 'academic_year_label_of_date' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.academic_year_label(date) IS 'label of the academic year containing the date, e.g. 2025/26';
