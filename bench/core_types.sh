#!/usr/bin/env bash
# Benchmark of the extension's core functions against what a SQL author would write without it.
# It prints ratios measured within one run (ratio = baseline time / candidate time, so > 1 means
# the extension is faster), never absolute times as a criterion: the machine may be noisy.
#
#   bash bench/core_types.sh                       1,000,000 rows, 5 timed runs per query
#   BENCH_ROWS=200000 BENCH_RUNS=7 bash bench/core_types.sh
#
# Environment: BENCH_ROWS (rows of synthetic identifiers, default 1000000), BENCH_RUNS (timed
# runs per query, default 5), BENCH_PORT (port of the throwaway cluster, default 55450),
# BENCH_JIT (on|off, default off: both sides are then interpreted the same way).
#
# What it does: starts a throwaway cluster "bench" (scripts/lib/cluster.sh; stopped on exit),
# builds an UNLOGGED table of synthetic people (names with ~5% accents and a few apostrophes and
# hyphens, birth dates 1995-2015, valid UK postcodes from a pool of 50,000 in mixed case and
# spacing), VACUUM ANALYZEs and warms it, checks that the baselines and the extension agree on
# samples (fails loudly when not), then times each pair of queries inside one backend with
# clock_timestamp() deltas: one untimed warm-up each, then baseline and candidate interleaved
# (A B A B ...), BENCH_RUNS times, medians compared. Queries aggregate (count/sum) so no result
# transfer is timed, and run with max_parallel_workers_per_gather = 0.
#
# Baselines: pgcrypto's hmac() of the '|'-joined identifiers under a random 32-byte key bound
# once as a bytea parameter (hmac() has no (text, bytea) form, so the message goes through
# convert_to(..., 'UTF8')); md5() of the same text; the usual regular expression on the
# upper-cased, space-stripped postcode; the England entry-year rule as an SQL function and as a
# PL/pgSQL function (bench schema, see below).
#
# Output (stdout): a '#' header, one line "<name>: <ratio>" per comparison, a '# info' line for
# the non-inlinable SQL form of the entry year, '# detail' lines with the medians (information
# only), "# goal <name> >= X: met|NOT met" lines, and "# condition" lines: the machine and the
# cluster it ran on (bench/lib/conditions.sh). Progress goes to stderr.
# Exit status 0 whether goals are met or not; non-zero when something fails or a check disagrees.
set -euo pipefail

here="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
root="$(cd -- "$here/.." && pwd -P)"

rows="${BENCH_ROWS:-1000000}"
runs="${BENCH_RUNS:-5}"
port="${BENCH_PORT:-55450}"
jit="${BENCH_JIT:-off}"
if ! [[ "$rows" =~ ^[1-9][0-9]*$ && "$runs" =~ ^[1-9][0-9]*$ && "$port" =~ ^[1-9][0-9]*$ ]]; then
	echo "core_types: BENCH_ROWS, BENCH_RUNS and BENCH_PORT must be positive whole numbers" >&2
	exit 2
fi
if [[ "$jit" != on && "$jit" != off ]]; then
	echo "core_types: BENCH_JIT must be on or off" >&2
	exit 2
fi

# shellcheck source-path=SCRIPTDIR/.. source=scripts/lib/cluster.sh
source "$root/scripts/lib/cluster.sh"
source "$root/bench/lib/conditions.sh"
bench_conditions_start

log() { printf 'core_types: %s\n' "$*" >&2; }

trap 'cluster_stop' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "starting throwaway cluster \"bench\" on port $port"
cluster_start bench "$port" >&2

export PGOPTIONS="-c client_min_messages=warning"
psql_run() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

psql_run -c "CREATE EXTENSION outreach; CREATE EXTENSION pgcrypto;"

# --------------------------------------------------------------------------------------------
log "generating $rows rows of synthetic identifiers"
psql_run -v rows="$rows" >/dev/null <<'SQL'
CREATE SCHEMA bench;
SELECT setseed(0.4242);

-- Postcode districts: the real postcode areas with 1- or 2-digit districts, plus the central
-- London districts whose outward code ends in a letter (the A9A and AA9A forms).
CREATE UNLOGGED TABLE bench.district AS
WITH areas(a) AS (
  SELECT unnest(string_to_array(
    'AB AL B BA BB BD BH BL BN BR BS BT CA CB CF CH CM CO CR CT CV CW DA DD DE DG DH DL DN DT DY '
    'E EC EH EN EX FK FY G GL GU HA HD HG HP HR HS HU HX IG IP IV KA KT KW KY L LA LD LE LL LN LS '
    'LU M ME MK ML N NE NG NN NP NR NW OL OX PA PE PH PL PO PR RG RH RM S SA SE SG SK SL SM SN SO '
    'SP SR SS ST SW SY TA TD TF TN TQ TR TS TW UB W WA WC WD WF WN WR WS WV YO ZE', ' '))
)
SELECT a || n AS d FROM areas, generate_series(1, 28) n WHERE length(a) = 2 OR n <= 20
UNION ALL
SELECT unnest(string_to_array(
  'EC1A EC1M EC1N EC1R EC1V EC1Y EC2A EC2M EC2N EC2R EC2V EC2Y EC3A EC3M EC3N EC3P EC3R EC3V '
  'EC4A EC4M EC4N EC4R EC4V EC4Y WC1A WC1B WC1E WC1H WC1N WC1R WC1V WC1X WC2A WC2B WC2E WC2H '
  'WC2N WC2R SW1A SW1E SW1H SW1P SW1V SW1W SW1X SW1Y NW1W SE1P W1A W1B W1C W1D W1F W1G W1H W1J '
  'W1K W1S W1T W1U W1W E1W N1C N1P', ' '));

-- 50,000 distinct postcodes (compact, upper case): district, sector digit, and two of the
-- letters allowed in an inward code (never C, I, K, M, O or V).
CREATE UNLOGGED TABLE bench.postcode_pool AS
WITH d AS (SELECT array_agg(d ORDER BY d) AS ds FROM bench.district),
     cand AS (
       SELECT DISTINCT pc FROM (
         SELECT ds[1 + floor(random() * cardinality(ds))::int]
                || floor(random() * 10)::int
                || substr('ABDEFGHJLNPQRSTUWXYZ', 1 + floor(random() * 20)::int, 1)
                || substr('ABDEFGHJLNPQRSTUWXYZ', 1 + floor(random() * 20)::int, 1) AS pc
           FROM d, generate_series(1, 60000)) s)
SELECT row_number() OVER (ORDER BY random())::int AS id, pc FROM cand ORDER BY id LIMIT 50000;

CREATE UNLOGGED TABLE bench.people AS
WITH draws AS (
  SELECT g AS id, random() AS r_kind, random() AS r_first, random() AS r_last, random() AS r_case,
         1 + floor(random() * (SELECT count(*) FROM bench.postcode_pool))::int AS pc_id, random() AS r_fmt,
         date '1995-01-01' + floor(random() * (date '2015-12-31' - date '1995-01-01' + 1))::int AS date_of_birth
    FROM generate_series(1, :rows) g
), named AS (
  SELECT d.*,
    CASE WHEN r_kind < 0.03   -- accented first names
         THEN (ARRAY['Zoë','Chloé','Renée','Anaïs','Noël','Béatrice','François','Amélie','Loïc','José',
                     'Léa','Hélène','Jérôme','Maëlle','Siân','Seán','Rónán','Aoife','Côme','Raphaël'])
              [1 + floor(r_first * 20)::int]
         ELSE (ARRAY['Oliver','Amelia','George','Isla','Harry','Ava','Noah','Mia','Jack','Ivy','Leo','Lily',
                     'Arthur','Grace','Muhammad','Sophia','Oscar','Freya','Charlie','Florence','Jacob','Ella',
                     'Thomas','Emily','Henry','Evie','William','Poppy','Alfie','Isabella','Theo','Willow',
                     'Joshua','Rosie','James','Sienna','Archie','Daisy','Ethan','Olivia','Mohammed','Aisha',
                     'Priya','Ravi','Kwame','Adaeze','Wei','Hannah','Daniel','Chloe'])
              [1 + floor(r_first * 50)::int]
    END AS f,
    CASE WHEN r_kind >= 0.03 AND r_kind < 0.05   -- accented last names
         THEN (ARRAY['Brontë','Léger','Núñez','Müller','Gómez','Côté','Hernández','Søren','Doğan','Ó Briain',
                     'Dupré','Lefèvre','Pérez','Schäfer','Nuñez'])[1 + floor(r_last * 15)::int]
         WHEN r_kind >= 0.05 AND r_kind < 0.065  -- apostrophes, hyphens, dots and spaces
         THEN (ARRAY['O''Brien','D''Arcy','O''Neill','Smith-Jones','Bowes-Lyon','Lloyd-Webber','McDonald-Hughes',
                     'O''Connor-Smith','St. John','Ap Rhys'])[1 + floor(r_last * 10)::int]
         ELSE (ARRAY['Smith','Jones','Williams','Taylor','Brown','Davies','Evans','Wilson','Thomas','Johnson',
                     'Roberts','Robinson','Thompson','Wright','Walker','White','Edwards','Hughes','Green','Hall',
                     'Lewis','Harris','Clarke','Patel','Jackson','Wood','Turner','Martin','Cooper','Hill',
                     'Ward','Morris','Moore','Clark','Lee','King','Baker','Harrison','Morgan','Allen',
                     'James','Scott','Phillips','Watson','Davis','Parker','Price','Bennett','Young','Khan',
                     'Begum','Ali','Hussain','Singh','Kaur','Okafor','Nguyen','Kowalski','Campbell','Murphy'])
              [1 + floor(r_last * 60)::int]
    END AS l
  FROM draws d
)
SELECT n.id,
       CASE WHEN r_case < 0.05 THEN upper(f) WHEN r_case < 0.08 THEN lower(f) ELSE f END AS first_name,
       CASE WHEN r_case < 0.05 THEN upper(l) ELSE l END AS last_name,
       n.date_of_birth,
       CASE WHEN r_fmt < 0.40 THEN left(p.pc, -3) || ' ' || right(p.pc, 3)               -- SW1A 1AA
            WHEN r_fmt < 0.60 THEN p.pc                                                  -- SW1A1AA
            WHEN r_fmt < 0.75 THEN lower(left(p.pc, -3) || ' ' || right(p.pc, 3))        -- sw1a 1aa
            WHEN r_fmt < 0.83 THEN lower(left(p.pc, -3)) || ' ' || right(p.pc, 3)        -- sw1a 1AA
            WHEN r_fmt < 0.90 THEN left(p.pc, -3) || '  ' || lower(right(p.pc, 3))       -- SW1A  1aa
            WHEN r_fmt < 0.96 THEN ' ' || left(p.pc, -3) || ' ' || right(p.pc, 3) || ' ' -- ' SW1A 1AA '
            ELSE lower(p.pc)                                                             -- sw1a1aa
       END AS postcode
  FROM named n JOIN bench.postcode_pool p ON p.id = n.pc_id
 ORDER BY n.id;

VACUUM ANALYZE bench.people;
-- Warm: a full scan that reads every column, so the heap is in shared buffers with hint bits set.
SELECT count(*), sum(length(first_name) + length(last_name) + length(postcode)), max(date_of_birth)
  FROM bench.people;
SQL

# --------------------------------------------------------------------------------------------
# Baseline functions for the entry year. England rule: born September to December, birth year
# + 19; otherwise + 18. Both are written the fastest honest way found: adding four months
# carries exactly the September-December births into the next year, so a single date_part
# suffices. (The textbook form "extract(year) + CASE WHEN extract(month) >= 9 ..." declared
# STRICT cannot be inlined, because PostgreSQL does not inline a STRICT SQL function whose body
# contains a non-strict CASE; it is timed too, for information, as eey_sql_case.)
psql_run >/dev/null <<'SQL'
CREATE FUNCTION bench.eey_sql(d date) RETURNS int
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$ SELECT date_part('year', d + interval '4 months')::int + 18 $$;

CREATE FUNCTION bench.eey_plpgsql(d date) RETURNS int
  LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
  AS $$ BEGIN RETURN date_part('year', d + interval '4 months')::int + 18; END $$;

CREATE FUNCTION bench.eey_sql_case(d date) RETURNS int
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$ SELECT (extract(year FROM d)::int + CASE WHEN extract(month FROM d) >= 9 THEN 19 ELSE 18 END) $$;

-- Whether the cast accepts the text (the cast raises 22P02 on invalid input).
CREATE FUNCTION bench.cast_ok(t text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  PERFORM t::outreach.uk_postcode;
  RETURN true;
EXCEPTION WHEN invalid_text_representation THEN
  RETURN false;
END $$;

CREATE FUNCTION bench.regex_ok(t text) RETURNS boolean LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT upper(regexp_replace(t, '\s', '', 'g')) ~ '^(GIR0AA|([A-PR-UWYZ][0-9][0-9]?|[A-PR-UWYZ][A-HK-Y][0-9][0-9]?|[A-PR-UWYZ][0-9][ABCDEFGHJKPSTUW]|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY])[0-9][ABD-HJLNP-UW-Z]{2})$'
$$;

CREATE UNLOGGED TABLE bench.timing (name text, side text, run int, ms float8);
SQL

# --------------------------------------------------------------------------------------------
log "checking that the baselines agree with the extension"
checked=$(psql_run <<'SQL'
CREATE FUNCTION bench.check() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  n bigint; bad bigint; valid bigint; invalid bigint; example text; k bytea; summary text;
BEGIN
  -- Entry years: every day from 1980 to 2040, and a sample of the table.
  SELECT count(*), count(*) FILTER (WHERE e IS DISTINCT FROM s OR e IS DISTINCT FROM p OR e IS DISTINCT FROM c),
         min(d::text) FILTER (WHERE e IS DISTINCT FROM s OR e IS DISTINCT FROM p OR e IS DISTINCT FROM c)
    INTO n, bad, example
    FROM (SELECT d, outreach.expected_he_entry_year(d) e, bench.eey_sql(d) s, bench.eey_plpgsql(d) p,
                 bench.eey_sql_case(d) c
            FROM (SELECT g::date AS d FROM generate_series(date '1980-01-01', date '2040-12-31', interval '1 day') g
                  UNION ALL
                  SELECT date_of_birth FROM bench.people WHERE id % 50 = 0) dates) t;
  IF bad > 0 THEN
    RAISE EXCEPTION 'entry year: % of % dates disagree between the extension and the SQL baselines (first: %)',
      bad, n, example;
  END IF;
  summary := format('%s entry years', n);

  -- Postcodes of a table sample: regular expression, cast and is_valid_postcode agree (all valid).
  SELECT count(*), count(*) FILTER (WHERE r IS DISTINCT FROM c OR r IS DISTINCT FROM v),
         count(*) FILTER (WHERE c), min(postcode) FILTER (WHERE r IS DISTINCT FROM c OR r IS DISTINCT FROM v)
    INTO n, bad, valid, example
    FROM (SELECT postcode, bench.regex_ok(postcode) r, bench.cast_ok(postcode) c, outreach.is_valid_postcode(postcode) v
            FROM bench.people WHERE id % 50 = 0) t;
  IF bad > 0 OR valid <> n THEN
    RAISE EXCEPTION 'postcode: % of % sampled table postcodes disagree between regex and cast, % valid (first: "%")',
      bad, n, valid, example;
  END IF;
  summary := summary || format(', %s table postcodes', n);

  -- Postcodes that are mostly invalid: pool postcodes with one character replaced, and random
  -- strings of postcode shape with any letters, in mixed case and spacing. The regex accepts
  -- GX (Gibraltar) which the extension rejects on purpose, so GX strings are left out.
  SELECT count(*), count(*) FILTER (WHERE r IS DISTINCT FROM c OR r IS DISTINCT FROM v),
         count(*) FILTER (WHERE c), count(*) FILTER (WHERE NOT c),
         min(s) FILTER (WHERE r IS DISTINCT FROM c OR r IS DISTINCT FROM v)
    INTO n, bad, valid, invalid, example
    FROM (SELECT s, bench.regex_ok(s) r, bench.cast_ok(s) c, outreach.is_valid_postcode(s) v
            FROM (SELECT overlay(pc PLACING substr('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -', 1 + floor(random() * 38)::int, 1)
                                 FROM 1 + floor(random() * length(pc))::int) AS s
                    FROM bench.postcode_pool WHERE id <= 10000
                  UNION ALL
                  SELECT (SELECT string_agg(CASE c WHEN 'A' THEN substr('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 1 + floor(random() * 52)::int, 1)
                                                   WHEN '9' THEN substr('0123456789', 1 + floor(random() * 10)::int, 1)
                                                   ELSE substr(E'  \t', 1 + floor(random() * 3)::int, floor(random() * 3)::int) END,
                                            '' ORDER BY o)
                            FROM unnest(string_to_array(shape, NULL)) WITH ORDINALITY AS u(c, o))
                    FROM (SELECT (ARRAY['A9 9AA','A99 9AA','AA9 9AA','AA99 9AA','A9A 9AA','AA9A 9AA','AAA 9AA','A9AA9AA'])
                                 [1 + floor(random() * 8)::int] AS shape
                            FROM generate_series(1, 20000)) shapes) mutated
           WHERE upper(regexp_replace(s, '\s', '', 'g')) NOT LIKE 'GX%') t;
  IF bad > 0 THEN
    RAISE EXCEPTION 'postcode: % of % mutated strings disagree between regex, cast and is_valid_postcode (first: "%")',
      bad, n, example;
  END IF;
  IF valid < 100 OR invalid < 100 THEN
    RAISE EXCEPTION 'postcode check is too one-sided: % valid and % invalid strings', valid, invalid;
  END IF;
  summary := summary || format(', %s mutated postcodes (%s valid, %s invalid)', n, valid, invalid);

  -- Pseudonyms: the extension's digest is the first 16 bytes of HMAC-SHA256 of the documented
  -- message under the newest "linkage" key, i.e. it does the same work as the pgcrypto baseline.
  SELECT decode(split_part(line, ' ', 3), 'hex') INTO k
    FROM regexp_split_to_table(pg_read_file(current_setting('outreach.key_file')), E'\n') line
   WHERE split_part(line, ' ', 1) = 'linkage'
   ORDER BY split_part(line, ' ', 2)::int DESC LIMIT 1;
  SELECT count(*), count(*) FILTER (WHERE outreach.pseudo_id_digest(id) IS DISTINCT FROM
                                          substr(hmac(convert_to(msg, 'UTF8'), k, 'sha256'), 1, 16)),
         min(first_name || ' ' || last_name) FILTER (WHERE outreach.pseudo_id_digest(id) IS DISTINCT FROM
                                          substr(hmac(convert_to(msg, 'UTF8'), k, 'sha256'), 1, 16))
    INTO n, bad, example
    FROM (SELECT first_name, last_name,
                 outreach.pseudonymise(first_name, last_name, date_of_birth, postcode) AS id,
                 outreach.normalise_name(first_name) || chr(31) || outreach.normalise_name(last_name) || chr(31)
                   || to_char(date_of_birth, 'YYYY-MM-DD') || chr(31)
                   || replace(postcode::outreach.uk_postcode::text, ' ', '') AS msg
            FROM bench.people WHERE id % 50 = 0) t;
  IF k IS NULL OR bad > 0 THEN
    RAISE EXCEPTION 'pseudonymise: % of % sampled rows differ from HMAC-SHA256 of the documented message (first: %)',
      bad, n, example;
  END IF;
  summary := summary || format(', %s pseudonyms', n);
  RETURN summary;
END
$$;
SELECT bench.check();
SQL
)
log "all agree: $checked"

# --------------------------------------------------------------------------------------------
# bench.measure(name, baseline, candidate, runs, key): one untimed warm-up of each (whose
# results must agree), then baseline and candidate alternately, runs times each. $1 in either
# query is the key, bound once as a bytea parameter.
psql_run >/dev/null <<'SQL'
CREATE FUNCTION bench.measure(p_name text, p_base text, p_cand text, p_runs int, p_key bytea) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz; t1 timestamptz; r numeric; r_base numeric; r_cand numeric;
BEGIN
  EXECUTE p_base INTO r_base USING p_key;
  EXECUTE p_cand INTO r_cand USING p_key;
  IF r_base IS DISTINCT FROM r_cand THEN
    RAISE EXCEPTION '%: the baseline query gives %, the candidate %', p_name, r_base, r_cand;
  END IF;
  FOR i IN 1..p_runs LOOP
    t0 := clock_timestamp();
    EXECUTE p_base INTO r USING p_key;
    t1 := clock_timestamp();
    INSERT INTO bench.timing VALUES (p_name, 'baseline', i, extract(epoch FROM t1 - t0) * 1000);
    t0 := clock_timestamp();
    EXECUTE p_cand INTO r USING p_key;
    t1 := clock_timestamp();
    INSERT INTO bench.timing VALUES (p_name, 'candidate', i, extract(epoch FROM t1 - t0) * 1000);
  END LOOP;
END $$;
SQL

log "timing ($runs interleaved runs per query)"
psql_run -v runs="$runs" -v jit="$jit" >/dev/null <<'SQL'
SET max_parallel_workers_per_gather = 0;
SET jit = :'jit';
SELECT gen_random_bytes(32) AS key \gset

SELECT bench.measure('pseudonymise_vs_pgcrypto_hmac',
  $q$SELECT count(encode(hmac(convert_to(first_name || '|' || last_name || '|' || date_of_birth::text || '|' || postcode, 'UTF8'), $1, 'sha256'), 'hex')) FROM bench.people$q$,
  $q$SELECT count(outreach.pseudonymise(first_name, last_name, date_of_birth, postcode)) FROM bench.people$q$,
  :runs, :'key'::bytea);

SELECT bench.measure('pseudonymise_vs_md5',
  $q$SELECT count(md5(first_name || '|' || last_name || '|' || date_of_birth::text || '|' || postcode)) FROM bench.people$q$,
  $q$SELECT count(outreach.pseudonymise(first_name, last_name, date_of_birth, postcode)) FROM bench.people$q$,
  :runs, NULL);

SELECT bench.measure('uk_postcode_parse_vs_regex',
  $q$SELECT count(*) FILTER (WHERE upper(regexp_replace(postcode, '\s', '', 'g')) ~ '^(GIR0AA|([A-PR-UWYZ][0-9][0-9]?|[A-PR-UWYZ][A-HK-Y][0-9][0-9]?|[A-PR-UWYZ][0-9][ABCDEFGHJKPSTUW]|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY])[0-9][ABD-HJLNP-UW-Z]{2})$') FROM bench.people$q$,
  $q$SELECT count(postcode::outreach.uk_postcode) FROM bench.people$q$,
  :runs, NULL);

SELECT bench.measure('entry_year_vs_sql_function',
  $q$SELECT sum(bench.eey_sql(date_of_birth)) FROM bench.people$q$,
  $q$SELECT sum(outreach.expected_he_entry_year(date_of_birth)) FROM bench.people$q$,
  :runs, NULL);

SELECT bench.measure('entry_year_vs_plpgsql',
  $q$SELECT sum(bench.eey_plpgsql(date_of_birth)) FROM bench.people$q$,
  $q$SELECT sum(outreach.expected_he_entry_year(date_of_birth)) FROM bench.people$q$,
  :runs, NULL);

SELECT bench.measure('entry_year_vs_sql_case_strict',
  $q$SELECT sum(bench.eey_sql_case(date_of_birth)) FROM bench.people$q$,
  $q$SELECT sum(outreach.expected_he_entry_year(date_of_birth)) FROM bench.people$q$,
  :runs, NULL);
SQL

# --------------------------------------------------------------------------------------------
echo "# core_types: rows=$rows runs=$runs (median of interleaved baseline/candidate runs in one backend;" \
	"ratio = baseline time / candidate time; jit=$jit, max_parallel_workers_per_gather=0)"
psql_run <<'SQL'
CREATE TEMP TABLE result AS
SELECT name,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE side = 'baseline')
            / percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE side = 'candidate'))::numeric, 2) AS ratio,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE side = 'baseline') AS base_med,
       min(ms) FILTER (WHERE side = 'baseline') AS base_min, max(ms) FILTER (WHERE side = 'baseline') AS base_max,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE side = 'candidate') AS cand_med,
       min(ms) FILTER (WHERE side = 'candidate') AS cand_min, max(ms) FILTER (WHERE side = 'candidate') AS cand_max
  FROM bench.timing GROUP BY name;
CREATE TEMP TABLE goal (ord int, name text, op text, target numeric, required boolean);
INSERT INTO goal VALUES
  (1, 'pseudonymise_vs_pgcrypto_hmac', '>=', 4, true),
  (2, 'pseudonymise_vs_md5', '>', 1, true),
  (3, 'uk_postcode_parse_vs_regex', '>=', 3, true),
  (4, 'entry_year_vs_sql_function', '>=', 1.5, true),
  (5, 'entry_year_vs_plpgsql', '>=', 4, true),
  (6, 'entry_year_vs_sql_case_strict', NULL, NULL, false);

SELECT g.name || ': ' || to_char(r.ratio, 'FM9999990.00')
  FROM goal g JOIN result r USING (name) WHERE g.required ORDER BY g.ord;
SELECT format('# info %s: %s (the STRICT extract + CASE form, which PostgreSQL does not inline)',
              g.name, to_char(r.ratio, 'FM9999990.00'))
  FROM goal g JOIN result r USING (name) WHERE NOT g.required ORDER BY g.ord;
SELECT format('# detail %s: baseline median %s ms [%s..%s], candidate median %s ms [%s..%s]', g.name,
              round(base_med::numeric, 1), round(base_min::numeric, 1), round(base_max::numeric, 1),
              round(cand_med::numeric, 1), round(cand_min::numeric, 1), round(cand_max::numeric, 1))
  FROM goal g JOIN result r USING (name) ORDER BY g.ord;
SELECT format('# goal %s %s %s: %s', g.name, g.op, g.target,
              CASE WHEN (g.op = '>=' AND r.ratio >= g.target) OR (g.op = '>' AND r.ratio > g.target)
                   THEN 'met' ELSE 'NOT met' END)
  FROM goal g JOIN result r USING (name) WHERE g.required ORDER BY g.ord;
SQL
bench_conditions core_types
