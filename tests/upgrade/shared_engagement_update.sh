#!/usr/bin/env bash
# 0.10.0 computes shared_engagement from outreach.shareable_participant, which the update fills
# from the participants already held. An update from 0.9.0 (where a function computed the rows)
# must show every member the same rows as before, withdrawn and restricted people still hidden,
# and the triggers must keep the table from then on.
# Uses the running cluster from scripts/test (PGHOST/PGPORT/PGUSER). Prints ok/FAILED lines.
set -uo pipefail
failed=0
db=shared_engagement_update
q() { psql -X -At -v ON_ERROR_STOP=1 -d $db "$@"; }
expect() {  # expect WHAT GOT WANT
  if [ "$2" = "$3" ]; then echo "ok $1"; else echo "FAILED $1: got '$2', want '$3'"; failed=1; fi
}
listing="SELECT string_agg(format('%s:%s<-%s %s %s', c.code, p.external_ref, s.other_controller_code, s.activity_type,
                                  s.attended_on), ', ' ORDER BY c.code, p.external_ref, s.other_controller_code, s.attended_on)
         FROM outreach.shared_engagement s
         JOIN outreach.controller c ON c.controller_id = s.controller_id
         JOIN outreach.participant p ON p.controller_id = s.controller_id AND p.participant_id = s.participant_id"

cleanup() {  # the database, and the roles create_controller made (they outlive it)
  psql -X -q -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
  psql -X -At -d postgres -c "SELECT format('DROP ROLE %I', rolname) FROM pg_roles WHERE rolname LIKE 'outreach\_upd\_%'" |
    while read -r stmt; do psql -X -q -d postgres -c "$stmt" >/dev/null 2>&1; done
}
cleanup
psql -X -q -c "CREATE DATABASE $db"
q -q >/dev/null <<'SQL' || { echo "FAILED shared_engagement update: filling 0.9.0"; exit 1; }
CREATE EXTENSION outreach VERSION '0.9.0';
SELECT outreach.create_controller('upd_a', 'Update A'), outreach.create_controller('upd_b', 'Update B'),
       outreach.create_controller('upd_c', 'Update C');
SET ROLE outreach_upd_a_writer;
INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode)
VALUES ('A-ANN', 'Ann', 'Lee', '2007-01-01', 'LS1 1UR'), ('A-BOB', 'Bob', 'Ng', '2007-02-02', 'M1 1AE'),
       ('A-CY', 'Cy', 'Oh', '2007-03-03', 'CF10 1AA');
INSERT INTO outreach.activity (activity_type, name, starts_on) VALUES ('summer_school', 'A school', '2024-07-01');
INSERT INTO outreach.attendance (participant_id, activity_id, attended_on)
SELECT p.participant_id, a.activity_id, '2024-07-01' FROM outreach.participant p, outreach.activity a;
RESET ROLE;
SET ROLE outreach_upd_b_writer;
INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode, withdrawn_at)
VALUES ('B-ANN', 'Ann', 'Lee', '2007-01-01', 'LS1 1UR', NULL), ('B-BOB', 'Bob', 'Ng', '2007-02-02', 'M1 1AE', '2024-09-01'),
       ('B-CY', 'Cy', 'Oh', '2007-03-03', 'CF10 1AA', NULL);
INSERT INTO outreach.activity (activity_type, name, starts_on) VALUES ('workshop', 'B workshop', '2024-05-01');
INSERT INTO outreach.attendance (participant_id, activity_id, attended_on)
SELECT p.participant_id, a.activity_id, '2024-05-01' FROM outreach.participant p, outreach.activity a WHERE p.external_ref <> 'B-CY';
RESET ROLE;
SET ROLE outreach_upd_c_writer;
INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode, restricted_at)
VALUES ('C-ANN', 'Ann', 'Lee', '2007-01-01', 'LS1 1UR', '2024-09-01'), ('C-CY', 'Cy', 'Oh', '2007-03-03', 'CF10 1AA', NULL);
INSERT INTO outreach.activity (activity_type, name, starts_on) VALUES ('mentoring', 'C mentoring', '2024-03-01');
INSERT INTO outreach.attendance (participant_id, activity_id, attended_on)
SELECT p.participant_id, a.activity_id, '2024-03-01' FROM outreach.participant p, outreach.activity a;
SQL
before=$(q -c "$listing")
expect "0.9.0: shared_engagement before the update" "$before" \
  "upd_a:A-ANN<-upd_b workshop 2024-05-01, upd_a:A-CY<-upd_c mentoring 2024-03-01, upd_b:B-ANN<-upd_a summer_school 2024-07-01, upd_b:B-CY<-upd_a summer_school 2024-07-01, upd_b:B-CY<-upd_c mentoring 2024-03-01, upd_c:C-CY<-upd_a summer_school 2024-07-01"
q -q -c "ALTER EXTENSION outreach UPDATE"
expect "0.9.0 -> $(q -c "SELECT extversion FROM pg_extension WHERE extname = 'outreach'"): every member sees the same rows" \
  "$(q -c "$listing")" "$before"
expect "the update filled shareable_participant with the shareable people only" \
  "$(q -c "SELECT string_agg(p.external_ref, ',' ORDER BY p.external_ref) FROM outreach.shareable_participant s
           JOIN outreach.participant p USING (controller_id, participant_id)")" "A-ANN,A-BOB,A-CY,B-ANN,C-CY"
# From then on the triggers keep it: B-CY's first attendance shares it with A and C.
q -q -c "SET ROLE outreach_upd_b_writer" -c "INSERT INTO outreach.attendance (participant_id, activity_id, attended_on)
  SELECT p.participant_id, a.activity_id, '2024-05-02' FROM outreach.participant p, outreach.activity a WHERE p.external_ref = 'B-CY'"
expect "after the update, a first attendance shares a person" \
  "$(q -q -c "SET ROLE outreach_upd_a_reader" -c "SELECT string_agg(other_controller_code || ' ' || attended_on, ',' ORDER BY attended_on) FROM outreach.shared_engagement s
           JOIN outreach.participant_core p USING (controller_id, participant_id) WHERE p.external_ref = 'A-CY'")" \
  "upd_c 2024-03-01,upd_b 2024-05-02"
cleanup
exit $failed
