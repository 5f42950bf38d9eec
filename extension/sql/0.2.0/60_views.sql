-- Views for members.

-- Everything a reader may see of its participants (no special-category columns), with the
-- caller's own privileges and row security.
CREATE VIEW outreach.participant_core WITH (security_invoker = true) AS
SELECT controller_id, participant_id, external_ref, first_name, last_name, date_of_birth, postcode,
       institution_id, linkage_id, he_entry_year_override, he_entry_year_override_reason,
       withdrawn_at, restricted_at, created_at, updated_at
FROM outreach.participant;
COMMENT ON VIEW outreach.participant_core IS 'participants without special-category columns (for readers)';
GRANT SELECT ON outreach.participant_core TO outreach_reader, outreach_processor;

-- Cross-member engagement: for the caller's own participants, which other members' activities
-- the same person (same linkage pseudonym) attended: the member, the activity type and the
-- date, nothing else. It reads other members' rows, so it runs with its owner's rights and
-- filters to the caller's controllers itself; security_barrier keeps a caller's functions
-- from seeing rows before that filter. Withdrawn or restricted people are never shared.
CREATE VIEW outreach.shared_engagement WITH (security_barrier = true) AS
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
WHERE outreach.controller_visible(mine.controller_id, 'reader')
  AND mine.linkage_id IS NOT NULL
  AND mine.withdrawn_at IS NULL AND mine.restricted_at IS NULL
  AND other.withdrawn_at IS NULL AND other.restricted_at IS NULL;
COMMENT ON VIEW outreach.shared_engagement IS
  'for own participants: other members'' activities the same person attended (member, activity type, date)';
GRANT SELECT ON outreach.shared_engagement TO outreach_reader, outreach_processor;
