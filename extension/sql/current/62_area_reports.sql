-- Postcode profiling of participants and the reach of a member's outreach by neighbourhood.
-- participant_area is a row per participant (readers, under row security); reach_by_area is
-- an aggregate under the disclosure policy (analysts, BI tools), computed behind a function
-- boundary so that EXPLAIN ANALYZE never shows the unrounded counts of its plan's nodes.

-- Each participant's neighbourhood as at the date of their first activity (or of their
-- registration, before any activity): area_profile() says why a measure is missing.
CREATE OR REPLACE VIEW outreach.participant_area WITH (security_invoker = true) AS
SELECT p.controller_id, p.participant_id, p.postcode, f.first_activity_on,
       coalesce(f.first_activity_on, (p.created_at AT TIME ZONE 'UTC')::date) AS profiled_as_at,
       a.status AS area_status, a.reason AS area_reason,
       a.country, a.region, a.local_authority, a.ward, a.lsoa11, a.msoa11, a.lsoa21, a.msoa21,
       a.polar4_quintile, a.tundra_msoa_quintile, a.tundra_lsoa_quintile, a.imd2019_decile, a.imd2025_decile,
       a.wimd_decile, a.simd_decile, a.nimdm_decile, p.withdrawn_at, p.restricted_at
FROM outreach.participant p
LEFT JOIN (SELECT att.controller_id, att.participant_id, min(att.attended_on) AS first_activity_on
           FROM outreach.attendance att GROUP BY att.controller_id, att.participant_id) f
  ON f.controller_id OPERATOR(pg_catalog.=) p.controller_id
 AND f.participant_id OPERATOR(pg_catalog.=) p.participant_id
LEFT JOIN LATERAL outreach.area_profile(p.postcode,
                                        coalesce(f.first_activity_on, (p.created_at AT TIME ZONE 'UTC')::date)) a ON true;
COMMENT ON VIEW outreach.participant_area IS
  'own participants'' neighbourhood measures (POLAR4, TUNDRA, IMD) as at their first activity, with the reason when one is missing';
COMMENT ON COLUMN outreach.participant_area.first_activity_on IS 'date of the participant''s first attended activity (NULL: none yet)';
COMMENT ON COLUMN outreach.participant_area.profiled_as_at IS 'the date the postcode is resolved at: the first activity, else the registration date (UTC)';
COMMENT ON COLUMN outreach.participant_area.area_status IS 'resolved, or why not (outreach.area_profile)';
COMMENT ON COLUMN outreach.participant_area.area_reason IS 'the status in words';
COMMENT ON COLUMN outreach.participant_area.polar4_quintile IS 'POLAR4 quintile of the postcode''s ward (1: lowest young participation)';
COMMENT ON COLUMN outreach.participant_area.tundra_msoa_quintile IS 'TUNDRA quintile of the postcode''s 2011 MSOA (England)';
COMMENT ON COLUMN outreach.participant_area.tundra_lsoa_quintile IS 'TUNDRA quintile of the postcode''s 2011 LSOA (England)';
COMMENT ON COLUMN outreach.participant_area.imd2019_decile IS 'English IMD 2019 decile of the 2011 LSOA (1: most deprived 10%)';
COMMENT ON COLUMN outreach.participant_area.imd2025_decile IS 'English IMD 2025 decile of the 2021 LSOA (1: most deprived 10%)';
REVOKE ALL ON outreach.participant_area FROM PUBLIC;
GRANT SELECT ON outreach.participant_area TO outreach_reader, outreach_processor;

-- The controllers whose aggregates the calling role reads: its own at analyst level (readers
-- and analysts of a member; the processor: all), or every member for the service's BI tools.
CREATE OR REPLACE FUNCTION outreach.report_controller_ids() RETURNS int[]
LANGUAGE sql STABLE SECURITY DEFINER PARALLEL RESTRICTED
SET search_path = pg_catalog, outreach, pg_temp
AS $$
SELECT CASE WHEN pg_catalog.pg_has_role(outreach.invoking_role()::pg_catalog.oid, 'outreach_bi', 'MEMBER')
            THEN ARRAY(SELECT c.controller_id FROM outreach.controller c ORDER BY 1)
            ELSE outreach.caller_controller_ids('analyst') END
$$;
COMMENT ON FUNCTION outreach.report_controller_ids() IS
  'members whose disclosure-controlled aggregates the calling role reads: its own (analyst level), or all for outreach_bi';
REVOKE EXECUTE ON FUNCTION outreach.report_controller_ids() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.report_controller_ids()
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;

-- Reach: participants who attended an activity of a type in an academic year, by band of each
-- neighbourhood measure. A participant counts once per year, type and measure, profiled as at
-- their first activity; withdrawn and restricted participants are never counted. Rows with
-- activity_type '(all)' count each participant once across types.
CREATE OR REPLACE FUNCTION outreach.report_reach_by_area(policy text DEFAULT 'hesa')
RETURNS TABLE (controller_id int, controller_code text, academic_year text, activity_type text, measure text,
               band text, participants bigint, percent numeric, marker text)
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL RESTRICTED
SET search_path = pg_catalog, outreach, pg_temp
-- Whole-member aggregates with rough row estimates: JIT would compile for seconds (4 s of
-- the 5 s a 10,000-participant report took) to save milliseconds.
SET jit = off
AS $$
DECLARE
  ids int[] := outreach.report_controller_ids();
  cid int;
BEGIN
  PERFORM outreach.sdc_count(0, policy);   -- an unknown policy stops here (42704), before any work
  -- One member at a time: controller_id = cid reaches the first-activity aggregate inside
  -- participant_area (= ANY would not, and it would aggregate every member's attendance).
  FOREACH cid IN ARRAY ids LOOP
  RETURN QUERY
  WITH profiled AS MATERIALIZED (   -- each participant profiled once, not once per year and type
    SELECT pa.controller_id, pa.participant_id, pa.polar4_quintile, pa.tundra_msoa_quintile, pa.tundra_lsoa_quintile,
           pa.imd2019_decile, pa.imd2025_decile, pa.wimd_decile, pa.simd_decile, pa.nimdm_decile
    FROM outreach.participant_area pa
    WHERE pa.controller_id OPERATOR(pg_catalog.=) cid
      AND pa.withdrawn_at IS NULL AND pa.restricted_at IS NULL
  ), attended AS (
    -- each participant once per year and type, and once per year across types ('(all)')
    SELECT DISTINCT att.participant_id, outreach.academic_year(att.attended_on) AS year, act.activity_type
    FROM outreach.attendance att
    JOIN outreach.activity act
      ON act.controller_id OPERATOR(pg_catalog.=) att.controller_id
     AND act.activity_id OPERATOR(pg_catalog.=) att.activity_id
    WHERE att.controller_id OPERATOR(pg_catalog.=) cid
    UNION
    SELECT att.participant_id, outreach.academic_year(att.attended_on), '(all)'
    FROM outreach.attendance att
    WHERE att.controller_id OPERATOR(pg_catalog.=) cid
  ), cells AS (
    SELECT p.controller_id, a.year, a.activity_type, m.measure, coalesce(m.band::text, 'not known') AS band,
           count(*) AS n
    FROM profiled p
    JOIN attended a ON a.participant_id OPERATOR(pg_catalog.=) p.participant_id
    CROSS JOIN LATERAL (VALUES ('polar4', p.polar4_quintile), ('tundra_msoa', p.tundra_msoa_quintile),
                               ('tundra_lsoa', p.tundra_lsoa_quintile), ('imd2019', p.imd2019_decile),
                               ('imd2025', p.imd2025_decile), ('wimd', p.wimd_decile), ('simd', p.simd_decile),
                               ('nimdm', p.nimdm_decile)) AS m(measure, band)
    GROUP BY p.controller_id, a.year, a.activity_type, m.measure, coalesce(m.band::text, 'not known')
  ), grid AS (
    -- Every band of every measure for each year and type the member has, zeros included: were
    -- empty cells left out, a published 0 would always mean 1 or 2 people.
    SELECT k.controller_id, k.year, k.activity_type, k.measure, bd.band, coalesce(c.n, 0) AS n
    FROM (SELECT DISTINCT c.controller_id, c.year, c.activity_type, c.measure FROM cells c) AS k
    CROSS JOIN LATERAL (
      SELECT g::text AS band
      FROM generate_series(1, CASE WHEN k.measure OPERATOR(pg_catalog.~~) ANY (ARRAY['polar4', 'tundra%']) THEN 5 ELSE 10 END) AS g
      UNION ALL SELECT 'not known') AS bd
    LEFT JOIN cells c ON c.controller_id OPERATOR(pg_catalog.=) k.controller_id AND c.year OPERATOR(pg_catalog.=) k.year
                     AND c.activity_type OPERATOR(pg_catalog.=) k.activity_type
                     AND c.measure OPERATOR(pg_catalog.=) k.measure AND c.band OPERATOR(pg_catalog.=) bd.band
  ), based AS (
    SELECT g.*, sum(g.n) OVER (PARTITION BY g.controller_id, g.year, g.activity_type, g.measure)::bigint AS base
    FROM grid g
  ), controlled AS (
    SELECT b.*, outreach.sdc_count(b.n, policy) AS shown, outreach.sdc_percent(b.n, b.base, policy) AS pct,
           coalesce(outreach.sdc_count_marker(b.n, policy), outreach.sdc_marker(b.n, b.base, policy)) AS mk
    FROM based b
  ), secondary AS (
    -- The percentages of one measure's bands add up to 100: when exactly one is withheld it
    -- would be 100 less the others, so the smallest shown one is withheld too.
    SELECT c.*, count(*) FILTER (WHERE c.pct IS NULL) OVER p AS withheld,
           row_number() OVER (PARTITION BY c.controller_id, c.year, c.activity_type, c.measure, c.pct IS NULL
                              ORDER BY c.n, c.band) AS rank_shown
    FROM controlled c
    WINDOW p AS (PARTITION BY c.controller_id, c.year, c.activity_type, c.measure)
  )
  SELECT s.controller_id, ctl.code::text, outreach.academic_year_label(s.year), s.activity_type, s.measure, s.band,
         s.shown,
         CASE WHEN s.withheld = 1 AND s.pct IS NOT NULL AND s.rank_shown = 1 THEN NULL ELSE s.pct END,
         CASE WHEN s.withheld = 1 AND s.pct IS NOT NULL AND s.rank_shown = 1
              THEN CASE WHEN policy OPERATOR(pg_catalog.=) 'ofs' THEN '[DP]' ELSE '..' END ELSE s.mk END
  FROM secondary s
  JOIN outreach.controller ctl ON ctl.controller_id OPERATOR(pg_catalog.=) s.controller_id;
  END LOOP;
END
$$;
COMMENT ON FUNCTION outreach.report_reach_by_area(text) IS
  'participants reached per member, academic year, activity type and band of each neighbourhood measure, under a disclosure policy (hesa, ofs)';
REVOKE EXECUTE ON FUNCTION outreach.report_reach_by_area(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.report_reach_by_area(text)
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;

CREATE OR REPLACE VIEW outreach.reach_by_area WITH (security_barrier = true) AS
SELECT r.controller_id, r.controller_code, r.academic_year, r.activity_type, r.measure, r.band,
       r.participants, r.percent, r.marker
FROM outreach.report_reach_by_area('hesa') r;
COMMENT ON VIEW outreach.reach_by_area IS
  'participants reached per member, academic year, activity type and neighbourhood band, HESA rounding and suppression (report_reach_by_area(''ofs'') for the OfS convention)';
COMMENT ON COLUMN outreach.reach_by_area.controller_id IS 'the member (outreach.controller)';
COMMENT ON COLUMN outreach.reach_by_area.controller_code IS 'the member''s code';
COMMENT ON COLUMN outreach.reach_by_area.academic_year IS 'academic year of the attendance, e.g. 2025/26';
COMMENT ON COLUMN outreach.reach_by_area.activity_type IS 'activity type, or (all): each participant once across types';
COMMENT ON COLUMN outreach.reach_by_area.measure IS 'polar4, tundra_msoa, tundra_lsoa (quintiles), imd2019, imd2025 (deciles)';
COMMENT ON COLUMN outreach.reach_by_area.band IS 'quintile or decile (1: least participation / most deprived), or not known';
COMMENT ON COLUMN outreach.reach_by_area.participants IS 'participants reached, rounded (HESA: nearest 5, 0-2 shown as 0)';
COMMENT ON COLUMN outreach.reach_by_area.percent IS 'share of the year''s and type''s participants in this band, from unrounded counts; NULL when suppressed';
COMMENT ON COLUMN outreach.reach_by_area.marker IS 'why a figure is withheld (HESA ..; OfS [low], [DPL], [DPH], [DP] for the second of a measure''s percentages); NULL when shown';
REVOKE ALL ON outreach.reach_by_area FROM PUBLIC;
GRANT SELECT ON outreach.reach_by_area TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;
