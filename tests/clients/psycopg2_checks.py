"""psycopg2 (Debian's python3-psycopg2, on libpq): the member's checks over TCP.

Run by run.sh with Debian's /usr/bin/python3 and the environment
  PGPORT, CLIENT_MEMBER, CLIENT_OWN_CODE, CLIENT_OTHER_CODE, CLIENT_NAMES_FILE, CLIENT_DB.
Prints one "ok clients: ..." or "FAILED clients: ..." line per check; exits 1 when any failed.
"""
import os
import sys

import psycopg2

DRIVER = "psycopg2"
member = os.environ["CLIENT_MEMBER"]
own_code = os.environ["CLIENT_OWN_CODE"]
other_code = os.environ["CLIENT_OTHER_CODE"]
with open(os.environ["CLIENT_NAMES_FILE"], encoding="utf-8") as f:
    expected_names = [line.rstrip("\n") for line in f if line.strip()]

failures = 0


def check(name, passed, detail=""):
    global failures
    if passed:
        print(f"ok clients: {DRIVER} {member}: {name}", flush=True)
    else:
        failures += 1
        print(f"FAILED clients: {DRIVER} {member}: {name}" + (f" -- {detail}" if detail else ""), flush=True)


def sqlstate_of(sql, params):
    """Runs one statement in its own transaction; returns the SQLSTATE it failed with, or None."""
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
        return None
    except psycopg2.Error as e:
        return e.pgcode
    finally:
        conn.rollback()


# Trust authentication on 127.0.0.1: user only, no password.
conn = psycopg2.connect(host="127.0.0.1", port=os.environ["PGPORT"], dbname=os.environ.get("CLIENT_DB", "outreach_clients"),
                        user=member, application_name="outreach-clients-psycopg2")

with conn.cursor() as cur:
    cur.execute("SELECT current_user, session_user")
    who = cur.fetchone()
check(f"connects as {member} (tcp)", who == (member, member), f"got {who}")

with conn.cursor() as cur:
    cur.execute("SELECT controller_id FROM outreach.controller WHERE code = %s", (own_code,))
    own_id = cur.fetchone()[0]
    cur.execute("SELECT controller_id FROM outreach.controller WHERE code = %s", (other_code,))
    other_id = cur.fetchone()[0]
    cur.execute("SELECT controller_id, first_name || ' ' || last_name FROM outreach.participant ORDER BY participant_id")
    rows = cur.fetchall()
conn.rollback()
names = [name for _, name in rows]
check(f"sees only {own_code}'s {len(expected_names)} participants, by name",
      names == expected_names and all(cid == own_id for cid, _ in rows),
      f"got {len(rows)} rows: {rows}")

try:
    with conn.cursor() as cur:
        cur.execute("INSERT INTO outreach.participant (first_name, last_name) VALUES (%s, %s) RETURNING controller_id",
                    ("Temporary", "Row"))
        got = cur.fetchone()[0]
    check(f"inserts a participant for {own_code} (rolled back)", got == own_id, f"got controller_id {got}")
except psycopg2.Error as e:
    check(f"inserts a participant for {own_code} (rolled back)", False, f"SQLSTATE {e.pgcode}: {e.pgerror}")
finally:
    conn.rollback()

state = sqlstate_of("INSERT INTO outreach.participant (controller_id, first_name, last_name) VALUES (%s, %s, %s)",
                    (other_id, "Cross", "Controller"))
check(f"insert with {other_code}'s controller_id refused with 42501", state == "42501", f"got SQLSTATE {state}")

state = sqlstate_of("SELECT ethnicity FROM outreach.participant", None)
check("select of special-category column ethnicity refused with 42501", state == "42501", f"got SQLSTATE {state}")

conn.close()
sys.exit(1 if failures else 0)
