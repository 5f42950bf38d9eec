-- 0.9.0 to 0.10.0: what an update must do besides re-creating every function, view, trigger,
-- comment and grant from extension/sql/current/ (which follows this file in the update script).

-- shared_engagement is an inlined view over a kept list of shareable participants
-- (25_member_views.sql) instead of a SECURITY DEFINER function's materialised result.
DROP VIEW outreach.shared_engagement;
DROP FUNCTION outreach.shared_engagement_rows();

CREATE TABLE outreach.shareable_participant (
  controller_id int NOT NULL,
  participant_id bigint NOT NULL,
  linkage_id outreach.pseudo_id NOT NULL,
  PRIMARY KEY (controller_id, participant_id),
  FOREIGN KEY (controller_id, participant_id) REFERENCES outreach.participant ON DELETE CASCADE
);
CREATE INDEX shareable_participant_linkage_idx ON outreach.shareable_participant (linkage_id, controller_id, participant_id);
REVOKE ALL ON outreach.shareable_participant FROM PUBLIC;
ALTER TABLE outreach.shareable_participant ENABLE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('outreach.shareable_participant', '');
INSERT INTO outreach.shareable_participant (controller_id, participant_id, linkage_id)
SELECT controller_id, participant_id, linkage_id FROM outreach.participant
WHERE linkage_id IS NOT NULL AND withdrawn_at IS NULL AND restricted_at IS NULL AND last_attended_on IS NOT NULL;

-- The caller's own records of a person are found by (controller_id, linkage_id), so a plan
-- never reads another member's records of that person (23_personal_data.sql).
DROP INDEX outreach.participant_linkage_idx;
CREATE INDEX participant_linkage_idx ON outreach.participant (controller_id, linkage_id) WHERE linkage_id IS NOT NULL;
