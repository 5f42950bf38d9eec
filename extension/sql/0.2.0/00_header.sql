\echo Use "ALTER EXTENSION outreach UPDATE TO '0.2.0'" to load this file. \quit

-- 0.2.0: members as data controllers, their roles, personal-data tables under row-level
-- security, cross-member sharing by linkage pseudonym, and the audit trail.

CREATE FUNCTION outreach.invoking_role() RETURNS regrole
  AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.invoking_role() IS
  'the role the session acts as (after SET ROLE), also inside SECURITY DEFINER functions';
