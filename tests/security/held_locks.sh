#!/usr/bin/env bash
# No role can hold a lock the service needs (issue 12, class 4). Attackers in their own login
# sessions try for 10 s to hold what would stall everyone: a login with no access takes the
# advisory key imports and deletions used until 0.6.0 and tries the lock they use now; member B's
# writer and DPO try LOCK TABLE in strong modes (by name, and through a temporary view while
# another of B's sessions reads the table), and keep transactions open with what their ordinary
# writes lock: an update, a deletion, a notification channel, a record due for the grace period.
# Meanwhile member A's writes, A's DPO's erasure, and the daemon's sweep, escalation, deletion
# and outcome import must each complete within 5 s, and an export must begin without stalling
# A's writes. A last attacker holds a transaction open for longer than an export waits
# (outreach.member_lock_seconds): the export ends that session and goes on. Prints "ok ..." / "FAILED ...".
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
SELECT outreach.record_sharing_agreement(name, 'test gateway', 'TEST-' || name, 'the tests', current_date - 1, current_date + 365) FROM outreach.recipient_definition WHERE shipped;
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
-- Records of both members due now (registered long ago, never attended): the sweep marks them
-- and opens a deletion notice for each member.
SET ROLE outreach_lk_b_writer;
INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode)
SELECT 'B-old-' || i, 'Old', 'B' || i, '1990-01-01', 'M1 1AE' FROM generate_series(1, 3) i;
RESET ROLE;
UPDATE outreach.participant SET created_at = '2010-01-01' WHERE external_ref LIKE 'B-old-%' OR external_ref IN ('A-19', 'A-20');
-- A record of each member waiting past its notice's grace period (for the escalation).
SELECT outreach.set_retention_policy(code, grace_days => 1) FROM outreach.controller WHERE code IN ('lk_a', 'lk_b');
INSERT INTO outreach.deletion_notice (controller_id, cycle_year, confirm_by, records_marked)
SELECT controller_id, 2020, '2021-01-01', 1 FROM outreach.controller WHERE code IN ('lk_a', 'lk_b');
UPDATE outreach.participant p SET retention_status = 'ready_for_deletion', retention_marked_on = '2020-10-01',
       retention_notice_id = d.notice_id
FROM outreach.deletion_notice d WHERE d.controller_id = p.controller_id AND d.cycle_year = 2020
  AND p.external_ref IN ('A-18', 'B-1');
SQL

attack() {  # attack NAME ROLE SQL: runs in the background, its output in $work/NAME.out
  timeout "${ATTACK_SECONDS:-30}" psql -X -qAt -U "$2" -d $db -c "$3" >"$work/$1.out" 2>&1 &
}
q -d $db -c "INSERT INTO outreach.participant (controller_id, external_ref, first_name, last_name, date_of_birth, postcode)
  SELECT controller_id, 'B-9', 'To', 'Delete', '2008-01-01', 'M1 1AE' FROM outreach.controller WHERE code = 'lk_b'" >/dev/null
attack advisory lk_nobody "SELECT pg_advisory_lock(1869968498, 1); SELECT pg_advisory_lock_shared(1869968498, 2); SELECT pg_sleep(10)"
attack nobody_lock lk_nobody "BEGIN; LOCK TABLE outreach.outcome_lock IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(10); COMMIT"
attack writer_lock lk_writer_b "BEGIN; LOCK TABLE outreach.participant IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(10); COMMIT"
attack writer_hold lk_writer_b "BEGIN; LOCK TABLE outreach.participant, outreach.attendance IN ROW EXCLUSIVE MODE;
  UPDATE outreach.participant SET first_name = 'Held' WHERE external_ref = 'B-1'; SELECT pg_sleep(10); COMMIT"
attack writer_delete lk_writer_b "BEGIN; DELETE FROM outreach.participant WHERE external_ref = 'B-9'; SELECT pg_sleep(10); COMMIT"
attack writer_reads lk_writer_b "BEGIN; SELECT count(*) FROM outreach.participant; SELECT pg_sleep(10); COMMIT"
attack dpo_lock lk_dpo_b "BEGIN; LOCK TABLE outreach.notification_channel IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(10); COMMIT"
attack dpo_hold lk_dpo_b "BEGIN; INSERT INTO outreach.notification_channel (controller_id, kind, target)
  SELECT controller_id, 'email', 'held@b.example' FROM outreach.controller WHERE code = 'lk_b'; SELECT pg_sleep(10); COMMIT"
sleep 1
# (after writer_reads holds its ACCESS SHARE: a LOCK through a temporary view must not queue)
attack view_lock lk_writer_b "CREATE TEMP VIEW v AS SELECT * FROM outreach.participant;
  BEGIN; LOCK TABLE v IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(10); COMMIT"
sleep 0.5
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
victim "member A's reads" lk_writer_a "SELECT count(*) FROM outreach.participant_core"
victim "member A's writes" lk_writer_a "INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode)
  VALUES ('A-new', 'New', 'Person', '2008-02-02', 'SW1A 1AA'); UPDATE outreach.participant SET last_name = 'Changed' WHERE external_ref = 'A-1'"
victim "A's DPO's erasure" lk_dpo_a "SELECT outreach.erase_participant(p.controller_id, p.participant_id)
  FROM outreach.participant p WHERE p.external_ref = 'A-2'"
victim "A's DPO adds a channel" lk_dpo_a "INSERT INTO outreach.notification_channel (controller_id, kind, target)
  SELECT controller_id, 'email', 'second@a.example' FROM outreach.controller WHERE code = 'lk_a'"
victim "the daemon's sweep" lk_daemon "CALL outreach.retention_sweep(current_date)"
victim "the daemon's escalation" lk_daemon "SELECT count(*) FROM outreach.escalate_overdue_notices(now())"
victim "the daemon's deletion" lk_daemon "CALL outreach.delete_confirmed(100)"
victim "the daemon's outcome import" lk_daemon "SELECT count(*) FROM outreach.import_outcomes('dfe', 'held.csv',
  convert_to(E'pupilreference,KeyStage,AcademicYear,Measure,Value\r\n1-00000000000000000000000000X,KS4,2023,attainment8,1\r\n', 'UTF8'))"
# An export waits for B's open transactions (its SHARE lock must see their changes), but never
# in the queue: A's writes go on meanwhile.
( PGOPTIONS='-c statement_timeout=60s' psql -X -qAt -U lk_daemon -d $db \
    -c "SELECT export_id FROM outreach.export_begin('dfe', current_date)" >"$work/export.out" 2>&1; echo "rc=$?" >>"$work/export.out" ) &
export_pid=$!
sleep 1
victim "member A's writes while an export waits" lk_writer_a "UPDATE outreach.participant SET last_name = 'Again' WHERE external_ref = 'A-1'"
[ $(( $(date +%s) - started )) -lt 9 ] && ok "every victim finished while the attackers still held on" ||
  fail "the victims took until the attackers let go"
wait

while kill -0 $export_pid 2>/dev/null; do sleep 0.5; done
grep -q "rc=0" "$work/export.out" && ok "the export began once B's transactions ended" || fail "export_begin: $(head -3 "$work/export.out")"
grep -Eq "could not obtain lock|permission denied to lock" "$work/view_lock.out" && ok "a LOCK through a temporary view fails at once instead of queueing" ||
  fail "LOCK through a temporary view: $(head -2 "$work/view_lock.out")"
grep -q "permission denied to lock \"outcome_lock\"" "$work/nobody_lock.out" && ok "a login with no access cannot lock the service's lock table" ||
  fail "nobody's LOCK: $(head -2 "$work/nobody_lock.out")"
grep -q "permission denied to lock \"participant\"" "$work/writer_lock.out" && ok "a writer cannot LOCK participant in ACCESS EXCLUSIVE mode" ||
  fail "writer's LOCK: $(head -2 "$work/writer_lock.out")"
grep -q "permission denied to lock \"notification_channel\"" "$work/dpo_lock.out" && ok "a DPO cannot LOCK notification_channel in ACCESS EXCLUSIVE mode" ||
  fail "DPO's LOCK: $(head -2 "$work/dpo_lock.out")"
[ "$(q -d $db -c "SELECT count(*) FROM outreach.participant WHERE external_ref IN ('A-2', 'B-3')")" = 0 ] &&
  ok "A's erased and B's confirmed participant are gone" || fail "A-2 or B-3 still there"
[ "$(q -d $db -c "SELECT count(*) FROM outreach.tombstone t JOIN outreach.controller c USING (controller_id)
                  WHERE c.code = 'lk_a' AND t.confirmed_by = 'grace period'")" = 1 ] &&
  [ "$(q -d $db -c "SELECT retention_status FROM outreach.participant WHERE external_ref = 'B-1'")" = ready_for_deletion ] &&
  ok "the escalation confirmed A's record past its grace period (then deleted), skipping B's locked one" ||
  fail "the grace period: A's record not confirmed, or B's locked one confirmed"
[ "$(q -d $db -c "SELECT count(*) FROM outreach.participant WHERE external_ref LIKE 'B-old-%' AND retention_status = 'ready_for_deletion'")" = 3 ] &&
  ok "the sweep marked B's due records while B's DPO held a channel insert open" || fail "B's due records not marked"
[ "$(q -d $db -c "SELECT first_name FROM outreach.participant WHERE external_ref = 'B-1'")" = Held ] &&
  ok "B's own held transaction committed" || fail "B's held update"

# Longer than an export waits (outreach.member_lock_seconds, 30 s; 5 s for the daemon's role
# here): B holds a transaction open for 30 s; the export ends B's session and begins.
q -d $db -c "ALTER ROLE lk_daemon SET outreach.member_lock_seconds = 5" >/dev/null
ATTACK_SECONDS=40 attack long_hold lk_writer_b "BEGIN; UPDATE outreach.participant SET first_name = 'Long' WHERE external_ref = 'B-1'; SELECT pg_sleep(30); COMMIT"
sleep 1
t0=$(date +%s)
out=$(PGOPTIONS='-c statement_timeout=70s' psql -X -qAt -U lk_daemon -d $db -c "SELECT export_id FROM outreach.export_begin('dfe', current_date)" 2>&1)
took=$(( $(date +%s) - t0 ))
[ "$took" -ge 4 ] && [ "$took" -le 12 ] && ! grep -q ERROR <<<"$out" &&
  ok "an export held up for member_lock_seconds ends the member's session and begins (after $took s)" ||
  fail "export after a long hold: $took s, $out"
wait
grep -q "terminating connection" "$work/long_hold.out" && ok "the member's session was ended, its update rolled back" ||
  fail "the long-held session: $(head -2 "$work/long_hold.out")"
[ "$(q -d $db -c "SELECT first_name FROM outreach.participant WHERE external_ref = 'B-1'")" = Held ] || fail "B-1 changed by the ended session"

# An outcome import while B deletes: B holds a deletion open (its member's row of
# outreach.outcome_lock); the import stores A's outcome, reports B's line as deferred, and
# finishes; imported again once B is done, B's line is stored too.
q -d $db >/dev/null <<'SQL' || fail "finish the export (the ledger the import reads)"
SET ROLE lk_daemon;
SELECT outreach.export_finish(e.export_id, repeat('a', 64), e.row_count)
FROM outreach.export e WHERE e.status = 'building' AND EXISTS (SELECT 1 FROM outreach.export_lines(e.export_id));
SQL
refs=$(q -d $db -c "SELECT string_agg(d.reference, ' ' ORDER BY p.external_ref) FROM outreach.disclosure d
  JOIN outreach.participant p USING (controller_id, participant_id) WHERE p.external_ref IN ('A-3', 'B-2') AND d.recipient = 'dfe'")
ref_a=${refs%% *}; ref_b=${refs##* }
file="pupilreference,KeyStage,AcademicYear,Measure,Value\r\n$ref_a,KS4,2022/23,attainment8,61.5\r\n$ref_b,KS4,2022/23,attainment8,55\r\n"
import_sql="SELECT coalesce(string_agg(line_no || ' ' || status, ', ' ORDER BY line_no), 'all imported')
  FROM outreach.import_outcomes('dfe', 'busy.csv', convert_to(E'$file', 'UTF8'))"
attack busy_delete lk_writer_b "BEGIN; DELETE FROM outreach.participant WHERE external_ref = 'B-old-2'; SELECT pg_sleep(6); COMMIT"
sleep 1
out=$(PGOPTIONS='-c statement_timeout=5s' q -U lk_daemon -d $db -c "$import_sql" 2>&1)
[ "$out" = "3 deferred" ] && ok "an import while B deletes stores A's line and defers B's (line 3)" || fail "import while B deletes: $out (refs: $refs)"
wait
out=$(q -U lk_daemon -d $db -c "$import_sql" 2>&1)
[ "$out" = "all imported" ] && ok "imported again once B is done, B's line is stored too" || fail "second import: $out"
[ "$(q -d $db -c "SELECT count(*) FROM outreach.outcome o JOIN outreach.participant p USING (controller_id, participant_id)
                  WHERE p.external_ref IN ('A-3', 'B-2')")" = 2 ] && ok "both outcomes held" || fail "outcomes held after the imports"

cleanup
rm -rf "$work"
exit $failed
