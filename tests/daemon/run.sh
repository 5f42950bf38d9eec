#!/usr/bin/env bash
# outreachd's integration and fault tests: each scenario on its own throwaway cluster (ports
# 55471-55477, plus OUTREACH_PORT_OFFSET), SCENARIO_JOBS (default 2) at a time, longest first.
# Prints each scenario's "ok ..." / "FAILED ..." lines when it ends and exits non-zero when one
# failed (a scenario that dies before reporting counts as a failure).
#   tests/daemon/run.sh [SCENARIO ...]     (default: all; e.g. run.sh kill9_trials)
# Needs the extension and outreachd installed (make install) and runs as root (clusters as the
# postgres user). Environment: SCENARIO_JOBS, TRIALS (kill -9 trials, default 21), SEED, PARTICIPANTS.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../../scripts/lib/pool.sh"
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] ||
  scenarios=(two_daemons pg_restart kill9_trials config_and_startup load_reference webhook_policy webhook_faults)
run_pool daemon "${SCENARIO_JOBS:-2}" "$HERE" "${scenarios[@]}"
