#!/usr/bin/env bash
# 0.6.0 moves the outcome facts from one row each (outreach.outcome, a table until 0.5.0) into
# blocks (outreach.outcome_block; outreach.outcome becomes a view). An upgrade from 0.4.0 and
# from 0.5.0 with facts held must show the same facts afterwards, each block's in key order
# (the import merges with a block by walking it in that order).
# Uses the running cluster from scripts/test (PGHOST/PGPORT/PGUSER). Prints ok/FAILED lines.
set -uo pipefail
failed=0
q() { psql -X -At -v ON_ERROR_STOP=1 -d outcome_migration "$@"; }
expect() {  # expect WHAT GOT WANT
  if [ "$2" = "$3" ]; then echo "ok $1"; else echo "FAILED $1: got '$2', want '$3'"; failed=1; fi
}

# Facts chosen to be sorted differently by byte order and by a linguistic collation (B < a),
# across members, recipients and blocks of 65536 ids, with NULL values and provider names.
facts="INSERT INTO outreach.outcome (controller_id, participant_id, recipient, outcome, academic_year, measure,
                                    provider_ukprn, provider_name, value, import_id, line_no, updated_at)
VALUES (2, 70001, 'dfe', 'ks4', 2023, 'attainment8', 0, NULL, '47', 1, 2, '2025-01-01 10:00+00'),
       (2, 70001, 'dfe', 'ks4', 2023, 'Basics', 0, NULL, '1', 1, 3, '2025-01-01 10:00+00'),
       (2, 5, 'dfe', 'ks4', 2023, 'attainment8', 0, NULL, '30', 1, 4, '2025-01-01 10:00+00'),
       (2, 5, 'hesa', 'he_entry', 2025, '', 10007774, 'University of Oxford', NULL, 2, 2, '2025-02-01 10:00+00'),
       (2, 5, 'hesa', 'continuation', 2025, '', 10007774, NULL, 'continuing', 2, 3, '2025-02-01 10:00+00'),
       (3, 200000, 'dfe', 'ks5', 2024, 'points', 0, NULL, '120.5', 1, 5, '2025-01-01 10:00+00'),
       (3, 1, 'ucas', 'he_application', 2024, '', 0, 'Some College', 'offer', 3, 9, '2025-03-01 10:00+00')"
listing="SELECT controller_id, participant_id, recipient, outcome, academic_year, measure, provider_ukprn,
                coalesce(provider_name, '<null>'), coalesce(value, '<null>'), import_id, line_no, updated_at
         FROM outreach.outcome ORDER BY controller_id, participant_id, recipient, outcome, academic_year,
                                        measure COLLATE \"C\", provider_ukprn"

for from in 0.4.0 0.5.0; do
  psql -X -q -c "DROP DATABASE IF EXISTS outcome_migration" -c "CREATE DATABASE outcome_migration" 2>/dev/null
  q -q -c "CREATE EXTENSION outreach VERSION '$from'"
  q -q -c "$facts"
  before=$(q -c "$listing")
  expect "$from: the facts are held before the upgrade" "$(echo "$before" | grep -c .)" 7
  q -q -c "ALTER EXTENSION outreach UPDATE"
  expect "$from -> $(q -c "SELECT extversion FROM pg_extension WHERE extname = 'outreach'"): outreach.outcome shows the same facts" \
    "$(q -c "$listing")" "$before"
  expect "$from: facts in blocks of 65536 ids, each block in key order (byte order)" \
    "$(q -c "SELECT count(*) || ' blocks, ' || bool_and(k.ok) FROM outreach.outcome_block b
             CROSS JOIN LATERAL (SELECT bool_and(u.p >> 16 = b.block)
                                        AND array_agg(ROW(u.p, u.o COLLATE \"C\", u.y, u.m COLLATE \"C\", u.k)::text ORDER BY u.n)
                                          = array_agg(ROW(u.p, u.o COLLATE \"C\", u.y, u.m COLLATE \"C\", u.k)::text
                                                      ORDER BY u.p, u.o COLLATE \"C\", u.y, u.m COLLATE \"C\", u.k) AS ok
                                 FROM unnest(b.participant_ids, b.outcomes, b.academic_years, b.measures, b.provider_ukprns)
                                   WITH ORDINALITY AS u(p, o, y, m, k, n)) AS k")" \
    "5 blocks, true"
  expect "$from: the old table is gone from the extension and from what pg_dump copies" \
    "$(q -c "SELECT count(*) FROM pg_extension e, unnest(e.extconfig) AS c(oid)
             WHERE e.extname = 'outreach' AND c.oid NOT IN (SELECT oid FROM pg_class)")|$(q -c "SELECT relkind FROM pg_class WHERE oid = 'outreach.outcome'::regclass")" \
    "0|v"
done
psql -X -q -c "DROP DATABASE outcome_migration"
exit $failed
