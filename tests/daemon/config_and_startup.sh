#!/usr/bin/env bash
# Start-up, configuration, signals and the environment:
#   - bad configuration values (wrong type, out of range, unknown key or table, bad cron, bad
#     time zone, inconsistent backoff, syntax error, a password in conninfo as keyword or in a
#     URI): exit status 2 and a message naming the file, the line and the key (and never the
#     password); also for run and run-once, not only --check-config;
#   - --help, --version, --check-config, unknown options and commands (exit 2);
#   - without tzdata (/usr/share/zoneinfo hidden) UTC still works;
#   - an unreachable database at start-up: the daemon stays up, retries (logged, /healthz 503)
#     and works once the server starts;
#   - SIGTERM in the middle of a sweep: exit 0 within shutdown_grace_seconds, the run recorded
#     as stopped, and the next run finishes the sweep; a delivery that outlasts the grace
#     period: exit 0 at its end;
#   - SIGHUP reloads (log level and webhook.user_agent take effect); a bad file on SIGHUP keeps
#     the old configuration and logs an error;
#   - run-once with no configuration file, from PGHOST/PGPORT/PGUSER/PGDATABASE alone;
#   - run-once waits for another daemon's lease, then exits 75;
#   - a statement timeout inside the sweep's transaction (the test holds a lock the prepare step
#     needs): the run fails and is recorded, the session is not left in a transaction (no
#     "current transaction is aborted" in the server log), the leases are given up at exit;
#   - a password from a .pgpass file (scram-sha-256 over TCP) works and never reaches a log,
#     nor does a wrong one.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PASSWORD='Sekr1t-dtest-pw-93c1'

dt_begin config_and_startup dtest-config 55475
dt_sampler_start

# --- bad configuration values ----------------------------------------------------------------------
# bad_config DESCRIPTION LINE KEY_OR_TEXT TOML [COMMAND...]: exit 2, "FILE:LINE:" and the key.
n=0
bad_config() {
  local what=$1 line=$2 key=$3 toml=$4 file out rc
  shift 4
  n=$((n + 1))
  file="$DT_WORK/bad$n.toml"
  printf '%s\n' "$toml" >"$file"
  out=$("$OUTREACHD" --config "$file" "${@:---check-config}" 2>&1 </dev/null)
  rc=$?
  if [ "$rc" = 2 ] && [[ $out == *"$file:$line: "* ]] && [[ $out == *"$key"* ]] && [[ $out != *Sekr1t* ]]; then
    dt_ok "bad configuration, $what: exit 2, names line $line and $key"
  else
    dt_fail "bad configuration, $what: exit $rc, message: $out"
  fi
}
bad_config "wrong type" 4 "jobs.sweep.batch_size: must be an integer" $'[daemon]\nname = "x"\n[jobs.sweep]\nbatch_size = "10"'
bad_config "float for an integer" 2 "database.connect_timeout_seconds: must be an integer" $'[database]\nconnect_timeout_seconds = 10.0'
bad_config "out of range" 3 "daemon.lease_seconds: must be between 5 and 3600 (got 2)" $'[daemon]\n\nlease_seconds = 2'
bad_config "out of range (run-once)" 2 "jobs.notify.batch_size: must be between 1 and 10000" $'[jobs.notify]\nbatch_size = 0' run-once notify
bad_config "unknown key" 3 "unknown key 'jobs.sweep.bach_size'" $'[jobs.sweep]\nbatch_size = 5\nbach_size = 5'
bad_config "unknown table" 2 "unknown table 'jobz'" $'\n[jobz]'
bad_config "bad cron expression" 2 "jobs.notify.schedule: invalid cron expression" $'[jobs.notify]\nschedule = "61 * * * *"'
bad_config "bad cron expression (run)" 3 "jobs.escalate.schedule" $'[jobs.escalate]\nenabled = true\nschedule = "* * *"' run
bad_config "unknown time zone" 2 "daemon.timezone" $'[daemon]\ntimezone = "Mars/Olympus"'
bad_config "cap below base" 3 "jobs.notify.backoff_cap_seconds" $'[jobs.notify]\nbackoff_base_seconds = 100\nbackoff_cap_seconds = 10'
bad_config "bad choice" 2 "daemon.log_level: must be one of" $'[daemon]\nlog_level = "verbose"'
bad_config "bad listen address" 2 "http.listen" $'[http]\nlisten = "localhost"'
bad_config "syntax error" 2 "syntax error" $'[daemon]\nname = \n'
bad_config "password in conninfo" 2 "database.conninfo: contains a password" $'[database]\nconninfo = "host=/tmp PassWord = Sekr1t"'
bad_config "password in a URI" 3 "database.conninfo: contains a password" $'[database]\n# a URI\nconninfo = "postgresql://u:Sekr1t@db.example/x"' run-once sweep
bad_config "password in URI parameters" 2 "database.conninfo: contains a password" $'[database]\nconninfo = "postgres://db.example/x?sslmode=require&pass%77ord=Sekr1t"'

# --- command line ------------------------------------------------------------------------------
out=$("$OUTREACHD" --help 2>&1); rc=$?
dt_check "--help: exit 0, usage with every command and the exit codes" \
  eval '[ $rc = 0 ] && [[ $out == Usage:* ]] && [[ $out == *run-once* ]] && [[ $out == *--check-config* ]] && [[ $out == *75* ]]'
out=$("$OUTREACHD" --version 2>&1); rc=$?
dt_expect "--version: exit 0, the extension's version" "$rc $out" \
  "0 outreachd $(sed -nE "s/^default_version = '(.*)'/\1/p" "$REPO_ROOT/extension/outreach.control")"
dt_config "$DT_WORK/good.toml"
out=$("$OUTREACHD" --config "$DT_WORK/good.toml" --check-config 2>&1); rc=$?
dt_expect "--check-config on a good file: exit 0" "$rc $out" "0 $DT_WORK/good.toml: configuration is valid"
for args in "--bogus" "frobnicate" "run-once" "run-once bogus" "run-once delete --as-of 2030-01-01" "--config"; do
  # shellcheck disable=SC2086
  out=$("$OUTREACHD" $args 2>&1 </dev/null); rc=$?
  dt_check "'outreachd $args': exit 2 with a message" eval '[ $rc = 2 ] && [ -n "$out" ]'
done
out=$("$OUTREACHD" --config "$DT_WORK/missing.toml" --check-config 2>&1); rc=$?
dt_check "a missing configuration file: exit 2, named" eval '[ $rc = 2 ] && [[ $out == *missing.toml* ]]'

# --- without tzdata ------------------------------------------------------------------------------
# An empty directory over /usr/share/zoneinfo, in a mount namespace of the daemon's own: UTC is
# still known, Europe/London is not (which shows the tz database was hidden).
mkdir -p "$DT_WORK/no-zoneinfo"
dt_config "$DT_WORK/london.toml" 'daemon.timezone="Europe/London"'
without_tzdata() {
  unshare --mount sh -c 'mount --bind "$1" /usr/share/zoneinfo && shift && exec "$@"' sh "$DT_WORK/no-zoneinfo" \
    "$OUTREACHD" --config "$1" --check-config 2>&1 </dev/null
}
out=$(without_tzdata "$DT_WORK/good.toml"); rc=$?
dt_expect "without tzdata, UTC is known: --check-config exits 0" "$rc $out" "0 $DT_WORK/good.toml: configuration is valid"
out=$(without_tzdata "$DT_WORK/london.toml"); rc=$?
dt_check "without tzdata, Europe/London is unknown: exit 2" \
  eval '[ $rc = 2 ] && [[ $out == *"daemon.timezone: unknown time zone '"'Europe/London'"'"* ]]'

# --- unreachable database at start-up --------------------------------------------------------
dt_member s1 && dt_member s2 && dt_channel s1 webhook "http://127.0.0.1:9/unused" || { dt_fail "members"; exit 1; }
dt_load 30000 || { dt_fail "loading participants"; exit 1; }
due=$(q "SELECT count(*) FROM outreach.participant WHERE external_ref LIKE 'due-%'")
q "DELETE FROM outreach.notification_channel" >/dev/null   # (only to make the members' deliveries quiet)
port=$(dt_free_port)
url="http://127.0.0.1:$port"
dt_config "$DT_WORK/d.toml" "http.listen=\"127.0.0.1:$port\"" daemon.catch_up_seconds=60 'jobs.sweep.schedule="* * * * *"' \
  jobs.sweep.batch_size=25 daemon.shutdown_grace_seconds=3 database.reconnect_max_seconds=1
as_owner "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/data" -m fast -w stop >"$DT_WORK/stop.log" 2>&1 || dt_fail "pg_ctl stop"
dt_daemon_start d "$DT_WORK/d.toml"
retries() { [ "$(grep -c 'cannot connect to the database' "$DT_WORK/daemon-d.log")" -ge 3 ]; }
dt_check "with the server down at start-up the daemon stays up and logs its retries" eval 'dt_wait_for 20 retries && dt_daemon_alive d'
dt_check "/healthz answers 503 while the database cannot be reached" dt_http_is "$url/healthz" 503
as_owner "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/data" -l "$DT_SERVER_LOG" -w -t 60 start >"$DT_WORK/start.log" 2>&1 || dt_fail "pg_ctl start"
dt_check "once the server is up the daemon connects (/healthz 200)" dt_wait_for 20 dt_http_is "$url/healthz" 200
dt_check "and runs the sweep it could not run at start-up" \
  dt_wait 30 "SELECT EXISTS (SELECT 1 FROM outreach.retention_run WHERE kind = 'sweep')"

# --- SIGTERM in the middle of the sweep ----------------------------------------------------------
marked_sql="SELECT count(*) FROM outreach.participant WHERE retention_status <> 'retained'"
dt_wait 60 "SELECT ($marked_sql) >= $due / 5" || dt_fail "the sweep does not get a fifth of the way"
t0=$(date +%s.%N)
dt_daemon_term d 20
took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
marked=$(q "$marked_sql")
if [ "$DT_RC" = 0 ] && awk -v t="$took" 'BEGIN { exit !(t < 3) }' && [ "$marked" -lt "$due" ]; then
  dt_ok "SIGTERM mid-sweep: exit 0 after $took s (shutdown_grace_seconds 3), $marked of $due marked"
else
  dt_fail "SIGTERM mid-sweep: exit $DT_RC after $took s, $marked of $due marked"
fi
dt_expect "the stopped sweep is recorded: its run 'failed' (stopped by SIGTERM), its job run 'interrupted'" \
  "$(q "SELECT (SELECT string_agg(status || ':' || error, ' ') FROM outreach.retention_run WHERE kind = 'sweep') || ' | ' ||
        (SELECT string_agg(status, ' ') FROM outreach.job_run WHERE job = 'sweep')")" \
  "failed:stopped by SIGTERM; the next sweep resumes | interrupted"

# --- run-once from the environment alone (no configuration file) -------------------------------
out=$(env -u PGDATABASE PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER="$DT_ROLE" PGDATABASE="$DT_DB" \
      "$OUTREACHD" run-once sweep 2>&1 </dev/null); rc=$?
echo "$out" >"$DT_WORK/env-only.log"
dt_expect "run-once sweep without a configuration file (PGHOST, PGPORT, PGUSER, PGDATABASE) exits 0 and finishes the sweep" \
  "$rc $(q "$marked_sql")" "0 $due"
dt_expect "each due record marked once over the stopped and the finishing sweep, nothing else" \
  "$(q "SELECT sum(rows_marked) FROM outreach.retention_run WHERE kind = 'sweep'") $(q "SELECT count(*) FROM outreach.participant
        WHERE retention_status <> 'retained' AND external_ref NOT LIKE 'due-%'")" "$due 0"

# --- a delivery that outlasts the grace period ---------------------------------------------------
dt_webhook_sink --mode /slow=sleep:30 || exit 1
dt_config "$DT_WORK/slow.toml" daemon.shutdown_grace_seconds=2 jobs.notify.timeout_seconds=20 'webhook.user_agent="dtest-before/1"'
dt_daemon_start slow "$DT_WORK/slow.toml"
q "SELECT outreach.enqueue_delivery(controller_id, 'recipient_followup', 'dtest-slow', '{\"controller\": \"s1\"}',
     to_kind => 'webhook', to_target => '$DT_WEBHOOK/slow') FROM outreach.controller WHERE code = 's1'" >/dev/null
slow_arrived() { grep -q dtest-slow "$DT_WEBHOOK_LOG"; }
dt_wait_for 15 slow_arrived || dt_fail "the slow delivery is not attempted"
t0=$(date +%s.%N)
dt_daemon_term slow 20
took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
if [ "$DT_RC" = 0 ] && awk -v t="$took" 'BEGIN { exit !(t >= 1.5 && t < 5) }' &&
   grep -q 'shutdown grace period over' "$DT_WORK/daemon-slow.log"; then
  dt_ok "SIGTERM during a delivery that outlasts shutdown_grace_seconds (2): exit 0 after $took s, logged"
else
  dt_fail "SIGTERM during a long delivery: exit $DT_RC after $took s; log: $(tail -3 "$DT_WORK/daemon-slow.log")"
fi
dt_expect "the interrupted delivery is still pending (claimed, to be retried)" \
  "$(q "SELECT status || ' ' || attempts FROM outreach.notice_delivery WHERE idempotency_key = 'dtest-slow'")" "pending 0"

# --- SIGHUP ----------------------------------------------------------------------------------------
q "DELETE FROM outreach.notice_delivery WHERE idempotency_key = 'dtest-slow'" >/dev/null
dt_config "$DT_WORK/hup.toml" 'webhook.user_agent="dtest-before/1"'
dt_daemon_start hup "$DT_WORK/hup.toml"
send() {  # KEY: one webhook message to s1, waits until delivered
  q "SELECT outreach.enqueue_delivery(controller_id, 'recipient_followup', '$1', '{\"controller\": \"s1\"}',
       to_kind => 'webhook', to_target => '$DT_WEBHOOK/hup') FROM outreach.controller WHERE code = 's1'" >/dev/null
  dt_wait 20 "SELECT status = 'delivered' FROM outreach.notice_delivery WHERE idempotency_key = '$1'"
}
agent_of() { "$PY" -c "
import json
print(' '.join(json.loads(l)['user_agent'] for l in open('$DT_WEBHOOK_LOG') if json.loads(l)['key'] == '$1'))"; }
send dtest-hup-1 || dt_fail "SIGHUP: the first message is not delivered"
dt_expect "before SIGHUP: webhook.user_agent from the file" "$(agent_of dtest-hup-1)" "dtest-before/1"
dt_config "$DT_WORK/hup.toml" 'webhook.user_agent="dtest-after/2"' 'daemon.log_level="debug"'
kill -HUP "${DT_PID[hup]}"
reloaded() { grep -q 'SIGHUP: configuration reloaded' "$DT_WORK/daemon-hup.log"; }
dt_check "SIGHUP: the daemon logs the reload" dt_wait_for 10 reloaded
send dtest-hup-2 || dt_fail "SIGHUP: the second message is not delivered"
dt_expect "after SIGHUP: the new webhook.user_agent is used" "$(agent_of dtest-hup-2)" "dtest-after/2"
dt_check "after SIGHUP: the new log level applies (debug lines appear)" grep -q ' debug ' "$DT_WORK/daemon-hup.log"
printf '[daemon]\nlease_seconds = 1\n[webhook]\nuser_agent = "dtest-broken/3"\n' >"$DT_WORK/hup.toml"
kill -HUP "${DT_PID[hup]}"
rejected() { grep -q "SIGHUP: configuration not reloaded, keeping the old one: $DT_WORK/hup.toml:2: daemon.lease_seconds" "$DT_WORK/daemon-hup.log"; }
dt_check "SIGHUP with a bad file: the daemon logs the error with file, line and key, and keeps running" \
  eval 'dt_wait_for 10 rejected && dt_daemon_alive hup'
send dtest-hup-3 || dt_fail "SIGHUP: the third message is not delivered"
dt_expect "after a bad SIGHUP: the previous configuration stays in force" "$(agent_of dtest-hup-3)" "dtest-after/2"
dt_daemon_term hup
dt_expect "SIGTERM: exit 0" "$DT_RC" 0

# --- run-once and another daemon's lease ---------------------------------------------------------
q "INSERT INTO outreach.daemon_lease VALUES ('escalate', 'another-daemon', now(), now(), now() + interval '1 hour')" >/dev/null
t0=$SECONDS
"$OUTREACHD" --config "$DT_WORK/good.toml" run-once escalate >"$DT_WORK/lease.log" 2>&1; rc=$?
dt_expect "run-once while another daemon holds the job's lease: waits (lease_seconds + 5), then exit 75" \
  "$rc $((SECONDS - t0 >= 9 && SECONDS - t0 <= 15))" "75 1"
q "DELETE FROM outreach.daemon_lease" >/dev/null

# --- a database error inside the sweep's transaction ---------------------------------------------
dt_config "$DT_WORK/err.toml" database.statement_timeout_seconds=1 daemon.catch_up_seconds=60 'jobs.sweep.schedule="* * * * *"'
psql -X -q -d "$DT_DB" -c "BEGIN" -c "LOCK TABLE outreach.retention_queue IN ACCESS EXCLUSIVE MODE" -c "SELECT pg_sleep(3)" \
  -c "COMMIT" >/dev/null 2>&1 &
locker=$!
dt_wait 10 "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE relation = 'outreach.retention_queue'::regclass
            AND mode = 'AccessExclusiveLock' AND granted)" || dt_fail "the test cannot lock outreach.retention_queue"
# The schedule starts after the job's last successful run: move the sweeps this file already
# ran out of the current minute, so that this minute's slot is due when the daemon starts.
q "UPDATE outreach.job_run SET started_at = started_at - interval '1 hour' WHERE job = 'sweep'" >/dev/null
before=$(q "SELECT coalesce(max(run_id), 0) FROM outreach.job_run")
dt_daemon_start err "$DT_WORK/err.toml"
dt_check "a statement timeout inside the sweep's transaction (a lock held elsewhere): the run fails, recorded in the job history" \
  dt_wait 15 "SELECT EXISTS (SELECT 1 FROM outreach.job_run WHERE run_id > $before AND job = 'sweep' AND status = 'failed'
              AND detail LIKE '%statement timeout%')"
dt_expect "after the failure the sweep's session is not left in a transaction" \
  "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'outreachd sweep' AND state <> 'idle'")" 0
wait "$locker"
dt_daemon_term err
dt_expect "then SIGTERM: exit 0, and the daemon gives its leases up" "$DT_RC $(q "SELECT count(*) FROM outreach.daemon_lease")" "0 0"

# --- passwords -------------------------------------------------------------------------------------
q "CREATE ROLE dtest_pw LOGIN PASSWORD '$PASSWORD' IN ROLE outreach_daemon" >/dev/null
hba="$CLUSTER_DIR/data/pg_hba.conf"
{ echo "host all dtest_pw 127.0.0.1/32 scram-sha-256"; cat "$hba"; } >"$DT_WORK/hba" && cat "$DT_WORK/hba" >"$hba"
q "SELECT pg_reload_conf()" >/dev/null
umask 077
echo "127.0.0.1:$PGPORT:$DT_DB:dtest_pw:$PASSWORD" >"$DT_WORK/pgpass"
echo "127.0.0.1:$PGPORT:$DT_DB:dtest_pw:wrong-$PASSWORD" >"$DT_WORK/pgpass.wrong"
umask 022
dt_config "$DT_WORK/pw.toml" "database.conninfo=\"host=127.0.0.1 port=$PGPORT dbname=$DT_DB user=dtest_pw passfile=$DT_WORK/pgpass\"" \
  'daemon.log_level="debug"' database.reconnect_max_seconds=1
"$OUTREACHD" --config "$DT_WORK/pw.toml" run-once sweep >"$DT_WORK/pw.log" 2>&1
dt_expect "a password from a passfile (scram-sha-256 over TCP): run-once sweep exits 0" "$?" 0
PGPASSFILE="$DT_WORK/pgpass.wrong" "$OUTREACHD" --config <(sed "s|passfile=[^\"]*||" "$DT_WORK/pw.toml") run-once sweep \
  >"$DT_WORK/pw-wrong.log" 2>&1
rc=$?
dt_check "a wrong password (PGPASSFILE): run-once sweep fails (exit 1) saying authentication failed" \
  eval '[ $rc = 1 ] && grep -q "password authentication failed" "$DT_WORK/pw-wrong.log"'
leaks=$(grep -l -e "$PASSWORD" -e Sekr1t "$DT_WORK"/*.log "$DT_SERVER_LOG" 2>/dev/null | tr '\n' ' ')
dt_expect "no password in any daemon log or the server log" "$leaks" ""
exit 0
