-- The record of processing (UK GDPR Art. 30) for two members with different lawful bases: each
-- member's DPO records its own bases and reads its own record; the processor reads every
-- member's; nobody else reads any. Built from the data catalogue, never from hand-kept text.
SET search_path = regress, outreach, public;
\set VERBOSITY terse

SET client_min_messages = warning;
CREATE FUNCTION pg_temp.rop_cleanup() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  r record;
  ids int[] := ARRAY(SELECT controller_id FROM outreach.controller WHERE code LIKE 'regress\_rop\_%');
BEGIN
  DELETE FROM outreach.participant WHERE controller_id = ANY (ids);
  DELETE FROM outreach.audit_log WHERE controller_id = ANY (ids);
  DELETE FROM outreach.controller WHERE controller_id = ANY (ids);
  FOR r IN SELECT rolname FROM pg_catalog.pg_roles
           WHERE rolname LIKE 'regress\_rop\_%' OR rolname LIKE 'outreach\_regress\_rop\_%' ORDER BY 1 LOOP
    EXECUTE pg_catalog.format('DROP ROLE %I', r.rolname);
  END LOOP;
END $$;
SELECT pg_temp.rop_cleanup();
RESET client_min_messages;

SELECT outreach.create_controller('regress_rop_uni', 'Regress University') AS uni \gset
SELECT outreach.create_controller('regress_rop_charity', 'Regress Charity') AS charity \gset
CREATE ROLE regress_rop_uni_dpo;
CREATE ROLE regress_rop_charity_dpo;
CREATE ROLE regress_rop_staff;
CREATE ROLE regress_rop_nobody;
SELECT count(*) AS grants FROM (VALUES (outreach.grant_controller_access('regress_rop_uni_dpo', 'regress_rop_uni', 'dpo')),
                                       (outreach.grant_controller_access('regress_rop_charity_dpo', 'regress_rop_charity', 'dpo'))) AS g(x);
GRANT outreach_processor TO regress_rop_staff;

-- Each DPO records its own member's bases; bad values are 22023 with the choices.
SET ROLE regress_rop_uni_dpo;
SELECT regress.try(format($$SELECT outreach.set_processing_basis(%s, 'university', '6(1)(a)', 'Z1234567', 'dpo@uni.example')::text$$, :uni)) AS unknown_basis,
       regress.try(format($$SELECT outreach.set_processing_basis(%s, 'university', '6(1)(f)', 'Z1234567', 'dpo@uni.example')::text$$, :uni)) AS university_legitimate_interests,
       regress.try(format($$SELECT outreach.set_processing_basis(%s, 'university', '6(1)(e)', 'Z1234567', 'dpo@uni.example', '9(2)(z)')::text$$, :uni)) AS unknown_art9,
       regress.try(format($$SELECT outreach.set_processing_basis(%s, 'university', '6(1)(e)', '1234567', 'dpo@uni.example')::text$$, :uni)) AS bad_ico_number,
       regress.try(format($$SELECT outreach.set_processing_basis(%s, 'university', '6(1)(e)', 'Z1234567', E'dpo@uni.example\nico_registration: Z9999999')::text$$, :uni)) AS contact_with_a_new_line,
       regress.try(format($$SELECT outreach.set_processing_basis(%s, 'university', '6(1)(e)', 'Z1234567', E'dpo@uni.example \u202e')::text$$, :uni)) AS contact_with_a_direction_change,
       regexp_replace(regress.try(format($$SELECT outreach.set_processing_basis(%s, 'charity', '6(1)(f)', 'ZA123456', 'x')::text$$, :charity)), '[0-9]+$', 'N') AS other_member;
SELECT outreach.set_processing_basis(:uni, 'university', '6(1)(e)', 'Z1234567', 'dpo@uni.example');
RESET ROLE;
SET ROLE regress_rop_charity_dpo;
SELECT outreach.set_processing_basis(:charity, 'charity', '6(1)(f)', 'ZA123456', 'privacy@charity.example', '9(2)(g)');
SELECT controller_id = :charity AS own, organisation_kind, lawful_basis, art9_condition, ico_registration
FROM outreach.controller_processing;
RESET ROLE;

-- Each DPO's record: its member's 30(1) and the service's 30(2); the bases are its own.
SET ROLE regress_rop_uni_dpo;
SELECT controller_code, article, item FROM outreach.record_of_processing ORDER BY controller_id NULLS LAST, article;
SELECT entry ->> 'ico_registration' AS ico, entry ->> 'dpo_contact' AS dpo FROM outreach.record_of_processing WHERE article = '30(1)(a)';
SELECT e ->> 'purpose' AS purpose, e -> 'lawful_bases' AS bases, e ->> 'art9_condition' AS art9
FROM outreach.record_of_processing, jsonb_array_elements(entry) e WHERE article = '30(1)(b)' ORDER BY 1;
RESET ROLE;
SET ROLE regress_rop_charity_dpo;
SELECT e ->> 'purpose' AS purpose, e -> 'lawful_bases' AS bases, e ->> 'art9_condition' AS art9
FROM outreach.record_of_processing, jsonb_array_elements(entry) e WHERE article = '30(1)(b)' AND e ->> 'purpose' IN ('equality', 'evaluation')
ORDER BY 1;
RESET ROLE;
-- The categories come from the catalogue: every personal column is named under its category,
-- special category data flagged; the recipients from their layouts; the time limits from the
-- member's policy.
SET ROLE regress_rop_uni_dpo;
SELECT c ->> 'category' AS category, (c ->> 'special_category')::boolean AS special, jsonb_array_length(c -> 'where') AS columns
FROM outreach.record_of_processing, jsonb_array_elements(entry -> 'personal_data') c
WHERE article = '30(1)(c)' AND c ->> 'category' IN ('name', 'special_category', 'pseudonym') ORDER BY 1;
SELECT (SELECT count(*) FROM outreach.data_catalogue WHERE category <> 'none')
       = (SELECT sum(jsonb_array_length(c -> 'where')) FROM outreach.record_of_processing, jsonb_array_elements(entry -> 'personal_data') c
          WHERE article = '30(1)(c)') AS every_personal_column_named;
SELECT r ->> 'recipient' AS recipient, r -> 'fields' ? 'date_of_birth' AS sends_date_of_birth
FROM outreach.record_of_processing, jsonb_array_elements(entry -> 'linkage_recipients') r WHERE article = '30(1)(d)' ORDER BY 1;
RESET ROLE;
-- Agreements and transfers come from the recipients' sharing agreements in force.
SELECT outreach.record_sharing_agreement('dfe', 'Education Act 1996 s.537A', 'ROP-DFE', 'DfE panel', current_date - 1, current_date + 30) > 0 AS dfe,
       outreach.record_sharing_agreement('ucas', 'UCAS agreement', 'ROP-UCAS', 'UCAS', current_date - 1, current_date + 30,
                                         leaves_uk => true, transfer_safeguard => 'UK International Data Transfer Agreement') > 0 AS ucas;
SET ROLE regress_rop_uni_dpo;
SELECT r ->> 'recipient' AS recipient, r #>> '{agreement,reference}' AS agreement
FROM outreach.record_of_processing, jsonb_array_elements(entry -> 'linkage_recipients') r WHERE article = '30(1)(d)' ORDER BY 1;
SELECT article, entry -> 'transfers' AS transfers FROM outreach.record_of_processing WHERE article IN ('30(1)(e)', '30(2)(c)') ORDER BY 1;
RESET ROLE;
DELETE FROM outreach.sharing_agreement WHERE reference IN ('ROP-DFE', 'ROP-UCAS');
SET ROLE regress_rop_uni_dpo;
SELECT entry #>> '{policy,long_track_years}' AS long_years, entry #>> '{policy,withdrawal_confirm_days}' AS withdrawal_days
FROM outreach.record_of_processing WHERE article = '30(1)(f)';
SELECT entry ->> 'special_category' AS special_category_measure FROM outreach.record_of_processing WHERE article = '30(1)(g)';
RESET ROLE;
SELECT outreach.set_retention_policy('regress_rop_uni', long_track_years => 12);
SET ROLE regress_rop_uni_dpo;
SELECT entry #>> '{policy,long_track_years}' AS long_years_after_change FROM outreach.record_of_processing WHERE article = '30(1)(f)';
RESET ROLE;
-- Export files: the service's export_file_days, as set.
SELECT outreach.set_service_retention(export_file_days => 14);
SET ROLE regress_rop_uni_dpo;
SELECT entry ->> 'export_files' AS export_files FROM outreach.record_of_processing WHERE article = '30(1)(f)';
RESET ROLE;
DELETE FROM outreach.service_retention;

-- The processor reads every member's record (at least these two); others read none.
SET ROLE regress_rop_staff;
SELECT controller_code, count(*) AS items FROM outreach.record_of_processing
WHERE controller_code LIKE 'regress\_rop\_%' GROUP BY 1 ORDER BY 1;
SELECT count(*) AS processor_rows_30_2 FROM outreach.record_of_processing WHERE controller_id IS NULL;
RESET ROLE;
SET ROLE regress_rop_nobody;
SELECT regress.try('SELECT count(*)::text FROM outreach.record_of_processing') AS nobody,
       regress.try('SELECT count(*)::text FROM outreach.controller_processing') AS nobody_bases;
RESET ROLE;
SET ROLE regress_rop_uni_dpo;
SELECT count(*) AS other_members_rows FROM outreach.record_of_processing WHERE controller_id = :charity;
SELECT count(*) AS other_members_bases FROM outreach.controller_processing WHERE controller_id = :charity;
RESET ROLE;

-- What a member tells each person (subject access) now states the member's own bases.
SET ROLE regress_rop_charity_dpo;
SELECT outreach.processing_statement(:charity) -> 'lawful_bases' AS charity_bases;
RESET ROLE;

-- Reads on the record: support staff find a record through support_lookup, stating the purpose
-- and the ticket; each look-up is in the member's audit log (who, why, which record), special
-- categories are never returned; other roles, unknown purposes and a missing ticket are refused.
CREATE ROLE regress_rop_support;
GRANT outreach_support TO regress_rop_support;
INSERT INTO outreach.participant (controller_id, external_ref, first_name, last_name, date_of_birth, postcode, religion)
VALUES (:uni, 'U-17', 'Ola', 'Nwosu', '2009-05-05', 'LS2 9JT', 'a-religion');
SET ROLE regress_rop_support;
SELECT external_ref, first_name, last_name, date_of_birth, postcode
FROM outreach.support_lookup(:uni, 'member_support_request', 'SUP-4411', of_external_ref => 'U-17');
SELECT regress.try(format($$SELECT count(*)::text FROM outreach.support_lookup(%s, 'curiosity', 'SUP-1', of_external_ref => 'U-17')$$, :uni)) AS no_purpose,
       regress.try(format($$SELECT count(*)::text FROM outreach.support_lookup(%s, 'data_quality', ' ', of_external_ref => 'U-17')$$, :uni)) AS no_ticket,
       regexp_replace(regress.try(format($$SELECT count(*)::text FROM outreach.support_lookup(%s, 'data_quality', 'SUP-2', of_external_ref => 'U-99')$$, :uni)), '[0-9]+$', 'N') AS unknown,
       regress.try(format($$SELECT count(*)::text FROM outreach.support_lookup(%s, 'data_quality', 'SUP-2')$$, :uni)) AS no_record_named,
       regress.try('SELECT count(*)::text FROM outreach.participant') AS blanket_select;
RESET ROLE;
SET ROLE regress_rop_staff;
SELECT regress.try(format($$SELECT count(*)::text FROM outreach.support_lookup(%s, 'data_quality', 'SUP-3', of_external_ref => 'U-17')$$, :uni)) AS processor_staff;
RESET ROLE;
SET ROLE regress_rop_uni_dpo;
SELECT action, acting_role, record ->> 'purpose' AS purpose, record ->> 'ticket' AS ticket, columns
FROM outreach.audit_log WHERE action = 'support_read';
RESET ROLE;

SET client_min_messages = warning;
SELECT pg_temp.rop_cleanup();
RESET client_min_messages;
