#!/usr/bin/env bash
# The C++/PostgreSQL boundary under errors (docs/decisions.md, "Hardening (0.7.0)"): errors
# raised inside the extension's C++ code, also inside executor callbacks (outcome import's
# DestReceiver, whose memory is freed before the error is re-thrown), reach the user with their
# own SQLSTATE and message, the backend survives (the next statement of the same session works)
# and the server log shows no crash. Forced here: a statement_timeout at several points of a
# large outcome import, pg_cancel_backend() from another session, temp_file_limit while the
# import's result spills to disk, and damaged stored blocks of both kinds (outcome_block and
# the ledger's disclosure_block, whose arrays a CHECK keeps aligned). Prints "ok"/"FAILED" lines; needs the cluster from
# scripts/lib/cluster.sh (scripts/test runs it through run_checks).
set -uo pipefail
: "${OUTREACH_CLUSTER_DIR:?run from scripts/test (needs the test cluster)}"

log="$OUTREACH_CLUSTER_DIR/log/postgresql.log"
work="$OUTREACH_CLUSTER_DIR/work/boundary_errors"
db=outreach_boundary
people=${BOUNDARY_PEOPLE:-150000}
failed=0
mkdir -p "$work"

check() {  # check NAME COMMAND...
  local name=$1; shift
  if "$@"; then echo "ok boundary: $name"; else echo "FAILED boundary: $name"; failed=1; fi
}
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }
# session NAME SQL: runs SQL in one psql session (errors do not stop it), output in $work/NAME.
session() {
  psql -X -q -At -v VERBOSITY=verbose -d "$db" >"$work/$1.out" 2>&1 <<SQL
SELECT 'pid ' || pg_backend_pid();
$2
SELECT 'alive ' || pg_backend_pid();
SQL
}
# survived NAME: the session's last statement ran in the same backend as its first.
survived() {
  local a b
  a=$(sed -n 's/^pid //p' "$work/$1.out"); b=$(sed -n 's/^alive //p' "$work/$1.out")
  [ -n "$a" ] && [ "$a" = "$b" ] || { cat "$work/$1.out"; return 1; }
}
# error_is NAME SQLSTATE TEXT: the session reported exactly this error (verbose: "ERROR:  57014: ...").
error_is() {
  grep -q "^ERROR:  $2: $3" "$work/$1.out" || { echo "  expected ERROR:  $2: $3"; cat "$work/$1.out"; return 1; }
}

dropdb --if-exists "$db" >/dev/null 2>&1
drop_roles() {  # the roles this script makes (cluster-wide, so also what a killed run left)
  local r
  for r in $(psql -X -At -d postgres -c "SELECT rolname FROM pg_roles WHERE rolname IN ('be_daemon') OR rolname LIKE 'outreach\_be\_member\_%'"); do
    psql -X -q -d postgres -c "DROP ROLE $r" >/dev/null 2>&1
  done
}
drop_roles
createdb "$db" || { echo "FAILED boundary: createdb"; exit 1; }
log_from=$(($(wc -c <"$log") + 1))

# --- set-up: one member, $people participants spread over many blocks, exported to dfe ---------
psql -X -q -v ON_ERROR_STOP=1 -d "$db" >"$work/setup.out" 2>&1 <<SQL || { echo "FAILED boundary: set-up"; cat "$work/setup.out"; exit 1; }
CREATE EXTENSION outreach;
SELECT outreach.record_sharing_agreement(name, 'test gateway', 'TEST-' || name, 'the tests', current_date - 1, current_date + 365) FROM outreach.recipient_definition WHERE shipped;
CREATE ROLE be_daemon;
GRANT outreach_daemon TO be_daemon;
SELECT outreach.create_controller('be_member', 'Boundary member') AS member \gset
-- (ids 300 apart: about 220 participants per block of 65536, so the import merges many blocks)
INSERT INTO outreach.participant (controller_id, participant_id, external_ref, first_name, last_name, date_of_birth, postcode) OVERRIDING SYSTEM VALUE
SELECT :member, i * 300, 'p' || i, 'First' || i, 'Last' || i, DATE '2007-03-01' + (i % 200), 'SW1A 1AA'
FROM generate_series(1, $people) AS i;
SET ROLE be_daemon;
SELECT export_id, row_count FROM outreach.export_begin('dfe', '2025-10-01') \gset
SELECT outreach.export_finish(:export_id, repeat('ab', 32), :row_count) IS NOT NULL AS finished;
RESET ROLE;
-- The outcome file: five facts for each participant exported.
CREATE TABLE be_file AS
SELECT convert_to('PupilReference,KeyStage,AcademicYear,Measure,Value' || E'\r\n' ||
                  string_agg(d.reference || ',KS4,2023,' || m || ',' || (d.participant_id % 90), E'\r\n') || E'\r\n', 'UTF8') AS content
FROM outreach.disclosure d CROSS JOIN unnest(ARRAY['attainment8', 'progress8', 'ebacc', 'eng_maths_4plus', 'eng_maths_5plus']) AS m
WHERE d.recipient = 'dfe';
-- The same facts with other values: every block the import merges changes (its arrays are rebuilt
-- and returned, so the result is large enough to spill to disk under a small work_mem).
CREATE TABLE be_file2 AS
SELECT convert_to(regexp_replace(convert_from(content, 'UTF8'), ',([0-9]+)\r', ',1\1\r', 'g'), 'UTF8') AS content FROM be_file;
GRANT SELECT ON be_file, be_file2 TO be_daemon;
-- Imported once, so that the imports below merge with blocks already held.
SET ROLE be_daemon;
SELECT count(*) AS not_imported FROM outreach.import_outcomes('dfe', 'first.csv', (SELECT content FROM be_file));
RESET ROLE;
SQL
blocks=$(q "SELECT count(*) FROM outreach.outcome_block")
check "set-up: $people participants exported and their outcomes imported into $blocks blocks" test "$blocks" -gt 100

# (rolled back: every import below meets the blocks of the first one, and changes all of them)
import_q="SELECT count(*) FROM outreach.import_outcomes('dfe', 'again.csv', (SELECT content FROM be_file2));"
import="BEGIN; SET LOCAL ROLE be_daemon; $import_q ROLLBACK;"

# How long an import takes, and when it merges blocks (its phases at DEBUG1).
session timing "SET client_min_messages = debug1; $import RESET client_min_messages;"
phases=$(awk '/outcome_import_rows: .* in [0-9.]+ s/ { for (i = 1; i <= NF; i++) if ($i == "in") t += $(i + 1); printf "%s=%.2f ", ($0 ~ /merged/ ? "merged" : ($0 ~ /judged/ ? "judged" : "phase")), t }' "$work/timing.out")
judged_at=$(grep -o 'judged=[0-9.]*' <<<"$phases" | cut -d= -f2)
merged_at=$(grep -o 'merged=[0-9.]*' <<<"$phases" | cut -d= -f2)
check "an import of $(($people * 5)) lines runs to the end (seconds from its start: $phases)" \
  grep -q "outcome_import_rows: blocks merged" "$work/timing.out"

# --- statement_timeout at points through the import, merging included ---------------------------
# (five points through the import, three of them while blocks are merged, i.e. while the
# executor calls the import's DestReceiver)
for ms in $(awk -v j="${judged_at:-1}" -v m="${merged_at:-1.5}" 'BEGIN { printf "%d %d ", j * 300, j * 700; for (f = 0.2; f < 1; f += 0.3) printf "%d ", (j + f * (m - j)) * 1000 }'); do
  session "timeout_$ms" "SET statement_timeout = '${ms}ms'; $import RESET statement_timeout;"
  check "statement_timeout ${ms} ms: 57014 canceling statement due to statement timeout" \
    error_is "timeout_$ms" 57014 "canceling statement due to statement timeout"
  check "statement_timeout ${ms} ms: the same backend runs the next statement" survived "timeout_$ms"
done

# --- pg_cancel_backend() from another session ----------------------------------------------------
for delay in $(awk -v j="${judged_at:-1}" -v m="${merged_at:-1.5}" 'BEGIN { printf "%.2f %.2f", j / 2, (j + m) / 2 }'); do
  session "cancel_$delay" "$import" &
  bg=$!
  sleep "$delay"
  q "SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity
     WHERE datname = current_database() AND query LIKE '%import_outcomes%' AND pid <> pg_backend_pid()" >/dev/null
  wait "$bg"
  if grep -q '^ERROR' "$work/cancel_$delay.out"; then
    check "pg_cancel_backend after ${delay} s: 57014 canceling statement due to user request" \
      error_is "cancel_$delay" 57014 "canceling statement due to user request"
  else
    echo "ok boundary: pg_cancel_backend after ${delay} s: the import had finished first"
  fi
  check "pg_cancel_backend after ${delay} s: the same backend runs the next statement" survived "cancel_$delay"
done

# --- temp_file_limit while the import's result spills to disk -----------------------------------
# import_outcomes() runs with work_mem = 256MB (its own SET), so the C++ pass is called here
# directly, as import_outcomes() calls it, under a small work_mem: its result tuplestore spills
# from inside the executor callback that merges blocks, and the temp-file error raised there is
# the one re-thrown after the executor's memory is gone.
rows="WITH lay AS (SELECT l.* FROM outreach.recipient_layout l WHERE l.recipient = 'dfe' AND l.kind = 'outcome'
                  ORDER BY l.version DESC LIMIT 1),
     pos AS (SELECT jsonb_object_agg(c.field, c.i) AS p
             FROM (SELECT lc.field, row_number() OVER (ORDER BY lc.position) AS i
                   FROM outreach.recipient_layout_column lc, lay
                   WHERE lc.recipient = 'dfe' AND lc.kind = 'outcome' AND lc.version = lay.version AND lc.field <> 'ignore') AS c),
     codes AS (SELECT coalesce(array_agg(k.key ORDER BY k.key), '{}') AS keys, coalesce(array_agg(k.value ORDER BY k.key), '{}') AS vals
               FROM lay, jsonb_each_text(coalesce(lay.value_codes -> 'outcome', '{}')) AS k)
SELECT count(*) FROM lay, pos, codes, outreach.outcome_import_rows('dfe', 999999, (SELECT content FROM be_file2), 1,
  (SELECT count(*)::int FROM outreach.recipient_layout_column lc WHERE lc.recipient = 'dfe' AND lc.kind = 'outcome' AND lc.version = lay.version),
  ARRAY[coalesce((p ->> 'reference')::int, 0), coalesce((p ->> 'academic_year')::int, 0), coalesce((p ->> 'measure')::int, 0),
        coalesce((p ->> 'value')::int, 0), coalesce((p ->> 'provider_ukprn')::int, 0), coalesce((p ->> 'provider_name')::int, 0),
        coalesce((p ->> 'outcome')::int, 0)],
  CASE WHEN lay.outcome_kind IS NOT NULL AND NOT p ? 'outcome' THEN lay.outcome_kind END, codes.keys, codes.vals) AS x;"
session rows_whole "BEGIN; $rows ROLLBACK;"
check "the C++ pass called directly returns the import's rows" bash -c "grep -Eq '^[0-9]+\$' '$work/rows_whole.out' && ! grep -q '^ERROR' '$work/rows_whole.out'"
session temp_file "BEGIN; SET LOCAL work_mem = '64kB'; SET LOCAL temp_file_limit = '64kB'; $rows ROLLBACK;"
check "temp_file_limit: 53400 temporary file size exceeds temp_file_limit (64kB)" \
  error_is temp_file 53400 "temporary file size exceeds temp_file_limit"
check "temp_file_limit: the same backend runs the next statement" survived temp_file

# --- damaged stored blocks: the import touching them is refused (XX001), nothing stored ----------
damaged() {  # damaged NAME UPDATE MESSAGE
  session "damaged_$1" "BEGIN; $2; SET LOCAL ROLE be_daemon; $import_q ROLLBACK;"
  check "damaged $1: XX001 $3" error_is "damaged_$1" XX001 "$3"
  check "damaged $1: the same backend runs the next statement" survived "damaged_$1"
}
one_block="WHERE block = (SELECT min(block) FROM outreach.outcome_block)"
one_ledger="WHERE block = (SELECT min(block) FROM outreach.disclosure_block)"
damaged outcome_lengths "UPDATE outreach.outcome_block SET outcome_values = outcome_values[2:] $one_block" \
  "outcome_block: the arrays of a block differ in length"
damaged outcome_null_id "UPDATE outreach.outcome_block SET participant_ids[1] = NULL $one_block" \
  "NULL in outcome_block.participant_ids"
damaged outcome_null_year "UPDATE outreach.outcome_block SET academic_years[2] = NULL $one_block" \
  "NULL in outcome_block.academic_years"
damaged outcome_kind "UPDATE outreach.outcome_block SET outcomes[1] = 'no_such_kind' $one_block" \
  "outcome_block: an unknown outcome kind"
damaged outcome_2d "UPDATE outreach.outcome_block SET line_nos = ARRAY[line_nos, line_nos] $one_block" \
  "outcome_block: the arrays of a block differ in length"
damaged ledger_null_id "UPDATE outreach.disclosure_block SET participant_ids[1] = NULL $one_ledger" \
  "NULL in disclosure_block.participant_ids"

# --- after all that: the server never restarted, the log shows no crash --------------------------
check "the server log shows no crash" bash -c "! tail -c +$log_from '$log' | grep -Eq 'terminated by signal|PANIC|was terminated|server process .* exited'"
check "the server log shows no internal error" bash -c "! tail -c +$log_from '$log' | grep -Eq 'XX000|unexpected C\\+\\+ exception'"
[ -n "${BOUNDARY_KEEP_DB:-}" ] || dropdb "$db" >/dev/null 2>&1 || true
drop_roles
exit $failed
