SET search_path = regress, outreach, public;

-- A pseudonym does not depend on how the identifiers were typed.
SELECT outreach.pseudonymise('Zoë', 'O''Brien', '2007-03-01', 'sw1a1aa')
     = outreach.pseudonymise(' ZOE ', 'obrien', '2007-03-01', 'SW1A 1AA') AS spelling_independent,
       outreach.pseudonymise('Zoë', 'O''Brien', '2007-03-01', 'SW1A 1AA')
     = outreach.pseudonymise('Zoë', 'O''Brien', '2007-03-02', 'SW1A 1AA') AS dob_matters,
       outreach.pseudonymise('Zoe', 'Brien', '2007-03-01', 'SW1A 1AA')
     = outreach.pseudonymise('Zoeb', 'Rien', '2007-03-01', 'SW1A 1AA') AS fields_are_separated,
       outreach.pseudonymise('Zoë', 'O''Brien', '2007-03-01', 'SW1A 1AA')
     = outreach.pseudonymise('Zoë', 'O''Brien', '2007-03-01', 'SW1A 1AA', 'recipient:ucas') AS scopes_differ;

-- Text form: "<version>-" then 27 characters; key version 1; 16-byte digest.
SELECT p::text ~ '^1-[0-7][0-9A-HJKMNP-TV-Z]{25}[0-9A-HJKMNP-TV-Z*~$=U]$' AS text_form,
       length(p::text) AS text_length,
       outreach.pseudo_id_key_version(p) AS key_version,
       length(outreach.pseudo_id_digest(p)) AS digest_bytes,
       p::text::outreach.pseudo_id = p AS text_round_trip,
       lower(p::text)::outreach.pseudo_id = p AS case_insensitive
FROM (SELECT outreach.pseudonymise('Zoë', 'O''Brien', '2007-03-01', 'SW1A 1AA') AS p) AS t;

-- NULL when an identifier is missing or normalises to empty; an invalid postcode is 22P02.
SELECT regress.try($$SELECT outreach.pseudonymise(NULL, 'Smith', '2007-03-01', 'SW1A 1AA')::text$$) AS null_first,
       regress.try($$SELECT outreach.pseudonymise('Ann', 'Smith', NULL, 'SW1A 1AA')::text$$) AS null_dob,
       regress.try($$SELECT outreach.pseudonymise('--', 'Smith', '2007-03-01', 'SW1A 1AA')::text$$) AS empty_first,
       regress.try($$SELECT outreach.pseudonymise('Ann', '''', '2007-03-01', 'SW1A 1AA')::text$$) AS empty_last,
       regress.try($$SELECT outreach.pseudonymise('Ann', 'Smith', '2007-03-01', '  ')::text$$) AS blank_postcode;
SELECT regress.try($$SELECT outreach.pseudonymise('Ann', 'Smith', '2007-03-01', 'QQ1 1QQ')::text$$);
SELECT regress.try($$SELECT outreach.pseudonymise('Ann', 'Smith', 'infinity', 'SW1A 1AA')::text$$);
SELECT regress.try($$SELECT outreach.pseudonymise('Ann', 'Smith', '2007-03-01', 'SW1A 1AA', 'no-such-scope')::text$$);

-- A mistyped ID is rejected (22P02), never silently a different ID.
SELECT p::text AS good FROM (SELECT outreach.pseudonymise('Ann', 'Smith', '2007-03-01', 'SW1A 1AA') AS p) t \gset
SELECT count(*) >= 27 * 30 AS substitutions_tried,
       count(*) = count(*) FILTER (WHERE regress.try(format('SELECT %L::outreach.pseudo_id::text', typo)) LIKE '22P02:%')
         AS all_rejected
FROM (SELECT overlay(:'good' PLACING c FROM pos FOR 1) AS typo
      FROM generate_series(3, 29) AS pos, unnest(string_to_array('0123456789ABCDEFGHJKMNPQRSTVWXYZ', NULL)) AS c
      WHERE substr(:'good', pos, 1) <> c) AS typos;
SELECT count(*) >= 15 AS swaps_tried,
       count(*) = count(*) FILTER (WHERE regress.try(format('SELECT %L::outreach.pseudo_id::text', typo)) LIKE '22P02:%')
         AS all_rejected
FROM (SELECT overlay(:'good' PLACING substr(:'good', pos + 1, 1) || substr(:'good', pos, 1) FROM pos FOR 2) AS typo
      FROM generate_series(3, 28) AS pos
      WHERE substr(:'good', pos, 1) <> substr(:'good', pos + 1, 1)) AS swaps;
SELECT input, regress.try(format('SELECT %L::outreach.pseudo_id::text', input)) AS result
FROM (VALUES (''), ('1'), ('1-'), ('0-' || repeat('0', 26) || 'P'), ('01-' || repeat('0', 26) || 'P'),
             ('x-' || repeat('0', 26) || 'P'), ('1-' || repeat('0', 26)), ('1-' || repeat('0', 28)),
             ('1-8' || repeat('0', 26)), ('1-' || repeat('0', 25) || '#P'), ('1-' || repeat('0', 27)),
             ('1-' || repeat('0', 26) || 'P'), ('1-' || repeat('0', 26) || 'N'), ('1-' || repeat('O', 26) || 'n')
     ) AS t(input);

-- Storage and binary round trip through COPY.
SELECT typlen, typbyval, typalign FROM pg_type WHERE oid = 'outreach.pseudo_id'::regtype;
CREATE TABLE pid (n int, p outreach.pseudo_id);
INSERT INTO pid
SELECT n, outreach.pseudonymise('First' || n, 'Last' || (n % 97), date '2000-01-01' + n % 3000, 'M1 1AE')
FROM generate_series(1, 5000) AS n;
SELECT current_setting('regress.keydir') || '/pseudo_ids.bin' AS binfile \gset
COPY pid TO :'binfile' (FORMAT binary);
CREATE TABLE pid_back (LIKE pid);
COPY pid_back FROM :'binfile' (FORMAT binary);
SELECT count(*) AS rows_back, bool_and(a.p = b.p) AS all_equal
FROM pid a JOIN pid_back b USING (n);
CREATE TABLE bad_bin (n int, b bytea);
INSERT INTO bad_bin VALUES (1, '\x0102');
COPY bad_bin TO :'binfile' (FORMAT binary);
SELECT regress.try(format('COPY pid_back FROM %L (FORMAT binary)', :'binfile'));

-- Indexes: btree and hash, joins and grouping.
CREATE INDEX pid_btree ON pid (p);
ANALYZE pid;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT n FROM pid WHERE p = outreach.pseudonymise('First7', 'Last7', date '2000-01-08', 'M1 1AE');
SELECT n FROM pid WHERE p = outreach.pseudonymise('First7', 'Last7', date '2000-01-08', 'M1 1AE');
DROP INDEX pid_btree;
CREATE INDEX pid_hash ON pid USING hash (p);
EXPLAIN (COSTS OFF) SELECT n FROM pid WHERE p = outreach.pseudonymise('First7', 'Last7', date '2000-01-08', 'M1 1AE');
SELECT n FROM pid WHERE p = outreach.pseudonymise('First7', 'Last7', date '2000-01-08', 'M1 1AE');
RESET enable_seqscan;
SELECT count(*) AS joined FROM pid a JOIN pid_back b ON a.p = b.p;
SELECT count(DISTINCT p) AS distinct_ids FROM pid;
SELECT (SELECT array_agg(n ORDER BY p, n) FROM pid) = (SELECT array_agg(n ORDER BY p::text COLLATE "C", n) FROM pid)
  AS btree_order_is_consistent_within_a_version;

-- Computing pseudonyms is not for everyone: PUBLIC has no EXECUTE.
CREATE ROLE regress_nobody;
SET ROLE regress_nobody;
SELECT regress.try($$SELECT outreach.pseudonymise('Ann', 'Smith', '2007-03-01', 'SW1A 1AA')::text$$);
SELECT regress.try($$SHOW outreach.key_file$$);
SELECT regress.try($$SET outreach.key_file = '/tmp/mine'$$);
SELECT regress.try($$SELECT set_config('outreach.key_file', '/tmp/mine', false)$$);
RESET ROLE;
DROP ROLE regress_nobody;
