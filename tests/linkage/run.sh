#!/usr/bin/env bash
# The linkage integration tests: outreachd writing real export files and reading real outcome
# files against throwaway clusters (ports 55501-55505, plus OUTREACH_PORT_OFFSET), after `make install`. Each scenario
# prints "ok ..." / "FAILED ..." lines (scripts/test's run_checks counts them); this script
# exits non-zero when one failed. About a minute; export_faults.sh takes most of it (BIG and
# TRIALS tune its kill -9 trials, SEED repeats their delays).
#   export_files.sh      every recipient's file against the ledger and a model of docs/linkage.md
#   export_faults.sh     missing/unwritable directory, full disk, kill -9 mid-export and re-run
#   import_roundtrip.sh  outcome files back, row security, idempotence, bad lines, bad header
#   export_gpg.sh        an OpenPGP-encrypted export (needs gpg: Debian's gnupg)
#   export_slow_disk.sh  fsync held by an LD_PRELOAD shim: /healthz, the lease and other jobs go on; a deadline
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=0
for scenario in export_files export_faults import_roundtrip export_gpg export_slow_disk; do
  start=$SECONDS
  bash "$here/$scenario.sh" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  if [ "$status" != 0 ]; then
    failed=1
    # A scenario that died before reporting still counts as a failure.
    grep -q '^FAILED' "$log" || echo "FAILED linkage: $scenario.sh exited with status $status"
  fi
  echo "# linkage: $scenario.sh: $((SECONDS - start)) s, exit status $status"
done
exit "$failed"
