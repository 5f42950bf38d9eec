"""Duplicate matching measured on a synthetic population (population.py) of one large member:
find_possible_duplicates() must flag at least 95% of the true pairs (a person and their second
record) with at most 1 in 1,000 flagged pairs wrong; per variant, the share found is reported.
Also: the pairs are the member's own under row security, dismissed pairs stay dismissed, and
another member's writer cannot search this member. Prints "ok ..." / "FAILED ..." lines.

    MATCH_PEOPLE=60000 python3 tests/matching/quality.py     (the cluster in PGHOST/PGPORT)
"""
import os
import sys
import tempfile
import time

import psycopg2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import population  # noqa: E402

PEOPLE = int(os.environ.get("MATCH_PEOPLE", "60000"))
failed = False


def ok(cond, what, got=""):
    global failed
    if cond:
        print(f"ok duplicate matching: {what}")
    else:
        failed = True
        print(f"FAILED duplicate matching: {what}" + (f" (got {got})" if got != "" else ""))


admin = psycopg2.connect(dbname="postgres")
admin.autocommit = True
with admin.cursor() as c:
    c.execute("DROP DATABASE IF EXISTS match_quality")
    c.execute("CREATE DATABASE match_quality")
    for r in ("mq_writer", "mq_dpo", "mq_other"):
        c.execute(f"DROP ROLE IF EXISTS {r}")
    for r in ("outreach_mq_a_reader", "outreach_mq_a_writer", "outreach_mq_a_dpo", "outreach_mq_a_analyst",
              "outreach_mq_b_reader", "outreach_mq_b_writer", "outreach_mq_b_dpo", "outreach_mq_b_analyst"):
        c.execute(f"DROP ROLE IF EXISTS {r}")
db = psycopg2.connect(dbname="match_quality")
db.autocommit = True
cur = db.cursor()
cur.execute("CREATE EXTENSION outreach")
cur.execute("SELECT outreach.create_controller('mq_a', 'Large member'), outreach.create_controller('mq_b', 'Other member')")
cur.execute("CREATE ROLE mq_writer; CREATE ROLE mq_dpo; CREATE ROLE mq_other")
cur.execute("SELECT outreach.grant_controller_access('mq_writer', 'mq_a', 'writer'),"
            " outreach.grant_controller_access('mq_dpo', 'mq_a', 'dpo'),"
            " outreach.grant_controller_access('mq_other', 'mq_b', 'writer')")
cur.execute("SELECT controller_id FROM outreach.controller WHERE code = 'mq_a'")
cid = cur.fetchone()[0]

with tempfile.NamedTemporaryFile("w+", suffix=".csv", delete=False) as f:
    path = f.name
counts, variant_of = population.write(path, PEOPLE, duplicate_share=0.05, seed=int(os.environ.get("MATCH_SEED", "18")),
                                      schools=True)
cur.execute("CREATE TEMP TABLE load (external_ref text, first_name text, last_name text, date_of_birth date, postcode text,"
            " school_urn int)")
with open(path) as f:
    cur.copy_expert("COPY load FROM STDIN WITH (FORMAT csv, HEADER)", f)
os.unlink(path)
cur.execute("INSERT INTO outreach.institution (urn, name) SELECT DISTINCT school_urn, 'School ' || school_urn FROM load"
            " WHERE school_urn IS NOT NULL ON CONFLICT DO NOTHING")
cur.execute("INSERT INTO outreach.participant (controller_id, external_ref, first_name, last_name, date_of_birth, postcode,"
            " institution_id)"
            " SELECT %s, l.external_ref, l.first_name, l.last_name, l.date_of_birth, l.postcode::outreach.uk_postcode,"
            " i.institution_id FROM load l LEFT JOIN outreach.institution i ON i.urn = l.school_urn", (cid,))
true_pairs = sum(counts.values())
print(f"# duplicate matching: {PEOPLE} people, {true_pairs} second records: "
      + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))

cur.execute("SET ROLE mq_other")
try:
    cur.execute("SELECT * FROM outreach.find_possible_duplicates(%s)", (cid,))
    ok(False, "another member's writer cannot search this member (42501)", "it could")
except psycopg2.Error as e:
    ok(e.pgcode == "42501", "another member's writer cannot search this member (42501)", e.pgcode)
cur.execute("RESET ROLE")

cur.execute("SET ROLE mq_writer")
start = time.time()
cur.execute("SELECT open_pairs, new_pairs, compared_pairs FROM outreach.find_possible_duplicates(%s)", (cid,))
open_pairs, new_pairs, compared = cur.fetchone()
took = time.time() - start
print(f"# duplicate matching: {compared} candidate pairs compared, {open_pairs} flagged, in {took:.1f} s")
cur.execute("""SELECT split_part(a.external_ref, '-', 1) = split_part(b.external_ref, '-', 1), d.reasons,
                      a.first_name, a.last_name, a.date_of_birth, a.postcode, b.first_name, b.last_name, b.date_of_birth, b.postcode
               FROM outreach.possible_duplicate d
               JOIN outreach.participant a ON a.controller_id = d.controller_id AND a.participant_id = d.participant_id
               JOIN outreach.participant b ON b.controller_id = d.controller_id AND b.participant_id = d.other_participant_id""")
rows = cur.fetchall()
right = sum(1 for r in rows if r[0])
wrong = [r for r in rows if not r[0]]
recall = right / true_pairs if true_pairs else 0
ok(recall >= 0.95, f"at least 95% of the true pairs flagged: {right} of {true_pairs} ({100 * recall:.2f}%)", f"{100 * recall:.2f}%")
ok(len(wrong) * 1000 <= len(rows), f"at most 1 in 1,000 flagged pairs wrong: {len(wrong)} of {len(rows)}", len(wrong))
for w in wrong[:int(os.environ.get("MATCH_SHOW_WRONG", "5"))]:
    print(f"# wrong pair: {w[1]}: {w[2]} {w[3]} {w[4]} {w[5]} / {w[6]} {w[7]} {w[8]} {w[9]}")

# Recall per variant: which second records were found.
cur.execute("""SELECT split_part(b.external_ref, '-', 1) FROM outreach.possible_duplicate d
               JOIN outreach.participant a ON a.controller_id = d.controller_id AND a.participant_id = d.participant_id
               JOIN outreach.participant b ON b.controller_id = d.controller_id AND b.participant_id = d.other_participant_id
               WHERE split_part(a.external_ref, '-', 1) = split_part(b.external_ref, '-', 1)""")
found_people = {r[0] for r in cur.fetchall()}
cur.execute("RESET ROLE")
by_variant = {}
for person, variant in variant_of.items():
    hit, all_ = by_variant.get(variant, (0, 0))
    by_variant[variant] = (hit + (person in found_people), all_ + 1)
print("# duplicate matching, found per variant: "
      + ", ".join(f"{v} {h}/{n} ({100 * h / n:.0f}%)" for v, (h, n) in sorted(by_variant.items())))
print(f"# duplicate matching: precision {100 * right / max(1, len(rows)):.3f}%, recall {100 * recall:.2f}%")

# Row security and decisions.
cur.execute("SET ROLE mq_other")
cur.execute("SELECT count(*) FROM outreach.possible_duplicate")
ok(cur.fetchone()[0] == 0, "another member's writer sees none of the pairs")
cur.execute("RESET ROLE")
cur.execute("SET ROLE mq_dpo")
cur.execute("SELECT participant_id, other_participant_id FROM outreach.possible_duplicate ORDER BY 1, 2 LIMIT 1")
a, b = cur.fetchone()
cur.execute("SELECT outreach.dismiss_possible_duplicate(%s, %s, %s)", (cid, b, a))
cur.execute("RESET ROLE")
cur.execute("SET ROLE mq_writer")
cur.execute("SELECT open_pairs, new_pairs FROM outreach.find_possible_duplicates(%s)", (cid,))
again_open, again_new = cur.fetchone()
cur.execute("SELECT status FROM outreach.possible_duplicate WHERE participant_id = %s AND other_participant_id = %s", (a, b))
ok(cur.fetchone()[0] == "dismissed" and again_new == 0 and again_open == open_pairs - 1,
   "a dismissed pair stays dismissed when the search runs again, and nothing new is found", (again_open, again_new))
cur.execute("RESET ROLE")
cur.execute("SELECT count(*) FROM outreach.audit_log WHERE controller_id = %s AND action = 'dismiss_duplicate'", (cid,))
ok(cur.fetchone()[0] == 1, "the dismissal is on the member's audit trail")
db.close()
with admin.cursor() as c:
    c.execute("DROP DATABASE match_quality")
sys.exit(1 if failed else 0)
