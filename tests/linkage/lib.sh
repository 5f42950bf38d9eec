# Shared set-up of the linkage integration tests (tests/linkage/*.sh): outreachd writing real
# export files and reading real outcome files against a throwaway cluster. Built on
# tests/daemon/lib.sh (dt_begin, q, dt_ok/dt_fail/dt_expect, dt_config, dt_daemon_*), plus:
#   lk_begin LABEL CLUSTER PORT    dt_begin, then $LK_CONFIG (the daemon's configuration) and
#                                  helper SQL functions in the test database
#   lk_member CODE                 a member with a reader role lk_reader_CODE (for row security)
#   lk_person CODE REF FIRST LAST DOB_OR_COHORT POSTCODE SEX [COLUMN=SQL ...]
#                                  one participant; a number instead of a date of birth is a
#                                  cohort relative to this academic year (0: expected to enter
#                                  higher education this year), turned into a date of birth
#   lk_run OUT ARGS...             outreachd --config $LK_CONFIG ARGS; $LK_RC, and OUT.out /
#                                  OUT.err hold its stdout / stderr
#   lk_export DIR [ARGS...]        lk_run of "run-once export --output-dir DIR ARGS"
#   lk_py SUBCOMMAND ARGS...       tests/linkage/lkcheck.py (checks of files against the database)
#   lk_counts                      "exports ledger_rows outcomes imports", to show nothing changed
#   lk_visible DIR                 the names of the visible (non-dot) files in DIR, one a line
# The ok/FAILED lines carry the scenario's label; the script exits non-zero when one failed.
LK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$LK_DIR/../daemon/lib.sh"

lk_begin() {
  dt_begin "$@"
  LK_CONFIG="$DT_WORK/outreachd.toml"
  # run-once ignores jobs.export.enabled; the daemon's own schedule never fires in a test.
  dt_config "$LK_CONFIG" "jobs.export.directory=\"$DT_WORK/exports\"" || { dt_fail "writing $LK_CONFIG"; exit 1; }
  chmod 644 "$LK_CONFIG"
  q "CREATE SCHEMA lk;
     -- A date of birth whose Expected HE Entry Year (England) is this academic year + offset.
     CREATE FUNCTION lk.dob(offset_years int) RETURNS date LANGUAGE sql STABLE
       AS \$\$ SELECT make_date(outreach.academic_year(current_date) + offset_years - 18, 3, 1) \$\$;
     GRANT USAGE ON SCHEMA lk TO PUBLIC;
     CREATE FUNCTION lk.member(code text) RETURNS int LANGUAGE sql STABLE
       AS \$\$ SELECT controller_id FROM outreach.controller WHERE controller.code = member.code \$\$;
     -- every shipped recipient's sharing agreement, in force (without one, exports are refused)
     SELECT outreach.record_sharing_agreement(name, 'test gateway', 'TEST-' || name, 'the tests', current_date - 1, current_date + 365) FROM outreach.recipient_definition WHERE shipped;" >/dev/null ||
    { dt_fail "set-up: helper functions"; exit 1; }
}

lk_member() {
  dt_member "$1" &&
  q "CREATE ROLE lk_reader_$1; SELECT outreach.grant_controller_access('lk_reader_$1', '$1', 'reader')" >/dev/null ||
    { dt_fail "set-up: member $1"; exit 1; }
}

# lk_sql_value TEXT: a SQL literal ('' and the word NULL are NULL).
lk_sql_value() {
  if [ -z "$1" ] || [ "$1" = NULL ]; then echo NULL; else echo "'${1//\'/\'\'}'"; fi
}

lk_person() {
  local code=$1 ref=$2 first=$3 last=$4 dob=$5 postcode=$6 sex=$7 cols="" vals="" kv
  shift 7
  if [[ $dob =~ ^-?[0-9]{1,2}$ ]]; then dob="lk.dob($dob)"; else dob=$(lk_sql_value "$dob"); fi
  for kv in "$@"; do cols+=", ${kv%%=*}"; vals+=", ${kv#*=}"; done
  q "INSERT INTO outreach.participant (controller_id, external_ref, first_name, last_name, date_of_birth, postcode, sex$cols)
     VALUES (lk.member('$code'), $(lk_sql_value "$ref"), $(lk_sql_value "$first"), $(lk_sql_value "$last"), $dob,
             $(lk_sql_value "$postcode"), $(lk_sql_value "$sex")$vals)" >/dev/null ||
    { dt_fail "set-up: participant $ref"; exit 1; }
}

lk_run() {
  local out=$1
  shift
  "$OUTREACHD" --config "$LK_CONFIG" "$@" >"$out.out" 2>"$out.err"
  LK_RC=$?
  { echo "=== $(date -u +%FT%T.%3NZ) outreachd $* (exit $LK_RC)"; cat "$out.err"; } >>"$DT_WORK/outreachd.log"
}

lk_export() {
  local dir=$1
  shift
  lk_run "$DT_WORK/last" run-once export --output-dir "$dir" "$@"
}

lk_py() { "$PY" "$LK_DIR/lkcheck.py" "$DT_LABEL" "$@"; local rc=$?; [ "$rc" = 0 ] || DT_FAILED=1; return "$rc"; }

lk_counts() {
  q "SELECT (SELECT count(*) FROM outreach.export) || ' ' || (SELECT count(*) FROM outreach.disclosure) || ' ' ||
            (SELECT count(*) FROM outreach.outcome) || ' ' || (SELECT count(*) FROM outreach.outcome_import)"
}

lk_visible() { find "$1" -mindepth 1 -maxdepth 1 ! -name '.*' -printf '%f\n' 2>/dev/null | sort; }
lk_hidden() { find "$1" -mindepth 1 -maxdepth 1 -name '.*' ! -name .outreachd-exports -printf '%f\n' 2>/dev/null | sort; }

# lk_wait_idle TIMEOUT: until no session of the daemon's role is running a statement (a killed
# daemon's backend finishes the statement it was running before it notices).
lk_wait_idle() {
  dt_wait "$1" "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE usename = '$DT_ROLE')"
}
