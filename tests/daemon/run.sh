#!/usr/bin/env bash
# outreachd's integration and fault tests: each scenario on its own throwaway cluster (ports
# 55471-55477, plus OUTREACH_PORT_OFFSET), one after another. Prints the scenarios' "ok ..." / "FAILED ..." lines and exits
# non-zero when one failed (a scenario that dies before reporting counts as a failure).
#   tests/daemon/run.sh [SCENARIO ...]     (default: all; e.g. run.sh kill9_trials)
# Needs the extension and outreachd installed (make install) and runs as root (clusters as the
# postgres user). Environment: TRIALS (kill -9 trials, default 21), SEED, PARTICIPANTS.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(config_and_startup webhook_faults webhook_policy pg_restart two_daemons kill9_trials load_reference)
out=$(mktemp "${TMPDIR:-/tmp}/outreachd-tests.XXXXXX")
trap 'rm -f "$out"' EXIT
rc=0
start=$SECONDS
for t in "${scenarios[@]}"; do
  t=${t%.sh}
  t_start=$SECONDS
  bash "$HERE/$t.sh" 2>&1 | tee "$out"
  status=${PIPESTATUS[0]}
  if [ "$status" != 0 ]; then
    rc=1
    grep -q '^FAILED' "$out" || echo "FAILED daemon: $t exited with status $status before reporting a failure"
  fi
  echo "# tests/daemon: $t took $((SECONDS - t_start)) s"
done
echo "# tests/daemon: $((SECONDS - start)) s"
exit $rc
