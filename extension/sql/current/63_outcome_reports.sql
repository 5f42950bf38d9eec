-- Outcome reports: what became of participants (progression to HE, applications, KS4/KS5
-- results, continuation) by activity type, intensity and cohort, against the member's whole
-- participant population; and what each recipient returned (progression_summary). Both under
-- the disclosure policy, computed behind a function boundary (see 62_area_reports.sql), and
-- never counting a withdrawn or restricted participant.

-- A participant's cohort is their Expected HE Entry Year (the override where the member set
-- one); intensity is how many distinct activities they attended, of the row's type ('(all)':
-- of any type). The row with activity_type '(all participants)' is the member's whole
-- population of the cohort, attended or not: the comparison group.
-- The groups every outcome report compares: one row per counted participant (not withdrawn, not
-- restricted) of the given members and cohort, for each activity type they attended and for
-- '(all)' types with their intensity band, and one row '(all participants)' (intensity '(any)').
-- Inlined into the SECURITY DEFINER report functions that call it (their pinned search_path
-- applies; a SET clause here would stop the inlining), and nobody else may call it.
CREATE OR REPLACE FUNCTION outreach.report_groups(ids int[])
RETURNS TABLE (controller_id int, participant_id bigint, cohort int, activity_type text, intensity text)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  WITH people AS (
    SELECT p.controller_id, p.participant_id,
           coalesce(p.he_entry_year_override, outreach.expected_he_entry_year(p.date_of_birth, pol.nation)) AS cohort
    FROM outreach.participant p
    JOIN outreach.retention_policy pol ON pol.controller_id OPERATOR(pg_catalog.=) p.controller_id
    WHERE p.controller_id OPERATOR(pg_catalog.=) ANY (ids)
      AND p.withdrawn_at IS NULL AND p.restricted_at IS NULL
  ), attended AS (
    SELECT att.controller_id, att.participant_id, coalesce(act.activity_type, '(all)') AS activity_type,
           count(DISTINCT att.activity_id) AS activities
    FROM outreach.attendance att
    JOIN outreach.activity act
      ON act.controller_id OPERATOR(pg_catalog.=) att.controller_id
     AND act.activity_id OPERATOR(pg_catalog.=) att.activity_id
    WHERE att.controller_id OPERATOR(pg_catalog.=) ANY (ids)
    GROUP BY GROUPING SETS ((att.controller_id, att.participant_id, act.activity_type),
                            (att.controller_id, att.participant_id))
  )
  SELECT pe.controller_id, pe.participant_id, pe.cohort, a.activity_type,
         CASE WHEN a.activities OPERATOR(pg_catalog.=) 1 THEN '1'
              WHEN a.activities OPERATOR(pg_catalog.<=) 3 THEN '2-3' ELSE '4+' END
  FROM people pe
  JOIN attended a ON a.controller_id OPERATOR(pg_catalog.=) pe.controller_id
                 AND a.participant_id OPERATOR(pg_catalog.=) pe.participant_id
  UNION ALL
  SELECT pe.controller_id, pe.participant_id, pe.cohort, '(all participants)', '(any)' FROM people pe
$$;
REVOKE EXECUTE ON FUNCTION outreach.report_groups(int[]) FROM PUBLIC;
COMMENT ON FUNCTION outreach.report_groups(int[]) IS
  'for the outcome reports: counted participants of the members by cohort, activity type (or (all), (all participants)) and intensity';

-- The intensity bands every activity type is reported in (the whole population: one), zeros
-- included. A standard SQL body: parsed once, when created, and inlined into its callers.
CREATE OR REPLACE FUNCTION outreach.report_intensities(activity_type text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN activity_type OPERATOR(pg_catalog.=) '(all participants)' THEN ARRAY['(any)']
            ELSE ARRAY['1', '2-3', '4+', '(any)'] END;
COMMENT ON FUNCTION outreach.report_intensities(text) IS
  'the intensity bands an outcome report lists for an activity type: 1, 2-3, 4+ and (any); (any) alone for (all participants)';

CREATE OR REPLACE FUNCTION outreach.report_outcomes(policy text DEFAULT 'hesa')
RETURNS TABLE (controller_id int, controller_code text, cohort int, activity_type text, intensity text,
               outcome text, participants bigint, with_outcome bigint, percent numeric, marker text)
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL RESTRICTED
SET search_path = pg_catalog, outreach, pg_temp
SET jit = off   -- (as report_reach_by_area: compiling costs seconds, saves milliseconds)
AS $$
DECLARE
  ids int[] := outreach.report_controller_ids();
BEGIN
  PERFORM outreach.sdc_count(0, policy);   -- an unknown policy stops here (42704), before any work
  RETURN QUERY
  WITH groups AS (
    SELECT * FROM outreach.report_groups(ids)
  ), outcomes AS (
    SELECT DISTINCT b.controller_id, u.participant_id, u.outcome
    FROM outreach.outcome_block b
    CROSS JOIN LATERAL unnest(b.participant_ids, b.outcomes) AS u(participant_id, outcome)
    WHERE b.controller_id OPERATOR(pg_catalog.=) ANY (ids)
  ), kinds AS (
    SELECT k.outcome FROM unnest(ARRAY['he_entry', 'he_application', 'ks4', 'ks5', 'continuation']) AS k(outcome)
  ), cells AS (
    SELECT g.controller_id, g.cohort, g.activity_type, g.intensity, k.outcome,
           count(*) AS base, count(o.participant_id) AS n
    FROM groups g
    CROSS JOIN kinds k
    LEFT JOIN outcomes o ON o.controller_id OPERATOR(pg_catalog.=) g.controller_id
                        AND o.participant_id OPERATOR(pg_catalog.=) g.participant_id
                        AND o.outcome OPERATOR(pg_catalog.=) k.outcome
    GROUP BY GROUPING SETS ((g.controller_id, g.cohort, g.activity_type, g.intensity, k.outcome),
                            (g.controller_id, g.cohort, g.activity_type, k.outcome))
  ), grid AS (
    -- Every intensity and outcome of each cohort and type the member has, zeros included (were
    -- empty cells left out, a published 0 would always mean 1 or 2 people).
    SELECT k.controller_id, k.cohort, k.activity_type, i.intensity, kd.outcome,
           coalesce(c.base, 0) AS base, coalesce(c.n, 0) AS n
    FROM (SELECT DISTINCT c.controller_id, c.cohort, c.activity_type FROM cells c) AS k
    CROSS JOIN LATERAL unnest(outreach.report_intensities(k.activity_type)) AS i(intensity)
    CROSS JOIN kinds kd
    LEFT JOIN cells c ON c.controller_id OPERATOR(pg_catalog.=) k.controller_id AND c.cohort OPERATOR(pg_catalog.=) k.cohort
                     AND c.activity_type OPERATOR(pg_catalog.=) k.activity_type
                     AND coalesce(c.intensity, '(any)') OPERATOR(pg_catalog.=) i.intensity
                     AND c.outcome OPERATOR(pg_catalog.=) kd.outcome
                     AND (c.intensity IS NOT NULL OR c.activity_type OPERATOR(pg_catalog.<>) '(all participants)')
  )
  SELECT g.controller_id, ctl.code::text, g.cohort, g.activity_type, g.intensity, g.outcome,
         outreach.sdc_count(g.base, policy), outreach.sdc_count(g.n, policy),
         CASE WHEN g.base OPERATOR(pg_catalog.>) 0 THEN outreach.sdc_percent(g.n, g.base, policy) END,
         -- an empty group is marked as one of 1 or 2 people is, so the two cannot be told apart
         coalesce(outreach.sdc_count_marker(g.n, policy),
                  outreach.sdc_marker(g.n, greatest(g.base, 1), policy))
  FROM grid g
  JOIN outreach.controller ctl ON ctl.controller_id OPERATOR(pg_catalog.=) g.controller_id;
END
$$;
COMMENT ON FUNCTION outreach.report_outcomes(text) IS
  'participants with each outcome per member, cohort, activity type and intensity, against the whole participant population, under a disclosure policy (hesa, ofs)';
REVOKE EXECUTE ON FUNCTION outreach.report_outcomes(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.report_outcomes(text)
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;

CREATE OR REPLACE VIEW outreach.outcomes_by_activity WITH (security_barrier = true) AS
SELECT r.controller_id, r.controller_code, r.cohort, r.activity_type, r.intensity, r.outcome,
       r.participants, r.with_outcome, r.percent, r.marker
FROM outreach.report_outcomes('hesa') r;
COMMENT ON VIEW outreach.outcomes_by_activity IS
  'progression to HE, HE applications, KS4/KS5 results and continuation per member, cohort, activity type and intensity, HESA rounding and suppression';
COMMENT ON COLUMN outreach.outcomes_by_activity.controller_id IS 'the member (outreach.controller)';
COMMENT ON COLUMN outreach.outcomes_by_activity.controller_code IS 'the member''s code';
COMMENT ON COLUMN outreach.outcomes_by_activity.cohort IS 'Expected HE Entry Year (the member''s override where set)';
COMMENT ON COLUMN outreach.outcomes_by_activity.activity_type IS 'activity type attended, (all) for any type, (all participants) for the member''s whole population of the cohort';
COMMENT ON COLUMN outreach.outcomes_by_activity.intensity IS 'distinct activities attended (of the type): 1, 2-3, 4+, or (any)';
COMMENT ON COLUMN outreach.outcomes_by_activity.outcome IS 'he_entry, he_application, ks4, ks5 or continuation (a record returned by a linkage recipient)';
COMMENT ON COLUMN outreach.outcomes_by_activity.participants IS 'participants in the group, rounded';
COMMENT ON COLUMN outreach.outcomes_by_activity.with_outcome IS 'of them, those with the outcome, rounded';
COMMENT ON COLUMN outreach.outcomes_by_activity.percent IS 'with_outcome as a share of participants, from unrounded counts; NULL when suppressed';
COMMENT ON COLUMN outreach.outcomes_by_activity.marker IS 'why a figure is suppressed (HESA .., OfS [DPL], [DPH], [low], [none]); NULL when shown';
REVOKE ALL ON outreach.outcomes_by_activity FROM PUBLIC;
GRANT SELECT ON outreach.outcomes_by_activity TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;

-- KS4/KS5 attainment: the mean of each numeric measure per member, cohort, activity type and
-- intensity, against the member's whole population of the cohort. Each person counts once per
-- measure (the mean of their own values: a result may come from several providers or years),
-- so that "more than 7" counts people. Every cohort, type and intensity the member has, for
-- every key stage and measure it holds, zeros included.
CREATE OR REPLACE FUNCTION outreach.report_attainment(policy text DEFAULT 'hesa')
RETURNS TABLE (controller_id int, controller_code text, cohort int, activity_type text, intensity text,
               key_stage text, measure text, participants bigint, mean_value numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL RESTRICTED
SET search_path = pg_catalog, outreach, pg_temp
SET jit = off   -- (as report_reach_by_area: compiling costs seconds, saves milliseconds)
AS $$
DECLARE
  ids int[] := outreach.report_controller_ids();
BEGIN
  PERFORM outreach.sdc_count(0, policy);   -- an unknown policy stops here (42704), before any work
  RETURN QUERY
  WITH groups AS MATERIALIZED (
    SELECT * FROM outreach.report_groups(ids)
  ), results AS (
    SELECT r.controller_id, r.participant_id, r.key_stage, r.measure, avg(r.value) AS value
    FROM (SELECT b.controller_id, u.participant_id, u.outcome AS key_stage, u.measure,
                 CASE WHEN u.value ~ '^\s*-?[0-9]{1,9}(\.[0-9]{1,6})?\s*$' THEN u.value::numeric END AS value
          FROM outreach.outcome_block b
          CROSS JOIN LATERAL unnest(b.participant_ids, b.outcomes, b.measures, b.outcome_values)
            AS u(participant_id, outcome, measure, value)
          WHERE b.controller_id OPERATOR(pg_catalog.=) ANY (ids)
            AND u.outcome OPERATOR(pg_catalog.=) ANY (ARRAY['ks4', 'ks5'])) r
    WHERE r.value IS NOT NULL
    GROUP BY r.controller_id, r.participant_id, r.key_stage, r.measure
  ), measures AS (
    SELECT DISTINCT r.controller_id, r.key_stage, r.measure FROM results r
  ), cells AS (
    SELECT g.controller_id, g.cohort, g.activity_type, g.intensity, r.key_stage, r.measure,
           count(*) AS n, sum(r.value) AS total
    FROM groups g
    JOIN results r ON r.controller_id OPERATOR(pg_catalog.=) g.controller_id
                  AND r.participant_id OPERATOR(pg_catalog.=) g.participant_id
    GROUP BY GROUPING SETS ((g.controller_id, g.cohort, g.activity_type, g.intensity, r.key_stage, r.measure),
                            (g.controller_id, g.cohort, g.activity_type, r.key_stage, r.measure))
  ), grid AS (
    SELECT k.controller_id, k.cohort, k.activity_type, i.intensity, m.key_stage, m.measure,
           coalesce(c.n, 0) AS n, c.total
    FROM (SELECT DISTINCT g.controller_id, g.cohort, g.activity_type FROM groups g) AS k
    CROSS JOIN LATERAL unnest(outreach.report_intensities(k.activity_type)) AS i(intensity)
    JOIN measures m ON m.controller_id OPERATOR(pg_catalog.=) k.controller_id
    LEFT JOIN cells c ON c.controller_id OPERATOR(pg_catalog.=) k.controller_id AND c.cohort OPERATOR(pg_catalog.=) k.cohort
                     AND c.activity_type OPERATOR(pg_catalog.=) k.activity_type
                     AND coalesce(c.intensity, '(any)') OPERATOR(pg_catalog.=) i.intensity
                     AND c.key_stage OPERATOR(pg_catalog.=) m.key_stage AND c.measure OPERATOR(pg_catalog.=) m.measure
                     AND (c.intensity IS NOT NULL OR c.activity_type OPERATOR(pg_catalog.<>) '(all participants)')
  )
  SELECT g.controller_id, ctl.code::text, g.cohort, g.activity_type, g.intensity, g.key_stage::text, g.measure::text,
         outreach.sdc_count(g.n, policy), outreach.sdc_mean(g.total, g.n, policy)
  FROM grid g
  JOIN outreach.controller ctl ON ctl.controller_id OPERATOR(pg_catalog.=) g.controller_id;
END
$$;
COMMENT ON FUNCTION outreach.report_attainment(text) IS
  'KS4/KS5 attainment: the mean of each numeric measure per member, cohort, activity type and intensity, against the whole participant population, under a disclosure policy (hesa, ofs)';
REVOKE EXECUTE ON FUNCTION outreach.report_attainment(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.report_attainment(text)
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;

CREATE OR REPLACE VIEW outreach.attainment_by_activity WITH (security_barrier = true) AS
SELECT r.controller_id, r.controller_code, r.cohort, r.activity_type, r.intensity, r.key_stage, r.measure,
       r.participants, r.mean_value
FROM outreach.report_attainment('hesa') r;
COMMENT ON VIEW outreach.attainment_by_activity IS
  'KS4/KS5 attainment (the mean of each measure) per member, cohort, activity type and intensity, against the whole population; HESA rounding and suppression';
COMMENT ON COLUMN outreach.attainment_by_activity.controller_id IS 'the member (outreach.controller)';
COMMENT ON COLUMN outreach.attainment_by_activity.controller_code IS 'the member''s code';
COMMENT ON COLUMN outreach.attainment_by_activity.cohort IS 'Expected HE Entry Year (the member''s override where set)';
COMMENT ON COLUMN outreach.attainment_by_activity.activity_type IS 'activity type attended, (all) for any type, (all participants) for the member''s whole population of the cohort';
COMMENT ON COLUMN outreach.attainment_by_activity.intensity IS 'distinct activities attended (of the type): 1, 2-3, 4+, or (any)';
COMMENT ON COLUMN outreach.attainment_by_activity.key_stage IS 'ks4 or ks5';
COMMENT ON COLUMN outreach.attainment_by_activity.measure IS 'the measure as the recipient returned it (for example attainment8 for KS4)';
COMMENT ON COLUMN outreach.attainment_by_activity.participants IS 'participants in the group with a numeric value of the measure, rounded';
COMMENT ON COLUMN outreach.attainment_by_activity.mean_value IS 'mean of the measure over those participants (each person''s own mean first; one decimal); NULL for 7 people or fewer';
REVOKE ALL ON outreach.attainment_by_activity FROM PUBLIC;
GRANT SELECT ON outreach.attainment_by_activity TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;

-- Continuation in HE: of the participants with a continuation record, the share with each
-- status (as the recipient returned it; each person's status of their latest year), per
-- member, cohort, activity type and intensity, against the whole population. Every status the
-- member holds in every group, zeros included.
CREATE OR REPLACE FUNCTION outreach.report_continuation(policy text DEFAULT 'hesa')
RETURNS TABLE (controller_id int, controller_code text, cohort int, activity_type text, intensity text,
               status text, participants bigint, with_status bigint, percent numeric, marker text)
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL RESTRICTED
SET search_path = pg_catalog, outreach, pg_temp
SET jit = off   -- (as report_reach_by_area: compiling costs seconds, saves milliseconds)
AS $$
DECLARE
  ids int[] := outreach.report_controller_ids();
BEGIN
  PERFORM outreach.sdc_count(0, policy);   -- an unknown policy stops here (42704), before any work
  RETURN QUERY
  WITH groups AS MATERIALIZED (
    SELECT * FROM outreach.report_groups(ids)
  ), latest AS (
    SELECT DISTINCT ON (b.controller_id, u.participant_id) b.controller_id, u.participant_id,
           coalesce(nullif(btrim(u.value), ''), '(none)') AS status
    FROM outreach.outcome_block b
    CROSS JOIN LATERAL unnest(b.participant_ids, b.outcomes, b.academic_years, b.outcome_values, b.updated_ats)
      AS u(participant_id, outcome, academic_year, value, updated_at)
    WHERE b.controller_id OPERATOR(pg_catalog.=) ANY (ids) AND u.outcome OPERATOR(pg_catalog.=) 'continuation'
    ORDER BY b.controller_id, u.participant_id, u.academic_year DESC, u.updated_at DESC, u.value
  ), statuses AS (
    SELECT DISTINCT l.controller_id, l.status FROM latest l
  ), bases AS (
    SELECT g.controller_id, g.cohort, g.activity_type, g.intensity, count(*) AS base
    FROM groups g
    JOIN latest l ON l.controller_id OPERATOR(pg_catalog.=) g.controller_id
                 AND l.participant_id OPERATOR(pg_catalog.=) g.participant_id
    GROUP BY GROUPING SETS ((g.controller_id, g.cohort, g.activity_type, g.intensity),
                            (g.controller_id, g.cohort, g.activity_type))
  ), cells AS (
    SELECT g.controller_id, g.cohort, g.activity_type, g.intensity, l.status, count(*) AS n
    FROM groups g
    JOIN latest l ON l.controller_id OPERATOR(pg_catalog.=) g.controller_id
                 AND l.participant_id OPERATOR(pg_catalog.=) g.participant_id
    GROUP BY GROUPING SETS ((g.controller_id, g.cohort, g.activity_type, g.intensity, l.status),
                            (g.controller_id, g.cohort, g.activity_type, l.status))
  ), grid AS (
    SELECT k.controller_id, k.cohort, k.activity_type, i.intensity, st.status,
           coalesce(b.base, 0) AS base, coalesce(c.n, 0) AS n
    FROM (SELECT DISTINCT g.controller_id, g.cohort, g.activity_type FROM groups g) AS k
    CROSS JOIN LATERAL unnest(outreach.report_intensities(k.activity_type)) AS i(intensity)
    JOIN statuses st ON st.controller_id OPERATOR(pg_catalog.=) k.controller_id
    LEFT JOIN bases b ON b.controller_id OPERATOR(pg_catalog.=) k.controller_id AND b.cohort OPERATOR(pg_catalog.=) k.cohort
                     AND b.activity_type OPERATOR(pg_catalog.=) k.activity_type
                     AND coalesce(b.intensity, '(any)') OPERATOR(pg_catalog.=) i.intensity
                     AND (b.intensity IS NOT NULL OR b.activity_type OPERATOR(pg_catalog.<>) '(all participants)')
    LEFT JOIN cells c ON c.controller_id OPERATOR(pg_catalog.=) k.controller_id AND c.cohort OPERATOR(pg_catalog.=) k.cohort
                     AND c.activity_type OPERATOR(pg_catalog.=) k.activity_type
                     AND coalesce(c.intensity, '(any)') OPERATOR(pg_catalog.=) i.intensity
                     AND c.status OPERATOR(pg_catalog.=) st.status
                     AND (c.intensity IS NOT NULL OR c.activity_type OPERATOR(pg_catalog.<>) '(all participants)')
  )
  SELECT g.controller_id, ctl.code::text, g.cohort, g.activity_type, g.intensity, g.status,
         outreach.sdc_count(g.base, policy), outreach.sdc_count(g.n, policy),
         CASE WHEN g.base OPERATOR(pg_catalog.>) 0 THEN outreach.sdc_percent(g.n, g.base, policy) END,
         -- an empty group is marked as one of 1 or 2 people is (report_outcomes)
         coalesce(outreach.sdc_count_marker(g.n, policy),
                  outreach.sdc_marker(g.n, greatest(g.base, 1), policy))
  FROM grid g
  JOIN outreach.controller ctl ON ctl.controller_id OPERATOR(pg_catalog.=) g.controller_id;
END
$$;
COMMENT ON FUNCTION outreach.report_continuation(text) IS
  'continuation in HE: of participants with a continuation record, the share with each status, per member, cohort, activity type and intensity, under a disclosure policy (hesa, ofs)';
REVOKE EXECUTE ON FUNCTION outreach.report_continuation(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.report_continuation(text)
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;

CREATE OR REPLACE VIEW outreach.continuation_by_activity WITH (security_barrier = true) AS
SELECT r.controller_id, r.controller_code, r.cohort, r.activity_type, r.intensity, r.status,
       r.participants, r.with_status, r.percent, r.marker
FROM outreach.report_continuation('hesa') r;
COMMENT ON VIEW outreach.continuation_by_activity IS
  'continuation in HE (the share of each status among participants with a record) per member, cohort, activity type and intensity, against the whole population; HESA rounding and suppression';
COMMENT ON COLUMN outreach.continuation_by_activity.controller_id IS 'the member (outreach.controller)';
COMMENT ON COLUMN outreach.continuation_by_activity.controller_code IS 'the member''s code';
COMMENT ON COLUMN outreach.continuation_by_activity.cohort IS 'Expected HE Entry Year (the member''s override where set)';
COMMENT ON COLUMN outreach.continuation_by_activity.activity_type IS 'activity type attended, (all) for any type, (all participants) for the member''s whole population of the cohort';
COMMENT ON COLUMN outreach.continuation_by_activity.intensity IS 'distinct activities attended (of the type): 1, 2-3, 4+, or (any)';
COMMENT ON COLUMN outreach.continuation_by_activity.status IS 'continuation status as the recipient returned it, of the person''s latest year ((none) when empty)';
COMMENT ON COLUMN outreach.continuation_by_activity.participants IS 'participants in the group with a continuation record, rounded';
COMMENT ON COLUMN outreach.continuation_by_activity.with_status IS 'of them, those with the status, rounded';
COMMENT ON COLUMN outreach.continuation_by_activity.percent IS 'with_status as a share of participants, from unrounded counts; NULL when suppressed';
COMMENT ON COLUMN outreach.continuation_by_activity.marker IS 'why a figure is suppressed (HESA .., OfS [DPL], [DPH], [low], [none]); NULL when shown';
REVOKE ALL ON outreach.continuation_by_activity FROM PUBLIC;
GRANT SELECT ON outreach.continuation_by_activity TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;

-- Per member and recipient: participants with each kind of outcome returned, how many were
-- sent, and the mean of numeric values, rounded and suppressed by the policy.
CREATE OR REPLACE FUNCTION outreach.report_progression(policy text DEFAULT 'hesa')
RETURNS TABLE (controller_id int, controller_code text, recipient text, outcome text, academic_year int,
               measure text, participants bigint, participants_sent bigint, mean_value numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL RESTRICTED
SET search_path = pg_catalog, outreach, pg_temp
SET jit = off   -- (as report_reach_by_area: compiling costs seconds, saves milliseconds)
AS $$
DECLARE
  ids int[] := outreach.report_controller_ids();
BEGIN
  PERFORM outreach.sdc_count(0, policy);
  RETURN QUERY
  WITH counted AS (
    SELECT p.controller_id, p.participant_id FROM outreach.participant p
    WHERE p.controller_id OPERATOR(pg_catalog.=) ANY (ids) AND p.withdrawn_at IS NULL AND p.restricted_at IS NULL
  ), sent AS (
    SELECT d.controller_id, d.recipient, count(DISTINCT u.participant_id) AS n
    FROM outreach.disclosure_block d
    CROSS JOIN LATERAL unnest(d.participant_ids) AS u(participant_id)
    JOIN counted c ON c.controller_id OPERATOR(pg_catalog.=) d.controller_id
                  AND c.participant_id OPERATOR(pg_catalog.=) u.participant_id
    WHERE d.controller_id OPERATOR(pg_catalog.=) ANY (ids)
    GROUP BY d.controller_id, d.recipient
  ), facts AS (
    SELECT b.controller_id, b.recipient, u.participant_id, u.outcome, u.academic_year, u.measure,
           CASE WHEN u.value ~ '^\s*-?[0-9]{1,9}(\.[0-9]{1,6})?\s*$' THEN u.value::numeric END AS value
    FROM outreach.outcome_block b
    CROSS JOIN LATERAL unnest(b.participant_ids, b.outcomes, b.academic_years, b.measures, b.outcome_values)
      AS u(participant_id, outcome, academic_year, measure, value)
    JOIN counted c ON c.controller_id OPERATOR(pg_catalog.=) b.controller_id
                  AND c.participant_id OPERATOR(pg_catalog.=) u.participant_id
    WHERE b.controller_id OPERATOR(pg_catalog.=) ANY (ids)
  ), per_person AS (
    -- One value per person (the mean of their values: a person may have a result at several
    -- providers), so that "more than 7" counts people, not results.
    SELECT f.controller_id, f.recipient, f.outcome, f.academic_year, f.measure, f.participant_id, avg(f.value) AS value
    FROM facts f
    GROUP BY f.controller_id, f.recipient, f.outcome, f.academic_year, f.measure, f.participant_id
  ), cells AS (
    SELECT pp.controller_id, pp.recipient, pp.outcome, pp.academic_year, pp.measure,
           count(*) AS n, sum(pp.value) AS total, count(pp.value) AS valued
    FROM per_person pp
    GROUP BY pp.controller_id, pp.recipient, pp.outcome, pp.academic_year, pp.measure
  )
  SELECT c.controller_id, ctl.code::text, c.recipient::text, c.outcome::text, c.academic_year, c.measure::text,
         outreach.sdc_count(c.n, policy), outreach.sdc_count(coalesce(s.n, 0), policy),
         outreach.sdc_mean(c.total, c.valued, policy)
  FROM cells c
  JOIN outreach.controller ctl ON ctl.controller_id OPERATOR(pg_catalog.=) c.controller_id
  LEFT JOIN sent s ON s.controller_id OPERATOR(pg_catalog.=) c.controller_id
                  AND s.recipient OPERATOR(pg_catalog.=) c.recipient;
END
$$;
COMMENT ON FUNCTION outreach.report_progression(text) IS
  'per member and recipient: participants with each outcome (kind, year, measure), how many were sent, the numeric mean, under a disclosure policy';
REVOKE EXECUTE ON FUNCTION outreach.report_progression(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.report_progression(text)
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;

CREATE OR REPLACE VIEW outreach.progression_summary WITH (security_barrier = true) AS
SELECT r.controller_id, r.controller_code, r.recipient, r.outcome, r.academic_year, r.measure,
       r.participants, r.participants_sent, r.mean_value
FROM outreach.report_progression('hesa') r;
REVOKE ALL ON outreach.progression_summary FROM PUBLIC;
GRANT SELECT ON outreach.progression_summary TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;
COMMENT ON VIEW outreach.progression_summary IS
  'per member: participants with each outcome (recipient, kind, year, measure), the numeric mean, and how many were sent; HESA rounding and suppression';
COMMENT ON COLUMN outreach.progression_summary.controller_id IS 'the member (outreach.controller)';
COMMENT ON COLUMN outreach.progression_summary.controller_code IS 'the member''s code';
COMMENT ON COLUMN outreach.progression_summary.recipient IS 'the linkage recipient that returned the outcomes (outreach.recipient)';
COMMENT ON COLUMN outreach.progression_summary.outcome IS 'he_entry, he_application, ks4, ks5 or continuation';
COMMENT ON COLUMN outreach.progression_summary.academic_year IS 'the academic year of the outcome, as the recipient returned it';
COMMENT ON COLUMN outreach.progression_summary.measure IS 'the measure (KS4/KS5, for example attainment8); empty for other outcomes';
COMMENT ON COLUMN outreach.progression_summary.participants IS 'participants with the outcome, rounded (HESA: nearest 5, 0-2 shown as 0)';
COMMENT ON COLUMN outreach.progression_summary.participants_sent IS 'participants sent to the recipient, rounded';
COMMENT ON COLUMN outreach.progression_summary.mean_value IS 'mean of the numeric values (each person''s own mean first; one decimal); NULL for 7 people or fewer';
