# Paired timing with pgbench, for benchmarks whose ratio compares two queries in one run
# (bench/rls.sh, bench/reporting.sh). Sourced; needs PGHOST/PGPORT, a database "bench", and
# $seconds (per pgbench run), $rounds and $work set by the caller.
#
#   bench_pair NAME GOAL USER_A SCRIPT_A USER_B SCRIPT_B
#
# (USER may be USER@DATABASE, for two sides in different databases; else the database "bench")
#
# prints "NAME: <ratio>" with ratio = A's time / B's time: the median of $rounds rounds, each
# running B and A back to back (which goes first alternates), so that a machine whose speed
# drifts during the run (a neighbour's load, writeback) moves both sides of a round alike; then
# "# detail NAME: ..." with the spread and every round's times, and "# goal NAME <= GOAL: met".

bench_latency() {  # bench_latency USER[@DATABASE] SCRIPT: average latency in ms of a pgbench run of $seconds
  local user=${1%@*} db=bench
  [ "$user" = "$1" ] || db=${1#*@}
  pgbench -n -M prepared -T "$seconds" -U "$user" -f "$2" "$db" 2>&1 | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p'
}

bench_median() {
  sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

bench_pair() {
  local name=$1 goal=$2 ua=$3 a=$4 ub=$5 b=$6 r ta tb ratio
  : > "$work/$name.rounds"
  bench_latency "$ua" "$a" >/dev/null; bench_latency "$ub" "$b" >/dev/null   # warm-up: plans cached, buffers read
  for r in $(seq "$rounds"); do
    if [ $((r % 2)) = 1 ]; then tb=$(bench_latency "$ub" "$b"); ta=$(bench_latency "$ua" "$a")
    else ta=$(bench_latency "$ua" "$a"); tb=$(bench_latency "$ub" "$b"); fi
    echo "$tb $ta" >> "$work/$name.rounds"
  done
  ratio=$(awk '{ print $2 / $1 }' "$work/$name.rounds" | bench_median | awk '{ printf "%.2f", $1 }')
  echo "$name: $ratio"
  awk -v n="$name" -v la="$ua" -v lb="$ub" '{ r = $2 / $1; if (NR == 1 || r < lo) lo = r; if (NR == 1 || r > hi) hi = r; b[NR] = $1; a[NR] = $2 }
       END { printf "# detail %s: rounds %.2f-%.2f; %s", n, lo, hi, lb; for (i = 1; i <= NR; i++) printf " %s", b[i];
             printf " ms; %s", la; for (i = 1; i <= NR; i++) printf " %s", a[i]; print " ms" }' "$work/$name.rounds"
  awk -v r="$ratio" -v n="$name" -v g="$goal" 'BEGIN { printf "# goal %s <= %s: %s\n", n, g, (r <= g) ? "met" : "NOT met" }'
}
