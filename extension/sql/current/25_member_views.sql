-- Views members read: their participants without the special-category columns, and what other
-- members' records of the same people (by linkage pseudonym) show about shared engagement.

-- Participants without the special-category columns, for readers. New columns go at the end,
-- so existing queries keep working.
CREATE OR REPLACE VIEW outreach.participant_core WITH (security_invoker = true) AS
SELECT controller_id, participant_id, external_ref, first_name, last_name, date_of_birth, postcode,
       institution_id, linkage_id, he_entry_year_override, he_entry_year_override_reason,
       withdrawn_at, restricted_at, created_at, updated_at, upn, uln
FROM outreach.participant;
COMMENT ON VIEW outreach.participant_core IS 'participants without special-category columns (for readers)';
GRANT SELECT ON outreach.participant_core TO outreach_reader, outreach_processor;

-----------------------------------------------------------------------------------------------
-- shared_engagement behind a function boundary. A plain view over other members' rows would
-- let EXPLAIN ANALYZE show their row counts ("actual rows", "Rows Removed by Filter") for any
-- date or activity type the caller filtered on. So the rows are computed by a SECURITY DEFINER
-- set-returning function (never inlined, its plan not shown) for the calling role's own
-- controllers only, always in full: the caller's filters apply to its result, so neither what
-- EXPLAIN shows nor the work done depends on the filter. The view also keeps only the
-- controllers the current role reads for (the same as the calling role except inside another
-- role's SECURITY DEFINER function, where the smaller set applies).
-----------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION outreach.shared_engagement_rows()
RETURNS TABLE (controller_id int, participant_id bigint, other_controller_id int, other_controller_code text,
               other_controller_name text, activity_type text, attended_on date)
LANGUAGE sql STABLE SECURITY DEFINER PARALLEL RESTRICTED
SET search_path = pg_catalog, outreach, pg_temp
AS $$
SELECT mine.controller_id,
       mine.participant_id,
       other.controller_id AS other_controller_id,
       other_c.code AS other_controller_code,
       other_c.name AS other_controller_name,
       a.activity_type,
       att.attended_on
FROM outreach.participant mine
JOIN outreach.participant other
  ON other.linkage_id OPERATOR(outreach.=) mine.linkage_id
 AND other.controller_id OPERATOR(pg_catalog.<>) mine.controller_id
JOIN outreach.attendance att
  ON att.controller_id OPERATOR(pg_catalog.=) other.controller_id
 AND att.participant_id OPERATOR(pg_catalog.=) other.participant_id
JOIN outreach.activity a
  ON a.controller_id OPERATOR(pg_catalog.=) att.controller_id
 AND a.activity_id OPERATOR(pg_catalog.=) att.activity_id
JOIN outreach.controller other_c ON other_c.controller_id OPERATOR(pg_catalog.=) other.controller_id
WHERE mine.controller_id OPERATOR(pg_catalog.=) ANY (outreach.caller_controller_ids('reader'))
  AND mine.linkage_id IS NOT NULL
  AND mine.withdrawn_at IS NULL AND mine.restricted_at IS NULL
  AND other.withdrawn_at IS NULL AND other.restricted_at IS NULL
$$;
REVOKE EXECUTE ON FUNCTION outreach.shared_engagement_rows() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.shared_engagement_rows() TO outreach_reader, outreach_processor;
COMMENT ON FUNCTION outreach.shared_engagement_rows() IS
  'rows of outreach.shared_engagement for the calling role''s controllers, computed behind a function boundary (EXPLAIN shows none of other members'' rows)';

CREATE OR REPLACE VIEW outreach.shared_engagement WITH (security_barrier = true) AS
SELECT s.controller_id, s.participant_id, s.other_controller_id, s.other_controller_code, s.other_controller_name,
       s.activity_type, s.attended_on
FROM outreach.shared_engagement_rows() s
WHERE outreach.controller_visible(s.controller_id, 'reader');
COMMENT ON VIEW outreach.shared_engagement IS
  'for own participants: other members'' activities the same person attended (member, activity type, date); computed by shared_engagement_rows()';
GRANT SELECT ON outreach.shared_engagement TO outreach_reader, outreach_processor;
