#!/usr/bin/env bash
# Two daemons at once: no job runs twice concurrently; kill the active one and the other takes
# over.
#
# Daemons "alpha" and "beta" (lease_seconds 5) share one database: 4 members, each with a fast
# and a slow (0.5 s) signed webhook, 30,000 participants. Both start together; the sweep's
# schedule ("* * * * *") makes both want to sweep at once.
#   1. mid-sweep the daemon holding the sweep's lease is killed (-9): the other holds it within
#      lease_seconds + 4 s and finishes the sweep; the killed one is started again;
#   2. the test confirms every notice (both daemons are woken); mid-deletion the daemon holding
#      the deletion's lease is killed: the other takes over as quickly and deletes the rest;
#   3. 40 more messages are queued to the slow webhooks (deliveries of the notices may still be
#      going on, some waiting for the claims of the daemons killed before to run out); mid-delivery the daemon holding the
#      notify lease is killed: the other takes over and delivers everything (what the killed one
#      had claimed, once its claim runs out).
# Checks: the job history (job_run) and the retention runs of each job never overlap in time;
# every due record marked once and deleted once; every message received, duplicates only of
# what a killed daemon had claimed, with the same key; both daemons stop on SIGTERM with exit 0
# and give their leases up.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
N=${PARTICIPANTS:-30000}
LEASE=5

dt_begin two_daemons dtest-two 55473
dt_sampler_start
dt_webhook_sink --mode /slow=sleep:0.5 || exit 1
for m in t1 t2 t3 t4; do
  dt_member "$m" && dt_channel "$m" webhook "$DT_WEBHOOK/$m" && dt_channel "$m" webhook "$DT_WEBHOOK/slow/$m" ||
    { dt_fail "set-up of member $m"; exit 1; }
done
dt_load "$N" || { dt_fail "loading $N participants"; exit 1; }
due=$(q "SELECT count(*) FROM outreach.participant WHERE external_ref LIKE 'due-%'")
for d in alpha beta; do
  dt_config "$DT_WORK/$d.toml" "daemon.name=\"$d\"" daemon.lease_seconds=$LEASE daemon.catch_up_seconds=60 \
    'jobs.sweep.schedule="* * * * *"' jobs.sweep.batch_size=25 jobs.delete.batch_size=25 \
    jobs.notify.batch_size=4 jobs.notify.timeout_seconds=1
done
holder() { q_quiet "SELECT holder FROM outreach.daemon_lease WHERE job = '$1'"; }

# takeover JOB: kills the daemon holding JOB's lease, then measures how soon the other holds it.
takeover() {
  local job=$1 victim start other
  victim=$(holder "$job")
  case $victim in
    alpha) other=beta ;;
    beta) other=alpha ;;
    *) dt_fail "$job: no daemon holds the lease (holder '$victim')"; return 1 ;;
  esac
  start=$(date +%s.%N)
  dt_daemon_kill9 "$victim"
  if dt_wait $((LEASE + 15)) "SELECT holder = '$other' FROM outreach.daemon_lease WHERE job = '$job'"; then
    local took
    took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    if awk -v t="$took" -v l=$LEASE 'BEGIN { exit !(t <= l + 4) }'; then
      dt_ok "$job: after kill -9 of $victim (the lease holder) $other holds the lease within $took s (lease_seconds $LEASE)"
    else
      dt_fail "$job: $other took the lease over only after $took s (lease_seconds $LEASE)"
    fi
  else
    dt_fail "$job: $other never takes the lease over after kill -9 of $victim (holder: $(holder "$job"))"
  fi
  KILLED=$victim
}

dt_daemon_start alpha "$DT_WORK/alpha.toml"
dt_daemon_start beta "$DT_WORK/beta.toml"

# --- 1. sweep ----------------------------------------------------------------------------------
marked_sql="SELECT count(*) FROM outreach.participant WHERE retention_status <> 'retained'"
dt_wait 60 "SELECT ($marked_sql) >= $due / 4" || dt_fail "sweep: not a quarter done after 60 s"
dt_expect "sweep: one sweep runs at a time while both daemons want to sweep" \
  "$(q "SELECT count(*) FROM outreach.job_run WHERE job = 'sweep' AND status = 'running'")" 1
takeover sweep
dt_check "sweep: the other daemon finishes the sweep" \
  dt_wait 90 "SELECT ($marked_sql) = $due AND EXISTS (SELECT 1 FROM outreach.retention_run WHERE kind = 'sweep' AND status = 'finished')"
dt_expect "sweep: each due record marked once (the runs' rows_marked add up to $due), nothing else" \
  "$(q "SELECT (SELECT sum(rows_marked) FROM outreach.retention_run WHERE kind = 'sweep') || ' ' ||
        (SELECT count(*) FROM outreach.participant WHERE retention_status <> 'retained' AND external_ref NOT LIKE 'due-%')")" "$due 0"
dt_daemon_start "$KILLED" "$DT_WORK/$KILLED.toml"

# --- 2. delete ---------------------------------------------------------------------------------
dt_expect "delete: the test confirms every notice" "$(dt_confirm_all)" "$due"
dt_wait 60 "SELECT (SELECT count(*) FROM outreach.tombstone) >= $due / 4" || dt_fail "delete: not a quarter done after 60 s"
takeover delete
dt_check "delete: the other daemon deletes the rest" \
  dt_wait 90 "SELECT NOT EXISTS (SELECT 1 FROM outreach.participant WHERE retention_status = 'deletion_confirmed')
              AND NOT EXISTS (SELECT 1 FROM outreach.retention_run WHERE kind = 'delete' AND status = 'running')"
dt_expect "delete: one tombstone per due record; the deletion runs' rows_deleted add up to $due" \
  "$(q "SELECT (SELECT count(*) FROM outreach.tombstone) || ' ' || (SELECT sum(rows_deleted) FROM outreach.retention_run WHERE kind = 'delete')")" \
  "$due $due"
dt_daemon_start "$KILLED" "$DT_WORK/$KILLED.toml"

# --- 3. notify ---------------------------------------------------------------------------------
q "SELECT outreach.enqueue_delivery(c.controller_id, 'recipient_followup', 'dtest-burst-' || c.code || '-' || i,
          jsonb_build_object('controller', c.code, 'n', i), to_kind => 'webhook', to_target => '$DT_WEBHOOK/slow/' || c.code)
   FROM outreach.controller c, generate_series(1, 10) i" >/dev/null
dt_wait 60 "SELECT count(*) >= 12 FROM outreach.notice_delivery WHERE idempotency_key LIKE 'dtest-burst-%' AND status = 'delivered'" ||
  dt_fail "notify: the burst of 40 messages does not get going"
takeover notify
dt_check "notify: the other daemon delivers every message (what the killed one had claimed once its claim runs out)" \
  dt_wait 90 "SELECT NOT EXISTS (SELECT 1 FROM outreach.notice_delivery WHERE status <> 'delivered')"
dt_daemon_start "$KILLED" "$DT_WORK/$KILLED.toml"
total=$(q "SELECT count(*) FROM outreach.notice_delivery")
dt_check "notify: every message reached its webhook, signed and with its key; repeats (3 kills x batch of 4 at most) keep their key" "$PY" -c "
import json, sys
rows = [json.loads(l) for l in open('$DT_WEBHOOK_LOG')]
keys = {}
for r in rows:
    keys.setdefault((r['path'], r['key']), 0)
    keys[(r['path'], r['key'])] += 1
repeats = sum(n - 1 for n in keys.values())
bad = [r for r in rows if not r['signature_ok'] or r['key'] != (r['payload'] or {}).get('idempotency_key')]
print('# two_daemons: %d requests, %d messages, %d repeats' % (len(rows), len(keys), repeats))
sys.exit(0 if len(keys) == $total and not bad and repeats <= 12 else 1)"

# --- histories and shutdown ----------------------------------------------------------------------
dt_wait 30 "SELECT NOT EXISTS (SELECT 1 FROM outreach.job_run WHERE status = 'running')"
dt_daemon_term alpha; rc_a=$DT_RC
dt_daemon_term beta; rc_b=$DT_RC
dt_expect "both daemons stop on SIGTERM with exit status 0" "$rc_a $rc_b" "0 0"
dt_expect "stopped daemons leave no lease behind" "$(q "SELECT count(*) FROM outreach.daemon_lease")" 0
dt_expect "the job history never shows two runs of one job at the same time" \
  "$(q "SELECT count(*) FROM (SELECT started_at, lag(coalesce(finished_at, 'infinity')) OVER (PARTITION BY job ORDER BY started_at) AS prev_end
        FROM outreach.job_run) r WHERE started_at < prev_end")" 0
dt_expect "the sweep and deletion runs never overlap in time" \
  "$(q "SELECT count(*) FROM (SELECT started_at, lag(coalesce(finished_at, 'infinity')) OVER (PARTITION BY kind ORDER BY started_at) AS prev_end
        FROM outreach.retention_run) r WHERE started_at < prev_end")" 0
dt_expect "both daemons ran sweeps, deletions and deliveries over the test" \
  "$(q "SELECT count(DISTINCT holder) FILTER (WHERE job = 'sweep') || ' ' || count(DISTINCT holder) FILTER (WHERE job = 'delete')
        || ' ' || (SELECT count(DISTINCT daemon) FROM outreach.delivery_attempt) FROM outreach.job_run")" "2 2 2"
dt_note "job history: $(q "SELECT string_agg(job || ':' || holder || ':' || status, ' ' ORDER BY started_at) FROM outreach.job_run WHERE job IN ('sweep', 'delete')")"
exit 0
