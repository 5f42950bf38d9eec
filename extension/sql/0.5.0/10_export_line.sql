-- One export record per call (extension/src/core/export_format.hpp has the column specs), and
-- the per-recipient reference without SQL string building. Both serve export_render_sql().
CREATE FUNCTION outreach.export_line(spec text[], VARIADIC "any") RETURNS text
  AS 'MODULE_PATHNAME', 'export_line' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION outreach.export_line(text[], "any") IS
  'one RFC 4180 record of an export: each value written by its column spec (text, trim, date:FORMAT, '
  'code:K=V;...;*=V), as csv_record() of the formatted fields';

CREATE FUNCTION outreach.recipient_reference(controller_id int, participant_id bigint, scope text) RETURNS text
  AS 'MODULE_PATHNAME', 'recipient_reference' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.recipient_reference(int, bigint, text) IS
  'a participant''s reference in a recipient''s files: pseudonymise(''c'' || controller_id, ''p'' || participant_id, '
  '''1900-01-01'', ''GIR 0AA'', scope)::text';

-- The reference is a keyed pseudonym (the same privilege as pseudonymise); export_line is only
-- used by the export functions.
REVOKE EXECUTE ON FUNCTION outreach.export_line(text[], "any"), outreach.recipient_reference(int, bigint, text) FROM PUBLIC;

-- The aggregate export_begin stages with: one member's block of records, those whose content
-- hash differs from what was sent before, as parallel arrays sorted by participant id
-- (extension/src/pg/export_block.cpp).
CREATE TYPE outreach.export_block_data AS (
  participant_ids bigint[], cohort_years int[], src_xmins xid[], participant_references text[],
  content_hashes bigint[], lines text[]
);
CREATE FUNCTION outreach.export_block_add(internal, bigint, int, xid, text, bigint, text) RETURNS internal
  AS 'MODULE_PATHNAME', 'export_block_add' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION outreach.export_block_final(internal) RETURNS outreach.export_block_data
  AS 'MODULE_PATHNAME', 'export_block_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE AGGREGATE outreach.export_block(bigint, int, xid, text, bigint, text) (
  SFUNC = outreach.export_block_add, STYPE = internal, FINALFUNC = outreach.export_block_final,
  PARALLEL = SAFE   -- (no combine function: it runs above the workers, which compute its input)
);
COMMENT ON AGGREGATE outreach.export_block(bigint, int, xid, text, bigint, text) IS
  'the records of a block of an export being staged (participant id, cohort, row version, reference, hash last sent, line) that changed since sent, as arrays sorted by participant id';
REVOKE EXECUTE ON FUNCTION outreach.export_block_add(internal, bigint, int, xid, text, bigint, text),
  outreach.export_block_final(internal), outreach.export_block(bigint, int, xid, text, bigint, text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.export_block_add(internal, bigint, int, xid, text, bigint, text) IS
  'transition function of outreach.export_block: adds one record to the block';
COMMENT ON FUNCTION outreach.export_block_final(internal) IS
  'final function of outreach.export_block: the block''s records as arrays sorted by participant id';
