-- A member has at most 10 notification channels: each one is a delivery the daemon makes for
-- every notice, so an unbounded number would let one member slow every member's notices.
CREATE FUNCTION outreach.notification_channel_limit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n int;
BEGIN
  -- (the member's row serialises its concurrent inserts, so the count cannot be raced past)
  PERFORM 1 FROM outreach.controller c WHERE c.controller_id OPERATOR(pg_catalog.=) NEW.controller_id FOR UPDATE;
  SELECT count(*) INTO n FROM outreach.notification_channel c
  WHERE c.controller_id OPERATOR(pg_catalog.=) NEW.controller_id;
  IF n >= 10 THEN
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
