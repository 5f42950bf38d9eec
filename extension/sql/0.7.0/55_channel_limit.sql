-- A member has at most 10 notification channels: each one is a delivery the daemon makes for
-- every notice, so an unbounded number would let one member slow every member's notices.
-- The count takes no lock: a lock on a row every member's statements touch (the controller's,
-- which foreign-key checks share) would let a DPO holding a transaction open stall the daemon.
-- Concurrent inserts of one member can pass the count together, so the bound is 10 plus that
-- member's own concurrent transactions: limited, and only that member's.
CREATE FUNCTION outreach.notification_channel_limit() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- (Runs as the caller, under row security.) Another member's row is row security's to refuse,
  -- with its own error: the count below must not tell the caller how many channels it has.
  IF NOT outreach.controller_visible(NEW.controller_id, 'dpo') THEN
    RETURN NEW;
  END IF;
  IF (SELECT count(*) FROM outreach.notification_channel c
      WHERE c.controller_id OPERATOR(pg_catalog.=) NEW.controller_id) >= 10 THEN
    RAISE EXCEPTION 'a member has at most 10 notification channels' USING ERRCODE = '54000',
      HINT = 'Delete or reuse a channel (UPDATE its target) instead.';
  END IF;
  RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.notification_channel_limit() FROM PUBLIC;
COMMENT ON FUNCTION outreach.notification_channel_limit() IS 'trigger: at most 10 notification channels per member';
CREATE TRIGGER notification_channel_limit BEFORE INSERT ON outreach.notification_channel
  FOR EACH ROW EXECUTE FUNCTION outreach.notification_channel_limit();
