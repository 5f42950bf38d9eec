#!/usr/bin/env bash
# A webhook that times out, returns 500, or closes the connection: retried, recorded, other
# members unaffected. A channel that keeps failing ends 'failed' after max_attempts, visible in
# /metrics and the job history; a member with a malformed webhook URL: that member's channel
# fails, the others proceed. Email through a local SMTP sink, with and without STARTTLS.
#
# Members and their channels (the webhook sink's mode per path in brackets):
#   good     webhook /good, email good@example.org           both delivered at the first attempt
#   tmo      webhook /timeout  [first 2 requests: 5 s > timeout_seconds 2]   delivered at the 3rd
#   e500     webhook /e500     [first 2: HTTP 500]                           delivered at the 3rd
#   cls      webhook /close    [first 2: connection closed unanswered]       delivered at the 3rd
#   perm     webhook /perm500  [always 500]      'failed' after max_attempts (4), every try recorded
#   gone     webhook /gone     [410]             'failed' at once (a 4xx is not retried)
#   badurl   webhook "not a url" and email badurl@example.org: the webhook fails at once, the email goes
#   mailtmp  email tempfail@example.org [SMTP 451]  'failed' after max_attempts
#   mailrej  email reject@example.org   [SMTP 550]  'failed' at once
# A sweep (outreachd run-once sweep) makes one deletion notice per member; the daemon (with
# /metrics) delivers. Then single messages go out with outreachd run-once notify through a
# STARTTLS-offering sink (self-signed certificate made with openssl): "required" with the
# certificate trusted (SSL_CERT_FILE), "opportunistic" (not verified), "never" (plain), and
# failing: "required" with the certificate not trusted, "required" to a relay without STARTTLS.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dt_begin webhook_faults dtest-faults 55474
dt_sampler_start
dt_webhook_sink --mode /timeout=first:2:sleep:5 --mode /e500=first:2:500 --mode /close=first:2:close \
  --mode /perm500=500 --mode /gone=410 || exit 1
dt_smtp_sink plain || exit 1
SMTP_PLAIN=$DT_SMTP_PORT
SMTP_PLAIN_LOG=$DT_SMTP_LOG
for m in good tmo e500 cls perm gone badurl mailtmp mailrej; do dt_member "$m" || { dt_fail "member $m"; exit 1; }; done
dt_channel good webhook "$DT_WEBHOOK/good"
dt_channel good email good@example.org
dt_channel tmo webhook "$DT_WEBHOOK/timeout"
dt_channel e500 webhook "$DT_WEBHOOK/e500"
dt_channel cls webhook "$DT_WEBHOOK/close"
dt_channel perm webhook "$DT_WEBHOOK/perm500"
dt_channel gone webhook "$DT_WEBHOOK/gone"
dt_channel badurl webhook "not a url"
dt_channel badurl email badurl@example.org
dt_channel mailtmp email tempfail@example.org
dt_channel mailrej email reject@example.org
dt_load 900 || { dt_fail "loading participants"; exit 1; }

port=$(dt_free_port)
url="http://127.0.0.1:$port"
common=(jobs.notify.max_attempts=4 jobs.notify.timeout_seconds=2 jobs.notify.backoff_base_seconds=1
        jobs.notify.backoff_cap_seconds=1 jobs.notify.batch_size=20)
dt_config "$DT_WORK/d.toml" "${common[@]}" "http.listen=\"127.0.0.1:$port\"" "smtp.port=$SMTP_PLAIN"

"$OUTREACHD" --config "$DT_WORK/d.toml" run-once sweep >"$DT_WORK/sweep.log" 2>&1
dt_expect "run-once sweep exits 0 and makes one notice per member" "$?:$(q "SELECT count(*) FROM outreach.deletion_notice")" "0:9"
dt_expect "a delivery is queued for each of the 11 channels" "$(q "SELECT count(*) FROM outreach.notice_delivery")" 11

dt_daemon_start d "$DT_WORK/d.toml"
dt_check "the daemon settles every delivery (delivered or failed) within 60 s" \
  dt_wait 60 "SELECT NOT EXISTS (SELECT 1 FROM outreach.notice_delivery WHERE status = 'pending')"
# One line per delivery: member kind status attempts, then the attempts' details in order.
state() {
  q "SELECT d.status || ' ' || d.attempts || ' ' || coalesce((SELECT string_agg(a.ok::text || ':' || coalesce(a.detail, ''), ' | ' ORDER BY a.attempt)
            FROM outreach.delivery_attempt a WHERE a.controller_id = d.controller_id AND a.delivery_id = d.delivery_id), '')
     FROM outreach.notice_delivery d JOIN outreach.controller c USING (controller_id)
     WHERE c.code = '$1' AND d.kind = '$2'"
}
expect_state() {  # MEMBER KIND DESCRIPTION REGEX
  local got
  got=$(state "$1" "$2")
  if [[ $got =~ $4 ]]; then dt_ok "$1 ($2): $3"
  else dt_fail "$1 ($2): $3 (got: $got)"; fi
}
expect_state good webhook "delivered at the first attempt, although other members' webhooks time out or fail" '^delivered 1 true:HTTP 200$'
expect_state good email "delivered at the first attempt by SMTP" '^delivered 1 true:SMTP 250$'
# What the member reads of a failure without an HTTP status is one coarse category (no port
# mapping through delivery errors); the daemon's log keeps the reason.
NR='no response: could not connect, timed out or the connection failed \(details in the service.s log\)'
expect_state tmo webhook "two timeouts recorded (as 'no response'), then delivered at the third attempt" \
  "^delivered 3 false:$NR \\| false:$NR \\| true:HTTP 200\$"
expect_state e500 webhook "two HTTP 500 recorded, then delivered at the third attempt" \
  '^delivered 3 false:HTTP 500 \| false:HTTP 500 \| true:HTTP 200$'
expect_state cls webhook "two closed connections recorded (as 'no response', like the timeouts), then delivered at the third attempt" \
  "^delivered 3 false:$NR \\| false:$NR \\| true:HTTP 200\$"
dt_check "the daemon's log tells the timeouts and the closed connections apart (the member's record does not)" \
  grep -qE "notify: outreach-notice-[0-9]+ to webhook of tmo will be retried: HTTP: timeout after 2 s" "$DT_WORK/daemon-d.log"
dt_check "... and the closed connection's reason is in the log" \
  grep -qE "notify: outreach-notice-[0-9]+ to webhook of cls will be retried: HTTP: (end of stream|Connection reset)" "$DT_WORK/daemon-d.log"
expect_state perm webhook "always 500: 'failed' after max_attempts (4), each attempt recorded" \
  '^failed 4 false:HTTP 500 \| false:HTTP 500 \| false:HTTP 500 \| false:gave up after 4 attempts: HTTP 500$'
expect_state gone webhook "HTTP 410: 'failed' at once, not retried" '^failed 1 false:HTTP 410$'
expect_state badurl webhook "malformed URL: 'failed' at once, recorded" '^failed 1 false:malformed webhook URL'
expect_state badurl email "the same member's email channel is delivered" '^delivered 1 true:SMTP 250$'
expect_state mailtmp email "SMTP 451: retried, 'failed' after max_attempts (the member sees the code, not the relay's text)" \
  '^failed 4 false:SMTP 451 \| false:SMTP 451 \| false:SMTP 451 \| false:gave up after 4 attempts: SMTP 451$'
expect_state mailrej email "SMTP 550: 'failed' at once" '^failed 1 false:SMTP 550$'
# Each batch waits for its slowest delivery before recording, but what healthy channels are sent
# does not wait: their requests reach the sinks with the batch's first attempts.
dt_check "the healthy channels' messages reached the sinks within 1.5 s of the first attempts (not held up by the faulty ones)" "$PY" -c "
import json, sys
hooks = [json.loads(l) for l in open('$DT_WEBHOOK_LOG')]
mails = [json.loads(l) for l in open('$SMTP_PLAIN_LOG') if 'refused' not in l]
first = min(r['t'] for r in hooks)
healthy = [r['t'] for r in hooks if r['path'] == '/good'] + [r['t'] for r in mails]
sys.exit(0 if len(healthy) == 3 and max(healthy) - first < 1.5 else (print(first, healthy) or 1))"
dt_expect "the member sees its failed deliveries and why (as its DPO role)" \
  "$(psql -X -q -At -d "$DT_DB" -c "SET ROLE outreach_perm_dpo" -c "SELECT status || ' ' || attempts || ' ' || last_error FROM outreach.notice_delivery")" \
  "failed 4 gave up after 4 attempts: HTTP 500"
dt_expect "/metrics: outreachd_notices{status=\"failed\"} counts the 5 failed deliveries" \
  "$(dt_metric "$url" 'outreachd_notices{status="failed"}')" 5
dt_expect "/metrics: outreachd_notices{status=\"delivered\"} counts the 6 delivered" \
  "$(dt_metric "$url" 'outreachd_notices{status="delivered"}')" 6
dt_expect "/metrics: webhook attempts by outcome (ok 4, retry 9, failed 3)" \
  "$(for o in ok retry failed; do dt_metric "$url" "outreachd_delivery_attempts_total{kind=\"webhook\",outcome=\"$o\"}"; done | paste -sd' ')" "4 9 3"
dt_expect "the job history's notify runs add up to 6 delivered and 5 failed for good" \
  "$(q "SELECT sum((regexp_match(detail, '^(\d+) delivered'))[1]::int) || ' ' || sum((regexp_match(detail, '(\d+) failed for good'))[1]::int)
        FROM outreach.job_run WHERE job = 'notify'")" "6 5"
dt_check "the webhook sink got every request signed, with the delivery's key; each retry with the same key" "$PY" -c "
import json, sys
rows = [json.loads(l) for l in open('$DT_WEBHOOK_LOG')]
per_path = {}
for r in rows:
    per_path.setdefault(r['path'], set()).add(r['key'])
ok = all(r['signature_ok'] and r['key'] == r['payload']['idempotency_key'] for r in rows)
counts = {p: sum(1 for r in rows if r['path'] == p) for p in per_path}
want = {'/good': 1, '/timeout': 3, '/e500': 3, '/close': 3, '/perm500': 4, '/gone': 1}
sys.exit(0 if ok and counts == want and all(len(k) == 1 for k in per_path.values()) else (print(counts, per_path) or 1))"
dt_check "the SMTP sink got the two emails once each, with their keys and subjects, without TLS (none offered)" "$PY" -c "
import json, sys
rows = [json.loads(l) for l in open('$SMTP_PLAIN_LOG') if 'refused' not in l]
got = sorted((r['to'][0], r['key'].startswith('outreach-notice-'), r['subject'].startswith('Records ready for deletion'), r['tls']) for r in rows)
sys.exit(0 if got == [('badurl@example.org', True, True, False), ('good@example.org', True, True, False)] else (print(got) or 1))"
dt_daemon_term d
dt_expect "SIGTERM stops the daemon with exit status 0" "$DT_RC" 0

# --- STARTTLS ------------------------------------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$DT_WORK/smtp.key" -out "$DT_WORK/smtp.crt" >"$DT_WORK/openssl.log" 2>&1 ||
  { dt_fail "openssl: $(tail -3 "$DT_WORK/openssl.log")"; exit 1; }
dt_smtp_sink tls --tls-cert "$DT_WORK/smtp.crt" --tls-key "$DT_WORK/smtp.key" || exit 1
SMTP_TLS=$DT_SMTP_PORT
# send KEY PORT STARTTLS [ENV...]: queues one email to good's address and runs run-once notify.
send() {
  local key=$1 smtp_port=$2 mode=$3
  shift 3
  q "SELECT outreach.enqueue_delivery(controller_id, 'recipient_followup', '$key', '{}', 'STARTTLS test $key',
       'Hello.', to_kind => 'email', to_target => 'good@example.org') FROM outreach.controller WHERE code = 'good'" >/dev/null
  dt_config "$DT_WORK/tls.toml" "${common[@]}" "smtp.port=$smtp_port" "smtp.starttls=\"$mode\""
  env "$@" "$OUTREACHD" --config "$DT_WORK/tls.toml" run-once notify >>"$DT_WORK/tls.log" 2>&1
}
detail() { q "SELECT status || ' ' || coalesce(last_error, '') FROM outreach.notice_delivery WHERE idempotency_key = '$1'"; }
tls_of() { "$PY" -c "
import json, sys
print(' '.join(str(json.loads(l)['tls']).lower() for l in open('$DT_WORK/smtp-tls.jsonl') if json.loads(l).get('key') == '$1'))"; }
send dtest-tls-required "$SMTP_TLS" required SSL_CERT_FILE="$DT_WORK/smtp.crt"
dt_expect "STARTTLS required, certificate trusted: delivered, over TLS" "$(detail dtest-tls-required)|$(tls_of dtest-tls-required)" "delivered |true"
send dtest-tls-opportunistic "$SMTP_TLS" opportunistic
dt_expect "STARTTLS opportunistic (certificate not verified): delivered, over TLS" \
  "$(detail dtest-tls-opportunistic)|$(tls_of dtest-tls-opportunistic)" "delivered |true"
send dtest-tls-never "$SMTP_TLS" never
dt_expect "STARTTLS never: delivered in plain text although offered" "$(detail dtest-tls-never)|$(tls_of dtest-tls-never)" "delivered |false"
send dtest-tls-untrusted "$SMTP_TLS" required
got=$(detail dtest-tls-untrusted)
if [[ $got =~ ^pending\ mail\ relay\ unavailable ]] && [ -z "$(tls_of dtest-tls-untrusted)" ] &&
   grep -q "dtest-tls-untrusted.*will be retried: SMTP.*certificate" "$DT_WORK/tls.log"; then
  dt_ok "STARTTLS required, certificate not trusted: not sent, kept for a retry ($got; the certificate error in the log)"
else
  dt_fail "STARTTLS required, certificate not trusted: got '$got', sink saw '$(tls_of dtest-tls-untrusted)'"
fi
send dtest-tls-missing "$SMTP_PLAIN" required
got=$(detail dtest-tls-missing)
if [[ $got =~ ^pending\ mail\ relay\ unavailable ]] &&
   grep -q "dtest-tls-missing.*will be retried: SMTP.*does not offer STARTTLS" "$DT_WORK/tls.log"; then
  dt_ok "STARTTLS required from a relay that does not offer it: not sent, kept for a retry ($got; the reason in the log)"
else
  dt_fail "STARTTLS required from a relay that does not offer it: got '$got'"
fi
exit 0
