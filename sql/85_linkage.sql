-- Linkage: recipients and layouts as data, UPN/ULN, exports (eligibility, references, lines,
-- ledger, not resending, finish and abandon), Art. 19 follow-ups, outcome imports (bad input of
-- every kind, idempotence) and what members and their DPOs see.
-- References are keyed with this suite's own random keys: they are never shown, only compared.
SET search_path = regress, outreach, public;
SET datestyle = ISO;
SET timezone = 'UTC';

-- Roles are cluster-wide: remove what an interrupted earlier run left behind.
SET client_min_messages = warning;
CREATE FUNCTION pg_temp.lk_cleanup() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  r record;
  ids int[] := ARRAY(SELECT controller_id FROM outreach.controller WHERE code LIKE 'regress\_lk\_%');
BEGIN
  DELETE FROM outreach.recipient_followup WHERE controller_id = ANY (ids);
  DELETE FROM outreach.recipient_followup_batch WHERE controller_id = ANY (ids);
  DELETE FROM outreach.sharing_agreement;
  DELETE FROM outreach.delivery_attempt WHERE controller_id = ANY (ids);
  DELETE FROM outreach.notice_delivery WHERE controller_id = ANY (ids);
  DELETE FROM outreach.notification_channel WHERE controller_id = ANY (ids);
  DELETE FROM outreach.disclosure_block WHERE controller_id = ANY (ids);
  DELETE FROM outreach.outcome_block WHERE controller_id = ANY (ids);
  DELETE FROM outreach.attendance WHERE controller_id = ANY (ids);
  DELETE FROM outreach.participant WHERE controller_id = ANY (ids);
  DELETE FROM outreach.tombstone WHERE controller_id = ANY (ids);
  DELETE FROM outreach.deletion_notice WHERE controller_id = ANY (ids);
  DELETE FROM outreach.audit_log WHERE controller_id = ANY (ids);
  DELETE FROM outreach.controller WHERE controller_id = ANY (ids);
  DELETE FROM outreach.institution WHERE name LIKE 'Regress LK %';
  DELETE FROM outreach.recipient_layout WHERE recipient LIKE 'regress\_%';
  DELETE FROM outreach.recipient_definition WHERE name LIKE 'regress\_%' OR NOT shipped;
  DELETE FROM outreach.outcome_import WHERE recipient LIKE 'regress\_%' OR recipient IN ('dfe', 'esfa', 'hesa', 'ucas');
  DELETE FROM outreach.export WHERE recipient LIKE 'regress\_%' OR recipient IN ('dfe', 'esfa', 'hesa', 'ucas');
  UPDATE outreach.export SET status = 'abandoned', finished_at = now(), error = 'regress cleanup' WHERE status = 'building';
  TRUNCATE outreach.export_chunk;
  FOR r IN SELECT rolname FROM pg_catalog.pg_roles
           WHERE rolname LIKE 'regress\_lk\_%' OR rolname LIKE 'outreach\_regress\_lk\_%' ORDER BY 1 LOOP
    EXECUTE pg_catalog.format('DROP ROLE %I', r.rolname);
  END LOOP;
END $$;
SELECT pg_temp.lk_cleanup();
RESET client_min_messages;

-- This suite's keys: linkage and one scope per recipient (a new recipient needs only a line here).
SELECT regress.write_key_file('linkage85.keys',
         'linkage 1 ' || regress.random_key() || E'\n' ||
         'recipient:dfe 1 ' || regress.random_key() || E'\n' ||
         'recipient:esfa 1 ' || regress.random_key() || E'\n' ||
         'recipient:hesa 1 ' || regress.random_key() || E'\n' ||
         'recipient:ucas 1 ' || regress.random_key() || E'\n' ||
         'recipient:regress_charity 1 ' || regress.random_key());
SELECT current_setting('regress.keydir') || '/linkage85.keys' AS keyfile \gset
SET outreach.key_file = :'keyfile';

-- A reference in any text is shown as <ref>; export ids in file names as <id>.
CREATE FUNCTION regress.lk_mask(t text) RETURNS text LANGUAGE sql AS $$
  SELECT regexp_replace(regexp_replace(t, '[0-9]{1,10}-[0-9A-Z]{26}[0-9A-Z*~$=]', '<ref>', 'g'), '_[0-9]{6,}\.csv', '_<id>.csv', 'g')
$$;
CREATE FUNCTION regress.lk_try(query text) RETURNS text LANGUAGE sql AS $$
  SELECT regexp_replace(regress.lk_mask(regress.try(query)), '(export|controller|participant) [0-9]+', '\1 <id>', 'g')
$$;

-----------------------------------------------------------------------------------------------
-- UPN and ULN
-----------------------------------------------------------------------------------------------
SELECT v, outreach.is_valid_upn(v) AS valid, regress.try(format('SELECT outreach.validate_upn(%L)::text', v)) AS checked
FROM (VALUES ('B801200005001'), ('P207000016049'), ('A801200005001'), ('b801200005001'), ('B80120000500'),
             ('X80120000A001'), ('I801200005001')) AS t(v);
-- A temporary UPN ends in a letter, which counts by its place in the check alphabet.
SELECT outreach.upn_check_letter('80120000500B') AS letter,
       outreach.is_valid_upn(outreach.upn_check_letter('80120000500B') || '80120000500B') AS temporary_valid,
       regress.try($$SELECT outreach.upn_check_letter('80120000500S')$$) AS no_s;
SELECT v, outreach.is_valid_uln(v) AS valid, regress.try(format('SELECT outreach.validate_uln(%L)::text', v)) AS checked
FROM (VALUES ('9999999998'), ('1234567899'), ('9999999997'), ('0999999998'), ('999999999'), ('1000000060'),
             ('99999 9998')) AS t(v);
SELECT outreach.uln_check_digit('123456789') AS digit, regress.try($$SELECT outreach.uln_check_digit('100000006')$$) AS none;

-----------------------------------------------------------------------------------------------
-- Recipients and layouts
-----------------------------------------------------------------------------------------------
SELECT name, title, enabled, export_layout, outcome_layout, cohort_from, cohort_to, file_pattern,
       pgp_public_key IS NOT NULL AS has_key, shipped
FROM outreach.recipient ORDER BY name;
SELECT l.recipient, l.kind, l.version, l.date_format, l.unknown_postcode, l.outcome_kind, l.value_codes,
       string_agg(c.header || '=' || c.field || CASE WHEN c.required THEN '*' ELSE '' END, ', ' ORDER BY c.position) AS columns
FROM outreach.recipient_layout l JOIN outreach.recipient_layout_column c USING (recipient, kind, version)
GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3;

-- A new recipient is data: define it and its layouts, no rebuild. Bad definitions are refused.
SELECT regress.try($$SELECT outreach.define_recipient('Bad Name', 'x', cohort_from => 0, cohort_to => 1)::text$$) AS bad_name,
       regress.try($$SELECT outreach.define_recipient('regress_charity', 'x')::text$$) AS no_window,
       regress.try($$SELECT outreach.define_recipient('regress_charity', 'x', cohort_from => 2, cohort_to => 1)::text$$) AS window_backwards,
       regress.try($$SELECT outreach.define_recipient('regress_charity', 'x', cohort_from => 0, cohort_to => 1,
                                                      file_pattern => 'charity.csv')::text$$) AS pattern_without_id,
       regress.try($$SELECT outreach.define_recipient('regress_charity', 'x', cohort_from => 0, cohort_to => 1,
                                                      file_pattern => '../{export_id}.csv')::text$$) AS pattern_with_slash,
       regress.try($$SELECT outreach.define_recipient('regress_charity', 'x', cohort_from => 0, cohort_to => 1,
                                                      pgp_public_key => 'not a key')::text$$) AS bad_key;
SELECT outreach.define_recipient('regress_charity', 'Regress Charity Tracker', cohort_from => -5, cohort_to => 1,
                                 file_pattern => 'charity_{academic_year}_{date}_{export_id}.csv',
                                 pgp_public_key => E'-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQENBGRegress\n-----END PGP PUBLIC KEY BLOCK-----');
SELECT outreach.record_sharing_agreement('regress_charity', 'charity agreement', 'RC-1', 'the tests', current_date, current_date + 365) > 0 AS charity_agreed;
SELECT regress.try($$SELECT outreach.define_layout('regress_nobody', 'export', '[]')::text$$) AS unknown_recipient,
       regress.try($$SELECT outreach.define_layout('regress_charity', 'export', '[]')::text$$) AS no_columns,
       regress.try($$SELECT outreach.define_layout('regress_charity', 'export',
                     '[{"header": "Name", "field": "forename"}]')::text$$) AS no_reference,
       regress.try($$SELECT outreach.define_layout('regress_charity', 'export',
                     '[{"header": "Ref", "field": "reference"}, {"header": "NI", "field": "ni_number"}]')::text$$) AS unknown_field,
       regress.try($$SELECT outreach.define_layout('regress_charity', 'export',
                     '[{"header": "Ref", "field": "reference"}, {"header": "ref", "field": "surname"}]')::text$$) AS same_header,
       regress.try($$SELECT outreach.define_layout('regress_charity', 'export', '[{"header": "Ref", "field": "reference"}]',
                     date_format => 'MM/DD/YY')::text$$) AS bad_date_format,
       regress.try($$SELECT outreach.define_layout('regress_charity', 'outcome',
                     '[{"header": "Ref", "field": "reference"}, {"header": "Year", "field": "academic_year"}]')::text$$) AS no_outcome_kind;
-- Before it has an export layout, an export of it is refused (22023); unknown recipients are 42704.
CREATE ROLE regress_lk_daemon;
GRANT outreach_daemon TO regress_lk_daemon;
SET ROLE regress_lk_daemon;
SELECT regress.lk_try($$SELECT export_id::text FROM outreach.export_begin('regress_charity', '2025-10-01')$$) AS no_layout,
       regress.lk_try($$SELECT export_id::text FROM outreach.export_begin('nobody', '2025-10-01')$$) AS unknown,
       regress.lk_try($$SELECT export_id::text FROM outreach.export_begin('dfe', NULL)$$) AS no_date,
       regress.lk_try($$SELECT count(*)::text FROM outreach.import_outcomes('regress_charity', 'x.csv', '\x'::bytea)$$) AS no_outcome_layout;
RESET ROLE;
SELECT outreach.define_layout('regress_charity', 'export',
  '[{"header": "Ref", "field": "reference"}, {"header": "Member", "field": "member"},
    {"header": "Given", "field": "forename", "required": true}, {"header": "Born", "field": "date_of_birth", "required": true},
    {"header": "Gender", "field": "sex", "required": true}, {"header": "School", "field": "school_urn"},
    {"header": "Spare", "field": "blank"}]',
  date_format => 'YYYYMMDD', value_codes => '{"sex": {" FEMALE ": "W", "Male": "M"}}', note => 'a regress recipient') AS charity_v;
SELECT outreach.define_layout('regress_charity', 'outcome',
  '[{"header": "Ref", "field": "reference"}, {"header": "Year", "field": "academic_year"},
    {"header": "Note", "field": "ignore"}, {"header": "Provider", "field": "provider_name"}]',
  outcome_kind => 'he_entry') AS charity_outcome_v;
SELECT name, title, export_layout, outcome_layout, cohort_from, cohort_to, file_pattern, pgp_public_key IS NOT NULL AS has_key, shipped
FROM outreach.recipient WHERE name = 'regress_charity';
SELECT value_codes FROM outreach.recipient_layout WHERE recipient = 'regress_charity' AND kind = 'export';
-- Layouts are never changed in place.
SELECT regress.try($$UPDATE outreach.recipient_layout SET date_format = 'YYYYMMDD' WHERE recipient = 'dfe'$$) AS update_layout;
-- A shipped recipient is changed through the service's own row beside it, which takes precedence.
SELECT outreach.define_recipient('esfa', enabled => false);
SELECT name, enabled, shipped FROM outreach.recipient WHERE name = 'esfa';
-- A recipient whose scope has no key in the key file: 42704 before anything is staged.
SELECT outreach.define_recipient('regress_nokey', 'Regress without a key', cohort_from => 0, cohort_to => 0);
SELECT outreach.define_layout('regress_nokey', 'export', '[{"header": "Ref", "field": "reference"}]');
SELECT outreach.record_sharing_agreement('regress_nokey', 'test gateway', 'NOKEY-1', 'the tests', current_date - 1, current_date + 1) > 0 AS agreed;
SET ROLE regress_lk_daemon;
SELECT regress.lk_try($$SELECT export_id::text FROM outreach.export_begin('regress_nokey', '2025-10-01')$$) AS no_key;
RESET ROLE;
SELECT count(*) AS exports_of_regress_nokey FROM outreach.export WHERE recipient = 'regress_nokey';
SELECT name, shipped, enabled FROM outreach.recipient_definition WHERE name = 'esfa' ORDER BY shipped;
SET ROLE regress_lk_daemon;
SELECT regress.lk_try($$SELECT export_id::text FROM outreach.export_begin('esfa', '2025-10-01')$$) AS disabled;
RESET ROLE;

-- Sharing agreements gate exports: none recorded, one that has ended and one not yet in force
-- are each refused (55000) before anything is written or recorded, while a recipient with an
-- agreement in force exports. The agreement's dates are checked (23514) and must be finite.
SET ROLE regress_lk_daemon;
SELECT regress.lk_try($$SELECT export_id::text FROM outreach.export_begin('dfe', '2025-10-01')$$) AS no_agreement;
RESET ROLE;
SELECT regress.try($$SELECT outreach.record_sharing_agreement('dfe', 'gateway', 'X', 'me', '2025-02-01', '2025-01-31')::text$$) AS ends_before_it_starts,
       regress.try($$SELECT outreach.record_sharing_agreement('dfe', 'gateway', 'X', 'me', '2025-01-01', 'infinity')::text$$) AS open_ended,
       regress.try($$SELECT outreach.record_sharing_agreement('dfe', 'gateway', 'X', 'me', '2025-01-01', '2026-01-01', leaves_uk => true)::text$$) AS abroad_without_safeguard,
       regress.try($$SELECT outreach.record_sharing_agreement('nobody', 'gateway', 'X', 'me', '2025-01-01', '2026-01-01')::text$$) AS unknown_recipient;
SELECT outreach.record_sharing_agreement('dfe', 'Education Act 1996 s.537A; DfE data sharing approval', 'DSA-2020-001',
                                         'DfE Data Sharing Approval Panel', '2020-01-01', current_date - 1) > 0 AS dfe_ended_yesterday,
       outreach.record_sharing_agreement('hesa', 'Higher Education and Research Act 2017', 'JISC-FUTURE',
                                         'Jisc', current_date + 1, current_date + 365) > 0 AS hesa_from_tomorrow,
       outreach.record_sharing_agreement('ucas', 'UCAS data sharing agreement', 'UCAS-2026', 'UCAS',
                                         current_date - 30, current_date + 365) > 0 AS ucas_in_force;
SET ROLE regress_lk_daemon;
SELECT regexp_replace(regress.lk_try($$SELECT export_id::text FROM outreach.export_begin('dfe', '2025-10-01')$$), '[0-9]{4}-[0-9]{2}-[0-9]{2}', 'DATE') AS agreement_ended,
       regexp_replace(regress.lk_try($$SELECT export_id::text FROM outreach.export_begin('hesa', '2025-10-01')$$), '[0-9]{4}-[0-9]{2}-[0-9]{2}', 'DATE') AS agreement_not_yet,
       regress.lk_try($$SELECT (export_id > 0)::text FROM outreach.export_begin('ucas', '2025-10-01')$$) AS ucas_goes_out;
RESET ROLE;
SELECT recipient, count(*) AS exports FROM outreach.export GROUP BY 1 ORDER BY 1;
SELECT outreach.export_abandon(export_id, 'agreement test') FROM outreach.export WHERE recipient = 'ucas' AND status = 'building';
-- The renewals: in force from today, for the rest of the tests.
SELECT count(outreach.record_sharing_agreement(name, 'test gateway', 'TEST-' || name, 'the tests', current_date, current_date + 365))
         AS agreements_renewed
FROM outreach.recipient_definition WHERE shipped AND name IN ('dfe', 'esfa', 'hesa');
SELECT recipient, (outreach.agreement_in_force(recipient)).reference AS in_force FROM (VALUES ('dfe'), ('esfa'), ('hesa'), ('ucas')) AS r(recipient) ORDER BY 1;
-- An agreement ended early (by the DBA, with a reason) stops exports from the day after; one
-- that ends while an export is being built stops its finish (nothing recorded).
SET ROLE regress_lk_daemon;
SELECT export_id AS ucas_building, row_count AS ucas_building_rows FROM outreach.export_begin('ucas', '2025-10-01') \gset
RESET ROLE;
SELECT agreement_id AS ucas_agreement FROM outreach.sharing_agreement WHERE reference = 'UCAS-2026' \gset
SELECT regress.try(format($$SELECT outreach.end_sharing_agreement(%s, current_date - 1, ' ')::text$$, :ucas_agreement)) AS no_reason,
       regexp_replace(regress.try(format($$SELECT outreach.end_sharing_agreement(%s, current_date + 400, 'x')::text$$, :ucas_agreement)), '[0-9]{4}-[0-9]{2}-[0-9]{2}', 'DATE', 'g') AS after_its_end;
SELECT outreach.end_sharing_agreement(:ucas_agreement, current_date - 1, 'UCAS withdrew the agreement');
SELECT regexp_replace(regress.try(format($$SELECT outreach.end_sharing_agreement(%s, current_date - 1, 'again')::text$$, :ucas_agreement)), '([0-9]{4}-[0-9]{2}-[0-9]{2}|agreement [0-9]+)', 'X', 'g') AS again;
SET ROLE regress_lk_daemon;
SELECT regexp_replace(regress.lk_try(format('SELECT outreach.export_finish(%s, %L, %s)::text', :ucas_building, repeat('6', 64), :ucas_building_rows)), '[0-9]{4}-[0-9]{2}-[0-9]{2}', 'DATE') AS finish_after_the_end,
       regexp_replace(regress.lk_try($$SELECT export_id::text FROM outreach.export_begin('ucas', '2025-10-01')$$), '[0-9]{4}-[0-9]{2}-[0-9]{2}', 'DATE') AS begin_after_the_end;
SELECT outreach.export_abandon(:ucas_building, 'agreement ended');
RESET ROLE;
SELECT outreach.record_sharing_agreement('ucas', 'test gateway', 'TEST-ucas', 'the tests', current_date, current_date + 365) > 0 AS ucas_renewed;

-----------------------------------------------------------------------------------------------
-- Participants: two members, every reason to be left out of an export
-----------------------------------------------------------------------------------------------
SELECT outreach.create_controller('regress_lk_a', 'Linkage A') AS lk_a,
       outreach.create_controller('regress_lk_b', 'Linkage B') AS lk_b \gset
CREATE ROLE regress_lk_dpo_a;
CREATE ROLE regress_lk_dpo_b;
CREATE ROLE regress_lk_reader_a;
CREATE ROLE regress_lk_writer_a;
CREATE ROLE regress_lk_analyst_a;
CREATE ROLE regress_lk_staff;
SELECT outreach.grant_controller_access('regress_lk_dpo_a', 'regress_lk_a', 'dpo'),
       outreach.grant_controller_access('regress_lk_dpo_b', 'regress_lk_b', 'dpo'),
       outreach.grant_controller_access('regress_lk_reader_a', 'regress_lk_a', 'reader'),
       outreach.grant_controller_access('regress_lk_writer_a', 'regress_lk_a', 'writer'),
       outreach.grant_controller_access('regress_lk_analyst_a', 'regress_lk_a', 'analyst');
GRANT outreach_processor TO regress_lk_staff;
INSERT INTO outreach.institution (urn, name) VALUES (912345, 'Regress LK Hilltop School') RETURNING institution_id AS school \gset
INSERT INTO outreach.notification_channel (controller_id, kind, target)
VALUES (:lk_a, 'webhook', 'https://a.example/outreach'), (:lk_b, 'email', 'dpo@b.example');

-- Identifiers are checked on the way in (22P02 with the reason), for members too.
SET ROLE regress_lk_writer_a;
SELECT regress.try($$INSERT INTO outreach.participant (external_ref, upn) VALUES ('x', 'A801200005001')$$) AS bad_upn,
       regress.try($$INSERT INTO outreach.participant (external_ref, uln) VALUES ('x', '12345')$$) AS bad_uln;
RESET ROLE;

-- As of 2025-10-01 (academic year 2025) the cohorts in scope are: dfe 2017-2027, hesa 2015-2025,
-- ucas 2022-2026 (Expected HE Entry Year, or the adult override).
INSERT INTO outreach.participant (controller_id, external_ref, first_name, last_name, date_of_birth, postcode, sex,
                                  institution_id, upn, uln, withdrawn_at, restricted_at,
                                  he_entry_year_override, he_entry_year_override_reason)
VALUES
  (:lk_a, 'a-ann',        'Ann',   'Smith',       '2007-03-01', 'SW1A 1AA', 'Female', :school, 'B801200005001', '9999999998', NULL, NULL, NULL, NULL),
  (:lk_a, 'a-bob',        ' Bob ', 'O''Brien, Jr', '2008-01-15', 'M1 1AE',   'male',   NULL,    NULL, NULL, NULL, NULL, NULL, NULL),
  (:lk_a, 'a-zoe',        'Zoë',   'Say "Zed"',   '2007-12-01', 'EC1A 1BB', NULL,     NULL,    NULL, '1234567899', NULL, NULL, NULL, NULL),
  (:lk_a, 'a-gap',        'Gus',   'Gap',         '2004-12-01', 'B1 1AA',   'm',      NULL,    NULL, NULL, NULL, NULL, NULL, NULL),
  (:lk_a, 'a-adult',      'Ada',   'Adult',       '1990-05-05', 'M1 1AE',   'F',      NULL,    NULL, NULL, NULL, NULL, 2026, 'Access course'),
  (:lk_a, 'a-nopostcode', 'Nia',   'Nopost',      '2007-04-04', NULL,       'female', NULL,    NULL, NULL, NULL, NULL, NULL, NULL),
  (:lk_a, 'a-withdrawn',  'Wil',   'Drawn',       '2007-03-01', 'B1 1AA',   NULL,     NULL,    NULL, NULL, '2025-06-30', NULL, NULL, NULL),
  (:lk_a, 'a-restricted', 'Res',   'Tricted',     '2007-03-01', 'B1 1AA',   NULL,     NULL,    NULL, NULL, NULL, '2025-06-30', NULL, NULL),
  (:lk_a, 'a-marked',     'Mark',  'Ed',          '2007-03-01', 'B1 1AA',   NULL,     NULL,    NULL, NULL, NULL, NULL, NULL, NULL),
  (:lk_a, 'a-noname',     NULL,    'Noname',      '2007-03-01', 'B1 1AA',   NULL,     NULL,    NULL, NULL, NULL, NULL, NULL, NULL),
  (:lk_a, 'a-punct',      '-.-',   'Punct',       '2007-03-01', 'B1 1AA',   NULL,     NULL,    NULL, NULL, NULL, NULL, NULL, NULL),
  (:lk_a, 'a-nodob',      'Dob',   'Missing',     NULL,         'B1 1AA',   NULL,     NULL,    NULL, NULL, NULL, NULL, NULL, NULL),
  (:lk_a, 'a-old',        'Old',   'Timer',       '1995-01-01', 'B1 1AA',   NULL,     NULL,    NULL, NULL, NULL, NULL, NULL, NULL),
  (:lk_a, 'a-young',      'Yan',   'Young',       '2014-06-01', 'B1 1AA',   NULL,     NULL,    NULL, NULL, NULL, NULL, NULL, NULL),
  (:lk_b, 'b-ann',        'Ann',   'Smith',       '2007-03-01', 'SW1A 1AA', 'female', NULL,    NULL, NULL, NULL, NULL, NULL, NULL),
  (:lk_b, 'b-cy',         'Cy',    'Twm',         '2006-11-11', 'CF10 1AA', 'male',   NULL,    NULL, NULL, NULL, NULL, NULL, NULL);
UPDATE outreach.participant SET retention_status = 'ready_for_deletion' WHERE controller_id = :lk_a AND external_ref = 'a-marked';
CREATE TEMP VIEW lk_people AS
SELECT p.controller_id, p.participant_id, p.external_ref FROM outreach.participant p WHERE p.controller_id IN (:lk_a, :lk_b);
GRANT SELECT ON lk_people TO PUBLIC;

-----------------------------------------------------------------------------------------------
-- Exports
-----------------------------------------------------------------------------------------------
SET ROLE regress_lk_daemon;
SELECT export_id AS dfe1, file_name, layout_version, row_count, pgp_public_key IS NULL AS no_key
FROM outreach.export_begin('dfe', '2025-10-01') \gset
SELECT regress.lk_mask(:'file_name') AS file_name, :layout_version AS layout_version, :row_count AS row_count, :'no_key' AS no_key;
RESET ROLE;
-- Who was staged: every eligible participant; each exclusion left out (withdrawn, restricted,
-- not retained, a missing name or a name of punctuation only, no date of birth, no postcode,
-- cohort too old or too young).
SELECT p.external_ref, s.cohort_year FROM outreach.export_row s JOIN lk_people p USING (controller_id, participant_id)
WHERE s.export_id = :dfe1 ORDER BY s.controller_id, s.participant_id;
SELECT p.external_ref AS left_out FROM lk_people p
WHERE NOT EXISTS (SELECT 1 FROM outreach.export_row s WHERE s.export_id = :dfe1 AND s.controller_id = p.controller_id
                    AND s.participant_id = p.participant_id)
ORDER BY 1;
-- The file: header, then RFC 4180 records (a comma or a quote makes a field quoted, quotes
-- doubled; names trimmed; dates DD/MM/YYYY; sex coded F/M; school URN, UPN and ULN where held).
SET ROLE regress_lk_daemon;
SELECT regress.lk_mask(l) AS line FROM outreach.export_lines(:dfe1) AS l;
RESET ROLE;
-- What the daemon writes, read back with the CSV reader, for comparing with the ledger below.
CREATE TEMP TABLE lk_dfe1_file AS
SELECT r.line_no, r.fields, r.error FROM outreach.csv_records(convert_to(
  (SELECT string_agg(l, E'\r\n' ORDER BY n) || E'\r\n' FROM outreach.export_lines(:dfe1) WITH ORDINALITY AS t(l, n)), 'UTF8')) AS r;
SELECT count(*) FILTER (WHERE reference ~ '^1-[0-9A-Z]{26}[0-9A-Z*~$=]$') AS well_formed,
       count(DISTINCT reference) AS distinct_references, count(*) AS staged
FROM outreach.export_row WHERE export_id = :dfe1;
-- Members, DPOs, writers and staff cannot read staged rows or call the export functions.
SET ROLE regress_lk_dpo_a;
SELECT regress.try('SELECT count(*)::text FROM outreach.export_row') AS dpo_reads_staging,
       regress.try(format('SELECT count(*)::text FROM outreach.export_lines(%s)', :dfe1)) AS dpo_lines;
SET ROLE regress_lk_staff;
SELECT regress.try(format('SELECT count(*)::text FROM outreach.export_lines(%s)', :dfe1)) AS staff_lines,
       regress.try('SELECT (count(*) > 0)::text FROM outreach.export') AS staff_reads_exports;
RESET ROLE;

-- Finishing: the row count must match; the checksum must be a SHA-256.
SET ROLE regress_lk_daemon;
SELECT regress.lk_try(format('SELECT outreach.export_finish(%s, %L, %s)::text', :dfe1, repeat('ab', 32), :row_count + 1)) AS wrong_count,
       regress.lk_try(format('SELECT outreach.export_finish(%s, %L, %s)::text', :dfe1, 'not-a-checksum', :row_count)) AS bad_sha,
       regress.lk_try('SELECT outreach.export_finish(999999, NULL, 0)::text') AS unknown_export;
SELECT regress.lk_mask((m - 'created_at')::text) AS manifest,
       (m ->> 'created_at')::timestamptz = (SELECT started_at FROM outreach.export WHERE export_id = :dfe1) AS created_at_is_start,
       m ->> 'created_at' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$' AS created_at_iso_utc
FROM outreach.export_finish(:dfe1, repeat('ab', 32), :row_count) AS m;
SELECT array_agg(k ORDER BY k) AS manifest_keys FROM jsonb_object_keys(outreach.export_finish(:dfe1, repeat('ab', 32), :row_count)) AS k;
-- A repeated finish (its reply was lost) answers the same; anything else on a finished export is refused.
SELECT regress.lk_try(format('SELECT outreach.export_finish(%s, %L, %s)::text', :dfe1, repeat('cd', 32), :row_count)) AS finish_other_sha,
       regress.lk_try(format('SELECT count(*)::text FROM outreach.export_lines(%s)', :dfe1)) AS lines_after_finish,
       regress.lk_try(format('SELECT outreach.export_abandon(%s, %L)::text', :dfe1, 'too late')) AS abandon_finished;
SELECT recipient, layout_version, as_of, entry_year_from, entry_year_to, status, regress.lk_mask(file_name) AS file_name,
       row_count, sha256 = repeat('ab', 32) AS sha_kept, started_by, finished_at IS NOT NULL AS finished, error
FROM outreach.export WHERE export_id = :dfe1;
RESET ROLE;
SELECT count(*) AS staged_rows_left FROM outreach.export_row;

-- The ledger holds exactly the rows of the file.
SELECT f.line_no, f.error, coalesce(p.external_ref, f.fields[1]) AS in_ledger_as
FROM lk_dfe1_file f
LEFT JOIN outreach.disclosure d ON d.recipient = 'dfe' AND d.export_id = :dfe1 AND d.reference = f.fields[1]
LEFT JOIN lk_people p USING (controller_id, participant_id)
ORDER BY f.line_no;
SELECT count(*) AS ledger_rows_not_in_file FROM outreach.disclosure d
WHERE d.export_id = :dfe1 AND NOT EXISTS (SELECT 1 FROM lk_dfe1_file f WHERE f.fields[1] = d.reference);
SELECT p.external_ref, d.recipient, d.cohort_year, d.export_id = :dfe1 AS this_export
FROM outreach.disclosure d JOIN lk_people p USING (controller_id, participant_id) ORDER BY 2, 1;

-- An identical run sends nothing (nothing changed); a change of a field the recipient received
-- sends that participant again, under the same reference.
SET ROLE regress_lk_daemon;
SELECT row_count AS unchanged_rows FROM outreach.export_begin('dfe', '2025-10-01') \gset
SELECT :unchanged_rows AS unchanged_rows;
RESET ROLE;
UPDATE outreach.participant SET postcode = 'M2 2BB' WHERE controller_id = :lk_a AND external_ref = 'a-bob';
SET ROLE regress_lk_daemon;
SELECT export_id AS dfe2, row_count FROM outreach.export_begin('dfe', '2025-10-01') \gset
SELECT status, error FROM outreach.export WHERE recipient = 'dfe' ORDER BY export_id;
SELECT regress.lk_mask(l) AS line FROM outreach.export_lines(:dfe2) AS l;
SELECT outreach.export_finish(:dfe2, repeat('0', 64), :row_count) IS NOT NULL AS finished;
RESET ROLE;
SELECT count(DISTINCT reference) AS references_of_a_bob, count(*) AS times_sent
FROM outreach.disclosure d JOIN lk_people p USING (controller_id, participant_id) WHERE p.external_ref = 'a-bob';

-- References: one per participant and recipient, different for every recipient and for the same
-- person registered by two members, the same in every export.
SET ROLE regress_lk_daemon;
SELECT export_id AS hesa1, row_count AS hesa_rows FROM outreach.export_begin('hesa', '2025-10-01') \gset
SELECT regress.lk_mask(l) AS line FROM outreach.export_lines(:hesa1) AS l;
SELECT outreach.export_finish(:hesa1, repeat('1', 64), :hesa_rows) IS NOT NULL AS finished;
SELECT export_id AS ucas1, row_count AS ucas_rows FROM outreach.export_begin('ucas', '2025-10-01') \gset
SELECT regress.lk_mask(l) AS line FROM outreach.export_lines(:ucas1) AS l;
SELECT outreach.export_finish(:ucas1, repeat('2', 64), :ucas_rows) IS NOT NULL AS finished;
RESET ROLE;
SELECT p.external_ref, count(DISTINCT d.recipient) AS recipients, count(DISTINCT d.reference) AS references,
       count(DISTINCT (d.recipient, d.reference)) AS recipient_references
FROM outreach.disclosure d JOIN lk_people p USING (controller_id, participant_id)
GROUP BY p.external_ref ORDER BY 1;
SELECT count(*) AS shared_references FROM outreach.disclosure d1 JOIN outreach.disclosure d2
  ON d1.reference = d2.reference AND (d1.controller_id, d1.participant_id, d1.recipient) <> (d2.controller_id, d2.participant_id, d2.recipient);

-- References of everyone sent, per recipient, for building outcome files below (never shown).
CREATE TEMP TABLE lk_ref AS
SELECT DISTINCT ON (p.external_ref, d.recipient) p.external_ref, d.recipient, d.reference
FROM outreach.disclosure d JOIN lk_people p USING (controller_id, participant_id)
ORDER BY p.external_ref, d.recipient, d.export_id DESC;
GRANT SELECT ON lk_ref TO PUBLIC;
CREATE FUNCTION pg_temp.ref(who text, rcpt text DEFAULT 'dfe') RETURNS text LANGUAGE sql AS
$$ SELECT reference FROM lk_ref WHERE external_ref = who AND recipient = rcpt $$;

-- The new recipient exports at once: its layout, codes (" FEMALE " and "Male" as written by the
-- DBA match any case), YYYYMMDD dates, member code, a required sex (the participants without a
-- mapped sex are left out), the OpenPGP key and its file pattern.
SET ROLE regress_lk_daemon;
SELECT export_id AS charity1, regress.lk_mask(file_name) AS file_name, row_count, left(pgp_public_key, 36) AS key
FROM outreach.export_begin('regress_charity', '2025-10-01') \gset
SELECT :'file_name' AS file_name, :row_count AS row_count, :'key' AS key;
SELECT regress.lk_mask(l) AS line FROM outreach.export_lines(:charity1) AS l;

-- Begin again while one is building: the first is abandoned (a crashed run), with its rows.
SELECT export_id AS charity2, row_count AS charity2_rows FROM outreach.export_begin('regress_charity', '2025-10-01') \gset
RESET ROLE;
SELECT export_id = :charity1 AS first, status, error, (SELECT count(*) FROM outreach.export_row s WHERE s.export_id = x.export_id) AS staged
FROM outreach.export x WHERE recipient = 'regress_charity' ORDER BY export_id;
SET ROLE regress_lk_daemon;
SELECT regress.lk_try(format('SELECT count(*)::text FROM outreach.export_lines(%s)', :charity1)) AS lines_of_abandoned,
       regress.lk_try(format('SELECT outreach.export_finish(%s, %L, %s)::text', :charity1, repeat('3', 64), :charity2_rows)) AS finish_abandoned;
-- Given up explicitly: abandoned with the reason, nothing in the ledger; abandoning again is a no-op.
SELECT outreach.export_abandon(:charity2, 'disk full');
SELECT outreach.export_abandon(:charity2, 'again');
SELECT status, error FROM outreach.export WHERE export_id = :charity2;
RESET ROLE;
SELECT count(*) AS charity_ledger_rows, (SELECT count(*) FROM outreach.export_row) AS staged_rows
FROM outreach.disclosure WHERE recipient = 'regress_charity';

-- The daemon reads which exports exist and which recipients (to rename files after a crash).
SET ROLE regress_lk_daemon;
SELECT recipient, status, count(*) FROM outreach.export WHERE recipient IN ('dfe', 'hesa', 'ucas', 'regress_charity')
GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(*) AS recipients FROM outreach.recipient;
RESET ROLE;

-----------------------------------------------------------------------------------------------
-- The DPO's record of recipients, under row security
-----------------------------------------------------------------------------------------------
SET ROLE regress_lk_dpo_a;
SELECT p.external_ref, d.recipient, d.recipient_title, d.exported_at IS NOT NULL AS dated, regress.lk_mask(d.file_name) AS file_name,
       d.reference ~ '^1-' AS has_reference, d.entry_year
FROM outreach.participant_disclosures d JOIN outreach.participant_core p USING (controller_id, participant_id)
ORDER BY 1, 2, d.export_id;
SELECT count(*) AS other_members_rows FROM outreach.participant_disclosures WHERE controller_id <> :lk_a;
SELECT count(*) AS ledger_rows_visible, count(*) FILTER (WHERE controller_id <> :lk_a) AS of_others FROM outreach.disclosure;
SET ROLE regress_lk_dpo_b;
SELECT d.recipient, count(*) FROM outreach.participant_disclosures d GROUP BY 1 ORDER BY 1;
SELECT count(*) AS other_members_rows FROM outreach.participant_disclosures WHERE controller_id <> :lk_b;
SET ROLE regress_lk_reader_a;
SELECT regress.try('SELECT count(*)::text FROM outreach.participant_disclosures') AS reader_disclosures,
       regress.try('SELECT count(*)::text FROM outreach.disclosure') AS reader_ledger;
RESET ROLE;

-----------------------------------------------------------------------------------------------
-- Art. 19 follow-ups: rectification, restriction, erasure
-----------------------------------------------------------------------------------------------
-- Already queued: a-bob's postcode changed after the first dfe export (one follow-up to dfe).
-- Now a writer corrects a surname (sent to dfe, hesa and ucas) and a school (sent to dfe only),
-- changes a field no recipient received (no follow-up), and a DPO restricts processing.
SET ROLE regress_lk_writer_a;
UPDATE outreach.participant SET last_name = 'Smyth' WHERE external_ref = 'a-ann';
UPDATE outreach.participant SET institution_id = NULL WHERE external_ref = 'a-ann';
UPDATE outreach.participant SET external_ref = 'a-zoe' WHERE external_ref = 'a-zoe';
UPDATE outreach.participant SET first_name = ' Zoë ' WHERE external_ref = 'a-zoe';   -- trimmed: no change sent
UPDATE outreach.participant SET restricted_at = '2025-11-01' WHERE external_ref = 'a-gap';
RESET ROLE;
-- Erasure by the DPO.
SET ROLE regress_lk_dpo_b;
SELECT (outreach.erase_participant(:lk_b, (SELECT participant_id FROM lk_people WHERE external_ref = 'b-cy'))).reasons;
RESET ROLE;
SET ROLE regress_lk_dpo_a;
SELECT f.followup_id IS NOT NULL AS queued, coalesce(p.external_ref, '(deleted)') AS participant, f.recipient, f.kind, f.fields,
       f.reference ~ '^1-' AS has_reference, f.batch_id IS NOT NULL AS sent
FROM outreach.recipient_followup f LEFT JOIN outreach.participant_core p USING (controller_id, participant_id)
ORDER BY f.followup_id;
SELECT count(*) AS of_others FROM outreach.recipient_followup WHERE controller_id <> :lk_a;
-- Batched per member, recipient and statement; one notice per batch to each channel of the member.
SELECT b.recipient, b.items, b.rectifications, b.erasures, b.restrictions, b.deliveries FROM outreach.recipient_followup_batch b
ORDER BY b.batch_id;
SELECT d.purpose, d.kind, d.target, regress.lk_mask(d.subject) AS subject,
       d.payload ->> 'recipient' AS recipient, d.payload -> 'counts' AS counts,
       jsonb_array_length(d.payload -> 'items') AS items, d.payload #>> '{items,0,kind}' AS first_kind
FROM outreach.notice_delivery d WHERE d.purpose = 'recipient_followup' ORDER BY d.delivery_id;
SET ROLE regress_lk_dpo_b;
SELECT f.participant_id IS NOT NULL AS kept_id, f.recipient, f.kind FROM outreach.recipient_followup f ORDER BY f.recipient;
SELECT b.recipient, b.items, b.erasures, b.deliveries FROM outreach.recipient_followup_batch b ORDER BY b.recipient;
SELECT d.kind, d.target, d.payload ->> 'recipient' AS recipient, d.payload -> 'counts' AS counts
FROM outreach.notice_delivery d WHERE d.purpose = 'recipient_followup' ORDER BY d.delivery_id;
RESET ROLE;
-- The ledger keeps the erased participant's disclosures (pseudonymous), for the record.
SELECT count(*) AS ledger_rows_of_erased FROM outreach.disclosure d
WHERE d.controller_id = :lk_b AND NOT EXISTS (SELECT 1 FROM outreach.participant p
                                              WHERE p.controller_id = d.controller_id AND p.participant_id = d.participant_id);

-- Changed while its export was being built: participants already sent get their follow-ups from
-- the triggers; those sent for the first time by this export are found by finish, which compares
-- what it staged with the rows as they are now.
UPDATE outreach.participant SET postcode = 'EC2A 2BB' WHERE controller_id = :lk_a AND external_ref = 'a-zoe';
INSERT INTO outreach.participant (controller_id, external_ref, first_name, last_name, date_of_birth, postcode)
VALUES (:lk_a, 'a-new', 'Nell', 'New', '2008-02-02', 'B2 2BB'), (:lk_a, 'a-gone', 'Gil', 'Gone', '2008-03-03', 'B3 3BB');
SET ROLE regress_lk_daemon;
SELECT export_id AS dfe3, row_count AS dfe3_rows FROM outreach.export_begin('dfe', '2025-10-01') \gset
RESET ROLE;
SELECT p.external_ref FROM outreach.export_row s JOIN lk_people p USING (controller_id, participant_id)
WHERE s.export_id = :dfe3 ORDER BY 1;
SET ROLE regress_lk_writer_a;
UPDATE outreach.participant SET date_of_birth = '2007-12-02', sex = 'female' WHERE external_ref = 'a-zoe';
UPDATE outreach.participant SET last_name = 'Newer', sex = 'F' WHERE external_ref = 'a-new';
UPDATE outreach.participant SET external_ref = 'a-gone' WHERE external_ref = 'a-gone';   -- not a field sent
DELETE FROM outreach.participant WHERE external_ref IN ('a-ann', 'a-gone');
UPDATE outreach.participant SET restricted_at = '2025-12-01' WHERE external_ref = 'a-bob';
RESET ROLE;
SET ROLE regress_lk_daemon;
SELECT outreach.export_finish(:dfe3, repeat('4', 64), :dfe3_rows) IS NOT NULL AS finished;
RESET ROLE;
SELECT followups FROM outreach.export WHERE export_id = :dfe3;
SELECT coalesce(p.external_ref, '(deleted)') AS participant, f.recipient, f.kind, f.fields, f.export_id = :dfe3 AS this_export,
       f.batch_id IS NOT NULL AS sent
FROM outreach.recipient_followup f LEFT JOIN lk_people p USING (controller_id, participant_id)
WHERE f.queued_at >= (SELECT started_at FROM outreach.export WHERE export_id = :dfe3)
ORDER BY f.followup_id;

-- Art. 19 in the recipient's next file: a layout with a record_action column (coded as the
-- recipient asks) carries a record for each person it received who was erased, withdrew or
-- was restricted since (only the reference and the action), marks corrected records sent again
-- as corrections, and the follow-ups they answer as carried by that export.
SELECT regress.try($$SELECT outreach.define_layout('ucas', 'export', '[{"header": "Ref", "field": "reference"}, {"header": "Action", "field": "record_action"}]',
                                                  value_codes => '{"record_action": {"delete": "D"}}')::text$$) AS unknown_action;
SELECT outreach.define_layout('ucas', 'export',
  '[{"header": "Ref", "field": "reference"}, {"header": "Action", "field": "record_action"},
    {"header": "Forename", "field": "forename"}, {"header": "Surname", "field": "surname"},
    {"header": "DOB", "field": "date_of_birth"}, {"header": "Postcode", "field": "postcode"},
    {"header": "Cohort", "field": "entry_year"}]',
  value_codes => '{"record_action": {"New": "N", "correction": "C", "erasure": "D", "withdrawal": "D", "restriction": "R"}}',
  note => 'with Art. 19 records') > 100 AS ucas_layout_with_actions;
SET ROLE regress_lk_writer_a;
UPDATE outreach.participant SET withdrawn_at = '2025-12-02' WHERE external_ref = 'a-gap';
RESET ROLE;
SELECT f.kind, coalesce(p.external_ref, '(deleted)') AS participant, f.reference = pg_temp.ref(p.external_ref, 'ucas') AS known_reference
FROM outreach.recipient_followup f LEFT JOIN lk_people p USING (controller_id, participant_id)
WHERE f.recipient = 'ucas' AND f.carried_by IS NULL ORDER BY 2, 1;
SET ROLE regress_lk_daemon;
SELECT export_id AS ucas2, row_count AS ucas2_rows FROM outreach.export_begin('ucas', '2025-10-01') \gset
SELECT :ucas2_rows AS ucas2_rows, action_rows FROM outreach.export WHERE export_id = :ucas2;
SELECT regress.lk_mask(l) AS line FROM outreach.export_lines(:ucas2) AS l;
SELECT outreach.export_finish(:ucas2, repeat('5', 64), :ucas2_rows) ->> 'action_rows' AS manifest_action_rows;
RESET ROLE;
SELECT f.kind, f.carried_by = :ucas2 AS carried_by_this_export, count(*)
FROM outreach.recipient_followup f WHERE f.recipient = 'ucas' GROUP BY 1, 2 ORDER BY 1, 2;
-- The action records are not disclosures: the ledger holds the participants sent, as before.
SELECT count(*) AS ledger_rows_of_ucas2 FROM outreach.disclosure WHERE export_id = :ucas2;
-- A restriction lifted before any file told the recipient: its follow-up is cancelled, and no
-- file says the person is restricted.
SET ROLE regress_lk_writer_a;
UPDATE outreach.participant SET restricted_at = now() WHERE external_ref = 'a-new';
RESET ROLE;
SET ROLE regress_lk_dpo_a;
SELECT outreach.lift_restriction(:lk_a, ARRAY[(SELECT participant_id FROM lk_people WHERE external_ref = 'a-new')],
                                 'restricted by mistake') AS lifted;
SELECT f.kind, f.cancelled_at IS NOT NULL AS cancelled, f.carried_by IS NOT NULL AS carried
FROM outreach.recipient_followup f JOIN lk_people p USING (controller_id, participant_id)
WHERE p.external_ref = 'a-new' AND f.kind = 'restriction' ORDER BY f.recipient;
RESET ROLE;
-- Told once: the next export carries none again, and sends nothing unchanged.
SET ROLE regress_lk_daemon;
SELECT export_id AS ucas3, row_count AS ucas3_rows FROM outreach.export_begin('ucas', '2025-10-01') \gset
SELECT :ucas3_rows AS ucas3_rows;
SELECT regress.lk_mask(l) AS line FROM outreach.export_lines(:ucas3) AS l;
SELECT outreach.export_abandon(:ucas3, 'nothing to send');
RESET ROLE;

-----------------------------------------------------------------------------------------------
-- Outcome imports
-----------------------------------------------------------------------------------------------
-- A header that does not match the layout: the whole file is refused (22P04), nothing imported.
SET ROLE regress_lk_daemon;
SELECT regress.lk_try($$SELECT count(*)::text FROM outreach.import_outcomes('dfe', 'wrong.csv',
         convert_to(E'PupilReference,KeyStage,Year,Measure,Value\r\nx,KS4,2023,att8,50\r\n', 'UTF8'))$$) AS wrong_header,
       regress.lk_try($$SELECT count(*)::text FROM outreach.import_outcomes('dfe', 'short.csv',
         convert_to(E'PupilReference,KeyStage\r\n', 'UTF8'))$$) AS short_header,
       regress.lk_try($$SELECT count(*)::text FROM outreach.import_outcomes('dfe', 'empty.csv', ''::bytea)$$) AS empty_file,
       regress.lk_try($$SELECT count(*)::text FROM outreach.import_outcomes('dfe', 'latin1.csv', '\xa3'::bytea)$$) AS bad_header_bytes;
RESET ROLE;
SELECT count(*) AS imports_recorded FROM outreach.outcome_import WHERE recipient = 'dfe';

-- A file with good rows and every kind of bad one. Header in another case and with spaces: accepted.
CREATE TEMP TABLE lk_files (name text PRIMARY KEY, content bytea);
GRANT SELECT ON lk_files TO PUBLIC;
INSERT INTO lk_files VALUES ('dfe_outcomes.csv',
  convert_to(
    E'pupilreference, KeyStage ,AcademicYear,Measure,Value\r\n' ||                                    -- 1
    pg_temp.ref('a-zoe') || E',KS4,2022/23,attainment8,61.5\r\n' ||                                    -- 2 imported
    pg_temp.ref('a-zoe') || E',KS4,2022/23,eng_maths_4plus,1\r\n' ||                                   -- 3 imported
    pg_temp.ref('a-zoe') || E',KS4,2022/23,attainment8,61.5\r\n' ||                                    -- 4 duplicate of 2
    pg_temp.ref('a-zoe') || E',KS4,2022/23,attainment8,70\r\n' ||                                      -- 5 conflicts with 2
    pg_temp.ref('a-adult') || E',KS5,2024,aps,"38.5"\n' ||                                             -- 6 imported (LF, quoted)
    pg_temp.ref('b-ann') || E',ks4,2023,attainment8,55\r\n' ||                                         -- 7 imported (member B)
    lower(pg_temp.ref('a-adult')) || E',KS4,2021,attainment8,40\r\n' ||                                  -- 8 imported (case)
    pg_temp.ref('b-ann', 'hesa') || E',KS4,2023,attainment8,1\r\n' ||                                  -- 9 another recipient's reference
    E'1-00000000000000000000000000X,KS4,2023,attainment8,1\r\n' ||                                     -- 10 never sent
    E'not-a-reference,KS4,2023,attainment8,1\r\n' ||                                                   -- 11 malformed
    pg_temp.ref('a-ann') || E',KS4,2023,attainment8,50\r\n' ||                                         -- 12 deleted since
    pg_temp.ref('a-bob') || E',KS4,2023,attainment8,50\r\n' ||                                         -- 13 restricted
    pg_temp.ref('a-adult') || E',KS9,2023,attainment8,1\r\n' ||                                          -- 14 unknown code
    pg_temp.ref('a-adult') || E',KS4,23/24,attainment8,1\r\n' ||                                         -- 15 bad year
    pg_temp.ref('a-adult') || E',KS4,2023,,1\r\n' ||                                                     -- 16 no measure
    pg_temp.ref('a-adult') || E',KS4,2023,attainment8\r\n' ||                                            -- 17 too few fields
    pg_temp.ref('a-adult') || E',KS4,2023,attainment8,1,extra\r\n' ||                                    -- 18 too many
    E'\r\n' ||                                                                                         -- 19 empty line
    pg_temp.ref('a-adult') || E',KS4,2023,att"8,1\r\n' ||                                                -- 20 stray quote
    pg_temp.ref('a-adult') || E',KS4,2023,"attainment8"x,1\r\n', 'UTF8')                                 -- 21 text after quote
  || convert_to(pg_temp.ref('a-adult') || ',KS4,2023,', 'UTF8') || '\xe96c6576'::bytea || convert_to(E',1\r\n', 'UTF8')  -- 22 Latin-1 "élev"
  || convert_to(pg_temp.ref('a-adult') || E',KS5,2024,"two\nlines",1\r\n', 'UTF8')                     -- 23-24 imported (quoted newline)
  || convert_to(pg_temp.ref('a-adult') || E',KS5,2024,level3,1', 'UTF8'));                             -- 25 no line terminator
SET ROLE regress_lk_daemon;
SELECT import_id > 0 AS has_id, line_no, status, regress.lk_mask(reason) AS reason
FROM outreach.import_outcomes('dfe', 'dfe_outcomes.csv', (SELECT content FROM lk_files WHERE name = 'dfe_outcomes.csv'));
SELECT recipient, layout_version, file_name, sha256 = encode(sha256((SELECT content FROM lk_files WHERE name = 'dfe_outcomes.csv')), 'hex') AS sha_ok,
       same_as IS NULL AS first_time, lines, inserted, updated, unchanged, rejected, duplicates, unknown_references
FROM outreach.outcome_import WHERE recipient = 'dfe' ORDER BY import_id;
RESET ROLE;
SELECT p.external_ref, o.recipient, o.outcome, o.academic_year, o.measure, o.provider_ukprn, o.value, o.line_no
FROM outreach.outcome o JOIN lk_people p USING (controller_id, participant_id) ORDER BY 1, 3, 4, 5;

-- The same file again: nothing changes (every good line counts as unchanged), the same lines are reported.
SET ROLE regress_lk_daemon;
SELECT line_no, status FROM outreach.import_outcomes('dfe', 'dfe_outcomes_again.csv',
                                                     (SELECT content FROM lk_files WHERE name = 'dfe_outcomes.csv'));
SELECT file_name, same_as IS NOT NULL AS same_file_seen, lines, inserted, updated, unchanged, rejected, duplicates, unknown_references
FROM outreach.outcome_import WHERE recipient = 'dfe' ORDER BY import_id;
RESET ROLE;
SELECT count(*) AS outcomes, count(DISTINCT import_id) AS set_by_imports, max(line_no) AS max_line FROM outreach.outcome
WHERE controller_id IN (:lk_a, :lk_b);
-- A corrected value replaces the old one (updated), from staff (the processor role) as well.
SET ROLE regress_lk_staff;
SELECT count(*) AS not_imported FROM outreach.import_outcomes('dfe', 'dfe_correction.csv', convert_to(
  E'PupilReference,KeyStage,AcademicYear,Measure,Value\r\n' || pg_temp.ref('a-zoe') || E',KS4,2022,attainment8,62\r\n', 'UTF8'));
SELECT inserted, updated, unchanged FROM outreach.outcome_import WHERE file_name = 'dfe_correction.csv';
RESET ROLE;
SELECT value FROM outreach.outcome o JOIN lk_people p USING (controller_id, participant_id)
WHERE p.external_ref = 'a-zoe' AND o.measure = 'attainment8';

-- A file cut off inside a quoted field: the reader cannot tell where that record ends, so the
-- line it starts on is reported with everything after it; the lines before are imported.
SET ROLE regress_lk_daemon;
SELECT line_no, status, reason FROM outreach.import_outcomes('dfe', 'dfe_cut.csv', convert_to(
  E'PupilReference,KeyStage,AcademicYear,Measure,Value\r\n' ||
  pg_temp.ref('a-adult') || E',KS4,2020,attainment8,33\r\n' ||
  pg_temp.ref('a-adult') || E',KS4,2020,"progress8\r\n' ||
  pg_temp.ref('a-adult') || E',KS4,2020,ebacc,1\r\n', 'UTF8'));
SELECT lines, inserted, rejected FROM outreach.outcome_import WHERE file_name = 'dfe_cut.csv';
RESET ROLE;

-- A layout with a fixed outcome kind, an ignored column, a provider; and a hesa file.
SET ROLE regress_lk_daemon;
SELECT line_no, status, regress.lk_mask(reason) FROM outreach.import_outcomes('regress_charity', 'charity.csv', convert_to(
  E'Ref,Year,Note,Provider\n1-00000000000000000000000000X,2025,x,Somewhere\n', 'UTF8'));
SELECT line_no, status, regress.lk_mask(reason) FROM outreach.import_outcomes('hesa', 'hesa_outcomes.csv', convert_to(
  E'REFERENCE,OUTCOME,ACADEMICYEAR,UKPRN,PROVIDER,VALUE\r\n' ||
  pg_temp.ref('a-nopostcode', 'hesa') || E',HE_ENTRY,2025/26,10007768,University of Somewhere,first degree\r\n' ||
  pg_temp.ref('a-nopostcode', 'hesa') || E',CONTINUATION,2026,10007768,,continuing\r\n' ||
  pg_temp.ref('b-ann', 'hesa') || E',ENTRY,2025,,Another College,\r\n' ||
  pg_temp.ref('b-ann', 'hesa') || E',HE_ENTRY,2025,1234,,x\r\n' ||
  pg_temp.ref('b-ann', 'hesa') || E',HE_ENTRY,2025,,,x\r\n' ||
  pg_temp.ref('b-ann', 'hesa') || E',CONTINUATION,2026,,,\r\n', 'UTF8'));
RESET ROLE;

-- Members see their own participants' outcomes only; analysts see the summary.
SET ROLE regress_lk_reader_a;
SELECT p.external_ref, a.key_stage, a.academic_year, a.measure, a.value, a.numeric_value
FROM outreach.outcome_attainment a JOIN outreach.participant_core p USING (controller_id, participant_id) ORDER BY 1, 2, 3, 4;
SELECT p.external_ref, e.entry_year, e.provider_ukprn, e.provider_name, e.detail
FROM outreach.outcome_he_entry e JOIN outreach.participant_core p USING (controller_id, participant_id) ORDER BY 1;
SELECT p.external_ref, c.academic_year, c.provider_ukprn, c.status
FROM outreach.outcome_continuation c JOIN outreach.participant_core p USING (controller_id, participant_id) ORDER BY 1;
SELECT count(*) AS outcomes_of_others FROM outreach.outcome WHERE controller_id <> :lk_a;
SELECT regress.try($$SELECT count(*)::text FROM outreach.import_outcomes('dfe', 'x.csv', '\x'::bytea)$$) AS reader_imports,
       regress.try('SELECT count(*)::text FROM outreach.outcome_import') AS reader_reads_imports;
SET ROLE regress_lk_analyst_a;
SELECT controller_code, recipient, outcome, academic_year, measure, participants, participants_sent, mean_value
FROM outreach.progression_summary ORDER BY 2, 3, 4, 5;
SELECT regress.try('SELECT count(*)::text FROM outreach.outcome') AS analyst_reads_rows;
SET ROLE regress_lk_dpo_b;
SELECT o.recipient, o.outcome, o.academic_year, o.value FROM outreach.outcome o ORDER BY 1, 2, 3;
SELECT controller_code, recipient, outcome, participants, participants_sent FROM outreach.progression_summary ORDER BY 2, 3;
RESET ROLE;

-- Erasure takes the outcomes with the participant.
SELECT count(*) AS outcomes_before FROM outreach.outcome o JOIN lk_people p USING (controller_id, participant_id)
WHERE p.external_ref = 'a-zoe';
SET ROLE regress_lk_dpo_a;
SELECT (outreach.erase_participant(:lk_a, (SELECT participant_id FROM lk_people WHERE external_ref = 'a-zoe'))).reasons;
RESET ROLE;
SELECT count(*) AS outcomes_after FROM outreach.outcome o
WHERE o.controller_id = :lk_a AND NOT EXISTS (SELECT 1 FROM outreach.participant p
                                              WHERE p.controller_id = o.controller_id AND p.participant_id = o.participant_id);
SELECT f.recipient, f.kind FROM outreach.recipient_followup f JOIN outreach.tombstone t USING (controller_id, participant_id)
WHERE f.controller_id = :lk_a AND f.kind = 'erasure' AND t.reasons = '{erasure_request}' ORDER BY 1;

-- How outcomes are kept (0.6.0): per member, recipient and block of 65536 participant ids, the
-- facts in key order (participant, outcome, year, measure, UKPRN; byte order), the arrays of a
-- block as long as each other; outreach.outcome shows them a row each.
SELECT count(*) AS blocks,
       bool_and(k.in_order) AS facts_in_key_order,
       bool_and(k.right_block) AS ids_in_their_block,
       bool_and(cardinality(b.outcomes) = cardinality(b.participant_ids) AND cardinality(b.outcome_values) = cardinality(b.participant_ids)
                AND cardinality(b.updated_ats) = cardinality(b.participant_ids)) AS arrays_aligned,
       sum(cardinality(b.participant_ids)) = (SELECT count(*) FROM outreach.outcome) AS view_shows_every_fact
FROM outreach.outcome_block b
CROSS JOIN LATERAL (
  SELECT array_agg(ROW(u.p, u.o COLLATE "C", u.y, u.m COLLATE "C", u.k)::text ORDER BY u.n)
           = array_agg(ROW(u.p, u.o COLLATE "C", u.y, u.m COLLATE "C", u.k)::text
                       ORDER BY u.p, u.o COLLATE "C", u.y, u.m COLLATE "C", u.k) AS in_order,
         bool_and(u.p >> 16 = b.block) AS right_block
  FROM unnest(b.participant_ids, b.outcomes, b.academic_years, b.measures, b.provider_ukprns) WITH ORDINALITY
    AS u(p, o, y, m, k, n)) AS k;

-- A damaged block (arrays of different lengths, written by hand) is refused by the next import
-- touching it, with nothing stored.
BEGIN;
UPDATE outreach.outcome_block SET outcome_values = outcome_values[2:] WHERE controller_id = :lk_a AND recipient = 'dfe';
SELECT regress.lk_try(format($$SELECT count(*)::text FROM outreach.import_outcomes('dfe', 'dfe_damaged.csv', %L)$$,
         convert_to(E'PupilReference,KeyStage,AcademicYear,Measure,Value\r\n' || pg_temp.ref('a-adult') || E',KS4,2021,attainment8,41\r\n', 'UTF8')))
       AS damaged_block;
ROLLBACK;

-- Deleting a participant rewrites their block without their facts and leaves the others' as
-- they were; deleting everyone in a block deletes the block.
CREATE TEMP TABLE lk_facts_before AS SELECT * FROM outreach.outcome;
SELECT p.external_ref AS deleted, count(*) AS their_facts
FROM outreach.outcome o JOIN lk_people p USING (controller_id, participant_id)
WHERE p.external_ref = 'a-adult' GROUP BY 1;
DELETE FROM outreach.participant WHERE participant_id = (SELECT participant_id FROM lk_people WHERE external_ref = 'a-adult');
SELECT (SELECT count(*) FROM lk_facts_before) - (SELECT count(*) FROM outreach.outcome) AS facts_gone,
       (SELECT count(*) FROM (SELECT * FROM lk_facts_before f
                              WHERE f.participant_id <> (SELECT participant_id FROM lk_people WHERE external_ref = 'a-adult')
                              EXCEPT SELECT * FROM outreach.outcome) AS x) AS others_changed;
SELECT count(*) AS blocks_of_b_before FROM outreach.outcome_block WHERE controller_id = :lk_b;
DELETE FROM outreach.participant WHERE controller_id = :lk_b;
SELECT count(*) AS blocks_of_b_after FROM outreach.outcome_block WHERE controller_id = :lk_b;

-- Clean up what is cluster-wide (roles) and what later suites count.
SET client_min_messages = warning;
SELECT pg_temp.lk_cleanup();
RESET client_min_messages;
DROP FUNCTION regress.lk_try(text);
DROP FUNCTION regress.lk_mask(text);
SELECT count(*) AS roles_left FROM pg_roles WHERE rolname LIKE 'regress\_lk\_%' OR rolname LIKE 'outreach\_regress\_lk\_%';
