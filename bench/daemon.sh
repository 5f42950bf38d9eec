#!/usr/bin/env bash
# outreachd at scale: what the daemon costs during a sweep of a large database, and how soon a
# member hears of a notice. Measured in one run, in a throwaway cluster, during one sweep:
#
#   daemon_peak_rss_mb             the larger peak resident set (VmHWM / getrusage maxrss) of the
#                                  two daemon processes below, in MB; goal < 30.
#   daemon_cpu_fraction_of_server  CPU time of both daemon processes (all threads) / CPU time of
#                                  the PostgreSQL backends serving them, from the sweep's start
#                                  until its last notice is delivered; goal <= 0.05 ("a small
#                                  fraction"). The fraction of all the cluster's processes is
#                                  shown beside it. (/proc/PID/task/*/schedstat, nanoseconds.)
#   notice_latency_median_s        for every notice delivery: the time the webhook receiver got
#                                  it - the commit time of the sweep batch that created it
#                                  (track_commit_timestamp; a bench trigger notes each
#                                  delivery's transaction id); median, goal <= 1 s. Also p90 and
#                                  max, and notice_latency_median_vs_1s = median / 1 s.
#
# Two daemons, as a deployment has them: a running `outreachd --config F` (LISTEN, notify
# enabled, its own sweep disabled) delivering to a local webhook receiver (one channel per
# member), and `outreachd run-once sweep --as-of 2025-09-01` doing the sweep; the sampler starts
# the latter and polls /proc every 50 ms.
#
#   bash bench/daemon.sh                                  10,000,000 participants (about 5 minutes)
#   BENCH_PARTICIPANTS=1000000 bash bench/daemon.sh        a quick run (about 20 s)
#
# The data is bench/retention.sh's (bench/retention/load.sql): BENCH_CONTROLLERS (100) members,
# one attendance per participant, the first tenth of the participants due at 2025-09-01 (one
# batch of 10,000 per member at the default size, so one notice per batch).
# Environment: BENCH_PARTICIPANTS (10000000), BENCH_CONTROLLERS (100), BENCH_BATCH (10000),
# BENCH_PORT (55481), BENCH_SINK_PORT (55482). Not part of scripts/test.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"
source "$REPO_ROOT/scripts/lib/cluster.sh"
source "$REPO_ROOT/bench/lib/conditions.sh"
bench_conditions_start

participants=${BENCH_PARTICIPANTS:-10000000}
controllers=${BENCH_CONTROLLERS:-100}
batch=${BENCH_BATCH:-10000}
port=${BENCH_PORT:-55481}
sink_port=${BENCH_SINK_PORT:-55482}
as_of=2025-09-01
due=$((participants / 10))          # ids 1 .. due are due at as_of (see bench/retention/load.sql)
outreachd="$PG_BIN/outreachd"
[ -x "$outreachd" ] || { echo "daemon: $outreachd not installed (make && make install)" >&2; exit 1; }

sink_pid=""; daemon_pid=""
stop_pid() {  # SIGTERM, then SIGKILL after 15 s
  local pid=$1 i
  kill "$pid" 2>/dev/null || return 0
  for i in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local pid
  for pid in $daemon_pid $sink_pid; do stop_pid "$pid"; done
  cluster_stop
}
trap cleanup EXIT
cluster_start benchd "$port"
work="$OUTREACH_CLUSTER_DIR/work"
# Commit timestamps: the moment a sweep batch's notices became visible.
psql -X -q -c "ALTER SYSTEM SET track_commit_timestamp = on" >/dev/null
as_owner "$PG_BIN/pg_ctl" -D "$OUTREACH_CLUSTER_DIR/data" -l "$OUTREACH_CLUSTER_DIR/log/postgresql.log" -w -t 60 restart >/dev/null
psql -X -q -c "CREATE DATABASE bench"
export PGDATABASE=bench
psql -X -q -c "CREATE EXTENSION outreach"

script_start=$(date +%s)
say() { echo "[$(( $(date +%s) - script_start )) s] $*" >&2; }
q() { psql -X -At -v ON_ERROR_STOP=1 "$@"; }
check() {  # check WHAT ACTUAL EXPECTED
  [ "$2" = "$3" ] || { say "daemon: $1 is $2, expected $3"; exit 1; }
}
goal() {  # goal NAME VALUE OP LIMIT UNIT
  awk -v n="$1" -v v="$2" -v o="$3" -v l="$4" -v u="${5:-}" \
    'BEGIN { ok = (o == "<") ? (v < l) : (v <= l); printf "# goal %s %s %s%s: %s\n", n, o, l, u, ok ? "met" : "NOT met" }'
}

say "loading $participants participants ($due due at $as_of) with one attendance each..."
psql -X -q -v controllers="$controllers" -v participants="$participants" -f "$REPO_ROOT/bench/retention/load.sql" >/dev/null
psql -X -q -c "CHECKPOINT"
say "loaded"

# --- Set-up: the daemon's role, members' webhooks, the receiver, the running daemon -----------
umask 077
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/webhook.key"
umask 022
psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE ROLE bench_daemon LOGIN IN ROLE outreach_daemon;
INSERT INTO outreach.notification_channel (controller_id, kind, target)
SELECT controller_id, 'webhook', format('http://127.0.0.1:%s/m%s', $sink_port, controller_id) FROM outreach.controller;
-- Which transaction created each delivery (the benchmark's own trigger, not the extension's).
CREATE SCHEMA bench;
CREATE TABLE bench.delivery_xact (controller_id int, delivery_id bigint, idempotency_key text, target text, xid8 xid8);
CREATE FUNCTION bench.note_delivery_xact() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
  INSERT INTO bench.delivery_xact VALUES (NEW.controller_id, NEW.delivery_id, NEW.idempotency_key, NEW.target,
                                          pg_current_xact_id());
  RETURN NULL;
END \$\$;
CREATE TRIGGER bench_note_delivery_xact AFTER INSERT ON outreach.notice_delivery
  FOR EACH ROW EXECUTE FUNCTION bench.note_delivery_xact();
CREATE TABLE bench.sink (t double precision, key text, path text, signature_ok boolean, mode text);
SQL

# The tests' receiver, with a listen backlog of a real web server's size (Python's default of 5
# drops the connections of a burst of deliveries; their SYNs are retried after 1, 3, 7 s ...).
/usr/bin/python3 - --port "$sink_port" --log "$work/sink.jsonl" --master-key-file "$work/webhook.key" \
  > "$work/sink.out" 2>&1 <<PY &
import sys
sys.path.insert(0, "$REPO_ROOT/tests/daemon")
import webhook_sink
webhook_sink.Server.request_queue_size = 512
sys.argv[0] = webhook_sink.__file__
webhook_sink.main()
PY
sink_pid=$!

conninfo="host=$PGHOST port=$port dbname=bench user=bench_daemon"
cat > "$work/daemon.toml" <<TOML
[database]
conninfo = "$conninfo"
[daemon]
name = "benchd-running"
timezone = "UTC"
[http]
listen = ""
[jobs.sweep]
enabled = false        # the sweep is the run-once below
[jobs.notify]
batch_size = 100
[webhook]
secret_file = "$work/webhook.key"
allow_private_networks = ["127.0.0.1"]   # the receiver listens on loopback
TOML
cat > "$work/sweep.toml" <<TOML
[database]
conninfo = "$conninfo"
[daemon]
name = "benchd-sweep"
timezone = "UTC"
[jobs.sweep]
batch_size = $batch
TOML
"$outreachd" --config "$work/daemon.toml" > "$work/daemon.log" 2>&1 &
daemon_pid=$!
# Ready when its listener and its notify job are connected and the start-up runs are done.
for i in $(seq 100); do
  n=$(q -c "SELECT count(*) FROM pg_stat_activity WHERE application_name IN ('outreachd listen', 'outreachd notify')")
  [ "$n" = 2 ] && break
  kill -0 "$daemon_pid" 2>/dev/null || { cat "$work/daemon.log" >&2; exit 1; }
  sleep 0.1
done
check "connections of the running daemon" "$n" 2
sleep 2

# --- The sweep, sampled ------------------------------------------------------------------------
# Starts the run-once sweep and polls /proc every 50 ms until the sweep has ended and the script
# says every notice is delivered (STOPFILE appears): the running daemon (VmRSS, VmHWM, CPU), the
# sweep process (VmRSS; its CPU and peak from wait4 at its exit) and every child of the
# postmaster (CPU; those of the daemon's role by their process title). Prints shell assignments.
cat > "$work/sampler.py" <<'PY'
import os, sys, time
postmaster, daemon, role, stopfile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
cmd = sys.argv[5:]

def stat(pid):  # (ppid, cpu seconds) or None; the CPU time to the nanosecond, of every thread
    try:
        with open(f'/proc/{pid}/stat') as f:
            s = f.read()
        f = s[s.rindex(')') + 2:].split()
        ns = 0
        for t in os.listdir(f'/proc/{pid}/task'):
            with open(f'/proc/{pid}/task/{t}/schedstat') as g:
                ns += int(g.read().split()[0])
        return int(f[1]), ns / 1e9
    except (OSError, ValueError, IndexError):
        return None

def status(pid, key):  # kB
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith(key + ':'):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0

def title(pid):
    try:
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            return f.read().replace(b'\0', b' ').decode(errors='replace')
    except OSError:
        return ''

first, last, mine = {}, {}, set()
def sample_server(initial=False):
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        pid = int(d)
        s = stat(pid)
        if not s or s[0] != postmaster:
            continue
        if pid not in first:
            first[pid] = s[1] if initial else 0.0
            if title(pid).startswith(f'postgres: {role} '):
                mine.add(pid)
        last[pid] = s[1]

sample_server(initial=True)
daemon_cpu0 = stat(daemon)[1]
daemon_hwm0 = status(daemon, 'VmHWM')
t0 = time.time()
child = os.fork()
if child == 0:
    os.execv(cmd[0], cmd)
daemon_rss_max = sweep_rss_max = 0
swept = None
while swept is None or not os.path.exists(stopfile):
    if swept is None:
        pid, st, ru = os.wait4(child, os.WNOHANG)
        if pid:
            swept = time.time()
            open(stopfile + '.swept', 'w').close()
        else:
            sweep_rss_max = max(sweep_rss_max, status(child, 'VmRSS'))
    daemon_rss_max = max(daemon_rss_max, status(daemon, 'VmRSS'))
    sample_server()
    time.sleep(0.05)
t1 = time.time()
sample_server()
daemon_cpu = stat(daemon)[1] - daemon_cpu0
server = sum(last[p] - first[p] for p in last)
backends = sum(last[p] - first[p] for p in mine)
print(f'sweep_exit={os.waitstatus_to_exitcode(st)}')
print(f'sweep_wall_s={swept - t0:.3f}')
print(f'sampled_s={t1 - t0:.3f}')
print(f'sweep_cpu_s={ru.ru_utime + ru.ru_stime:.4f}')
print(f'sweep_maxrss_kb={ru.ru_maxrss}')
print(f'sweep_rss_max_kb={sweep_rss_max}')
print(f'daemon_cpu_s={daemon_cpu:.4f}')
print(f'daemon_hwm_start_kb={daemon_hwm0}')
print(f'daemon_hwm_kb={status(daemon, "VmHWM")}')
print(f'daemon_rss_max_kb={daemon_rss_max}')
print(f'server_cpu_s={server:.3f}')
print(f'backends_cpu_s={backends:.3f}')
print(f'backends_n={len(mine)}')
PY
postmaster=$(head -1 "$OUTREACH_CLUSTER_DIR/data/postmaster.pid")
say "sweeping as of $as_of (batches of $batch) with outreachd run-once; the running daemon delivers the notices"
stopfile="$work/sampler.stop"
/usr/bin/python3 "$work/sampler.py" "$postmaster" "$daemon_pid" bench_daemon "$stopfile" \
  "$outreachd" --config "$work/sweep.toml" run-once sweep --as-of "$as_of" > "$work/sample.sh" 2> "$work/sweep.log" &
sampler_pid=$!
while [ ! -e "$stopfile.swept" ]; do
  kill -0 "$sampler_pid" 2>/dev/null || { cat "$work/sweep.log" >&2; say "daemon: the sampler died"; exit 1; }
  sleep 0.2
done
# Every delivery reaches the receiver (they are a few ms behind the last batch).
for i in $(seq 300); do
  pending=$(q -c "SELECT count(*) FROM outreach.notice_delivery WHERE status <> 'delivered'")
  [ "$pending" = 0 ] && break
  sleep 0.1
done
touch "$stopfile"
wait "$sampler_pid" || { cat "$work/sweep.log" >&2; say "daemon: the sampler failed"; exit 1; }
source "$work/sample.sh"
[ "$sweep_exit" = 0 ] || { cat "$work/sweep.log" >&2; say "daemon: run-once sweep exited with $sweep_exit"; exit 1; }
say "  swept in $sweep_wall_s s; the last notice delivered $(awk -v a="$sampled_s" -v b="$sweep_wall_s" 'BEGIN { printf "%.1f", a - b }') s later"
check "deliveries not delivered" "$pending" 0
check "rows marked by the sweep" "$(q -c "SELECT count(*) FROM outreach.participant WHERE retention_status = 'ready_for_deletion'")" "$due"
deliveries=$(q -c "SELECT count(*) FROM outreach.notice_delivery")
notices=$(q -c "SELECT count(*) FROM outreach.deletion_notice")
stop_pid "$daemon_pid"; daemon_pid=""
stop_pid "$sink_pid"; sink_pid=""

# --- Notice latency ----------------------------------------------------------------------------
/usr/bin/python3 - "$work/sink.jsonl" > "$work/sink.csv" <<'PY'
import csv, json, sys
w = csv.writer(sys.stdout)
for line in open(sys.argv[1]):
    r = json.loads(line)
    w.writerow([repr(r['t']), r['key'], r['path'], r['signature_ok'], r.get('mode')])
PY
psql -X -q -c "\\copy bench.sink FROM '$work/sink.csv' (FORMAT csv)"
check "requests the receiver got" "$(q -c "SELECT count(*) FROM bench.sink")" "$deliveries"
check "requests with a bad signature" "$(q -c "SELECT count(*) FROM bench.sink WHERE NOT signature_ok")" 0
read -r lat_n lat_median lat_p90 lat_max lat_min < <(q -F ' ' -c "
  WITH first_receipt AS (
    SELECT key, path, min(t) AS t FROM bench.sink GROUP BY key, path
  ), lat AS (
    SELECT r.t - extract(epoch FROM pg_xact_commit_timestamp((x.xid8::text::bigint % 4294967296)::text::xid)) AS s
    FROM bench.delivery_xact x
    JOIN first_receipt r ON r.key = x.idempotency_key AND x.target LIKE '%' || r.path
  )
  SELECT count(*), round(percentile_cont(0.5) WITHIN GROUP (ORDER BY s)::numeric, 3),
         round(percentile_cont(0.9) WITHIN GROUP (ORDER BY s)::numeric, 3),
         round(max(s)::numeric, 3), round(min(s)::numeric, 3)
  FROM lat")
check "deliveries with a latency" "$lat_n" "$deliveries"
read -r sweep_batches sweep_run_s < <(q -F ' ' -c "
  SELECT batches, round(extract(epoch FROM finished_at - started_at)::numeric, 1) FROM outreach.retention_run
  WHERE kind = 'sweep' ORDER BY run_id DESC LIMIT 1")
notify_runs=$(q -c "SELECT count(*) FROM outreach.job_run WHERE job = 'notify' AND rows_done > 0")

# --- Results -----------------------------------------------------------------------------------
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
peak_kb=$(( sweep_maxrss_kb > daemon_hwm_kb ? sweep_maxrss_kb : daemon_hwm_kb ))
daemons_cpu=$(awk -v a="$sweep_cpu_s" -v b="$daemon_cpu_s" 'BEGIN { printf "%.4f", a + b }')
fraction=$(awk -v a="$daemons_cpu" -v b="$backends_cpu_s" 'BEGIN { printf "%.4f", a / b }')
fraction_all=$(awk -v a="$daemons_cpu" -v b="$server_cpu_s" 'BEGIN { printf "%.4f", a / b }')
echo "# daemon: participants=$participants controllers=$controllers due=$due batch=$batch as_of=$as_of"
echo "daemon_peak_rss_mb: $(mb "$peak_kb")"
echo "# detail daemon_peak_rss_mb: run-once sweep peak $(mb "$sweep_maxrss_kb") MB (highest VmRSS sampled $(mb "$sweep_rss_max_kb") MB); running daemon VmHWM $(mb "$daemon_hwm_kb") MB ($(mb "$daemon_hwm_start_kb") MB before the sweep, highest VmRSS sampled during it $(mb "$daemon_rss_max_kb") MB)"
goal daemon_peak_rss_mb "$(mb "$peak_kb")" "<" 30 " MB"
echo "daemon_cpu_fraction_of_server: $fraction"
echo "# detail daemon_cpu_fraction_of_server: daemons $daemons_cpu s CPU (run-once sweep $sweep_cpu_s s, running daemon $daemon_cpu_s s) / $backends_cpu_s s CPU of the $backends_n backends serving them, from the sweep's start until every notice was delivered ($sampled_s s; the sweep took $sweep_wall_s s); of all the cluster's processes ($server_cpu_s s): $fraction_all"
goal daemon_cpu_fraction_of_server "$fraction" "<=" 0.05
echo "notice_latency_median_s: $lat_median"
echo "notice_latency_median_vs_1s: $(awk -v m="$lat_median" 'BEGIN { printf "%.3f", m / 1.0 }')"
echo "# detail notice latency (webhook receipt - commit of the creating sweep batch): median $lat_median s, p90 $lat_p90 s, max $lat_max s, min $lat_min s over $lat_n deliveries of $notices notices; sweep $sweep_run_s s in $sweep_batches batches, $notify_runs notify runs with deliveries"
echo "notice_latency_p90_s: $lat_p90"
goal notice_latency_median_s "$lat_median" "<=" 1 " s"
bench_conditions daemon
