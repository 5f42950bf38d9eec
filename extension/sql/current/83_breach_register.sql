-- The breach register (UK GDPR Arts. 33-34): the service's security role records a personal
-- data breach when it becomes aware of it; the ICO deadline is 72 hours later. Every affected
-- member is told at once through its notification channels; each member's DPO sees only its
-- own breaches and records its own decision: whether to report to the ICO (with the
-- reference) and whether to tell the people affected. A breach is closed only when every
-- affected member has decided.

CREATE TABLE outreach.breach (
  breach_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  aware_at timestamptz NOT NULL,
  ico_deadline timestamptz NOT NULL,
  nature text NOT NULL CHECK (length(btrim(nature)) BETWEEN 1 AND 2000),
  data_categories text[] NOT NULL CHECK (cardinality(data_categories) BETWEEN 1 AND 20),
  people_approx int NOT NULL CHECK (people_approx >= 0),
  records_approx bigint NOT NULL CHECK (records_approx >= 0),
  likely_consequences text NOT NULL CHECK (length(btrim(likely_consequences)) BETWEEN 1 AND 2000),
  measures_taken text NOT NULL CHECK (length(btrim(measures_taken)) BETWEEN 1 AND 2000),
  -- the ICO's scale: unlikely to result in a risk (record only), a risk (report to the ICO),
  -- a high risk (also tell the people)
  risk text NOT NULL CHECK (risk IN ('unlikely', 'risk', 'high_risk')),
  risk_reasoning text NOT NULL CHECK (length(btrim(risk_reasoning)) BETWEEN 1 AND 2000),
  recorded_at timestamptz NOT NULL DEFAULT now(),
  recorded_by text NOT NULL,
  closed_at timestamptz,
  CONSTRAINT breach_aware_range CHECK (aware_at >= '2000-01-01 00:00:00+00' AND aware_at < '2200-01-01 00:00:00+00'),
  CONSTRAINT breach_deadline CHECK (ico_deadline = aware_at + interval '72 hours')
);
COMMENT ON TABLE outreach.breach IS
  'personal data breaches: when the service became aware, the ICO deadline (72 hours), nature, categories and numbers, consequences, measures, risk';

CREATE TABLE outreach.breach_member (
  controller_id int NOT NULL REFERENCES outreach.controller,
  breach_id bigint NOT NULL REFERENCES outreach.breach ON DELETE CASCADE,
  told_at timestamptz NOT NULL DEFAULT now(),
  report_to_ico boolean,                             -- the member DPO's decision; NULL: not yet
  ico_reference text CHECK (length(ico_reference) <= 100),
  tell_people boolean,
  decision_reason text CHECK (length(decision_reason) <= 2000),
  decided_at timestamptz,
  decided_by text,
  PRIMARY KEY (controller_id, breach_id),
  CONSTRAINT breach_member_decision CHECK ((report_to_ico IS NULL) = (decided_at IS NULL)
                                           AND (report_to_ico IS NULL OR (tell_people IS NOT NULL AND decision_reason IS NOT NULL)))
);
CREATE INDEX breach_member_breach_idx ON outreach.breach_member (breach_id);
COMMENT ON TABLE outreach.breach_member IS
  'the members a breach affects: when each was told, and its DPO''s decision to report to the ICO and to tell the people';

SELECT pg_catalog.pg_extension_config_dump('outreach.breach', '');
SELECT pg_catalog.pg_extension_config_dump('outreach.breach_member', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.breach', 'breach_id')::pg_catalog.regclass, '');

ALTER TABLE outreach.breach_member ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.breach_member FORCE ROW LEVEL SECURITY;
CREATE POLICY breach_member_read ON outreach.breach_member FOR SELECT
  USING (outreach.controller_visible(controller_id, 'dpo') OR pg_has_role('outreach_security', 'MEMBER'));
ALTER TABLE outreach.breach ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.breach FORCE ROW LEVEL SECURITY;
-- A member's DPO sees the breaches that affect its member (breach_member under its own policy).
CREATE POLICY breach_read ON outreach.breach FOR SELECT
  USING (pg_has_role('outreach_security', 'MEMBER')
         OR EXISTS (SELECT 1 FROM outreach.breach_member m WHERE m.breach_id = breach.breach_id));
REVOKE ALL ON outreach.breach, outreach.breach_member FROM PUBLIC;
GRANT SELECT ON outreach.breach, outreach.breach_member TO outreach_dpo, outreach_security;

CREATE OR REPLACE FUNCTION outreach.require_security() RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT pg_has_role(outreach.invoking_role(), 'outreach_security', 'MEMBER') THEN
    RAISE EXCEPTION 'permission denied: role "%" is not in the service''s security role (outreach_security)',
                    outreach.invoking_role() USING ERRCODE = '42501';
  END IF;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.require_security() FROM PUBLIC;
COMMENT ON FUNCTION outreach.require_security() IS 'raises 42501 unless the calling role is in outreach_security';

-- Records a breach, tells every affected member at once, returns its id.
CREATE OR REPLACE FUNCTION outreach.record_breach(aware_at timestamptz, nature text, data_categories text[],
                                                  people_approx int, records_approx bigint, likely_consequences text,
                                                  measures_taken text, risk text, risk_reasoning text,
                                                  controller_ids int[])
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
  id bigint;
  unknown int;
  bad text;
  b outreach.breach;
  c record;
BEGIN
  PERFORM outreach.require_security();
  IF aware_at IS NULL OR NOT isfinite(aware_at) OR aware_at > now() THEN
    RAISE EXCEPTION 'aware_at must be a finite time that has come (the service cannot be aware of a breach in the future)'
      USING ERRCODE = '22023';
  END IF;
  IF controller_ids IS NULL OR cardinality(controller_ids) = 0 OR cardinality(controller_ids) > 10000 THEN
    RAISE EXCEPTION 'name the members affected (1 to 10000)' USING ERRCODE = '22023';
  END IF;
  SELECT min(coalesce(x, -1)) INTO unknown FROM unnest(controller_ids) AS x
  WHERE x IS NULL OR NOT EXISTS (SELECT 1 FROM outreach.controller k WHERE k.controller_id = x);
  IF unknown IS NOT NULL THEN
    RAISE EXCEPTION 'controller % not found', unknown USING ERRCODE = '42704';
  END IF;
  -- The categories are the data catalogue's.
  SELECT min(x) INTO bad FROM unnest(data_categories) AS x
  WHERE x IS NULL OR NOT EXISTS (SELECT 1 FROM outreach.data_catalogue d WHERE d.category = x AND d.category <> 'none');
  IF bad IS NOT NULL OR data_categories IS NULL THEN
    RAISE EXCEPTION 'unknown data category "%"', coalesce(left(bad, 100), 'NULL') USING ERRCODE = '22023',
      HINT = 'The categories of outreach.data_catalogue: name, date_of_birth, address, special_category, ...';
  END IF;
  IF risk IS NULL OR risk NOT IN ('unlikely', 'risk', 'high_risk') THEN
    RAISE EXCEPTION 'risk is unlikely, risk or high_risk, not "%"', left(risk, 100) USING ERRCODE = '22023';
  END IF;
  INSERT INTO outreach.breach (aware_at, ico_deadline, nature, data_categories, people_approx, records_approx,
                               likely_consequences, measures_taken, risk, risk_reasoning, recorded_by)
  VALUES (aware_at, aware_at + interval '72 hours', btrim(nature), ARRAY(SELECT DISTINCT x FROM unnest(data_categories) x ORDER BY 1),
          people_approx, records_approx, btrim(likely_consequences), btrim(measures_taken), risk, btrim(risk_reasoning),
          outreach.invoking_role()::text)
  RETURNING * INTO b;
  id := b.breach_id;
  FOR c IN SELECT DISTINCT k.controller_id, k.code FROM outreach.controller k WHERE k.controller_id = ANY (controller_ids)
           ORDER BY k.controller_id LOOP
    INSERT INTO outreach.breach_member (controller_id, breach_id) VALUES (c.controller_id, id);
    PERFORM outreach.enqueue_delivery(c.controller_id, 'breach', format('outreach-breach-%s', id),
      jsonb_build_object('type', 'breach', 'breach_id', id, 'controller', c.code, 'aware_at', b.aware_at,
                         'ico_deadline', b.ico_deadline, 'risk', b.risk, 'data_categories', b.data_categories,
                         'people_approx', b.people_approx, 'records_approx', b.records_approx,
                         'decide_with', format('SELECT outreach.decide_breach(%s, %s, report_to_ico => ..., tell_people => ..., reason => ...)',
                                               c.controller_id, id)),
      format('Personal data breach affecting your organisation: ICO deadline %s',
             to_char(b.ico_deadline, 'YYYY-MM-DD HH24:MI "UTC"')),
      format(E'The service became aware on %s of a personal data breach affecting your organisation\n'
             '(about %s people, %s records; risk: %s). As controller you decide whether to report it to the\n'
             'ICO, within 72 hours of awareness (by %s), and whether to tell the people affected.\n'
             'The details are in outreach.breach (breach %s) for your data-protection officer.\n',
             to_char(b.aware_at, 'YYYY-MM-DD HH24:MI "UTC"'), b.people_approx, b.records_approx, b.risk,
             to_char(b.ico_deadline, 'YYYY-MM-DD HH24:MI "UTC"'), id));
  END LOOP;
  RETURN id;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.record_breach(timestamptz, text, text[], int, bigint, text, text, text, text, int[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.record_breach(timestamptz, text, text[], int, bigint, text, text, text, text, int[])
  TO outreach_security;
COMMENT ON FUNCTION outreach.record_breach(timestamptz, text, text[], int, bigint, text, text, text, text, int[]) IS
  'the service''s security role records a breach (ICO deadline 72 hours after awareness) and every affected member is told at once; returns its id';

-- The member's DPO decides: report to the ICO (with the reference), tell the people, why.
CREATE OR REPLACE FUNCTION outreach.decide_breach(controller_id int, breach_id bigint, report_to_ico boolean,
                                                  tell_people boolean, reason text, ico_reference text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM outreach.require_dpo(controller_id);
  IF report_to_ico IS NULL OR tell_people IS NULL OR reason IS NULL OR length(btrim(reason)) NOT BETWEEN 1 AND 2000 THEN
    RAISE EXCEPTION 'a decision says whether to report to the ICO and to tell the people, and why (1 to 2000 characters)'
      USING ERRCODE = '22023';
  END IF;
  IF report_to_ico AND (ico_reference IS NULL OR length(btrim(ico_reference)) NOT BETWEEN 1 AND 100) THEN
    RAISE EXCEPTION 'a breach reported to the ICO is recorded with the ICO''s reference' USING ERRCODE = '22023';
  END IF;
  UPDATE outreach.breach_member m
  SET report_to_ico = decide_breach.report_to_ico, tell_people = decide_breach.tell_people,
      decision_reason = btrim(reason), ico_reference = nullif(btrim(decide_breach.ico_reference), ''),
      decided_at = now(), decided_by = outreach.invoking_role()::text
  WHERE m.controller_id = decide_breach.controller_id AND m.breach_id = decide_breach.breach_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'breach % of controller % not found', breach_id, controller_id USING ERRCODE = '42704';
  END IF;
  INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record, columns)
  VALUES (controller_id, session_user, outreach.invoking_role()::text, 'update', 'breach_member',
          jsonb_build_object('breach_id', breach_id), ARRAY['report_to_ico', 'tell_people']);
EXCEPTION WHEN OTHERS THEN
  PERFORM outreach.log_refusal('decide_breach', decide_breach.controller_id, SQLSTATE);
  RAISE;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.decide_breach(int, bigint, boolean, boolean, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.decide_breach(int, bigint, boolean, boolean, text, text) TO outreach_dpo;
COMMENT ON FUNCTION outreach.decide_breach(int, bigint, boolean, boolean, text, text) IS
  'a member''s DPO records its decision on a breach: report to the ICO (with the reference), tell the people, and why';

CREATE OR REPLACE FUNCTION outreach.close_breach(breach_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  waiting int;
BEGIN
  PERFORM outreach.require_security();
  PERFORM 1 FROM outreach.breach b WHERE b.breach_id = close_breach.breach_id AND b.closed_at IS NULL FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no open breach %', breach_id USING ERRCODE = '42704';
  END IF;
  SELECT count(*) INTO waiting FROM outreach.breach_member m
  WHERE m.breach_id = close_breach.breach_id AND m.report_to_ico IS NULL;
  IF waiting > 0 THEN
    RAISE EXCEPTION 'breach % waits for the decision of % affected members', breach_id, waiting USING ERRCODE = '55000',
      HINT = 'Each member''s DPO decides with outreach.decide_breach().';
  END IF;
  UPDATE outreach.breach b SET closed_at = now() WHERE b.breach_id = close_breach.breach_id;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.close_breach(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.close_breach(bigint) TO outreach_security;
COMMENT ON FUNCTION outreach.close_breach(bigint) IS 'closes a breach once every affected member''s DPO has decided (55000 before)';

-- Deadlines: open breaches whose ICO deadline is within 24 hours or has passed, with the
-- decisions still missing (each DPO sees its own member's; the security role every member's).
CREATE OR REPLACE VIEW outreach.breach_deadlines WITH (security_invoker = true) AS
SELECT b.breach_id, b.aware_at, b.ico_deadline, b.risk,
       CASE WHEN b.ico_deadline < now() THEN 'passed' ELSE 'within_24_hours' END AS state,
       (SELECT count(*) FROM outreach.breach_member m WHERE m.breach_id = b.breach_id AND m.report_to_ico IS NULL)
         AS decisions_missing
FROM outreach.breach b
WHERE b.closed_at IS NULL AND b.ico_deadline < now() + interval '24 hours';
REVOKE ALL ON outreach.breach_deadlines FROM PUBLIC;
GRANT SELECT ON outreach.breach_deadlines TO outreach_dpo, outreach_security;
COMMENT ON VIEW outreach.breach_deadlines IS 'open breaches whose ICO deadline is within 24 hours or has passed';

-- Who a breach may have touched: the participants an export sent, an import stored outcomes
-- for, or whose records were written or read (audit trail) in a time window. For the security
-- role, to tell the members affected; participant ids only.
CREATE OR REPLACE FUNCTION outreach.participants_touched(export_id bigint DEFAULT NULL, import_id bigint DEFAULT NULL,
                                                         from_at timestamptz DEFAULT NULL, to_at timestamptz DEFAULT NULL)
RETURNS TABLE (controller_id int, participant_id bigint, how text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
  PERFORM outreach.require_security();
  IF num_nonnulls(export_id, import_id, from_at) <> 1 OR (from_at IS NULL) <> (to_at IS NULL) THEN
    RAISE EXCEPTION 'name one export, one import, or a time window (from_at and to_at)' USING ERRCODE = '22023';
  END IF;
  IF from_at IS NOT NULL AND (NOT isfinite(from_at) OR NOT isfinite(to_at) OR to_at < from_at
                              OR to_at - from_at > interval '400 days') THEN
    RAISE EXCEPTION 'a time window is finite, in order, and at most 400 days' USING ERRCODE = '22023';
  END IF;
  IF export_id IS NOT NULL THEN
    RETURN QUERY SELECT DISTINCT b.controller_id, u.participant_id, 'sent by export ' || b.export_id
    FROM outreach.disclosure_block b CROSS JOIN LATERAL unnest(b.participant_ids) AS u(participant_id)
    WHERE b.export_id = participants_touched.export_id ORDER BY 1, 2;
  ELSIF import_id IS NOT NULL THEN
    RETURN QUERY SELECT DISTINCT b.controller_id, u.participant_id, 'outcome stored by import ' || participants_touched.import_id
    FROM outreach.outcome_block b CROSS JOIN LATERAL unnest(b.participant_ids, b.import_ids) AS u(participant_id, import_id)
    WHERE b.import_ids @> ARRAY[participants_touched.import_id] AND u.import_id = participants_touched.import_id ORDER BY 1, 2;
  ELSE
    RETURN QUERY SELECT DISTINCT a.controller_id, (a.record ->> 'participant_id')::bigint, a.relation || ': ' || a.action
    FROM outreach.audit_log a
    WHERE a.logged_at BETWEEN from_at AND to_at AND a.record ? 'participant_id'
      AND (a.record ->> 'participant_id') ~ '^[0-9]{1,18}$' ORDER BY 1, 2, 3;
  END IF;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.participants_touched(bigint, bigint, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.participants_touched(bigint, bigint, timestamptz, timestamptz) TO outreach_security;
COMMENT ON FUNCTION outreach.participants_touched(bigint, bigint, timestamptz, timestamptz) IS
  'the participants an export sent, an import stored outcomes for, or the audit trail shows touched in a window (the security role)';
