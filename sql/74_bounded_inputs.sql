-- Bounded inputs (0.7.0): every function a member or PUBLIC can call refuses an input longer
-- than any real value at once (22001, or 22023 for a count), with a message naming the limit
-- (core/limits.hpp); predicates answer false; the worst input of the allowed size completes
-- quickly, with a result of bounded size. See docs/decisions.md, "Hardening (0.7.0)".
SET search_path = regress, outreach, public;

-- Names: at most 1000 characters. U+FDFA decomposes to 18 code points (15 letters kept), the
-- largest expansion.
SELECT length(outreach.normalise_name(repeat(U&'\FDFA', 1000))) AS worst_name_letters,
       length(outreach.normalise_name(repeat('ﬃ', 1000))) AS ligature_letters,
       length(outreach.normalise_name(repeat('a', 1000))) AS ascii_letters;
SELECT regress.try($$SELECT length(outreach.normalise_name(repeat('a', 1001)))::text$$) AS ascii_1001,
       regress.try($$SELECT length(outreach.normalise_name(repeat(U&'\FDFA', 1001)))::text$$) AS fdfa_1001,
       regress.try($$SELECT length(outreach.normalise_name(repeat(U&'\FDFA', 2000000)))::text$$) AS fdfa_6_megabytes;
-- Counted in characters: 1000 four-byte characters are a name, 1001 are not.
SELECT length(outreach.normalise_name(repeat(U&'\+01D400', 1000))) AS math_bold_a_1000,
       regress.try($$SELECT length(outreach.normalise_name(repeat(U&'\+01D400', 1001)))::text$$) AS math_bold_a_1001;

-- A name of the limit stored out of line (TOAST, 4000 bytes) is read back and normalised;
-- 20_names' 3000-character name is now refused.
CREATE TEMP TABLE long_names_74 (n text);
ALTER TABLE long_names_74 ALTER COLUMN n SET STORAGE EXTERNAL;
INSERT INTO long_names_74 SELECT repeat(U&'\+01D400', 1000);
SELECT pg_column_size(n) AS stored_bytes, length(outreach.normalise_name(n)) AS normalised_length FROM long_names_74;

-- Pseudonyms: the names (1000 characters), the postcode (64 bytes) and the key scope (63 bytes).
SELECT outreach.pseudonymise(repeat(U&'\FDFA', 1000), repeat('ﬃ', 1000), '2007-03-01', 'SW1A 1AA') IS NOT NULL AS worst_names_signed;
SELECT regress.try($$SELECT outreach.pseudonymise(repeat('a', 1001), 'Smith', '2007-03-01', 'SW1A 1AA')::text$$) AS long_first,
       regress.try($$SELECT outreach.pseudonymise('Ann', repeat(U&'\FDFA', 1001), '2007-03-01', 'SW1A 1AA')::text$$) AS long_last,
       regress.try($$SELECT outreach.pseudonymise('Ann', 'Smith', '2007-03-01', repeat(' ', 60) || 'SW1A 1AA')::text$$) AS long_postcode,
       regress.try($$SELECT outreach.pseudonymise('Ann', 'Smith', '2007-03-01', 'SW1A 1AA', repeat('s', 64))::text$$) AS long_scope;
SELECT regress.try($$SELECT outreach.pseudo_id_matches(outreach.pseudonymise('Ann', 'Smith', '2007-03-01', 'SW1A 1AA'),
                     repeat('a', 5000), 'Smith', '2007-03-01', 'SW1A 1AA')::text$$) AS matches_long_first;

-- Postcodes: 64 bytes as typed, spaces included.
SELECT (repeat(' ', 56) || 'SW1A 1AA')::outreach.uk_postcode AS spaced_64_bytes;
SELECT regress.try($$SELECT (repeat(' ', 57) || 'SW1A 1AA')::outreach.uk_postcode::text$$) AS spaced_65_bytes,
       regress.try($$SELECT outreach.uk_postcode(repeat(' ', 10000000) || 'SW1A 1AA')::text$$) AS from_text_10_megabytes,
       outreach.is_valid_postcode(repeat(' ', 57) || 'SW1A 1AA') AS is_valid_65_bytes,
       outreach.is_valid_postcode(repeat(' ', 56) || 'SW1A 1AA') AS is_valid_64_bytes;

-- pseudo_id text: 64 bytes.
SELECT regress.try($$SELECT ('1-' || repeat('0', 63))::outreach.pseudo_id::text$$) AS pseudo_id_65_bytes,
       regress.try($$SELECT ('1-' || repeat('0', 62))::outreach.pseudo_id::text$$) AS pseudo_id_64_bytes;

-- UPN and ULN: 64 bytes.
SELECT regress.try($$SELECT outreach.validate_upn(repeat('A', 65))::text$$) AS validate_upn_65,
       regress.try($$SELECT outreach.validate_uln(repeat('1', 65))::text$$) AS validate_uln_65,
       regress.try($$SELECT outreach.upn_check_letter(repeat('1', 65))$$) AS upn_check_letter_65,
       regress.try($$SELECT outreach.uln_check_digit(repeat('1', 65))$$) AS uln_check_digit_65,
       outreach.is_valid_upn(repeat('A', 65)) AS is_valid_upn_65,
       outreach.is_valid_uln(repeat('1', 65)) AS is_valid_uln_65;

-- csv_record: what the CSV reader accepts, 1000 fields and 1 MB of field bytes.
SELECT length(outreach.csv_record(array_fill('"'::text, ARRAY[1000]))) AS quotes_1000_fields,
       length(outreach.csv_record(ARRAY[repeat('"', 1048576)])) AS quotes_one_megabyte;
SELECT regress.try($$SELECT length(outreach.csv_record(array_fill('x'::text, ARRAY[1001])))::text$$) AS fields_1001,
       regress.try($$SELECT length(outreach.csv_record(ARRAY[repeat('x', 1048576), 'y']))::text$$) AS bytes_1048577;

-- academic_year_label: every int has its label (no overflow at the limits).
SELECT outreach.academic_year_label(2147483647) AS int_max, outreach.academic_year_label(2147483646) AS int_max_less_1,
       outreach.academic_year_label(-2147483648) AS int_min, outreach.academic_year_label(-1) AS minus_one,
       outreach.academic_year_label(1999) AS y1999;

-- Inputs already bounded by what they are compared with: a nation or an access level of
-- 10 MB is refused at once (22023), its message showing 40 bytes of it.
SELECT regress.try($$SELECT outreach.expected_he_entry_year('2007-03-01', repeat('x', 10000000))::text$$) AS long_nation;

-- The worst inputs of the allowed sizes, many times: quickly (100 rounds, 200 MB of results, well under 20 s).
DO $$
DECLARE
  started timestamptz := clock_timestamp();
  n bigint := 0;
BEGIN
  FOR i IN 1..100 LOOP
    n := n + length(outreach.normalise_name(repeat(U&'\FDFA', 1000)));
    n := n + length(outreach.pseudonymise(repeat(U&'\FDFA', 1000), repeat(U&'\FDFA', 1000), '2007-03-01',
                                          repeat(' ', 56) || 'SW1A 1AA')::text);
    n := n + length(outreach.csv_record(array_fill(repeat('"', 1000), ARRAY[1000])));
  END LOOP;
  RAISE NOTICE 'worst cases: % bytes of results, quick: %', n, clock_timestamp() - started < interval '20 seconds';
END $$;
