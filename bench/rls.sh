#!/usr/bin/env bash
# Row-level security overhead: the same queries as a member role (reader of one controller,
# row security and column privileges in force) and as the tables' owner with an explicit
# controller_id filter. Prints "rls_<query>: <ratio>" with ratio = member time / owner time
# (goal: at most 1.10), measured in one run: pgbench with prepared statements; each round runs
# the owner and the member back to back (which goes first alternates), and the ratio is the
# median of the rounds' ratios, so that a machine whose speed drifts during the run (a
# neighbour's load, writeback) moves both sides of a round alike. Before timing, the cluster is
# quiesced (bench/lib/quiesce.sh). Not part of scripts/test.
#
#   bash bench/rls.sh                                   5,000,000 participants, 20,000,000 attendances
#   BENCH_PARTICIPANTS=200000 bash bench/rls.sh          a quick run
#
# Environment: BENCH_PARTICIPANTS (default 5000000), BENCH_CONTROLLERS (100), BENCH_PER (attendance
# rows per participant, 4), BENCH_ROUNDS (9), BENCH_SECONDS (seconds per pgbench run, 3),
# BENCH_PORT (55451).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"
source "$REPO_ROOT/scripts/lib/cluster.sh"
source "$REPO_ROOT/bench/lib/conditions.sh"
source "$REPO_ROOT/bench/lib/quiesce.sh"
source "$REPO_ROOT/bench/lib/paired.sh"
bench_conditions_start

participants=${BENCH_PARTICIPANTS:-5000000}
controllers=${BENCH_CONTROLLERS:-100}
per=${BENCH_PER:-4}
rounds=${BENCH_ROUNDS:-9}
seconds=${BENCH_SECONDS:-3}
member_controller=42

trap 'cluster_stop' EXIT
cluster_start bench_rls "${BENCH_PORT:-55451}"
work="$OUTREACH_CLUSTER_DIR/work"
# Planner costs of a server whose data is in memory or on SSD (PostgreSQL's defaults assume
# spinning disks): the same for the member and the owner.
psql -X -q -c "ALTER SYSTEM SET random_page_cost = 1.1" -c "ALTER SYSTEM SET effective_cache_size = '8GB'" \
  -c "SELECT pg_reload_conf()" >/dev/null
psql -X -q -c "CREATE DATABASE bench"
export PGDATABASE=bench
psql -X -q -c "CREATE EXTENSION outreach"

echo "loading $participants participants, $((participants * per)) attendance rows..." >&2
start=$(date +%s)
psql -X -q -v controllers="$controllers" -v participants="$participants" -v per_participant="$per" \
  -f "$REPO_ROOT/bench/rls/load.sql" >/dev/null
echo "loaded in $(( $(date +%s) - start )) s" >&2
psql -X -q -c "CREATE ROLE bench_member LOGIN" \
  -c "SELECT outreach.grant_controller_access('bench_member', 'bench$(printf %03d $member_controller)', 'reader')" >/dev/null

# Each query as the member (row security supplies the controller) and as the owner (explicit).
per_controller=$((participants / controllers))
cat > "$work/count_member.sql" <<SQL
SELECT count(*) FROM outreach.participant;
SQL
cat > "$work/count_owner.sql" <<SQL
SELECT count(*) FROM outreach.participant WHERE controller_id = $member_controller;
SQL
cat > "$work/lookup_member.sql" <<SQL
\set k random(0, $((per_controller - 1)))
SELECT first_name, last_name, date_of_birth FROM outreach.participant WHERE participant_id = $((member_controller - 1)) + $controllers * :k;
SQL
cat > "$work/lookup_owner.sql" <<SQL
\set k random(0, $((per_controller - 1)))
SELECT first_name, last_name, date_of_birth FROM outreach.participant WHERE controller_id = $member_controller AND participant_id = $((member_controller - 1)) + $controllers * :k;
SQL
join_sql="SELECT count(*) FROM outreach.participant p
  JOIN outreach.attendance a ON a.controller_id = p.controller_id AND a.participant_id = p.participant_id
  JOIN outreach.activity ac ON ac.controller_id = a.controller_id AND ac.activity_id = a.activity_id
  WHERE ac.activity_type = 'summer_school'"
echo "$join_sql;" > "$work/join_member.sql"
echo "$join_sql AND p.controller_id = $member_controller;" > "$work/join_owner.sql"
echo "SELECT count(*) FROM outreach.shared_engagement;" > "$work/shared_member.sql"
# shared_engagement reads other members' rows with its owner's rights for the caller's own
# controllers (all of them for a superuser): the owner's side is the view's query written out
# for the one controller (without the view's OFFSET 0 fence, which the owner does not need).
cat > "$work/shared_owner.sql" <<SQL
SELECT count(*)
FROM outreach.participant mine
JOIN outreach.shareable_participant other ON other.linkage_id OPERATOR(outreach.=) mine.linkage_id AND other.controller_id <> mine.controller_id
JOIN outreach.attendance att ON att.controller_id = other.controller_id AND att.participant_id = other.participant_id
JOIN outreach.activity a ON a.controller_id = att.controller_id AND a.activity_id = att.activity_id
JOIN outreach.controller other_c ON other_c.controller_id = other.controller_id
WHERE mine.controller_id = $member_controller AND mine.linkage_id IS NOT NULL
  AND mine.withdrawn_at IS NULL AND mine.restricted_at IS NULL;
SQL

# The two sides must answer the same.
for q in count join shared; do
  m=$(psql -X -At -U bench_member -f "$work/${q}_member.sql")
  o=$(psql -X -At -f "$work/${q}_owner.sql")
  [ "$m" = "$o" ] || { echo "rls: $q differs: member $m, owner $o" >&2; exit 1; }
done
echo "# plans as the member:" >&2
psql -X -At -U bench_member -c "EXPLAIN (COSTS OFF) $(cat "$work/lookup_member.sql" | tail -1 | sed 's/:k/0/')" >&2

bench_quiesce outreach.participant outreach.attendance outreach.activity outreach.controller outreach.controller_role \
  outreach.shareable_participant

echo "# rls: participants=$participants controllers=$controllers attendance=$((participants * per)) rounds=$rounds of ${seconds} s (ratio = member time / owner time, median of the rounds' ratios; goal <= 1.10)"
for name in count lookup join shared; do
  bench_pair "rls_$name" 1.10 bench_member "$work/${name}_member.sql" postgres "$work/${name}_owner.sql"
done
bench_conditions rls
