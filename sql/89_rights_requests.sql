-- The register of data subjects' requests: due dates by the corresponding-day rule (month ends,
-- 29 February), one extension to at most three months, children's requests by a parent,
-- closing, what each member's DPO sees, and what everyone else is refused.
SET search_path = regress, outreach, public;
SET datestyle = ISO;
\set VERBOSITY terse
-- The register's "today" is the date in the UK, whatever the session's time zone.
CREATE FUNCTION pg_temp.uk_today() RETURNS date LANGUAGE sql AS $$ SELECT (now() AT TIME ZONE 'Europe/London')::date $$;

SET client_min_messages = warning;
CREATE FUNCTION pg_temp.rr_cleanup() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  r record;
  ids int[] := ARRAY(SELECT controller_id FROM outreach.controller WHERE code LIKE 'regress\_rr\_%');
BEGIN
  DELETE FROM outreach.rights_request WHERE controller_id = ANY (ids);
  DELETE FROM outreach.sharing_agreement WHERE reference = 'RR-TEST';
  DELETE FROM outreach.recipient_followup WHERE controller_id = ANY (ids);
  DELETE FROM outreach.recipient_followup_batch WHERE controller_id = ANY (ids);
  DELETE FROM outreach.attendance WHERE controller_id = ANY (ids);
  DELETE FROM outreach.activity WHERE controller_id = ANY (ids);
  DELETE FROM outreach.participant WHERE controller_id = ANY (ids);
  DELETE FROM outreach.tombstone WHERE controller_id = ANY (ids);
  DELETE FROM outreach.notice_delivery WHERE controller_id = ANY (ids);
  DELETE FROM outreach.notification_channel WHERE controller_id = ANY (ids);
  DELETE FROM outreach.deletion_notice WHERE controller_id = ANY (ids);
  DELETE FROM outreach.audit_log WHERE controller_id = ANY (ids);
  DELETE FROM outreach.controller WHERE controller_id = ANY (ids);
  FOR r IN SELECT rolname FROM pg_catalog.pg_roles
           WHERE rolname LIKE 'regress\_rr\_%' OR rolname LIKE 'outreach\_regress\_rr\_%' ORDER BY 1 LOOP
    EXECUTE pg_catalog.format('DROP ROLE %I', r.rolname);
  END LOOP;
END $$;
SELECT pg_temp.rr_cleanup();
RESET client_min_messages;

-- The recipients' sharing agreements (without one, nothing is due to go to a recipient).
SELECT count(outreach.record_sharing_agreement(name, 'test gateway', 'RR-TEST', 'the tests', current_date - 1, current_date + 365))
         AS agreements
FROM outreach.recipient_definition WHERE shipped;
SELECT outreach.create_controller('regress_rr_a', 'Regress rights A') AS rr_a \gset
SELECT outreach.create_controller('regress_rr_b', 'Regress rights B') AS rr_b \gset
CREATE ROLE regress_rr_dpo_a;
CREATE ROLE regress_rr_dpo_b;
CREATE ROLE regress_rr_writer_a;
SELECT count(*) AS grants FROM (VALUES (outreach.grant_controller_access('regress_rr_dpo_a', 'regress_rr_a', 'dpo')),
                                       (outreach.grant_controller_access('regress_rr_dpo_b', 'regress_rr_b', 'dpo')),
                                       (outreach.grant_controller_access('regress_rr_writer_a', 'regress_rr_a', 'writer'))) AS g(x);
-- regress.try with the ids and the dates of today and tomorrow masked (they differ from run to run).
-- regress.try with the error's DETAIL too.
CREATE FUNCTION pg_temp.try_detail(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; det text;
BEGIN
  EXECUTE sql;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
  RETURN st || ': ' || msg || ' / detail: ' || coalesce(nullif(det, ''), '(none)');
END $$;
CREATE FUNCTION pg_temp.try_masked(sql text) RETURNS text LANGUAGE sql AS $$
  SELECT replace(replace(regexp_replace(regress.try(sql), '(participant|request|controller) [0-9]+', '\1 N', 'g'),
                         (pg_temp.uk_today() + 1)::text, 'tomorrow'), pg_temp.uk_today()::text, 'today')
$$;

-- A's people: a child born 1 March 2014 (11 until the day before 1 March 2026), one born
-- 29 February 2012 (12 from 1 March 2024 in law, not 28 February), one with no date of birth.
-- B holds someone too.
INSERT INTO outreach.participant (controller_id, external_ref, first_name, last_name, date_of_birth, postcode)
VALUES (:rr_a, 'kid', 'Kim', 'Kay', '2014-03-01', 'SW1A 1AA'), (:rr_a, 'leap', 'Lee', 'Lay', '2012-02-29', 'SW1A 1AA'),
       (:rr_a, 'nodob', 'Nia', 'Noe', NULL, NULL), (:rr_b, 'b1', 'Bo', 'Bee', '2008-01-01', 'M1 1AE');
SELECT participant_id AS kid FROM outreach.participant WHERE controller_id = :rr_a AND external_ref = 'kid' \gset
SELECT participant_id AS leap FROM outreach.participant WHERE controller_id = :rr_a AND external_ref = 'leap' \gset
SELECT participant_id AS nodob FROM outreach.participant WHERE controller_id = :rr_a AND external_ref = 'nodob' \gset
SELECT participant_id AS b1 FROM outreach.participant WHERE controller_id = :rr_b AND external_ref = 'b1' \gset

-----------------------------------------------------------------------------------------------
-- Due dates: one calendar month by the corresponding day, or the month's last day
-----------------------------------------------------------------------------------------------
SET ROLE regress_rr_dpo_a;
SELECT received, outreach.open_rights_request(:rr_a, 'access', received) > 0 AS opened
FROM unnest(ARRAY[date '2024-01-31', '2025-01-31', '2024-01-29', '2024-02-29', '2025-02-28', '2024-12-31',
                  '2024-03-31', '2024-08-31', '2024-06-15']) AS received;
SELECT received_on, due_on, kind, requester, status, opened_by
FROM outreach.rights_request ORDER BY received_on;

-----------------------------------------------------------------------------------------------
-- One extension, to three months at most from receipt, with a reason, told within the month
-----------------------------------------------------------------------------------------------
SELECT request_id AS jan31 FROM outreach.rights_request WHERE received_on = '2024-01-31' \gset
SELECT request_id AS jun15 FROM outreach.rights_request WHERE received_on = '2024-06-15' \gset
SELECT regress.try(format($$SELECT outreach.extend_rights_request(%s, %s, NULL, 2, '2024-02-20')::text$$, :rr_a, :jan31)) AS no_reason,
       regress.try(format($$SELECT outreach.extend_rights_request(%s, %s, 'complex', 3, '2024-02-20')::text$$, :rr_a, :jan31)) AS beyond_three_months,
       regress.try(format($$SELECT outreach.extend_rights_request(%s, %s, 'complex', 2, '2024-03-01')::text$$, :rr_a, :jan31)) AS told_after_the_month;
SELECT outreach.extend_rights_request(:rr_a, :jan31, 'many records at several members', 2, '2024-02-20') AS extended_to,
       outreach.extend_rights_request(:rr_a, :jun15, 'complex', 1, '2024-07-15') AS extended_by_one_month_to;
SELECT pg_temp.try_masked(format($$SELECT outreach.extend_rights_request(%s, %s, 'again', 1, '2024-02-21')::text$$, :rr_a, :jan31)) AS second_extension;

-----------------------------------------------------------------------------------------------
-- Closing: with an outcome; a refusal with its reason
-----------------------------------------------------------------------------------------------
SELECT regress.try(format($$SELECT outreach.close_rights_request(%s, %s, '  ')$$, :rr_a, :jan31)) AS no_outcome,
       regress.try(format($$SELECT outreach.close_rights_request(%s, %s, 'refused', '')$$, :rr_a, :jan31)) AS refusal_without_reason,
       regress.try(format($$SELECT outreach.close_rights_request(%s, %s, 'answered', NULL, '2024-01-30')$$, :rr_a, :jan31)) AS closed_before_receipt;
SELECT outreach.close_rights_request(:rr_a, :jan31, 'copy sent by secure email', NULL, '2024-04-02') AS jan31_status,
       outreach.close_rights_request(:rr_a, :jun15, 'not answered', 'manifestly unfounded: the same request repeated weekly', '2024-07-20') AS jun15_status;
SELECT pg_temp.try_masked(format($$SELECT outreach.close_rights_request(%s, %s, 'again')$$, :rr_a, :jan31)) AS closed_twice,
       pg_temp.try_masked(format($$SELECT outreach.extend_rights_request(%s, %s, 'late', 1, '2024-06-20')::text$$, :rr_a, :jun15)) AS extend_closed;
SELECT received_on, due_on, extended_due_on, extension_reason, status, closed_on, outcome, refusal_reason
FROM outreach.rights_request WHERE request_id IN (:jan31, :jun15) ORDER BY received_on;

-----------------------------------------------------------------------------------------------
-- A parent's or guardian's request: a child under 12 on the day received is accepted; from 12
-- the child's agreement or an override with a reason; an unknown age needs them too
-----------------------------------------------------------------------------------------------
SELECT outreach.open_rights_request(:rr_a, 'access', '2026-02-28', 'parent_or_guardian', ARRAY[:kid]) > 0 AS kid_aged_11;
SELECT regress.try(format($$SELECT outreach.open_rights_request(%s, 'access', %L, 'parent_or_guardian', ARRAY[%s])::text$$,
                          :rr_a, '2026-03-01', :kid)) AS kid_aged_12,
       regress.try(format($$SELECT outreach.open_rights_request(%s, 'access', %L, 'parent_or_guardian', ARRAY[%s, %s])::text$$,
                          :rr_a, '2024-03-01', :kid, :leap)) AS with_leap_child_just_12,
       regress.try(format($$SELECT outreach.open_rights_request(%s, 'erasure', %L, 'parent_or_guardian', ARRAY[%s])::text$$,
                          :rr_a, '2024-01-10', :nodob)) AS age_unknown,
       regress.try(format($$SELECT outreach.open_rights_request(%s, 'access', %L, 'parent_or_guardian')::text$$,
                          :rr_a, '2024-01-10')) AS no_child_named;
-- The refusal names the child's age and how to proceed.
\set VERBOSITY default
SELECT outreach.open_rights_request(:rr_a, 'access', '2026-03-01', 'parent_or_guardian', ARRAY[:kid]);
\set VERBOSITY terse
SELECT outreach.open_rights_request(:rr_a, 'access', '2024-02-28', 'parent_or_guardian', ARRAY[:leap]) > 0 AS leap_child_11_on_28_feb,
       outreach.open_rights_request(:rr_a, 'access', '2026-03-01', 'parent_or_guardian', ARRAY[:kid],
                                    child_agreement => true) > 0 AS kid_12_agreed,
       outreach.open_rights_request(:rr_a, 'erasure', '2024-01-10', 'parent_or_guardian', ARRAY[:nodob],
                                    child_override_reason => 'court order of 2024-01-05 names the parent') > 0 AS overridden;
SELECT received_on, kind, requester, child_age, child_agreement, child_override_reason
FROM outreach.rights_request WHERE requester = 'parent_or_guardian' ORDER BY received_on, child_age;

-----------------------------------------------------------------------------------------------
-- Bad input, and the same answer for another member's records as for unknown ones
-----------------------------------------------------------------------------------------------
SELECT regress.try(format($$SELECT outreach.open_rights_request(%s, 'deletion', '2024-01-10')::text$$, :rr_a)) AS unknown_kind,
       regress.try(format($$SELECT outreach.open_rights_request(%s, 'access', '2024-01-10', 'neighbour')::text$$, :rr_a)) AS unknown_requester,
       pg_temp.try_masked(format($$SELECT outreach.open_rights_request(%s, 'access', pg_temp.uk_today() + 1)::text$$, :rr_a)) AS received_tomorrow,
       regress.try(format($$SELECT outreach.open_rights_request(%s, 'access', 'infinity')::text$$, :rr_a)) AS received_infinity;
SELECT pg_temp.try_masked(format($$SELECT outreach.open_rights_request(%s, 'access', '2024-01-10', 'subject', ARRAY[%s])::text$$, :rr_a, :b1)) AS other_members_person,
       pg_temp.try_masked(format($$SELECT outreach.open_rights_request(%s, 'access', '2024-01-10', 'subject', ARRAY[%s])::text$$, :rr_a, 999999999)) AS unknown_person,
       pg_temp.try_masked(format($$SELECT outreach.close_rights_request(%s, %s, 'x')$$, :rr_a, 999999999)) AS unknown_request;
-- A session in UTC+14 cannot date a request tomorrow in the UK; the ids are stored sorted, once
-- each, numbered from 1; a two-dimensional list is refused.
SET TimeZone = 'Etc/GMT-14';
SELECT pg_temp.try_masked(format($$SELECT outreach.open_rights_request(%s, 'access', %L)::text$$, :rr_a,
                                 pg_temp.uk_today() + 1)) AS tomorrow_in_the_uk;
RESET TimeZone;
SELECT outreach.open_rights_request(:rr_a, 'objection', '2024-01-11', participant_ids => format('[5:7]={%s,%s,%s}', :leap, :kid, :leap)::bigint[],
                                    details => 'does not want results linked to their records') AS odd_ids \gset
SELECT participant_ids = ARRAY[least(:kid, :leap), greatest(:kid, :leap)]::bigint[] AS sorted_once_each, array_lower(participant_ids, 1) AS first_index
FROM outreach.rights_request WHERE request_id = :odd_ids;
SELECT regress.try(format($$SELECT outreach.open_rights_request(%s, 'access', '2024-01-10', participant_ids => '{{1,2},{3,4}}')::text$$, :rr_a)) AS two_dimensional;
-- An objection is recorded with its grounds (the DPO's decision is its outcome when closed).
SELECT regress.try(format($$SELECT outreach.open_rights_request(%s, 'objection', '2024-01-10')::text$$, :rr_a)) AS objection_without_grounds;
SELECT kind, details FROM outreach.rights_request WHERE request_id = :odd_ids;
RESET ROLE;

-----------------------------------------------------------------------------------------------
-- Who sees and changes what: each DPO its own member's requests; nobody writes the table
-----------------------------------------------------------------------------------------------
SET ROLE regress_rr_dpo_b;
SELECT outreach.open_rights_request(:rr_b, 'rectification', '2024-05-31', 'representative', ARRAY[:b1],
                                    identity_verified_on => '2024-06-03', identity_verified_how => 'solicitor''s letter') > 0 AS b_opened;
SELECT count(*) AS b_sees, bool_and(controller_id = :rr_b) AS only_own FROM outreach.rights_request;
SELECT pg_temp.try_masked(format($$SELECT outreach.close_rights_request(%s, %s, 'x')$$, :rr_a, :jun15)) AS close_as_other_dpo,
       pg_temp.try_masked(format($$SELECT outreach.close_rights_request(%s, %s, 'x')$$, :rr_b, :jun15)) AS close_a_request_as_b,
       regress.try($$UPDATE outreach.rights_request SET status = 'completed'$$) AS update_directly;
RESET ROLE;
SET ROLE regress_rr_writer_a;
SELECT regress.try('SELECT count(*)::text FROM outreach.rights_request') AS writer_reads,
       regress.try(format($$SELECT outreach.open_rights_request(%s, 'access', '2024-01-10')::text$$, :rr_a)) AS writer_opens;
RESET ROLE;

-- Every change is in the audit log: the request's key and kind, never the people or reasons.
SELECT a.action, a.relation, a.record ->> 'kind' AS kind, a.columns, count(*)
FROM outreach.audit_log a WHERE a.controller_id IN (:rr_a, :rr_b) AND a.relation = 'rights_request'
GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4;
SELECT count(*) AS audit_rows_with_reasons FROM outreach.audit_log a
WHERE a.controller_id IN (:rr_a, :rr_b) AND a.record::text ~* '(court|solicitor|unfounded|secure email)';

-----------------------------------------------------------------------------------------------
-- What is due: open requests due within 7 days, and overdue ones
-----------------------------------------------------------------------------------------------
SET ROLE regress_rr_dpo_a;
SELECT outreach.open_rights_request(:rr_a, 'erasure', pg_temp.uk_today() - 27) > 0 AS due_soon,
       outreach.open_rights_request(:rr_a, 'objection', pg_temp.uk_today() - 10, details => 'objects to profiling') > 0 AS not_due_yet,
       outreach.open_rights_request(:rr_a, 'withdrawal', pg_temp.uk_today()) > 0 AS received_today;
SELECT kind, received_on = pg_temp.uk_today() - 27 AS received_27_days_ago, state, days_left BETWEEN 0 AND 7 AS within_a_week,
       days_left = due_on - pg_temp.uk_today() AS days_left_consistent
FROM outreach.rights_requests_due WHERE received_on >= pg_temp.uk_today() - 30 ORDER BY kind;
SELECT kind, received_on, due_on, extended, state, days_left < 0 AS overdue
FROM outreach.rights_requests_due WHERE received_on < '2025-01-01' ORDER BY received_on;
RESET ROLE;

-----------------------------------------------------------------------------------------------
-- Withdrawal and restriction, once recorded, are lifted only by the DPO, with a reason, audited
-----------------------------------------------------------------------------------------------
SET ROLE regress_rr_writer_a;
UPDATE outreach.participant SET withdrawn_at = '2024-05-01', restricted_at = '2024-05-02' WHERE external_ref = 'leap';
SELECT regress.try($$UPDATE outreach.participant SET withdrawn_at = NULL WHERE external_ref = 'leap'$$) AS writer_clears_withdrawal,
       regress.try($$UPDATE outreach.participant SET restricted_at = '2024-06-01' WHERE external_ref = 'leap'$$) AS writer_moves_restriction,
       regress.try(format('SELECT outreach.reinstate_participant(%s, ARRAY[%s], %L)::text', :rr_a, :leap, 'x')) AS writer_calls_reinstate;
RESET ROLE;
SET ROLE regress_rr_dpo_a;
SELECT regress.try(format('SELECT outreach.reinstate_participant(%s, ARRAY[%s], %L)::text', :rr_a, :leap, ' ')) AS no_reason,
       pg_temp.try_masked(format('SELECT outreach.reinstate_participant(%s, ARRAY[%s], %L)::text', :rr_a, :kid, 'x')) AS not_withdrawn,
       pg_temp.try_masked(format('SELECT outreach.lift_restriction(%s, ARRAY[%s], %L)::text', :rr_a, :b1, 'x')) AS other_members_person,
       pg_temp.try_masked(format('SELECT outreach.lift_restriction(%s, ARRAY[%s], %L)::text', :rr_b, :b1, 'x')) AS other_member;
SELECT outreach.reinstate_participant(:rr_a, ARRAY[:leap], 'permission given again in writing') AS reinstated,
       outreach.lift_restriction(:rr_a, ARRAY[:leap], 'accuracy confirmed') AS lifted;
SELECT external_ref, withdrawn_at, restricted_at FROM outreach.participant_core WHERE external_ref = 'leap';
SELECT action, record ->> 'reason' AS reason, columns FROM outreach.audit_log
WHERE controller_id = :rr_a AND action IN ('reinstate', 'lift_restriction') ORDER BY audit_id;
RESET ROLE;

-----------------------------------------------------------------------------------------------
-- Finding the person: a DPO finds its own member's records by identifiers (a second
-- registration spelled differently too); the processor learns only which members hold one;
-- every lookup is logged without the identifiers
-----------------------------------------------------------------------------------------------
-- Kim Kay is registered twice at A ("KIM  kay", the postcode without its space) and once at B.
INSERT INTO outreach.participant (controller_id, external_ref, first_name, last_name, date_of_birth, postcode)
VALUES (:rr_a, 'kid-again', 'KIM ', 'kay', '2014-03-01', 'sw1a1aa'), (:rr_b, 'b-kid', 'Kim', 'Kay', '2014-03-01', 'SW1A 1AA');
CREATE ROLE regress_rr_processor IN ROLE outreach_processor;
SELECT coalesce(max(lookup_id), 0) AS lookup_mark FROM outreach.subject_lookup \gset
SET ROLE regress_rr_dpo_a;
SELECT controller_code, external_ref, participant_id IS NOT NULL AS has_id, withdrawn, restricted
FROM outreach.find_subject('Kim', 'Kay', '2014-03-01', 'SW1A 1AA') ORDER BY external_ref;
SELECT count(*) AS nobody FROM outreach.find_subject('Nobody', 'Known', '2014-03-01', 'SW1A 1AA');
SELECT regress.try($$SELECT count(*)::text FROM outreach.find_subject('Kim', NULL, '2014-03-01', 'SW1A 1AA')$$) AS missing_identifier,
       regress.try($$SELECT count(*)::text FROM outreach.find_subject('Kim', 'Kay', '2014-03-01', 'not a postcode')$$) AS bad_postcode;
RESET ROLE;
SET ROLE regress_rr_processor;
SELECT controller_code, participant_id, external_ref, registered_at, withdrawn
FROM outreach.find_subject('Kim', 'Kay', '2014-03-01', 'SW1A 1AA')
WHERE controller_code LIKE 'regress\_rr\_%' ORDER BY controller_code;
RESET ROLE;
SET ROLE regress_rr_writer_a;
SELECT regress.try($$SELECT count(*)::text FROM outreach.find_subject('Kim', 'Kay', '2014-03-01', 'SW1A 1AA')$$) AS writer_finds;
RESET ROLE;
-- The log: who looked, as whose DPO or as the processor, which members matched; no identifiers.
SELECT acting_role, cardinality(as_dpo_of) AS dpo_of, as_processor,
       ARRAY(SELECT c.code FROM outreach.controller c WHERE c.controller_id = ANY (matched_controllers)
             AND c.code LIKE 'regress\_rr\_%' ORDER BY 1) AS matched
FROM outreach.subject_lookup WHERE lookup_id > :lookup_mark ORDER BY lookup_id;
SELECT count(*) AS log_rows_with_identifiers FROM outreach.subject_lookup s
WHERE s::text ~* '(kim|kay|sw1a|2014-03-01)';
-- Each member's DPO sees the lookups of its records in its audit log: A its own two searches and
-- the processor's, B the processor's (which found b-kid).
SELECT c.code, a.acting_role, a.record ->> 'as_processor' AS as_processor,
       jsonb_array_length(a.record -> 'participant_ids') AS records_found
FROM outreach.audit_log a JOIN outreach.controller c USING (controller_id)
WHERE a.controller_id IN (:rr_a, :rr_b) AND a.action = 'find_subject' ORDER BY c.code, a.audit_id;
SET ROLE regress_rr_dpo_b;
SELECT count(*) AS b_dpo_sees_the_processor_lookup FROM outreach.audit_log WHERE action = 'find_subject';
RESET ROLE;
DROP ROLE regress_rr_processor;

-----------------------------------------------------------------------------------------------
-- Subject access: everything A holds on Kim (registered twice at A, once at B), in one call,
-- checked field by field against what was loaded
-----------------------------------------------------------------------------------------------
SELECT participant_id AS kid2 FROM outreach.participant WHERE controller_id = :rr_a AND external_ref = 'kid-again' \gset
SELECT participant_id AS bkid FROM outreach.participant WHERE controller_id = :rr_b AND external_ref = 'b-kid' \gset
UPDATE outreach.participant SET sex = 'F', religion = 'a-religion', he_entry_year_override = 2031,
       he_entry_year_override_reason = 'started school a year late' WHERE participant_id = :kid;
INSERT INTO outreach.activity (controller_id, activity_type, name, starts_on, ends_on)
VALUES (:rr_a, 'summer_school', 'A summer school', '2025-07-01', '2025-07-04'), (:rr_b, 'workshop', 'B workshop', '2025-03-01', NULL);
INSERT INTO outreach.attendance (controller_id, participant_id, activity_id, attended_on)
SELECT :rr_a, :kid, activity_id, d FROM outreach.activity, unnest(ARRAY[date '2025-07-01', '2025-07-02']) AS d
WHERE controller_id = :rr_a AND name = 'A summer school'
UNION ALL SELECT :rr_b, :bkid, activity_id, '2025-03-01' FROM outreach.activity WHERE controller_id = :rr_b;
INSERT INTO outreach.outcome_block (controller_id, recipient, block, participant_ids, outcomes, academic_years, measures,
                                    provider_ukprns, provider_names, outcome_values, import_ids, line_nos, updated_ats)
VALUES (:rr_a, 'dfe', (:kid >> 16)::int, ARRAY[:kid, :kid], ARRAY['ks4', 'ks4'], ARRAY[2030, 2030], ARRAY['attainment8', 'basics'],
        ARRAY[0, 0], ARRAY['', ''], ARRAY['52', '1'], ARRAY[0, 0]::bigint[], ARRAY[2, 3], ARRAY[timestamptz '2031-01-05 10:00+00', '2031-01-05 10:00+00']);
-- Two exports that sent Kim: to DfE and to Jisc (HESA), and one still building (not sent).
INSERT INTO outreach.export (recipient, layout_version, as_of, entry_year_from, entry_year_to, status, file_name, started_by,
                             finished_at, sha256, manifest)
VALUES ('dfe', 1, '2030-11-28', 2030, 2031, 'finished', 'dfe_2030.csv', 'regress', '2030-11-28 18:00+00', repeat('a', 64), '{}'),
       ('hesa', 1, '2031-11-28', 2030, 2031, 'finished', 'hesa_2031.csv', 'regress', '2031-11-28 18:00+00', repeat('b', 64), '{}'),
       ('ucas', 1, '2031-12-01', 2030, 2031, 'building', 'ucas_2031.csv', 'regress', NULL, NULL, NULL);
INSERT INTO outreach.disclosure_block (controller_id, block, export_id, recipient, participant_ids, cohort_years,
                                       participant_references, content_hashes)
SELECT :rr_a, (:kid >> 12)::int, e.export_id, e.recipient, ARRAY[:kid], ARRAY[2031], ARRAY['REF-' || e.recipient], ARRAY[1::bigint]
FROM outreach.export e WHERE e.file_name IN ('dfe_2030.csv', 'hesa_2031.csv', 'ucas_2031.csv');
SET ROLE regress_rr_dpo_a;
SELECT pg_temp.try_masked(format('SELECT outreach.subject_access(%s, ARRAY[%s, %s])::text', :rr_a, :kid, :kid2)) AS without_a_request;
SELECT outreach.open_rights_request(:rr_a, 'access', pg_temp.uk_today(), participant_ids => ARRAY[:kid, :kid2]) AS sar \gset
SELECT pg_temp.try_masked(format('SELECT outreach.subject_access(%s, ARRAY[%s, %s])::text', :rr_a, :kid, :bkid)) AS with_b_person,
       pg_temp.try_masked(format('SELECT outreach.subject_access(%s, ARRAY[%s])::text', :rr_a, 999999999)) AS with_unknown_person,
       regress.try(format('SELECT outreach.subject_access(%s, ARRAY[]::bigint[])::text', :rr_a)) AS with_nobody;
CREATE TEMP TABLE sar AS SELECT outreach.subject_access(:rr_a, ARRAY[:kid, :kid2]) AS doc;
RESET ROLE;
SELECT doc ->> 'schema' AS schema, doc #>> '{request,request_id}' = :'sar' AS tied_to_the_request,
       doc #>> '{request,kind}' AS request_kind, jsonb_array_length(doc -> 'records') AS records,
       jsonb_array_length(doc -> 'deleted_records') AS deleted_records,
       doc #>> '{processing,controller,code}' AS controller, doc #>> '{processing,lawful_bases,personal_data}' AS basis,
       doc #>> '{processing,automated_decision_making}' AS automated
FROM sar;
-- Kim's first record, field by field.
SELECT r #>> '{participant,external_ref}' AS ref, r #>> '{participant,first_name}' AS first_name,
       r #>> '{participant,date_of_birth}' AS dob, r #>> '{participant,postcode}' AS postcode,
       r #>> '{participant,sex}' AS sex, r #>> '{participant,religion}' AS religion,
       r #>> '{expected_he_entry_year,year}' AS entry_year, r #>> '{expected_he_entry_year,overridden}' AS overridden,
       r #>> '{expected_he_entry_year,override_reason}' AS override_reason
FROM sar, jsonb_array_elements(doc -> 'records') AS r WHERE r #>> '{participant,external_ref}' = 'kid';
SELECT a ->> 'activity_name' AS activity, a ->> 'activity_type' AS type, a ->> 'starts_on' AS starts_on,
       a ->> 'ends_on' AS ends_on, a ->> 'attended_on' AS attended_on
FROM sar, jsonb_array_elements(doc -> 'records') AS r, jsonb_array_elements(r -> 'attendance') AS a
WHERE r #>> '{participant,external_ref}' = 'kid' ORDER BY 5;
SELECT o ->> 'recipient' AS recipient, o ->> 'outcome' AS outcome, o ->> 'academic_year' AS year, o ->> 'measure' AS measure,
       o ->> 'value' AS value
FROM sar, jsonb_array_elements(doc -> 'records') AS r, jsonb_array_elements(r -> 'outcomes') AS o
WHERE r #>> '{participant,external_ref}' = 'kid' ORDER BY 4;
SELECT d ->> 'recipient' AS recipient, d ->> 'file_name' AS file_name, d ->> 'sent_at' AS sent_at, d ->> 'reference' AS reference
FROM sar, jsonb_array_elements(doc -> 'records') AS r, jsonb_array_elements(r -> 'disclosures') AS d
WHERE r #>> '{participant,external_ref}' = 'kid' ORDER BY 3;
SELECT s ->> 'member' AS member, s ->> 'activity_type' AS type, s ->> 'attended_on' AS attended_on
FROM sar, jsonb_array_elements(doc -> 'records') AS r, jsonb_array_elements(r -> 'shared_with_other_members') AS s
WHERE r #>> '{participant,external_ref}' = 'kid';
SELECT r #>> '{participant,external_ref}' AS ref, r #>> '{retention,track}' AS track, r #>> '{retention,status}' AS status,
       r #>> '{retention,explanation}' LIKE 'kept %due for deletion on ' || (r #>> '{retention,due_on}') AS explained
FROM sar, jsonb_array_elements(doc -> 'records') AS r ORDER BY 1;
-- The same answer as CSV files for portability, one per kind of record.
SELECT f.file_name, (SELECT count(*) FROM regexp_split_to_table(rtrim(f.content, E'\r\n'), E'\r\n')) - 1 AS data_rows,
       split_part(f.content, E'\r\n', 1) LIKE 'participant_id,%' OR f.file_name IN ('processing.csv', 'deleted_records.csv') AS id_first
FROM sar, outreach.subject_access_csv(sar.doc) f ORDER BY 1;
SELECT split_part(f.content, E'\r\n', 1) AS header, regexp_replace(split_part(f.content, E'\r\n', 2), '^[0-9]+,[0-9]+,', 'N,N,') AS first_row
FROM sar, outreach.subject_access_csv(sar.doc) f WHERE f.file_name = 'attendance.csv';
-- Nothing of B's record of Kim but the shared facts; the read is audited against the request.
SELECT count(*) AS b_values_in_answer FROM sar WHERE doc::text ~ ('"participant_id": ' || :bkid || '[,}]');
SELECT action, columns, record ->> 'purpose' AS purpose, record ->> 'request_id' = :'sar' AS tied
FROM outreach.audit_log WHERE controller_id = :rr_a AND record ->> 'purpose' = 'subject_access' ORDER BY audit_id;
-- An erased person: the tombstone's facts, nothing personal.
DROP TABLE sar;
SET ROLE regress_rr_dpo_a;
SELECT (outreach.erase_participant(:rr_a, :kid2)).reasons;
RESET ROLE;
CALL outreach.delete_confirmed(1000);   -- as the daemon does
SET ROLE regress_rr_dpo_a;
SELECT jsonb_array_length(d -> 'records') AS records, d #>> '{deleted_records,0,reasons,0}' AS tombstone_reason,
       d #> '{deleted_records,0}' ? 'deleted_at' AS has_deleted_at
FROM (SELECT outreach.subject_access(:rr_a, ARRAY[:kid2]) AS d) x;
SET ROLE regress_rr_writer_a;
SELECT regress.try(format('SELECT outreach.subject_access(%s, ARRAY[%s])::text', :rr_a, :kid)) AS writer_asks;
RESET ROLE;
DELETE FROM outreach.disclosure_block WHERE controller_id = :rr_a;
DELETE FROM outreach.export WHERE file_name IN ('dfe_2030.csv', 'hesa_2031.csv', 'ucas_2031.csv');
DELETE FROM outreach.outcome_block WHERE controller_id = :rr_a;

-----------------------------------------------------------------------------------------------
-- Restriction holds a record from retention: a sweep does not mark it, a confirmed deletion
-- waits, and the DPO cannot erase it before lifting the restriction
-----------------------------------------------------------------------------------------------
-- Two records without identifiers created in 2010 and never attended: due on the 7-year track.
INSERT INTO outreach.participant (controller_id, external_ref, first_name, created_at)
VALUES (:rr_a, 'held', 'Hal', '2010-01-01'), (:rr_a, 'free', 'Fay', '2010-01-01');
SELECT participant_id AS held FROM outreach.participant WHERE controller_id = :rr_a AND external_ref = 'held' \gset
SELECT participant_id AS free FROM outreach.participant WHERE controller_id = :rr_a AND external_ref = 'free' \gset
UPDATE outreach.participant SET restricted_at = now() WHERE participant_id = :held;
SET client_min_messages = warning;
CALL outreach.retention_sweep(pg_temp.uk_today(), 100000);
RESET client_min_messages;
SELECT external_ref, retention_status FROM outreach.participant WHERE participant_id IN (:held, :free) ORDER BY 1;
SET ROLE regress_rr_dpo_a;
SELECT outreach.confirm_deletion(:rr_a, ARRAY[:free]) AS confirmed;
RESET ROLE;
UPDATE outreach.participant SET restricted_at = now() WHERE participant_id = :free;   -- restricted after its confirmation
CALL outreach.delete_confirmed(1000);
SELECT external_ref, retention_status, restricted_at IS NOT NULL AS restricted FROM outreach.participant
WHERE participant_id IN (:held, :free) ORDER BY 1;
SET ROLE regress_rr_dpo_a;
SELECT pg_temp.try_masked(format('SELECT (outreach.erase_participant(%s, %s)).reasons::text', :rr_a, :held)) AS erase_restricted;
SELECT outreach.lift_restriction(:rr_a, ARRAY[:held, :free], 'the legal claim is settled') AS lifted;
RESET ROLE;
CALL outreach.delete_confirmed(1000);
SET ROLE regress_rr_dpo_a;
SELECT t.participant_id = :held AS tombstone_of_held, t.reasons, t.confirmed_by FROM outreach.erase_participant(:rr_a, :held) t;
-- Erasing an erased person again changes nothing (a NOTICE says so; hidden here, it holds the date).
SET client_min_messages = warning;
SELECT pg_temp.try_masked(format('SELECT (t.participant_id = %s AND t.confirmed_by IS NOT NULL)::text FROM outreach.erase_participant(%s, %s) t', :held, :rr_a, :held)) AS erased_again_returns_tombstone;
RESET client_min_messages;
RESET ROLE;
SELECT (SELECT count(*) FROM outreach.participant WHERE participant_id IN (:held, :free)) AS left_,
       (SELECT count(*) FROM outreach.tombstone WHERE participant_id IN (:held, :free)) AS tombstones;

-----------------------------------------------------------------------------------------------
-- Withdrawal, restriction and rectification take effect at once: on exports (who is due to be
-- sent), sharing (what another member sees), aggregates (who is counted), retention (marked on
-- the day, on a withdrawal notice with the policy's short deadline) and the ledger (each
-- recipient that received the person gets a follow-up)
-----------------------------------------------------------------------------------------------
-- Three people at A, all attending, in this academic year's cohort, sent to DfE; B holds Wendy too.
INSERT INTO outreach.participant (controller_id, external_ref, first_name, last_name, date_of_birth, postcode,
                                  he_entry_year_override, he_entry_year_override_reason)
SELECT c, ref, f, l, '2009-04-04', pc, outreach.academic_year(current_date), 'joins a foundation year'
FROM (VALUES (:rr_a, 'wd', 'Wendy', 'Dray', 'LS1 1UR'), (:rr_a, 'rs', 'Ros', 'Strict', 'LS1 1UR'),
             (:rr_a, 'rc', 'Rae', 'Korect', 'LS1 1UR'), (:rr_b, 'b-wd', 'Wendy', 'Dray', 'LS1 1UR')) AS v(c, ref, f, l, pc);
SELECT participant_id AS wd FROM outreach.participant WHERE controller_id = :rr_a AND external_ref = 'wd' \gset
SELECT participant_id AS rs FROM outreach.participant WHERE controller_id = :rr_a AND external_ref = 'rs' \gset
SELECT participant_id AS rc FROM outreach.participant WHERE controller_id = :rr_a AND external_ref = 'rc' \gset
SELECT participant_id AS bwd FROM outreach.participant WHERE controller_id = :rr_b AND external_ref = 'b-wd' \gset
INSERT INTO outreach.activity (controller_id, activity_type, name, starts_on)
VALUES (:rr_a, 'workshop', 'A rights workshop', '2025-10-01'), (:rr_b, 'workshop', 'B rights workshop', '2025-10-02');
INSERT INTO outreach.attendance (controller_id, participant_id, activity_id, attended_on)
SELECT p.controller_id, p.participant_id, a.activity_id, a.starts_on
FROM outreach.participant p JOIN outreach.activity a ON a.controller_id = p.controller_id AND a.name LIKE '% rights workshop'
WHERE p.participant_id IN (:wd, :rs, :rc, :bwd);
INSERT INTO outreach.export (recipient, layout_version, as_of, entry_year_from, entry_year_to, status, file_name, started_by,
                             finished_at, sha256, manifest)
VALUES ('dfe', 1, '2025-11-28', 2018, 2028, 'finished', 'dfe_rights.csv', 'regress', '2025-11-28 18:00+00', repeat('c', 64), '{}');
INSERT INTO outreach.disclosure_block (controller_id, block, export_id, recipient, participant_ids, cohort_years,
                                       participant_references, content_hashes)
SELECT :rr_a, (id >> 12)::int, e.export_id, 'dfe', array_agg(id ORDER BY id), array_agg(2026), array_agg('DFE-' || ref ORDER BY id),
       array_agg(1::bigint)
FROM outreach.export e, (VALUES (:wd, 'wd'), (:rs, 'rs'), (:rc, 'rc')) AS v(id, ref) WHERE e.file_name = 'dfe_rights.csv'
GROUP BY 2, 3;
SELECT export_id AS dfe_rights FROM outreach.export WHERE file_name = 'dfe_rights.csv' \gset
CREATE TEMP VIEW rights_effect AS
SELECT p.external_ref,
       jsonb_array_length(outreach.recipients_due(p.controller_id, p.participant_id)) > 0 AS export_due,
       EXISTS (SELECT 1 FROM outreach.report_groups(ARRAY[p.controller_id]) g WHERE g.participant_id = p.participant_id) AS counted,
       p.retention_status, p.retention_reasons
FROM outreach.participant p WHERE p.participant_id IN (:wd, :rs, :rc) ORDER BY 1;
GRANT SELECT ON rights_effect TO PUBLIC;
SELECT * FROM rights_effect;
SET ROLE regress_rr_dpo_b;
SELECT other_controller_code, count(*) AS b_sees_wendys_engagement_at
FROM outreach.shared_engagement WHERE participant_id = :bwd GROUP BY 1;
RESET ROLE;

-- Refused: another member's person (the same 42704 as an unknown one), another member, a
-- reader, a request that is not of a fitting kind; nothing changes.
SET ROLE regress_rr_writer_a;
SELECT pg_temp.try_masked(format('SELECT count(*)::text FROM outreach.withdraw_participant(%s, ARRAY[%s])', :rr_a, :bwd)) AS other_members_person,
       pg_temp.try_masked(format('SELECT count(*)::text FROM outreach.withdraw_participant(%s, ARRAY[%s])', :rr_a, 999999999)) AS unknown_person,
       pg_temp.try_masked(format('SELECT count(*)::text FROM outreach.restrict_participant(%s, ARRAY[%s])', :rr_b, :bwd)) AS other_member,
       regress.try(format('SELECT count(*)::text FROM outreach.withdraw_participant(%s, ARRAY[]::bigint[])', :rr_a)) AS nobody;
RESET ROLE;
SET ROLE regress_rr_dpo_a;
SELECT outreach.open_rights_request(:rr_a, 'access', pg_temp.uk_today(), participant_ids => ARRAY[:wd]) AS wrong_kind \gset
SELECT outreach.open_rights_request(:rr_a, 'withdrawal', pg_temp.uk_today(), participant_ids => ARRAY[:wd]) AS wd_request \gset
SELECT pg_temp.try_masked(format('SELECT count(*)::text FROM outreach.withdraw_participant(%s, ARRAY[%s], %s)', :rr_a, :wd, :wrong_kind)) AS access_request;
RESET ROLE;
-- A writer may name a request, but cannot read the register through the errors: another kind
-- of request, a closed one and an unknown one are the same 42704.
SET ROLE regress_rr_writer_a;
SELECT pg_temp.try_masked(format('SELECT count(*)::text FROM outreach.withdraw_participant(%s, ARRAY[%s], %s)', :rr_a, :wd, :wrong_kind)) AS writer_names_access_request,
       pg_temp.try_masked(format('SELECT count(*)::text FROM outreach.withdraw_participant(%s, ARRAY[%s], %s)', :rr_a, :wd, 999999)) AS writer_names_unknown_request;
RESET ROLE;
SELECT * FROM rights_effect WHERE external_ref = 'wd';

-- The writer records Wendy's withdrawal (tied to the request), Ros's restriction; the DPO
-- corrects Rae's surname and postcode.
SET ROLE regress_rr_writer_a;
SELECT participant_id = :wd AS wendy, withdrawn_at IS NOT NULL AS withdrawn, restricted_at IS NOT NULL AS restricted,
       retention_status, notice_id IS NOT NULL AS on_a_notice,
       (confirm_by AT TIME ZONE 'Europe/London')::date - pg_temp.uk_today() BETWEEN 12 AND 14 AS confirm_within_two_weeks,
       (confirm_by AT TIME ZONE 'Europe/London')::time AS confirm_by_time
FROM outreach.withdraw_participant(:rr_a, ARRAY[:wd, :wd], :wd_request);
SELECT participant_id = :rs AS ros, withdrawn_at IS NOT NULL AS withdrawn, restricted_at IS NOT NULL AS restricted,
       retention_status, notice_id
FROM outreach.restrict_participant(:rr_a, ARRAY[:rs]);
SELECT regress.try(format('SELECT count(*)::text FROM outreach.rectify_participant(%s, %s, %L)', :rr_a, :rc, '{"last_name": "Correct"}')) AS writer_rectifies;
RESET ROLE;
SET ROLE regress_rr_dpo_a;
SELECT outreach.open_rights_request(:rr_a, 'rectification', pg_temp.uk_today(), participant_ids => ARRAY[:rc]) AS rc_request \gset
SELECT linkage_id AS rc_linkage_before FROM outreach.participant_core WHERE participant_id = :rc \gset
SELECT regress.try(format('SELECT count(*)::text FROM outreach.rectify_participant(%s, %s, %L)', :rr_a, :rc, '{"linkage_id": "x"}')) AS derived_column,
       regress.try(format('SELECT count(*)::text FROM outreach.rectify_participant(%s, %s, %L)', :rr_a, :rc, '{"date_of_birth": "2009-02-30"}')) AS bad_date,
       regress.try(format('SELECT count(*)::text FROM outreach.rectify_participant(%s, %s, %L)', :rr_a, :rc, '{"postcode": "not a postcode"}')) AS bad_postcode,
       regress.try(format('SELECT count(*)::text FROM outreach.rectify_participant(%s, %s, %L)', :rr_a, :rc, '[]')) AS not_an_object,
       pg_temp.try_masked(format('SELECT count(*)::text FROM outreach.rectify_participant(%s, %s, %L, %s)', :rr_a, :rc, '{"last_name": "Correct"}', :wd_request)) AS withdrawal_request,
       pg_temp.try_masked(format('SELECT count(*)::text FROM outreach.rectify_participant(%s, %s, %L)', :rr_a, :bwd, '{"last_name": "Correct"}')) AS other_members_person;
-- (first name unchanged, the postcode as held once normalised: not rectifications)
-- A value a check refuses: the error names the check, never the row (the function runs as the
-- owner, whose error would print the whole row, special categories included).
SELECT pg_temp.try_detail(format('SELECT count(*) FROM outreach.rectify_participant(%s, %s, %L)', :rr_a, :rc,
                                 json_build_object('first_name', repeat('x', 201)))) AS too_long_name,
       pg_temp.try_detail(format('SELECT count(*) FROM outreach.rectify_participant(%s, %s, %L)', :rr_a, :rc,
                                 '{"he_entry_year_override_reason": " "}')) AS override_without_reason;
SELECT * FROM outreach.rectify_participant(:rr_a, :rc, '{"last_name": "Correct", "postcode": "ls11ur", "first_name": "Rae", "sex": "F", "date_of_birth": "2009-04-05"}', :rc_request);
SELECT linkage_id <> :'rc_linkage_before' AS linkage_recomputed, last_name, postcode FROM outreach.participant_core WHERE participant_id = :rc;
SELECT field, before_value, after_value, request_id = :rc_request AS for_the_request, rectified_by
FROM outreach.rectification WHERE participant_id = :rc ORDER BY field;
RESET ROLE;
-- Only the DPO reads the values before and after, and the planner keeps no statistics of them
-- (its estimates would tell any DPO which values other members' rectifications hold).
SELECT attname, attstattarget FROM pg_attribute WHERE attrelid = 'outreach.rectification'::regclass
  AND attname IN ('field', 'before_value', 'after_value') ORDER BY attnum;
SET ROLE regress_rr_writer_a;
SELECT regress.try('SELECT count(*)::text FROM outreach.rectification') AS writer_reads_rectification;
RESET ROLE;
SET ROLE regress_rr_dpo_b;
SELECT count(*) AS b_reads_as_rectifications FROM outreach.rectification WHERE controller_id = :rr_a;
RESET ROLE;

-- The effects. Wendy and Ros: due to no recipient, counted in no aggregate, not shared; Wendy
-- marked for deletion today with reason withdrawn (Ros is kept by her restriction); Rae as
-- before, her corrected record due to be sent again.
SELECT * FROM rights_effect;
SET ROLE regress_rr_dpo_b;
SELECT count(*) AS b_sees_wendys_engagement FROM outreach.shared_engagement WHERE participant_id = :bwd;
RESET ROLE;
SET ROLE regress_rr_dpo_a;
SELECT kind, opened_on = pg_temp.uk_today() AS opened_today, records_marked
FROM outreach.deletion_notice n WHERE controller_id = :rr_a AND kind = 'withdrawal';
-- The ledger: DfE gets a follow-up for each, under the reference it knows them by.
SELECT f.kind, f.reference, f.fields, f.batch_id IS NOT NULL AS sent_to_member
FROM outreach.recipient_followup f WHERE f.controller_id = :rr_a AND f.export_id = :dfe_rights
ORDER BY f.reference, f.kind;
-- A second withdrawal that day joins the same notice; withdrawing Wendy again changes nothing.
SELECT count(*) AS again FROM outreach.withdraw_participant(:rr_a, ARRAY[:wd]);
SELECT count(*) AS rectified_nothing FROM outreach.rectify_participant(:rr_a, :rc, '{"last_name": "Correct"}');
SELECT retention_status FROM outreach.withdraw_participant(:rr_a, ARRAY[:rc]);
SELECT kind, records_marked FROM outreach.deletion_notice WHERE controller_id = :rr_a AND kind = 'withdrawal';
-- Confirming the withdrawal notice deletes both; the rectification's before values go with Rae.
SELECT outreach.confirm_deletion(notice_id) AS confirmed FROM outreach.deletion_notice WHERE controller_id = :rr_a AND kind = 'withdrawal';
RESET ROLE;
CALL outreach.delete_confirmed(1000);
SELECT (SELECT count(*) FROM outreach.participant WHERE participant_id IN (:wd, :rc)) AS left_,
       (SELECT array_agg(reasons[1]) FROM outreach.tombstone WHERE participant_id IN (:wd, :rc)) AS tombstone_reasons,
       (SELECT count(*) FROM outreach.rectification WHERE participant_id = :rc) AS rectifications_left;
-- A writer's own UPDATE of withdrawn_at is the same withdrawal: marked at once.
UPDATE outreach.participant SET restricted_at = NULL WHERE participant_id = :rs;
SET ROLE regress_rr_writer_a;
UPDATE outreach.participant SET withdrawn_at = now() WHERE participant_id = :rs;
RESET ROLE;
SELECT retention_status, retention_reasons, retention_notice_id = n.notice_id AS on_the_days_notice,
       n.records_marked AS notice_counts_it_after_the_first_two_were_confirmed
FROM outreach.participant p, outreach.deletion_notice n
WHERE p.participant_id = :rs AND n.controller_id = :rr_a AND n.kind = 'withdrawal';
DROP VIEW rights_effect;
DELETE FROM outreach.disclosure_block WHERE export_id = :dfe_rights;
DELETE FROM outreach.export WHERE export_id = :dfe_rights;

-----------------------------------------------------------------------------------------------
-- Reminders: the daemon's escalate job queues a reminder for an open request due within 7
-- days and an escalation (also by email to the legal contact) for an overdue one, once per
-- request and due date, with no personal data in them
-----------------------------------------------------------------------------------------------
DELETE FROM outreach.notice_delivery WHERE controller_id IN (:rr_a, :rr_b);
UPDATE outreach.rights_request SET status = 'completed', outcome = 'cleared for the reminder test', closed_on = received_on
WHERE controller_id IN (:rr_a, :rr_b) AND status = 'open';
INSERT INTO outreach.notification_channel (controller_id, kind, target) VALUES (:rr_a, 'webhook', 'https://a.example/rights');
UPDATE outreach.controller SET legal_contact = 'dpo@a.example' WHERE controller_id = :rr_a;
SET ROLE regress_rr_dpo_a;
SELECT outreach.open_rights_request(:rr_a, 'erasure', pg_temp.uk_today(), requester => 'parent_or_guardian',
                                    participant_ids => ARRAY[:kid], child_agreement => true) AS due_req \gset
SELECT due_on - pg_temp.uk_today() BETWEEN 28 AND 31 AS due_in_a_month FROM outreach.rights_request WHERE request_id = :due_req;
RESET ROLE;
-- (the job run at 10:00 UK time, days before or after the due date)
CREATE FUNCTION pg_temp.remind(rid bigint, days int) RETURNS int LANGUAGE sql AS
$$ SELECT outreach.enqueue_rights_reminders(((SELECT due_on FROM outreach.rights_request WHERE request_id = rid) + days)
                                            + time '10:00' AT TIME ZONE 'Europe/London') $$;
SELECT pg_temp.remind(:due_req, -8) AS eight_days_before, pg_temp.remind(:due_req, -7) AS seven_days_before,
       pg_temp.remind(:due_req, -7) AS again_that_day, pg_temp.remind(:due_req, 1) AS a_day_late;
SELECT purpose, kind, target, subject, payload ->> 'type' AS type, payload ->> 'overdue' AS overdue,
       payload ->> 'due_within_7_days' AS due_soon, (payload #>> '{requests,0,request_id}')::bigint = :due_req AS the_request,
       payload #>> '{requests,0,kind}' AS request_kind, payload #>> '{requests,0,days_left}' AS days_left,
       payload::text ~ '(requester|Kim|parent)' AS personal
FROM outreach.notice_delivery WHERE controller_id = :rr_a ORDER BY delivery_id;
-- Many requests make one message a day, not one each: no member fills the shared queue.
SET ROLE regress_rr_dpo_a;
SELECT count(outreach.open_rights_request(:rr_a, 'access', pg_temp.uk_today() - 40)) AS opened_overdue FROM generate_series(1, 50);
RESET ROLE;
SELECT outreach.enqueue_rights_reminders() AS members_reminded;
SELECT count(*) AS messages_today, max((payload ->> 'overdue')::int) AS overdue_listed,
       max(jsonb_array_length(payload -> 'requests')) AS requests_listed
FROM outreach.notice_delivery WHERE controller_id = :rr_a AND idempotency_key = format('outreach-rights-%s-%s', :rr_a, pg_temp.uk_today());
-- The daemon's role may run it; nobody else; a date years ahead is refused from a non-superuser.
CREATE ROLE regress_rr_daemon;
GRANT outreach_daemon TO regress_rr_daemon;
SET SESSION AUTHORIZATION regress_rr_daemon;
SELECT regress.try('SELECT outreach.enqueue_rights_reminders(now())::text') AS daemon,
       regexp_replace(regress.try($$SELECT outreach.enqueue_rights_reminders(now() + interval '10 years')::text$$),
                      '[0-9]{4}-[0-9]{2}-[0-9]{2}', 'DATE') AS years_ahead;
RESET SESSION AUTHORIZATION;
SET ROLE regress_rr_dpo_a;
SELECT regress.try('SELECT outreach.enqueue_rights_reminders(now())::text') AS dpo;
RESET ROLE;

SET client_min_messages = warning;
SELECT pg_temp.rr_cleanup();
RESET client_min_messages;
