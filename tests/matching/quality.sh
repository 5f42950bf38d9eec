#!/usr/bin/env bash
# Runs quality.py (duplicate matching on a synthetic population, docs/matching.md) with Debian's
# Python (python3-psycopg2). Uses the cluster in PGHOST/PGPORT/PGUSER (a superuser).
set -uo pipefail
: "${PGPORT:?run against the test cluster (source scripts/lib/cluster.sh; cluster_start NAME PORT)}"
exec /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/quality.py" "$@"
