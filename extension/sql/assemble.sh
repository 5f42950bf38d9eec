#!/bin/sh
# Builds the extension's install and upgrade scripts from the parts in extension/sql/<version>/.
# Each version's directory holds only what that version adds or changes, so:
#   outreach--A--B.sql  = the parts of B (for consecutive versions A, B)
#   outreach--V.sql     = the parts of every version up to V (for every version, so that an
#                         install of any version never finds a stale full script)
# A fresh install and an upgrade therefore run the same statements by construction.
# Released versions' directories are never edited; a change goes into the next version.
set -eu
here=$(dirname "$0")
out=${1:?usage: assemble.sh OUTPUT_DIR}
versions=$(ls "$here" | grep -E '^[0-9]+\.[0-9]+\.[0-9]+$' | sort -V)

parts() { ls "$here/$1"/*.sql | sort; }

prev=""
for v in $versions; do
  if [ -n "$prev" ]; then
    cat $(parts "$v") > "$out/outreach--$prev--$v.sql"
    cat "$out/outreach--$prev.sql" $(parts "$v") > "$out/outreach--$v.sql"
  else
    cat $(parts "$v") > "$out/outreach--$v.sql"
  fi
  prev=$v
done
