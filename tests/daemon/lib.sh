# Shared set-up of outreachd's integration tests (tests/daemon/*.sh). A scenario sources this
# file, then:
#   dt_begin LABEL CLUSTER_NAME PORT   throwaway cluster, database $DT_DB with the extension, the
#                                      daemon's login role $DT_ROLE (a member of outreach_daemon,
#                                      not a superuser), a webhook master key; on exit dt_end
#                                      stops what was started, checks the server log and exits
#   q SQL                              one query as the superuser (-At output)
#   dt_member CODE; dt_channel CODE KIND TARGET; dt_load N [START] [CODE_LIKE]
#   dt_webhook_sink [--mode P=M ...]   sets DT_WEBHOOK (base URL) and DT_WEBHOOK_LOG
#   dt_smtp_sink NAME [ARGS]           sets DT_SMTP_PORT and DT_SMTP_LOG
#   dt_config FILE [section.key=VALUE ...]   writes a configuration (VALUE in TOML syntax; "-"
#                                      leaves a default key out)
#   dt_daemon_start ID CONFIG [ARGS]   outreachd in the background (log $DT_WORK/daemon-ID.log)
#   dt_daemon_kill9 ID / dt_daemon_term ID [TIMEOUT]
#   dt_wait TIMEOUT SQL                polls until SQL returns t (never a fixed long sleep)
#   dt_sampler_start                   samples pg_stat_activity for daemon sessions left idle in
#                                      a transaction (checked by dt_end)
# Every check prints "ok LABEL: ..." or "FAILED LABEL: ..."; the script exits non-zero when
# one failed. Logs stay in $DT_WORK ($OUTREACH_RUN_ROOT/NAME/dtest) until the next run.
# shellcheck disable=SC2034  # DT_WEBHOOK, DT_RC and the like are for the scenarios
set -uo pipefail
DT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$DT_DIR/../../scripts/lib/common.sh"
source "$REPO_ROOT/scripts/lib/cluster.sh"

OUTREACHD=${OUTREACHD:-$PG_BIN/outreachd}
PY=/usr/bin/python3          # Debian's python: aiosmtpd and psycopg2 (pyenv's python lacks them)
DT_DB=outreach_dtest
DT_ROLE=dtest_daemon
DT_FAILED=0
DT_LABEL=daemon
DT_START=$SECONDS
declare -A DT_PID=()
DT_SINK_PIDS=()
DT_SAMPLER=
DT_ENDED=0

dt_ok() { echo "ok $DT_LABEL: $*"; }
dt_fail() { echo "FAILED $DT_LABEL: $*"; DT_FAILED=1; }
dt_note() { echo "# $DT_LABEL: $*"; }
# dt_check DESCRIPTION COMMAND...: ok when the command succeeds.
dt_check() {
  local what=$1; shift
  if "$@"; then dt_ok "$what"; else dt_fail "$what"; fi
}
# dt_expect DESCRIPTION GOT WANT
dt_expect() {
  if [ "$2" = "$3" ]; then dt_ok "$1"; else dt_fail "$1 (got '$2', expected '$3')"; fi
}

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DT_DB" -c "$1"; }
q_quiet() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DT_DB" -c "$1" 2>/dev/null; }

# dt_wait TIMEOUT SQL: until SQL returns t (errors count as not yet, e.g. while the server
# restarts); 1 after TIMEOUT seconds. One connection asks every 0.1 s (a psql and a backend
# started for every poll cost more CPU than the daemons under test), a new one when it is lost.
dt_wait() {
  local end=$((SECONDS + $1)) line got
  while :; do
    got=
    while IFS= read -r line; do
      if [ "$line" = "-- dt_wait" ]; then
        [ "$got" = t ] && return 0
        [ "$SECONDS" -ge "$end" ] && return 1
        got=
      else
        got+=${got:+$'\n'}$line
      fi
    done < <(dt_poll "$2" "$end" 0.1)
    [ "$SECONDS" -ge "$end" ] && return 1
    sleep 0.1
  done
}

# dt_poll SQL END INTERVAL: runs SQL at once, then every INTERVAL seconds on one connection
# until $SECONDS reaches END (or whoever reads stops), each result followed by a line
# "-- dt_wait". Ends when the connection is lost.
dt_poll() {
  while :; do
    printf '%s;\n\\echo -- dt_wait\n' "$1" || break
    [ "$SECONDS" -lt "$2" ] || break
    sleep "$3"
  done | psql -X -q -At -d "$DT_DB" 2>/dev/null
}

# dt_wait_for TIMEOUT COMMAND...: until the command succeeds.
dt_wait_for() {
  local end=$((SECONDS + $1)); shift
  while :; do
    "$@" && return 0
    [ "$SECONDS" -ge "$end" ] && return 1
    sleep 0.1
  done
}

# A TCP port nobody listens on now (for the daemon's http.listen).
dt_free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# dt_http URL: prints "STATUS BODY" of a GET (000 when nothing answers).
dt_http() {
  rm -f "$DT_WORK/http.body"
  curl -s -m 5 -o "$DT_WORK/http.body" -w '%{http_code}' "$1" 2>/dev/null
  echo " $(tr '\n' ' ' 2>/dev/null <"$DT_WORK/http.body")"
}

# dt_http_is URL STATUS: whether a GET of URL answers STATUS now (for dt_wait_for).
dt_http_is() { [ "$(dt_http "$1" | cut -d' ' -f1)" = "$2" ]; }

# dt_metric URL NAME{LABELS}: the value of one metric line ('' when absent).
dt_metric() {
  curl -s -m 5 "$1/metrics" 2>/dev/null | awk -v m="$2" '$1 == m { print $2 }'
}

# --- the cluster -----------------------------------------------------------------------------
# (OUTREACH_PORT_OFFSET, default 0, is added to PORT: several checkouts can run the tests at once.)
dt_begin() {
  DT_LABEL=$1
  local port=$(($3 + ${OUTREACH_PORT_OFFSET:-0}))
  cluster_start "$2" "$port" || { echo "FAILED $DT_LABEL: start cluster $2 on port $port"; exit 1; }
  DT_WORK="$CLUSTER_DIR/dtest"
  DT_NAME=$2
  DT_SERVER_LOG="$CLUSTER_DIR/log/postgresql.log"
  mkdir -p "$DT_WORK"
  trap dt_end EXIT
  trap 'exit 130' INT TERM
  [ -x "$OUTREACHD" ] || { dt_fail "$OUTREACHD is not installed (make install)"; exit 1; }
  psql -X -q -v ON_ERROR_STOP=1 -d postgres >"$DT_WORK/setup.log" 2>&1 <<SQL || { dt_fail "set-up: $(tail -3 "$DT_WORK/setup.log")"; exit 1; }
CREATE DATABASE $DT_DB;
\c $DT_DB
CREATE EXTENSION outreach;
CREATE ROLE $DT_ROLE LOGIN IN ROLE outreach_daemon;
SQL
  umask 077
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DT_WORK/webhook.key"
  umask 022
}

# dt_restart_server [MODE]: pg_ctl restart (fast by default) on the cluster's own log.
dt_restart_server() {
  as_owner "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/data" -l "$DT_SERVER_LOG" -m "${1:-fast}" -w -t 60 restart \
    >"$DT_WORK/restart.log" 2>&1
}

dt_end() {
  local rc=$? id pid bad
  [ "$DT_ENDED" = 1 ] && return
  DT_ENDED=1
  for id in "${!DT_PID[@]}"; do dt_daemon_term "$id" 15; done
  [ -n "$DT_SAMPLER" ] && { rm -f "$DT_WORK/sampler.on"; wait "$DT_SAMPLER" 2>/dev/null; }
  for pid in "${DT_SINK_PIDS[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  if [ -n "$DT_SAMPLER" ]; then
    if [ -s "$DT_WORK/idle_in_tx.log" ]; then
      dt_fail "a daemon session sat 'idle in transaction' for over 2 s: $(head -5 "$DT_WORK/idle_in_tx.log" | tr '\n' ' ')"
    else
      dt_ok "no daemon session was ever seen 'idle in transaction' for over 2 s ($(wc -l <"$DT_WORK/samples.log") samples of pg_stat_activity, $(awk '$1 > 0' "$DT_WORK/samples.log" | wc -l) with daemon sessions busy)"
    fi
  fi
  if [ -f "${DT_SERVER_LOG:-/nonexistent}" ]; then
    bad=$(grep -E 'terminated by signal|PANIC|server process .* was terminated' "$DT_SERVER_LOG" | head -5)
    if [ -z "$bad" ]; then dt_ok "the server log shows no crash"
    else dt_fail "the server log shows a crash: $bad"; fi
    bad=$(grep -E "current transaction is aborted|there is already a transaction in progress|there is no transaction in progress" "$DT_SERVER_LOG" | head -5)
    if [ -z "$bad" ]; then dt_ok "the server log shows no daemon statement sent in the wrong transaction state"
    else dt_fail "the server log shows statements sent in the wrong transaction state: $bad"; fi
  fi
  cluster_stop
  echo "# $DT_LABEL: $((SECONDS - DT_START)) s; logs in ${DT_WORK:-?}"
  [ "$DT_FAILED" = 0 ] || rc=1
  exit "$rc"
}

# --- members and data ------------------------------------------------------------------------
dt_member() { q "SELECT outreach.create_controller('$1', 'Test member $1')" >/dev/null; }
dt_channel() {
  q "INSERT INTO outreach.notification_channel (controller_id, kind, target)
     SELECT controller_id, '$2', '$3' FROM outreach.controller WHERE code = '$1'" >/dev/null
}

# dt_load N [START] [CODE_LIKE]: N participants (ids START..START+N-1 in external_ref), in blocks
# of ten consecutive ids per member, round robin over the members whose code is LIKE CODE_LIKE
# (default all), so that every member has records of each kind. external_ref says what a record
# is, independently of the daemon: 'due-' (created 2001-03, last attended 2002-04: due since
# 2017-19 under the default policy), 'later-' (every 10th: created 30 days ago, due 2033) and
# 'held-' (every 29th otherwise: due, but on hold until 2099).
dt_load() {
  local n=$1 start=${2:-1} like=${3:-%}
  q "INSERT INTO outreach.participant (controller_id, external_ref, first_name, last_name, date_of_birth, postcode,
                                       created_at, last_attended_on, retention_hold_until, retention_hold_reason)
     SELECT c.controller_id, g.kind || '-' || g.i, 'Ann', 'Example', date '1985-09-01' + (g.i % 2000)::int, 'M1 1AE',
            CASE WHEN g.kind = 'later' THEN now() - interval '30 days'
                 ELSE timestamptz '2001-01-01 12:00+00' + (g.i % 1000) * interval '1 day' END,
            CASE WHEN g.kind = 'later' THEN NULL ELSE date '2002-01-01' + (g.i % 1000)::int END,
            CASE WHEN g.kind = 'held' THEN date '2099-01-01' END,
            CASE WHEN g.kind = 'held' THEN 'in use' END
     FROM (SELECT i, CASE WHEN i % 10 = 0 THEN 'later' WHEN i % 29 = 0 THEN 'held' ELSE 'due' END AS kind,
                  (i / 10) % (SELECT count(*) FROM outreach.controller WHERE code LIKE '$like') AS slot
           FROM generate_series($start::bigint, $start + $n - 1) AS i) g
     JOIN (SELECT controller_id, row_number() OVER (ORDER BY controller_id) - 1 AS slot
           FROM outreach.controller WHERE code LIKE '$like') c ON c.slot = g.slot" >/dev/null &&
  q "ANALYZE outreach.participant" >/dev/null
}

# Confirms, as the superuser (standing in for each member's DPO), every notice with records
# waiting; prints how many records were confirmed.
dt_confirm_all() {
  q "SELECT coalesce(sum(outreach.confirm_deletion(n.notice_id)), 0) FROM outreach.deletion_notice n
     WHERE EXISTS (SELECT 1 FROM outreach.participant p WHERE p.controller_id = n.controller_id
                   AND p.retention_notice_id = n.notice_id AND p.retention_status = 'ready_for_deletion')"
}

# --- sinks -----------------------------------------------------------------------------------
dt_webhook_sink() {
  local portfile="$DT_WORK/webhook.port"
  rm -f "$portfile"
  DT_WEBHOOK_LOG="$DT_WORK/webhook.jsonl"
  : >"$DT_WEBHOOK_LOG"
  "$PY" "$DT_DIR/webhook_sink.py" --port 0 --port-file "$portfile" --log "$DT_WEBHOOK_LOG" \
    --master-key-file "$DT_WORK/webhook.key" "$@" >>"$DT_WORK/webhook_sink.out" 2>&1 &
  DT_SINK_PIDS+=($!)
  dt_wait_for 10 test -s "$portfile" || { dt_fail "the webhook sink does not start: $(tail -3 "$DT_WORK/webhook_sink.out")"; return 1; }
  DT_WEBHOOK="http://127.0.0.1:$(cat "$portfile")"
}

dt_smtp_sink() {
  local name=$1; shift
  local portfile="$DT_WORK/smtp-$name.port"
  rm -f "$portfile"
  DT_SMTP_LOG="$DT_WORK/smtp-$name.jsonl"
  : >"$DT_SMTP_LOG"
  "$PY" "$DT_DIR/smtp_sink.py" --port 0 --port-file "$portfile" --log "$DT_SMTP_LOG" "$@" \
    >>"$DT_WORK/smtp_sink-$name.out" 2>&1 &
  DT_SINK_PIDS+=($!)
  dt_wait_for 15 test -s "$portfile" || { dt_fail "the SMTP sink $name does not start: $(tail -3 "$DT_WORK/smtp_sink-$name.out")"; return 1; }
  DT_SMTP_PORT=$(cat "$portfile")
}

# --- configuration and daemons ---------------------------------------------------------------
# dt_config FILE [section.key=VALUE ...]: the tests' defaults (short leases and backoffs, UTC,
# schedules that do not fire during a test: each job runs once when the daemon connects, and
# when woken) with the given keys replaced.
dt_config() {
  local file=$1 a k section key sections
  shift
  declare -A kv=(
    [database.conninfo]="\"host=$PGHOST port=$PGPORT dbname=$DT_DB user=$DT_ROLE\""
    [database.connect_timeout_seconds]=5
    [database.reconnect_max_seconds]=2
    [daemon.name]="\"$DT_NAME\""
    [daemon.timezone]='"UTC"'
    [daemon.lease_seconds]=5
    [daemon.shutdown_grace_seconds]=10
    [daemon.log_level]='"info"'
    [http.listen]='""'
    [jobs.sweep.schedule]='"0 4 1 1 *"'
    [jobs.delete.schedule]='"0 4 1 1 *"'
    [jobs.notify.schedule]='"0 4 1 1 *"'
    [jobs.notify.backoff_base_seconds]=1
    [jobs.notify.backoff_cap_seconds]=2
    [jobs.notify.timeout_seconds]=3
    [jobs.escalate.schedule]='"0 4 1 1 *"'
    [jobs.export.enabled]=false
    [webhook.secret_file]="\"$DT_WORK/webhook.key\""
    [webhook.allow_private_networks]='["127.0.0.1"]'   # the sinks listen on loopback
    [smtp.host]='"127.0.0.1"'
    [smtp.port]="${DT_SMTP_PORT:-25}"
    [smtp.helo]='"dtest.invalid"'
  )
  for a in "$@"; do
    if [ "${a#*=}" = - ]; then unset "kv[${a%%=*}]"; else kv[${a%%=*}]=${a#*=}; fi
  done
  sections="database daemon http jobs.sweep jobs.delete jobs.notify jobs.escalate jobs.export webhook smtp"
  : >"$file"
  for section in $sections; do
    local lines=""
    for k in "${!kv[@]}"; do
      [ "${k%.*}" = "$section" ] || continue
      key=${k##*.}
      lines+="$key = ${kv[$k]}"$'\n'
    done
    [ -n "$lines" ] && printf '[%s]\n%s\n' "$section" "$(printf '%s' "$lines" | sort)" >>"$file"
  done
  return 0
}

# dt_daemon_start ID CONFIG [ARGS...]: outreachd --config CONFIG [ARGS] in the background.
dt_daemon_start() {
  local id=$1 config=$2
  shift 2
  echo "=== $(date -u +%FT%T.%3NZ) start: --config $config $*" >>"$DT_WORK/daemon-$id.log"
  "$OUTREACHD" --config "$config" "$@" >>"$DT_WORK/daemon-$id.log" 2>&1 &
  DT_PID[$id]=$!
}

dt_daemon_alive() { [ -n "${DT_PID[$1]:-}" ] && kill -0 "${DT_PID[$1]}" 2>/dev/null; }

dt_daemon_kill9() {
  local pid=${DT_PID[$1]:-}
  [ -n "$pid" ] || return 0
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  echo "=== $(date -u +%FT%T.%3NZ) killed with SIGKILL" >>"$DT_WORK/daemon-$1.log"
  unset "DT_PID[$1]"
}

# dt_daemon_term ID [TIMEOUT]: SIGTERM, waits; DT_RC is the exit status (KILL after TIMEOUT s:
# 137). (Not in a $(...): only this shell can wait for its children.)
dt_daemon_term() {
  local pid=${DT_PID[$1]:-} end
  DT_RC=none
  [ -n "$pid" ] || return 0
  end=$((SECONDS + ${2:-30}))
  kill -TERM "$pid" 2>/dev/null
  while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do sleep 0.05; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  DT_RC=$?
  echo "=== $(date -u +%FT%T.%3NZ) stopped (exit $DT_RC)" >>"$DT_WORK/daemon-$1.log"
  unset "DT_PID[$1]"
}

# dt_daemon_wait_exit ID TIMEOUT: waits for a daemon to exit by itself; DT_RC is its status
# ("running" when it did not exit in time).
dt_daemon_wait_exit() {
  local pid=${DT_PID[$1]:-} end=$((SECONDS + $2))
  DT_RC=none
  [ -n "$pid" ] || return 0
  while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do sleep 0.05; done
  if kill -0 "$pid" 2>/dev/null; then DT_RC=running; return 1; fi
  wait "$pid" 2>/dev/null
  DT_RC=$?
  echo "=== $(date -u +%FT%T.%3NZ) exited (exit $DT_RC)" >>"$DT_WORK/daemon-$1.log"
  unset "DT_PID[$1]"
}

# Samples pg_stat_activity four times a second until dt_end: a daemon session idle inside a
# transaction for more than 2 s is written to idle_in_tx.log (between the statements of a
# batch a session is idle in its transaction for a moment; a transaction left open is not).
# One connection samples (a new one when the server restarts); dt_end removes sampler.on.
dt_sampler_start() {
  : >"$DT_WORK/idle_in_tx.log"
  : >"$DT_WORK/samples.log"
  : >"$DT_WORK/sampler.on"
  (
    while [ -e "$DT_WORK/sampler.on" ]; do
      while [ -e "$DT_WORK/sampler.on" ]; do
        echo "SELECT count(*) FILTER (WHERE state = 'active'),
               string_agg(pid || ':' || application_name || ':' || state || ':' || (now() - state_change)::text
                          || ':' || left(query, 60), ' | ')
                 FILTER (WHERE state LIKE 'idle in transaction%' AND now() - state_change > interval '2 s')
              FROM pg_stat_activity WHERE application_name LIKE 'outreachd%';" || break
        sleep 0.25
      done | psql -X -q -At -F ' ' -d "$DT_DB" 2>/dev/null |
        while read -r active idle; do
          echo "$active" >>"$DT_WORK/samples.log"
          [ -n "$idle" ] && echo "$(date -u +%T) $idle" >>"$DT_WORK/idle_in_tx.log"
        done
      sleep 0.25
    done
  ) &
  DT_SAMPLER=$!
}
