#!/usr/bin/env bash
# Restart PostgreSQL while the daemon works: it reconnects and finishes.
#
# 3 members with a webhook each and 30,000 participants (lib.sh's dt_load), sweep and delete in
# batches of 25. The daemon runs with /healthz and /metrics on a local port.
#   1. While it sweeps, the server is stopped (pg_ctl stop -m fast): /healthz turns 503, the
#      daemon stays up and logs its retries; the server is started again: /healthz turns 200,
#      the daemon reconnects (outreachd_database_reconnects_total grows) and finishes the sweep
#      (every due record marked once, the interrupted run closed).
#   2. While it deletes (woken by the confirmation's NOTIFY after the test confirms every
#      notice), the server is restarted with -m immediate (crash recovery): the daemon
#      reconnects and deletes every confirmed record once, with one tombstone each, and every
#      notice reaches its webhook.
#   3. A quick restart while the daemon is idle: it is counted as a reconnect and /healthz is
#      200 again.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
N=${PARTICIPANTS:-30000}

dt_begin pg_restart dtest-pgrestart 55472
dt_sampler_start
dt_webhook_sink || exit 1
for m in r1 r2 r3; do
  dt_member "$m" && dt_channel "$m" webhook "$DT_WEBHOOK/$m" || { dt_fail "set-up of member $m"; exit 1; }
done
dt_load "$N" || { dt_fail "loading $N participants"; exit 1; }
due=$(q "SELECT count(*) FROM outreach.participant WHERE external_ref LIKE 'due-%'")
port=$(dt_free_port)
url="http://127.0.0.1:$port"
dt_config "$DT_WORK/d.toml" "http.listen=\"127.0.0.1:$port\"" daemon.catch_up_seconds=60 \
  'jobs.sweep.schedule="* * * * *"' jobs.sweep.batch_size=25 jobs.delete.batch_size=25 database.reconnect_max_seconds=2 jobs.notify.timeout_seconds=1
marked_sql="SELECT count(*) FROM outreach.participant WHERE retention_status <> 'retained'"

dt_daemon_start d "$DT_WORK/d.toml"
dt_check "/healthz answers 200 once the daemon is connected" dt_wait_for 20 dt_http_is "$url/healthz" 200
dt_expect "/metrics: outreachd_database_up 1" "$(dt_metric "$url" outreachd_database_up)" 1
reconnects_before=$(dt_metric "$url" outreachd_database_reconnects_total)

# --- 1. the server goes away in the middle of the sweep -----------------------------------------
dt_wait 60 "SELECT ($marked_sql) >= $due / 4" || dt_fail "the sweep did not get a quarter of the way in 60 s"
as_owner "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/data" -m fast -w -t 60 stop >"$DT_WORK/stop.log" 2>&1 ||
  dt_fail "pg_ctl stop: $(cat "$DT_WORK/stop.log")"
dt_check "/healthz answers 503 while the server is down" dt_wait_for 15 dt_http_is "$url/healthz" 503
dt_expect "/metrics: outreachd_database_up 0 while the server is down" "$(dt_metric "$url" outreachd_database_up)" 0
retries() { [ "$(grep -c 'cannot connect to the database\|database unavailable' "$DT_WORK/daemon-d.log")" -ge 4 ]; }
dt_check "the daemon stays up and logs its connection retries while the server is down" \
  eval 'dt_wait_for 20 retries && dt_daemon_alive d'
as_owner "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/data" -l "$DT_SERVER_LOG" -w -t 60 start >"$DT_WORK/start.log" 2>&1 ||
  dt_fail "pg_ctl start: $(cat "$DT_WORK/start.log")"
dt_check "/healthz answers 200 again after the server is back" dt_wait_for 30 dt_http_is "$url/healthz" 200
if dt_wait 90 "SELECT ($marked_sql) = $due AND EXISTS (SELECT 1 FROM outreach.retention_run WHERE kind = 'sweep'
                 AND status = 'finished') AND NOT EXISTS (SELECT 1 FROM outreach.retention_run WHERE status = 'running')"; then
  dt_ok "the daemon reconnects and finishes the sweep: all $due due records marked"
else
  dt_fail "the sweep does not finish after the restart: $(q "$marked_sql") of $due marked; runs: $(q "SELECT string_agg(run_id || ':' || status, ' ') FROM outreach.retention_run")"
fi
dt_expect "each due record marked once (the runs' rows_marked add up to $due); the interrupted run closed as failed" \
  "$(q "SELECT sum(rows_marked) || ' ' || count(*) FILTER (WHERE status = 'failed') FROM outreach.retention_run WHERE kind = 'sweep'")" \
  "$due 1"
dt_expect "only due records are marked" \
  "$(q "SELECT count(*) FROM outreach.participant WHERE retention_status <> 'retained' AND external_ref NOT LIKE 'due-%'")" 0
reconnects=$(dt_metric "$url" outreachd_database_reconnects_total)
if [ -n "$reconnects" ] && [ "$reconnects" -gt "${reconnects_before:-0}" ]; then
  dt_ok "/metrics: outreachd_database_reconnects_total grew from $reconnects_before to $reconnects"
else
  dt_fail "/metrics: outreachd_database_reconnects_total is '$reconnects' after the restart (was '$reconnects_before')"
fi
dt_check "the daemon logs that it reconnected" grep -q 'reconnected to' "$DT_WORK/daemon-d.log"

# --- 2. an immediate restart (crash recovery) in the middle of the deletions --------------------
dt_expect "the test confirms every notice" "$(dt_confirm_all)" "$due"
dt_wait 60 "SELECT (SELECT count(*) FROM outreach.tombstone) >= $due / 4" ||
  dt_fail "the deletion did not get a quarter of the way in 60 s"
dt_restart_server immediate || dt_fail "pg_ctl restart -m immediate: $(cat "$DT_WORK/restart.log")"
if dt_wait 90 "SELECT NOT EXISTS (SELECT 1 FROM outreach.participant WHERE retention_status = 'deletion_confirmed')
               AND NOT EXISTS (SELECT 1 FROM outreach.retention_run WHERE status = 'running')
               AND NOT EXISTS (SELECT 1 FROM outreach.notice_delivery WHERE status <> 'delivered')"; then
  dt_ok "after an immediate restart mid-deletion the daemon deletes every confirmed record and delivers every notice"
else
  dt_fail "after the immediate restart the work does not finish: $(q "SELECT count(*) FROM outreach.participant
    WHERE retention_status = 'deletion_confirmed'") confirmed left; runs: $(q "SELECT string_agg(kind || run_id || ':' || status, ' ')
    FROM outreach.retention_run"); deliveries: $(q "SELECT string_agg(status, ' ') FROM outreach.notice_delivery")"
fi
dt_expect "one tombstone per due record, none present and tombstoned, the others untouched" \
  "$(q "SELECT (SELECT count(*) FROM outreach.tombstone) || ' ' ||
        (SELECT count(*) FROM outreach.participant JOIN outreach.tombstone USING (controller_id, participant_id)) || ' ' ||
        (SELECT count(*) FROM outreach.participant WHERE external_ref LIKE 'due-%' OR retention_status <> 'retained')")" \
  "$due 0 0"
dt_expect "each record deleted once (the deletion runs' rows_deleted add up to $due)" \
  "$(q "SELECT sum(rows_deleted) FROM outreach.retention_run WHERE kind = 'delete'")" "$due"
dt_check "every notice reached its webhook, signed" "$PY" -c "
import json, sys
rows = [json.loads(l) for l in open('$DT_WEBHOOK_LOG')]
keys = {(r['path'], r['key']) for r in rows if r['signature_ok']}
sys.exit(0 if keys and len(keys) == $(q "SELECT count(*) FROM outreach.notice_delivery") else 1)"
dt_check "/healthz answers 200 after the second restart" dt_wait_for 30 dt_http_is "$url/healthz" 200

# --- 3. a quick restart while the daemon is idle ---------------------------------------------------
reconnects_before=$(dt_metric "$url" outreachd_database_reconnects_total)
dt_restart_server fast || dt_fail "pg_ctl restart: $(cat "$DT_WORK/restart.log")"
grew() { [ "$(dt_metric "$url" outreachd_database_reconnects_total)" -gt "${reconnects_before:-0}" ] 2>/dev/null; }
dt_check "a quick restart while the daemon is idle counts in outreachd_database_reconnects_total (was $reconnects_before)" \
  dt_wait_for 20 grew
dt_check "/healthz answers 200 after the idle restart" dt_wait_for 30 dt_http_is "$url/healthz" 200
dt_daemon_term d
dt_expect "SIGTERM stops the daemon with exit status 0" "$DT_RC" 0
exit 0
