SET search_path = regress, outreach, public;

-- Input: any case and spacing gives the canonical form.
SELECT left(input, 20) AS input, regress.try(format('SELECT %L::outreach.uk_postcode::text', input)) AS result
FROM (VALUES
  ('SW1A 1AA'), ('sw1a1aa'), (' SW1A  1AA '), (E'sw1a\t1aa'), ('m1 1ae'), ('M601NW'), ('CR2 6XH'),
  ('DN55 1PT'), ('W1A 1HQ'), ('EC1A 1BB'), ('B1 6SR'), ('B10 1AA'), ('N1P 2AA'), ('GIR 0AA'), ('gir0aa'),
  ('GY1 1AA'), ('JE2 3AB'), ('IM1 1AA'), ('BF1 3AA'), ('bf13aa'), ('S W 1 A 1 A A')
) AS t(input);

-- Rejections: SQLSTATE 22P02 and a message naming the value and what is wrong.
SELECT left(input, 20) AS input, regress.try(format('SELECT %L::outreach.uk_postcode::text', input)) AS result
FROM (VALUES
  (''), ('   '), ('SW1A'), ('SW1A 1AAA'), ('SW1A-1AA'), ('SW1A 1ÄA'), ('QA1 1AA'), ('VA1 1AA'), ('XA1 1AA'),
  ('AI1 1AA'), ('AJ1 1AA'), ('AZ1 1AA'), ('A1I 1AA'), ('A1Q 1AA'), ('AA1C 1AA'), ('AA1D 1AA'),
  ('SW1A 1AC'), ('SW1A 1IA'), ('SW1A 1KA'), ('SW1A 1MA'), ('SW1A 1OA'), ('SW1A 1VA'), ('SW1A AAA'),
  ('SW1A 11A'), ('1W1A 1AA'), ('SWAA 1AA'), ('S1AA 1AA'), ('ZZ99 9ZZ'), ('GX11 1AA'), ('ASCN 1ZZ'),
  ('BFPO 1234'), (repeat('A', 200))
) AS t(input);

-- is_valid_postcode never raises.
SELECT left(input, 20) AS input, outreach.is_valid_postcode(input)
FROM (VALUES ('SW1A 1AA'), ('sw1a1aa'), ('QA1 1AA'), (''), ('not a postcode at all'), (repeat('9', 1000)),
             (NULL)) AS t(input);

-- Parts of a postcode.
SELECT p, outreach.postcode_outward(p), outreach.postcode_inward(p), outreach.postcode_area(p),
       outreach.postcode_district(p), outreach.postcode_sector(p)
FROM (VALUES ('SW1A 1AA'::outreach.uk_postcode), ('M1 1AE'), ('B33 8TH'), ('CR2 6XH'), ('W1A 1HQ'),
             ('GIR 0AA'), ('BF1 3AA')) AS t(p);

-- Casts: from text (assignment), to text, and NULL passes through.
CREATE TABLE pc_cast (p outreach.uk_postcode, t text);
INSERT INTO pc_cast (p) SELECT 'ec1a1bb'::text;
INSERT INTO pc_cast (p) VALUES (NULL);
UPDATE pc_cast SET t = p;
SELECT p, t, pg_typeof(p) FROM pc_cast ORDER BY p NULLS LAST;
SELECT regress.try($$INSERT INTO pc_cast (p) SELECT 'QQ1 1QQ'::text$$);
SELECT count(*) AS rows_after_failed_insert FROM pc_cast;

-- Storage: 8 bytes, passed by value.
SELECT typlen, typbyval, typalign FROM pg_type WHERE oid = 'outreach.uk_postcode'::regtype;
SELECT pg_column_size('SW1A 1AA'::outreach.uk_postcode);

-- Ordering equals the byte order of the canonical text.
CREATE TABLE pc_order AS
SELECT p::outreach.uk_postcode AS p
FROM (VALUES ('SW1A 1AA'), ('SW1 1AA'), ('B10 1AA'), ('B1 1AA'), ('BA1 1AA'), ('A1 1AA'), ('E1 6AN'),
             ('E16 1AA'), ('E1W 1AA'), ('GIR 0AA'), ('ZE1 0AA'), ('M1 1AE'), ('M11 1AA'), ('M1A 1AA')) AS t(p);
SELECT array_agg(p ORDER BY p) = array_agg(p ORDER BY p::text COLLATE "C") AS same_order,
       array_agg(p ORDER BY p) AS sorted
FROM pc_order;
SELECT 'A1 1AA'::outreach.uk_postcode < 'A1A 1AA', 'B1 1AA'::outreach.uk_postcode = 'b11aa',
       'B1 1AA'::outreach.uk_postcode <> 'B1 1AB', 'B2 1AA'::outreach.uk_postcode >= 'B10 1AA',
       outreach.uk_postcode_cmp('B1 1AA', 'B1 1AB');

-- Indexes: btree and hash are used; hash joins and grouping work.
CREATE TABLE pc_many AS
SELECT i, (chr(65 + i % 16) || (i % 9 + 1) || ' ' || (i % 10) || 'A' || chr(65 + (i / 7) % 2))::outreach.uk_postcode AS p
FROM generate_series(0, 9999) AS i
WHERE chr(65 + i % 16) NOT IN ('I', 'J', 'Q');
CREATE INDEX pc_many_btree ON pc_many (p);
ANALYZE pc_many;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM pc_many WHERE p = 'B2 1AA';
EXPLAIN (COSTS OFF) SELECT count(*) FROM pc_many WHERE p BETWEEN 'B1 1AA' AND 'C1 1AA';
SELECT count(*) FROM pc_many WHERE p = 'B2 1AA';
SELECT count(*) FROM pc_many WHERE p BETWEEN 'B1 1AA' AND 'C1 1AA';
DROP INDEX pc_many_btree;
CREATE INDEX pc_many_hash ON pc_many USING hash (p);
EXPLAIN (COSTS OFF) SELECT count(*) FROM pc_many WHERE p = 'B2 1AA';
SELECT count(*) FROM pc_many WHERE p = 'B2 1AA';
RESET enable_seqscan;
SET enable_mergejoin = off;
SET enable_nestloop = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM pc_many a JOIN pc_order b ON a.p = b.p;
SELECT count(*) FROM pc_many a JOIN pc_order b ON a.p = b.p;
RESET enable_mergejoin;
RESET enable_nestloop;
SELECT count(DISTINCT p) AS distinct_postcodes, (SELECT count(*) FROM (SELECT p FROM pc_many GROUP BY p) g) AS groups
FROM pc_many;

-- Round trips: text and binary COPY. Binary input validates exactly like text input.
SELECT current_setting('regress.keydir') || '/postcodes.bin' AS binfile \gset
COPY pc_order TO :'binfile' (FORMAT binary);
CREATE TABLE pc_back (p outreach.uk_postcode);
COPY pc_back FROM :'binfile' (FORMAT binary);
SELECT (SELECT array_agg(p ORDER BY p) FROM pc_back) = (SELECT array_agg(p ORDER BY p) FROM pc_order) AS binary_round_trip;
CREATE TABLE pc_text_source (t text);
INSERT INTO pc_text_source VALUES ('sw1a 1aa');
COPY pc_text_source TO :'binfile' (FORMAT binary);
COPY pc_back FROM :'binfile' (FORMAT binary);
SELECT p FROM pc_back WHERE p = 'SW1A 1AA';
TRUNCATE pc_text_source;
INSERT INTO pc_text_source VALUES ('QA1 1AA');
COPY pc_text_source TO :'binfile' (FORMAT binary);
SELECT regress.try(format('COPY pc_back FROM %L (FORMAT binary)', :'binfile'));
SELECT p::text::outreach.uk_postcode = p AS text_round_trip, count(*) FROM pc_many GROUP BY 1;
