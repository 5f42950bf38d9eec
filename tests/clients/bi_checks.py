"""psycopg2 as a BI tool: a login in outreach_bi (the service's BI) or a member's analyst.

Run by run.sh with Debian's /usr/bin/python3 and the environment
  PGPORT, CLIENT_DB, BI_LOGIN, BI_KIND (bi or analyst), BI_OWN_CODE (analyst: its member),
  BI_CODES (space-separated codes of every member).
What a BI tool would try: every relation and function of schema outreach it is allowed to
touch (from the catalog, as it sees it), then reading per-person data by each path. Prints one
"ok clients: ..." or "FAILED clients: ..." line per check; exits 1 when any failed.
"""
import os
import sys

import psycopg2

login = os.environ["BI_LOGIN"]
kind = os.environ["BI_KIND"]
all_codes = sorted(os.environ["BI_CODES"].split())
own_code = os.environ.get("BI_OWN_CODE", "")
failures = 0

# What a BI role may read: the disclosure-controlled views and reference data without a row
# per person. Anything else it can SELECT is a finding.
ALLOWED_RELATIONS = {
    "reach_by_area", "outcomes_by_activity", "attainment_by_activity", "continuation_by_activity",
    "progression_summary", "disclosure_policies",
    "activity_type", "institution", "controller", "controller_role",
    "postcode_geography", "polar4_area", "tundra_area", "deprivation_area", "area_lookup_load",
    "area_lookup_field", "area_lookup_header",
    # configuration without personal data: linkage recipients and the member's retention policy
    "recipient", "recipient_definition", "recipient_layout", "recipient_layout_column", "retention_policy",
    # retention counts, rounded for a role that reads no rows (checked below)
    "retention_summary", "retention_forecast",
    # the data catalogue: which columns of the schema hold what kind of data (no data itself)
    "data_catalogue",
    # the coding frames of the coded fields (HESA's codes and labels: the categories BI groups by)
    "coding_frame",
}
# SECURITY DEFINER functions it may execute: each returns aggregates or its own access.
ALLOWED_DEFINER_FUNCTIONS = {
    "report_reach_by_area", "report_outcomes", "report_attainment", "report_continuation",
    "report_progression", "report_controller_ids",
    "my_controller_ids", "default_controller_id", "retention_summary_rows", "retention_forecast_rows",
}
# Per-person relations and functions, each tried directly.
PERSONAL = [
    "SELECT count(*) FROM outreach.participant",
    "SELECT count(*) FROM outreach.participant_core",
    "SELECT count(*) FROM outreach.participant_area",
    "SELECT count(*) FROM outreach.attendance",
    "SELECT count(*) FROM outreach.activity",
    "SELECT count(*) FROM outreach.outcome",
    "SELECT count(*) FROM outreach.outcome_block",
    "SELECT count(*) FROM outreach.shared_engagement",
    "SELECT count(*) FROM outreach.shareable_participant",
    "SELECT count(*) FROM outreach.retention_status",
    "SELECT count(*) FROM outreach.disclosure_block",
    "SELECT count(*) FROM outreach.audit_log",
]


def check(name, passed, detail=""):
    global failures
    if passed:
        print(f"ok clients: psycopg2 {login}: {name}", flush=True)
    else:
        failures += 1
        print(f"FAILED clients: psycopg2 {login}: {name}" + (f" -- {detail}" if detail else ""), flush=True)


conn = psycopg2.connect(host="127.0.0.1", port=os.environ["PGPORT"], dbname=os.environ["CLIENT_DB"],
                        user=login, application_name="outreach-clients-bi")


def query(sql, params=None):
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall(), None
    except psycopg2.Error as e:
        return None, e.pgcode
    finally:
        conn.rollback()


rows, _ = query("""
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'outreach' AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
      AND (has_table_privilege(c.oid, 'SELECT')
           OR EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0
                        AND NOT a.attisdropped AND has_column_privilege(c.oid, a.attnum, 'SELECT')))
    ORDER BY 1""")
readable = {r[0] for r in rows or []}
check("reads no relation of schema outreach but the disclosure-controlled views and reference data",
      rows is not None and readable <= ALLOWED_RELATIONS, f"also readable: {sorted(readable - ALLOWED_RELATIONS)}")
REPORTS = {"reach_by_area", "outcomes_by_activity", "attainment_by_activity", "continuation_by_activity",
           "progression_summary"}
check("reads every report view (" + ", ".join(sorted(REPORTS)) + ")",
      REPORTS <= readable, f"readable: {sorted(readable)}")

rows, _ = query("""
    SELECT DISTINCT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'outreach' AND p.prosecdef AND has_function_privilege(p.oid, 'EXECUTE') ORDER BY 1""")
definers = {r[0] for r in rows or []}
check("executes no SECURITY DEFINER function but the reports and its own access",
      rows is not None and definers <= ALLOWED_DEFINER_FUNCTIONS, f"also executable: {sorted(definers - ALLOWED_DEFINER_FUNCTIONS)}")

denied = []
for sql in PERSONAL:
    _, state = query(sql)
    if state != "42501":
        denied.append(f"{sql}: {state or 'no error'}")
check(f"every per-person path refused with 42501 ({len(PERSONAL)} tried)", not denied, "; ".join(denied))

rows, state = query("SELECT controller_code, participants, percent FROM outreach.reach_by_area")
codes = sorted({r[0] for r in rows or []})
expected_codes = all_codes if kind == "bi" else [own_code]
check(f"reach_by_area shows {'every member' if kind == 'bi' else 'only ' + own_code}",
      rows is not None and codes == expected_codes, f"SQLSTATE {state}, members {codes}")
check("every count in reach_by_area is rounded to a multiple of 5",
      bool(rows) and all(r[1] % 5 == 0 for r in rows), f"counts {sorted({r[1] for r in rows or []})}")

rows, state = query("SELECT participants, with_outcome FROM outreach.outcomes_by_activity")
check("every count in outcomes_by_activity is rounded to a multiple of 5",
      bool(rows) and all(a % 5 == 0 and b % 5 == 0 for a, b in rows), f"SQLSTATE {state}")

for view, columns in (("attainment_by_activity", "participants, 0"), ("continuation_by_activity", "participants, with_status")):
    rows, state = query(f"SELECT {columns} FROM outreach.{view}")
    check(f"{view} answers, every count rounded to a multiple of 5",
          rows is not None and all(a % 5 == 0 and b % 5 == 0 for a, b in rows), f"SQLSTATE {state}")

rows, state = query("SELECT participants FROM outreach.retention_summary UNION ALL "
                    "SELECT participants FROM outreach.retention_forecast")
if kind == "analyst":  # its member's 3 participants: exact for readers, rounded (to 0) for it
    check("every count in retention_summary and retention_forecast is rounded to a multiple of 5",
          bool(rows) and all(r[0] % 5 == 0 for r in rows), f"SQLSTATE {state}, counts {sorted({r[0] for r in rows or []})}")
else:
    check("retention_summary and retention_forecast refused with 42501", state == "42501", f"got SQLSTATE {state}")

_, state = query("SELECT * FROM outreach.report_reach_by_area('no_such_policy')")
check("an unknown disclosure policy is refused with 42704", state == "42704", f"got SQLSTATE {state}")

conn.close()
sys.exit(1 if failures else 0)
