#!/usr/bin/python3
"""Property test of the retention sweep against an independent model of the rules.

Run through property_test.sh (scripts/test's run_checks runs scripts with bash); needs Debian's
/usr/bin/python3 with python3-psycopg2, and a cluster as scripts/lib/cluster.sh starts it
(PGHOST/PGPORT/PGUSER = a superuser).

In its own database (outreach_retention_prop) it makes four controllers with different policies
(defaults; long 10 / short 3 / window 5; Scotland; Northern Ireland with long 1 / short 0 /
window 1), about 3000 participants with random facts on every track (inserted by the superuser
with explicit created_at, withdrawn_at, entry-year overrides with a reason, missing, empty, blank
or punctuation-only names, missing postcodes and dates of birth, near-midnight timestamps in
other time zones, a few retention holds), some built so that the attendance window closes just
before, on or after the long-track date, and attendance with random dates (29 February
included; some rows then deleted or moved, so the triggers keeping last_attended_on run every
path). Then it sweeps (CALL outreach.retention_sweep) at ten increasing dates between 2020 and
2060 (among them a record's due date and the day before, and a late-October date whose records
join the next cycle) with random batch sizes 1..500, and after each sweep checks every
participant against the model below:
  - marked exactly when due (and not held) at some sweep date so far: nothing within retention
    is marked;
  - the reasons, due date and marking date recorded are the model's, evaluated at the sweep that
    first found the record due;
  - every marked record belongs to exactly one deletion notice of its own controller, for the
    cycle the model computes, with the model's confirmation deadline; records_marked of every
    notice equals the records marked into it; the run history counts exactly the records marked.
The retention_status view (evaluated at current_date) agrees with the model at today's date
(track, Expected HE Entry Year, overridden, due date, reasons). The DPO of each controller
confirms a notice and delete_confirmed deletes exactly those records and their attendance,
leaving tombstones with what was recorded at marking. Finally two sweeps run concurrently, four
times (two connections, same as_of, small random batch sizes): no error (no deadlock, 40P01),
exactly the due records marked, the two runs' rows_marked add up to the records marked (nothing
marked twice), notices add up.

The model is written from the rule text in extension/src/core/retention.hpp and SPEC.md (6, 7
and Interpretations), not from the C++. Prints "ok retention: ..." / "FAILED retention: ...";
exits non-zero on any failure. RETENTION_SEED=n repeats a run; RETENTION_PARTICIPANTS=n changes
the size.
"""

import datetime as dt
import os
import random
import sys
import threading
import time
import traceback
from zoneinfo import ZoneInfo

import psycopg2
import psycopg2.extras

DB = "outreach_retention_prop"
CODES = ["retprop_a", "retprop_b", "retprop_c", "retprop_d"]
LEVELS = ["reader", "writer", "dpo", "analyst"]
# code -> arguments of set_retention_policy ({}: the defaults)
POLICY_ARGS = {
    "retprop_a": {},
    "retprop_b": {"long_track_years": 10, "short_track_years": 3, "attendance_window_years": 5},
    "retprop_c": {"nation": "scotland"},
    "retprop_d": {"nation": "northern_ireland", "long_track_years": 1, "short_track_years": 0,
                  "attendance_window_years": 1},
}
SEED = int(os.environ.get("RETENTION_SEED", random.randrange(1 << 30)))
N_PARTICIPANTS = int(os.environ.get("RETENTION_PARTICIPANTS", "3000"))
rng = random.Random(SEED)
failures = 0


def ok(msg):
    print(f"ok retention: {msg}", flush=True)


def failed(msg, details=()):
    global failures
    failures += 1
    print(f"FAILED retention: {msg} (seed {SEED})", flush=True)
    for d in list(details)[:12]:
        print(f"    {d}", flush=True)


def check(cond, msg, details=()):
    if cond:
        ok(msg)
    else:
        failed(msg, details)
    return cond


# ----------------------------------------------------------------------------------------------
# The model: the rules as retention.hpp and SPEC.md state them.
# ----------------------------------------------------------------------------------------------
ONE_DAY = dt.timedelta(days=1)


def add_years(d, n):
    """The same day n years later; 29 February becomes 28 February in a common year."""
    try:
        return d.replace(year=d.year + n)
    except ValueError:
        return d.replace(year=d.year + n, day=28)


def expected_entry_year(dob, nation):
    """SPEC 7 and entry_year.hpp: the year a pupil born on dob enters HE."""
    y, m, d = dob.year, dob.month, dob.day
    if nation in ("england", "wales"):          # cohort 1 Sep .. 31 Aug
        return y + 19 if m >= 9 else y + 18
    if nation == "scotland":                    # cohort 1 Mar .. end of Feb
        return y + 17 if m <= 2 else y + 18
    if nation == "northern_ireland":            # cohort 2 Jul .. 1 Jul
        return y + 19 if (m, d) >= (7, 2) else y + 18
    raise ValueError(nation)


class Policy:
    def __init__(self, long_years=15, short_years=7, window_years=15, nation="england",
                 cycle_month=9, cycle_day=1, confirm_by_month=10, confirm_by_time=dt.time(17, 0),
                 time_zone="Europe/London", min_response_days=14):
        self.long_years, self.short_years, self.window_years = long_years, short_years, window_years
        self.nation, self.cycle_month, self.cycle_day = nation, cycle_month, cycle_day
        self.confirm_by_month, self.confirm_by_time = confirm_by_month, confirm_by_time
        self.time_zone, self.min_response_days = time_zone, min_response_days


def name_present(name):
    """A name is supplied when it has a letter or a digit: blanks and punctuation alone are no
    name (nor can they be linked: pseudonymise() treats a name that normalises to empty as
    missing, and the long track exists for linkage)."""
    return name is not None and any(ch.isalnum() for ch in name)


class Person:
    """A participant's facts, as the test generated them."""

    def __init__(self, controller, ref):
        self.controller, self.ref = controller, ref
        self.first_name = self.last_name = self.postcode = None
        self.dob = None
        self.created_at = None
        self.withdrawn_at = None
        self.override = None
        self.hold_until = None   # retention_hold_until: sweeps leave the record alone before it
        self.attended = []   # dates
        self.pid = None

    @property
    def has_first(self):
        return name_present(self.first_name)

    @property
    def has_last(self):
        return name_present(self.last_name)

    @property
    def created_on(self):
        return self.created_at.astimezone(dt.timezone.utc).date()

    @property
    def withdrawn_on(self):
        return None if self.withdrawn_at is None else self.withdrawn_at.astimezone(dt.timezone.utc).date()

    @property
    def last_attended(self):
        return max(self.attended) if self.attended else None


def entry_year_of(p, pol):
    if p.override is not None:
        return p.override
    if p.dob is not None:
        return expected_entry_year(p.dob, pol.nation)
    return None


def window_closes(p, pol):
    """The last day the record counts as having attended within the window."""
    return add_years(p.last_attended, pol.window_years)


def long_track_eligible(p):
    """Everything the long track asks for except recent attendance."""
    return (p.has_first and p.has_last and p.postcode is not None and p.dob is not None
            and p.withdrawn_at is None and p.last_attended is not None)


def short_track_date(p, pol):
    start = p.created_on
    if p.last_attended is not None and p.last_attended > start:
        start = p.last_attended
    return add_years(start, pol.short_years)


def due_on(p, pol):
    """When the record falls due: a property of the facts, not of the evaluation date."""
    if p.withdrawn_at is not None:
        return p.withdrawn_on                                  # due at once
    short = short_track_date(p, pol)
    if long_track_eligible(p):
        long_date = dt.date(entry_year_of(p, pol) + pol.long_years, pol.cycle_month, pol.cycle_day)
        closes = window_closes(p, pol)
        if long_date <= closes:                                # comes while still on the long track
            return long_date
        return max(short, closes + ONE_DAY)                    # short track, not before it left
    return short


def marked_by(p, pol, as_of):
    """Whether a sweep at as_of marks the record: due, and not held past as_of."""
    return due_on(p, pol) <= as_of and (p.hold_until is None or p.hold_until <= as_of)


def track(p, pol, as_of):
    if p.withdrawn_at is not None:
        return "withdrawn"
    if long_track_eligible(p) and as_of <= window_closes(p, pol):
        return "15y"
    return "7y"


def reasons(p, pol, as_of):
    r = set()
    if p.override is not None:
        r.add("entry_year_overridden")
    if p.withdrawn_at is not None:
        # SPEC (Interpretations): withdrawn records are marked "with reason `withdrawn`": that
        # one reason, whatever else the record lacks (the overridden entry year still noted).
        r.add("withdrawn")
        return r
    if not p.has_first:
        r.add("missing_first_name")
    if not p.has_last:
        r.add("missing_last_name")
    if p.postcode is None:
        r.add("missing_postcode")
    if p.dob is None:
        r.add("missing_date_of_birth")
    if p.last_attended is None:
        r.add("never_attended")
    elif as_of > window_closes(p, pol):
        r.add("no_recent_attendance")
    return r


def last_working_day(year, month):
    d = (dt.date(year + (month == 12), month % 12 + 1, 1)) - ONE_DAY
    while d.weekday() >= 5:
        d -= ONE_DAY
    return d


def confirm_by(cycle_year, pol):
    y = cycle_year + (1 if pol.confirm_by_month < pol.cycle_month else 0)
    day = last_working_day(y, pol.confirm_by_month)
    return dt.datetime.combine(day, pol.confirm_by_time, ZoneInfo(pol.time_zone))


def cycle_of(marked_on, pol):
    """The deletion cycle a record marked on a date joins (one per controller and cycle)."""
    y = marked_on.year if (marked_on.month, marked_on.day) >= (pol.cycle_month, pol.cycle_day) else marked_on.year - 1
    respond_by = dt.datetime.combine(marked_on + dt.timedelta(days=pol.min_response_days), dt.time(0),
                                     ZoneInfo(pol.time_zone))
    return y + 1 if confirm_by(y, pol) < respond_by else y


# ----------------------------------------------------------------------------------------------
# Database helpers
# ----------------------------------------------------------------------------------------------
def connect(dbname=DB, autocommit=True):
    conn = psycopg2.connect(dbname=dbname, application_name="retention_property_test")
    conn.autocommit = autocommit
    return conn


def admin_exec(sql, params=None):
    conn = connect("postgres")
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def role_names():
    return {r[0] for r in admin_exec("SELECT rolname FROM pg_roles WHERE rolname ~ '^outreach_'")}


CONTROLLER_ROLES = [f"outreach_{c}_{lvl}" for c in CODES for lvl in LEVELS]


def drop_leftovers():
    admin_exec(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    admin_exec("DROP ROLE IF EXISTS " + ", ".join(f'"{r}"' for r in CONTROLLER_ROLES))


# ----------------------------------------------------------------------------------------------
# Random facts
# ----------------------------------------------------------------------------------------------
POSTCODES = ["M1 1AE", "B1 1AA", "SW1A 1AA", "EC1A 1BB", "CR2 6XH", "B33 8TH", "DN55 1PT", "W1A 0AX",
             "EH1 1YZ", "BT1 5GS", "CF10 1AA", "LS1 4AP"]
SPECIAL_DAYS = [(2, 29), (2, 28), (3, 1), (8, 31), (9, 1), (7, 1), (7, 2), (12, 31), (1, 1)]
ZONES = [dt.timezone.utc, dt.timezone(dt.timedelta(hours=1)), dt.timezone(dt.timedelta(hours=-5)),
         dt.timezone(dt.timedelta(hours=10)), dt.timezone(dt.timedelta(hours=13)),
         dt.timezone(dt.timedelta(hours=-9, minutes=-30))]


def rand_date(lo, hi, special=0.15):
    if rng.random() < special:
        for _ in range(20):
            y = rng.randint(lo.year, hi.year)
            m, d = rng.choice(SPECIAL_DAYS)
            try:
                c = dt.date(y, m, d)
            except ValueError:
                continue
            if lo <= c <= hi:
                return c
    return lo + dt.timedelta(days=rng.randint(0, (hi - lo).days))


def rand_timestamp(lo, hi):
    day = rand_date(lo, hi)
    if rng.random() < 0.35:   # near midnight: the UTC date differs from the local one
        t = dt.time(rng.choice([0, 23]), rng.randint(0, 59), rng.randint(0, 59))
    else:
        t = dt.time(rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59))
    return dt.datetime.combine(day, t, rng.choice(ZONES))


def maybe_name(value):
    x = rng.random()
    if x < 0.05:
        return None
    if x < 0.08:
        return rng.choice(["", "", " ", "   ", "\t", ".", "-", "'"])   # empty, blank or punctuation only
    return value


# The policies set_retention_policy gives, as the model sees them (set-up checks the database agrees).
POLICY_MODEL = {
    code: Policy(long_years=a.get("long_track_years", 15), short_years=a.get("short_track_years", 7),
                 window_years=a.get("attendance_window_years", 15), nation=a.get("nation", "england"))
    for code, a in POLICY_ARGS.items()
}


def generate_people(n):
    people = []
    lo, today = dt.date(1998, 1, 1), dt.date(2026, 11, 1)
    for i in range(n):
        p = Person(rng.choice(CODES), f"P{i:06d}")
        p.first_name = maybe_name(rng.choice(["Ann", "Bob", "Siân", "Zoë", "Kwame"]))
        p.last_name = maybe_name(rng.choice(["Long", "Short", "O'Neill", "Ng", "Smith-Jones"]))
        p.postcode = None if rng.random() < 0.07 else rng.choice(POSTCODES)
        p.dob = None if rng.random() < 0.06 else rand_date(dt.date(1950, 1, 1), dt.date(2016, 12, 31), 0.3)
        p.created_at = rand_timestamp(lo, today)
        if rng.random() < 0.10:
            p.withdrawn_at = rand_timestamp(p.created_at.date(), today)
        if rng.random() < 0.08:
            p.override = rng.randint(1965, 2035)
        if rng.random() < 0.03:
            p.hold_until = rand_date(dt.date(2020, 1, 1), dt.date(2055, 12, 31))
        k = 0 if rng.random() < 0.22 else rng.randint(1, 5)
        dates = set()
        for _ in range(k):
            if rng.random() < 0.03:   # an activity booked ahead
                dates.add(rand_date(dt.date(2026, 11, 26), dt.date(2028, 12, 31)))
            else:
                a_lo = max(dt.date(1995, 1, 1), p.created_on - dt.timedelta(days=3 * 365))
                dates.add(rand_date(a_lo, dt.date(2026, 11, 20), 0.2))
        p.attended = sorted(dates)
        if rng.random() < 0.12:
            make_edge(p)
        people.append(p)
    return people


def make_edge(p):
    """Makes p a complete, attending record whose attendance window closes right around its
    long-track date (before, on, after it), or whose last attendance is on 29 February."""
    pol = POLICY_MODEL[p.controller]
    p.first_name, p.last_name, p.postcode = "Edge", "Case", rng.choice(POSTCODES)
    p.withdrawn_at = None
    if p.dob is None:
        p.dob = rand_date(dt.date(1990, 1, 1), dt.date(2012, 12, 31), 0.5)
    long_date = dt.date(entry_year_of(p, pol) + pol.long_years, pol.cycle_month, pol.cycle_day)
    if rng.random() < 0.3:
        y = rng.choice([y for y in range(1996, 2025) if y % 4 == 0])
        last = dt.date(y, 2, 29)
    else:
        last = add_years(long_date, -pol.window_years) + dt.timedelta(days=rng.randint(-2, 2))
    if p.created_on > last + dt.timedelta(days=3 * 365):
        p.created_at = dt.datetime.combine(last, dt.time(12), dt.timezone.utc)
    p.attended = sorted({d for d in p.attended if d < last} | {last})


# ----------------------------------------------------------------------------------------------
# Set-up
# ----------------------------------------------------------------------------------------------
def setup(people):
    admin_exec(f'CREATE DATABASE "{DB}"')
    conn = connect()
    cur = conn.cursor()
    cur.execute("SET TimeZone = 'America/New_York'")   # the rules use UTC dates whatever the session's zone
    cur.execute("CREATE EXTENSION outreach")
    ids = {}
    for code in CODES:
        cur.execute("SELECT outreach.create_controller(%s, %s)", (code, f"Retention property {code}"))
        ids[code] = cur.fetchone()[0]
        args = POLICY_ARGS[code]
        if args:
            named = ", ".join(f"{k} => %({k})s" for k in args)
            cur.execute(f"SELECT outreach.set_retention_policy(%(code)s, {named})", dict(args, code=code))
    cur.execute("""SELECT controller_id, long_track_years, short_track_years, attendance_window_years, nation,
                          cycle_month, cycle_day, confirm_by_month, confirm_by_time, time_zone, min_response_days
                   FROM outreach.retention_policy""")
    policies = {}
    for row in cur.fetchall():
        policies[row[0]] = Policy(*row[1:])
    for code in CODES:
        want, pol = POLICY_MODEL[code], policies[ids[code]]
        assert (pol.long_years, pol.short_years, pol.window_years, pol.nation) == \
            (want.long_years, want.short_years, want.window_years, want.nation), code
    cur.execute("""INSERT INTO outreach.activity (controller_id, activity_type, starts_on)
                   SELECT controller_id, 'summer_school', '1995-01-01' FROM outreach.controller
                   RETURNING controller_id, activity_id""")
    activity = dict(cur.fetchall())

    # Since 0.11.0 recording a withdrawal marks the record at once, on the day's withdrawal notice
    # (sql/89_rights_requests.sql tests that). The sweeps' withdrawn track, tested here, is what
    # marks a withdrawal recorded while the record was restricted, once the restriction is
    # lifted: so withdrawn people are loaded restricted, and the restriction lifted at once.
    rows = [(ids[p.controller], p.ref, p.first_name, p.last_name, p.dob, p.postcode, p.override,
             "adult learner: access course" if p.override is not None else None, p.withdrawn_at, p.created_at,
             p.hold_until, "in use" if p.hold_until else None, p.withdrawn_at)
            for p in people]
    got = psycopg2.extras.execute_values(cur, """
        INSERT INTO outreach.participant (controller_id, external_ref, first_name, last_name, date_of_birth,
                                          postcode, he_entry_year_override, he_entry_year_override_reason,
                                          withdrawn_at, created_at, retention_hold_until, retention_hold_reason,
                                          restricted_at)
        VALUES %s RETURNING external_ref, participant_id""", rows, page_size=len(rows), fetch=True)
    cur.execute("UPDATE outreach.participant SET restricted_at = NULL WHERE controller_id = ANY (%s) AND restricted_at IS NOT NULL",
                (list(ids.values()),))
    pid = dict(got)
    for p in people:
        p.pid = pid[p.ref]
        p.cid = ids[p.controller]

    # Attendance: one statement for all, then some rows deleted and some moved, so the
    # statement-level triggers keeping last_attended_on take every path.
    att = [(p.cid, p.pid, activity[p.cid], d) for p in people for d in p.attended]
    psycopg2.extras.execute_values(cur, """INSERT INTO outreach.attendance (controller_id, participant_id,
                                           activity_id, attended_on) VALUES %s""", att, page_size=len(att))
    gone = [p for p in people if p.attended and rng.random() < 0.08]
    dels = []
    for p in gone:
        d = rng.choice(p.attended) if rng.random() < 0.5 else p.attended[-1]
        p.attended.remove(d)
        dels.append((p.cid, p.pid, d))
    psycopg2.extras.execute_values(cur, """DELETE FROM outreach.attendance a USING (VALUES %s) AS v(c, p, d)
                                           WHERE a.controller_id = v.c AND a.participant_id = v.p
                                             AND a.attended_on = v.d""", dels, page_size=len(dels))
    moved = [p for p in people if p.attended and p not in gone and rng.random() < 0.05]
    moves = []
    for p in moved:
        old = p.attended[-1]
        new = rand_date(dt.date(1999, 1, 1), dt.date(2026, 11, 20), 0.3)
        if new in p.attended:
            continue
        p.attended.remove(old)
        p.attended.append(new)
        p.attended.sort()
        moves.append((p.cid, p.pid, old, new))
    psycopg2.extras.execute_values(cur, """UPDATE outreach.attendance a SET attended_on = v.n::date
                                           FROM (VALUES %s) AS v(c, p, o, n)
                                           WHERE a.controller_id = v.c AND a.participant_id = v.p
                                             AND a.attended_on = v.o::date""", moves, page_size=max(1, len(moves)))
    conn.close()
    return ids, policies


def fetch_state(cur):
    cur.execute("""SELECT participant_id, controller_id, retention_status, retention_reasons, retention_due_on,
                          retention_marked_on, retention_notice_id, last_attended_on
                   FROM outreach.participant""")
    return {r[0]: r for r in cur.fetchall()}


def fetch_notices(cur):
    cur.execute("SELECT notice_id, controller_id, cycle_year, confirm_by, records_marked FROM outreach.deletion_notice")
    return {r[0]: r for r in cur.fetchall()}


def describe(p, pol):
    return (f"pid {p.pid} ctl {p.controller} first={p.first_name!r} last={p.last_name!r} pc={p.postcode!r} "
            f"dob={p.dob} created={p.created_at.isoformat()} (UTC {p.created_on}) attended={p.attended} "
            f"withdrawn={p.withdrawn_on} override={p.override} hold={p.hold_until} policy=({pol.long_years}/{pol.short_years}/"
            f"{pol.window_years} {pol.nation}) model due {due_on(p, pol)}")


# ----------------------------------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------------------------------
def check_view(cur, people, policies, label):
    cur.execute("SELECT current_date")
    today = cur.fetchone()[0]
    cur.execute("""SELECT participant_id, track, expected_he_entry_year, entry_year_overridden, due_on, status, reasons,
                          marked_on, notice_id
                   FROM outreach.retention_status""")
    view = {r[0]: r for r in cur.fetchall()}
    bad = []
    for p in people:
        pol = policies[p.cid]
        v = view.get(p.pid)
        if v is None:
            bad.append(f"pid {p.pid} missing from the view")
            continue
        _, trk, ey, overridden, due, status, rsn, marked_on, notice = v
        want = (track(p, pol, today), entry_year_of(p, pol), p.override is not None)
        if (trk, ey, overridden) != want:
            bad.append(f"track/entry year/overridden {(trk, ey, overridden)} != model {want}: {describe(p, pol)}")
        if status == "retained":
            if due != due_on(p, pol) or set(rsn or []) != reasons(p, pol, today) or rsn is None:
                bad.append(f"due_on {due} reasons {rsn} != model {due_on(p, pol)} {sorted(reasons(p, pol, today))} "
                           f"at {today}: {describe(p, pol)}")
        elif due != due_on(p, pol) or marked_on is None or notice is None:
            bad.append(f"marked record shows due_on {due}, marked_on {marked_on}, notice {notice}: {describe(p, pol)}")
    check(not bad and len(view) == len(people),
          f"{label}: retention_status view agrees with the model at today's date ({today}) for all "
          f"{len(people)} participants (track, entry year, due date, reasons)",
          bad[:1] + [f"{len(bad)} mismatches, {len(view)} rows in the view"] + bad[1:])


def check_after_sweep(cur, people, policies, sweeps, label):
    """sweeps: the (as_of, run_id) of every sweep so far, in order."""
    state = fetch_state(cur)
    notices = fetch_notices(cur)
    as_of_now = sweeps[-1][0]
    dates = [s[0] for s in sweeps]
    bad_mark, bad_detail, bad_notice = [], [], []
    per_notice = {}
    marked = 0
    for p in people:
        pol = policies[p.cid]
        _, cid, status, rsn, due, marked_on, notice, _ = state[p.pid]
        due_model = due_on(p, pol)
        should = marked_by(p, pol, as_of_now)
        if (status != "retained") != should:
            bad_mark.append(f"status {status} but model says {'due' if should else 'not due'} at {as_of_now}: "
                            f"{describe(p, pol)}")
            continue
        if not should:
            if any(x is not None for x in (rsn, due, marked_on, notice)):
                bad_detail.append(f"retained record has retention columns {rsn} {due} {marked_on} {notice}")
            continue
        marked += 1
        first = next(d for d in dates if marked_by(p, pol, d))  # the sweep that first found it due
        want = (status, due_model, first, reasons(p, pol, first))
        have = (status, due, marked_on, set(rsn) if rsn is not None else None)
        if have != ("ready_for_deletion",) + want[1:]:
            bad_detail.append(f"recorded (status, due_on, marked_on, reasons) {have} != model "
                              f"{('ready_for_deletion',) + want[1:]}: {describe(p, pol)}")
        n = notices.get(notice)
        if n is None or n[1] != cid:
            bad_notice.append(f"pid {p.pid} of controller {cid} points at notice {notice} = {n}")
            continue
        per_notice[notice] = per_notice.get(notice, 0) + 1
        if n[2] != cycle_of(marked_on, pol) or n[3] != confirm_by(n[2], pol):
            bad_notice.append(f"notice {notice} (cycle {n[2]}, confirm by {n[3]}) for a record marked on {marked_on}: "
                              f"model cycle {cycle_of(marked_on, pol)}, confirm by {confirm_by(n[2], pol)}")
    check(not bad_mark, f"{label}: {marked} of {len(people)} participants marked, exactly those due by {as_of_now}",
          bad_mark[:1] + [f"{len(bad_mark)} mismatches"] + bad_mark[1:])
    check(not bad_detail, f"{label}: reasons, due date and marking date recorded are the model's",
          bad_detail[:1] + [f"{len(bad_detail)} mismatches"] + bad_detail[1:])
    counts_bad = [f"notice {k} (controller {v[1]}, cycle {v[2]}) records_marked {v[4]} but {per_notice.get(k, 0)} "
                  f"records marked into it" for k, v in notices.items() if v[4] != per_notice.get(k, 0)]
    per_cycle = {}
    for v in notices.values():
        per_cycle[(v[1], v[2])] = per_cycle.get((v[1], v[2]), 0) + 1
    dup = [f"controller {k[0]} cycle {k[1]} has {c} notices" for k, c in per_cycle.items() if c > 1]
    check(not bad_notice and not counts_bad and not dup,
          f"{label}: every marked record is in one notice of its controller for the model's cycle and deadline; "
          f"records_marked of all {len(notices)} notices match",
          bad_notice + counts_bad + dup)
    cur.execute("""SELECT run_id, status, finished_at IS NOT NULL, rows_marked, as_of FROM outreach.retention_run
                   WHERE kind = 'sweep' ORDER BY run_id""")
    runs = cur.fetchall()
    total = sum(r[3] for r in runs)
    check(all(r[1] == "finished" and r[2] for r in runs) and total == marked
          and [r[4] for r in runs] == dates,
          f"{label}: run history: {len(runs)} finished sweeps, rows_marked add up to the {marked} marked",
          [f"runs {runs}", f"sum {total} vs {marked} marked"])
    cur.execute("SELECT count(*) FROM outreach.retention_queue")
    check(cur.fetchone()[0] == 0, f"{label}: the queue is empty after the sweep")
    return marked


def check_last_attended(cur, people):
    state = fetch_state(cur)
    bad = [f"pid {p.pid}: last_attended_on {state[p.pid][7]} but attendance {p.attended}"
           for p in people if state[p.pid][7] != p.last_attended]
    check(not bad, f"last_attended_on follows attendance inserts, deletes and updates for all {len(people)}", bad)


def sweep_dates(people, policies):
    """Ten increasing dates between 2020 and 2060: two records' due dates and the day before
    each, one date anywhere, one in late October, the rest spread like the due dates (so most
    sweeps mark some)."""
    lo, hi = dt.date(2020, 1, 1), dt.date(2060, 12, 31)
    dues = sorted(d for d in (due_on(p, policies[p.cid]) for p in people) if lo < d <= hi)
    dates = {lo + dt.timedelta(days=rng.randint(0, (hi - lo).days)),
             # late October: records marked now join the next cycle (under 14 days to the deadline)
             dt.date(rng.randint(2021, 2045), 10, rng.randint(18, 31))}
    for d in rng.sample(dues, 2):      # a record's due date, and the day before it
        dates.update({d, d - ONE_DAY})
    while len(dates) < 10:
        dates.add(rng.choice(dues) + dt.timedelta(days=rng.randint(-30, 30)))
    return sorted(dates)[:10]


def batch_size():
    return rng.randint(1, 10) if rng.random() < 0.2 else rng.randint(1, 500)


# ----------------------------------------------------------------------------------------------
# Phases
# ----------------------------------------------------------------------------------------------
def phase_sweeps(people, policies):
    conn = connect()
    cur = conn.cursor()
    check_last_attended(cur, people)
    check_view(cur, people, policies, "before sweeps")
    sweeps = []
    for i, as_of in enumerate(sweep_dates(people, policies), 1):
        bs = batch_size()
        t0 = time.monotonic()
        cur.execute("CALL outreach.retention_sweep(%s, %s)", (as_of, bs))
        cur.execute("SELECT max(run_id) FROM outreach.retention_run")
        sweeps.append((as_of, cur.fetchone()[0]))
        check_after_sweep(cur, people, policies, sweeps,
                          f"sweep {i} as of {as_of} (batch size {bs}, {time.monotonic() - t0:.1f}s)")
    check_view(cur, people, policies, "after sweeps")
    conn.close()
    return sweeps


def phase_delete(people, policies, ids):
    """The DPO of each controller confirms one notice; delete_confirmed deletes exactly those,
    leaving tombstones with what was recorded at marking."""
    conn = connect()
    cur = conn.cursor()
    before = fetch_state(cur)
    notices = fetch_notices(cur)
    chosen = {}
    for code in CODES:
        mine = sorted(n for n, v in notices.items() if v[1] == ids[code])
        if mine:
            chosen[code] = rng.choice(mine)
    confirmed = set()
    for code, notice in chosen.items():
        cur.execute(f'SET ROLE "outreach_{code}_dpo"')
        cur.execute("SELECT outreach.confirm_deletion(%s)", (notice,))
        n = cur.fetchone()[0]
        cur.execute("RESET ROLE")
        ids_in = {pid for pid, r in before.items() if r[6] == notice}
        check(n == len(ids_in) == notices[notice][4],
              f"the DPO of {code} confirms notice {notice}: {n} records, all of it")
        confirmed |= ids_in
    bs = batch_size()
    cur.execute("CALL outreach.delete_confirmed(%s)", (bs,))
    after = fetch_state(cur)
    cur.execute("SELECT participant_id, reasons, due_on, marked_on, notice_id, confirmed_by, run_id FROM outreach.tombstone")
    tomb = {r[0]: r for r in cur.fetchall()}
    cur.execute("SELECT DISTINCT participant_id FROM outreach.attendance")
    attending = {r[0] for r in cur.fetchall()}
    bad = []
    for pid in confirmed:
        b, t = before[pid], tomb.get(pid)
        if pid in after or pid in attending:
            bad.append(f"confirmed pid {pid} still present (or its attendance)")
        elif t is None or (list(t[1]), t[2], t[3], t[4]) != (list(b[3]), b[4], b[5], b[6]) \
                or not t[5].endswith("_dpo") or t[6] is None:
            bad.append(f"tombstone {t} does not match the marked record {b}")
    extra = set(tomb) - confirmed
    untouched = [pid for pid in before if pid not in confirmed and (pid not in after or after[pid][2] != before[pid][2])]
    check(not bad and not extra and not untouched,
          f"delete_confirmed (batch size {bs}) deletes the {len(confirmed)} confirmed records and their attendance, "
          f"leaves a tombstone for each with the reasons, due date, marking date and notice recorded, and nothing else",
          bad + [f"unexpected tombstones {sorted(extra)[:10]}", f"changed {untouched[:10]}"])
    notices_after = fetch_notices(cur)
    check(notices_after == notices, "deletion leaves the notices (and their records_marked) as they were")
    cur.execute("SELECT status, rows_deleted FROM outreach.retention_run WHERE kind = 'delete'")
    runs = cur.fetchall()
    check(runs == [("finished", len(confirmed))], f"the deletion run is finished and counts {len(confirmed)} deleted",
          [f"runs {runs}"])
    conn.close()
    return [p for p in people if p.pid not in confirmed]


def phase_concurrent(people, policies, trials=4):
    conn = connect()
    cur = conn.cursor()
    for trial in range(1, trials + 1):
        cur.execute("""UPDATE outreach.participant SET retention_status = 'retained', retention_reasons = NULL,
                         retention_due_on = NULL, retention_marked_on = NULL, retention_notice_id = NULL
                       WHERE retention_status <> 'retained'""")
        cur.execute("TRUNCATE outreach.deletion_notice, outreach.retention_queue")
        cur.execute("SELECT coalesce(max(run_id), 0) FROM outreach.retention_run")
        last_run = cur.fetchone()[0]
        as_of = dt.date(2030, 1, 1) + dt.timedelta(days=rng.randint(0, 30 * 365))
        sizes = [rng.randint(1, 60), rng.randint(1, 60)]
        barrier = threading.Barrier(2)
        errors = []

        def sweeper(bs):
            c = connect()
            try:
                with c.cursor() as k:
                    k.execute("SET statement_timeout = '120s'")
                    barrier.wait()
                    k.execute("CALL outreach.retention_sweep(%s, %s)", (as_of, bs))
            except psycopg2.Error as e:
                errors.append(f"{e.pgcode}: {e.pgerror}")
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
            finally:
                c.close()

        threads = [threading.Thread(target=sweeper, args=(bs,)) for bs in sizes]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        label = f"concurrent sweeps {trial} as of {as_of} (batch sizes {sizes}, {time.monotonic() - t0:.1f}s)"
        check(not errors and not any(t.is_alive() for t in threads),
              f"{label}: both finish without error (no deadlock 40P01)", errors)
        state = fetch_state(cur)
        notices = fetch_notices(cur)
        want = {p.pid for p in people if marked_by(p, policies[p.cid], as_of)}
        have = {pid for pid, r in state.items() if r[2] != "retained"}
        per_notice = {}
        for pid in have:
            per_notice[state[pid][6]] = per_notice.get(state[pid][6], 0) + 1
        cur.execute("SELECT run_id, status, rows_marked FROM outreach.retention_run WHERE run_id > %s AND kind = 'sweep'",
                    (last_run,))
        runs = cur.fetchall()
        check(have == want, f"{label}: exactly the {len(want)} due records are marked",
              [f"missing {sorted(want - have)[:10]}", f"extra {sorted(have - want)[:10]}"])
        check(len(runs) == 2 and all(r[1] == "finished" for r in runs) and sum(r[2] for r in runs) == len(have),
              f"{label}: the two runs' rows_marked ({'+'.join(str(r[2]) for r in runs)}) add up to the "
              f"{len(have)} marked: nothing marked twice", [f"runs {runs}"])
        check(all(v[4] == per_notice.get(k, 0) for k, v in notices.items())
              and all(state[pid][6] in notices and notices[state[pid][6]][1] == state[pid][1] for pid in have)
              and len({(v[1], v[2]) for v in notices.values()}) == len(notices),
              f"{label}: one notice per controller and cycle, records_marked match",
              [f"{v} has {per_notice.get(k, 0)}" for k, v in notices.items() if v[4] != per_notice.get(k, 0)])
    conn.close()


def main():
    print(f"# retention property test, seed {SEED}, {N_PARTICIPANTS} participants", flush=True)
    t0 = time.monotonic()
    drop_leftovers()
    roles_before = role_names()
    try:
        people = generate_people(N_PARTICIPANTS)
        ids, policies = setup(people)
        ok(f"set-up: 4 controllers with different policies, {len(people)} participants, "
           f"{sum(len(p.attended) for p in people)} attendances ({time.monotonic() - t0:.1f}s)")
        phase_sweeps(people, policies)
        remaining = phase_delete(people, policies, ids)
        phase_concurrent(remaining, policies)
    except Exception:  # noqa: BLE001
        failed("the test itself raised", traceback.format_exc().splitlines())
    finally:
        try:
            drop_leftovers()
            new = role_names() - roles_before
            if new:
                admin_exec("DROP ROLE " + ", ".join(f'"{r}"' for r in sorted(new)))
            left = role_names() - roles_before
            check(not left and not admin_exec("SELECT 1 FROM pg_database WHERE datname = %s", (DB,)),
                  f"cleanup drops {DB} and the roles this run created", sorted(left))
        except Exception:  # noqa: BLE001
            failed("cleanup", traceback.format_exc().splitlines())
    print(f"# {time.monotonic() - t0:.1f}s, {failures} failed", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
