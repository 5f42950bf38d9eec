#!/usr/bin/env bash
# The Debian packages end to end (issue 19), as a DBA meets them: scripts/package builds them;
# `apt-get install ./*.deb` installs them; a fresh cluster creates the extension from the
# packaged files; the packaged daemon, configured only through its conffile, passes the unit's
# ExecStartPre check, runs (under systemd when systemd is PID 1, else as the service user by
# hand) and sweeps; a broken configuration fails that check with file:line; `apt-get purge`
# leaves nothing but the data. Run last by scripts/test: the purge removes what `make install`
# put in the same places. Prints "ok ..." / "FAILED ..." lines; needs root.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/common.sh"
source "$REPO_ROOT/scripts/lib/cluster.sh"
failed=0
ok() { echo "ok package: $1"; }
fail() { echo "FAILED package: $1"; failed=1; }
[ "$(id -u)" = 0 ] || { echo "FAILED package: needs root (apt-get install, a system user)"; exit 1; }
work="$OUTREACH_RUN_ROOT/package"
rm -rf "$work"; mkdir -p "$work"
unit=/lib/systemd/system/outreachd.service
conf=/etc/outreachd/outreachd.toml
trap 'cluster_stop' EXIT
daemon_process() {  # the pid of the running /usr/bin/outreachd (procps is not on a bare machine)
  local d
  for d in /proc/[0-9]*; do
    [ "$(readlink "$d/exe" 2>/dev/null)" = /usr/bin/outreachd ] && { echo "${d#/proc/}"; return; }
  done
}

# 1. Build, install.
if "$REPO_ROOT/scripts/package" >"$work/package.log" 2>&1; then ok "scripts/package builds the packages"
else fail "scripts/package: $(tail -5 "$work/package.log")"; exit 1; fi
debs=$(ls "$REPO_ROOT"/build/deb/postgresql-15-outreach_*.deb "$REPO_ROOT"/build/deb/outreachd_*.deb)
if DEBIAN_FRONTEND=noninteractive apt-get install -y -q $debs >"$work/install.log" 2>&1; then
  ok "apt-get install ./postgresql-15-outreach_*.deb ./outreachd_*.deb"
else fail "apt-get install: $(tail -5 "$work/install.log")"; exit 1; fi
[ "$(dpkg -S /usr/lib/postgresql/15/lib/outreach.so 2>/dev/null | cut -d: -f1)" = postgresql-15-outreach ] &&
  [ "$(dpkg -S /usr/share/postgresql/15/extension/outreach.control 2>/dev/null | cut -d: -f1)" = postgresql-15-outreach ] &&
  ok "the library and control file belong to postgresql-15-outreach" || fail "package ownership of the extension's files"
version=$(sed -nE "s/^default_version = '(.*)'/\1/p" "$REPO_ROOT/extension/outreach.control")
[ "$(/usr/bin/outreachd --version 2>&1)" = "outreachd $version" ] && ok "/usr/bin/outreachd --version: $version" ||
  fail "outreachd --version: $(/usr/bin/outreachd --version 2>&1)"
getent passwd outreachd >/dev/null && ok "the system user outreachd exists" || fail "no outreachd user"
dpkg-query -W -f='${Conffiles}\n' outreachd | grep -q " $conf " && ok "$conf is a conffile" || fail "$conf is not a conffile"
[ "$(stat -c '%U:%G %a' "$conf")" = "root:outreachd 640" ] && ok "$conf is root:outreachd 0640" ||
  fail "$conf is $(stat -c '%U:%G %a' "$conf")"
grep -q '^#' "$conf" && ok "the configuration is commented" || fail "$conf has no comments"
pre=$(sed -n 's/^ExecStartPre=//p' "$unit"); start=$(sed -n 's/^ExecStart=//p' "$unit")
[ "$pre" = "/usr/bin/outreachd --config $conf --check-config" ] && ok "the unit checks the configuration before every start" ||
  fail "ExecStartPre: $pre"

# 2. The extension from the packaged files, in a fresh cluster.
cluster_start package "${OUTREACH_PACKAGE_PORT:-55434}" >/dev/null || { fail "start a cluster"; exit 1; }
psql -X -q -c "CREATE DATABASE pkg" && psql -X -qAt -d pkg -c "CREATE EXTENSION outreach" >/dev/null &&
  [ "$(psql -X -qAt -d pkg -c "SELECT extversion FROM pg_extension WHERE extname = 'outreach'")" = "$version" ] &&
  ok "CREATE EXTENSION outreach from the package ($version)" || fail "CREATE EXTENSION from the package"
# A server without the key file: the packaged library says so as the source build does.
psql -X -q -c "ALTER SYSTEM SET outreach.key_file = ''" -c "SELECT pg_reload_conf()" >/dev/null; sleep 0.5
out=$(psql -X -qAt -d pkg -c "SELECT outreach.pseudonymise('a', 'b', '2000-01-01', 'SW1A 1AA')" 2>&1)
grep -q "ERROR:  outreach.key_file is not set" <<<"$out" && ok "without a key file: \"outreach.key_file is not set\" with its hint" ||
  fail "without a key file: $out"
psql -X -q -c "ALTER SYSTEM RESET outreach.key_file" -c "SELECT pg_reload_conf()" >/dev/null; sleep 0.5
psql -X -q -d pkg -c "CREATE ROLE outreachd LOGIN IN ROLE outreach_daemon" -c "SELECT outreach.create_controller('pkg_a', 'Package A')" >/dev/null

# 3. The daemon, configured through its conffile as the README says.
http_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cp "$conf" "$work/outreachd.toml.orig"
sed -i -e "s|^conninfo = \"\"|conninfo = \"host=$PGHOST port=$PGPORT dbname=pkg user=outreachd\"|" \
       -e "s|^listen = \"127.0.0.1:9187\"|listen = \"127.0.0.1:$http_port\"|" "$conf"
if runuser -u outreachd -- $pre >"$work/check.log" 2>&1; then ok "ExecStartPre's check passes on the configured conffile"
else fail "ExecStartPre: $(cat "$work/check.log")"; fi
if [ "$(cat /proc/1/comm)" = systemd ]; then
  systemctl daemon-reload; systemctl start outreachd
  sleep 2; systemctl is-active --quiet outreachd && ok "systemctl start outreachd" || fail "outreachd under systemd: $(journalctl -u outreachd -n 5 --no-pager)"
else
  runuser -u outreachd -- $start >"$work/daemon.log" 2>&1 &
  daemon_pid=$!
  for _ in $(seq 50); do curl_ok=$(python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$http_port/healthz', timeout=1).status)" 2>/dev/null) && break; sleep 0.2; done
  [ "${curl_ok:-}" = 200 ] && ok "the packaged daemon runs as the outreachd user (no systemd here), /healthz answers 200" ||
    fail "the packaged daemon: $(tail -3 "$work/daemon.log")"
  daemon_real=$(daemon_process)
  [ -n "$daemon_real" ] && [ "$(stat -c %U "/proc/$daemon_real")" = outreachd ] || fail "the daemon does not run as outreachd"
fi
if runuser -u outreachd -- /usr/bin/outreachd --config "$conf" run-once sweep >"$work/sweep.log" 2>&1 &&
   [ "$(psql -X -qAt -d pkg -c "SELECT count(*) FROM outreach.job_run WHERE job = 'sweep' AND status = 'succeeded'")" -ge 1 ]; then
  ok "the packaged daemon sweeps (a sweep succeeded in outreach.job_run)"
else fail "run-once sweep: $(tail -3 "$work/sweep.log")"; fi
if [ "$(cat /proc/1/comm)" = systemd ]; then systemctl stop outreachd
else
  kill -TERM "$(daemon_process)"
  wait "$daemon_pid" && ok "SIGTERM stops the daemon with exit 0" || fail "the daemon's exit after SIGTERM: $(tail -2 "$work/daemon.log")"
fi

# A broken configuration stops the start at the check, with file:line: key.
sed -i '0,/^batch_size = 10000/s//batch_size = 0/' "$conf"   # the sweep's batch size, out of range
out=$(runuser -u outreachd -- $pre 2>&1); rc=$?
[ "$rc" = 2 ] && grep -Eq "$conf:[0-9]+: jobs.sweep.batch_size" <<<"$out" && ok "a broken configuration fails ExecStartPre (exit 2): $(head -1 <<<"$out")" ||
  fail "broken configuration: exit $rc, $out"
if [ "$(cat /proc/1/comm)" = systemd ]; then
  systemctl start outreachd 2>/dev/null && fail "systemd started outreachd with a broken configuration"
  journalctl -u outreachd -n 20 --no-pager | grep -q "$conf:" && ok "the journal names file:line" || fail "the journal lacks file:line"
fi
cp "$work/outreachd.toml.orig" "$conf"

# 4. Purge: nothing left but the data.
cluster_stop
mkdir -p /var/lib/outreach/exports; echo "a member's export" > /var/lib/outreach/exports/keep.csv
if DEBIAN_FRONTEND=noninteractive apt-get purge -y -q postgresql-15-outreach outreachd >"$work/purge.log" 2>&1; then
  ok "apt-get purge postgresql-15-outreach outreachd"
else fail "apt-get purge: $(tail -5 "$work/purge.log")"; fi
left=""
for f in /usr/bin/outreachd /usr/lib/postgresql/15/lib/outreach.so /usr/share/postgresql/15/extension/outreach.control \
         /usr/share/postgresql/15/extension/outreach--$version.sql /etc/outreachd "$unit" /usr/share/doc/outreachd; do
  [ -e "$f" ] && left="$left $f"
done
[ -z "$left" ] && ok "the packages' files are gone" || fail "left after purge:$left"
getent passwd outreachd >/dev/null && fail "the outreachd user is left" || ok "the outreachd user is gone"
[ -f /var/lib/outreach/exports/keep.csv ] && ok "the data in /var/lib/outreach stays" || fail "purge removed the data"
rm -rf /var/lib/outreach "$work"
exit $failed
