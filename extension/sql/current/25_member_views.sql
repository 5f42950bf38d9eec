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
-- shared_engagement: for the caller's own participants, the activities other members' records
-- of the same person (same linkage_id) attended. It reads other members' rows with its owner's
-- rights, so everything a caller could learn from its plan under EXPLAIN ANALYZE ("actual
-- rows", "Rows Removed by Filter") must already be in its result or be the caller's own rows:
--   * other members' participants are read only from shareable_participant, which holds
--     exactly those that may be shown (linkage known, not withdrawn, not restricted, at least
--     one attendance), so no row of another member is ever filtered out after being read;
--   * every attendance of such a participant is shown, with its activity and member (1:1);
--   * the view's query ends in OFFSET 0, a fence: no filter of the caller's (a date, an
--     activity type, another member) is pushed inside, where it could start the join from
--     every member's attendances of that date and count them. The caller's filters apply to
--     the result, so the work and the plan do not depend on them.
--   * the caller's own records of a person are found through (controller_id, linkage_id)
--     (participant_linkage_idx), never by reading every member's records of that person.
-- A plan a caller forces to scan a whole table shows that table's size, which
-- pg_stat_user_tables shows every login anyway (docs/decisions.md).
-----------------------------------------------------------------------------------------------
CREATE TABLE outreach.shareable_participant (
  controller_id int NOT NULL,
  participant_id bigint NOT NULL,
  linkage_id outreach.pseudo_id NOT NULL,
  PRIMARY KEY (controller_id, participant_id),
  FOREIGN KEY (controller_id, participant_id) REFERENCES outreach.participant ON DELETE CASCADE
);
CREATE INDEX shareable_participant_linkage_idx ON outreach.shareable_participant (linkage_id, controller_id, participant_id);
-- Nobody but the extension's owner reads or writes it; row security with no policy as a second lock.
REVOKE ALL ON outreach.shareable_participant FROM PUBLIC;
ALTER TABLE outreach.shareable_participant ENABLE ROW LEVEL SECURITY;
-- Dumped like participant.last_attended_on: a restore runs with triggers off (README).
SELECT pg_catalog.pg_extension_config_dump('outreach.shareable_participant', '');
COMMENT ON TABLE outreach.shareable_participant IS
  'participants whose engagement other members may see: linkage known, not withdrawn or restricted, at least one attendance (kept by triggers on participant; read through shared_engagement only)';

-- Kept from the participant row itself (last_attended_on follows attendance through its own
-- trigger), so a write never touches another member's rows. A new participant has no
-- attendance yet, so only updates can make one shareable.
CREATE OR REPLACE FUNCTION outreach.participant_shareable() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  DELETE FROM outreach.shareable_participant
  WHERE controller_id = OLD.controller_id AND participant_id = OLD.participant_id;
  IF NEW.linkage_id IS NOT NULL AND NEW.withdrawn_at IS NULL AND NEW.restricted_at IS NULL
     AND NEW.last_attended_on IS NOT NULL THEN
    INSERT INTO outreach.shareable_participant (controller_id, participant_id, linkage_id)
    VALUES (NEW.controller_id, NEW.participant_id, NEW.linkage_id);
  END IF;
  RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.participant_shareable() FROM PUBLIC;
COMMENT ON FUNCTION outreach.participant_shareable() IS 'trigger: keeps outreach.shareable_participant current';
-- The WHEN clause keeps the cost off every other write (bulk loads, retention marks).
CREATE OR REPLACE TRIGGER participant_shareable_update AFTER UPDATE ON outreach.participant
  FOR EACH ROW WHEN ((OLD.linkage_id IS NULL) <> (NEW.linkage_id IS NULL)
                     OR OLD.linkage_id OPERATOR(outreach.<>) NEW.linkage_id
                     OR (OLD.withdrawn_at IS NULL) <> (NEW.withdrawn_at IS NULL)
                     OR (OLD.restricted_at IS NULL) <> (NEW.restricted_at IS NULL)
                     OR (OLD.last_attended_on IS NULL) <> (NEW.last_attended_on IS NULL))
  EXECUTE FUNCTION outreach.participant_shareable();

-- controller_visible() becomes controller_id = 42 while the query is planned (22_controllers.sql),
-- so a member's query plans, and runs in parallel, as the same query naming its controller.
CREATE OR REPLACE VIEW outreach.shared_engagement WITH (security_barrier = true) AS
SELECT mine.controller_id,
       mine.participant_id,
       other.controller_id AS other_controller_id,
       other_c.code AS other_controller_code,
       other_c.name AS other_controller_name,
       a.activity_type,
       att.attended_on
FROM outreach.participant mine
JOIN outreach.shareable_participant other
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
OFFSET 0;
COMMENT ON VIEW outreach.shared_engagement IS
  'for own participants: other members'' activities the same person attended (member, activity type, date)';
GRANT SELECT ON outreach.shared_engagement TO outreach_reader, outreach_processor;
