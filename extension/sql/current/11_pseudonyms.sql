-- outreach.pseudo_id: a keyed pseudonym (key version + 16 bytes of HMAC-SHA256), and the
-- functions that make and check pseudonyms. Keys come from the file named by the
-- superuser-only setting outreach.key_file, never from a table.

CREATE TYPE outreach.pseudo_id;

CREATE OR REPLACE FUNCTION outreach.pseudo_id_in(cstring) RETURNS outreach.pseudo_id
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION outreach.pseudo_id_out(outreach.pseudo_id) RETURNS cstring
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION outreach.pseudo_id_recv(internal) RETURNS outreach.pseudo_id
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION outreach.pseudo_id_send(outreach.pseudo_id) RETURNS bytea
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

CREATE OR REPLACE FUNCTION outreach.pseudo_id_eq(outreach.pseudo_id, outreach.pseudo_id) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.pseudo_id_ne(outreach.pseudo_id, outreach.pseudo_id) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.pseudo_id_lt(outreach.pseudo_id, outreach.pseudo_id) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.pseudo_id_le(outreach.pseudo_id, outreach.pseudo_id) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.pseudo_id_gt(outreach.pseudo_id, outreach.pseudo_id) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.pseudo_id_ge(outreach.pseudo_id, outreach.pseudo_id) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.pseudo_id_cmp(outreach.pseudo_id, outreach.pseudo_id) RETURNS integer
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.pseudo_id_hash(outreach.pseudo_id) RETURNS integer
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION outreach.pseudo_id_hash_extended(outreach.pseudo_id, bigint) RETURNS bigint
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

CREATE OR REPLACE FUNCTION outreach.pseudo_id_digest(outreach.pseudo_id) RETURNS bytea
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.pseudo_id_digest(outreach.pseudo_id) IS 'the 16 bytes of the pseudonym';
CREATE OR REPLACE FUNCTION outreach.pseudo_id_key_version(outreach.pseudo_id) RETURNS integer
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.pseudo_id_key_version(outreach.pseudo_id) IS 'version of the key that made the pseudonym';

CREATE OR REPLACE FUNCTION outreach.normalise_name(text) RETURNS text
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.normalise_name(text) IS
  'Unicode NFKD, marks removed, case-folded, letters and digits only: the form names take in pseudonyms';

-- STABLE, not IMMUTABLE: the result depends on the key file, which may be rotated.
CREATE OR REPLACE FUNCTION outreach.pseudonymise(first_name text, last_name text, date_of_birth date, postcode text,
                                      scope text DEFAULT 'linkage') RETURNS outreach.pseudo_id
  AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.pseudonymise(text, text, date, text, text) IS
  'keyed pseudonym of a person from the newest key of the scope; NULL when an identifier is missing';

CREATE OR REPLACE FUNCTION outreach.pseudo_id_matches(id outreach.pseudo_id, first_name text, last_name text,
                                           date_of_birth date, postcode text, scope text DEFAULT 'linkage')
  RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.pseudo_id_matches(outreach.pseudo_id, text, text, date, text, text) IS
  'whether the pseudonym belongs to these identifiers, checked with the key version it was made with';

-- Computing pseudonyms is a privilege: whoever can call these can test guesses of identity
-- against stored pseudonyms. Roles that need it are granted it explicitly.
REVOKE EXECUTE ON FUNCTION outreach.pseudonymise(text, text, date, text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION outreach.pseudo_id_matches(outreach.pseudo_id, text, text, date, text, text) FROM PUBLIC;
