#!/usr/bin/env bash
# Webhook URLs are chosen by members (their DPOs insert them through SQL), so the daemon must not
# become their way into the service's own network, nor a port scanner whose results they read:
#  - by default, a webhook whose host is on loopback, link-local, 'this network' (0.0.0.0) or
#    a private range, however it is written (127.0.0.1, localhost, [::ffff:127.0.0.1],
#    2130706433, 0.0.0.0, 169.254.169.254), is refused before any connection: the sink on
#    127.0.0.1 gets nothing, the member reads 'refused by policy' as a failed attempt, the log
#    says which address and why; webhook.allow_private_networks = ["127.0.0.1"] lets it through;
#  - with loopback allowed (as a service with an internal receiver would), a closed port, a port
#    that never answers, a port speaking another protocol (SMTP) and TLS to a plain HTTP port
#    leave the same record for the member, each after the attempt's full timeout (the time
#    does not tell them apart either); the daemon's log keeps the reason of each;
#  - a webhook host whose DNS lookup never answers (getaddrinfo held 20 s by an LD_PRELOAD shim,
#    tests/daemon/slow_io.c): the attempt fails at its timeout and is retried later, another
#    member's webhook in the same batch is delivered meanwhile, /healthz answers within 1 s
#    throughout, and SIGTERM still stops the daemon at once.
#  - rights requests' clocks: the escalate job queues a member's daily digest of an overdue
#    request once, the notify job delivers it to the member's webhook (signed, no personal data)
#    and by email to its legal contact.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dt_begin webhook_policy dtest-policy 55476
dt_sampler_start
dt_webhook_sink || exit 1
dt_smtp_sink plain || exit 1
SINK_PORT=${DT_WEBHOOK##*:}
common=(jobs.notify.max_attempts=3 jobs.notify.timeout_seconds=2 jobs.notify.backoff_base_seconds=1
        jobs.notify.backoff_cap_seconds=1)
NR='no response: could not connect, timed out or the connection failed (details in the service'"'"'s log)'
REFUSED='refused by policy: the webhook'"'"'s host is not at a public address (details in the service'"'"'s log)'

for m in lo lname mapped dec zero meta scan slow quick; do dt_member "$m" || { dt_fail "member $m"; exit 1; }; done
# enqueue MEMBER KEY URL: one webhook message to URL (as the extension queues a member's notices).
enqueue() {
  q "SELECT outreach.enqueue_delivery(controller_id, 'recipient_followup', '$2', '{}', 'policy test $2', 'Hello.',
       to_kind => 'webhook', to_target => '$3') FROM outreach.controller WHERE code = '$1'" >/dev/null
}
# seen KEY: how many requests with that key reached the webhook sink.
seen() { grep -c "\"key\": \"$1\"" "$DT_WEBHOOK_LOG"; }
# as_dpo MEMBER KEY: what the member's DPO reads of that delivery: status, then each attempt's detail.
as_dpo() {
  psql -X -q -At -d "$DT_DB" -c "SET ROLE outreach_$1_dpo" -c "
    SELECT d.status || ' | ' || coalesce(string_agg(a.detail, ' | ' ORDER BY a.attempt), '')
    FROM outreach.notice_delivery d LEFT JOIN outreach.delivery_attempt a USING (controller_id, delivery_id)
    WHERE d.idempotency_key = '$2' GROUP BY d.status"
}

# --- refused by default ---------------------------------------------------------------------------
dt_config "$DT_WORK/default.toml" "${common[@]}" webhook.allow_private_networks=- "smtp.port=$DT_SMTP_PORT"
if grep -q allow_private_networks "$DT_WORK/default.toml"; then dt_fail "default.toml sets allow_private_networks"; fi
enqueue lo pol-lo "$DT_WEBHOOK/lo"
enqueue lname pol-lname "http://localhost:$SINK_PORT/lname"
enqueue mapped pol-mapped "http://[::ffff:127.0.0.1]:$SINK_PORT/mapped"
enqueue dec pol-dec "http://2130706433:$SINK_PORT/dec"
enqueue zero pol-zero "http://0.0.0.0:$SINK_PORT/zero"
enqueue meta pol-meta "http://169.254.169.254/latest/meta-data/"
"$OUTREACHD" --config "$DT_WORK/default.toml" run-once notify >"$DT_WORK/default.log" 2>&1
dt_expect "run-once notify with the default policy exits 0" "$?" 0
for case in lo:127.0.0.1 lname:localhost mapped:'[::ffff:127.0.0.1]' dec:2130706433 zero:0.0.0.0 meta:169.254.169.254; do
  m=${case%%:*} host=${case#*:}
  dt_expect "default policy: a webhook to $host is refused at once, recorded as a failed attempt the member's DPO reads" \
    "$(as_dpo "$m" "pol-$m")" "failed | $REFUSED"
  dt_expect "default policy: nothing reached the sink for $host" "$(seen "pol-$m")" 0
done
dt_check "the daemon's log names the address and why it was refused (localhost: loopback)" \
  grep -qE "pol-lname to webhook of lname failed for good: refused by policy: localhost resolves to [^ ]*127\.0\.0\.1 \(loopback\)" "$DT_WORK/default.log"
dt_check "... 169.254.169.254: link-local (cloud metadata)" \
  grep -q "refused by policy: 169.254.169.254 resolves to 169.254.169.254 (link-local (cloud metadata services live here))" "$DT_WORK/default.log"
dt_check "... [::ffff:127.0.0.1]: loopback inside an IPv6 address" \
  grep -q "resolves to ::ffff:127.0.0.1 (loopback, inside an IPv6 address)" "$DT_WORK/default.log"

# --- allowed by configuration -------------------------------------------------------------------
dt_config "$DT_WORK/allowed.toml" "${common[@]}" "smtp.port=$DT_SMTP_PORT"   # the tests' default: ["127.0.0.1"]
enqueue lo pol-lo-allowed "$DT_WEBHOOK/lo"
"$OUTREACHD" --config "$DT_WORK/allowed.toml" run-once notify >"$DT_WORK/allowed.log" 2>&1
dt_expect "webhook.allow_private_networks = [\"127.0.0.1\"]: the same target is delivered" \
  "$(as_dpo lo pol-lo-allowed):$(seen pol-lo-allowed)" "delivered | HTTP 200:1"

# --- rights requests' clocks: the escalate job reminds the member, notify delivers -------------------
# An access request received 40 days ago is overdue: the member's webhook gets a signed digest
# (an escalation) and its legal contact an email, each once that day, with no personal data.
dt_channel quick webhook "$DT_WEBHOOK/quick-rights"
q "UPDATE outreach.controller SET legal_contact = 'legal@quick.example' WHERE code = 'quick'" >/dev/null
rid=$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$DT_DB" -c "SET ROLE outreach_quick_dpo" -c "
  SELECT outreach.open_rights_request(controller_id, 'access', (now() AT TIME ZONE 'Europe/London')::date - 40)
  FROM outreach.controller WHERE code = 'quick'")
due=$(q "SELECT due_on FROM outreach.rights_request WHERE request_id = ${rid:-0}")
for _ in 1 2; do
  "$OUTREACHD" --config "$DT_WORK/allowed.toml" run-once escalate >>"$DT_WORK/rights.log" 2>&1
  "$OUTREACHD" --config "$DT_WORK/allowed.toml" run-once notify >>"$DT_WORK/rights.log" 2>&1
done
dt_check "run-once escalate reports the member reminded (once: the second run that day finds it done)" \
  bash -c "grep -c '0 notices escalated, 1 members reminded of rights requests' '$DT_WORK/rights.log' | grep -qx 1"
dt_expect "the member's webhook got the escalation once, signed, listing the request and its due date, no person" \
  "$("$PY" -c "
import json, sys
rows = [json.loads(l) for l in open('$DT_WEBHOOK_LOG') if '/quick-rights' in l]
print(len(rows), all(r['signature_ok'] for r in rows), [(r['payload']['type'], r['payload']['overdue'],
      [(q['request_id'], q['due_on'], q['kind']) for q in r['payload']['requests']], 'requester' in json.dumps(r['payload'])) for r in rows])")" \
  "1 True [('rights_escalation', 1, [(${rid:-0}, '$due', 'access')], False)]"
dt_expect "the legal contact got one email about it" \
  "$(grep -c 'legal@quick.example.*outreach-rights-' "$DT_SMTP_LOG")" 1

# --- no port map through the member's records ------------------------------------------------------
silent_port=$(dt_free_port)
"$PY" -c "
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $silent_port)); s.listen(16)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)   # accepts, reads nothing, never answers
" >"$DT_WORK/silent.out" 2>&1 &
DT_SINK_PIDS+=($!)
closed_port=$(dt_free_port)
dt_wait_for 10 "$PY" -c "import socket; socket.create_connection(('127.0.0.1', $silent_port), 1)" ||
  dt_fail "the silent listener does not start"
# Retries far off, so that each run-once below makes exactly one attempt, its own.
dt_config "$DT_WORK/scan.toml" "${common[@]}" jobs.notify.backoff_base_seconds=300 jobs.notify.backoff_cap_seconds=300 \
  "smtp.port=$DT_SMTP_PORT"
declare -A took=()
for case in closed:"http://127.0.0.1:$closed_port/x" silent:"http://127.0.0.1:$silent_port/x" \
            smtp:"http://127.0.0.1:$DT_SMTP_PORT/x" tls:"https://127.0.0.1:$SINK_PORT/x"; do
  name=${case%%:*} url=${case#*:}
  enqueue scan "scan-$name" "$url"
  start=$(date +%s.%N)
  "$OUTREACHD" --config "$DT_WORK/scan.toml" run-once notify >>"$DT_WORK/scan.log" 2>&1
  took[$name]=$("$PY" -c "print(round($(date +%s.%N) - $start, 2))")
  dt_expect "port scan, $name ($url): the member reads the same category as for every other failure" \
    "$(as_dpo scan "scan-$name")" "pending | $NR"
done
dt_check "port scan: every failed attempt took the full timeout (2 s), so timing does not tell a refused port from a silent one (took: $(for k in "${!took[@]}"; do printf '%s=%s ' "$k" "${took[$k]}"; done))" \
  "$PY" -c "import sys; sys.exit(0 if all(t >= 2 for t in [${took[closed]}, ${took[silent]}, ${took[smtp]}, ${took[tls]}]) else 1)"
dt_check "port scan: the daemon's log keeps each reason (refused, timeout, not HTTP, TLS)" bash -c "
  grep -q 'scan-closed .*will be retried: HTTP: Connection refused' '$DT_WORK/scan.log' &&
  grep -q 'scan-silent .*will be retried: HTTP: timeout after 2 s' '$DT_WORK/scan.log' &&
  grep -qE 'scan-smtp .*will be retried: HTTP: (bad version|bad status|bad method)' '$DT_WORK/scan.log' &&
  grep -qiE 'scan-tls .*will be retried: HTTP: .*(wrong version|record|ssl|stream truncated|end of stream)' '$DT_WORK/scan.log'"

# --- a DNS lookup that never answers -----------------------------------------------------------------
cc -shared -fPIC -o "$DT_WORK/slow_io.so" "$DT_DIR/slow_io.c" -ldl 2>"$DT_WORK/cc.log" ||
  { dt_fail "building the slow resolver shim: $(tail -3 "$DT_WORK/cc.log")"; exit 1; }
port=$(dt_free_port)
url="http://127.0.0.1:$port"
dt_config "$DT_WORK/slow.toml" "${common[@]}" jobs.notify.max_attempts=10 "http.listen=\"127.0.0.1:$port\"" "smtp.port=$DT_SMTP_PORT"
enqueue slow dns-slow "http://hook.slow.invalid:$SINK_PORT/slow"
enqueue quick dns-quick "$DT_WEBHOOK/quick"
started=$SECONDS
SLOW_DNS_SUFFIX=.slow.invalid SLOW_DNS_SECONDS=20 LD_PRELOAD="$DT_WORK/slow_io.so" dt_daemon_start slow "$DT_WORK/slow.toml"
dt_check "the shim holds the lookup of hook.slow.invalid" dt_wait_for 10 grep -q "slow_io: getaddrinfo(hook.slow.invalid)" "$DT_WORK/daemon-slow.log"
slowest=0
for _ in 1 2 3 4 5 6; do
  t=$(curl -s -o /dev/null -m 1 -w '%{http_code} %{time_total}' "$url/healthz")
  [ "${t%% *}" = 200 ] || slowest=fail
  [ "$slowest" = fail ] || slowest=$("$PY" -c "print(max($slowest, ${t#* }))")
  sleep 0.5
done
dt_check "/healthz answers 200 within 1 s while the lookup hangs (slowest: $slowest s)" [ "$slowest" != fail ]
dt_check "the other member's webhook in the same batch is delivered within the attempt's timeout (+3 s), not after the lookup" \
  dt_wait $((started + 5 - SECONDS)) "SELECT status = 'delivered' FROM outreach.notice_delivery WHERE idempotency_key = 'dns-quick'"
dt_check "the hanging lookup's attempt is recorded as failed (to retry) at its timeout, while getaddrinfo is still held" \
  dt_wait $((started + 6 - SECONDS)) "SELECT attempts >= 1 AND status = 'pending' FROM outreach.notice_delivery WHERE idempotency_key = 'dns-slow'"
dt_expect "... what the member reads" "$(as_dpo slow dns-slow | cut -d'|' -f1-2 | sed 's/ *$//')" "pending | $NR"
dt_check "... and the daemon's log says the lookup did not finish in time" \
  grep -q "dns-slow to webhook of slow will be retried: the DNS lookup of hook.slow.invalid did not finish within 2 s" "$DT_WORK/daemon-slow.log"
t0=$SECONDS
dt_daemon_term slow 10
dt_expect "SIGTERM stops the daemon at once (exit 0), lookups still held in their threads" "$DT_RC:$(( SECONDS - t0 < 5 ))" "0:1"
exit 0
