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

-- Aggregates for DPOs and analysts: they run with the view owner's rights and filter to the
-- controllers the caller may see aggregates of.
CREATE OR REPLACE VIEW outreach.retention_summary WITH (security_barrier = true) AS
SELECT p.controller_id, p.retention_status AS status,
       extract(year FROM outreach.participant_due_on(p, pol, current_date))::int AS due_year,
       count(*) AS participants
FROM outreach.participant p
JOIN outreach.retention_policy pol ON pol.controller_id = p.controller_id
WHERE outreach.controller_visible(p.controller_id, 'analyst')
GROUP BY 1, 2, 3;
COMMENT ON VIEW outreach.retention_summary IS 'participants per controller, retention status and year they fall due';

CREATE OR REPLACE VIEW outreach.retention_forecast WITH (security_barrier = true) AS
WITH due AS (
  SELECT p.controller_id, extract(year FROM outreach.participant_due_on(p, pol, current_date))::int AS due_year
  FROM outreach.participant p
  JOIN outreach.retention_policy pol ON pol.controller_id = p.controller_id
  WHERE outreach.controller_visible(p.controller_id, 'analyst') AND p.retention_status = 'retained'
)
SELECT c.controller_id, y.year AS due_year,
       (SELECT count(*) FROM due WHERE due.controller_id = c.controller_id
          AND (due.due_year = y.year OR (y.year = extract(year FROM current_date)::int AND due.due_year < y.year)))
         AS participants
FROM outreach.controller c
CROSS JOIN LATERAL generate_series(extract(year FROM current_date)::int, extract(year FROM current_date)::int + 19) AS y(year)
WHERE outreach.controller_visible(c.controller_id, 'analyst');
COMMENT ON VIEW outreach.retention_forecast IS
  'for each controller, how many retained records fall due in each of the next 20 years (overdue counted in this year)';

GRANT SELECT ON outreach.retention_status TO outreach_reader, outreach_processor;
GRANT SELECT ON outreach.retention_summary, outreach.retention_forecast
  TO outreach_reader, outreach_analyst, outreach_processor;
