# Shared by scripts/demo, scripts/test and bench/: where things are, and the build.
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
export PATH="$($PG_CONFIG --bindir):$PATH"
JOBS=${JOBS:-$(nproc)}

# make && make install, as a DBA would (quietly; the log is shown on failure).
build_and_install_extension() {
  local log=$1
  (cd "$REPO_ROOT" && make -j"$JOBS" PG_CONFIG="$PG_CONFIG" && make install PG_CONFIG="$PG_CONFIG") >"$log" 2>&1 || {
    tail -40 "$log"; return 1; }
}
