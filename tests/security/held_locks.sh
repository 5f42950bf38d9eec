#!/usr/bin/env bash
# No role can hold a lock the service needs (issue 12, class 4). Attackers in their own login
# sessions try for 10 s to hold what would stall everyone: a login with no access takes the
# advisory key imports and deletions used until 0.6.0 and tries the lock they use now; a writer
# and a DPO try LOCK TABLE in strong modes and then keep a transaction open with the locks their
# writes take anyway. Meanwhile another member's writes, a DPO's erasure, and the daemon's sweep,
# deletion and outcome import must each complete within 5 s. Prints "ok ..." / "FAILED ...".
set -uo pipefail
: "${OUTREACH_CLUSTER_DIR:?run from scripts/test (needs the test cluster)}"
db=outreach_locks
work="$OUTREACH_CLUSTER_DIR/work/locks"
failed=0
ok() { echo "ok locks: $1"; }
fail() { echo "FAILED locks: $1"; failed=1; }
q() { psql -X -qAt -v ON_ERROR_STOP=1 "$@"; }
roles="lk_nobody lk_writer_a lk_dpo_a lk_writer_b lk_dpo_b lk_daemon"

cleanup() {
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
  for r in $roles; do psql -X -q -d postgres -c "DROP ROLE IF EXISTS $r" >/dev/null 2>&1; done
  q -d postgres -c "SELECT format('DROP ROLE %I', rolname) FROM pg_roles WHERE rolname LIKE 'outreach\_lk\_%'" |
    while read -r stmt; do psql -X -q -d postgres -c "$stmt" >/dev/null 2>&1; done
}
cleanup
rm -rf "$work"; mkdir -p "$work"

q -d postgres -c "CREATE DATABASE $db" || { fail "create database"; exit 1; }
q -d $db >/dev/null <<'SQL' || { fail "set up"; exit 1; }
CREATE EXTENSION outreach;
SELECT outreach.create_controller('lk_a', 'Locks A'), outreach.create_controller('lk_b', 'Locks B');
CREATE ROLE lk_nobody LOGIN;
CREATE ROLE lk_writer_a LOGIN IN ROLE outreach_lk_a_writer;
CREATE ROLE lk_dpo_a LOGIN IN ROLE outreach_lk_a_dpo;
CREATE ROLE lk_writer_b LOGIN IN ROLE outreach_lk_b_writer;
CREATE ROLE lk_dpo_b LOGIN IN ROLE outreach_lk_b_dpo;
CREATE ROLE lk_daemon LOGIN IN ROLE outreach_daemon;
SET ROLE outreach_lk_a_writer;
INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode)
SELECT 'A-' || i, 'Ann', 'A' || i, '2008-01-01', 'SW1A 1AA' FROM generate_series(1, 20) i;
RESET ROLE;
SET ROLE outreach_lk_a_dpo;
INSERT INTO outreach.notification_channel (controller_id, kind, target)
SELECT controller_id, 'email', 'dpo@a.example' FROM outreach.controller WHERE code = 'lk_a';
RESET ROLE;
SET ROLE outreach_lk_b_writer;
INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode)
SELECT 'B-' || i, 'Bea', 'B' || i, '2008-01-01', 'M1 1AE' FROM generate_series(1, 3) i;
RESET ROLE;
-- One of B's records confirmed for deletion, for the daemon's deletion run.
UPDATE outreach.participant SET retention_status = 'deletion_confirmed', deletion_confirmed_at = now(),
       deletion_confirmed_by = 'test' WHERE external_ref = 'B-3';
SQL

attack() {  # attack NAME ROLE SQL: runs in the background, its output in $work/NAME.out
  timeout 30 psql -X -qAt -U "$2" -d $db -c "$3" >"$work/$1.out" 2>&1 &
}
attack advisory lk_nobody "SELECT pg_advisory_lock(1869968498, 1); SELECT pg_advisory_lock_shared(1869968498, 2); SELECT pg_sleep(10)"
attack nobody_lock lk_nobody "BEGIN; LOCK TABLE outreach.outcome_lock IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(10); COMMIT"
attack writer_lock lk_writer_a "BEGIN; LOCK TABLE outreach.participant IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(10); COMMIT"
attack writer_hold lk_writer_a "BEGIN; LOCK TABLE outreach.participant, outreach.attendance IN ROW EXCLUSIVE MODE;
  UPDATE outreach.participant SET first_name = 'Held' WHERE external_ref = 'A-1'; SELECT pg_sleep(10); COMMIT"
attack dpo_lock lk_dpo_a "BEGIN; LOCK TABLE outreach.notification_channel IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(10); COMMIT"
attack dpo_hold lk_dpo_a "BEGIN; SELECT count(*) FROM outreach.notification_channel FOR UPDATE; SELECT pg_sleep(10); COMMIT"
sleep 1.5
started=$(date +%s)

victim() {  # victim LABEL ROLE SQL: must succeed within 5 s while the attackers hold on
  local t0 t1 out
  t0=$(date +%s.%N)
  if out=$(PGOPTIONS='-c statement_timeout=5s -c lock_timeout=5s' timeout 10 psql -X -qAt -v ON_ERROR_STOP=1 -U "$2" -d $db -c "$3" 2>&1); then
    t1=$(date +%s.%N)
    ok "$1 completes while attackers hold on ($(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s)"
  else
    fail "$1 while attackers hold on: $(echo "$out" | head -2)"
  fi
}
victim "another member's writes" lk_writer_b "INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode)
  VALUES ('B-9', 'New', 'Person', '2008-02-02', 'M1 1AE'); UPDATE outreach.participant SET last_name = 'Changed' WHERE external_ref = 'B-1'"
victim "a DPO's erasure" lk_dpo_b "SELECT outreach.erase_participant(p.controller_id, p.participant_id)
  FROM outreach.participant p WHERE p.external_ref = 'B-2'"
victim "the daemon's sweep" lk_daemon "CALL outreach.retention_sweep(current_date)"
victim "the daemon's deletion" lk_daemon "CALL outreach.delete_confirmed(100)"
victim "the daemon's outcome import" lk_daemon "SELECT count(*) FROM outreach.import_outcomes('dfe', 'held.csv',
  convert_to(E'pupilreference,KeyStage,AcademicYear,Measure,Value\r\n1-00000000000000000000000000X,KS4,2023,attainment8,1\r\n', 'UTF8'))"
[ $(( $(date +%s) - started )) -lt 9 ] && ok "every victim finished while the attackers still held on" ||
  fail "the victims took until the attackers let go"
wait

grep -q "permission denied to lock \"outcome_lock\"" "$work/nobody_lock.out" && ok "a login with no access cannot lock the service's lock table" ||
  fail "nobody's LOCK: $(head -2 "$work/nobody_lock.out")"
grep -q "permission denied to lock \"participant\"" "$work/writer_lock.out" && ok "a writer cannot LOCK participant in ACCESS EXCLUSIVE mode" ||
  fail "writer's LOCK: $(head -2 "$work/writer_lock.out")"
grep -q "permission denied to lock \"notification_channel\"" "$work/dpo_lock.out" && ok "a DPO cannot LOCK notification_channel in ACCESS EXCLUSIVE mode" ||
  fail "DPO's LOCK: $(head -2 "$work/dpo_lock.out")"
[ "$(q -d $db -c "SELECT count(*) FROM outreach.participant WHERE external_ref IN ('B-2', 'B-3')")" = 0 ] &&
  ok "the erased and the confirmed participant are gone" || fail "B-2 or B-3 still there"
[ "$(q -d $db -c "SELECT first_name FROM outreach.participant WHERE external_ref = 'A-1'")" = Held ] &&
  ok "the writer's own held transaction committed" || fail "the writer's held update"

cleanup
rm -rf "$work"
exit $failed
