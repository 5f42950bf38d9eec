# A benchmark's throwaway cluster in the same state on every machine before timing starts
# (issue 19: on a fresh machine the same code gave other ratios). After a bulk load the server
# and the kernel still have work queued that would land in whichever side is being timed:
# dirty shared buffers (the next checkpoint writes them), dirty pages in the page cache (the
# kernel writes them back), autovacuum's visit to the tables just loaded, and relations not yet
# in memory (the first side to read them pays the reads). Sourced by bench scripts:
#
#   source "$REPO_ROOT/bench/lib/quiesce.sh"
#   bench_quiesce outreach.participant outreach.attendance ...   (PGHOST/PGPORT/PGDATABASE set)
#
# It checkpoints, waits (up to 120 s) until the kernel has written back the dirty pages, turns
# autovacuum off for the rest of the run (ALTER SYSTEM in the throwaway cluster only), and
# reads the named tables and all their indexes into the page cache (the warm-up runs of each
# side then fill shared buffers alike) with pg_prewarm. It prints "# quiesce ..." lines saying what it found and did.

bench_dirty_kb() {  # dirty + writeback memory in kB, from /proc/meminfo
  awk '$1 == "Dirty:" || $1 == "Writeback:" { s += $2 } END { print s + 0 }' /proc/meminfo 2>/dev/null || echo 0
}

bench_quiesce() {
  local start dirty waited=0 rel
  start=$(bench_dirty_kb)
  psql -X -q -c "ALTER SYSTEM SET autovacuum = off" -c "SELECT pg_reload_conf()" >/dev/null
  # Let a worker that already started on a loaded table finish before timing (it does not stop
  # at a reload); then write everything out.
  while [ "$(psql -X -At -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'")" != 0 ] &&
        [ "$waited" -lt 120 ]; do sleep 1; waited=$((waited + 1)); done
  psql -X -q -c "CHECKPOINT"
  sync
  while dirty=$(bench_dirty_kb); [ "$dirty" -gt 65536 ] && [ "$waited" -lt 120 ]; do
    sleep 1; waited=$((waited + 1))
  done
  psql -X -q -c "CREATE EXTENSION IF NOT EXISTS pg_prewarm" >/dev/null
  local pages=0 n
  for rel in "$@"; do
    n=$(psql -X -At -c "SELECT sum(pg_prewarm(c.oid, 'read')) FROM pg_class c
                        WHERE c.oid = '$rel'::regclass
                           OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = '$rel'::regclass)")
    pages=$((pages + ${n:-0}))
  done
  echo "# quiesce: dirty+writeback ${start} kB after the load, $(bench_dirty_kb) kB after ${waited} s; autovacuum off; CHECKPOINT; pg_prewarm read $pages pages of $# tables and their indexes"
}
