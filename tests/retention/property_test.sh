#!/usr/bin/env bash
# Runs property_test.py (the retention rules, sweeps, notices and concurrent sweeps checked against
# an independent model) with Debian's Python, which has python3-psycopg2; the python3 on PATH may
# be another interpreter without it. Uses the cluster in PGHOST/PGPORT/PGUSER (a superuser).
set -uo pipefail
: "${PGPORT:?run against the test cluster (source scripts/lib/cluster.sh; cluster_start NAME PORT)}"
exec "${RETENTION_PYTHON:-/usr/bin/python3}" "$(dirname "${BASH_SOURCE[0]}")/property_test.py" "$@"
