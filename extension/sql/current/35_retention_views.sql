-- Retention views: each participant's retention status (for readers), and per-controller
-- aggregates and a 20-year forecast (for DPOs and analysts).

-- A participant whose facts are impossible shows why in reasons instead of failing the whole
-- view for its member.
CREATE OR REPLACE VIEW outreach.retention_status WITH (security_invoker = true) AS
SELECT p.controller_id,
       p.participant_id,
       d.track,
       d.expected_he_entry_year,
       d.entry_year_overridden,
       CASE WHEN p.retention_status = 'retained' THEN d.due_on ELSE p.retention_due_on END AS due_on,
       p.retention_status AS status,
       CASE WHEN p.retention_status = 'retained'
            THEN coalesce(d.reasons, ARRAY['not computed: ' || outreach.retention_facts_problem(
                   p.date_of_birth, p.created_at, p.last_attended_on, p.withdrawn_at)])
            ELSE p.retention_reasons END AS reasons,
       p.last_attended_on,
       p.withdrawn_at,
       p.retention_marked_on AS marked_on,
       p.retention_notice_id AS notice_id,
       p.deletion_confirmed_at AS confirmed_at,
       p.retention_hold_until AS hold_until
FROM outreach.participant p
JOIN outreach.retention_policy pol ON pol.controller_id = p.controller_id
CROSS JOIN LATERAL outreach.participant_decision(
  p.first_name, p.last_name, p.postcode IS NOT NULL, p.date_of_birth, p.created_at, p.last_attended_on,
  p.withdrawn_at, p.he_entry_year_override, pol, current_date) d;
-- (Columns are passed one by one, not as the whole row: readers may not read every column.)
COMMENT ON VIEW outreach.retention_status IS
  'per participant: retention track, Expected HE Entry Year, due date, status and reasons';

-- Aggregates for DPOs and analysts, computed behind a function boundary (as the reports in
-- 62_area_reports.sql are): exact counts for the members whose rows the caller reads anyway
-- (reader level and up), HESA-rounded counts for those it reads only aggregates of (analysts),
-- and a plan that never shows the rows behind them.
CREATE OR REPLACE FUNCTION outreach.retention_summary_rows()
RETURNS TABLE (controller_id int, status text, due_year int, participants bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL RESTRICTED
SET search_path = pg_catalog, outreach, pg_temp
SET jit = off   -- (as report_reach_by_area: compiling costs seconds, saves milliseconds)
AS $$
DECLARE
  ids int[] := outreach.caller_controller_ids('analyst');
  exact int[] := outreach.caller_controller_ids('reader');
BEGIN
  RETURN QUERY
  SELECT g.controller_id, g.status, g.due_year,
         CASE WHEN g.controller_id OPERATOR(pg_catalog.=) ANY (exact) THEN g.n ELSE outreach.sdc_count(g.n, 'hesa') END
  FROM (SELECT p.controller_id, p.retention_status AS status,
               extract(year FROM outreach.participant_due_on(p, pol, current_date))::int AS due_year, count(*) AS n
        FROM outreach.participant p
        JOIN outreach.retention_policy pol ON pol.controller_id OPERATOR(pg_catalog.=) p.controller_id
        WHERE p.controller_id OPERATOR(pg_catalog.=) ANY (ids)
        GROUP BY 1, 2, 3) g;
END
$$;
COMMENT ON FUNCTION outreach.retention_summary_rows() IS
  'rows of outreach.retention_summary for the caller''s members (exact for readers, rounded for analysts)';
REVOKE EXECUTE ON FUNCTION outreach.retention_summary_rows() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.retention_summary_rows() TO outreach_reader, outreach_analyst, outreach_processor;

CREATE OR REPLACE VIEW outreach.retention_summary WITH (security_barrier = true) AS
SELECT r.controller_id, r.status, r.due_year, r.participants FROM outreach.retention_summary_rows() r;
COMMENT ON VIEW outreach.retention_summary IS
  'participants per controller, retention status and year they fall due (rounded for analysts)';

CREATE OR REPLACE FUNCTION outreach.retention_forecast_rows()
RETURNS TABLE (controller_id int, due_year int, participants bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL RESTRICTED
SET search_path = pg_catalog, outreach, pg_temp
SET jit = off   -- (as report_reach_by_area: compiling costs seconds, saves milliseconds)
AS $$
DECLARE
  ids int[] := outreach.caller_controller_ids('analyst');
  exact int[] := outreach.caller_controller_ids('reader');
  this_year int := extract(year FROM current_date)::int;
BEGIN
  RETURN QUERY
  WITH due AS (
    SELECT p.controller_id, extract(year FROM outreach.participant_due_on(p, pol, current_date))::int AS due_year
    FROM outreach.participant p
    JOIN outreach.retention_policy pol ON pol.controller_id OPERATOR(pg_catalog.=) p.controller_id
    WHERE p.controller_id OPERATOR(pg_catalog.=) ANY (ids) AND p.retention_status OPERATOR(pg_catalog.=) 'retained'
  ), counted AS (
    SELECT c.controller_id, y.year,
           (SELECT count(*) FROM due WHERE due.controller_id OPERATOR(pg_catalog.=) c.controller_id
              AND (due.due_year OPERATOR(pg_catalog.=) y.year
                   OR (y.year OPERATOR(pg_catalog.=) this_year AND due.due_year OPERATOR(pg_catalog.<) y.year))) AS n
    FROM outreach.controller c
    CROSS JOIN LATERAL generate_series(this_year, this_year + 19) AS y(year)
    WHERE c.controller_id OPERATOR(pg_catalog.=) ANY (ids)
  )
  SELECT k.controller_id, k.year,
         CASE WHEN k.controller_id OPERATOR(pg_catalog.=) ANY (exact) THEN k.n ELSE outreach.sdc_count(k.n, 'hesa') END
  FROM counted k;
END
$$;
COMMENT ON FUNCTION outreach.retention_forecast_rows() IS
  'rows of outreach.retention_forecast for the caller''s members (exact for readers, rounded for analysts)';
REVOKE EXECUTE ON FUNCTION outreach.retention_forecast_rows() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.retention_forecast_rows() TO outreach_reader, outreach_analyst, outreach_processor;

CREATE OR REPLACE VIEW outreach.retention_forecast WITH (security_barrier = true) AS
SELECT r.controller_id, r.due_year, r.participants FROM outreach.retention_forecast_rows() r;
COMMENT ON VIEW outreach.retention_forecast IS
  'for each controller, how many retained records fall due in each of the next 20 years (overdue counted in this year; rounded for analysts)';

GRANT SELECT ON outreach.retention_status TO outreach_reader, outreach_processor;
GRANT SELECT ON outreach.retention_summary, outreach.retention_forecast
  TO outreach_reader, outreach_analyst, outreach_processor;
