-- Special-category data (UK GDPR Art. 9) and inference: nothing a role observes of its own
-- statements may depend on a value it may not read (issue 12, class 3).
--
-- Writers may UPDATE sex, gender_identity, ethnicity, disability and religion but not SELECT
-- them. Until 0.6.0 the audit trigger logged a special-category column only when its value
-- changed, and the Art. 19 follow-up trigger queued a rectification only when sex changed: a
-- writer could write a guess, read pg_stat_get_xact_tuples_inserted() (or EXPLAIN ANALYZE's
-- trigger calls) and roll back, learning whether the guess was the stored value with nothing
-- persisted. From 0.7.0 every trigger decides on special-category columns by whether the
-- statement *wrote* them (its SET list, as UPDATE OF does), never by whether they changed:
--   * audit_log records, for every row an UPDATE touched, the special-category columns in its
--     SET list (written), next to the other columns that changed (which the writer may read);
--   * the Art. 19 follow-up is queued whenever sex is written to a participant already sent to
--     a recipient whose layout has sex (the recipient is told "sex may have changed").
-- Row counts, errors (CHECKs test only the new value) and RETURNING (refused) never depended
-- on the stored value; WAL volume did, through PostgreSQL's prefix compression of same-page
-- updates, which only wal_level = logical turns off (docs/decisions.md).

-----------------------------------------------------------------------------------------------
-- Which special-category columns a statement wrote. A statement trigger with a column list
-- (AFTER UPDATE OF religion) fires when the column is in the statement's SET list, whether or
-- not any value changed; it cannot have transition tables, so each one notes its column in a
-- transaction-local setting which audit_update (fired after them: statement triggers fire in
-- name order, and no code of the caller's runs between them) reads and clears. The first one
-- (audit_spec_0) clears whatever the caller may have put there.
-----------------------------------------------------------------------------------------------
CREATE FUNCTION outreach.audit_note_written() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_NARGS OPERATOR(pg_catalog.=) 0 THEN
    PERFORM pg_catalog.set_config('outreach_audit.written', '', true);
  ELSE
    PERFORM pg_catalog.set_config('outreach_audit.written',
      pg_catalog.concat_ws(',', NULLIF(pg_catalog.current_setting('outreach_audit.written', true), ''), TG_ARGV[0]),
      true);
  END IF;
  RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.audit_note_written() FROM PUBLIC;
COMMENT ON FUNCTION outreach.audit_note_written() IS
  'trigger: notes a special-category column the UPDATE statement wrote (no argument: clears the note), for audit_update';

CREATE TRIGGER audit_spec_0 AFTER UPDATE ON outreach.participant
  FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_note_written();
CREATE TRIGGER audit_spec_disability AFTER UPDATE OF disability ON outreach.participant
  FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_note_written('disability');
CREATE TRIGGER audit_spec_ethnicity AFTER UPDATE OF ethnicity ON outreach.participant
  FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_note_written('ethnicity');
CREATE TRIGGER audit_spec_gender_identity AFTER UPDATE OF gender_identity ON outreach.participant
  FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_note_written('gender_identity');
CREATE TRIGGER audit_spec_religion AFTER UPDATE OF religion ON outreach.participant
  FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_note_written('religion');
CREATE TRIGGER audit_spec_sex AFTER UPDATE OF sex ON outreach.participant
  FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_note_written('sex');

-- The audit of participant updates: per row, the ordinary columns that changed (the writer can
-- read them, so whether they changed tells it nothing) and the special-category columns the
-- statement wrote (never whether they changed). A row is logged when either list is non-empty:
-- so an UPDATE that writes a special-category column logs every row it touched, whatever was
-- stored. The values themselves are never logged, old or new.
CREATE OR REPLACE FUNCTION outreach.audit_participant() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  actor name := outreach.invoking_role()::text;
  written text[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record)
    SELECT n.controller_id, session_user, actor, 'insert', 'participant', jsonb_build_object('participant_id', n.participant_id)
    FROM new_rows n;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record)
    SELECT o.controller_id, session_user, actor, 'delete', 'participant', jsonb_build_object('participant_id', o.participant_id)
    FROM old_rows o;
  ELSE
    -- noted by the audit_spec_* triggers of this statement; only the five names count
    written := ARRAY(SELECT c FROM unnest(ARRAY['sex', 'gender_identity', 'ethnicity', 'disability', 'religion']) AS c
                     WHERE c OPERATOR(pg_catalog.=) ANY (string_to_array(current_setting('outreach_audit.written', true), ',')));
    PERFORM set_config('outreach_audit.written', '', true);
    -- Status columns maintained by the extension itself (retention, last attendance) are not
    -- personal data.
    INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record, columns)
    SELECT controller_id, session_user, actor, 'update', 'participant', jsonb_build_object('participant_id', participant_id), changed
    FROM (
    SELECT n.controller_id, n.participant_id,
           array_remove(ARRAY[
             CASE WHEN n.external_ref IS DISTINCT FROM o.external_ref THEN 'external_ref' END,
             CASE WHEN n.first_name IS DISTINCT FROM o.first_name THEN 'first_name' END,
             CASE WHEN n.last_name IS DISTINCT FROM o.last_name THEN 'last_name' END,
             CASE WHEN n.date_of_birth IS DISTINCT FROM o.date_of_birth THEN 'date_of_birth' END,
             CASE WHEN n.postcode::text IS DISTINCT FROM o.postcode::text THEN 'postcode' END,
             CASE WHEN n.institution_id IS DISTINCT FROM o.institution_id THEN 'institution_id' END,
             CASE WHEN 'sex' OPERATOR(pg_catalog.=) ANY (written) THEN 'sex' END,
             CASE WHEN 'gender_identity' OPERATOR(pg_catalog.=) ANY (written) THEN 'gender_identity' END,
             CASE WHEN 'ethnicity' OPERATOR(pg_catalog.=) ANY (written) THEN 'ethnicity' END,
             CASE WHEN 'disability' OPERATOR(pg_catalog.=) ANY (written) THEN 'disability' END,
             CASE WHEN 'religion' OPERATOR(pg_catalog.=) ANY (written) THEN 'religion' END,
             CASE WHEN n.he_entry_year_override IS DISTINCT FROM o.he_entry_year_override THEN 'he_entry_year_override' END,
             CASE WHEN n.he_entry_year_override_reason IS DISTINCT FROM o.he_entry_year_override_reason THEN 'he_entry_year_override_reason' END,
             CASE WHEN n.withdrawn_at IS DISTINCT FROM o.withdrawn_at THEN 'withdrawn_at' END,
             CASE WHEN n.restricted_at IS DISTINCT FROM o.restricted_at THEN 'restricted_at' END,
             CASE WHEN n.upn IS DISTINCT FROM o.upn THEN 'upn' END,
             CASE WHEN n.uln IS DISTINCT FROM o.uln THEN 'uln' END
           ], NULL) AS changed
    FROM new_rows n JOIN old_rows o USING (controller_id, participant_id)
    ) AS c
    WHERE cardinality(changed) > 0;
  END IF;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION outreach.audit_participant() IS
  'trigger: writes participant changes to the audit log (special-category columns: when written, never whether they changed)';

-----------------------------------------------------------------------------------------------
-- Art. 19 follow-ups and sex. recipient_followup_update no longer looks at sex (its WHEN clause
-- and its EXPLAIN ANALYZE "calls" told a writer whether sex changed); recipient_followup_sex
-- fires for every row of an UPDATE whose SET list has sex, before it (row triggers fire in name
-- order), and queues the follow-up with sex among the fields. When both fire for a row, the
-- second queues nothing already pending from this statement, so a recipient is told once.
-----------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION outreach.participant_followup_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  changed text[] := array_remove(ARRAY[
    CASE WHEN btrim(NEW.first_name) IS DISTINCT FROM btrim(OLD.first_name) THEN 'forename' END,
    CASE WHEN btrim(NEW.last_name) IS DISTINCT FROM btrim(OLD.last_name) THEN 'surname' END,
    CASE WHEN NEW.date_of_birth IS DISTINCT FROM OLD.date_of_birth THEN 'date_of_birth' END,
    CASE WHEN NEW.date_of_birth IS DISTINCT FROM OLD.date_of_birth
           OR NEW.he_entry_year_override IS DISTINCT FROM OLD.he_entry_year_override THEN 'entry_year' END,
    CASE WHEN NEW.date_of_birth IS DISTINCT FROM OLD.date_of_birth
           OR NEW.he_entry_year_override IS DISTINCT FROM OLD.he_entry_year_override THEN 'extend_link_by' END,
    CASE WHEN NEW.postcode::text IS DISTINCT FROM OLD.postcode::text THEN 'postcode' END,
    -- sex: written by this statement (the recipient_followup_sex trigger), never compared
    CASE WHEN TG_NARGS > 0 AND TG_ARGV[0] = 'sex' THEN 'sex' END,
    CASE WHEN NEW.institution_id IS DISTINCT FROM OLD.institution_id THEN 'school_urn' END,
    CASE WHEN NEW.institution_id IS DISTINCT FROM OLD.institution_id THEN 'school_ukprn' END,
    CASE WHEN NEW.upn IS DISTINCT FROM OLD.upn THEN 'upn' END,
    CASE WHEN NEW.uln IS DISTINCT FROM OLD.uln THEN 'uln' END], NULL);
  restricted boolean := NEW.restricted_at IS NOT NULL AND OLD.restricted_at IS NULL;
BEGIN
  -- A change to a participant staged in an export being finished: export_finish waits for this
  -- transaction (and then compares what it staged), or this statement waits for it (and then
  -- sees the ledger rows).
  -- (recorded for each building export, whose row this locks in share mode)
  INSERT INTO outreach.export_touch (export_id, controller_id, participant_id)
  SELECT e.export_id, NEW.controller_id, NEW.participant_id FROM outreach.export e WHERE e.status = 'building'
  FOR SHARE OF e
  ON CONFLICT DO NOTHING;
  WITH sent AS (
    -- the latest export to each recipient that sent them
    SELECT DISTINCT ON (b.recipient) b.recipient, b.export_id, b.participant_references[k.i] AS reference
    FROM outreach.disclosure_block b
    CROSS JOIN LATERAL (SELECT array_position(b.participant_ids, NEW.participant_id) AS i) AS k
    WHERE b.controller_id = NEW.controller_id AND b.block = (NEW.participant_id >> 12)::int AND k.i IS NOT NULL
    ORDER BY b.recipient, b.export_id DESC
  ), queued AS (
    SELECT NEW.controller_id, NEW.participant_id, s.recipient, 'rectification' AS kind, s.reference, s.export_id, h.headers
    FROM sent s
    JOIN outreach.export e ON e.export_id = s.export_id
    CROSS JOIN LATERAL (SELECT array_agg(lc.header ORDER BY lc.position) AS headers
                        FROM outreach.recipient_layout_column lc
                        WHERE lc.recipient = s.recipient AND lc.kind = 'export' AND lc.version = e.layout_version
                          AND lc.field = ANY (changed)) AS h
    WHERE h.headers IS NOT NULL
    UNION ALL
    SELECT NEW.controller_id, NEW.participant_id, s.recipient, 'restriction', s.reference, s.export_id, NULL
    FROM sent s WHERE restricted
  )
  INSERT INTO outreach.recipient_followup (controller_id, participant_id, recipient, kind, reference, export_id, fields)
  SELECT q.* FROM queued q
  WHERE NOT EXISTS (SELECT 1 FROM outreach.recipient_followup f
                    WHERE f.controller_id = NEW.controller_id AND f.participant_id = NEW.participant_id
                      AND f.recipient = q.recipient AND f.kind = q.kind AND f.batch_id IS NULL
                      AND f.queued_at >= statement_timestamp());
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION outreach.participant_followup_update() IS
  'trigger: queues Art. 19 follow-ups when fields a recipient received change (sex: is written) or processing is restricted';

DROP TRIGGER recipient_followup_update ON outreach.participant;
CREATE TRIGGER recipient_followup_update
  AFTER UPDATE OF first_name, last_name, date_of_birth, postcode, institution_id, upn, uln,
                  he_entry_year_override, restricted_at ON outreach.participant
  FOR EACH ROW
  WHEN (btrim(NEW.first_name) IS DISTINCT FROM btrim(OLD.first_name)
        OR btrim(NEW.last_name) IS DISTINCT FROM btrim(OLD.last_name)
        OR NEW.date_of_birth IS DISTINCT FROM OLD.date_of_birth
        OR NEW.postcode::text IS DISTINCT FROM OLD.postcode::text
        OR NEW.institution_id IS DISTINCT FROM OLD.institution_id
        OR NEW.upn IS DISTINCT FROM OLD.upn OR NEW.uln IS DISTINCT FROM OLD.uln
        OR NEW.he_entry_year_override IS DISTINCT FROM OLD.he_entry_year_override
        OR (NEW.restricted_at IS NOT NULL AND OLD.restricted_at IS NULL))
  EXECUTE FUNCTION outreach.participant_followup_update();
CREATE TRIGGER recipient_followup_sex AFTER UPDATE OF sex ON outreach.participant
  FOR EACH ROW EXECUTE FUNCTION outreach.participant_followup_update('sex');

-----------------------------------------------------------------------------------------------
-- read_special_category(): only the columns the caller may read. A column the calling role
-- holds no SELECT privilege on comes back NULL (the function's columns stay the same for its
-- callers); the audit row names only the columns returned. A caller who may read none of the
-- five is refused as before. DPOs hold all five through outreach_dpo.
-----------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION outreach.read_special_category(controller_id int, participant_ids bigint[] DEFAULT NULL)
RETURNS TABLE (participant_id bigint, sex text, gender_identity text, ethnicity text, disability text, religion text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller regrole := outreach.invoking_role();
  allowed boolean;
  readable text[];
BEGIN
  SELECT pg_has_role(caller::oid, cr.role::oid, 'USAGE') INTO allowed
  FROM outreach.controller_role cr
  WHERE cr.controller_id OPERATOR(pg_catalog.=) read_special_category.controller_id AND cr.level OPERATOR(pg_catalog.=) 'dpo';
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown controller %', read_special_category.controller_id USING ERRCODE = '42704';
  END IF;
  -- the columns the calling role may read (its own grants, its groups', table-wide SELECT)
  readable := ARRAY(SELECT c FROM unnest(ARRAY['sex', 'gender_identity', 'ethnicity', 'disability', 'religion']) WITH ORDINALITY AS u(c, i)
                    WHERE has_column_privilege(caller::oid, 'outreach.participant'::regclass, c, 'SELECT')
                    ORDER BY i);
  IF cardinality(readable) OPERATOR(pg_catalog.=) 0
     OR NOT (allowed OR pg_has_role(caller::oid, (SELECT r.role FROM outreach.controller_role r
                                                   WHERE r.controller_id OPERATOR(pg_catalog.=) read_special_category.controller_id
                                                     AND r.level OPERATOR(pg_catalog.=) 'reader')::oid, 'USAGE')) THEN
    RAISE EXCEPTION 'permission denied to read special-category data of controller %', read_special_category.controller_id
      USING ERRCODE = '42501';
  END IF;
  RETURN QUERY
  WITH picked AS (
    SELECT p.participant_id,
           CASE WHEN 'sex' OPERATOR(pg_catalog.=) ANY (readable) THEN p.sex END AS sex,
           CASE WHEN 'gender_identity' OPERATOR(pg_catalog.=) ANY (readable) THEN p.gender_identity END AS gender_identity,
           CASE WHEN 'ethnicity' OPERATOR(pg_catalog.=) ANY (readable) THEN p.ethnicity END AS ethnicity,
           CASE WHEN 'disability' OPERATOR(pg_catalog.=) ANY (readable) THEN p.disability END AS disability,
           CASE WHEN 'religion' OPERATOR(pg_catalog.=) ANY (readable) THEN p.religion END AS religion
    FROM outreach.participant p
    WHERE p.controller_id OPERATOR(pg_catalog.=) read_special_category.controller_id
      AND (participant_ids IS NULL OR p.participant_id OPERATOR(pg_catalog.=) ANY (participant_ids))
  ), logged AS (
    INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record, columns)
    SELECT read_special_category.controller_id, session_user, caller::text, 'read_special', 'participant',
           jsonb_build_object('participant_id', picked.participant_id), readable
    FROM picked
  )
  SELECT * FROM picked;
END
$$;
COMMENT ON FUNCTION outreach.read_special_category(int, bigint[]) IS
  'special-category data of a controller''s participants for its DPO (or a reader granted some of the columns: the others are NULL), recorded in the audit log with the columns returned';

-----------------------------------------------------------------------------------------------
-- shared_engagement behind a function boundary. As a view over other members' rows, EXPLAIN
-- ANALYZE of it showed their row counts ("actual rows", "Rows Removed by Filter") for any date
-- or activity type the caller filtered on. The rows are now computed by a SECURITY DEFINER
-- set-returning function (never inlined, its plan not shown) for the calling role's own
-- controllers only, always in full: the caller's filters apply to its result, so neither what
-- EXPLAIN shows nor the work done depends on the filter. The view keeps its name and columns;
-- it also keeps only the controllers the current role reads for (the same as the calling role
-- except inside another role's SECURITY DEFINER function, where the smaller set applies).
-----------------------------------------------------------------------------------------------
CREATE FUNCTION outreach.shared_engagement_rows()
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

-----------------------------------------------------------------------------------------------
-- Planner statistics. EXPLAIN's row estimates come from pg_statistic of the whole table, so a
-- DPO filtering on religion would see an estimate shaped by every member's religions. No
-- statistics are gathered for the special-category columns (nothing is indexed on them and
-- only DPOs can filter on them), and those an earlier ANALYZE gathered are removed. Other
-- columns keep theirs: see docs/decisions.md, "Planner estimates".
-----------------------------------------------------------------------------------------------
ALTER TABLE outreach.participant
  ALTER COLUMN sex SET STATISTICS 0,
  ALTER COLUMN gender_identity SET STATISTICS 0,
  ALTER COLUMN ethnicity SET STATISTICS 0,
  ALTER COLUMN disability SET STATISTICS 0,
  ALTER COLUMN religion SET STATISTICS 0;
DELETE FROM pg_catalog.pg_statistic s
USING pg_catalog.pg_attribute a
WHERE s.starelid OPERATOR(pg_catalog.=) 'outreach.participant'::pg_catalog.regclass
  AND a.attrelid OPERATOR(pg_catalog.=) s.starelid AND a.attnum OPERATOR(pg_catalog.=) s.staattnum
  AND a.attname OPERATOR(pg_catalog.=) ANY (ARRAY['sex', 'gender_identity', 'ethnicity', 'disability', 'religion']::pg_catalog.name[]);
