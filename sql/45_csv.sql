-- RFC 4180 CSV: csv_record() writes one record, csv_records() reads a file.

-- Quoting only when needed: comma, quote, CR, LF, a leading or trailing space, a leading U+FEFF.
SELECT label, replace(outreach.csv_record(fields), E'\uFEFF', '<U+FEFF>') AS record
FROM (VALUES
  ('plain',          ARRAY['a', 'bc', '123', 'Zoë']),
  ('comma',          ARRAY['a,b', 'c']),
  ('quotes',         ARRAY['say "hi"', '"', '""']),
  ('newlines',       ARRAY[E'two\nlines', E'cr\rhere', E'crlf\r\n']),
  ('spaces',         ARRAY[' lead', 'trail ', 'in side', ' ']),
  ('tab',            ARRAY[E'a\tb']),
  ('nulls',          ARRAY[NULL, '', 'x', NULL]),
  ('one empty',      ARRAY['']),
  ('one null',       ARRAY[NULL]::text[]),
  ('no fields',      ARRAY[]::text[]),
  ('bom',            ARRAY[E'\uFEFFx', E'y\uFEFF'])
) AS t(label, fields);

SELECT outreach.csv_record(NULL) IS NULL AS strict,
       regress.try($$SELECT outreach.csv_record(ARRAY[['a','b'],['c','d']])$$) AS two_dimensions,
       outreach.csv_record('[0:1]={a,b}'::text[]) AS lower_bound_zero,
       outreach.csv_record(ARRAY['1', NULL, '3', NULL, '5', '6', '7', '8', '9', NULL, '1,1', NULL]) AS nulls_past_eight;

-- The reader: good records, CRLF and LF mixed, quoted commas, quotes and newlines (line numbers
-- count physical lines), a byte order mark, empty fields, a last line without terminator.
SELECT * FROM outreach.csv_records(convert_to(E'id,name\r\n1,"O''Brien, Jr"\n2,"say ""hi"""\r\n3,"two\nlines\r\nthree"\n4,,\n5,""\n6,end', 'UTF8'));
SELECT * FROM outreach.csv_records('\xefbbbf69642c6e616d650a312c5a6fc3ab0a'::bytea);  -- BOM, then id,name / 1,Zoë

-- Empty input, and a single empty line at the end, give no rows.
SELECT count(*) AS empty_input FROM outreach.csv_records(''::bytea);
SELECT count(*) AS only_newline FROM outreach.csv_records(E'\n'::bytea);
SELECT count(*) AS only_bom FROM outreach.csv_records('\xefbbbf'::bytea);

-- Every error kind, each reported on the line where its record starts; reading goes on at the
-- next line.
SELECT * FROM outreach.csv_records(convert_to(
  E'h1,h2\n' ||
  E'ab"c,d\n' ||                -- line 2: quote in an unquoted field
  E'"a"b,c\n' ||                -- line 3: text after a closing quote
  E'x\ry,z\n' ||                -- line 4: lone CR
  E'\n' ||                      -- line 5: empty line
  E'1,"multi\nline"x\n' ||      -- lines 6-7: text after the closing quote of a two-line field
  E'ok,after\n' ||              -- line 8
  E'last,"open\nnever closed\n', 'UTF8'));  -- line 9: unterminated quoted field

-- Invalid UTF-8 (byte offsets count from the start of the record, 0-based) and NUL.
SELECT * FROM outreach.csv_records('\x6f6b0a61622cff0a6e6578740a'::bytea);          -- ok / ab,\xff / next
SELECT line_no, encode(convert_to(fields[1], 'UTF8'), 'hex') AS field_hex, error
FROM outreach.csv_records('\x78c0af0a78eda0800a78f48fbfbf0a78f49080800a'::bytea);  -- overlong, surrogate, U+10FFFF, U+110000
SELECT * FROM outreach.csv_records('\x612c6200630a'::bytea);                        -- a,b\0c
SELECT * FROM outreach.csv_records('\xff'::bytea);
-- "a, a truncated sequence, LF and no closing quote: the invalid UTF-8 comes first.
SELECT * FROM outreach.csv_records('\x2261e2820a'::bytea);

-- A truncated last line: accepted but flagged; the caller compares its field count.
SELECT line_no, fields, error, terminated FROM outreach.csv_records(convert_to(E'a,b,c\n1,2,3\n4,5', 'UTF8'));

-- Limits: a record longer than 1 MiB, more than 1000 fields; reading resumes on the next line.
SELECT line_no, cardinality(fields) AS n, error, terminated
FROM outreach.csv_records(convert_to('a' || chr(10) || repeat('x', 1048577) || chr(10) || 'b' || chr(10) ||
                                     repeat('y', 1048576) || chr(10) || repeat(',', 1000) || chr(10) ||
                                     repeat(',', 999), 'UTF8'));

-- Round trip: records written by csv_record and read back by csv_records, for awkward values.
CREATE TEMP TABLE csv_rows AS
SELECT i, ARRAY[i::text,
                CASE i % 7 WHEN 0 THEN NULL WHEN 1 THEN '' WHEN 2 THEN ' padded ' WHEN 3 THEN 'a,b'
                           WHEN 4 THEN 'say "hi"' WHEN 5 THEN E'multi\nline\r\nfield' ELSE 'Zoë Siân 王芳' END,
                repeat(chr(34), i % 3) || repeat(',', i % 2),
                md5(i::text)] AS fields
FROM generate_series(1, 500) AS i;

WITH file AS (
  SELECT convert_to(string_agg(outreach.csv_record(fields), CASE WHEN i % 2 = 0 THEN E'\r\n' ELSE E'\n' END ORDER BY i)
                    || E'\n', 'UTF8') AS content
  FROM csv_rows
), back AS (
  SELECT r.*, row_number() OVER (ORDER BY r.line_no) AS i FROM file, outreach.csv_records(file.content) AS r
)
SELECT count(*) AS records,
       count(*) FILTER (WHERE back.error IS NOT NULL) AS errors,
       count(*) FILTER (WHERE back.fields IS DISTINCT FROM
                              array_replace(csv_rows.fields, NULL, '')) AS different,
       bool_and(back.terminated) AS all_terminated,
       max(back.line_no) AS last_line
FROM back JOIN csv_rows USING (i);

-- Files stored out of line (TOAST), compressed or not, read the same.
CREATE TEMP TABLE csv_files (storage text, content bytea);
ALTER TABLE csv_files ALTER COLUMN content SET STORAGE EXTERNAL;
INSERT INTO csv_files
SELECT 'external', convert_to(string_agg(outreach.csv_record(fields), E'\n' ORDER BY i), 'UTF8') FROM csv_rows;
ALTER TABLE csv_files ALTER COLUMN content SET STORAGE EXTENDED;
INSERT INTO csv_files
SELECT 'compressed', convert_to(string_agg(outreach.csv_record(ARRAY[i::text, 'Zoë', E'two\nlines']), E'\n' ORDER BY i), 'UTF8')
FROM generate_series(1, 2000) AS i;
SELECT f.storage, pg_column_compression(f.content) IS NOT NULL AS compressed, count(*) AS records,
       count(r.error) AS errors, max(r.line_no) AS last_line
FROM csv_files f, outreach.csv_records(f.content) r GROUP BY f.storage, f.content ORDER BY f.storage;

-- Permissions: pure utilities, callable by anyone, with an empty search_path.
CREATE ROLE regress_csv_user;
SET ROLE regress_csv_user;
SELECT outreach.csv_record(ARRAY['x', 'y,z']) AS as_plain_role,
       (SELECT count(*) FROM outreach.csv_records('\x610a'::bytea)) AS records;
RESET ROLE;
DROP ROLE regress_csv_user;
SET search_path TO '';
SELECT count(*) FROM outreach.csv_records('\x610a'::bytea);
RESET search_path;

-- export_line: one export record from column specs (the same bytes csv_record makes).
SET DateStyle = ISO;
SELECT outreach.export_line('{text,trim,date:DD/MM/YYYY,date:YYYYMMDD,code:f=F;female=F;m=M;*=U,text,text}'::text[],
                            'ref,1', '  Anne "Nan"  ', DATE '2008-02-09', DATE '2008-02-09', ' FEMALE ', 100123, NULL::text) AS line;
SELECT outreach.export_line('{code:f=F;*=U}'::text[], NULL::text) AS null_is_otherwise,
       outreach.export_line('{code:f=F}'::text[], 'x') AS unmatched_is_empty,
       outreach.export_line(ARRAY['code:a\=b=1\;2'], 'a=b') AS escaped_code,
       outreach.export_line('{date:DD-MM-YYYY,date:YYYY-MM-DD}'::text[], DATE '1999-12-31', DATE '1999-12-31') AS dates,
       outreach.export_line('{text}'::text[], ''::text) AS one_empty_field;
-- The same record as csv_record() of the formatted fields, for awkward values.
SELECT outreach.export_line('{text,trim,text}'::text[], v, v, v) = outreach.csv_record(ARRAY[v, btrim(v), v]) AS same
FROM (VALUES ('a,b'), (' lead'), ('quote"d'), (E'line\nbreak'), (E'\uFEFFbom'), ('')) AS t(v);
-- Bad specs and values: 22023 / 42804, naming the problem.
\set VERBOSITY terse
SELECT outreach.export_line('{text,text}'::text[], 'only one'::text);
SELECT outreach.export_line('{date:MM/DD/YYYY}'::text[], DATE '2000-01-01');
SELECT outreach.export_line('{shout}'::text[], 'x'::text);
SELECT outreach.export_line('{date:YYYY-MM-DD}'::text[], 'not a date'::text);
SELECT outreach.export_line('{trim}'::text[], 42);
SELECT outreach.export_line('{text}'::text[], VARIADIC ARRAY['x']);
SELECT outreach.export_line('{code:novalue}'::text[], 'x'::text);
\set VERBOSITY default
-- recipient_reference is pseudonymise of the reference's identifiers, for any ids.
SELECT count(*) FILTER (WHERE outreach.recipient_reference(c, p, 'recipient:ucas')
                              = outreach.pseudonymise('c' || c, 'p' || p, DATE '1900-01-01', 'GIR 0AA', 'recipient:ucas')::text) AS same,
       count(*) AS of
FROM (VALUES (1, 1::bigint), (-5, 77), (100, 4096), (2147483647, 9223372036854775807), (0, -1)) AS v(c, p);
