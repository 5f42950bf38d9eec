#!/usr/bin/env bash
# Subject access (issue 15): outreach.subject_access for one person, as the member's DPO, must
# not grow with the member's size. Two databases in one cluster, 100 members each: one of
# BENCH_SMALL participants (100,000) and one of BENCH_PARTICIPANTS (10,000,000), with
# attendance, an outcome fact and a ledger entry for everyone (bench/subject_access/load.sql).
# Prints
#   subject_access_10m_vs_100k: <ratio>   the time of one call (a random one of 200 people of
#                                         member 42, each with an open access request) in the
#                                         large database over the same in the small (goal: at
#                                         most 1.5)
# the median of BENCH_ROUNDS paired rounds (bench/lib/paired.sh), after quiescing the cluster.
# Not part of scripts/test.
#
#   bash bench/subject_access.sh                                  about 25 minutes (the load)
#   BENCH_PARTICIPANTS=1000000 bash bench/subject_access.sh       a quick run
#
# Environment: BENCH_PARTICIPANTS (10000000), BENCH_SMALL (100000), BENCH_CONTROLLERS (100),
# BENCH_ROUNDS (7), BENCH_SECONDS (seconds per pgbench run, 3), BENCH_PORT (55453).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"
source "$REPO_ROOT/scripts/lib/cluster.sh"
source "$REPO_ROOT/bench/lib/conditions.sh"
source "$REPO_ROOT/bench/lib/quiesce.sh"
source "$REPO_ROOT/bench/lib/paired.sh"
bench_conditions_start

large=${BENCH_PARTICIPANTS:-10000000}
small=${BENCH_SMALL:-100000}
controllers=${BENCH_CONTROLLERS:-100}
rounds=${BENCH_ROUNDS:-7}
seconds=${BENCH_SECONDS:-3}

trap 'cluster_stop' EXIT
cluster_start bench_sar "${BENCH_PORT:-55453}"
work="$OUTREACH_CLUSTER_DIR/work"
psql -X -q -c "ALTER SYSTEM SET random_page_cost = 1.1" -c "ALTER SYSTEM SET effective_cache_size = '8GB'" \
  -c "SELECT pg_reload_conf()" >/dev/null
psql -X -q -c "CREATE ROLE bench_dpo LOGIN"
for size in small large; do
  n=${!size}
  psql -X -q -c "CREATE DATABASE sar_$size"
  psql -X -q -d "sar_$size" -c "CREATE EXTENSION outreach"
  psql -X -q -d "sar_$size" -c "SELECT outreach.record_sharing_agreement(name, 'test gateway', 'TEST-' || name, 'the tests', current_date - 1, current_date + 365) FROM outreach.recipient_definition WHERE shipped;" >/dev/null
  echo "loading sar_$size: $n participants..." >&2
  start=$(date +%s)
  psql -X -q -d "sar_$size" -v controllers="$controllers" -v participants="$n" -v sample=200 -v prefix="${size:0:1}" \
    -f "$REPO_ROOT/bench/subject_access/load.sql" >/dev/null
  echo "loaded in $(( $(date +%s) - start )) s" >&2
  psql -X -q -d "sar_$size" -c "SELECT outreach.grant_controller_access('bench_dpo', '${size:0:1}042', 'dpo')" >/dev/null
done

cat > "$work/sar.sql" <<'SQL'
\set k random(1, 200)
SELECT length(outreach.subject_access(s.controller_id, ARRAY[s.participant_id], s.request_id)::text)
FROM bench_sample s WHERE s.k = :k;
SQL
# The two answers have the same shape: one record, two attendances, one outcome, one disclosure.
for size in small large; do
  psql -X -At -U bench_dpo -d "sar_$size" -c "SELECT jsonb_array_length(d -> 'records') || ' record, '
      || jsonb_array_length(d #> '{records,0,attendance}') || ' attendances, '
      || jsonb_array_length(d #> '{records,0,outcomes}') || ' outcome, '
      || jsonb_array_length(d #> '{records,0,disclosures}') || ' disclosure'
    FROM (SELECT outreach.subject_access(controller_id, ARRAY[participant_id], request_id) AS d FROM bench_sample WHERE k = 1) x" |
    sed "s/^/# sar_$size: /"
done

PGDATABASE=sar_large bench_quiesce outreach.participant outreach.attendance outreach.activity outreach.outcome_block \
  outreach.disclosure_block outreach.shareable_participant
PGDATABASE=sar_small bench_quiesce outreach.participant outreach.attendance outreach.activity outreach.outcome_block \
  outreach.disclosure_block outreach.shareable_participant

echo "# subject_access: $large vs $small participants, $controllers members, rounds=$rounds of ${seconds} s (ratio = large / small, median of the rounds' ratios; goal <= 1.5)"
bench_pair subject_access_10m_vs_100k 1.5 "bench_dpo@sar_large" "$work/sar.sql" "bench_dpo@sar_small" "$work/sar.sql"
bench_conditions subject_access
