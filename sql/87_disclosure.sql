-- Statistical disclosure control (issue 14, docs/disclosure.md): rounding and suppression at
-- every boundary under both policies, the markers a published table shows, secondary
-- suppression of a total, and every refused input with its SQLSTATE.
SET search_path = regress, outreach, public;

-- Counts: HESA nearest 5 with 0..2 -> 0; OfS nearest 10 with 0..2 suppressed ([DPL]).
SELECT n, round_hesa(n) AS hesa, round_ofs(n) AS ofs_rounded, sdc_count(n) AS hesa_published,
       sdc_count(n, 'ofs') AS ofs_published, sdc_count_marker(n, 'ofs') AS ofs_marker,
       sdc_count_marker(n) AS hesa_marker
FROM unnest(ARRAY[0, 1, 2, 3, 4, 5, 7, 8, 12, 13, 14, 15, 17, 18]::bigint[]) AS n ORDER BY n;
-- integer and bigint arguments give the same answers (the integer forms exist for literals)
SELECT round_hesa(13) AS int4, round_hesa(13::bigint) AS int8, sdc_count(2, 'OFS') AS any_case_policy;
SELECT round_hesa(9223372036854775807) AS int8_max_hesa, round_ofs(9223372036854775804) AS ofs_just_below;

-- Fractional counts (FPE), exact: under 2.5 -> 0, 2.5 -> 5, halves up.
SELECT x, round_hesa(x) AS hesa, round_ofs(x) AS ofs, sdc_count(x) AS hesa_published, sdc_count(x, 'ofs') AS ofs_published
FROM unnest(ARRAY[0, 2, 2.4, 2.4999999999999999999, 2.5, 7.49, 7.5, 12.5, 14.99, 15]::numeric[]) AS x ORDER BY x;

-- Percentages on unrounded values, 1 decimal place: HESA needs a base of 22.5 (22 suppressed,
-- 23 shown) and here also a part over 2 and more than 2 below the base (else the percentage
-- would tell the 1 or 2 people a count of 0 hides); OfS a base of 23 and the same of the part.
SELECT part, base, sdc_percent(part, base) AS hesa, sdc_marker(part, base) AS hesa_marker,
       sdc_percent(part, base, 'ofs') AS ofs, sdc_marker(part, base, 'ofs') AS ofs_marker
FROM (VALUES (1, 2), (1, 22), (1, 23), (3, 22), (3, 23), (2, 30), (0, 30), (28, 30), (27, 30), (30, 30),
             (1, 80), (3, 80), (77, 80), (78, 80)) AS t(part, base);
-- Fractional bases: 22.4 is under 22.5 (suppressed by HESA), 22.5 is not; both are under
-- OfS's 23.
SELECT base, sdc_percent(5, base) AS hesa, sdc_marker(5, base) AS hesa_marker,
       sdc_percent(5, base, 'ofs') AS ofs, sdc_marker(5, base, 'ofs') AS ofs_marker
FROM unnest(ARRAY[22, 22.4, 22.4999, 22.5, 23]::numeric[]) AS base ORDER BY base;
SELECT sdc_percent(3::numeric, 80::numeric) AS numeric_form, sdc_percent(3, 80) AS bigint_form,
       sdc_percent(2.5, 80) AS numeric_part_over_2, sdc_percent(2, 80.0) AS numeric_part_2;

-- Means: suppressed for 7 or fewer people, 1 decimal place.
SELECT n, sdc_mean(100, n) AS hesa, sdc_mean(100, n, 'ofs') AS ofs FROM unnest(ARRAY[1, 7, 8, 9]::bigint[]) AS n;
SELECT sdc_mean(-12.5, 8) AS negative_total_allowed;

-- One table: a total and its parts. Three parts of 7 (shown 5, so 3..7), a 2 (shown 0, so
-- 0..2) and their total 23 (shown 25, so 23..27) would give the 2 away (23 - 3 * 7 = 2): the
-- total is suppressed. With a 3 instead of the 2 nothing can be pinned, and the total shows.
SELECT sdc_total(ARRAY[7, 7, 7, 2]::bigint[]) AS total_pinning_a_2, sdc_total_publishable(ARRAY[7, 7, 7, 2]::bigint[]) AS publishable,
       sdc_total(ARRAY[7, 7, 7, 3]::bigint[]) AS total_of_7_7_7_3, sdc_total(ARRAY[1]::bigint[], 'ofs') AS ofs_small_total,
       sdc_total(ARRAY[40, 1]::bigint[], 'ofs') AS ofs_total_40_1;

-- The policies, for documentation and BI tools.
SELECT policy, is_default, rounding_base, small_count_max, small_count_shown, percent_min_base,
       mean_max_suppressed, suppressed_marker FROM disclosure_policies();

-- Refused input: an unknown policy is 42704 (the hint names the known ones); negative counts,
-- a base of 0, a part greater than its base are 22023.
SELECT regress.try($$SELECT sdc_count(5, 'ons')::text$$) AS unknown_policy,
       regress.try($$SELECT sdc_percent(5, 30, '')::text$$) AS empty_policy,
       regress.try($$SELECT sdc_count(5, repeat('x', 10000000))::text$$) AS long_policy;
\set VERBOSITY verbose
SELECT sdc_mean(10, 8, 'gss');
\set VERBOSITY default
SELECT regress.try($$SELECT round_hesa(-1)::text$$) AS round_hesa_negative,
       regress.try($$SELECT round_hesa(-0.5)::text$$) AS round_hesa_numeric_negative,
       regress.try($$SELECT round_ofs('NaN'::numeric)::text$$) AS round_ofs_nan,
       regress.try($$SELECT round_hesa('Infinity'::numeric)::text$$) AS round_hesa_infinity,
       regress.try($$SELECT round_ofs(9223372036854775805)::text$$) AS round_ofs_overflow,
       regress.try($$SELECT sdc_count(-3, 'ofs')::text$$) AS sdc_count_negative,
       regress.try($$SELECT sdc_count_marker(-3)::text$$) AS marker_negative;
SELECT regress.try($$SELECT sdc_percent(1, 0)::text$$) AS base_0,
       regress.try($$SELECT sdc_percent(0, 0, 'ofs')::text$$) AS zero_of_0,
       regress.try($$SELECT sdc_percent(0::numeric, 0.0)::text$$) AS numeric_base_0,
       regress.try($$SELECT sdc_marker(1, 0)::text$$) AS marker_base_0,
       regress.try($$SELECT sdc_percent(-1, 30)::text$$) AS part_negative,
       regress.try($$SELECT sdc_percent(31, 30)::text$$) AS part_over_base,
       regress.try($$SELECT sdc_percent(30.5, 30)::text$$) AS numeric_part_over_base;
SELECT regress.try($$SELECT sdc_mean(10, 0)::text$$) AS mean_of_0_people,
       regress.try($$SELECT sdc_mean(10, -8)::text$$) AS mean_negative_people,
       regress.try($$SELECT sdc_mean('NaN', 8)::text$$) AS mean_nan_total,
       regress.try($$SELECT sdc_total(ARRAY[5, -1]::bigint[])::text$$) AS total_negative_part,
       regress.try($$SELECT sdc_total(ARRAY[]::bigint[])::text$$) AS total_no_parts,
       regress.try($$SELECT sdc_total(ARRAY[5, NULL]::bigint[])::text$$) AS total_null_part,
       regress.try($$SELECT sdc_total(ARRAY[[5, 5]]::bigint[])::text$$) AS total_two_dimensions,
       regress.try($$SELECT sdc_total(ARRAY[9223372036854775807, 1]::bigint[])::text$$) AS total_overflow;

-- NULL in, NULL out (STRICT); and the roles that publish can call them.
SELECT sdc_count(NULL::bigint) IS NULL AS null_count, sdc_percent(1, NULL) IS NULL AS null_base,
       sdc_count(5, NULL) IS NULL AS null_policy;
SELECT r AS role, has_function_privilege(r, 'outreach.sdc_count(bigint, text)', 'EXECUTE') AS sdc_count,
       has_function_privilege(r, 'outreach.round_hesa(bigint)', 'EXECUTE') AS round_hesa,
       has_function_privilege(r, 'outreach.disclosure_policies()', 'EXECUTE') AS policies
FROM unnest(ARRAY['outreach_bi', 'outreach_analyst', 'outreach_reader']) AS r;

-- In a query: a disclosure-controlled aggregate, each cell rounded independently.
SELECT g % 3 AS grp, count(*) AS raw, sdc_count(count(*)) AS hesa, sdc_count(count(*), 'ofs') AS ofs,
       sdc_percent(count(*) FILTER (WHERE g % 2 = 0), count(*)) AS pct_even
FROM generate_series(1, 70) AS g GROUP BY 1 ORDER BY 1;
