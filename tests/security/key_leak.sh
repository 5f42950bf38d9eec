#!/usr/bin/env bash
# After the SQL suites have run: the pseudonym keys must not appear in what pg_dumpall copies
# or in the server log, and the server must not have crashed. Prints one "ok"/"FAILED" line
# per check and exits non-zero when any fails. Needs the cluster from scripts/lib/cluster.sh.
set -uo pipefail
: "${OUTREACH_CLUSTER_DIR:?run from scripts/test (needs the test cluster)}"

keyfile="$OUTREACH_CLUSTER_DIR/keys/outreach.keys"
log="$OUTREACH_CLUSTER_DIR/log/postgresql.log"
dump="$OUTREACH_CLUSTER_DIR/work/dumpall.sql"
failed=0

check() {  # check NAME COMMAND...: the command succeeds when the property holds
  local name=$1; shift
  if "$@"; then echo "ok security: $name"; else echo "FAILED security: $name"; failed=1; fi
}

no_key_from_file_in() {  # every key of the cluster's key file is absent from the file given
  local target=$1 key
  while read -r _ _ key; do
    [ -n "$key" ] && grep -qi -- "$key" "$target" && return 1
  done < <(grep -v '^#' "$keyfile")
  return 0
}

no_hex_run_in() {  # no run of 64 hex digits (a 32-byte key) anywhere in the file
  ! grep -Eqi '[0-9a-f]{64}' "$1"
}

pg_dumpall --no-password >"$dump" 2>"$dump.err"
check "pg_dumpall succeeds" test -s "$dump"
check "pg_dumpall output holds no key from the key file" no_key_from_file_in "$dump"
check "pg_dumpall output holds no 32-byte hex string" no_hex_run_in "$dump"
check "server log holds no key from the key file" no_key_from_file_in "$log"
check "server log holds no 32-byte hex string" no_hex_run_in "$log"
# The SQL suites made refused calls of the rights functions (sql/89_rights_requests.sql): each
# left its line in the server log, which no rollback undoes, naming no argument.
check "server log records refused rights calls (open, extend, close, subject_access, reinstate, withdraw, restrict, rectify, withdrawal by a writer)" \
  bash -c "for w in open_rights_request extend_rights_request close_rights_request subject_access clear_participant_flag withdraw_participant restrict_participant rectify_participant 'a change of withdrawn_at'; do
             grep -q \"outreach audit: refused \$w\" '$log' || exit 1; done"
check "refusal lines in the server log name no person" \
  bash -c "! grep 'outreach audit: refused' '$log' | grep -Eqi 'Kim|Kay|SW1A|2014-03-01'"
check "server log shows no crash" bash -c "! grep -Eq 'terminated by signal|PANIC|server process .* was terminated' '$log'"
rm -f "$dump" "$dump.err"
exit $failed
