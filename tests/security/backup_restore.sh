#!/usr/bin/env bash
# Backups restore (issue 12, class 2). Fills a database through member roles, including their
# attempts at odd values (infinity, year 9999, time zones at both ends of the day, quotes, tabs,
# newlines and backslashes in text), dumps it with pg_dump -Fc, restores it exactly as the README
# says into a new database, and compares every table's rows: nothing lost or changed. Prints
# "ok ..." / "FAILED ..." lines; needs the test cluster of scripts/lib/cluster.sh.
set -uo pipefail
: "${OUTREACH_CLUSTER_DIR:?run from scripts/test (needs the test cluster)}"
work="$OUTREACH_CLUSTER_DIR/work/backup"
src=outreach_backup_src
dst=outreach_backup_dst
failed=0
ok() { echo "ok backup: $1"; }
fail() { echo "FAILED backup: $1"; failed=1; }
q() { psql -X -qAt -v ON_ERROR_STOP=1 "$@"; }

cleanup() {
  psql -X -q -c "DROP DATABASE IF EXISTS $src" -c "DROP DATABASE IF EXISTS $dst" >/dev/null 2>&1
  q -d postgres -c "SELECT format('DROP ROLE %I', rolname) FROM pg_roles WHERE rolname LIKE 'outreach\_bkup\_%'" |
    while read -r stmt; do psql -X -q -d postgres -c "$stmt" >/dev/null 2>&1; done
}
cleanup
rm -rf "$work"; mkdir -p "$work"; chmod 777 "$work"

q -d postgres -c "CREATE DATABASE $src" || { fail "create $src"; exit 1; }
q -d $src >/dev/null <<'SQL' || { fail "set up members"; exit 1; }
CREATE EXTENSION outreach;
SELECT outreach.create_controller('bkup_a', 'Backup A'), outreach.create_controller('bkup_b', 'Backup B');
SQL

# Member A's writer fills its records, with text that is hard to dump and read back.
q -d $src <<'SQL' || { fail "member A's writes"; exit 1; }
SET ROLE outreach_bkup_a_writer;
SET TIME ZONE 'Pacific/Kiritimati';   -- UTC+14: a writer's local midnight is the day before in UTC
INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode, sex, ethnicity,
                                  religion, withdrawn_at, restricted_at, upn, uln)
VALUES ('A-1', E'Zoë\tTab', E'O''Brien\\back', '1900-01-01', 'sw1a1aa', 'F', E'multi\nline', '"quoted", comma',
        '2100-12-31 23:59:59+14', NULL, NULL, NULL),
       ('=HYPERLINK("x")', repeat('é', 200), repeat('Ж', 200), '2100-01-01', 'GIR 0AA', NULL, NULL, NULL,
        '1900-01-01 00:00:00+00', '2100-12-31 23:59:59+00', NULL, NULL),
       ('A-3', '王芳', 'Ng', '2008-02-29', 'BF1 3AA', NULL, NULL, NULL, NULL, now(), NULL, NULL),
       ('A-4', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO outreach.activity (activity_type, name, starts_on, ends_on)
VALUES ('summer_school', E'Name with \\N and \\. and a tab\there', '1900-01-01', '2100-12-31'),
       ('summer_school', 'Campus visit', '2024-02-29', NULL);
INSERT INTO outreach.attendance (participant_id, activity_id, attended_on)
SELECT p.participant_id, a.activity_id, d
FROM outreach.participant p, outreach.activity a, (VALUES (date '1900-01-01'), (date '2100-12-31'), (date '2024-02-29')) v(d);
SQL

# Odd values a writer may try: each must be refused, and refused alone.
odd=0
while IFS= read -r stmt; do
  [ -z "$stmt" ] && continue
  if psql -X -q -d $src -c "SET ROLE outreach_bkup_a_writer" -c "$stmt" >/dev/null 2>&1; then
    fail "refused: $stmt"
  else
    odd=$((odd + 1))
  fi
done <<'ODD'
UPDATE outreach.attendance SET attended_on = 'infinity' WHERE attended_on = '2024-02-29'
UPDATE outreach.attendance SET attended_on = '9999-12-31' WHERE attended_on = '2024-02-29'
UPDATE outreach.attendance SET attended_on = '5874897-12-31' WHERE attended_on = '2024-02-29'
UPDATE outreach.attendance SET attended_on = '4713-01-01 BC' WHERE attended_on = '2024-02-29'
UPDATE outreach.participant SET withdrawn_at = 'infinity' WHERE external_ref = 'A-3'
UPDATE outreach.participant SET withdrawn_at = '-infinity' WHERE external_ref = 'A-3'
UPDATE outreach.participant SET restricted_at = '294276-12-31 23:59:59+00' WHERE external_ref = 'A-3'
UPDATE outreach.participant SET restricted_at = '4714-11-24 00:00:00+00 BC' WHERE external_ref = 'A-3'
UPDATE outreach.participant SET date_of_birth = '9999-01-01' WHERE external_ref = 'A-3'
UPDATE outreach.participant SET he_entry_year_override = 2147483647, he_entry_year_override_reason = 'x' WHERE external_ref = 'A-3'
UPDATE outreach.participant SET upn = 'not a upn' WHERE external_ref = 'A-3'
UPDATE outreach.activity SET starts_on = '-infinity'
UPDATE outreach.activity SET ends_on = 'infinity'
INSERT INTO outreach.activity (activity_type, name, starts_on) VALUES ('summer_school', 'x', '20000-01-01')
ODD
[ "$odd" = 14 ] && ok "all 14 odd values refused one by one" || fail "$odd of 14 odd values refused"

# Member B's writer, in a time zone west of UTC; B's DPO agrees to deliver for A; A names B.
q -d $src >/dev/null <<'SQL' || fail "member B's writes and the agreement"
SET ROLE outreach_bkup_b_writer;
SET TIME ZONE 'Etc/GMT+12';
INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode, withdrawn_at)
VALUES ('B-1', 'Zoe', 'OBrien', '1900-01-01', 'SW1A 1AA', '1900-01-01 00:00:00-12');
INSERT INTO outreach.activity (activity_type, name, starts_on) VALUES ('summer_school', 'B school', '2100-12-31');
INSERT INTO outreach.attendance (participant_id, activity_id, attended_on)
SELECT p.participant_id, a.activity_id, a.starts_on FROM outreach.participant p, outreach.activity a;
-- A person both members hold, so that shared_engagement has a row to restore.
INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode)
VALUES ('B-2', 'Sam', 'Lee', '2008-01-01', 'LS1 1UR');
INSERT INTO outreach.attendance (participant_id, activity_id, attended_on)
SELECT p.participant_id, a.activity_id, '2024-03-01' FROM outreach.participant p, outreach.activity a WHERE p.external_ref = 'B-2';
RESET ROLE;
SET ROLE outreach_bkup_a_writer;
INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode)
VALUES ('A-5', 'Sam', 'Lee', '2008-01-01', 'LS1 1UR');
RESET ROLE;
SET ROLE outreach_bkup_b_dpo;
SELECT outreach.agree_delivery_partner(c.controller_id, 'bkup_a') FROM outreach.controller c WHERE c.code = 'bkup_b';
SELECT outreach.open_rights_request(c.controller_id, 'access', '2024-02-29', identity_verified_how => E'passport\tseen') FROM outreach.controller c WHERE c.code = 'bkup_b';
INSERT INTO outreach.notification_channel (controller_id, kind, target)
SELECT controller_id, 'email', 'dpo@b.example' FROM outreach.controller WHERE code = 'bkup_b';
RESET ROLE;
SET ROLE outreach_bkup_a_writer;
UPDATE outreach.activity SET delivered_by = (SELECT controller_id FROM outreach.controller WHERE code = 'bkup_b')
WHERE name = 'Campus visit';
SQL

# Dump as any DBA would, and restore exactly as the README says.
PGTZ=Pacific/Kiritimati pg_dump -Fc -d $src -f "$work/src.dump" 2>"$work/dump.err" && ok "pg_dump -Fc succeeds" ||
  fail "pg_dump -Fc: $(head -3 "$work/dump.err")"
q -d postgres -c "CREATE DATABASE $dst"
if PGTZ=Etc/GMT+12 PGOPTIONS='-c session_replication_role=replica' pg_restore -d $dst "$work/src.dump" 2>"$work/restore.err"; then
  ok "pg_restore as the README says succeeds without an error"
else
  fail "pg_restore: $(head -5 "$work/restore.err")"
fi

# Every table's rows, in both. service_channel is made anew by each CREATE EXTENSION (not dumped,
# by design: its name is the daemon's secret); retention_queue is unlogged work in progress.
tables=$(q -d $src -c "SELECT c.relname FROM pg_class c JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
  AND d.deptype = 'e' JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'outreach'
  WHERE c.relkind = 'r' AND c.relname NOT IN ('service_channel', 'retention_queue') ORDER BY 1")
# The shipped recipients and layouts are the extension's own rows (not dumped, written again by
# CREATE EXTENSION): their updated_at/created_at is the restoring install's; all else must match.
fingerprint() {  # DB TABLE: row count and a digest of every row's text, in a fixed order
  local row="t::text"
  case $2 in recipient_definition|recipient_layout) row="CASE WHEN $( [ "$2" = recipient_layout ] && echo 't.version <= 100' || echo 't.shipped' )
    THEN (to_jsonb(t) - 'updated_at' - 'created_at')::text ELSE t::text END" ;; esac
  q -d "$1" -c "SET TIME ZONE 'UTC'; SELECT count(*) || ' ' || coalesce(md5(string_agg($row, E'\n' ORDER BY $row)), '-') FROM outreach.$2 t"
}
compared=0
for t in $tables; do
  a=$(fingerprint $src "$t"); b=$(fingerprint $dst "$t")
  if [ "$a" != "$b" ]; then fail "outreach.$t differs after restore: $a vs $b"; else compared=$((compared + 1)); fi
done
rows=$(fingerprint $src attendance | cut -d' ' -f1)
[ "$rows" = 26 ] && ok "attendance: $rows rows written by members" || fail "attendance holds $rows rows, not 26"
shared="SET ROLE outreach_bkup_a_reader; SELECT count(*) || ' ' || string_agg(other_controller_code || ' ' || attended_on, ',') FROM outreach.shared_engagement"
a=$(q -d $src -c "$shared"); b=$(q -d $dst -c "$shared")
[ "$a" = "1 bkup_b 2024-03-01" ] && [ "$b" = "$a" ] && ok "shared_engagement shows A its shared person after restore: $b" ||
  fail "shared_engagement before restore '$a', after '$b'"
[ "$compared" -gt 30 ] && ok "$compared tables identical after restore (rows and values)" || fail "only $compared tables compared"
for s in $(q -d $src -c "SELECT c.relname FROM pg_class c WHERE c.relkind = 'S' AND c.relnamespace = 'outreach'::regnamespace ORDER BY 1"); do
  a=$(q -d $src -c "SELECT last_value FROM outreach.$s"); b=$(q -d $dst -c "SELECT last_value FROM outreach.$s")
  [ "$a" = "$b" ] || fail "sequence outreach.$s at $a, restored at $b"
done
ok "sequences restored at their positions"
# The restored database works: the members' checks hold there too, and a sweep runs.
q -d $dst -c "SET ROLE outreach_bkup_a_writer; UPDATE outreach.attendance SET attended_on = 'infinity'" >/dev/null 2>&1 &&
  fail "the restored database accepts infinity" || ok "the restored database still refuses infinity"
q -d $dst -c "SELECT outreach.retention_sweep_prepare(current_date)" >/dev/null && ok "a sweep runs on the restored database" ||
  fail "a sweep on the restored database"

# A backup of 0.6.0 (before dates were checked) holding what a member could store then
# (infinity, year 9999): restored as the README says (same version first, then the update),
# nothing is lost, the update warns, and the sweep skips and reports those rows.
old=outreach_backup_old
psql -X -q -c "DROP DATABASE IF EXISTS $old" -c "DROP DATABASE IF EXISTS ${old}_r" >/dev/null 2>&1
q -d postgres -c "CREATE DATABASE $old"
q -d $old >/dev/null <<'SQL' || fail "fill a 0.6.0 database"
CREATE EXTENSION outreach VERSION '0.6.0';
SELECT outreach.create_controller('bkup_old', 'Backup old');
SET ROLE outreach_bkup_old_writer;
INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode, withdrawn_at)
VALUES ('O-1', 'Old', 'Row', '2008-01-01', 'SW1A 1AA', 'infinity'), ('O-2', 'Fine', 'Row', '2008-01-01', 'SW1A 1AA', NULL);
INSERT INTO outreach.activity (activity_type, name, starts_on, ends_on) VALUES ('summer_school', 'x', '-infinity', '9999-12-31');
INSERT INTO outreach.attendance (participant_id, activity_id, attended_on)
SELECT p.participant_id, a.activity_id, d::date FROM outreach.participant p, outreach.activity a,
       unnest(ARRAY['infinity', '9999-12-31', '2024-01-01']) d;
SQL
pg_dump -Fc -d $old -f "$work/old.dump" 2>"$work/dump.err" || fail "pg_dump of the 0.6.0 database"
q -d postgres -c "CREATE DATABASE ${old}_r"
q -d ${old}_r -c "CREATE EXTENSION outreach VERSION '0.6.0'" >/dev/null
PGOPTIONS='-c session_replication_role=replica' pg_restore -d ${old}_r "$work/old.dump" 2>"$work/restore.err" &&
  ok "a 0.6.0 backup with infinite dates restores into 0.6.0" || fail "restore of the 0.6.0 backup: $(head -3 "$work/restore.err")"
warning=$(psql -X -q -d ${old}_r -c "ALTER EXTENSION outreach UPDATE" 2>&1)
case $warning in *"attendance_attended_on_range stays NOT VALID"*) ok "the update names the constraints it cannot validate" ;;
  *) fail "the update's warning: $warning" ;; esac
[ "$(q -d ${old}_r -c "SELECT count(*) FROM outreach.attendance")" = 6 ] && ok "all 6 attendances kept through restore and update" ||
  fail "attendances after restore and update: $(q -d ${old}_r -c "SELECT count(*) FROM outreach.attendance")"
q -d ${old}_r -c "SELECT outreach.retention_sweep_prepare(current_date)" >/dev/null && ok "the sweep runs beside the impossible rows" ||
  fail "the sweep fails on the impossible rows"
[ "$(q -d ${old}_r -c "SELECT string_agg(problem, '; ' ORDER BY participant_id) FROM outreach.retention_skipped")" = \
  "an attendance date is outside 1900-2100; an attendance date is outside 1900-2100" ] && ok "the sweep reports both participants with impossible dates" ||
  fail "skipped: $(q -d ${old}_r -c "SELECT string_agg(problem, '; ') FROM outreach.retention_skipped")"
psql -X -q -c "DROP DATABASE IF EXISTS $old" -c "DROP DATABASE IF EXISTS ${old}_r" >/dev/null 2>&1

cleanup
rm -rf "$work"
exit $failed
