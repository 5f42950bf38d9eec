#!/usr/bin/env bash
# Reporting (issue 14): the cost of postcode profiling and of disclosure control, each against
# a baseline measured in the same run. Prints
#   reporting_profiled_reach: <ratio>   a member's reach by POLAR4 quintile through the profiled
#                                       view outreach.participant_area (row security, the
#                                       postcode resolved as at the first activity), over the
#                                       tables' owner's hand-written join of the member's
#                                       participants to the look-up tables (goal: at most 1.5)
#   reporting_disclosure_control: <ratio>  the member's analyst reading report_reach_by_area('hesa')
#                                       (every measure, year and activity type, rounded and
#                                       suppressed) over the same function's query with the
#                                       rounding and suppression calls replaced by the raw count
#                                       and percentage (goal: at most 1.2); both build the same
#                                       grid of bands and windows over it (cells, not people)
# Each ratio is the median of BENCH_ROUNDS paired rounds (bench/lib/paired.sh); the cluster is
# quiesced first (bench/lib/quiesce.sh).
# Not part of scripts/test.
#
#   bash bench/reporting.sh                                  10,000,000 participants (about 15 min)
#   BENCH_PARTICIPANTS=500000 bash bench/reporting.sh        a quick run
#
# Environment: BENCH_PARTICIPANTS (default 10000000), BENCH_CONTROLLERS (100), BENCH_PER
# (attendances per participant, 2), BENCH_POSTCODES (200000), BENCH_ROUNDS (7), BENCH_SECONDS
# (seconds per pgbench run, 4), BENCH_PAIRS (which to time: "profiled disclosure"), BENCH_PORT (55452).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"
source "$REPO_ROOT/scripts/lib/cluster.sh"
source "$REPO_ROOT/bench/lib/conditions.sh"
source "$REPO_ROOT/bench/lib/quiesce.sh"
source "$REPO_ROOT/bench/lib/paired.sh"
bench_conditions_start

participants=${BENCH_PARTICIPANTS:-10000000}
controllers=${BENCH_CONTROLLERS:-100}
per=${BENCH_PER:-2}
postcodes=${BENCH_POSTCODES:-200000}
rounds=${BENCH_ROUNDS:-7}
seconds=${BENCH_SECONDS:-4}
pairs=${BENCH_PAIRS:-profiled disclosure}
member=42

trap 'cluster_stop' EXIT
cluster_start bench_reporting "${BENCH_PORT:-55452}"
work="$OUTREACH_CLUSTER_DIR/work"
psql -X -q -c "ALTER SYSTEM SET random_page_cost = 1.1" -c "ALTER SYSTEM SET effective_cache_size = '8GB'" \
  -c "SELECT pg_reload_conf()" >/dev/null
psql -X -q -c "CREATE DATABASE bench"
export PGDATABASE=bench
psql -X -q -c "CREATE EXTENSION outreach"

echo "loading $participants participants, $((participants * per)) attendances, $postcodes postcodes..." >&2
start=$(date +%s)
psql -X -q -v controllers="$controllers" -v participants="$participants" -v per_participant="$per" \
  -v postcodes="$postcodes" -f "$REPO_ROOT/bench/reporting/load.sql" >/dev/null
echo "loaded in $(( $(date +%s) - start )) s" >&2
code="bench$(printf %03d $member)"
psql -X -q -c "CREATE ROLE bench_reader LOGIN" -c "CREATE ROLE bench_analyst LOGIN" \
  -c "SELECT outreach.grant_controller_access('bench_reader', '$code', 'reader')" \
  -c "SELECT outreach.grant_controller_access('bench_analyst', '$code', 'analyst')" >/dev/null

# 1. Reach by quintile: the member through the profiled view; the owner by hand.
cat > "$work/profiled_member.sql" <<SQL
SELECT polar4_quintile, count(*) FROM outreach.participant_area WHERE first_activity_on IS NOT NULL GROUP BY 1 ORDER BY 1;
SQL
cat > "$work/profiled_owner.sql" <<SQL
SELECT CASE WHEN g.introduced <= f.first_on AND (g.terminated IS NULL OR g.terminated > f.first_on)
            THEN coalesce(pm.quintile, pw.quintile) END AS polar4_quintile, count(*)
FROM outreach.participant p
JOIN (SELECT controller_id, participant_id, min(attended_on) AS first_on FROM outreach.attendance
      WHERE controller_id = $member GROUP BY 1, 2) f
  ON f.controller_id = p.controller_id AND f.participant_id = p.participant_id
LEFT JOIN outreach.postcode_geography g ON g.postcode OPERATOR(outreach.=) p.postcode
LEFT JOIN outreach.polar4_area pm ON pm.geography = 'msoa11' AND pm.area_code = g.msoa11
LEFT JOIN outreach.polar4_area pw ON pw.geography = 'ward' AND pw.area_code = g.ward
WHERE p.controller_id = $member
GROUP BY 1 ORDER BY 1;
SQL

# 2. Disclosure control: the report as shipped, and its own query without the rounding and
#    suppression (made from the installed function's definition, so the two cannot drift).
psql -X -At -c "SELECT pg_get_functiondef('outreach.report_reach_by_area(text)'::regprocedure)" > "$work/report_def.sql"
python3 - "$work/report_def.sql" "$work/report_raw_def.sql" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
head, query = text.replace('outreach.report_reach_by_area(', 'public.bench_reach_raw(', 1).split('RETURN QUERY', 1)
query, n = re.subn(r'outreach\.sdc_(count|percent|marker|count_marker)\(([^,()]+)(, [^,()]+)?, policy\)',
                 lambda m: {'count': m.group(2),
                            'percent': f'round(100.0 * {m.group(2)} / nullif({(m.group(3) or ", 0")[2:]}, 0), 1)',
                            'marker': 'NULL::text', 'count_marker': 'NULL::text'}[m.group(1)], query)
raw = head + 'RETURN QUERY' + query
if n != 4 or 'outreach.sdc_' in query:
    sys.exit(f'bench: expected the four disclosure calls of report_reach_by_area, replaced {n}')
open(sys.argv[2], 'w').write(raw)
PY
psql -X -q -f "$work/report_raw_def.sql" -c "GRANT EXECUTE ON FUNCTION public.bench_reach_raw(text) TO bench_analyst" >/dev/null
echo "SELECT * FROM outreach.report_reach_by_area('hesa');" > "$work/sdc_member.sql"
echo "SELECT * FROM public.bench_reach_raw('hesa');" > "$work/sdc_raw.sql"

# The two sides must answer alike.
m=$(psql -X -At -U bench_reader -f "$work/profiled_member.sql"); o=$(psql -X -At -f "$work/profiled_owner.sql")
[ "$m" = "$o" ] || { echo "reporting: profiled reach differs: member [$m], owner [$o]" >&2; exit 1; }
echo "# reach by POLAR4 quintile of member $member: $(echo "$m" | tr '\n' ' ')" >&2
m=$(psql -X -At -U bench_analyst -c "SELECT count(*), sum(participants) FROM outreach.report_reach_by_area('hesa')")
o=$(psql -X -At -U bench_analyst -c "SELECT count(*), sum(participants) FROM public.bench_reach_raw('hesa')")
[ "${m%%|*}" = "${o%%|*}" ] || { echo "reporting: report rows differ: controlled $m, raw $o" >&2; exit 1; }
echo "# report_reach_by_area: rows|sum of rounded counts $m; raw rows|sum $o" >&2

bench_quiesce outreach.participant outreach.attendance outreach.activity outreach.postcode_geography \
  outreach.polar4_area outreach.tundra_area outreach.deprivation_area

echo "# reporting: participants=$participants controllers=$controllers attendance=$((participants * per)) postcodes=$postcodes rounds=$rounds of ${seconds} s (median of the rounds' ratios)"
case " $pairs " in *" profiled "*)
  bench_pair reporting_profiled_reach 1.5 bench_reader "$work/profiled_member.sql" postgres "$work/profiled_owner.sql" ;; esac
case " $pairs " in *" disclosure "*)
  bench_pair reporting_disclosure_control 1.2 bench_analyst "$work/sdc_member.sql" bench_analyst "$work/sdc_raw.sql" ;; esac
bench_conditions reporting
