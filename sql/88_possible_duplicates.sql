-- Likely duplicates within a member (find_possible_duplicates, docs/matching.md): the variants of
-- one person are paired with their reasons, twins and siblings are not, the pairs are the
-- member's own under row security, a DPO dismisses a pair for good, and the keys are never
-- shown or stored.
SET search_path = regress, outreach, public;
\set VERBOSITY terse

SET client_min_messages = warning;
CREATE FUNCTION pg_temp.pd_cleanup() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  r record;
  ids int[] := ARRAY(SELECT controller_id FROM outreach.controller WHERE code LIKE 'regress\_pd\_%');
BEGIN
  DELETE FROM outreach.possible_duplicate WHERE controller_id = ANY (ids);
  DELETE FROM outreach.participant WHERE controller_id = ANY (ids);
  DELETE FROM outreach.tombstone WHERE controller_id = ANY (ids);
  DELETE FROM outreach.audit_log WHERE controller_id = ANY (ids);
  DELETE FROM outreach.controller WHERE controller_id = ANY (ids);
  FOR r IN SELECT rolname FROM pg_catalog.pg_roles
           WHERE rolname LIKE 'regress\_pd\_%' OR rolname LIKE 'outreach\_regress\_pd\_%' ORDER BY 1 LOOP
    EXECUTE pg_catalog.format('DROP ROLE %I', r.rolname);
  END LOOP;
END $$;
SELECT pg_temp.pd_cleanup();
RESET client_min_messages;

SELECT outreach.create_controller('regress_pd_a', 'Duplicates A') AS pa \gset
SELECT outreach.create_controller('regress_pd_b', 'Duplicates B') AS pb \gset
CREATE ROLE regress_pd_writer;
CREATE ROLE regress_pd_dpo;
CREATE ROLE regress_pd_other;
SELECT outreach.grant_controller_access('regress_pd_writer', 'regress_pd_a', 'writer'),
       outreach.grant_controller_access('regress_pd_dpo', 'regress_pd_a', 'dpo'),
       outreach.grant_controller_access('regress_pd_other', 'regress_pd_b', 'writer');

-- Katherine Smith and her second records; her twin and sister; a namesake far away.
INSERT INTO outreach.participant (controller_id, external_ref, first_name, last_name, date_of_birth, postcode)
VALUES (:pa, 'k0', 'Katherine', 'Smith', '2008-04-03', 'SW1A 1AA'),
       (:pa, 'k1', 'Kate', 'Smith', '2008-04-03', 'SW1A 1AA'),         -- nickname
       (:pa, 'k2', 'Katherine', 'Smyth', '2008-04-03', 'SW1A 1AA'),    -- surname typo
       (:pa, 'k3', 'Katherine', 'Smith', '2008-03-04', 'SW1A 1AA'),    -- day and month swapped
       (:pa, 'k4', 'Katherine', 'Jones', '2008-04-03', 'SW1A 1AA'),    -- surname changed
       (:pa, 't0', 'Amy', 'Smith', '2008-04-03', 'SW1A 1AA'),          -- her twin
       (:pa, 's0', 'Lucy', 'Smith', '2010-09-21', 'SW1A 1AA'),         -- her sister
       (:pa, 'x0', 'Zebedee', 'Quill', '2009-05-05', 'M1 1AE'),        -- a rare name, moved:
       (:pa, 'x1', 'Zebedee', 'Quill', '2009-05-05', 'LS1 1BA');       -- the same person
-- The same person at another member is no pair of this one.
INSERT INTO outreach.participant (controller_id, external_ref, first_name, last_name, date_of_birth, postcode)
VALUES (:pb, 'k0', 'Katherine', 'Smith', '2008-04-03', 'SW1A 1AA');

SET ROLE regress_pd_writer;
SELECT open_pairs, new_pairs FROM outreach.find_possible_duplicates(:pa);
SELECT a.external_ref, b.external_ref AS other_ref, d.reasons, d.status
FROM outreach.possible_duplicate d
JOIN outreach.participant a ON a.controller_id = d.controller_id AND a.participant_id = d.participant_id
JOIN outreach.participant b ON b.controller_id = d.controller_id AND b.participant_id = d.other_participant_id
ORDER BY 1, 2;
-- Never the twin or the sister.
SELECT count(*) AS twin_or_sister_pairs FROM outreach.possible_duplicate d
JOIN outreach.participant a ON a.controller_id = d.controller_id AND a.participant_id IN (d.participant_id, d.other_participant_id)
WHERE a.external_ref IN ('t0', 's0');
-- The keys are computed for the search, not kept, and members cannot compute them.
SELECT regress.try($$SELECT outreach.match_keys(1, 'a', 'b', DATE '2008-01-01', 'M1 1AE', NULL, NULL, NULL)::text$$) AS keys_by_writer;
SELECT regress.try($$SELECT outreach.dismiss_possible_duplicate($$ || :pa || $$, 1, 2)::text$$) AS writer_dismisses;
RESET ROLE;
SELECT count(*) AS tables_with_match_keys FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'outreach' AND a.attname LIKE '%key%' AND c.relname LIKE '%duplicate%';

-- Another member sees none of them and cannot search this member.
SET ROLE regress_pd_other;
SELECT count(*) AS others_pairs FROM outreach.possible_duplicate;
SELECT regexp_replace(regress.try($$SELECT open_pairs::text FROM outreach.find_possible_duplicates($$ || :pa || $$)$$),
                      'controller [0-9]+', 'controller <a>') AS other_member;
RESET ROLE;

-- The DPO dismisses the twin-like pair k0/k4 (a cousin, say): it stays dismissed; a record
-- deleted takes its pairs with it; a pair that is not there is 42704.
SET ROLE regress_pd_dpo;
SELECT outreach.dismiss_possible_duplicate(:pa, (SELECT participant_id FROM outreach.participant WHERE controller_id = :pa AND external_ref = 'k4'),
                                           (SELECT participant_id FROM outreach.participant WHERE controller_id = :pa AND external_ref = 'k0'));
SELECT regexp_replace(regress.try($$SELECT outreach.dismiss_possible_duplicate($$ || :pa || $$, 1, 1)::text$$),
                      'controller [0-9]+', 'controller <a>') AS no_such_pair;
RESET ROLE;
DELETE FROM outreach.participant WHERE controller_id = :pa AND external_ref = 'k3';
SET ROLE regress_pd_writer;
SELECT open_pairs, new_pairs FROM outreach.find_possible_duplicates(:pa);
SELECT a.external_ref, b.external_ref AS other_ref, d.status
FROM outreach.possible_duplicate d
JOIN outreach.participant a ON a.controller_id = d.controller_id AND a.participant_id = d.participant_id
JOIN outreach.participant b ON b.controller_id = d.controller_id AND b.participant_id = d.other_participant_id
ORDER BY 1, 2;
RESET ROLE;
SET ROLE regress_pd_dpo;
SELECT action, relation FROM outreach.audit_log WHERE controller_id = :pa AND action = 'dismiss_duplicate';
RESET ROLE;

SELECT pg_temp.pd_cleanup();
