-- psql: the member's checks, run by run.sh as
--   psql -X -q -U <member> -d outreach_clients -v driver=psql -v member=... -v own_code=...
--        -v other_code=... -v names_file=... -f psql_checks.sql
-- over the cluster's Unix socket (PGHOST). Prints one "ok clients: ..." or "FAILED clients: ..."
-- line per check; the result of each check is computed in SQL and taken with \gset.
\set ON_ERROR_STOP 0
\set VERBOSITY terse
-- query results are not wanted on stdout, only the \echo lines
\o /dev/null
\set expected_names `cat :'names_file'`
SELECT cardinality(string_to_array(:'expected_names', E'\n')) AS n_expected \gset
-- names of the checks that hold a quote (\set concatenates; '' is a quote inside quotes)
\set check2 'sees only ' :own_code '''s ' :n_expected ' participants, by name'
\set check4 'insert with ' :other_code '''s controller_id refused with 42501'

-- 1. the session is the member itself (no superuser, no SET ROLE)
\set ok false
\set got ''
SELECT current_user = :'member' AND session_user = :'member' AS ok, current_user AS got \gset
\if :ok
  \echo ok clients: :driver :member: connects as :member (:transport)
\else
  \echo FAILED clients: :driver :member: connects as :member (:transport) -- got :got
\endif

-- 2. row-level security: exactly its own controller's participants, by name, in insertion order
\set ok false
\set n ?
\set got ''
SELECT count(*) AS n,
       coalesce(string_agg(first_name || ' ' || last_name, ', ' ORDER BY participant_id), '') AS got,
       coalesce(string_agg(first_name || ' ' || last_name, E'\n' ORDER BY participant_id), '') = :'expected_names'
         AND count(*) = :n_expected
         AND coalesce(bool_and(controller_id = (SELECT controller_id FROM outreach.controller WHERE code = :'own_code')), false)
         AS ok
FROM outreach.participant \gset
\if :ok
  \echo ok clients: :driver :member: :check2
\else
  \echo FAILED clients: :driver :member: :check2 -- got :n rows: :got
\endif

-- 3. it may write for its own controller (controller_id from the column default); rolled back
\set ok false
BEGIN;
INSERT INTO outreach.participant (first_name, last_name)
VALUES ('Temporary', 'Row')
RETURNING controller_id = (SELECT controller_id FROM outreach.controller WHERE code = :'own_code') AS ok \gset
ROLLBACK;
\if :ok
  \echo ok clients: :driver :member: inserts a participant for :own_code (rolled back)
\else
  \echo FAILED clients: :driver :member: inserts a participant for :own_code (rolled back) -- :LAST_ERROR_MESSAGE
\endif

-- 4. but not for the other controller: the insert policy refuses it with 42501
SELECT controller_id AS other_id FROM outreach.controller WHERE code = :'other_code' \gset
INSERT INTO outreach.participant (controller_id, first_name, last_name)
VALUES (:other_id, 'Cross', 'Controller');
SELECT :'SQLSTATE' AS got, :'SQLSTATE' = '42501' AS ok \gset
\if :ok
  \echo ok clients: :driver :member: :check4
\else
  \echo FAILED clients: :driver :member: :check4 -- got SQLSTATE :got
\endif

-- 5. special-category columns are for the DPO level only
SELECT ethnicity FROM outreach.participant;
SELECT :'SQLSTATE' AS got, :'SQLSTATE' = '42501' AS ok \gset
\if :ok
  \echo ok clients: :driver :member: select of special-category column ethnicity refused with 42501
\else
  \echo FAILED clients: :driver :member: select of special-category column ethnicity refused with 42501 -- got SQLSTATE :got
\endif
