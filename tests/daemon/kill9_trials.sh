#!/usr/bin/env bash
# kill -9 the daemon at random points during a sweep, a deletion batch and notification delivery:
# afterwards every due record is marked exactly once, every confirmed record deleted exactly once
# with one tombstone, every notice delivered at least once and every duplicate carries the same
# idempotency key.
#
# 31 members, each with three signed webhook channels (one answering after 0.2 s; more when
# TRIALS is large), and PARTICIPANTS (30,000) records, whose external_ref says independently of
# the daemon whether they are due (lib.sh's dt_load). Small batches (25) make the work last seconds. The daemon
# always runs under one name, as a restarted service does, so it takes its own lease back at once.
# TRIALS (default 21) kills, in three phases:
#   1. sweep (notify and delete disabled): the daemon starts (its schedule "* * * * *" runs the
#      sweep at once) and is killed when a random share of the due records is marked (the first
#      trial: a random 20-150 ms after start, often inside the prepare step);
#   2. notify: killed when a random share of the deliveries is recorded; the deliveries it had
#      claimed wait for their claim to run out (33 s), then go again: duplicates;
#   3. delete, after the test confirms every notice: killed at random shares of the deletions.
# Then the daemon runs until everything is done and stops with SIGTERM (exit 0). Checks: every
# due record marked once (the runs' rows_marked add up, the notices' records_marked add up, no
# record not due marked), deleted once (one tombstone each, none present and tombstoned, the
# deletion runs add up), the others untouched; every delivery delivered and received; every
# request the sink got is signed correctly and carries the key of its delivery; no run left
# 'running'. SEED repeats a run's random choices.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TRIALS=${TRIALS:-21}
N=${PARTICIPANTS:-30000}
MEMBERS=31
SEED=${SEED:-$((RANDOM * 32768 + RANDOM))}
RANDOM=$SEED

dt_begin kill9 dtest-kill9 55471
dt_note "TRIALS=$TRIALS PARTICIPANTS=$N SEED=$SEED"
dt_sampler_start
kills_sweep=$(( TRIALS * 2 / 5 )); kills_notify=$(( TRIALS / 4 )); kills_delete=$(( TRIALS - kills_sweep - kills_notify ))
# Each kill during delivery strands up to a batch (4) of claimed deliveries for 33 s: more kills
# need more deliveries to strike.
CHANNELS=$(( kills_notify > 6 ? kills_notify / 2 : 3 ))
dt_webhook_sink --mode /slow=sleep:0.2 || exit 1
for i in $(seq -w 1 $MEMBERS); do
  dt_member "m$i" && dt_channel "m$i" webhook "$DT_WEBHOOK/m$i" && dt_channel "m$i" webhook "$DT_WEBHOOK/slow/m$i" ||
    { dt_fail "set-up of member m$i"; exit 1; }
  for c in $(seq 3 "$CHANNELS"); do dt_channel "m$i" webhook "$DT_WEBHOOK/m$i/c$c" || { dt_fail "channel"; exit 1; }; done
done
dt_load "$N" || { dt_fail "loading $N participants"; exit 1; }
due=$(q "SELECT count(*) FROM outreach.participant WHERE external_ref LIKE 'due-%'")
total=$(q "SELECT count(*) FROM outreach.participant")
# The extension's own view of what is due agrees with how the records were made.
dt_expect "set-up: the extension's retention_status agrees with the $due records made due (of $total)" \
  "$(q "SELECT count(*) FILTER (WHERE (p.external_ref LIKE 'due-%')
                                  <> (s.due_on <= current_date AND (s.hold_until IS NULL OR s.hold_until <= current_date)))
        FROM outreach.retention_status s JOIN outreach.participant p USING (controller_id, participant_id)")" 0

common=(daemon.catch_up_seconds=60 'jobs.sweep.schedule="* * * * *"' jobs.sweep.batch_size=25
        jobs.delete.batch_size=25 jobs.notify.batch_size=4 jobs.notify.timeout_seconds=1)
dt_config "$DT_WORK/sweep.toml" "${common[@]}" jobs.notify.enabled=false jobs.delete.enabled=false
dt_config "$DT_WORK/notify.toml" "${common[@]}" jobs.delete.enabled=false
dt_config "$DT_WORK/all.toml" "${common[@]}"

# phase LABEL CONFIG KILLS PROGRESS_SQL TOTAL [MAX_SHARE]: KILLS trials; each starts the daemon
# and kills it with SIGKILL when PROGRESS_SQL (a count that only grows) reaches a random share
# (below MAX_SHARE per cent, default 95) of TOTAL (sorted, so each trial gets further), or, in
# the first trial, 20-150 ms after the start. Counts the kills that struck with the phase's work
# unfinished.
phase() {
  local label=$1 config=$2 kills=$3 progress=$4 total=$5 max=${6:-95} k target before after mid=0 targets shares=()
  # (RANDOM read in this shell: a subshell would reseed it, and SEED would not repeat a run.)
  for _ in $(seq 1 "$kills"); do shares+=($(( (RANDOM * 32768 + RANDOM) % max ))); done
  targets=$(printf '%s\n' "${shares[@]}" | sort -n)
  k=0
  for share in $targets; do
    k=$((k + 1))
    before=$(q "$progress")
    dt_daemon_start d "$config"
    if [ "$k" = 1 ]; then
      sleep "$(printf "0.%03d" $(( RANDOM % 130 + 20 )))"
    else
      target=$(( total * share / 100 ))
      dt_wait 20 "SELECT ($progress) >= $target" || dt_note "$label trial $k: progress did not reach $target in 20 s"
      sleep "0.0$(( RANDOM % 10 ))"
    fi
    dt_daemon_kill9 d
    after=$(q "$progress")
    [ "$after" -lt "$total" ] && mid=$((mid + 1))
    echo "# $label kill $k: progress $before -> $after of $total"
  done
  if [ $((mid * 2)) -ge "$kills" ]; then
    dt_ok "$label: $kills kill -9, $mid of them with the work unfinished"
  else
    dt_fail "$label: only $mid of $kills kill -9 struck with the work unfinished (the work is too quick to hit)"
  fi
}

# --- 1. sweep ----------------------------------------------------------------------------------
marked_sql="SELECT count(*) FROM outreach.participant WHERE retention_status <> 'retained'"
phase sweep "$DT_WORK/sweep.toml" "$kills_sweep" "$marked_sql" "$due"
dt_daemon_start d "$DT_WORK/sweep.toml"
if dt_wait 120 "SELECT ($marked_sql) = $due AND NOT EXISTS (SELECT 1 FROM outreach.retention_run
                WHERE kind = 'sweep' AND status = 'running')"; then
  dt_ok "sweep: restarted after the last kill, the daemon finishes the sweep"
else
  dt_fail "sweep: after the kills the sweep does not finish: $(q "$marked_sql") of $due marked"
fi
dt_daemon_term d
dt_expect "sweep: SIGTERM stops the idle daemon with exit status 0" "$DT_RC" 0
dt_expect "sweep: exactly the due records are marked (due and unmarked, or marked and not due: none)" \
  "$(q "SELECT count(*) FILTER (WHERE (external_ref LIKE 'due-%') <> (retention_status = 'ready_for_deletion'))
        FROM outreach.participant")" 0
dt_expect "sweep: each due record marked once: the sweep runs' rows_marked add up to $due" \
  "$(q "SELECT sum(rows_marked) FROM outreach.retention_run WHERE kind = 'sweep'")" "$due"
dt_expect "sweep: the notices' records_marked add up to $due, one notice per member" \
  "$(q "SELECT sum(records_marked) || ' ' || count(*) FROM outreach.deletion_notice")" "$due $MEMBERS"
dt_expect "sweep: every marked record belongs to a notice of its own member that counts it" \
  "$(q "SELECT count(*) FROM outreach.deletion_notice n WHERE n.records_marked <> (SELECT count(*)
        FROM outreach.participant p WHERE p.controller_id = n.controller_id AND p.retention_notice_id = n.notice_id)")" 0

# --- 2. notify ---------------------------------------------------------------------------------
deliveries=$(q "SELECT count(*) FROM outreach.notice_delivery")
dt_expect "notify: a delivery queued for each of the $CHANNELS channels of each notice" "$deliveries" $((CHANNELS * MEMBERS))
# (Each kill strands up to a batch of 4 claimed deliveries until their claim runs out: the kill
# points stay below what can be delivered meanwhile.)
phase notify "$DT_WORK/notify.toml" "$kills_notify" \
  "SELECT count(*) FROM outreach.notice_delivery WHERE status = 'delivered'" "$deliveries" \
  $(( 95 - kills_notify * 4 * 100 / deliveries ))

# --- 3. delete (deliveries left claimed by the killed daemons run out meanwhile) ------------------
confirmed=$(dt_confirm_all)
dt_expect "delete: the test confirms every notice: $due records" "$confirmed" "$due"
phase delete "$DT_WORK/all.toml" "$kills_delete" "SELECT count(*) FROM outreach.tombstone" "$due"

# --- then the daemon finishes everything ---------------------------------------------------------
dt_daemon_start d "$DT_WORK/all.toml"
if dt_wait 120 "SELECT NOT EXISTS (SELECT 1 FROM outreach.participant WHERE retention_status = 'deletion_confirmed')
                AND NOT EXISTS (SELECT 1 FROM outreach.notice_delivery WHERE status <> 'delivered')
                AND NOT EXISTS (SELECT 1 FROM outreach.retention_run WHERE status = 'running')"; then
  dt_ok "after the last kill the daemon deletes every confirmed record and delivers every notice"
else
  dt_fail "after the kills the daemon does not finish: $(q "SELECT count(*) FROM outreach.participant
    WHERE retention_status = 'deletion_confirmed'") confirmed left; deliveries $(q "SELECT string_agg(status || ':' || n, ' ')
    FROM (SELECT status, count(*) n FROM outreach.notice_delivery GROUP BY 1) s"); runs running: $(q "SELECT string_agg(kind || ' ' || run_id, ', ')
    FROM outreach.retention_run WHERE status = 'running'")"
fi
dt_daemon_term d
dt_expect "SIGTERM stops the daemon with exit status 0" "$DT_RC" 0

# --- invariants ----------------------------------------------------------------------------------
dt_expect "delete: one tombstone for each confirmed record, each of a due record, none for the others" \
  "$(q "SELECT count(*) || ' ' || count(*) FILTER (WHERE t.marked_on IS NOT NULL AND t.notice_id IS NOT NULL
        AND t.confirmed_at IS NOT NULL) FROM outreach.tombstone t")" "$due $due"
dt_expect "delete: no record is both present and tombstoned; every record not due is present and retained" \
  "$(q "SELECT (SELECT count(*) FROM outreach.participant p JOIN outreach.tombstone t USING (controller_id, participant_id))
        || ' ' || (SELECT count(*) FROM outreach.participant WHERE external_ref NOT LIKE 'due-%' AND retention_status = 'retained')
        || ' ' || (SELECT count(*) FROM outreach.participant)")" "0 $((total - due)) $((total - due))"
dt_expect "delete: each record deleted once: the deletion runs' rows_deleted add up to $due" \
  "$(q "SELECT sum(rows_deleted) FROM outreach.retention_run WHERE kind = 'delete'")" "$due"
dt_expect "no job run or retention run is left 'running'" \
  "$(q "SELECT (SELECT count(*) FROM outreach.job_run WHERE status = 'running')
               + (SELECT count(*) FROM outreach.retention_run WHERE status = 'running')")" 0
dt_expect "every delivery is 'delivered', with one successful attempt recorded last" \
  "$(q "SELECT count(*) FROM outreach.notice_delivery d WHERE d.status <> 'delivered'
        OR NOT (SELECT a.ok FROM outreach.delivery_attempt a WHERE a.controller_id = d.controller_id
                AND a.delivery_id = d.delivery_id ORDER BY a.attempt DESC LIMIT 1)")" 0

# What the receiver got against what the database says was delivered.
q "SELECT kind, target, idempotency_key, payload->>'notice_id' FROM outreach.notice_delivery" >"$DT_WORK/deliveries.txt"
"$PY" - "$DT_WORK/deliveries.txt" "$DT_WEBHOOK_LOG" "$DT_WEBHOOK" <<'PY'
import json, sys
deliveries, log, base = sys.argv[1], sys.argv[2], sys.argv[3]
want = {}
for line in open(deliveries):
    kind, target, key, notice = line.rstrip('\n').split('|')
    want[(target[len(base):], key)] = notice
got = [json.loads(l) for l in open(log)]
by = {}
for r in got:
    by.setdefault((r['path'], r['key']), []).append(r)
missing = [k for k in want if k not in by]
unknown = [k for k in by if k not in want]
bad_sig = [r['path'] for r in got if not r['signature_ok']]
bad_key = [r['path'] for r in got if not (r['key'] == r['key2'] == (r['payload'] or {}).get('idempotency_key'))]
# a duplicate: the same notice to the same URL more than once; it must carry the same key
per_notice = {}
for r in got:
    per_notice.setdefault((r['path'], (r['payload'] or {}).get('notice_id'), (r['payload'] or {}).get('revision')), set()).add(r['key'])
split = {k: v for k, v in per_notice.items() if len(v) > 1}
dups = sum(len(v) - 1 for v in by.values())
def report(ok, text):
    print(('ok' if ok else 'FAILED') + ' kill9: ' + text)
report(not missing, f'every one of the {len(want)} deliveries reached its webhook at least once'
       + (f' (missing: {missing[:5]})' if missing else ''))
report(not unknown, 'the webhook got nothing but those deliveries' + (f' (unknown: {unknown[:5]})' if unknown else ''))
report(not bad_sig and not bad_key, f'all {len(got)} requests carry a valid signature and their delivery\'s idempotency key'
       + ' in both headers and the body' + (f' (bad signature: {bad_sig[:5]}, bad key: {bad_key[:5]})' if bad_sig or bad_key else ''))
report(not split, f'every duplicate ({dups} requests repeated a delivery) carries the same idempotency key as the first'
       + (f' (different keys for one notice: {list(split.items())[:3]})' if split else ''))
sys.exit(1 if missing or unknown or bad_sig or bad_key or split else 0)
PY
[ $? = 0 ] || DT_FAILED=1
if grep -q "error" "$DT_WORK/daemon-d.log"; then
  dt_note "errors the daemon logged: $(grep -c error "$DT_WORK/daemon-d.log"); first: $(grep -m3 error "$DT_WORK/daemon-d.log" | tr '\n' ' ')"
fi
exit 0
