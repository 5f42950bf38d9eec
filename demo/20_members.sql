-- Demo, part 2: members as data controllers, each seeing only its own people, and the
-- engagement they share through linkage pseudonyms. Synthetic people only.
\pset footer off
\set ON_ERROR_STOP on
SET search_path = public, outreach;

SELECT create_controller('northbridge', 'University of Northbridge') AS northbridge,
       create_controller('riverside', 'Riverside College') AS riverside,
       create_controller('highland', 'Highland Trust') AS highland \gset
CREATE ROLE demo_nb_crm LOGIN;      -- Northbridge's CRM (writer)
CREATE ROLE demo_rs_forms LOGIN;    -- Riverside's registration forms (writer)
CREATE ROLE demo_hl_staff LOGIN;    -- Highland Trust's staff (writer)
CREATE ROLE demo_nb_dpo LOGIN;      -- Northbridge's data-protection officer
SELECT grant_controller_access('demo_nb_crm', 'northbridge', 'writer'),
       grant_controller_access('demo_rs_forms', 'riverside', 'writer'),
       grant_controller_access('demo_hl_staff', 'highland', 'writer'),
       grant_controller_access('demo_nb_dpo', 'northbridge', 'dpo') \gset
-- The members' systems read the demo's registrations (part 1) to load them.
GRANT USAGE ON SCHEMA demo TO demo_nb_crm, demo_rs_forms, demo_hl_staff;
GRANT SELECT ON demo.registration TO demo_nb_crm, demo_rs_forms, demo_hl_staff;

-- Each member's system writes its own data; controller_id defaults to its controller.
SET ROLE demo_nb_crm;
INSERT INTO participant (first_name, last_name, date_of_birth, postcode, ethnicity, external_ref)
SELECT first_name, last_name, date_of_birth, postcode::uk_postcode, 'not stated', 'NB-' || row_number() OVER ()
FROM demo.registration WHERE member = 'University of Northbridge' AND is_valid_postcode(postcode);
INSERT INTO activity (activity_type, name, starts_on) VALUES
  ('summer_school', 'Engineering summer school', '2024-07-15'), ('campus_visit', 'Open day', '2024-10-05');
INSERT INTO attendance (participant_id, activity_id, attended_on)
SELECT p.participant_id, a.activity_id, a.starts_on FROM participant p, activity a;
RESET ROLE;

SET ROLE demo_rs_forms;
INSERT INTO participant (first_name, last_name, date_of_birth, postcode, external_ref)
SELECT first_name, last_name, date_of_birth, postcode::uk_postcode, 'RS-' || row_number() OVER ()
FROM demo.registration WHERE member = 'Riverside College' AND is_valid_postcode(postcode);
INSERT INTO activity (activity_type, name, starts_on) VALUES ('mentoring', 'Year 12 mentoring', '2025-01-20');
INSERT INTO attendance (participant_id, activity_id, attended_on)
SELECT p.participant_id, a.activity_id, a.starts_on FROM participant p, activity a;
RESET ROLE;

SET ROLE demo_hl_staff;
INSERT INTO participant (first_name, last_name, date_of_birth, postcode, external_ref)
SELECT first_name, last_name, date_of_birth, postcode::uk_postcode, 'HL-' || row_number() OVER ()
FROM demo.registration WHERE member = 'Highland Trust' AND is_valid_postcode(postcode);
RESET ROLE;

\echo
\echo '== 4. Each member sees only its own participants (row-level security, enforced by the database) =='
\echo '-- as Northbridge''s CRM:'
SET ROLE demo_nb_crm;
SELECT controller_id, participant_id, first_name, last_name, postcode FROM participant_core ORDER BY participant_id;
RESET ROLE;
\echo '-- as Riverside''s registration forms:'
SET ROLE demo_rs_forms;
SELECT controller_id, participant_id, first_name, last_name, postcode FROM participant_core ORDER BY participant_id;
\echo '-- Riverside trying to write a row into Northbridge (SQLSTATE 42501):'
\set ON_ERROR_STOP off
INSERT INTO participant (controller_id, first_name) VALUES (:northbridge, 'Intruder');
\echo '-- and reading special-category data without being its DPO (42501):'
SELECT ethnicity FROM participant;
\set ON_ERROR_STOP on
RESET ROLE;

\echo
\echo '== 5. Shared engagement: Riverside learns which other members its pupils also met, nothing more =='
SET ROLE demo_rs_forms;
SELECT p.first_name, p.last_name, s.other_controller_name, s.activity_type, s.attended_on
FROM shared_engagement s JOIN participant_core p USING (controller_id, participant_id)
ORDER BY p.first_name, s.attended_on;
RESET ROLE;

\echo
\echo '== 6. Northbridge''s DPO: special-category data through the audited function, and the audit trail =='
SET ROLE demo_nb_dpo;
SELECT participant_id, ethnicity FROM read_special_category(:northbridge) ORDER BY participant_id;
SELECT action, relation, acting_role, count(*) AS records, max(columns::text) AS columns
FROM audit_log GROUP BY 1, 2, 3 ORDER BY 1, 2;
RESET ROLE;
