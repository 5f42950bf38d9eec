# run_pool LABEL JOBS DIR NAME...: runs `bash DIR/NAME.sh` for each NAME, JOBS at a time (the
# scenarios of tests/daemon and tests/linkage spend most of their time waiting: leases, claims
# running out, timeouts). Each one's output is kept apart and printed whole when it ends, so the
# lines of scenarios running at once do not interleave. A scenario that exits non-zero without a
# FAILED line gets one. Returns 1 when any failed.
run_pool() {
  local label=$1 jobs=$2 dir=$3 tmp name failed=0 start=$SECONDS
  shift 3
  local -A name_of=() started=()
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/$label-tests.XXXXXX")
  _pool_wait_one() {
    local pid status finished
    wait -n -p pid
    status=$?
    finished=${name_of[$pid]}
    cat "$tmp/$finished.out"
    if [ "$status" != 0 ]; then
      failed=1
      grep -q '^FAILED' "$tmp/$finished.out" || echo "FAILED $label: $finished exited with status $status before reporting a failure"
    fi
    echo "# tests/$label: $finished took $((SECONDS - started[$pid])) s (exit status $status)"
    unset "name_of[$pid]"
  }
  for name in "$@"; do
    name=${name%.sh}
    [ "${#name_of[@]}" -lt "$jobs" ] || _pool_wait_one
    bash "$dir/$name.sh" >"$tmp/$name.out" 2>&1 &
    name_of[$!]=$name
    started[$!]=$SECONDS
  done
  while [ "${#name_of[@]}" -gt 0 ]; do _pool_wait_one; done
  rm -rf "$tmp"
  echo "# tests/$label: $((SECONDS - start)) s, $jobs at a time"
  return "$failed"
}
