#!/usr/bin/env bash
# The pg_regress suites (and the upgrade checks) against PostgreSQL 15 built with assertions
# (--enable-cassert: Assert(), freed memory clobbered, memory context checks), from Debian's
# source package (the installed version's when the archive has its source). Prints "ok ..." /
# "FAILED ..." lines, as scripts/test's run_checks expects, and "# time ..." lines. Idempotent:
#   - PostgreSQL is built and installed into $CASSERT_PREFIX (default /opt/pg15-cassert) only
#     when $CASSERT_PREFIX/bin/pg_config is missing or was not configured with --enable-cassert
#     (about ten minutes on 2 busy cores; root is needed then, for apt-get and the install);
#   - the extension is built from a copy of this tree (objects built against the assertion
#     headers never mix with a normal build's) and installed into $CASSERT_PREFIX;
#   - a throwaway cluster "cassert" on $OUTREACH_TEST_PORT (default 55831) runs the suites, the
#     upgrade checks and import_error_probe.sql (an error inside the outcome import's executor
#     callback must reach the client intact); the server log is then searched for failed
#     assertions (TRAP:) and crashed backends. See docs/decisions.md, "Assertion-enabled
#     PostgreSQL (0.7.0)".
# Environment: CASSERT_PREFIX, CASSERT_SRC (default /var/tmp/pg15-src: the source package and
# the build), OUTREACH_RUN_ROOT (default /var/tmp/pgo-cassert), OUTREACH_TEST_PORT, JOBS (2).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
CASSERT_PREFIX=${CASSERT_PREFIX:-/opt/pg15-cassert}
CASSERT_SRC=${CASSERT_SRC:-/var/tmp/pg15-src}
export OUTREACH_RUN_ROOT=${OUTREACH_RUN_ROOT:-/var/tmp/pgo-cassert}
export OUTREACH_TEST_PORT=${OUTREACH_TEST_PORT:-55831}
JOBS=${JOBS:-2}
failed=0

timed() {  # timed LABEL LOG COMMAND...: runs the command (output to LOG), prints its duration
  local label=$1 log=$2 start rc; shift 2
  start=$(date +%s)
  "$@" >>"$log" 2>&1
  rc=$?
  echo "# time $label: $(( $(date +%s) - start )) s"
  [ "$rc" = 0 ] || { tail -30 "$log"; echo "FAILED cassert: $label (log: $log)"; }
  return "$rc"
}

has_cassert_build() {
  [ -x "$CASSERT_PREFIX/bin/pg_config" ] && "$CASSERT_PREFIX/bin/pg_config" --configure | grep -q -- '--enable-cassert'
}

# --- 1. PostgreSQL with assertions -------------------------------------------------------------
add_deb_src() {  # a deb-src entry for each Debian suite apt already uses, when there is none
  grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/ && return 0
  cat > /etc/apt/sources.list.d/pg-outreach-deb-src.sources <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  apt-get update -qq
}

fetch_source() {
  # The version of the server installed here (same minor release, same expected output) when the
  # archive still has its source, else the newest source it has (a mirror may carry a security
  # update's binaries without its source).
  local version upstream=
  mkdir -p "$CASSERT_SRC" && cd "$CASSERT_SRC" || return 1
  add_deb_src || return 1
  for version in $(dpkg-query -W -f='${Version}' postgresql-15 2>/dev/null) \
                 $(apt-cache showsrc postgresql-15 | sed -n 's/^Version: //p' | sort -rV); do
    if [ -f "postgresql-15_${version%%-*}.orig.tar.bz2" ] ||
       apt-get source -q --download-only "postgresql-15=$version"; then
      upstream=${version%%-*}; break
    fi
  done
  [ -n "$upstream" ] || { echo "no source package of postgresql-15 could be fetched"; return 1; }
  echo "source: postgresql-15 $version (server installed: $(dpkg-query -W -f='${Version}' postgresql-15 2>/dev/null || echo none))"
  # Upstream's tarball from the source package, without Debian's patches: its
  # 50-per-version-dirs.patch puts the libraries in /usr/lib/postgresql/15/lib whatever the
  # prefix, so "make install" would overwrite the system server's. The tarball carries the
  # generated parsers, so neither bison nor flex is needed.
  rm -rf upstream && mkdir upstream && tar -xjf "postgresql-15_${upstream}.orig.tar.bz2" -C upstream &&
    ln -sfn "upstream/postgresql-${upstream}" source
}

build_deps() {
  local p missing=()
  for p in gcc g++ make pkg-config libreadline-dev zlib1g-dev libssl-dev liblz4-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

build_postgres() {
  local log="$CASSERT_SRC/build.log"
  if [ "$(id -u)" != 0 ]; then
    echo "FAILED cassert: $CASSERT_PREFIX has no assertion-enabled PostgreSQL, and building one needs root"
    return 1
  fi
  mkdir -p "$CASSERT_SRC" && : > "$log"
  timed "fetch the source package" "$log" fetch_source || return 1
  timed "install the build dependencies" "$log" build_deps || return 1
  rm -rf "$CASSERT_SRC/build" && mkdir -p "$CASSERT_SRC/build" && cd "$CASSERT_SRC/build" || return 1
  # (configure given the real path: through a symbolic link it would not lay out the build tree)
  timed "configure" "$log" nice -n 10 "$(readlink -f ../source)/configure" --enable-cassert --enable-debug --prefix="$CASSERT_PREFIX" \
    --without-icu --without-llvm --with-openssl --with-lz4 || return 1
  timed "build (make -j$JOBS)" "$log" nice -n 10 make -j"$JOBS" -s || return 1
  timed "install" "$log" make -s install || return 1
  has_cassert_build
}

if has_cassert_build; then
  echo "ok cassert: $CASSERT_PREFIX is PostgreSQL $("$CASSERT_PREFIX/bin/pg_config" --version | cut -d' ' -f2) with --enable-cassert (not rebuilt)"
elif (build_postgres); then
  echo "ok cassert: PostgreSQL built with --enable-cassert into $CASSERT_PREFIX"
else
  exit 1
fi

# --- 2. The extension, built against it, and the suites ------------------------------------------
export PG_CONFIG="$CASSERT_PREFIX/bin/pg_config"
source "$repo/scripts/lib/common.sh"
source "$repo/scripts/lib/cluster.sh"
mkdir -p "$OUTREACH_RUN_ROOT"
logs="$OUTREACH_RUN_ROOT/logs"
rm -rf "$logs" && mkdir -p "$logs"

# A fresh copy of the tree (as it is, uncommitted changes included); the daemon's CMake build
# directory is kept beside it, so only what changed is rebuilt.
copy="$OUTREACH_RUN_ROOT/src"
rm -rf "$copy" && mkdir -p "$copy"
(cd "$repo" && tar --exclude=./.git --exclude=./build --exclude=./results --exclude='*.o' --exclude='*.so' \
   --exclude='./regression.*' --exclude='./extension/outreach--*.sql' --exclude=./extension/.sql-stamp \
   --exclude=./tests/clients/node/node_modules -cf - .) | tar -xf - -C "$copy"
build_extension() {
  cd "$copy" && make -j"$JOBS" PG_CONFIG="$PG_CONFIG" OUTREACHD_BUILD="$OUTREACH_RUN_ROOT/outreachd-build" &&
    make install PG_CONFIG="$PG_CONFIG" OUTREACHD_BUILD="$OUTREACH_RUN_ROOT/outreachd-build"
}
if timed "extension build and install" "$logs/build.log" build_extension; then
  echo "ok cassert: the extension builds and installs against $CASSERT_PREFIX"
else
  exit 1
fi

# The server must be able to read its own installation (a umask of 077 at install time would
# leave it unreadable to postgres).
if ! runuser -u postgres -- test -r "$($PG_CONFIG --pkglibdir)/outreach.so" 2>/dev/null && [ "$(id -u)" = 0 ]; then
  chmod -R a+rX "$CASSERT_PREFIX"
fi

trap 'cluster_stop' EXIT
cluster_start cassert "$OUTREACH_TEST_PORT" || { echo "FAILED cassert: the cluster does not start"; exit 1; }
server_log="$CLUSTER_DIR/log/postgresql.log"

start=$(date +%s)
(cd "$copy" && make installcheck PG_CONFIG="$PG_CONFIG") >"$logs/regress.log" 2>&1
echo "# time pg_regress suites: $(( $(date +%s) - start )) s"
# One line per suite: "test NAME ... ok|FAILED|failed (ignored)".
while read -r name result; do
  if [ "$result" = ok ]; then echo "ok pg_regress: $name"
  else echo "FAILED pg_regress: $name ($result)"; failed=1; fi
done < <(sed -nE 's/^(test )? *([A-Za-z0-9_]+) +\.\.\. +(ok|FAILED|failed)( .*)?$/\2 \3/p' "$logs/regress.log")
grep -qE '^test |\.\.\. ' "$logs/regress.log" || { tail -20 "$logs/regress.log"; echo "FAILED pg_regress: no suite ran"; failed=1; }
[ -f "$copy/regression.diffs" ] && cp "$copy/regression.diffs" "$logs/" && head -80 "$copy/regression.diffs"

for check in upgrade/upgrade_matches_install.sh upgrade/outcome_migration.sh; do
  start=$(date +%s)
  bash "$repo/tests/$check" || failed=1
  echo "# time $check: $(( $(date +%s) - start )) s"
done

# An error inside the outcome import's executor callback must reach the client intact (issue
# 12, class 6): only a server that clobbers freed memory shows it reliably. The set-up is
# sql/85_linkage.sql up to its damaged-block test, in a database of its own.
probe_db=cassert_probe
marker='^-- A damaged block (arrays of different lengths'
if ! grep -q "$marker" "$repo/sql/85_linkage.sql"; then
  echo "FAILED cassert: import error probe: sql/85_linkage.sql no longer has the line it is cut at ($marker)"; failed=1
else
  psql -X -q -c "DROP DATABASE IF EXISTS $probe_db" -c "CREATE DATABASE $probe_db" >/dev/null 2>&1
  psql -X -q -d "$probe_db" -f "$repo/sql/00_setup.sql" >"$logs/probe-setup.out" 2>&1
  { sed "/$marker/,\$d" "$repo/sql/85_linkage.sql"; cat "$here/import_error_probe.sql"; } >"$logs/probe.sql"
  psql -X -q -A -t -d "$probe_db" -f "$logs/probe.sql" >"$logs/probe.out" 2>&1
  got=$(sed -n '/^PROBE$/,$p' "$logs/probe.out" | sed -n 2p)
  want='53400: temporary file size exceeds temp_file_limit (64kB)'
  if [ "$got" = "$want" ]; then
    echo "ok cassert: an error inside the outcome import's executor callback reaches the client intact ($want)"
  else
    echo "FAILED cassert: an error inside the outcome import's executor callback reaches the client as '$(printf '%s' "$got" | cat -v | cut -c1-60)', not '$want' (log: $logs/probe.out)"
    failed=1
  fi
  psql -X -q -c "DROP DATABASE IF EXISTS $probe_db" >/dev/null 2>&1
fi

# What only an assertion-enabled server notices: a failed Assert() (the backend aborts after
# writing "TRAP: ..." to the log) or any other backend crash.
cluster_stop
cp "$server_log" "$logs/postgresql.log"
if grep -q 'TRAP:' "$server_log"; then
  echo "FAILED cassert: a failed assertion in the server (log: $logs/postgresql.log):"
  grep -A2 'TRAP:' "$server_log" | head -20; failed=1
else
  echo "ok cassert: no failed assertion (TRAP:) in the server log"
fi
if grep -qE 'terminated by signal|was terminated by exception' "$server_log"; then
  echo "FAILED cassert: a backend crashed (log: $logs/postgresql.log):"
  grep -E -B2 'terminated by signal|was terminated by exception' "$server_log" | head -20; failed=1
else
  echo "ok cassert: no backend crashed"
fi
exit $failed
