-- Members import their own participant files (outreach.import_participants, docs/import.md):
-- header mapped by names and aliases, every bad line reported with its number, column and
-- reason, good lines written in one go, the same file again changes nothing, the same person
-- under a new reference matched not added, encodings, ambiguous dates, and who may import.
SET search_path = regress, outreach, public;
\set VERBOSITY terse

SET client_min_messages = warning;
CREATE FUNCTION pg_temp.mi_cleanup() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  r record;
  ids int[] := ARRAY(SELECT controller_id FROM outreach.controller WHERE code LIKE 'regress\_mi\_%');
BEGIN
  DELETE FROM outreach.member_import WHERE controller_id = ANY (ids);
  DELETE FROM outreach.participant WHERE controller_id = ANY (ids);
  DELETE FROM outreach.activity WHERE controller_id = ANY (ids);
  DELETE FROM outreach.tombstone WHERE controller_id = ANY (ids);
  DELETE FROM outreach.audit_log WHERE controller_id = ANY (ids);
  DELETE FROM outreach.controller WHERE controller_id = ANY (ids);
  DELETE FROM outreach.institution WHERE urn = 912399;
  FOR r IN SELECT rolname FROM pg_catalog.pg_roles
           WHERE rolname LIKE 'regress\_mi\_%' OR rolname LIKE 'outreach\_regress\_mi\_%' ORDER BY 1 LOOP
    EXECUTE pg_catalog.format('DROP ROLE %I', r.rolname);
  END LOOP;
END $$;
SELECT pg_temp.mi_cleanup();
RESET client_min_messages;

SELECT outreach.create_controller('regress_mi_uni', 'Import Uni') AS uni \gset
SELECT outreach.create_controller('regress_mi_col', 'Import College') AS col \gset
CREATE ROLE regress_mi_writer;
CREATE ROLE regress_mi_reader;
CREATE ROLE regress_mi_dpo;
CREATE ROLE regress_mi_other;
SELECT outreach.grant_controller_access('regress_mi_writer', 'regress_mi_uni', 'writer'),
       outreach.grant_controller_access('regress_mi_reader', 'regress_mi_uni', 'reader'),
       outreach.grant_controller_access('regress_mi_dpo', 'regress_mi_uni', 'dpo'),
       outreach.grant_controller_access('regress_mi_other', 'regress_mi_col', 'writer');
INSERT INTO outreach.institution (urn, name) VALUES (912399, 'Import Test School');

-- A file with an alias for every column it has, an unknown column, and one bad line of each kind.
SET ROLE regress_mi_writer;
SELECT line_no, status, reason, participant_id IS NOT NULL AS has_id
FROM outreach.import_participants(:uni, 'year9.csv', convert_to(
'Student ID,Forename,Surname,DOB,Post Code,Gender,Ethnicity,URN,UPN,Favourite colour
A1,Ann,Smith,03/04/2008,sw1a1aa,F,160,912399,,blue
A2, Bob ,Jones,25/12/2007,M1 1AE,11,,,,red
A3,Cat,Lee,31/02/2008,,,,,,
A4,Dan,Wu,01/01/2009,B1 1AA,X,,,,
A5,Eve,Ng,01/02/2009,,,,999999,,
A1,Ann,Smith,03/04/2008,,,,,,
A6,Ann,Smith,03/04/2008,SW1A 1AA,,,,,
A7,,Oak,01/01/2008,,,,,,
A8,Gus,Tan,01/01/2008,GX11 1AA,,,,,
A9,Hal,Fry,1/1/08,,,,,,
A10,Ivy,Ash,01/01/2008,,,,,A12345678901,
"A11,Jo,Bay,01/01/2008,,,,,,
A12,Kit,Elm,01/01/2008,,,,,,
A13,Lee,Fir,01/01/2008', 'UTF8'))
ORDER BY line_no, status;
SELECT external_ref, first_name, postcode, institution_id IS NOT NULL AS school, upn IS NULL AS no_upn
FROM outreach.participant WHERE controller_id = :uni ORDER BY external_ref;
-- Writers cannot read special-category columns; the DPO sees what the codes stored.
SELECT sex FROM outreach.participant WHERE controller_id = :uni;
RESET ROLE;
SET ROLE regress_mi_dpo;
SELECT external_ref, sex, ethnicity FROM outreach.participant WHERE controller_id = :uni ORDER BY external_ref;
RESET ROLE;

-- The same file again changes nothing. A change of an ordinary column is "updated"; one of a
-- special-category value alone is written but reported "unchanged" and leaves updated_at (the
-- writer may not read those columns: nothing may tell it what was held).
SET ROLE regress_mi_writer;
SELECT status, count(*) FROM outreach.import_participants(:uni, 'year9.csv', convert_to(
'Student ID,Forename,Surname,DOB,Post Code,Gender,Ethnicity,URN
A1,Ann,Smith,03/04/2008,sw1a1aa,F,160,912399
A2, Bob ,Jones,25/12/2007,M1 1AE,11,,', 'UTF8')) GROUP BY 1 ORDER BY 1;
SELECT line_no, status FROM outreach.import_participants(:uni, 'changes.csv', convert_to(
'ref,first name,last name,date of birth,sex,postcode
A1,Ann,Smith,2008-04-03,male,
A2,Bob,Jones-Hall,2007-12-25,,', 'UTF8')) WHERE status <> 'note' ORDER BY line_no;
SELECT external_ref, last_name, updated_at > created_at AS updated_at_moved
FROM outreach.participant WHERE controller_id = :uni AND external_ref IN ('A1', 'A2') ORDER BY 1;
RESET ROLE;
SET ROLE regress_mi_dpo;
SELECT external_ref, sex FROM outreach.participant WHERE controller_id = :uni AND external_ref = 'A1';
-- Each import on the member's audit trail, with its counts.
SELECT action, relation, record - 'import_id' AS counts FROM outreach.audit_log
WHERE controller_id = :uni AND action = 'import' ORDER BY audit_id;
RESET ROLE;

-- A writer guessing a special-category value learns nothing: the status, the rows its
-- transaction updated and updated_at are the same whether the guess is right or wrong (the
-- DPO holds A1's sex as male), also after an import that changed A1 in the same transaction.
BEGIN;
SET LOCAL ROLE regress_mi_writer;
SELECT n_tup_upd AS before FROM pg_stat_xact_user_tables WHERE relid = 'outreach.participant'::regclass \gset
SELECT status AS right_guess FROM outreach.import_participants(:uni, 'probe.csv', convert_to(
'ref,first name,last name,dob,sex
A1,Ann,Smith,2008-04-03,male', 'UTF8')) WHERE status <> 'note';
SELECT n_tup_upd - :before AS rows_updated_right FROM pg_stat_xact_user_tables WHERE relid = 'outreach.participant'::regclass;
ROLLBACK;
BEGIN;
SET LOCAL ROLE regress_mi_writer;
SELECT n_tup_upd AS before FROM pg_stat_xact_user_tables WHERE relid = 'outreach.participant'::regclass \gset
SELECT status AS wrong_guess FROM outreach.import_participants(:uni, 'probe.csv', convert_to(
'ref,first name,last name,dob,sex
A1,Ann,Smith,2008-04-03,female', 'UTF8')) WHERE status <> 'note';
SELECT n_tup_upd - :before AS rows_updated_wrong FROM pg_stat_xact_user_tables WHERE relid = 'outreach.participant'::regclass;
ROLLBACK;
BEGIN;
SET LOCAL ROLE regress_mi_writer;
SELECT status AS rename_first FROM outreach.import_participants(:uni, 'probe.csv', convert_to(
'ref,first name,last name,dob
A1,Anne,Smith,2008-04-03', 'UTF8')) WHERE status <> 'note';
SELECT status AS then_guess FROM outreach.import_participants(:uni, 'probe.csv', convert_to(
'ref,first name,last name,dob,sex
A1,Anne,Smith,2008-04-03,female', 'UTF8')) WHERE status <> 'note';
ROLLBACK;

-- Lines are compared with the participants as the file leaves them: A2 renamed by its line,
-- a new line with A2's old identity is a new person; a new line with A2's new identity is A2.
SET ROLE regress_mi_writer;
SELECT line_no, status, reason FROM outreach.import_participants(:uni, 'renames.csv', convert_to(
'ref,first name,last name,dob,postcode
A2,Bryn,Jones-Hall,2007-12-25,M1 1AE
N1,Bob,Jones-Hall,2007-12-25,M1 1AE
N2,Bryn,Jones-Hall,2007-12-25,M1 1AE', 'UTF8')) WHERE status <> 'note' ORDER BY line_no;
-- Characters that hide text are refused; so is a header with a very long column name.
SELECT line_no, status, reason FROM outreach.import_participants(:uni, 'hidden.csv', convert_to(
E'ref,first name,last name,dob\nH1,Jo\u0085sie,Lee,2008-01-01\nH2,Ann\u202e,Lee,2008-01-01', 'UTF8')) WHERE status <> 'note' ORDER BY line_no;
SELECT regress.try($$SELECT count(*)::text FROM outreach.import_participants($$ || :uni || $$, 'h.csv',
  convert_to('ref,first name,last name,d' || repeat('.', 300) || 'ob', 'UTF8'))$$) AS long_column_name;
RESET ROLE;

-- The record of imports: the member's roles read their own, another member none.
SET ROLE regress_mi_reader;
SELECT kind, file_name, encoding, date_format, lines, inserted, updated, unchanged, matched, bad, imported_by
FROM outreach.member_import ORDER BY import_id;
RESET ROLE;
SET ROLE regress_mi_other;
SELECT count(*) AS other_members_imports FROM outreach.member_import;
SELECT count(*) AS progress_rows FROM outreach.import_progress;
RESET ROLE;

-- Encodings: Windows-1252 and UTF-16 with a byte order mark are read; the note says which.
SET ROLE regress_mi_writer;
SELECT line_no, status, reason FROM outreach.import_participants(:uni, 'latin1.csv',
  convert_to(E'ref,forename,surname,dob\nL1,Ren\u00e9e,M\u00fcller,2008-01-02\n', 'LATIN1')) ORDER BY line_no;
-- (UTF-16LE of Latin-1 text: each byte followed by a zero byte)
SELECT line_no, status, reason FROM outreach.import_participants(:uni, 'utf16.csv',
  '\xfffe'::bytea || decode(regexp_replace(encode(convert_to(E'ref,forename,surname,dob\r\nU1,Zo\u00eb,\u00d8st,2008-01-02\r\n',
                                                               'LATIN1'), 'hex'), '(..)', '\100', 'g'), 'hex')) ORDER BY line_no;
RESET ROLE;
SELECT external_ref, first_name, last_name FROM outreach.participant WHERE controller_id = :uni AND external_ref IN ('L1', 'U1');

-- Dates: a file that could be day or month first is refused unless the order is given.
SET ROLE regress_mi_writer;
SELECT regress.try($$SELECT count(*)::text FROM outreach.import_participants($$ || :uni || $$, 'us.csv',
  convert_to(E'ref,forename,surname,dob\nD1,Amy,Cole,03/04/2008\nD2,Ben,Cole,05/06/2009\n', 'UTF8'))$$) AS ambiguous;
SELECT line_no, status, reason FROM outreach.import_participants(:uni, 'us.csv',
  convert_to(E'ref,forename,surname,dob\nD1,Amy,Cole,03/04/2008\nD2,Ben,Cole,05/06/2009\nD3,Cal,Cole,25/12/2009\n', 'UTF8'),
  date_format => 'MM/DD/YYYY') ORDER BY line_no;
SELECT regress.try($$SELECT count(*)::text FROM outreach.import_participants($$ || :uni || $$, 'x.csv',
  convert_to(E'ref,forename,surname,dob\n', 'UTF8'), date_format => 'D/M/Y')$$) AS bad_format;

-- Headers that cannot be used: the whole file is refused (22P04), nothing written.
SELECT regress.try($$SELECT count(*)::text FROM outreach.import_participants($$ || :uni || $$, 'h.csv',
  convert_to(E'ref,forename,postcode\nH1,Amy,M1 1AE\n', 'UTF8'))$$) AS missing_columns;
SELECT regress.try($$SELECT count(*)::text FROM outreach.import_participants($$ || :uni || $$, 'h.csv',
  convert_to(E'ref,forename,first name,surname,dob\n', 'UTF8'))$$) AS twice;
SELECT regress.try($$SELECT count(*)::text FROM outreach.import_participants($$ || :uni || $$, 'h.csv', ''::bytea)$$) AS empty;
SELECT regress.try($$SELECT count(*)::text FROM outreach.import_participants($$ || :uni || $$, 'h.csv',
  '\xfffe41'::bytea)$$) AS broken_utf16;

-- Who may import: another member's id, a reader, NULLs.
SELECT regexp_replace(regress.try($$SELECT count(*)::text FROM outreach.import_participants($$ || :col || $$, 'x.csv',
  convert_to(E'ref,forename,surname,dob\n', 'UTF8'))$$), 'controller [0-9]+', 'controller <col>') AS other_member;
SELECT regress.try($$SELECT count(*)::text FROM outreach.import_participants($$ || :uni || $$, 'x.csv', NULL)$$) AS no_content;
SELECT regress.try($$SELECT count(*)::text FROM outreach.import_participants($$ || :uni || $$, E'x\n.csv',
  convert_to(E'ref,forename,surname,dob\n', 'UTF8'))$$) AS bad_name;
RESET ROLE;
SET ROLE regress_mi_reader;
SELECT regress.try($$SELECT count(*)::text FROM outreach.import_participants($$ || :uni || $$, 'x.csv',
  convert_to(E'ref,forename,surname,dob\n', 'UTF8'))$$) AS reader;
RESET ROLE;
SELECT count(*) AS participants_after_refusals FROM outreach.participant WHERE controller_id = :uni;

-- A thousand lines with one in twenty bad: each bad line reported, every other one written.
SET ROLE regress_mi_writer;
SELECT status, count(*) FROM outreach.import_participants(:uni, 'big.csv', convert_to(
  'ref,forename,surname,dob' || E'\n' ||
  (SELECT string_agg(format('B%s,Name%s,Family%s,%s', i, i, i,
                            CASE WHEN i % 20 = 0 THEN '2008-02-30' ELSE to_char(DATE '2008-01-01' + i, 'YYYY-MM-DD') END), E'\n')
   FROM generate_series(1, 1000) AS i), 'UTF8')) GROUP BY 1 ORDER BY 1;
RESET ROLE;

-- Activities and attendance files: by the member's references; unknown types, participants
-- and activities are the line's problem; the same files again change nothing.
SET ROLE regress_mi_writer;
SELECT line_no, status, reason, activity_id IS NOT NULL AS has_id
FROM outreach.import_activities(:uni, 'activities.csv', convert_to(
'Activity ID,Type,Title,Start Date,End Date,Room
S1,summer_school,Summer School,20/07/2026,24/07/2026,Hall
T1,campus_visit,Campus day,12/03/2026,,
X1,juggling,Mystery,01/02/2026,,
B1,campus_visit,Backwards,10/03/2026,01/03/2026,
T1,campus_visit,Again,13/03/2026,,', 'UTF8')) ORDER BY line_no, status;
SELECT line_no, status, reason, participant_id IS NOT NULL AS has_participant, activity_id IS NOT NULL AS has_activity
FROM outreach.import_attendance(:uni, 'attended.csv', convert_to(
'Student ID,Activity,Date
A1,S1,21/07/2026
A2,S1,21/07/2026
A1,T1,12/03/2026
NOBODY,T1,12/03/2026
A1,NOPE,12/03/2026
A1,S1,21/07/2026
A2,T1,31/02/2026', 'UTF8')) ORDER BY line_no, status;
SELECT status, count(*) FROM outreach.import_attendance(:uni, 'attended.csv', convert_to(
'Student ID,Activity,Date
A1,S1,21/07/2026
A2,S1,21/07/2026', 'UTF8')) GROUP BY 1 ORDER BY 1;
SELECT regress.try($$SELECT count(*)::text FROM outreach.import_attendance($$ || :uni || $$, 'x.csv',
  convert_to(E'Student ID,Date\nA1,2026-01-01\n', 'UTF8'))$$) AS attendance_without_activity;
RESET ROLE;
SELECT p.external_ref, a.external_ref AS activity, t.attended_on
FROM outreach.attendance t JOIN outreach.participant p USING (controller_id, participant_id)
JOIN outreach.activity a USING (controller_id, activity_id) WHERE t.controller_id = :uni ORDER BY 1, 2;

SELECT pg_temp.mi_cleanup();
