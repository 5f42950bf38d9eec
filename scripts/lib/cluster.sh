# Throwaway PostgreSQL clusters for the demo, the tests and the benchmarks. Each lives in its
# own directory under $OUTREACH_RUN_ROOT, owned by the postgres user (initdb refuses root),
# listens on a private port and socket directory, and never touches a system cluster.
# Source this file, then: cluster_start NAME PORT; ...; cluster_stop.

OUTREACH_RUN_ROOT=${OUTREACH_RUN_ROOT:-/var/tmp/pg_outreach}
PG_BIN=$(${PG_CONFIG:-pg_config} --bindir)

# Runs a command as the cluster's owner: postgres when we are root, else ourselves.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# Stops whatever cluster an earlier run left in DIR (killed run, Ctrl-C), then removes DIR.
cluster_clean() {
  local dir=$1
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

# Writes a fresh random key file (mode 0600) for the scopes given, version 1 each.
write_key_file() {
  local file=$1; shift
  : > "$file"
  chmod 600 "$file"
  local scope
  for scope in "$@"; do
    printf '%s 1 %s\n' "$scope" "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >> "$file"
  done
  [ "$(id -u)" = 0 ] && chown postgres: "$file"
  return 0
}

cluster_start() {
  local name=$1 port=$2
  CLUSTER_DIR="$OUTREACH_RUN_ROOT/$name"
  cluster_clean "$CLUSTER_DIR"
  mkdir -p "$CLUSTER_DIR"/{socket,log,keys,work}
  # Only this cluster's directory changes owner, not other runs' files beside it.
  [ "$(id -u)" = 0 ] && chown postgres: "$OUTREACH_RUN_ROOT" && chown -R postgres: "$CLUSTER_DIR"
  chmod 700 "$CLUSTER_DIR/keys"
  chmod 755 "$OUTREACH_RUN_ROOT" "$CLUSTER_DIR" "$CLUSTER_DIR/socket" "$CLUSTER_DIR/log"
  chmod 777 "$CLUSTER_DIR/work"   # scratch space both the server and the test driver write to
  write_key_file "$CLUSTER_DIR/keys/outreach.keys" linkage recipient:dfe recipient:esfa recipient:hesa recipient:ucas
  as_owner "$PG_BIN/initdb" -D "$CLUSTER_DIR/data" --encoding=UTF8 --locale=C.UTF-8 --auth=trust \
    --username=postgres >"$CLUSTER_DIR/log/initdb.log" 2>&1 || { cat "$CLUSTER_DIR/log/initdb.log"; return 1; }
  cat >> "$CLUSTER_DIR/data/postgresql.conf" <<CONF
# pg_outreach throwaway cluster
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$CLUSTER_DIR/socket'
shared_preload_libraries = 'outreach'
outreach.key_file = '$CLUSTER_DIR/keys/outreach.keys'
fsync = off
synchronous_commit = off
full_page_writes = off
# the WAL of a same-page update must not depend on the old row (docs/decisions.md, Hardening 0.7.0)
wal_level = logical
shared_buffers = 256MB
max_wal_size = 4GB
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
CONF
  # The fixed test ports lie in Linux's ephemeral range: a client connection elsewhere in the
  # suite may hold one for a moment ("Address already in use"). Try again, a few times.
  local attempt
  for attempt in 1 2 3 4 5 6; do
    as_owner "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/log/postgresql.log" -w -t 60 start >/dev/null && break
    if [ "$attempt" = 6 ] || ! grep -q "Address already in use" "$CLUSTER_DIR/log/postgresql.log"; then
      cat "$CLUSTER_DIR/log/postgresql.log"; return 1
    fi
    sleep 2
  done
  export PGHOST="$CLUSTER_DIR/socket" PGPORT="$port" PGUSER=postgres PGDATABASE=postgres
  export OUTREACH_CLUSTER_DIR="$CLUSTER_DIR"
}

cluster_stop() {
  [ -n "${CLUSTER_DIR:-}" ] && [ -f "$CLUSTER_DIR/data/postmaster.pid" ] &&
    as_owner "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/data" -m fast -w stop >/dev/null 2>&1
  return 0
}
