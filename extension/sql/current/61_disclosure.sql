-- Statistical disclosure control (issue 14, docs/disclosure.md): the rounding and suppression
-- every figure leaving a member's own rows goes through. Policies: 'hesa' (the default) and
-- 'ofs'. All are pure functions of their arguments (no table, no catalog lookup, the policy
-- parsed once per query), so they are IMMUTABLE and cheap enough to wrap any aggregate.
-- EXECUTE stays with PUBLIC (granted explicitly below): they reveal nothing but arithmetic on
-- their arguments, and views for outreach_bi and outreach_analyst, security_invoker or not,
-- must be able to call them whoever owns or queries the view.

CREATE OR REPLACE FUNCTION outreach.round_hesa(n bigint) RETURNS bigint
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.round_hesa(bigint) IS
  'HESA rounding of a count: 0, 1, 2 -> 0, otherwise the nearest multiple of 5, halves up; 22023 for a negative count';

CREATE OR REPLACE FUNCTION outreach.round_hesa(x numeric) RETURNS numeric
  AS 'MODULE_PATHNAME', 'round_hesa_numeric' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.round_hesa(numeric) IS
  'HESA rounding of a fractional count (FPE): floor(x/5 + 0.5)*5, exact, so under 2.5 -> 0 and 2.5 -> 5; 22023 for negative, NaN or Infinity';

CREATE OR REPLACE FUNCTION outreach.round_ofs(n bigint) RETURNS bigint
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.round_ofs(bigint) IS
  'OfS rounding of a count: the nearest multiple of 10, halves up (rounding only: sdc_count also suppresses 0..2); 22023 for a negative count';

CREATE OR REPLACE FUNCTION outreach.round_ofs(x numeric) RETURNS numeric
  AS 'MODULE_PATHNAME', 'round_ofs_numeric' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.round_ofs(numeric) IS
  'OfS rounding of a fractional count: floor(x/10 + 0.5)*10, exact; 22023 for negative, NaN or Infinity';

CREATE OR REPLACE FUNCTION outreach.sdc_count(n bigint, policy text DEFAULT 'hesa') RETURNS bigint
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.sdc_count(bigint, text) IS
  'a count as published under the policy: hesa rounds (0..2 show 0); ofs rounds to 10 and gives NULL for 0..2 (show sdc_count_marker); 42704 for an unknown policy';

CREATE OR REPLACE FUNCTION outreach.sdc_count(x numeric, policy text DEFAULT 'hesa') RETURNS numeric
  AS 'MODULE_PATHNAME', 'sdc_count_numeric' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.sdc_count(numeric, text) IS
  'a fractional count (FPE) as published under the policy, as sdc_count(bigint, text)';

CREATE OR REPLACE FUNCTION outreach.sdc_count_marker(n bigint, policy text DEFAULT 'hesa') RETURNS text
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.sdc_count_marker(bigint, text) IS
  'what a published table shows instead of a suppressed count ([DPL] for 0..2 under ofs), NULL when sdc_count shows it';

CREATE OR REPLACE FUNCTION outreach.sdc_percent(part bigint, base bigint, policy text DEFAULT 'hesa') RETURNS numeric
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.sdc_percent(bigint, bigint, text) IS
  '100*part/base on unrounded values, 1 decimal place halves up; NULL when suppressed (hesa: base under 22.5; ofs: base under 23, part <= 2 or within 2 of base); 22023 for negatives, base 0 or part > base';

CREATE OR REPLACE FUNCTION outreach.sdc_percent(part numeric, base numeric, policy text DEFAULT 'hesa') RETURNS numeric
  AS 'MODULE_PATHNAME', 'sdc_percent_numeric' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.sdc_percent(numeric, numeric, text) IS
  'sdc_percent of fractional part and base (FPE), thresholds compared exactly (hesa: 22.4 suppressed, 22.5 shown)';

CREATE OR REPLACE FUNCTION outreach.sdc_marker(part bigint, base bigint, policy text DEFAULT 'hesa') RETURNS text
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.sdc_marker(bigint, bigint, text) IS
  'what a published table shows instead of a suppressed percentage (hesa ..; ofs [none], [low], [DPL], [DPH]), NULL when sdc_percent shows it';

CREATE OR REPLACE FUNCTION outreach.sdc_marker(part numeric, base numeric, policy text DEFAULT 'hesa') RETURNS text
  AS 'MODULE_PATHNAME', 'sdc_marker_numeric' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.sdc_marker(numeric, numeric, text) IS
  'sdc_marker of fractional part and base (FPE)';

CREATE OR REPLACE FUNCTION outreach.sdc_mean(total numeric, n bigint, policy text DEFAULT 'hesa') RETURNS numeric
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.sdc_mean(numeric, bigint, text) IS
  'total/n to 1 decimal place, NULL when n <= 7 people (show the policy''s suppressed_marker); 22023 for n <= 0 or a non-finite total';

CREATE OR REPLACE FUNCTION outreach.sdc_total_publishable(parts bigint[], policy text DEFAULT 'hesa') RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.sdc_total_publishable(bigint[], text) IS
  'false when the rounded total published beside the parts'' published counts would pin a part or the total to one true value';

CREATE OR REPLACE FUNCTION outreach.sdc_total(parts bigint[], policy text DEFAULT 'hesa') RETURNS bigint
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.sdc_total(bigint[], text) IS
  'the published total of these parts: sdc_count of their sum, or NULL when suppressed (sdc_total_publishable false: secondary suppression)';

CREATE OR REPLACE FUNCTION outreach.disclosure_policies()
  RETURNS TABLE (policy text, is_default boolean, rounding_base integer, small_count_max integer,
                 small_count_shown text, percent_min_base numeric, mean_max_suppressed integer,
                 suppressed_marker text, description text)
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 2;
COMMENT ON FUNCTION outreach.disclosure_policies() IS
  'the compiled-in disclosure policies and their parameters, for documentation and BI tools';

-- integer forms: without them an integer argument (a literal, a sum of int4) would fit the
-- bigint and the numeric form equally, and PostgreSQL would refuse the call as ambiguous.
-- Standard SQL bodies (parsed at creation, so no caller's search_path reaches them) that
-- the planner inlines, so they cost nothing.
CREATE OR REPLACE FUNCTION outreach.round_hesa(n integer) RETURNS bigint
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE RETURN outreach.round_hesa(n::bigint);
COMMENT ON FUNCTION outreach.round_hesa(integer) IS 'round_hesa(bigint) of an integer';
CREATE OR REPLACE FUNCTION outreach.round_ofs(n integer) RETURNS bigint
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE RETURN outreach.round_ofs(n::bigint);
COMMENT ON FUNCTION outreach.round_ofs(integer) IS 'round_ofs(bigint) of an integer';
CREATE OR REPLACE FUNCTION outreach.sdc_count(n integer, policy text DEFAULT 'hesa') RETURNS bigint
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE RETURN outreach.sdc_count(n::bigint, policy);
COMMENT ON FUNCTION outreach.sdc_count(integer, text) IS 'sdc_count(bigint, text) of an integer';
CREATE OR REPLACE FUNCTION outreach.sdc_percent(part integer, base integer, policy text DEFAULT 'hesa') RETURNS numeric
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE RETURN outreach.sdc_percent(part::bigint, base::bigint, policy);
COMMENT ON FUNCTION outreach.sdc_percent(integer, integer, text) IS 'sdc_percent(bigint, bigint, text) of integers';
CREATE OR REPLACE FUNCTION outreach.sdc_marker(part integer, base integer, policy text DEFAULT 'hesa') RETURNS text
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE RETURN outreach.sdc_marker(part::bigint, base::bigint, policy);
COMMENT ON FUNCTION outreach.sdc_marker(integer, integer, text) IS 'sdc_marker(bigint, bigint, text) of integers';

GRANT EXECUTE ON FUNCTION outreach.round_hesa(bigint), outreach.round_hesa(numeric), outreach.round_ofs(bigint),
  outreach.round_ofs(numeric), outreach.sdc_count(bigint, text), outreach.sdc_count(numeric, text),
  outreach.sdc_count_marker(bigint, text), outreach.sdc_percent(bigint, bigint, text),
  outreach.sdc_percent(numeric, numeric, text), outreach.sdc_marker(bigint, bigint, text),
  outreach.sdc_marker(numeric, numeric, text), outreach.sdc_mean(numeric, bigint, text),
  outreach.sdc_total_publishable(bigint[], text), outreach.sdc_total(bigint[], text),
  outreach.disclosure_policies(), outreach.round_hesa(integer), outreach.round_ofs(integer),
  outreach.sdc_count(integer, text), outreach.sdc_percent(integer, integer, text),
  outreach.sdc_marker(integer, integer, text) TO PUBLIC;
