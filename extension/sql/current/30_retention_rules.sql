-- Retention rules: when a participant's record falls due for deletion, and why. The files after
-- this one hold the per-controller policies, each participant's retention state, the batched
-- sweeps that mark due records and open a deletion notice per controller and cycle,
-- confirmation by the DPO, deletion that leaves a tombstone, and the views and forecast.

CREATE TYPE outreach.retention_decision AS (
  track text,                    -- '15y', '7y' or 'withdrawn'
  expected_he_entry_year int,
  entry_year_overridden boolean,
  due_on date,
  reasons text[]
);

-- The rules live in C (extension/src/core/retention.cpp); the policy comes in as arguments.
CREATE OR REPLACE FUNCTION outreach.retention_decide(
    has_first_name boolean, has_last_name boolean, has_postcode boolean, date_of_birth date,
    created_on date, last_attended_on date, withdrawn_on date, entry_year_override int,
    long_track_years int, short_track_years int, attendance_window_years int, nation text, as_of date)
  RETURNS outreach.retention_decision
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION outreach.retention_decide(boolean, boolean, boolean, date, date, date, date, int, int, int, int, text, date) IS
  'retention track, Expected HE Entry Year, due date and reasons for a participant''s facts under a policy';

CREATE OR REPLACE FUNCTION outreach.retention_due_on(
    has_first_name boolean, has_last_name boolean, has_postcode boolean, date_of_birth date,
    created_on date, last_attended_on date, withdrawn_on date, entry_year_override int,
    long_track_years int, short_track_years int, attendance_window_years int, nation text, as_of date)
  RETURNS date
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION outreach.retention_due_on(boolean, boolean, boolean, date, date, date, date, int, int, int, int, text, date) IS
  'the date a participant falls due for deletion under a policy (retention_decide''s due_on, computed faster)';
