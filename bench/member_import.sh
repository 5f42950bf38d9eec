#!/usr/bin/env bash
# A member's participant file imported against a plain COPY of the same file into
# outreach.participant, and the search for likely duplicates against the import (issue 18). Measured in one run, in a throwaway cluster, each round in a
# fresh copy of the same database (one member, its writer; nothing else held); ratios are
# throughputs (baseline time / our time, so above 1 is faster):
#
#   member_import_vs_copy_from   outreach.import_participants() of a file of BENCH_LINES
#                                (1,000,000) valid participant lines, as the member's writer
#                                (header mapped, every line checked, linkage pseudonyms looked
#                                up, inserted in batches, the report of every line returned) /
#                                COPY of the same file into outreach.participant itself (its
#                                constraints, triggers and indexes) by the same writer; goal >= 0.5.
#   possible_duplicates_vs_import  find_possible_duplicates() over the member's participants after
#                                the import / the import's time (a time ratio: lower is faster);
#                                goal <= 2.
# Lines starting with # are context: the parts, the re-import of the same file (every line
# unchanged), and the conditions of the run (bench/lib/conditions.sh).
#
#   bash bench/member_import.sh                      1,000,000 lines (about 8 min)
#   BENCH_LINES=100000 bash bench/member_import.sh   a quick run
#
# Environment: BENCH_LINES (1000000), BENCH_ROUNDS (3: sides alternated, medians compared),
# BENCH_PORT (55456). Not part of scripts/test.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"
source "$REPO_ROOT/scripts/lib/cluster.sh"
source "$REPO_ROOT/bench/lib/conditions.sh"
bench_conditions_start

lines=${BENCH_LINES:-1000000}
rounds=${BENCH_ROUNDS:-3}

trap 'cluster_stop' EXIT
port=${BENCH_PORT:-55456}
cluster_start "bench_import_$port" "$port"
work="$OUTREACH_CLUSTER_DIR/work"
mkdir -p "$work"
chmod 755 "$work"

script_start=$(date +%s)
say() { echo "[$(( $(date +%s) - script_start )) s] $*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
q() { psql -X -At -v ON_ERROR_STOP=1 "$@"; }

# The file: one large member's register from tests/matching/population.py (UK-like name
# frequencies, households, twins, 5% of the people registered twice with realistic variants),
# ISO dates and canonical columns, so that COPY reads the same file.
say "writing a file of $lines participant lines..."
python3 - "$work/register.csv" "$lines" "$REPO_ROOT/tests/matching" <<'PY'
import sys
sys.path.insert(0, sys.argv[3])
import population
people = int(int(sys.argv[2]) / 1.05)  # (the second records make up the rest)
population.write(sys.argv[1], people, duplicate_share=0.05, seed=18)
PY
lines=$(( $(wc -l <"$work/register.csv") - 1 ))
chmod 644 "$work/register.csv"

psql -X -q -c "CREATE DATABASE bench_base"
q -q -d bench_base >/dev/null <<SQL
CREATE EXTENSION outreach;
SELECT outreach.create_controller('bench', 'Bench member');
CREATE ROLE bench_writer LOGIN;
SELECT outreach.grant_controller_access('bench_writer', 'bench', 'writer');
-- The baseline's COPY FROM a server file, by the same writer: COPY FROM refuses tables with row
-- security unless the role bypasses it (the import checks the member itself).
GRANT pg_read_server_files TO bench_writer;
GRANT EXECUTE ON FUNCTION pg_read_binary_file(text) TO bench_writer;
ALTER ROLE bench_writer BYPASSRLS;
SQL
controller=$(q -d bench_base -c "SELECT controller_id FROM outreach.controller WHERE code = 'bench'")

fresh() {  # fresh: a new database "bench" copied from bench_base
  psql -X -q -c "DROP DATABASE IF EXISTS bench" -c "CREATE DATABASE bench TEMPLATE bench_base"
  q -d bench -q -c "CHECKPOINT"
}
run_import() {  # prints: seconds
  fresh
  local start
  start=$(now)
  q -d bench -q -U bench_writer -c "SELECT count(*) FROM outreach.import_participants($controller, 'register.csv', pg_read_binary_file('$work/register.csv'))" >/dev/null
  elapsed "$start"
  echo
}
run_copy() {  # prints: seconds
  fresh
  local start
  start=$(now)
  q -d bench -q -U bench_writer -c "COPY outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode) FROM '$work/register.csv' WITH (FORMAT csv, HEADER)"
  elapsed "$start"
  echo
}

say "$rounds rounds, import and COPY FROM alternated..."
: >"$work/import.t"
: >"$work/copy.t"
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) -eq 1 ]; then
    run_import >>"$work/import.t"; run_copy >>"$work/copy.t"
  else
    run_copy >>"$work/copy.t"; run_import >>"$work/import.t"
  fi
  say "round $r: import $(tail -1 "$work/import.t") s, COPY $(tail -1 "$work/copy.t") s"
done
imp=$(median <"$work/import.t")
copy=$(median <"$work/copy.t")

# The last import's database: every line written or matched (exact copies under a new
# reference are matched, not added), the report complete; then the same file again.
fresh
q -d bench -q -U bench_writer -c "SELECT count(*) FROM outreach.import_participants($controller, 'register.csv', pg_read_binary_file('$work/register.csv'))" >/dev/null
held=$(q -d bench -c "SELECT count(*) FROM outreach.participant")
matched=$(q -d bench -c "SELECT matched FROM outreach.member_import")
[ $(( held + matched )) = "$lines" ] || { say "member_import: $held participants and $matched matched after the import, expected $lines lines"; exit 1; }
start=$(now)
unchanged=$(q -d bench -U bench_writer -c "SELECT count(*) FROM outreach.import_participants($controller, 'register.csv', pg_read_binary_file('$work/register.csv')) WHERE status = 'unchanged'")
again=$(elapsed "$start")
[ "$unchanged" = "$held" ] || { say "member_import: the same file again left $unchanged lines unchanged, expected $held"; exit 1; }

# B. The member's likely duplicates, over the participants the import wrote.
say "looking for likely duplicates among $held participants..."
q -d bench -q -c "VACUUM ANALYZE outreach.participant" -c "CHECKPOINT"
start=$(now)
found=$(q -d bench -U bench_writer -c "SELECT open_pairs || ' pairs flagged of ' || compared_pairs || ' compared' FROM outreach.find_possible_duplicates($controller)")
dup=$(elapsed "$start")

import_ratio=$(ratio "$copy" "$imp")
echo "member_import_vs_copy_from: $import_ratio"
awk -v v="$import_ratio" 'BEGIN { printf "# goal member_import_vs_copy_from >= 0.5: %s\n", (v >= 0.5) ? "met" : "NOT met" }'
echo "# import: $imp s (rounds: $(tr '\n' ' ' <"$work/import.t")), COPY FROM: $copy s (rounds: $(tr '\n' ' ' <"$work/copy.t")); the same file again (all unchanged): $again s; $lines lines"
dup_ratio=$(ratio "$dup" "$imp")
echo "possible_duplicates_vs_import: $dup_ratio"
awk -v v="$dup_ratio" 'BEGIN { printf "# goal possible_duplicates_vs_import <= 2 (time): %s\n", (v <= 2) ? "met" : "NOT met" }'
echo "# find_possible_duplicates: $dup s over $held participants ($found); the import's median $imp s"
PGDATABASE=bench bench_conditions member_import
