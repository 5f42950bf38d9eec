-- Functional tests of the schema, part 5: query plans of member queries. Row security adds
-- controller_id = ANY (outreach.my_controller_ids(level)) to every query. The comparison must be
-- an index condition on the leading column of the primary keys (the helper is then evaluated once
-- per index scan, as a run-time key, or once per query when a policy puts it in a sub-select,
-- which shows as an InitPlan), never a filter applied to every row of every member.
SET search_path = regress, outreach, public;

CREATE FUNCTION regress.drop_controllers(codes text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  ids int[] := ARRAY(SELECT controller_id FROM outreach.controller WHERE code = ANY (codes));
  roles text[] := ARRAY(SELECT role::text FROM outreach.controller_role WHERE controller_id = ANY (ids));
  r text;
BEGIN
  DELETE FROM outreach.attendance WHERE controller_id = ANY (ids);
  DELETE FROM outreach.activity WHERE controller_id = ANY (ids);
  DELETE FROM outreach.participant WHERE controller_id = ANY (ids);
  DELETE FROM outreach.deletion_notice WHERE controller_id = ANY (ids);
  DELETE FROM outreach.audit_log WHERE controller_id = ANY (ids);
  DELETE FROM outreach.controller WHERE controller_id = ANY (ids);
  FOREACH r IN ARRAY roles LOOP
    EXECUTE format('DROP ROLE %I', r);
  END LOOP;
END $$;

SELECT count(outreach.create_controller(code, 'Plan member ' || code)) AS members
FROM unnest(ARRAY['regress_plan_a', 'regress_plan_b', 'regress_plan_c']) AS code;
CREATE ROLE regress_plan_reader;
CREATE ROLE regress_plan_writer;
SELECT outreach.grant_controller_access('regress_plan_reader', 'regress_plan_a', 'reader'),
       outreach.grant_controller_access('regress_plan_writer', 'regress_plan_b', 'writer');

-- 3 members x 2000 participants, 30 activities and 4000 attendances each (loaded by the
-- superuser, who gives controller_id explicitly).
INSERT INTO outreach.participant (controller_id, external_ref, first_name, last_name, date_of_birth, postcode)
SELECT c.controller_id, 'P' || n, 'First' || n, 'Last' || (n % 300), date '2006-09-01' + n % 700, 'M1 1AE'
FROM outreach.controller c, generate_series(1, 2000) AS n
WHERE c.code LIKE 'regress\_plan\_%';
INSERT INTO outreach.activity (controller_id, activity_type, name, starts_on)
SELECT c.controller_id, (ARRAY['campus_visit', 'summer_school', 'mentoring', 'workshop', 'other'])[1 + n % 5],
       'Activity ' || n, date '2024-01-01' + n * 7
FROM outreach.controller c, generate_series(1, 30) AS n
WHERE c.code LIKE 'regress\_plan\_%';
INSERT INTO outreach.attendance (controller_id, participant_id, activity_id, attended_on)
SELECT p.controller_id, p.participant_id, a.activity_id, a.starts_on
FROM outreach.participant p
JOIN outreach.activity a ON a.controller_id = p.controller_id
 AND a.name IN ('Activity ' || (1 + p.participant_id % 30), 'Activity ' || (1 + (p.participant_id + 7) % 30))
WHERE p.controller_id IN (SELECT controller_id FROM outreach.controller WHERE code LIKE 'regress\_plan\_%');
VACUUM ANALYZE outreach.participant, outreach.activity, outreach.attendance;
SELECT c.code, (SELECT count(*) FROM outreach.participant p WHERE p.controller_id = c.controller_id) AS participants,
       (SELECT count(*) FROM outreach.activity a WHERE a.controller_id = c.controller_id) AS activities,
       (SELECT count(*) FROM outreach.attendance a WHERE a.controller_id = c.controller_id) AS attendances
FROM outreach.controller c WHERE c.code LIKE 'regress\_plan\_%' ORDER BY 1;
SELECT min(participant_id) AS some_id FROM outreach.participant
WHERE controller_id = (SELECT controller_id FROM outreach.controller WHERE code = 'regress_plan_a') \gset

-- For a query run by the current role: does the plan compare controller_id in an index
-- condition, in a filter, and does it evaluate a helper in an InitPlan? (Row security's
-- controller_visible() is replaced while planning by controller_id = <the member's id>.)
CREATE FUNCTION regress.plan_shape(query text,
                                   OUT controller_in_index_cond boolean, OUT controller_in_filter boolean,
                                   OUT initplan boolean)
LANGUAGE plpgsql AS $$
DECLARE
  plan jsonb;
BEGIN
  EXECUTE 'EXPLAIN (COSTS OFF, FORMAT JSON) ' || query INTO plan;
  controller_in_index_cond := jsonb_path_exists(plan, 'strict $.**."Index Cond" ? (@ like_regex "controller_id = [0-9]")');
  controller_in_filter := jsonb_path_exists(plan, 'strict $.**."Filter" ? (@ like_regex "controller_id = [0-9]")');
  initplan := jsonb_path_exists(plan, 'strict $.**."Parent Relationship" ? (@ == "InitPlan")');
END $$;
-- EXPLAIN text with the controller's id (which depends on what ran before) masked.
CREATE FUNCTION regress.explain(query text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  line text;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
    RETURN NEXT regexp_replace(line, 'controller_id = [0-9]+', 'controller_id = <member''s controller>', 'g');
  END LOOP;
END $$;

SET ROLE regress_plan_reader;
-- The answers first: a member sees its own 2000 participants.
SELECT count(*) AS own_participants FROM outreach.participant_core;
SELECT count(*) AS found FROM outreach.participant WHERE participant_id = :some_id;
SELECT count(*) AS summer_school_attendances
FROM outreach.participant p
JOIN outreach.attendance att ON att.controller_id = p.controller_id AND att.participant_id = p.participant_id
JOIN outreach.activity a ON a.controller_id = att.controller_id AND a.activity_id = att.activity_id
WHERE a.activity_type = 'summer_school';

-- Here each member holds a third of every table, so sequential, bitmap and plain index scans
-- cost about the same and the planner's choice flips from run to run (with the statistics and
-- what autovacuum did meanwhile); in service a member holds a small fraction. Sequential and
-- bitmap scans are switched off so that the plans are stable and show how the row-security
-- condition is used when an index is.
SET enable_seqscan = off;
SET enable_bitmapscan = off;
-- (Which index the count uses, and whether the join below hashes or loops, depends on the
-- statistics; the summary further down checks what must hold whatever the planner picks.)
-- Lookup by participant_id (prepared, so that the plan shows $1 rather than an id that depends
-- on what ran before).
SET plan_cache_mode = force_generic_plan;
PREPARE lookup(bigint) AS SELECT first_name, last_name FROM outreach.participant WHERE participant_id = $1;
SELECT regress.explain(format('EXECUTE lookup(%s)', :some_id));
DEALLOCATE lookup;
-- Count, lookup and the participant-attendance-activity join for one activity type, summed up.
SELECT q AS query, (regress.plan_shape(sql)).*
FROM (VALUES ('count', 'SELECT count(*) FROM outreach.participant_core'),
             ('lookup', format('SELECT first_name FROM outreach.participant WHERE participant_id = %s', :some_id)),
             ('join', $q$SELECT p.external_ref, att.attended_on FROM outreach.participant p
                        JOIN outreach.attendance att ON att.controller_id = p.controller_id AND att.participant_id = p.participant_id
                        JOIN outreach.activity a ON a.controller_id = att.controller_id AND a.activity_id = att.activity_id
                        WHERE a.activity_type = 'summer_school'$q$)) AS t(q, sql)
ORDER BY 1;
RESET ROLE;

-- A writer's UPDATE and DELETE find their rows the same way.
SET ROLE regress_plan_writer;
PREPARE rename(bigint) AS UPDATE outreach.participant SET first_name = 'X' WHERE participant_id = $1;
PREPARE forget(bigint) AS DELETE FROM outreach.attendance WHERE participant_id = $1;
SELECT regress.explain(format('EXECUTE rename(%s)', :some_id));
SELECT regress.explain(format('EXECUTE forget(%s)', :some_id));
DEALLOCATE rename;
DEALLOCATE forget;
RESET ROLE;
RESET enable_seqscan;
RESET enable_bitmapscan;

-- A plan holds the member's controller as a constant, so it must never outlive the member's
-- access: a cached generic plan is re-planned after a revoke and after a grant.
SET plan_cache_mode = force_generic_plan;
SET ROLE regress_plan_reader;
PREPARE mine AS SELECT string_agg(DISTINCT c.code, ', ') AS members, count(*) AS participants
  FROM outreach.participant_core p JOIN outreach.controller c USING (controller_id);
EXECUTE mine;
RESET ROLE;
SELECT outreach.grant_controller_access('regress_plan_reader', 'regress_plan_b', 'reader');
SET ROLE regress_plan_reader;
EXECUTE mine;
RESET ROLE;
SELECT outreach.revoke_controller_access('regress_plan_reader', 'regress_plan_a', 'reader');
SET ROLE regress_plan_reader;
EXECUTE mine;
DEALLOCATE mine;
RESET ROLE;
RESET plan_cache_mode;

------------------------------------------------------------------------------------------------
-- Clean up.
------------------------------------------------------------------------------------------------
SELECT regress.drop_controllers(ARRAY['regress_plan_a', 'regress_plan_b', 'regress_plan_c']);
DROP ROLE regress_plan_reader, regress_plan_writer;
DROP FUNCTION regress.drop_controllers(text[]), regress.plan_shape(text), regress.explain(text);
SELECT count(*) AS roles_left FROM pg_roles WHERE rolname ~ '^(outreach_)?regress_plan';
