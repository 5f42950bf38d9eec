#!/usr/bin/env bash
# An export onto a disk that stalls: fsync() of the export file is held by an LD_PRELOAD shim
# (tests/daemon/slow_io.c, built here), as a slow or hung disk would hold it.
#  - the daemon, exporting on its schedule, stalls 10 s in the export file's fsync: meanwhile
#    /healthz answers 200 within 1 s, the export job's lease keeps being renewed (its expiry in
#    outreach.daemon_lease moves and stays ahead of now), and another job (notify, woken by a
#    queued message) delivers; when the disk comes back the export completes (file, manifest,
#    job history 'succeeded');
#  - a stall longer than jobs.export.io_timeout_seconds (3 s, fsync held 30 s): run-once export
#    exits 1 within seconds with a message naming the step and the timeout, the export is
#    abandoned, the ledger unchanged, nothing visible left; the next run (disk well again)
#    writes the export.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lk_begin "linkage slow disk" ltest-slow 55505
cc -shared -fPIC -o "$DT_WORK/slow_io.so" "$DT_DIR/slow_io.c" -ldl 2>"$DT_WORK/cc.log" ||
  { dt_fail "building the slow disk shim: $(tail -3 "$DT_WORK/cc.log")"; exit 1; }
dt_sampler_start

lk_member lka
q "INSERT INTO outreach.participant (controller_id, external_ref, first_name, last_name, date_of_birth, postcode, sex)
   SELECT lk.member('lka'), 's-' || i, 'Sam', 'Slow' || i, lk.dob(-5) + (i % 150), 'M1 1AE', 'F'
   FROM generate_series(1, 500) AS i;
   ANALYZE outreach.participant" >/dev/null || { dt_fail "set-up: participants"; exit 1; }
dt_webhook_sink || exit 1

# --- the daemon stalls in fsync; everything else goes on --------------------------------------------
dir="$DT_WORK/slow-exports"
mkdir -p "$dir"
port=$(dt_free_port)
url="http://127.0.0.1:$port"
# A schedule whose slot is this minute (UTC), so the export runs as the daemon starts (and not
# again during the test).
[ "$(date -u +%-S)" -lt 50 ] || sleep $((61 - $(date -u +%-S)))
dt_config "$DT_WORK/slow.toml" "jobs.export.enabled=true" "jobs.export.schedule=\"$(date -u +'%-M %-H') * * *\"" \
  daemon.catch_up_seconds=60 "jobs.export.directory=\"$dir\"" 'jobs.export.recipients=["hesa"]' \
  jobs.export.io_timeout_seconds=60 "http.listen=\"127.0.0.1:$port\""
ledger=$(q "SELECT count(*) FROM outreach.disclosure")
SLOW_FSYNC_DIR="$dir" SLOW_FSYNC_SECONDS=10 LD_PRELOAD="$DT_WORK/slow_io.so" dt_daemon_start slow "$DT_WORK/slow.toml"
if dt_wait_for 20 grep -q "slow_io: fsync of $dir/.*partial sleeps 10 s" "$DT_WORK/daemon-slow.log"; then
  dt_ok "the export's fsync is held by the shim (10 s)"
else
  dt_fail "the export never reached its fsync: $(tail -3 "$DT_WORK/daemon-slow.log" | tr '\n' ' ')"; exit 1
fi
lease() { q "SELECT extract(epoch FROM expires_at) || ' ' || (expires_at > clock_timestamp()) FROM outreach.daemon_lease WHERE job = 'export'"; }
first_lease=$(lease)
q "SELECT outreach.enqueue_delivery(lk.member('lka'), 'recipient_followup', 'during-stall', '{}', 'during the stall', 'Hello.',
     to_kind => 'webhook', to_target => '$DT_WEBHOOK/during-stall')" >/dev/null
slowest=0
for _ in $(seq 8); do
  t=$(curl -s -o /dev/null -m 1 -w '%{http_code} %{time_total}' "$url/healthz")
  if [ "${t%% *}" != 200 ]; then slowest="failed ($t)"; break; fi
  slowest=$("$PY" -c "print(max($slowest, ${t#* }))")
  sleep 0.5
done
dt_check "/healthz answers 200 within 1 s throughout the stall (slowest: $slowest s)" grep -qE '^[0-9.]+$' <<<"$slowest"
second_lease=$(lease)
export_running=$(q "SELECT count(*) FROM outreach.job_run WHERE job = 'export' AND status = 'running'")
dt_check "the export job's lease is renewed during the stall (expiry $first_lease, then $second_lease; still ahead of now)" \
  "$PY" -c "a, b = '$first_lease'.split(), '$second_lease'.split(); import sys; sys.exit(0 if float(b[0]) > float(a[0]) and b[1] == 'true' else 1)"
dt_check "another job runs during the stall: the queued webhook is delivered while the export is still running" \
  [ "$(q "SELECT status FROM outreach.notice_delivery WHERE idempotency_key = 'during-stall'")" = delivered ] && [ "$export_running" = 1 ]
dt_check "after the stall the export completes: job history 'succeeded'" \
  dt_wait 30 "SELECT EXISTS (SELECT 1 FROM outreach.job_run WHERE job = 'export' AND status = 'succeeded')"
file=$(lk_visible "$dir" | grep -v '\.manifest\.json$')
dt_check "... its file and manifest in place, the manifest's sha256 the file's ($file)" bash -c "
  [ -n '$file' ] && [ -f '$dir/$file.manifest.json' ] &&
  grep -q \"\$(sha256sum '$dir/$file' | cut -d' ' -f1)\" '$dir/$file.manifest.json'"
dt_daemon_term slow
dt_expect "SIGTERM stops the daemon (exit 0)" "$DT_RC" 0

# --- a stall beyond jobs.export.io_timeout_seconds ------------------------------------------------
dir2="$DT_WORK/hung-exports"
mkdir -p "$dir2"
dt_config "$LK_CONFIG" "jobs.export.directory=\"$DT_WORK/exports\"" jobs.export.io_timeout_seconds=3
ledger=$(q "SELECT count(*) FROM outreach.disclosure")
start=$SECONDS
SLOW_FSYNC_DIR="$dir2" SLOW_FSYNC_SECONDS=30 LD_PRELOAD="$DT_WORK/slow_io.so" lk_export "$dir2" --recipient hesa
took=$((SECONDS - start))
dt_expect "fsync held 30 s, io_timeout_seconds = 3: run-once export exits 1 within 12 s (not after the stall)" \
  "$LK_RC:$((took < 12))" "1:1"
if grep -qE "export of hesa failed \(export [0-9]+ abandoned, ledger unchanged\): fsync of the export file did not finish within 3 s" "$DT_WORK/last.err"; then
  dt_ok "the error names the step and the timeout: $(grep -o 'fsync of the export file did not finish[^;]*' "$DT_WORK/last.err" | head -1)"
else
  dt_fail "unexpected error: $(tail -2 "$DT_WORK/last.err" | tr '\n' ' ')"
fi
dt_expect "the export is abandoned with that error, the ledger unchanged" \
  "$(q "SELECT status || ' ' || (error LIKE '%did not finish within 3 s%') FROM outreach.export ORDER BY export_id DESC LIMIT 1") $(q "SELECT count(*) FROM outreach.disclosure")" \
  "abandoned true $ledger"
dt_check "nothing visible is left in the directory" [ -z "$(lk_visible "$dir2")" ]
lk_export "$dir2" --recipient hesa
dt_expect "the next run, the disk well again, writes the export (exit 0, file and manifest)" \
  "$LK_RC $(lk_visible "$dir2" | wc -l)" "0 2"
exit 0
