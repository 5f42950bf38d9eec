-- Delivery partners: which members may be named as delivered_by of another member's activities.

-- A member names another as delivered_by of its activity only with that member's agreement;
-- otherwise any writer could attribute its activities to any member. The delivering member's
-- DPO records the agreement; it can be withdrawn (activities already naming it keep the name:
-- they were agreed when written). Naming oneself, or nobody, needs no agreement.
CREATE TABLE outreach.delivery_partner (
  partner_id int NOT NULL REFERENCES outreach.controller ON DELETE CASCADE,     -- who delivers
  controller_id int NOT NULL REFERENCES outreach.controller ON DELETE CASCADE,  -- who may name it
  agreed_at timestamptz NOT NULL DEFAULT now(),
  agreed_by name NOT NULL,
  PRIMARY KEY (partner_id, controller_id),
  CHECK (partner_id <> controller_id)
);
COMMENT ON TABLE outreach.delivery_partner IS
  'members that agreed to be named as delivered_by of another member''s activities';
SELECT pg_catalog.pg_extension_config_dump('outreach.delivery_partner', '');
ALTER TABLE outreach.delivery_partner ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.delivery_partner FORCE ROW LEVEL SECURITY;
-- Both sides see their agreements.
CREATE POLICY delivery_partner_read ON outreach.delivery_partner FOR SELECT
  USING (outreach.controller_visible(partner_id, 'reader') OR outreach.controller_visible(controller_id, 'reader'));
REVOKE ALL ON outreach.delivery_partner FROM PUBLIC;
GRANT SELECT ON outreach.delivery_partner TO outreach_reader, outreach_processor;

CREATE OR REPLACE FUNCTION outreach.agree_delivery_partner(partner_id int, controller_code text, agreed boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cid int;
BEGIN
  PERFORM outreach.require_dpo(partner_id);
  SELECT c.controller_id INTO cid FROM outreach.controller c WHERE c.code OPERATOR(pg_catalog.=) controller_code;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown controller "%"', controller_code USING ERRCODE = '42704';
  END IF;
  IF cid OPERATOR(pg_catalog.=) partner_id THEN
    RAISE EXCEPTION 'a member needs no agreement to name itself' USING ERRCODE = '22023';
  END IF;
  IF agreed THEN
    INSERT INTO outreach.delivery_partner (partner_id, controller_id, agreed_by)
    VALUES (partner_id, cid, outreach.invoking_role()::text)
    ON CONFLICT ON CONSTRAINT delivery_partner_pkey DO NOTHING;
  ELSE
    DELETE FROM outreach.delivery_partner d
    WHERE d.partner_id OPERATOR(pg_catalog.=) agree_delivery_partner.partner_id
      AND d.controller_id OPERATOR(pg_catalog.=) cid;
  END IF;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.agree_delivery_partner(int, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.agree_delivery_partner(int, text, boolean) TO outreach_dpo;
COMMENT ON FUNCTION outreach.agree_delivery_partner(int, text, boolean) IS
  'the DPO of partner_id agrees (or, with false, no longer agrees) to be named delivered_by by another member';

CREATE OR REPLACE FUNCTION outreach.activity_check_partner() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- (Runs as the caller: it sees only agreements its member is part of.) Another member's row is
  -- row security's to refuse, with its own error: whether that member has an agreement must not
  -- show in which error comes back.
  IF NOT outreach.controller_visible(NEW.controller_id, 'writer') THEN
    RETURN NEW;
  END IF;
  IF NEW.delivered_by IS NOT NULL AND NEW.delivered_by OPERATOR(pg_catalog.<>) NEW.controller_id
     AND NOT EXISTS (SELECT 1 FROM outreach.delivery_partner d
                     WHERE d.partner_id OPERATOR(pg_catalog.=) NEW.delivered_by
                       AND d.controller_id OPERATOR(pg_catalog.=) NEW.controller_id) THEN
    RAISE EXCEPTION 'member % has not agreed to be named as delivered_by of this member''s activities', NEW.delivered_by
      USING ERRCODE = '42501', HINT = 'Its DPO agrees with outreach.agree_delivery_partner().';
  END IF;
  RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.activity_check_partner() FROM PUBLIC;
COMMENT ON FUNCTION outreach.activity_check_partner() IS
  'trigger: delivered_by names only the member itself or a member that agreed (delivery_partner)';
CREATE OR REPLACE TRIGGER activity_check_partner BEFORE INSERT OR UPDATE OF delivered_by ON outreach.activity
  FOR EACH ROW EXECUTE FUNCTION outreach.activity_check_partner();
