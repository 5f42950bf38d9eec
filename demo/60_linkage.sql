-- Demo, part 6: linkage. What Northbridge's DPO can say about who received a participant's
-- data, and the member's progression summary from the outcomes HESA returned.
\pset footer off
\set ON_ERROR_STOP on
SET search_path = public, outreach;

\echo
\echo '== 14. Who received Northbridge''s participants'' data, and when (the DPO''s record of disclosures) =='
SET ROLE demo_nb_dpo;
SELECT p.first_name, d.recipient, d.export_id, d.exported_at::date AS exported_on, d.file_name
FROM participant_disclosures d JOIN participant_core p USING (controller_id, participant_id)
ORDER BY p.first_name, d.recipient;
RESET ROLE;

\echo
\echo '== 15. Outcomes HESA returned, joined back: Northbridge''s progression summary (its own participants only) =='
CREATE ROLE demo_nb_analyst LOGIN;
SELECT grant_controller_access('demo_nb_analyst', 'northbridge', 'analyst') \gset
SET ROLE demo_nb_analyst;
SELECT controller_code AS member, recipient, outcome, academic_year, participants, participants_sent
FROM progression_summary ORDER BY outcome;
RESET ROLE;
SELECT file_name, lines, inserted, unchanged, rejected, unknown_references FROM outcome_import ORDER BY import_id;
