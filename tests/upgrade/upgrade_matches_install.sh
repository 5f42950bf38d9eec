#!/usr/bin/env bash
# An upgrade must leave exactly what a fresh install creates: for each released version V,
# CREATE EXTENSION outreach VERSION 'V' then ALTER EXTENSION outreach UPDATE, and compare the
# whole catalogue of the extension (tests/upgrade/catalog.sql) with a fresh CREATE EXTENSION.
# Uses the running cluster from scripts/test (PGHOST/PGPORT/PGUSER). Prints ok/FAILED lines.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
sharedir=$(${PG_CONFIG:-pg_config} --sharedir)/extension
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0

psql -X -q -c "DROP DATABASE IF EXISTS upgrade_fresh" -c "CREATE DATABASE upgrade_fresh" 2>/dev/null
psql -X -q -d upgrade_fresh -c "CREATE EXTENSION outreach"
psql -X -q -d upgrade_fresh -f "$here/catalog.sql" > "$work/fresh.txt"
latest=$(sed -n '1s/^version|//p' "$work/fresh.txt")
[ -n "$latest" ] || { echo "FAILED upgrade: no fresh install to compare with (is the server running?)"; exit 1; }

# Every earlier version is a starting point (PostgreSQL installs it from the first version's
# script and the deltas when it has no full script of its own).
versions=$(ls "$sharedir" | sed -n 's/^outreach--\([0-9.]*\)\(--[0-9.]*\)\{0,1\}\.sql$/\1/p' | sort -uV)
for v in $versions; do
  [ "$v" != "$latest" ] || continue
  psql -X -q -c "DROP DATABASE IF EXISTS upgrade_from" -c "CREATE DATABASE upgrade_from" 2>/dev/null
  if ! psql -X -q -v ON_ERROR_STOP=1 -d upgrade_from -c "CREATE EXTENSION outreach VERSION '$v'" \
         -c "ALTER EXTENSION outreach UPDATE" > "$work/update.log" 2>&1; then
    echo "FAILED upgrade: $v -> $latest: the update stopped:"; tail -5 "$work/update.log"; failed=1
  fi
  psql -X -q -d upgrade_from -f "$here/catalog.sql" > "$work/upgraded.txt"
  if diff -u "$work/fresh.txt" "$work/upgraded.txt" > "$work/diff.txt"; then
    echo "ok upgrade: $v -> $latest leaves the same catalogue as a fresh install"
  else
    echo "FAILED upgrade: $v -> $latest differs from a fresh install:"; head -40 "$work/diff.txt"; failed=1
  fi
  psql -X -q -c "DROP DATABASE upgrade_from"
done
psql -X -q -c "DROP DATABASE upgrade_fresh"
exit $failed
