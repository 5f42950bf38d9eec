-- Demo, part 3: retention. What Northbridge's DPO sees, a sweep run as of a date years ahead
-- (as_of lets the demo travel in time), what became due and why, confirmation and deletion.
\pset footer off
\set ON_ERROR_STOP on
SET search_path = public, outreach;

-- One Highland participant withdraws permission today: due at once.
UPDATE participant SET withdrawn_at = now() WHERE external_ref = 'HL-1';

\echo
\echo '== 7. Retention as Highland Trust''s data-protection officer sees it =='
CREATE ROLE demo_hl_dpo LOGIN;
SELECT grant_controller_access('demo_hl_dpo', 'highland', 'dpo') \gset
SET ROLE demo_hl_dpo;
SELECT p.first_name, s.track, s.expected_he_entry_year AS entry_year, s.due_on, s.status, s.reasons
FROM retention_status s JOIN participant_core p USING (controller_id, participant_id) ORDER BY s.due_on;
\echo '-- the forecast: records falling due in each of the next 20 years (years with none left out)'
SELECT due_year, participants FROM retention_forecast WHERE participants > 0 ORDER BY due_year;
RESET ROLE;

