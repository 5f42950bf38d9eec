#!/usr/bin/env bash
# Retention at scale: sweeps and deletions against the plain SQL a DBA would write, and what a
# sweep does to members working at the same time. Measured in one run, in a throwaway cluster:
#
#   retention_sweep_vs_update      time of CALL outreach.retention_sweep(as_of, 10000) / time of
#                                  one UPDATE marking the same rows (the rule called directly in
#                                  C, as participant_due_on would be if inlined); goal <= 3.
#                                  Reset between the two, order alternated over BENCH_ROUNDS.
#                                  Also the longest sweep batch (its row locks are held for that
#                                  long), timed in the concurrent sweep below; goal <= 1 s.
#   execute_deletions_vs_delete    time of CALL outreach.delete_confirmed(10000) / time of one
#                                  DELETE of the same confirmed participants (attendance goes by
#                                  cascade, audit triggers fire, in both); goal <= 3. The rows are
#                                  put back from a saved copy between measurements.
#   sweep_p99_latency_ratio        p99 latency of a member's transactions (INSERT a participant,
#                                  UPDATE one of its own) during a sweep / p99 without one, from
#                                  pgbench's per-transaction log, at a fixed rate; goal <= 2.
#
#   bash bench/retention.sh                                 10,000,000 participants (about 15 min)
#   BENCH_PARTICIPANTS=1000000 bash bench/retention.sh       a quick run (about 2 min)
#
# The data: BENCH_CONTROLLERS (100) controllers with the default policy, one attendance per
# participant, the first tenth of the participants due at as_of (2025-09-01), the rest not.
# Environment: BENCH_PARTICIPANTS (10000000), BENCH_CONTROLLERS (100), BENCH_ROUNDS (2),
# BENCH_BATCH (10000), BENCH_CLIENTS (4 pgbench clients), BENCH_RATE (total transactions per
# second, 200), BENCH_SECONDS (seconds of member load without a sweep, 30), BENCH_PORT (55452).
# Not part of scripts/test.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"
source "$REPO_ROOT/scripts/lib/cluster.sh"
source "$REPO_ROOT/bench/lib/conditions.sh"
bench_conditions_start

participants=${BENCH_PARTICIPANTS:-10000000}
controllers=${BENCH_CONTROLLERS:-100}
rounds=${BENCH_ROUNDS:-2}
batch=${BENCH_BATCH:-10000}
clients=${BENCH_CLIENTS:-4}
rate=${BENCH_RATE:-200}
base_seconds=${BENCH_SECONDS:-30}
as_of=2025-09-01
due=$((participants / 10))          # ids 1 .. due are due at as_of (see bench/retention/load.sql)
member_controller=42
sql_dir="$REPO_ROOT/bench/retention"

trap 'cluster_stop' EXIT
cluster_start bench_ret "${BENCH_PORT:-55452}"
work="$OUTREACH_CLUSTER_DIR/work"
psql -X -q -c "CREATE DATABASE bench"
export PGDATABASE=bench
psql -X -q -c "CREATE EXTENSION outreach"

script_start=$(date +%s)
say() { echo "[$(( $(date +%s) - script_start )) s] $*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
goal() {  # goal NAME VALUE LIMIT UNIT
  awk -v n="$1" -v v="$2" -v l="$3" -v u="${4:-}" 'BEGIN { printf "# goal %s <= %s%s: %s\n", n, l, u, (v <= l) ? "met" : "NOT met" }'
}
q() { psql -X -At -v ON_ERROR_STOP=1 "$@"; }
check() {  # check WHAT ACTUAL EXPECTED
  [ "$2" = "$3" ] || { say "retention: $1 is $2, expected $3"; exit 1; }
}

say "loading $participants participants ($due due at $as_of) with one attendance each..."
start=$(now)
psql -X -q -v controllers="$controllers" -v participants="$participants" -f "$sql_dir/load.sql" >/dev/null
psql -X -q -f "$sql_dir/setup.sql"
psql -X -q -c "CHECKPOINT"
say "loaded in $(elapsed "$start") s"

# --- 1. Sweep against one UPDATE -------------------------------------------------------------
# The baseline: outreach.participant_due_on written out (it calls retention_due_on with these
# arguments), so the rule runs in C once per row, as it would if participant_due_on were inlined.
update_sql="UPDATE outreach.participant p
SET retention_status = 'ready_for_deletion', retention_marked_on = date '$as_of'
FROM outreach.retention_policy pol
WHERE pol.controller_id = p.controller_id AND p.retention_status = 'retained'
  AND (p.retention_hold_until IS NULL OR p.retention_hold_until <= date '$as_of')
  AND outreach.retention_due_on(
        p.first_name IS NOT NULL AND p.first_name <> '', p.last_name IS NOT NULL AND p.last_name <> '',
        p.postcode IS NOT NULL, p.date_of_birth, (p.created_at AT TIME ZONE 'UTC')::date, p.last_attended_on,
        (p.withdrawn_at AT TIME ZONE 'UTC')::date, p.he_entry_year_override,
        pol.long_track_years, pol.short_track_years, pol.attendance_window_years, pol.nation,
        date '$as_of') <= date '$as_of'"
marked() { q -c "SELECT count(*) FROM outreach.participant WHERE retention_status = 'ready_for_deletion'"; }

fresh=yes   # just loaded and vacuumed: the first measurement needs no reset
reset() { [ "$fresh" = yes ] || psql -X -q -f "$sql_dir/reset.sql"; fresh=no; }
run_sweep() {
  reset
  local t0; t0=$(now)
  q -c "CALL outreach.retention_sweep(date '$as_of', $batch)" >/dev/null
  local t; t=$(elapsed "$t0")
  check "rows marked by the sweep" "$(marked)" "$due"
  check "notices" "$(q -c "SELECT sum(records_marked) FROM outreach.deletion_notice")" "$due"
  echo "$t" >> "$work/sweep.times"
  say "  sweep: $t s ($(q -c "SELECT batches FROM outreach.retention_run ORDER BY run_id DESC LIMIT 1") batches)"
}
run_update() {
  reset
  local t0; t0=$(now)
  local out; out=$(q -c "$update_sql")
  local t; t=$(elapsed "$t0")
  check "rows marked by the UPDATE" "$out" "UPDATE $due"
  echo "$t" >> "$work/update.times"
  say "  update: $t s"
}

say "1. sweep vs UPDATE, $rounds rounds"
: > "$work/sweep.times"; : > "$work/update.times"
for r in $(seq "$rounds"); do
  if [ $((r % 2)) = 1 ]; then run_sweep; run_update; else run_update; run_sweep; fi
done
sweep_s=$(median < "$work/sweep.times"); update_s=$(median < "$work/update.times")

# --- 3. Member latency with and without a concurrent sweep ------------------------------------
per_controller=$((participants / controllers))
psql -X -q -c "CREATE ROLE bench_member LOGIN" \
  -c "SELECT outreach.grant_controller_access('bench_member', 'bench$(printf %03d $member_controller)', 'writer')" >/dev/null
cat > "$work/member.sql" <<SQL
\set k random(0, $((per_controller - 1)))
\set d random(0, 364)
BEGIN;
INSERT INTO outreach.participant (first_name, last_name, date_of_birth, postcode)
  VALUES ('New' || :k, 'Member', date '2010-01-01' + :d::int, 'B1 1AA');
UPDATE outreach.participant SET first_name = 'F' || :d::int
  WHERE controller_id = $member_controller AND participant_id = $((member_controller - 1)) + $controllers * :k;
END;
SQL
segment() {  # segment PREFIX SECONDS: member load at a fixed rate, per-transaction log
  pgbench -n -M prepared -U bench_member -c "$clients" -j 1 -R "$rate" -T "$2" -l --log-prefix="$1" \
    -f "$work/member.sql" bench > "$1.out" 2>&1 || { cat "$1.out" >&2; return 1; }
}
latencies() {  # latencies FROM TO FILES...: of the transactions that ended in [FROM, TO] (epoch s),
  # "p99 p99_with_lag p99.9 max count" in ms. pgbench -R logs each transaction's latency from its
  # scheduled start; the schedule lag in it is how long the transaction queued behind the
  # client's previous ones. A member's application does not queue one user's request behind
  # another's blocked one on a single connection, so the ratio uses the transaction's own time
  # (latency less lag); the p99 with the lag is shown beside it. A client's first transactions in
  # a segment wait for its backend to warm up (caches, prepared statements, the key file): the
  # first 5 of each are left out, with or without a sweep.
  local from=$1 to=$2; shift 2
  cat "$@" | awk -v f="$from" -v t="$to" '{ e = $5 + $6 / 1e6; if ($2 > 5 && e >= f && e <= t) print ($3 - $7) / 1000, $3 / 1000 }' > "$work/lat"
  local n; n=$(wc -l < "$work/lat")
  [ "$n" -gt 0 ] || { echo "nan nan nan nan 0"; return; }
  pick() { sort -g | awk -v n="$n" -v p="$1" '{ v[NR] = $1 } END { i = int(n * p); if (i < n * p) i++; if (i < 1) i = 1; printf "%.2f", v[i] }'; }
  echo "$(cut -d' ' -f1 "$work/lat" | pick 0.99) $(cut -d' ' -f2 "$work/lat" | pick 0.99) $(cut -d' ' -f1 "$work/lat" | pick 0.999) $(cut -d' ' -f1 "$work/lat" | pick 1) $n"
}

say "3. member latency ($clients clients, $rate tx/s) without and with a sweep"
psql -X -q -f "$sql_dir/reset.sql"
segment "$work/warm" 5
t0=$(now)
for i in $(seq $(( (base_seconds + 4) / 5 ))); do segment "$work/base_$i" 5; done
read -r base_p99 base_p99_lag base_p999 base_max base_n < <(latencies "$t0" "$(now)" "$work"/base_*.[0-9]*)
say "  without a sweep: p99 $base_p99 ms (with lag $base_p99_lag, p99.9 $base_p999, max $base_max; $base_n transactions)"

q -c "CALL bench.timed_sweep(date '$as_of', $batch)" > "$work/timed_sweep.out" 2>&1 &
sweep_pid=$!
i=0
while kill -0 "$sweep_pid" 2>/dev/null; do i=$((i + 1)); segment "$work/during_$i" 5; done
wait "$sweep_pid" || { cat "$work/timed_sweep.out" >&2; exit 1; }
read -r from to < <(q -F ' ' -c "SELECT extract(epoch FROM min(started_at)), extract(epoch FROM max(finished_at)) FROM bench.sweep_step")
read -r during_p99 during_p99_lag during_p999 during_max during_n < <(latencies "$from" "$to" "$work"/during_*.[0-9]*)
read -r prepare_ms batches median_batch_ms longest_batch_ms timed_sweep_s < <(q -F ' ' -c "
  SELECT round(1000 * extract(epoch FROM sum(finished_at - started_at) FILTER (WHERE kind = 'prepare'))),
         count(*) FILTER (WHERE kind = 'batch' AND rows > 0),
         round(1000 * extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY finished_at - started_at)
                                   FILTER (WHERE kind = 'batch' AND rows > 0))),
         round(1000 * extract(epoch FROM max(finished_at - started_at) FILTER (WHERE kind = 'batch'))),
         round(extract(epoch FROM max(finished_at) - min(started_at))::numeric, 1)
  FROM bench.sweep_step")
# A batch skips the rows a member holds at that moment (FOR UPDATE SKIP LOCKED) and has already
# taken them off the queue: they wait for the next sweep.
concurrent_marked=$(marked)
check "rows marked by the concurrent sweep (at least 99.9%)" "$(awk -v m="$concurrent_marked" -v d="$due" 'BEGIN { print (m >= d * 0.999) ? "yes" : "no" }')" yes
say "  during a sweep: p99 $during_p99 ms (with lag $during_p99_lag, p99.9 $during_p999, max $during_max; $during_n transactions); sweep $timed_sweep_s s, prepare $prepare_ms ms, $batches batches, longest $longest_batch_ms ms"

# --- 2. Batched deletion against one DELETE ---------------------------------------------------
# The due participants, confirmed (the concurrent sweep marked them; the few it skipped because a
# member held them are confirmed the same way), saved with their attendance for the restores.
say "2. delete_confirmed vs DELETE, $rounds rounds"
psql -X -q -v ON_ERROR_STOP=1 <<SQL
SET session_replication_role = replica;
UPDATE outreach.participant
SET retention_status = 'deletion_confirmed', retention_reasons = coalesce(retention_reasons, '{}'),
    retention_due_on = coalesce(retention_due_on, date '2023-09-01'),
    retention_marked_on = coalesce(retention_marked_on, date '$as_of'),
    deletion_confirmed_at = now(), deletion_confirmed_by = 'bench_dpo'
WHERE participant_id <= $due;
RESET session_replication_role;
CREATE TABLE bench.saved_participant AS
  SELECT * FROM outreach.participant WHERE retention_status = 'deletion_confirmed';
CREATE TABLE bench.saved_attendance AS
  SELECT a.* FROM outreach.attendance a JOIN bench.saved_participant p USING (controller_id, participant_id);
SQL
check "confirmed participants" "$(q -c "SELECT count(*) FROM bench.saved_participant")" "$due"
psql -X -q -c "TRUNCATE outreach.tombstone, outreach.retention_run, outreach.audit_log RESTART IDENTITY" \
  -c "VACUUM (ANALYZE) outreach.participant, outreach.attendance, outreach.tombstone, outreach.audit_log" -c "CHECKPOINT"
total=$(q -c "SELECT count(*) FROM outreach.participant")

run_batched() {
  local t0; t0=$(now)
  q -c "CALL outreach.delete_confirmed($batch)" >/dev/null
  local t; t=$(elapsed "$t0")
  check "tombstones" "$(q -c "SELECT count(*) FROM outreach.tombstone")" "$due"
  check "participants left" "$(q -c "SELECT count(*) FROM outreach.participant")" "$((total - due))"
  echo "$t" >> "$work/batched.times"
  say "  delete_confirmed: $t s ($(q -c "SELECT batches FROM outreach.retention_run WHERE kind = 'delete'") batches)"
}
run_delete() {
  local t0; t0=$(now)
  local out; out=$(q -c "DELETE FROM outreach.participant WHERE retention_status = 'deletion_confirmed'")
  local t; t=$(elapsed "$t0")
  check "rows deleted" "$out" "DELETE $due"
  echo "$t" >> "$work/delete.times"
  say "  DELETE: $t s"
}
: > "$work/batched.times"; : > "$work/delete.times"
for r in $(seq "$rounds"); do
  if [ $((r % 2)) = 1 ]; then first=run_batched; second=run_delete; else first=run_delete; second=run_batched; fi
  [ "$r" = 1 ] || psql -X -q -f "$sql_dir/restore.sql"
  $first
  psql -X -q -f "$sql_dir/restore.sql"
  $second
done
batched_s=$(median < "$work/batched.times"); delete_s=$(median < "$work/delete.times")

# --- Results ------------------------------------------------------------------------------------
echo "# retention: participants=$participants controllers=$controllers due=$due attendance=$participants batch=$batch rounds=$rounds"
r1=$(ratio "$sweep_s" "$update_s")
echo "retention_sweep_vs_update: $r1"
echo "# detail retention_sweep_vs_update: sweep median $sweep_s s ($(paste -sd' ' "$work/sweep.times")), UPDATE median $update_s s ($(paste -sd' ' "$work/update.times")), $due rows"
echo "# detail longest_batch_ms: $longest_batch_ms"
echo "# detail sweep steps (the sweep concurrent with member load, each statement timed): prepare $prepare_ms ms, $batches batches, median batch $median_batch_ms ms, longest $longest_batch_ms ms, whole sweep $timed_sweep_s s, marked $concurrent_marked of $due (the rest held by members when their batch came)"
goal retention_sweep_vs_update "$r1" 3
goal longest_batch_ms "$longest_batch_ms" 1000
r2=$(ratio "$batched_s" "$delete_s")
echo "execute_deletions_vs_delete: $r2"
echo "# detail execute_deletions_vs_delete: delete_confirmed median $batched_s s ($(paste -sd' ' "$work/batched.times")), DELETE median $delete_s s ($(paste -sd' ' "$work/delete.times")), $due participants and $due attendance rows"
goal execute_deletions_vs_delete "$r2" 3
r3=$(ratio "$during_p99" "$base_p99")
echo "sweep_p99_latency_ratio: $r3"
echo "# detail sweep_p99_latency_ratio: p99 $during_p99 ms during the sweep ($during_n transactions), $base_p99 ms without ($base_n transactions); $clients clients at $rate tx/s in all, as a writer of one controller; latency without pgbench's schedule lag"
echo "# detail member latency with schedule lag: p99 $during_p99_lag ms during, $base_p99_lag ms without (ratio $(ratio "$during_p99_lag" "$base_p99_lag")); p99.9 $during_p999 ms during, $base_p999 ms without; max $during_max ms during, $base_max ms without"
goal sweep_p99_latency_ratio "$r3" 2
bench_conditions retention
