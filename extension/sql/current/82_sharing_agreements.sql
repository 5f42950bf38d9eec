-- Sharing agreements: each linkage recipient's legal gateway, reference, who approved it, the
-- dates it is in force, and whether data leaves the UK and under which safeguard. An export to
-- a recipient without an agreement in force today (UK date) is refused (55000) before anything
-- is written or recorded (export_begin); outreachd reports it as that recipient's failure and
-- exports the others. Recorded by the service's DBA; renewals are new rows.

CREATE TABLE outreach.sharing_agreement (
  agreement_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  recipient text COLLATE "C" NOT NULL CHECK (recipient ~ '^[a-z][a-z0-9_]{1,39}$'),
  legal_gateway text NOT NULL CHECK (length(btrim(legal_gateway)) BETWEEN 1 AND 500),
  reference text NOT NULL CHECK (length(btrim(reference)) BETWEEN 1 AND 200),
  approved_by text NOT NULL CHECK (length(btrim(approved_by)) BETWEEN 1 AND 200),
  valid_from date NOT NULL,
  valid_until date NOT NULL,
  leaves_uk boolean NOT NULL DEFAULT false,
  transfer_safeguard text CHECK (length(transfer_safeguard) <= 500),
  recorded_at timestamptz NOT NULL DEFAULT now(),
  recorded_by text NOT NULL DEFAULT session_user,
  ended_on date,                                     -- ended early: the last day it was in force
  ended_by text,
  end_reason text CHECK (length(end_reason) <= 500),
  CONSTRAINT sharing_agreement_dates CHECK (valid_until >= valid_from),
  CONSTRAINT sharing_agreement_ended CHECK ((ended_on IS NULL) = (ended_by IS NULL) AND (ended_on IS NULL) = (end_reason IS NULL)),
  CONSTRAINT sharing_agreement_dates_finite CHECK (valid_from >= DATE '1990-01-01' AND valid_until <= DATE '2200-01-01'),
  CONSTRAINT sharing_agreement_safeguard CHECK (NOT leaves_uk OR coalesce(length(btrim(transfer_safeguard)), 0) > 0)
);
CREATE INDEX sharing_agreement_recipient_idx ON outreach.sharing_agreement (recipient, valid_until);
COMMENT ON TABLE outreach.sharing_agreement IS
  'linkage recipients'' sharing agreements: gateway, reference, approval, dates in force, transfer outside the UK and its safeguard';
SELECT pg_catalog.pg_extension_config_dump('outreach.sharing_agreement', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.sharing_agreement', 'agreement_id')::pg_catalog.regclass, '');
REVOKE ALL ON outreach.sharing_agreement FROM PUBLIC;
-- (the members' DPOs, the service and its daemon; not analysts or BI tools: it names staff)
GRANT SELECT ON outreach.sharing_agreement TO outreach_dpo, outreach_processor, outreach_daemon;

-- Records an agreement (the service's DBA). Returns its id.
CREATE OR REPLACE FUNCTION outreach.record_sharing_agreement(recipient text, legal_gateway text, reference text,
                                                             approved_by text, valid_from date, valid_until date,
                                                             leaves_uk boolean DEFAULT false,
                                                             transfer_safeguard text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  id bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM outreach.recipient_definition d WHERE d.name = record_sharing_agreement.recipient) THEN
    RAISE EXCEPTION 'unknown recipient "%"', left(recipient, 100) USING ERRCODE = '42704',
      HINT = 'Recipients are listed in outreach.recipient.';
  END IF;
  IF valid_from IS NULL OR valid_until IS NULL OR NOT isfinite(valid_from) OR NOT isfinite(valid_until) THEN
    RAISE EXCEPTION 'an agreement is in force between two finite dates' USING ERRCODE = '22023';
  END IF;
  INSERT INTO outreach.sharing_agreement (recipient, legal_gateway, reference, approved_by, valid_from, valid_until,
                                          leaves_uk, transfer_safeguard, recorded_by)
  VALUES (recipient, btrim(legal_gateway), btrim(reference), btrim(approved_by), valid_from, valid_until,
          coalesce(leaves_uk, false), nullif(btrim(transfer_safeguard), ''), outreach.invoking_role()::text)
  RETURNING agreement_id INTO id;
  RETURN id;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.record_sharing_agreement(text, text, text, text, date, date, boolean, text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.record_sharing_agreement(text, text, text, text, date, date, boolean, text) IS
  'records a recipient''s sharing agreement (the service''s DBA); an end before the start is 23514; returns its id';

-- Ends an agreement early (withdrawn, breached, superseded): in force up to and including
-- ended_on, kept as it was agreed. The service's DBA, with a reason.
CREATE OR REPLACE FUNCTION outreach.end_sharing_agreement(agreement_id bigint, ended_on date, reason text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  a outreach.sharing_agreement;
BEGIN
  SELECT * INTO a FROM outreach.sharing_agreement x WHERE x.agreement_id = end_sharing_agreement.agreement_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'sharing agreement % not found', agreement_id USING ERRCODE = '42704';
  END IF;
  IF a.ended_on IS NOT NULL THEN
    RAISE EXCEPTION 'sharing agreement % ended already, on %', agreement_id, a.ended_on USING ERRCODE = '55000';
  END IF;
  IF ended_on IS NULL OR NOT isfinite(ended_on) OR ended_on < a.valid_from - 1 OR ended_on > a.valid_until THEN
    RAISE EXCEPTION 'ended_on must fall within the agreement (% to %), or be the day before it starts', a.valid_from,
                    a.valid_until USING ERRCODE = '22023';
  END IF;
  IF reason IS NULL OR length(btrim(reason)) NOT BETWEEN 1 AND 500 THEN
    RAISE EXCEPTION 'ending an agreement needs a reason of 1 to 500 characters' USING ERRCODE = '22023';
  END IF;
  UPDATE outreach.sharing_agreement x
  SET ended_on = end_sharing_agreement.ended_on, ended_by = outreach.invoking_role()::text, end_reason = btrim(reason)
  WHERE x.agreement_id = end_sharing_agreement.agreement_id;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.end_sharing_agreement(bigint, date, text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.end_sharing_agreement(bigint, date, text) IS
  'ends a sharing agreement early (the service''s DBA, with a reason): in force up to and including ended_on';

-- The agreement in force for a recipient on a day (the latest to end, when several are).
CREATE OR REPLACE FUNCTION outreach.agreement_in_force(recipient text, on_day date DEFAULT NULL)
RETURNS outreach.sharing_agreement
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT a.* FROM outreach.sharing_agreement a
  WHERE a.recipient = agreement_in_force.recipient
    AND coalesce(on_day, (now() AT TIME ZONE 'Europe/London')::date)
        BETWEEN a.valid_from AND least(a.valid_until, coalesce(a.ended_on, a.valid_until))
  ORDER BY a.valid_until DESC, a.agreement_id DESC LIMIT 1
$$;
REVOKE EXECUTE ON FUNCTION outreach.agreement_in_force(text, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.agreement_in_force(text, date) TO outreach_dpo, outreach_processor, outreach_daemon;
COMMENT ON FUNCTION outreach.agreement_in_force(text, date) IS
  'the sharing agreement of a recipient in force on a day (today in the UK by default), or NULL';

-- Raises 55000 unless the recipient has an agreement in force today (export_begin).
CREATE OR REPLACE FUNCTION outreach.require_agreement(recipient text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  last outreach.sharing_agreement;
BEGIN
  IF (outreach.agreement_in_force(recipient)).agreement_id IS NOT NULL THEN
    RETURN;
  END IF;
  SELECT a.* INTO last FROM outreach.sharing_agreement a WHERE a.recipient = require_agreement.recipient
  ORDER BY least(a.valid_until, coalesce(a.ended_on, a.valid_until)) DESC LIMIT 1;
  last.valid_until := least(last.valid_until, coalesce(last.ended_on, last.valid_until));
  IF last.agreement_id IS NULL THEN
    RAISE EXCEPTION 'recipient "%" has no sharing agreement: nothing is sent to it', recipient USING ERRCODE = '55000',
      HINT = 'Record it with outreach.record_sharing_agreement(recipient, legal_gateway, reference, approved_by, valid_from, valid_until).';
  ELSIF last.valid_until < (now() AT TIME ZONE 'Europe/London')::date THEN
    RAISE EXCEPTION 'the sharing agreement of recipient "%" (%) ended on %: nothing is sent to it', recipient, last.reference,
                    last.valid_until USING ERRCODE = '55000', HINT = 'Record its renewal with outreach.record_sharing_agreement().';
  ELSE
    RAISE EXCEPTION 'the sharing agreement of recipient "%" (%) is in force from %: nothing is sent to it before', recipient,
                    last.reference, last.valid_from USING ERRCODE = '55000';
  END IF;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.require_agreement(text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.require_agreement(text) IS
  'raises 55000 (naming why) unless the recipient has a sharing agreement in force today';
