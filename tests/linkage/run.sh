#!/usr/bin/env bash
# The linkage integration tests: outreachd writing real export files and reading real outcome
# files against throwaway clusters (ports 55501-55507, plus OUTREACH_PORT_OFFSET), after `make
# install`, SCENARIO_JOBS (default 2) at a time. Each scenario prints "ok ..." / "FAILED ..."
# lines (scripts/test's run_checks counts them), shown when it ends; this script exits non-zero
# when one failed. About a minute; export_faults.sh takes most of it (BIG and TRIALS tune its
# kill -9 trials, SEED repeats their delays).
#   tests/linkage/run.sh [SCENARIO ...]   (default: all; e.g. run.sh export_gpg)
#   export_files.sh      every recipient's file against the ledger and a model of docs/linkage.md
#   export_faults.sh     missing/unwritable directory, full disk, kill -9 mid-export and re-run
#   import_roundtrip.sh  outcome files back, row security, idempotence, bad lines, bad header
#   export_gpg.sh        an OpenPGP-encrypted export (needs gpg: Debian's gnupg)
#   export_slow_disk.sh  fsync held by an LD_PRELOAD shim: /healthz, the lease and other jobs go on; a deadline
#   export_expiry.sh     delivered files overwritten and removed after export_file_days; --recreate from the ledger
#   member_import.sh     outreachd import of a member's 200,000-line file, 5% bad: every bad line listed, progress
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../../scripts/lib/pool.sh"
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(export_faults member_import export_slow_disk export_files import_roundtrip export_gpg export_expiry)
run_pool linkage "${SCENARIO_JOBS:-2}" "$here" "${scenarios[@]}"
