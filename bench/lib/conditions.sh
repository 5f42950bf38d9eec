# The conditions a benchmark ran under, printed beside its ratios so that two runs can be
# compared (issue 19: ratios that moved between machines with the same code). Sourced by every
# script in bench/:
#
#   source "$REPO_ROOT/bench/lib/conditions.sh"
#   bench_conditions_start            at the start: notes the load average
#   ...                               the benchmark
#   bench_conditions NAME             at the end, while the throwaway cluster still runs (PGHOST,
#                                     PGPORT, PGDATABASE of the benchmark): prints the lines
#
# Every line starts with "# condition NAME" (a comment for anything that reads "name: ratio"
# lines); for example:
#   # condition rls cores: 2
#   # condition rls load_average: 0.52 0.40 0.31 at the start, 1.98 1.20 0.70 at the end
#   # condition rls memory: 23.5 GiB total, 21.3 GiB available
#   # condition rls cpu: AMD EPYC (avx2 sse4_2 aes sha_ni bmi2 hypervisor)
#   # condition rls transparent_hugepage: always [madvise] never (defrag: ... [madvise] never)
#   # condition rls huge_pages_available: 0 of 0 (2048 kB each)
#   # condition rls cluster: shared_buffers=256MB work_mem=4MB ... jit=on huge_pages=try
#     shared_memory_size_in_huge_pages=140 default_toast_compression=pglz random_page_cost=4
#   # condition rls lz4: yes
#   # condition rls postgresql: PostgreSQL 15.20 (Debian 15.20-0+deb12u1) on x86_64-pc-linux-gnu, ...
# The cluster line is what a new session sees (postgresql.conf and ALTER SYSTEM); a benchmark
# that SETs something in its own sessions (core_types: max_parallel_workers_per_gather = 0, jit)
# says so in its own header line.
# Nothing here may fail a benchmark: whatever cannot be read is printed as "unknown".

bench_conditions_start() {
  BENCH_LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
}

bench_conditions() {
  local name=${1:-bench} p
  p="# condition $name"
  local meminfo; meminfo=$(cat /proc/meminfo 2>/dev/null || true)
  mem_gib() { awk -v k="$1" '$1 == k ":" { printf "%.1f GiB", $2 / 1048576; f = 1 } END { if (!f) printf "unknown" }' <<<"$meminfo"; }
  mem_val() { awk -v k="$1" '$1 == k ":" { print $2; f = 1 } END { if (!f) print "unknown" }' <<<"$meminfo"; }

  echo "$p cores: $(nproc 2>/dev/null || echo unknown)"
  echo "$p load_average: ${BENCH_LOAD_START:-unknown} at the start, $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown) at the end"
  echo "$p memory: $(mem_gib MemTotal) total, $(mem_gib MemAvailable) available, $(mem_val Dirty) kB dirty and $(mem_val Writeback) kB in writeback at the end"
  local model flags f have=()
  model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -1)
  flags=" $(sed -n 's/^flags[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -1) "
  for f in avx2 avx512f sse4_2 aes sha_ni bmi2 hypervisor; do
    [[ "$flags" == *" $f "* ]] && have+=("$f")
  done
  echo "$p cpu: ${model:-unknown} (${have[*]:-no listed flags})"
  echo "$p transparent_hugepage: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unknown)" \
    "(defrag: $(cat /sys/kernel/mm/transparent_hugepage/defrag 2>/dev/null || echo unknown))"
  echo "$p huge_pages_available: $(mem_val HugePages_Free) of $(mem_val HugePages_Total) ($(mem_val Hugepagesize) kB each)"

  # The throwaway cluster's settings, as a new session of the benchmark sees them (current_setting
  # gives what SHOW gives: 256MB rather than 32768 pages of 8kB). shared_memory_size_in_huge_pages
  # is how many huge pages the server would need for huge_pages = on (PostgreSQL 15).
  local s names=(shared_buffers work_mem maintenance_work_mem effective_cache_size
                 max_parallel_workers_per_gather max_parallel_workers jit huge_pages
                 shared_memory_size_in_huge_pages default_toast_compression random_page_cost
                 autovacuum wal_level max_wal_size fsync synchronous_commit)
  local sql="SELECT concat_ws(' '" values
  for s in "${names[@]}"; do sql+=", '$s=' || current_setting('$s', true)"; done
  values=$(psql -X -At -c "$sql)" 2>/dev/null) || values="unknown (no connection to the cluster)"
  echo "$p cluster: $values"
  # LZ4: the server accepts default_toast_compression = lz4 only when built --with-lz4.
  local lz4=unknown
  if psql -X -At -c "SET default_toast_compression = lz4" >/dev/null 2>&1; then lz4=yes
  elif psql -X -At -c "SELECT 1" >/dev/null 2>&1; then lz4=no; fi
  echo "$p lz4: $lz4"
  echo "$p postgresql: $(psql -X -At -c "SELECT version()" 2>/dev/null || echo unknown)"
  return 0
}
