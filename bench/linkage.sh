#!/usr/bin/env bash
# Linkage exports and outcome imports against the plain COPY a DBA would write. Measured in one
# run, in a throwaway cluster, with BENCH_PARTICIPANTS (1,000,000) eligible participants of 100
# members; ratios are throughputs (baseline time / our time, so above 1 is faster):
#
#   linkage_export_vs_copy_to      export_begin('dfe') + every record of export_lines() written
#                                  to a file (COPY ... TO STDOUT, as the daemon streams it) +
#                                  export_finish (the ledger) /
#                                  COPY (SELECT the same columns: reference, names, date, postcode,
#                                  coded sex, URN, UPN, ULN, for the same participants) TO a file;
#                                  goal >= 0.5. The two files are checked to hold the same records.
#   linkage_import_vs_copy_from    import_outcomes('dfe', file) of an outcome file with one row per
#                                  participant / COPY of the same file into a table of the same
#                                  (text) columns; goal >= 0.4.
# Lines starting with # are context: the same baselines with the file's key (import) or without
# computing references (export), the parts of each side, and the conditions of the run (machine
# and cluster: bench/lib/conditions.sh).
#
#   bash bench/linkage.sh                                   1,000,000 participants (about 5 min)
#   BENCH_PARTICIPANTS=100000 bash bench/linkage.sh          a quick run
#
# Environment: BENCH_PARTICIPANTS (1000000), BENCH_CONTROLLERS (100), BENCH_ROUNDS (3: sides
# alternated, medians compared), BENCH_PORT (55453). Not part of scripts/test.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"
source "$REPO_ROOT/scripts/lib/cluster.sh"
source "$REPO_ROOT/bench/lib/conditions.sh"
source "$REPO_ROOT/bench/lib/quiesce.sh"
bench_conditions_start

participants=${BENCH_PARTICIPANTS:-1000000}
controllers=${BENCH_CONTROLLERS:-100}
rounds=${BENCH_ROUNDS:-3}
as_of=2025-10-01

trap 'cluster_stop' EXIT
port=${BENCH_PORT:-55453}
cluster_start "bench_link_$port" "$port"   # one directory per port: runs on other ports do not clash
work="$OUTREACH_CLUSTER_DIR/work"
psql -X -q -c "CREATE DATABASE bench"
export PGDATABASE=bench
psql -X -q -c "CREATE EXTENSION outreach"
psql -X -q -c "SELECT outreach.record_sharing_agreement(name, 'test gateway', 'TEST-' || name, 'the tests', current_date - 1, current_date + 365) FROM outreach.recipient_definition WHERE shipped;" >/dev/null

script_start=$(date +%s)
say() { echo "[$(( $(date +%s) - script_start )) s] $*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
goal() {  # goal NAME VALUE LIMIT
  awk -v n="$1" -v v="$2" -v l="$3" 'BEGIN { printf "# goal %s >= %s: %s\n", n, l, (v >= l) ? "met" : "NOT met" }'
}
q() { psql -X -At -v ON_ERROR_STOP=1 "$@"; }

say "loading $participants participants of $controllers members..."
start=$(now)
q -q -v controllers="$controllers" -v participants="$participants" >/dev/null <<'SQL'
SET session_replication_role = replica;   -- triggers off for the load (no audit, no linkage_id)
SELECT count(outreach.create_controller(format('bench%s', lpad(c::text, 3, '0')), format('Bench member %s', c)))
FROM generate_series(1, :controllers) AS c;
INSERT INTO outreach.retention_policy (controller_id) SELECT controller_id FROM outreach.controller ON CONFLICT DO NOTHING;
INSERT INTO outreach.institution (urn, name) SELECT 100000 + k, 'School ' || k FROM generate_series(1, 3000) AS k;
-- Everyone eligible for the dfe export as of 2025-10-01: born 2006-09-01 .. 2009-08-31 (Expected
-- HE Entry Years 2025-2027, in dfe's window 2017-2027), complete identifiers; half with a school,
-- a quarter with a UPN, a quarter with a ULN; a third female, a third male, a third not recorded.
INSERT INTO outreach.participant (controller_id, participant_id, first_name, last_name, date_of_birth, postcode, sex,
                                  institution_id, upn, uln, created_at, updated_at)
OVERRIDING SYSTEM VALUE
SELECT 1 + i % :controllers, i, 'F' || i, 'L' || (i % 50000), date '2006-09-01' + i % 1095,
       ('B' || (i % 99 + 1) || ' ' || (i % 10) || 'A' || chr(65 + i % 2))::outreach.uk_postcode,
       CASE i % 3 WHEN 0 THEN 'female' WHEN 1 THEN 'male' END,
       CASE WHEN i % 2 = 0 THEN 1 + i % 3000 END,
       CASE WHEN i % 4 = 1 THEN outreach.upn_check_letter(lpad((i::bigint * 7919 % 1000000000000)::text, 12, '0'))
                                || lpad((i::bigint * 7919 % 1000000000000)::text, 12, '0') END,
       CASE WHEN i % 4 = 2 THEN (SELECT n || d FROM generate_series(0, 9) AS d, LATERAL (SELECT (100000000 + i)::text AS n) AS x
                                 WHERE outreach.is_valid_uln(n || d) LIMIT 1) END,
       timestamptz '2024-01-01 12:00+00', timestamptz '2024-01-01 12:00+00'
FROM generate_series(1, :participants) AS i
ORDER BY 1 + i % :controllers, i;
RESET session_replication_role;
SELECT setval(pg_get_serial_sequence('outreach.participant', 'participant_id'), :participants);
VACUUM (FREEZE, ANALYZE) outreach.participant, outreach.institution, outreach.retention_policy;
CHECKPOINT;
SQL
say "loaded in $(elapsed "$start") s"
bench_quiesce outreach.participant outreach.institution outreach.retention_policy outreach.controller

# --- A. Export ---------------------------------------------------------------------------------
# The baseline writes the same records: the dfe layout's columns, computed the same way, for the
# same participants (eligibility written out), in the same order, as CSV with a header.
baseline_select="SELECT outreach.pseudonymise('c' || p.controller_id, 'p' || p.participant_id, DATE '1900-01-01', 'GIR 0AA', 'recipient:dfe')::text AS \"PupilReference\",
       btrim(p.first_name) AS \"Forename\", btrim(p.last_name) AS \"Surname\", to_char(p.date_of_birth, 'DD/MM/YYYY') AS \"DateOfBirth\",
       p.postcode::text AS \"Postcode\",
       CASE lower(btrim(p.sex)) WHEN 'f' THEN 'F' WHEN 'female' THEN 'F' WHEN 'm' THEN 'M' WHEN 'male' THEN 'M' END AS \"Sex\",
       i.urn::text AS \"SchoolURN\", p.upn AS \"UPN\", p.uln AS \"ULN\"
FROM outreach.participant p
JOIN outreach.retention_policy pol ON pol.controller_id = p.controller_id
LEFT JOIN outreach.institution i ON i.institution_id = p.institution_id
WHERE p.withdrawn_at IS NULL AND p.restricted_at IS NULL AND p.retention_status = 'retained'
  AND coalesce(p.he_entry_year_override, outreach.expected_he_entry_year(p.date_of_birth, pol.nation)) BETWEEN 2017 AND 2027
  AND outreach.normalise_name(p.first_name) <> '' AND outreach.normalise_name(p.last_name) <> ''
  AND p.date_of_birth IS NOT NULL AND p.postcode IS NOT NULL
ORDER BY p.controller_id, p.participant_id"
raw_select="SELECT p.first_name, p.last_name, p.date_of_birth, p.postcode, p.sex, i.urn, p.upn, p.uln
FROM outreach.participant p LEFT JOIN outreach.institution i ON i.institution_id = p.institution_id
ORDER BY p.controller_id, p.participant_id"

run_export() {  # prints: total begin lines finish rows
  q -c "TRUNCATE outreach.disclosure_block" >/dev/null   # so that everyone is sent again (nothing unchanged)
  rm -f "$work/export.csv"
  local out
  out=$(q <<SQL
\\timing on
SELECT export_id, row_count FROM outreach.export_begin('dfe', '$as_of') \\gset
\\o $work/export.csv
COPY (SELECT * FROM outreach.export_lines(:export_id)) TO STDOUT;
\o
SELECT outreach.export_finish(:export_id, repeat('0', 64), :row_count) IS NOT NULL;
SELECT 'rows', :row_count;
SQL
)
  echo "$out" | awk '/^Time:/ { t[++n] = $2 / 1000 } /^rows\|/ { split($0, a, "|"); rows = a[2] }
                     END { printf "%.3f %.3f %.3f %.3f %s\n", t[1] + t[2] + t[3], t[1], t[2], t[3], rows }'
}
run_baseline() {  # prints seconds
  rm -f "$work/baseline.csv"
  q <<SQL | awk '/^Time:/ { printf "%.3f\n", $2 / 1000 }'
\\timing on
\\o $work/baseline.csv
COPY ($baseline_select) TO STDOUT WITH (FORMAT csv, HEADER);
\o
SQL
}
run_raw() {
  rm -f "$work/raw.csv"
  q <<SQL | awk '/^Time:/ { printf "%.3f\n", $2 / 1000 }'
\\timing on
\\o $work/raw.csv
COPY ($raw_select) TO STDOUT WITH (FORMAT csv, HEADER);
\o
SQL
}

say "export: $rounds rounds, ours and COPY TO alternated..."
: > "$work/ours.t"; : > "$work/base.t"; : > "$work/raw.t"; : > "$work/parts.t"
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) = 1 ]; then
    run_export > "$work/one.t"; run_baseline >> "$work/base.t"
  else
    run_baseline >> "$work/base.t"; run_export > "$work/one.t"
  fi
  run_raw >> "$work/raw.t"
  cut -d' ' -f1 "$work/one.t" >> "$work/ours.t"; cat "$work/one.t" >> "$work/parts.t"
done
rows=$(tail -1 "$work/parts.t" | cut -d' ' -f5)
[ "$rows" = "$participants" ] || { say "linkage: the export staged $rows rows, expected $participants"; exit 1; }
# The same records: the file the daemon would write (LF here) and COPY's, sorted.
if ! cmp -s <(sort "$work/export.csv") <(sort "$work/baseline.csv"); then
  say "linkage: export and baseline files differ:"; diff <(sort "$work/export.csv") <(sort "$work/baseline.csv") | head >&2; exit 1
fi
ours=$(median < "$work/ours.t"); base=$(median < "$work/base.t"); raw=$(median < "$work/raw.t")
export_ratio=$(ratio "$base" "$ours")
echo "linkage_export_vs_copy_to: $export_ratio"
goal linkage_export_vs_copy_to "$export_ratio" 0.5
echo "# export: ours $ours s (begin, lines, finish: $(awk '{ b[NR]=$2; l[NR]=$3; f[NR]=$4 } END { printf "%.2f, %.2f, %.2f s in the last round", b[NR], l[NR], f[NR] }' "$work/parts.t")), COPY TO $base s; COPY TO without references and formatting $raw s: ratio $(ratio "$raw" "$ours")"

# --- B. Import ---------------------------------------------------------------------------------
# One outcome per participant (KS4 Attainment 8), in a random order, written once as the file.
q -c "COPY (SELECT d.reference, 'KS4', '2022/23', 'attainment8', (d.participant_id % 90)::text
            FROM outreach.disclosure d ORDER BY hashtext(d.reference))
       TO '$work/outcomes.csv' WITH (FORMAT csv, HEADER)" >/dev/null
sed -i '1s/.*/PupilReference,KeyStage,AcademicYear,Measure,Value/' "$work/outcomes.csv"
q -q -c "CREATE TABLE copy_plain (reference text, key_stage text, academic_year text, measure text, value text)" \
      -c "CREATE TABLE copy_keyed (reference text COLLATE \"C\", key_stage text COLLATE \"C\", academic_year text COLLATE \"C\",
                                   measure text COLLATE \"C\", value text, PRIMARY KEY (reference, key_stage, academic_year, measure))"

run_import() {  # prints: seconds lines_not_imported
  q -q -c "TRUNCATE outreach.outcome_block, outreach.outcome_import CASCADE" -c "CHECKPOINT"
  q <<SQL | awk '/^Time:/ { t = $2 / 1000 } /^[0-9]+$/ { n = $1 } END { printf "%.3f %s\n", t, n }'
\\timing on
SELECT count(*) FROM outreach.import_outcomes('dfe', 'outcomes.csv', pg_read_binary_file('$work/outcomes.csv'));
SQL
}
run_copy_from() {  # run_copy_from TABLE: prints seconds
  q -q -c "TRUNCATE $1" -c "CHECKPOINT"
  q <<SQL | awk '/^Time:/ { printf "%.3f\n", $2 / 1000 }'
\\timing on
COPY $1 FROM '$work/outcomes.csv' WITH (FORMAT csv, HEADER);
SQL
}

say "import: $rounds rounds, ours and COPY FROM alternated..."
: > "$work/imp.t"; : > "$work/copy.t"; : > "$work/keyed.t"
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) = 1 ]; then
    run_import > "$work/one.t"; run_copy_from copy_plain >> "$work/copy.t"
  else
    run_copy_from copy_plain >> "$work/copy.t"; run_import > "$work/one.t"
  fi
  run_copy_from copy_keyed >> "$work/keyed.t"
  cut -d' ' -f1 "$work/one.t" >> "$work/imp.t"
  not_imported=$(cut -d' ' -f2 "$work/one.t")
  [ "$not_imported" = 0 ] || { say "linkage: $not_imported lines of the outcome file were not imported"; exit 1; }
done
imported=$(q -c "SELECT inserted FROM outreach.outcome_import")
[ "$imported" = "$participants" ] || { say "linkage: $imported outcomes imported, expected $participants"; exit 1; }
# Again, with everything already held: nothing changes.
again=$(q <<SQL | awk '/^Time:/ { printf "%.3f\n", $2 / 1000 }'
\\timing on
SELECT count(*) FROM outreach.import_outcomes('dfe', 'outcomes.csv', pg_read_binary_file('$work/outcomes.csv'));
SQL
)
unchanged=$(q -c "SELECT unchanged FROM outreach.outcome_import ORDER BY import_id DESC LIMIT 1")
[ "$unchanged" = "$participants" ] || { say "linkage: re-import left $unchanged unchanged, expected $participants"; exit 1; }
imp=$(median < "$work/imp.t"); copy=$(median < "$work/copy.t"); keyed=$(median < "$work/keyed.t")
import_ratio=$(ratio "$copy" "$imp")
echo "linkage_import_vs_copy_from: $import_ratio"
goal linkage_import_vs_copy_from "$import_ratio" 0.4
echo "# import: ours $imp s (the same file again, all unchanged: $again s), COPY FROM $copy s; COPY FROM into a table with the file's key $keyed s: ratio $(ratio "$keyed" "$imp")"
bench_conditions linkage
