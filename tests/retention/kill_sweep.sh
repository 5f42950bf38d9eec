#!/usr/bin/env bash
# shellcheck disable=SC2317  # cleanup, restore_log and on_exit run from the EXIT trap
# A retention sweep killed at any moment leaves every participant marked or not, never half, and
# the next sweep finishes the job.
#
# In its own database (outreach_retention_kill) it loads 200,000 participants of two controllers
# (KILL_PARTICIPANTS to change; the second with long 10 / short 3 / window 5 years) in one
# INSERT ... SELECT: most are due at 2060-01-01; every tenth is created in 2058 without attendance
# (short track: due in 2061 or later) and every 29th is on hold until 2099, so neither may be
# marked. last_attended_on is set directly (as the attendance triggers would).
# Each trial starts CALL outreach.retention_sweep('2060-01-01', 200) in the background, waits for
# a random point (trial 1: as soon as its backend shows up, usually inside the prepare step;
# the others: a random share of the records it has to mark) and kills the sweep's backend, found
# in pg_stat_activity: pg_terminate_backend() in trials 1, 2, 4, ..., kill -9 in trials 3, 5, ...
# (the postmaster then restarts every backend; the script waits until the server accepts
# connections again). Trial 1 starts with nothing marked; the others first un-mark a random
# range of KILL_SPAN (25,000) participants, so each sweeps only those. After the kill:
#   - every participant is fully marked (status, reasons, due date <= marking date, marking
#     date, a notice of its own controller) or fully unmarked (none of these set), and only
#     due ones are marked;
#   - records_marked of every notice equals the records pointing at it; one notice per
#     controller and cycle;
#   - the interrupted run is 'running' and its rows_marked equals the records it marked (when
#     the kill came before the prepare step committed: no run and nothing marked);
#   - after pg_terminate_backend every due record is marked or still queued; after kill -9
#     the unlogged queue is empty.
# Trial 2 then sweeps as of an earlier date (2030-01-01) while the killed sweep's queue (as of
# 2060) is still there: that sweep must mark nothing as of a later date or not due by 2030.
# Then the sweep runs again to completion: every due record is marked, nothing else; the
# trial's runs' rows_marked add up to the records that were left (none marked twice); the
# notices add up; the interrupted run is still 'running', the new one 'finished'.
# KILL_TRIALS (default 5) such trials, then one that restarts the whole server mid-sweep
# (pg_ctl restart -m immediate as the cluster's owner; the data directory is
# $OUTREACH_CLUSTER_DIR/data): the unlogged queue is empty afterwards and the next sweep still
# completes the job.
# While it runs, the server logs to $OUTREACH_CLUSTER_DIR/log/retention_kill.log (restarted with
# pg_ctl at the start and back on log/postgresql.log at the end), so the deliberate kill -9 do not
# look like crashes to scripts/test's later security checks; this script looks there for crashes
# itself (none but its own kill -9 may show).
# Prints "ok retention: ..." / "FAILED retention: ..."; exits non-zero on failure. Drops its
# database and the roles it created. KILL_SEED repeats a run's random choices.
set -uo pipefail
: "${PGPORT:?run against the test cluster (source scripts/lib/cluster.sh; cluster_start NAME PORT)}"
: "${OUTREACH_CLUSTER_DIR:?the cluster directory (cluster_start exports OUTREACH_CLUSTER_DIR)}"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../../scripts/lib/cluster.sh"    # as_owner, PG_BIN

DB=outreach_retention_kill
N=${KILL_PARTICIPANTS:-200000}
TRIALS=${KILL_TRIALS:-5}
SEED=${KILL_SEED:-$((RANDOM * 32768 + RANDOM))}
RANDOM=$SEED
AS_OF=2060-01-01
EARLY=2030-01-01
BATCH=200
ROLES="outreach_retkill_a_reader, outreach_retkill_a_writer, outreach_retkill_a_dpo, outreach_retkill_a_analyst,
  outreach_retkill_b_reader, outreach_retkill_b_writer, outreach_retkill_b_dpo, outreach_retkill_b_analyst"
work=$(mktemp -d "${TMPDIR:-/tmp}/retention-kill.XXXXXX")
failed=0
start_time=$SECONDS

ok() { echo "ok retention: $*"; }
fail() { echo "FAILED retention: $* (KILL_SEED=$SEED)"; failed=1; }
admin() { psql -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }   # one value or row, '|'-separated

wait_for_server() {  # until the server accepts connections again (60 s at most)
  for _ in $(seq 1 600); do
    psql -X -q -At -d postgres -c 'SELECT 1' >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

# --- cleanup: the database, then the roles that were not there before ---------------------------
cleaned=0
cleanup() {
  [ "$cleaned" = 1 ] && return 0
  cleaned=1
  [ -n "${sweep_pid:-}" ] && kill "$sweep_pid" 2>/dev/null
  wait_for_server >/dev/null 2>&1 || true
  local ok=1 new
  admin -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >>"$work/cleanup.log" 2>&1 || ok=0
  admin -c "DROP ROLE IF EXISTS $ROLES" >>"$work/cleanup.log" 2>&1 || ok=0
  if [ -f "$work/roles.before" ]; then
    admin -At -c "SELECT rolname FROM pg_roles WHERE rolname ~ '^outreach_' ORDER BY 1" >"$work/roles.after" 2>>"$work/cleanup.log"
    new=$(comm -13 "$work/roles.before" "$work/roles.after" | sed 's/.*/"&"/' | paste -sd, -)
    [ -n "$new" ] && { admin -c "DROP ROLE $new" >>"$work/cleanup.log" 2>&1 || ok=0; }
    admin -At -c "SELECT rolname FROM pg_roles WHERE rolname ~ '^outreach_' ORDER BY 1" >"$work/roles.final" 2>>"$work/cleanup.log"
    cmp -s "$work/roles.before" "$work/roles.final" || ok=0
  fi
  [ "$(admin -At -c "SELECT count(*) FROM pg_database WHERE datname = '$DB'")" = 0 ] || ok=0
  if [ "$ok" = 1 ]; then ok "kill: cleanup drops $DB and the roles this run created"
  else fail "kill: cleanup drops $DB and the roles this run created"; tail -5 "$work/cleanup.log"; fi
}
# The kills write "terminated by signal 9" to the server log, which scripts/test's security
# checks read as a crash: while this test runs the server logs to a file of its own, and here it
# goes back to the cluster's log, after a look for crashes other than ours.
LOG_MAIN="$OUTREACH_CLUSTER_DIR/log/postgresql.log"
LOG_KILL="$OUTREACH_CLUSTER_DIR/log/retention_kill.log"
log_switched=0
restart_server() {  # LOG_FILE MODE: pg_ctl restart as the cluster's owner, logging to LOG_FILE
  as_owner "$PG_BIN/pg_ctl" -D "$OUTREACH_CLUSTER_DIR/data" -l "$1" -m "$2" -w -t 60 restart >"$work/restart.log" 2>&1
}
restore_log() {
  [ "$log_switched" = 1 ] || return 0
  log_switched=0
  local other kills
  if restart_server "$LOG_MAIN" fast; then
    ok "kill: the server is back on its own log ($LOG_MAIN)"
  else
    fail "kill: restarting the server on its own log: $(cat "$work/restart.log")"
  fi
  kills=$(grep -c 'terminated by signal 9' "$LOG_KILL")
  other=$(grep -E 'terminated by signal|PANIC|server process .* was terminated' "$LOG_KILL" | grep -v 'terminated by signal 9')
  if [ -z "$other" ] && [ "$kills" = "$kill9_count" ]; then
    ok "kill: the server log of this test ($LOG_KILL) shows no crash but the $kills kill -9 of the test"
  else
    fail "kill: the server log of this test ($LOG_KILL) shows crashes: $kills kill -9 (the test made $kill9_count), and: $other"
  fi
}
kill9_count=0

on_exit() {
  local rc=$?
  cleanup
  restore_log
  rm -rf "$work"
  echo "# kill_sweep: $((SECONDS - start_time))s, KILL_SEED=$SEED"
  [ "$failed" = 0 ] || rc=1
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# --- set-up ----------------------------------------------------------------------------------------
setup() {
  wait_for_server || return 1
  admin -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "DROP ROLE IF EXISTS $ROLES" || return 1
  admin -At -c "SELECT rolname FROM pg_roles WHERE rolname ~ '^outreach_' ORDER BY 1" >"$work/roles.before" || return 1
  admin -c "CREATE DATABASE $DB" || return 1
  # external_ref says what the record is: 'due-' (due by 2060), 'later-' (created 2058, never
  # attended: due 2061 or later), 'held-' (due, but on hold until 2099).
  psql -X -q -v ON_ERROR_STOP=1 -d "$DB" <<SQL || return 1
CREATE EXTENSION outreach;
SELECT outreach.create_controller('retkill_a', 'Retention kill test A');
SELECT outreach.create_controller('retkill_b', 'Retention kill test B');
SELECT outreach.set_retention_policy('retkill_b', long_track_years => 10, short_track_years => 3,
                                     attendance_window_years => 5);
CREATE TABLE public.kill_probe (at timestamptz);
-- (Withdrawn records are loaded restricted, the restriction lifted after: since 0.11.0 a
-- withdrawal recorded on an unrestricted record marks it at once, and this test is of sweeps.)
INSERT INTO outreach.participant (controller_id, external_ref, first_name, last_name, date_of_birth, postcode,
                                  created_at, withdrawn_at, last_attended_on, retention_hold_until,
                                  retention_hold_reason, restricted_at)
SELECT c.controller_id,
       CASE WHEN i % 10 = 0 THEN 'later-' WHEN i % 29 = 0 THEN 'held-' ELSE 'due-' END || i,
       CASE WHEN i % 11 = 0 THEN NULL ELSE 'Ann' END,
       CASE WHEN i % 23 = 0 THEN '' ELSE 'Example' END,
       CASE WHEN i % 19 = 0 THEN NULL ELSE date '1994-09-01' + (i * 7919 % 6200)::int END,
       CASE WHEN i % 13 = 0 THEN NULL ELSE 'M1 1AE' END,
       CASE WHEN i % 10 = 0 THEN timestamptz '2058-03-01 12:00+00' + (i % 300) * interval '1 day'
            ELSE timestamptz '2003-01-01 12:00+00' + (i * 104729 % 7600) * interval '1 day' END,
       CASE WHEN i % 10 <> 0 AND i % 17 = 0 THEN timestamptz '2024-05-01 09:00+00' + (i % 700) * interval '1 day' END,
       CASE WHEN i % 10 = 0 OR i % 7 = 0 THEN NULL ELSE date '2004-01-01' + (i * 31 % 7900)::int END,
       CASE WHEN i % 10 <> 0 AND i % 29 = 0 THEN date '2099-01-01' END,
       CASE WHEN i % 10 <> 0 AND i % 29 = 0 THEN 'in use' END,
       CASE WHEN i % 10 <> 0 AND i % 17 = 0 THEN timestamptz '2024-05-01 09:00+00' END
FROM generate_series(1::bigint, $N) AS i
JOIN outreach.controller c ON c.code = CASE WHEN i % 3 = 0 THEN 'retkill_b' ELSE 'retkill_a' END;
UPDATE outreach.participant SET restricted_at = NULL WHERE restricted_at IS NOT NULL;
ANALYZE outreach.participant;
SQL
}

# The state after an interruption or a sweep, as "name value" lines of counts that must be 0.
#   half       rows neither fully marked nor fully unmarked
#   wrong      marked rows that are not due (or held), or not due at the date they were marked, or
#              marked as of a date no sweep had
#   bad_notice notices whose records_marked differs from the records pointing at them
#   dup_cycle  controllers with two notices for one cycle
consistency_sql() {
  cat <<SQL
SELECT 'half', count(*) FROM outreach.participant p
WHERE NOT ((p.retention_status = 'retained' AND p.retention_reasons IS NULL AND p.retention_due_on IS NULL
            AND p.retention_marked_on IS NULL AND p.retention_notice_id IS NULL)
        OR (p.retention_status = 'ready_for_deletion' AND p.retention_reasons IS NOT NULL
            AND p.retention_due_on IS NOT NULL AND p.retention_marked_on IS NOT NULL
            AND p.retention_due_on <= p.retention_marked_on
            AND EXISTS (SELECT 1 FROM outreach.deletion_notice n
                        WHERE n.controller_id = p.controller_id AND n.notice_id = p.retention_notice_id)))
UNION ALL
SELECT 'wrong', count(*) FROM outreach.participant p
WHERE p.retention_status <> 'retained'
  AND (p.external_ref NOT LIKE 'due-%' OR p.retention_marked_on NOT IN (date '$AS_OF', date '$EARLY')
       OR (p.retention_marked_on < date '$AS_OF' AND outreach.participant_due_on(p,
             (SELECT pol FROM outreach.retention_policy pol WHERE pol.controller_id = p.controller_id),
             p.retention_marked_on) > p.retention_marked_on))
UNION ALL
SELECT 'bad_notice', count(*) FROM outreach.deletion_notice n
WHERE n.records_marked <> (SELECT count(*) FROM outreach.participant p
                           WHERE p.controller_id = n.controller_id AND p.retention_notice_id = n.notice_id)
UNION ALL
SELECT 'dup_cycle', count(*) FROM (SELECT 1 FROM outreach.deletion_notice GROUP BY controller_id, cycle_year
                                   HAVING count(*) > 1) d;
SQL
}

check_consistent() {  # LABEL: every row marked or not, never half; notices add up
  local label=$1 out
  out=$(psql -X -q -At -F ' ' -v ON_ERROR_STOP=1 -d "$DB" -c "$(consistency_sql)" 2>&1)
  if [ -n "$out" ] && ! grep -qv ' 0$' <<<"$out"; then
    ok "$label: every participant fully marked or fully unmarked, only due ones marked, notices' records_marked add up"
  else
    fail "$label: inconsistent state after the interruption: $(tr '\n' ' ' <<<"$out")"
  fi
}

count_marked() { q "SELECT count(*) FROM outreach.participant WHERE retention_status <> 'retained'"; }

# Un-marks the participants with ids in [LO, LO + SPAN) (all of them when SPAN is 0 or less) and
# makes the notices count what still points at them: a trial then sweeps ~SPAN records, not all.
reset_marks() {
  local lo=$1 span=$2 cond="retention_status <> 'retained'"
  [ "$span" -gt 0 ] && cond+=" AND participant_id >= $lo AND participant_id < $lo + $span"
  q "UPDATE outreach.participant SET retention_status = 'retained', retention_reasons = NULL, retention_due_on = NULL,
       retention_marked_on = NULL, retention_notice_id = NULL WHERE $cond" >/dev/null &&
  q "UPDATE outreach.deletion_notice n SET records_marked = (SELECT count(*) FROM outreach.participant p
       WHERE p.controller_id = n.controller_id AND p.retention_notice_id = n.notice_id)" >/dev/null &&
  q "TRUNCATE outreach.retention_queue" >/dev/null
}

start_sweep() {  # AS_OF in the background; sets sweep_pid
  PGAPPNAME=retention_kill_sweep psql -X -q -d "$DB" -c "CALL outreach.retention_sweep('$1', $BATCH)" \
    >"$work/sweep.out" 2>&1 &
  sweep_pid=$!
}

backend_pid() {  # the sweep's backend, once it is visible (10 s at most)
  local pid
  for _ in $(seq 1 1000); do
    pid=$(q "SELECT pid FROM pg_stat_activity WHERE datname = '$DB' AND application_name = 'retention_kill_sweep'
               AND query LIKE 'CALL outreach.retention_sweep(%' AND pid <> pg_backend_pid()" 2>/dev/null)
    [ -n "$pid" ] && { echo "$pid"; return 0; }
    sleep 0.01
  done
  return 1
}

wait_marked() {  # RUN_AFTER TARGET: until the sweep started after run RUN_AFTER has marked TARGET records
  local after=$1 target=$2 got
  for _ in $(seq 1 3000); do
    got=$(q "SELECT coalesce(max(rows_marked), -1) FROM outreach.retention_run WHERE run_id > $after AND kind = 'sweep'" 2>/dev/null)
    [ "${got:--1}" -ge "$target" ] && return 0
    kill -0 "$sweep_pid" 2>/dev/null || return 1
    sleep 0.02
  done
  return 1
}

# Everything committed so far reaches the WAL on disk before the kill (the throwaway clusters run
# with synchronous_commit = off, whose last commits a crash may lose; that is not what we test).
flush_wal() { psql -X -q -d "$DB" -c "SET synchronous_commit = on" -c "INSERT INTO public.kill_probe VALUES (now())" >/dev/null; }

final_checks() {  # LABEL RUN_BEFORE_TRIAL INTERRUPTED_RUN(or empty) TODO(records due and unmarked at the start)
  local label=$1 before=$2 interrupted=$3 todo=$4 marked runs sum unfinished queue wrong_set
  check_consistent "$label: after the sweep ran again"
  marked=$(count_marked)
  wrong_set=$(q "SELECT count(*) FILTER (WHERE retention_status = 'retained' AND external_ref LIKE 'due-%')
                 + count(*) FILTER (WHERE retention_status <> 'retained' AND external_ref NOT LIKE 'due-%')
                 FROM outreach.participant")
  sum=$(q "SELECT coalesce(sum(rows_marked), 0) FROM outreach.retention_run WHERE run_id > $before AND kind = 'sweep'")
  runs=$(q "SELECT string_agg(run_id || ':' || as_of || ':' || status || ':' || rows_marked, ' ' ORDER BY run_id)
            FROM outreach.retention_run WHERE run_id > $before AND kind = 'sweep'")
  queue=$(q "SELECT count(*) FROM outreach.retention_queue")
  if [ "$marked" = "$expected" ] && [ "$wrong_set" = 0 ] && [ "$sum" = "$todo" ] && [ "$queue" = 0 ]; then
    ok "$label: the next sweep finishes the job: all $expected due records marked, nothing else; the runs' rows_marked add up to the $todo that were left (none marked twice); queue empty"
  else
    fail "$label: after the next sweep $marked marked of $expected due ($wrong_set in the wrong state); the runs' rows_marked add up to $sum, $todo were left; queue $queue; runs: $runs"
  fi
  unfinished=$(q "SELECT string_agg(run_id || ':' || status, ' ') FROM outreach.retention_run
                  WHERE run_id > $before AND kind = 'sweep' AND status <> 'finished'")
  if [ -n "$interrupted" ]; then
    if [ "$unfinished" = "$interrupted:running" ] &&
       [ "$(q "SELECT finished_at IS NULL FROM outreach.retention_run WHERE run_id = $interrupted")" = t ]; then
      ok "$label: the run history shows the interrupted run $interrupted as 'running' (never finished), the others 'finished'"
    else
      fail "$label: run history after the interruption: $runs (expected run $interrupted running, the rest finished)"
    fi
  elif [ -z "$unfinished" ]; then
    ok "$label: killed before the prepare step committed: no run left behind; the new run finished"
  else
    fail "$label: run history: $runs"
  fi
}

# One trial: MODE is terminate, kill9 or restart; SPAN the id range un-marked first (0: all);
# FRACTION (per cent) of the work to be done before the kill (-1: as soon as the backend shows
# up); EARLY_PROBE 1 to sweep as of an earlier date before finishing.
trial() {
  local n=$1 mode=$2 span=$3 fraction=$4 probe=$5 label before pid run rows marked queue got start todo target new
  reset_marks $(( (RANDOM * 32768 + RANDOM) % (total - span + 1) + 1 )) "$span" || { fail "kill $n: reset"; return; }
  start=$(count_marked)
  todo=$((expected - start))
  target=-1
  [ "$fraction" -ge 0 ] && target=$((todo * fraction / 100))
  label="kill $n ($mode"
  [ "$target" -lt 0 ] && label+=" at the start" || label+=" after $target"
  label+=" of $todo to mark)"
  before=$(q "SELECT coalesce(max(run_id), 0) FROM outreach.retention_run")
  start_sweep "$AS_OF"
  pid=$(backend_pid) || { fail "$label: the sweep's backend never showed up: $(cat "$work/sweep.out")"; return; }
  if [ "$target" -ge 0 ]; then
    wait_marked "$before" "$target" || { fail "$label: the sweep never got to $target marked: $(cat "$work/sweep.out")"; return; }
    sleep "0.0$((RANDOM % 10))"
    flush_wal
  fi
  case $mode in
    terminate) q "SELECT pg_terminate_backend($pid)" >/dev/null ;;
    kill9) kill -9 "$pid"; kill9_count=$((kill9_count + 1)) ;;
    restart) restart_server "$LOG_KILL" immediate || { fail "$label: pg_ctl restart: $(cat "$work/restart.log")"; return; } ;;
  esac
  wait "$sweep_pid" 2>/dev/null
  sweep_pid=
  if ! grep -qiE 'terminat|connection|closed' "$work/sweep.out"; then
    fail "$label: the sweep was not interrupted (did it finish first?): $(cat "$work/sweep.out")"
  fi
  wait_for_server || { fail "$label: the server does not come back"; return; }

  check_consistent "$label"
  marked=$(count_marked)
  new=$((marked - start))
  run=$(q "SELECT run_id FROM outreach.retention_run WHERE run_id > $before AND kind = 'sweep'")
  queue=$(q "SELECT count(*) FROM outreach.retention_queue")
  if [ -n "$run" ]; then
    rows=$(q "SELECT status || ' ' || (finished_at IS NULL) || ' ' || rows_marked FROM outreach.retention_run WHERE run_id = $run")
    if [ "$rows" = "running true $new" ]; then
      ok "$label: the interrupted run $run is 'running', and its rows_marked ($new) are exactly the records it marked"
    else
      fail "$label: interrupted run $run is '$rows' (status, unfinished, rows_marked), $new records marked"
    fi
  elif [ "$new" = 0 ]; then
    ok "$label: killed inside the prepare step: no run recorded, nothing marked"
  else
    fail "$label: no run recorded but $new records marked"
  fi
  if [ "$mode" = terminate ]; then
    if [ -z "$run" ] && [ "$queue" = 0 ] || [ $((queue + new)) = "$todo" ]; then
      ok "$label: every due record is marked or still queued ($marked + $queue)"
    else
      fail "$label: $new newly marked + $queue queued, but $todo were due and unmarked"
    fi
  elif [ "$queue" = 0 ]; then
    ok "$label: after the crash the unlogged queue is empty"
  else
    fail "$label: after the crash the unlogged queue holds $queue rows"
  fi

  if [ "$probe" = 1 ]; then
    # A sweep as of an earlier date while the killed sweep's queue (as of 2060) is still there:
    # it must not mark anything as of a later date, nor anything not due at its own.
    q "CALL outreach.retention_sweep('$EARLY', $BATCH)" >/dev/null
    got=$(q "SELECT count(*) FILTER (WHERE retention_status <> 'retained' AND retention_marked_on NOT IN (date '$EARLY', date '$AS_OF'))
                    + count(*) FILTER (WHERE retention_marked_on = date '$AS_OF') - $marked,
                    count(*) FILTER (WHERE retention_marked_on = date '$EARLY' AND retention_due_on > date '$EARLY')
             FROM outreach.participant")
    if [ "$got" = "0|0" ]; then
      ok "$label: a sweep as of $EARLY, run while the interrupted sweep's queue (as of $AS_OF) is left, marks only records due by $EARLY, as of $EARLY"
    else
      fail "$label: a sweep as of $EARLY, run while the interrupted sweep's queue (as of $AS_OF) is left, marks records as of a later date or not due by $EARLY ($got: marked as of other dates | marked as of $EARLY but due later)"
    fi
  fi
  q "CALL outreach.retention_sweep('$AS_OF', $BATCH)" >/dev/null || { fail "$label: the next sweep failed"; return; }
  final_checks "$label" "$before" "$run" "$todo"
}

# --- main ------------------------------------------------------------------------------------------
t0=$SECONDS
wait_for_server || { fail "kill: the server does not answer"; exit 1; }
rm -f "$LOG_KILL"
if restart_server "$LOG_KILL" fast; then log_switched=1
else fail "kill: restarting the server to log to $LOG_KILL: $(cat "$work/restart.log")"; exit 1; fi
if ! setup >"$work/setup.log" 2>&1; then
  fail "kill: set-up"; tail -20 "$work/setup.log"; exit 1
fi
expected=$(q "SELECT count(*) FROM outreach.participant WHERE external_ref LIKE 'due-%'")
total=$(q "SELECT count(*) FROM outreach.participant")
ok "kill: loaded $total participants, $expected due at $AS_OF ($((SECONDS - t0))s)"

# Trial 1 sweeps everything (killed right at the start, probably inside the prepare step); the
# others un-mark a random range of ~SPAN participants first, so that each sweeps only those.
SPAN=${KILL_SPAN:-25000}
[ "$SPAN" -gt "$total" ] && SPAN=$total
for n in $(seq 1 "$TRIALS"); do
  if [ $((n % 2)) = 1 ]; then mode=kill9; else mode=terminate; fi
  case $n in
    1) trial 1 terminate 0 -1 0 ;;
    2) trial 2 terminate "$SPAN" $((RANDOM % 60)) 1 ;;   # also: a sweep as of an earlier date
    *) trial "$n" "$mode" "$SPAN" $((RANDOM % 60)) 0 ;;
  esac
done
# (Kill points stay in the first 60% of the work, 40% for the restart, which takes longer to
# strike: a sweep of this size is over in about a second, and a kill after it proves nothing.)
trial $((TRIALS + 1)) restart "$SPAN" $((RANDOM % 40)) 0
exit $failed
