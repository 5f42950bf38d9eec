#!/bin/sh
# Builds the extension's install and upgrade scripts from the parts in extension/sql/<version>/.
# Each version's directory holds only what that version adds or changes, so:
#   outreach--A--B.sql  = the parts of B (for consecutive versions A, B)
#   outreach--V.sql     = the parts of every version up to V (written for the first and the latest)
# A fresh install and an upgrade therefore run the same statements by construction.
# Released versions' directories are never edited; a change goes into the next version.
set -eu
here=$(dirname "$0")
out=${1:?usage: assemble.sh OUTPUT_DIR}
versions=$(ls "$here" | grep -E '^[0-9]+\.[0-9]+\.[0-9]+$' | sort -V)
first=$(echo "$versions" | head -n 1)
latest=$(echo "$versions" | tail -n 1)

parts() { ls "$here/$1"/*.sql | sort; }

: > "$out/outreach--$latest.sql.tmp"
prev=""
for v in $versions; do
  cat $(parts "$v") >> "$out/outreach--$latest.sql.tmp"
  [ "$v" = "$first" ] && cat $(parts "$v") > "$out/outreach--$first.sql"
  [ -n "$prev" ] && cat $(parts "$v") > "$out/outreach--$prev--$v.sql"
  prev=$v
done
mv "$out/outreach--$latest.sql.tmp" "$out/outreach--$latest.sql"
