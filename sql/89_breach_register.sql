-- The breach register: the service's security role records a breach (ICO deadline 72 hours
-- after awareness), every affected member is told at once through its channels, each member's
-- DPO sees only its own breaches and records its decision, a breach closes only when every
-- affected member has decided, and the deadlines view lists what is due.
SET search_path = regress, outreach, public;
\set VERBOSITY terse

SET client_min_messages = warning;
CREATE FUNCTION pg_temp.br_cleanup() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  r record;
  ids int[] := ARRAY(SELECT controller_id FROM outreach.controller WHERE code LIKE 'regress\_br\_%');
BEGIN
  DELETE FROM outreach.breach b WHERE EXISTS (SELECT 1 FROM outreach.breach_member m WHERE m.breach_id = b.breach_id
                                                AND m.controller_id = ANY (ids));
  DELETE FROM outreach.notice_delivery WHERE controller_id = ANY (ids);
  DELETE FROM outreach.notification_channel WHERE controller_id = ANY (ids);
  DELETE FROM outreach.audit_log WHERE controller_id = ANY (ids);
  DELETE FROM outreach.controller WHERE controller_id = ANY (ids);
  FOR r IN SELECT rolname FROM pg_catalog.pg_roles
           WHERE rolname LIKE 'regress\_br\_%' OR rolname LIKE 'outreach\_regress\_br\_%' ORDER BY 1 LOOP
    EXECUTE pg_catalog.format('DROP ROLE %I', r.rolname);
  END LOOP;
END $$;
SELECT pg_temp.br_cleanup();
RESET client_min_messages;

SELECT outreach.create_controller('regress_br_a', 'Breach A') AS br_a \gset
SELECT outreach.create_controller('regress_br_b', 'Breach B') AS br_b \gset
SELECT outreach.create_controller('regress_br_c', 'Breach C') AS br_c \gset
CREATE ROLE regress_br_dpo_a;
CREATE ROLE regress_br_dpo_b;
CREATE ROLE regress_br_dpo_c;
CREATE ROLE regress_br_security;
CREATE ROLE regress_br_staff;
GRANT outreach_security TO regress_br_security;
GRANT outreach_processor TO regress_br_staff;
SELECT count(*) AS grants FROM (VALUES (outreach.grant_controller_access('regress_br_dpo_a', 'regress_br_a', 'dpo')),
                                       (outreach.grant_controller_access('regress_br_dpo_b', 'regress_br_b', 'dpo')),
                                       (outreach.grant_controller_access('regress_br_dpo_c', 'regress_br_c', 'dpo'))) AS g(x);
INSERT INTO outreach.notification_channel (controller_id, kind, target)
VALUES (:br_a, 'webhook', 'https://a.example/breach'), (:br_b, 'email', 'dpo@b.example'), (:br_c, 'email', 'dpo@c.example');

-- Only the security role records breaches; bad input is 22023 (a future awareness, an unknown
-- category or risk), an unknown member 42704.
CREATE FUNCTION pg_temp.breach_sql(aware text, categories text, risk text, members text) RETURNS text LANGUAGE sql AS $$
  SELECT format($f$SELECT outreach.record_breach(%s, 'export file sent to the wrong SFTP account', %s, 120, 130,
                  'names and dates of birth seen by another university''s staff', 'file deleted by the receiver, confirmed in writing',
                  %L, 'one trusted recipient, deleted within the hour', %s)::text$f$, aware, categories, risk, members)
$$;
SET ROLE regress_br_staff;
SELECT regress.try(pg_temp.breach_sql('now()', $$'{name}'$$, 'risk', format('ARRAY[%s]', :br_a))) AS processor_staff;
RESET ROLE;
SET ROLE regress_br_security;
SELECT regress.try(pg_temp.breach_sql($$now() + interval '1 hour'$$, $$'{name}'$$, 'risk', format('ARRAY[%s]', :br_a))) AS aware_in_future,
       regress.try(pg_temp.breach_sql($$'infinity'$$, $$'{name}'$$, 'risk', format('ARRAY[%s]', :br_a))) AS aware_infinity,
       regress.try(pg_temp.breach_sql('now()', $$'{names}'$$, 'risk', format('ARRAY[%s]', :br_a))) AS unknown_category,
       regress.try(pg_temp.breach_sql('now()', $$'{name}'$$, 'severe', format('ARRAY[%s]', :br_a))) AS unknown_risk,
       regress.try(pg_temp.breach_sql('now()', $$'{name}'$$, 'risk', 'ARRAY[999999]')) AS unknown_member;
-- Became aware 71 hours ago, affecting A and B: the ICO deadline is in an hour.
SELECT outreach.record_breach(now() - interval '71 hours', 'export file sent to the wrong SFTP account', '{name,date_of_birth,address}',
                              120, 130, 'names and dates of birth seen by another university''s staff',
                              'file deleted by the receiver, confirmed in writing', 'risk',
                              'one trusted recipient, deleted within the hour', ARRAY[:br_a, :br_b]) AS breach \gset
SELECT ico_deadline - aware_at AS deadline_after_awareness, data_categories, risk FROM outreach.breach WHERE breach_id = :breach;
RESET ROLE;

-- Every affected member was told at once, through its own channels; C was not.
SELECT c.code, d.purpose, d.kind, d.target, d.subject ~ '^Personal data breach affecting your organisation: ICO deadline' AS subject,
       (d.payload ->> 'breach_id')::bigint = :breach AS this_breach, d.payload ->> 'people_approx' AS people
FROM outreach.notice_delivery d JOIN outreach.controller c USING (controller_id)
WHERE c.code LIKE 'regress\_br\_%' ORDER BY 1;

-- Each DPO sees only its own member's breaches and decisions.
SET ROLE regress_br_dpo_a;
SELECT count(*) AS a_sees_breaches FROM outreach.breach;
SELECT controller_id = :br_a AS own, report_to_ico FROM outreach.breach_member;
RESET ROLE;
SET ROLE regress_br_dpo_c;
SELECT count(*) AS c_sees_breaches FROM outreach.breach;
SELECT count(*) AS c_sees_members FROM outreach.breach_member;
SELECT regexp_replace(regress.try(format($$SELECT outreach.decide_breach(%s, %s, true, false, 'x', 'ICO-1')::text$$, :br_c, :breach)), '(controller|breach) [0-9]+', '\1 N', 'g') AS c_decides_on_a_breach_it_is_not_in,
       regexp_replace(regress.try(format($$SELECT outreach.decide_breach(%s, %s, true, false, 'x', 'ICO-1')::text$$, :br_a, :breach)), '(controller|breach) [0-9]+', '\1 N', 'g') AS c_decides_for_a;
RESET ROLE;

-- The deadlines: within 24 hours, both decisions missing; closing now is refused (55000).
SET ROLE regress_br_security;
SELECT breach_id = :breach AS this_breach, state, decisions_missing FROM outreach.breach_deadlines;
SELECT regexp_replace(regress.try(format('SELECT outreach.close_breach(%s)::text', :breach)), '(controller|breach) [0-9]+', '\1 N', 'g') AS close_too_early;
RESET ROLE;

-- A reports to the ICO (with the reference) and tells no one (low risk to the people); B decides
-- not to report. A report without the ICO's reference, or a decision without a reason, is 22023.
SET ROLE regress_br_dpo_a;
SELECT regress.try(format($$SELECT outreach.decide_breach(%s, %s, true, false, 'trusted recipient')::text$$, :br_a, :breach)) AS reported_without_reference,
       regress.try(format($$SELECT outreach.decide_breach(%s, %s, true, false, ' ', 'ICO-00123')::text$$, :br_a, :breach)) AS no_reason;
SELECT outreach.decide_breach(:br_a, :breach, true, false, 'reported: personal data left our control', 'ICO-00123');
SELECT report_to_ico, ico_reference, tell_people, decided_by FROM outreach.breach_member;
SELECT action, relation, record ->> 'breach_id' = :'breach' AS this_breach FROM outreach.audit_log
WHERE controller_id = :br_a AND relation = 'breach_member';
RESET ROLE;
SET ROLE regress_br_security;
SELECT regexp_replace(regress.try(format('SELECT outreach.close_breach(%s)::text', :breach)), '(controller|breach) [0-9]+', '\1 N', 'g') AS close_with_one_missing;
RESET ROLE;
SET ROLE regress_br_dpo_b;
SELECT outreach.decide_breach(:br_b, :breach, false, false, 'not reported: our records were not in the file');
RESET ROLE;
SET ROLE regress_br_security;
SELECT outreach.close_breach(:breach);
SELECT count(*) AS open_deadlines FROM outreach.breach_deadlines;
SELECT m.controller_id = :br_a AS a, m.report_to_ico, m.ico_reference FROM outreach.breach_member m
WHERE m.breach_id = :breach ORDER BY m.controller_id;
-- A time window, an export and an import name the participants touched; bad windows are 22023.
SELECT regress.try($$SELECT count(*)::text FROM outreach.participants_touched(from_at => now(), to_at => now() - interval '1 day')$$) AS window_backwards,
       regress.try($$SELECT count(*)::text FROM outreach.participants_touched(export_id => 1, import_id => 1)$$) AS two_things;
RESET ROLE;
SET ROLE regress_br_dpo_a;
SELECT regress.try($$SELECT count(*)::text FROM outreach.participants_touched(export_id => 1)$$) AS dpo_lists_touched;
RESET ROLE;
INSERT INTO outreach.participant (controller_id, external_ref, first_name) VALUES (:br_a, 'touched', 'Tia');
SET ROLE regress_br_security;
SELECT controller_id = :br_a AS a, how FROM outreach.participants_touched(from_at => now() - interval '1 minute', to_at => now() + interval '1 minute')
WHERE controller_id = :br_a;
RESET ROLE;
DELETE FROM outreach.participant WHERE controller_id = :br_a;

SET client_min_messages = warning;
SELECT pg_temp.br_cleanup();
RESET client_min_messages;
