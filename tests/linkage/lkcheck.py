#!/usr/bin/python3
"""Checks of linkage export files against the database, for tests/linkage/*.sh.

    lkcheck.py LABEL files DIR [--gpg-home H] [--allow-hidden] [--summary FILE]
        every visible export file in DIR: its manifest (exactly the six keys, the file's
        name, sha256sum -c), modes 0600, the export's row in outreach.export (finished, same
        checksum, count and manifest), RFC 4180 (UTF-8, CRLF, strict parse, canonical quoting),
        header = the layout's headers, rows = manifest row_count = ledger rows, the ledger's
        references = the file's reference column row for row. With --gpg-home the files are
        OpenPGP-encrypted: they are decrypted with the private key in that home first.
    lkcheck.py LABEL expect DIR
        the files of a first export of every shipped recipient hold exactly the participants an
        independent model of docs/linkage.md finds eligible, each record field by field as the
        model writes it; external_ref "name:LETTERS" says which recipients (d e h u) the test
        data meant each participant for; every reference differs across recipients.
    lkcheck.py LABEL outcome-file RECIPIENT EXPORT_FILE OUT
        writes a good outcome file (the recipient's outcome layout) for every row of an export
        file.
    lkcheck.py LABEL outcomes-match RECIPIENT EXPORT_FILE OUTCOME_FILE [EXTERNAL_REF ...]
        every line of such a file is stored for the participant of the exported row with that
        reference (found by the row's surname, not through the ledger), except the participants
        named, who have none.

Connects with libpq's environment (PGHOST, PGPORT, PGUSER) to database $DT_DB. Prints
"ok LABEL: ..." / "FAILED LABEL: ..." lines; exits 1 when one failed.
"""
import csv
import datetime
import hashlib
import io
import json
import os
import re
import stat
import subprocess
import sys

import psycopg2

MANIFEST_KEYS = {"recipient", "layout_version", "created_at", "row_count", "sha256", "file"}
LABEL = sys.argv[1] if len(sys.argv) > 1 else "linkage"
FAILED = False


def ok(msg):
    print(f"ok {LABEL}: {msg}")


def fail(msg):
    global FAILED
    FAILED = True
    print(f"FAILED {LABEL}: {msg}")


def check(cond, msg, detail=""):
    if cond:
        ok(msg)
    else:
        fail(msg + (f" ({detail})" if detail else ""))
    return cond


def connect():
    conn = psycopg2.connect(dbname=os.environ.get("DT_DB", "outreach_dtest"))
    conn.autocommit = True
    return conn


def query(conn, sql, params=()):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


# outreach.csv_record's rule: a field is quoted only when it holds a comma, a double quote, CR
# or LF, begins or ends with a space or begins with U+FEFF; quotes doubled.
NEEDS_QUOTES = re.compile(r'[,"\r\n]|\A[ \ufeff]| \Z').search


def csv_record(fields):
    if fields == [""]:
        return '""'
    return ",".join('"' + f.replace('"', '""') + '"' if NEEDS_QUOTES(f) else f for f in fields)


BARE_CR_OR_LF = re.compile(r"\r(?!\n)|(?<!\r)\n")


def line_ends_problem(text):
    """The first CR or LF outside a quoted field that is not part of a CRLF, else None."""
    # (Files of 200,000 rows: a loop over the characters took seconds a file.)
    if text.count("\r") == text.count("\n") == text.count("\r\n"):
        return None  # no bare CR or LF anywhere
    # Every double quote opens or closes a quoted part: the even pieces between them are outside.
    pos = 0
    for k, piece in enumerate(text.split('"')):
        bare = BARE_CR_OR_LF.search(piece) if k % 2 == 0 else None
        if bare:
            return f"a bare {'CR' if bare.group() == chr(13) else 'LF'} at character {pos + bare.start()}"
        pos += len(piece) + 1
    return None


def parse_csv(data, what):
    """(header, rows) of RFC 4180 CSV bytes, or None after reporting what is wrong."""
    try:
        text = data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        fail(f"{what}: not UTF-8: {e}")
        return None
    problems = []
    if text.startswith("\ufeff"):
        problems.append("begins with a byte order mark")
    if not text.endswith("\r\n"):
        problems.append("the last record does not end with CRLF")
    bad = line_ends_problem(text)
    if bad:
        problems.append(bad)
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as e:
        problems.append(f"not strict CSV: {e}")
        records = []
    if records:
        width = len(records[0])
        uneven = [i + 1 for i, r in enumerate(records) if len(r) != width]
        if uneven:
            problems.append(f"records {uneven[:5]} do not have {width} fields")
        canonical = "".join(csv_record(r) + "\r\n" for r in records)
        if canonical != text:
            first = next(i for i, (a, b) in enumerate(zip(canonical, text + "\0")) if a != b)
            problems.append(f"not written as outreach.csv_record writes it, from character {first}: {text[first:first + 40]!r}")
    else:
        problems.append("no header")
    if not check(not problems, f"{what}: RFC 4180 (UTF-8, CRLF line ends, strict parse, canonical quoting)",
                 "; ".join(problems)):
        return None
    return records[0], records[1:]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def layout(conn, recipient, version, kind="export"):
    return query(conn, """SELECT header, field, required FROM outreach.recipient_layout_column
                          WHERE recipient = %s AND kind = %s AND version = %s ORDER BY position""",
                 (recipient, kind, version))


def decrypt(path, gpg_home):
    r = subprocess.run(["gpg", "--batch", "--quiet", "--homedir", gpg_home, "--decrypt", path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        fail(f"{os.path.basename(path)}: gpg cannot decrypt it: {r.stderr.decode(errors='replace').strip()[:300]}")
        return None
    return r.stdout


def check_file(conn, directory, name, gpg_home=None):
    """Checks one export file and its manifest; returns a summary dict (None when unusable)."""
    path = os.path.join(directory, name)
    mpath = path + ".manifest.json"
    if not check(os.path.exists(mpath), f"{name}: has a manifest {name}.manifest.json"):
        return None
    modes = {n: stat.S_IMODE(os.stat(p).st_mode) for n, p in ((name, path), (name + ".manifest.json", mpath))}
    check(all(m == 0o600 for m in modes.values()), f"{name}: file and manifest are mode 0600",
          ", ".join(f"{n} {m:o}" for n, m in modes.items()))
    try:
        manifest = json.load(open(mpath, encoding="utf-8"))
    except ValueError as e:
        fail(f"{name}: the manifest is not JSON: {e}")
        return None
    check(isinstance(manifest, dict) and set(manifest) == MANIFEST_KEYS,
          f"{name}: manifest has exactly the keys {', '.join(sorted(MANIFEST_KEYS))}",
          f"got {sorted(manifest) if isinstance(manifest, dict) else manifest!r}")
    check(manifest.get("file") == name, f"{name}: manifest names the file", f"file = {manifest.get('file')!r}")
    sha = sha256_file(path)
    check(manifest.get("sha256") == sha, f"{name}: manifest sha256 is the file's", f"{manifest.get('sha256')} vs {sha}")
    r = subprocess.run(["sha256sum", "-c", "-"], cwd=directory, input=f"{manifest.get('sha256')}  {name}\n".encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    check(r.returncode == 0, f"{name}: sha256sum -c verifies it", r.stdout.decode(errors="replace").strip())

    rows = query(conn, """SELECT export_id, recipient, layout_version, status, sha256, row_count, manifest::text,
                                 started_at FROM outreach.export WHERE file_name = %s""", (name,))
    if not check(len(rows) == 1, f"{name}: one export in outreach.export has this file name", f"{len(rows)} rows"):
        return None
    export_id, recipient, version, status, db_sha, db_rows, db_manifest, started = rows[0]
    check(status == "finished" and db_sha == sha and db_rows == manifest.get("row_count")
          and json.loads(db_manifest) == manifest and manifest.get("recipient") == recipient
          and manifest.get("layout_version") == version,
          f"{name}: export {export_id} is finished with this checksum, row count and manifest",
          f"status {status}, sha {db_sha}, rows {db_rows}, manifest {db_manifest}")
    created = str(manifest.get("created_at", ""))
    try:
        same_time = datetime.datetime.fromisoformat(created) == started
    except ValueError:
        same_time = False
    check(same_time and created.endswith("+00:00"),
          f"{name}: manifest created_at is when the export began, in UTC", f"{created} vs {started}")

    if gpg_home:
        data = decrypt(path, gpg_home)
        if data is None:
            return None
        ok(f"{name}: decrypts with the recipient's private key")
    else:
        data = open(path, "rb").read()
    parsed = parse_csv(data, name)
    if parsed is None:
        return None
    header, records = parsed
    cols = layout(conn, recipient, version)
    check(header == [c[0] for c in cols], f"{name}: header is the {recipient} export layout's (version {version})",
          f"{header} vs {[c[0] for c in cols]}")
    ref_col = next(i for i, c in enumerate(cols) if c[1] == "reference")
    refs = [r[ref_col] for r in records]
    ledger = [r[0] for r in query(conn, """SELECT reference FROM outreach.disclosure WHERE export_id = %s
                                           ORDER BY controller_id, participant_id""", (export_id,))]
    check(len(records) == manifest.get("row_count") == db_rows == len(ledger),
          f"{name}: {len(records)} rows = manifest row_count = ledger rows of export {export_id}",
          f"file {len(records)}, manifest {manifest.get('row_count')}, export {db_rows}, ledger {len(ledger)}")
    check(refs == ledger, f"{name}: the ledger's references are the file's {header[ref_col]} column, row for row",
          f"first difference at row {next((i + 1 for i, (a, b) in enumerate(zip(refs, ledger)) if a != b), min(len(refs), len(ledger)) + 1)}")
    check(len(set(refs)) == len(refs), f"{name}: every reference appears once")
    return {"name": name, "export_id": export_id, "recipient": recipient, "version": version, "header": header,
            "rows": records, "ref_col": ref_col, "sha256": sha}


def check_directory(conn, directory, gpg_home=None, allow_hidden=False):
    names = sorted(os.listdir(directory))
    # (.outreachd-exports marks an export directory: not a temporary file)
    hidden = [n for n in names if n.startswith(".") and n != ".outreachd-exports"]
    if not allow_hidden:
        check(not hidden, f"{os.path.basename(directory)}: no hidden (temporary) files left", " ".join(hidden))
    visible = [n for n in names if not n.startswith(".")]
    files = [n for n in visible if not n.endswith(".manifest.json")]
    orphans = [n for n in visible if n.endswith(".manifest.json") and n[:-len(".manifest.json")] not in files]
    if allow_hidden:
        # After a kill: the manifest goes in place just before its file; the file may wait hidden.
        def waiting(m):
            temp = os.path.join(directory, "." + m[:-len(".manifest.json")] + ".partial")
            try:
                return os.path.exists(temp) and json.load(open(os.path.join(directory, m)))["sha256"] == sha256_file(temp)
            except (ValueError, KeyError):
                return False
        orphans = [m for m in orphans if not waiting(m)]
        check(not orphans, f"{os.path.basename(directory)}: every manifest has its file (or the complete file waits hidden)",
              " ".join(orphans))
    else:
        check(not orphans, f"{os.path.basename(directory)}: every manifest has its file", " ".join(orphans))
    summaries = []
    for n in files:
        s = check_file(conn, directory, n, gpg_home)
        if s:
            summaries.append(s)
    return summaries


# --- the model of docs/linkage.md for the shipped layouts (version 1) --------------------------
WINDOWS = {"dfe": (-8, 2), "esfa": (-8, 2), "hesa": (-10, 0), "ucas": (-3, 1)}
LETTER = {"dfe": "d", "esfa": "e", "hesa": "h", "ucas": "u"}


def has_name(s):
    return s is not None and any(ch.isalnum() for ch in s)


def entry_year_england(dob):
    return dob.year + 18 + (1 if dob.month >= 9 else 0)


def model_record(recipient, p, ay):
    """The record the model writes for participant p (a dict), or None when not eligible."""
    if p["withdrawn_at"] or p["restricted_at"] or p["retention_status"] != "retained":
        return None
    if not has_name(p["first_name"]) or not has_name(p["last_name"]) or p["date_of_birth"] is None:
        return None
    cohort = p["override"] if p["override"] is not None else entry_year_england(p["date_of_birth"])
    lo, hi = WINDOWS[recipient]
    if not ay + lo <= cohort <= ay + hi:
        return None
    first, last, dob, pc = p["first_name"].strip(), p["last_name"].strip(), p["date_of_birth"], p["postcode"]
    sex = (p["sex"] or "").strip().lower() if p["sex"] is not None else None
    dmy, iso = dob.strftime("%d/%m/%Y"), dob.isoformat()
    ref = p["ref_" + recipient]
    s = lambda v: "" if v is None else str(v)
    if recipient == "dfe":
        if pc is None:
            return None
        return [ref, first, last, dmy, pc, {"female": "F", "f": "F", "male": "M", "m": "M"}.get(sex, ""),
                s(p["urn"]), s(p["upn"]), s(p["uln"])]
    if recipient == "esfa":
        if pc is None:
            return None
        return [ref, first, last, iso, {"female": "F", "f": "F", "male": "M", "m": "M"}.get(sex, ""), pc,
                s(p["uln"]), s(p["ukprn"])]
    if recipient == "hesa":
        code = {"female": "10", "f": "10", "male": "11", "m": "11", "other": "12"}.get(sex, "99")
        return [ref, first, last, iso, code, pc or "ZZ99 9ZZ", s(p["uln"]), str(cohort)]
    if recipient == "ucas":
        if pc is None:
            return None
        return [first, last, dmy, pc, str(cohort), str(ay - cohort) if cohort < ay else "", ref]
    raise ValueError(recipient)


def participants(conn):
    cols = ["controller_id", "participant_id", "external_ref", "first_name", "last_name", "date_of_birth",
            "postcode", "sex", "urn", "ukprn", "upn", "uln", "override", "withdrawn_at", "restricted_at",
            "retention_status", "ref_dfe", "ref_esfa", "ref_hesa", "ref_ucas"]
    rows = query(conn, """
        SELECT p.controller_id, p.participant_id, p.external_ref, p.first_name, p.last_name, p.date_of_birth,
               p.postcode::text, p.sex, i.urn, i.ukprn, p.upn, p.uln, p.he_entry_year_override, p.withdrawn_at,
               p.restricted_at, p.retention_status,
               outreach.pseudonymise('c' || p.controller_id, 'p' || p.participant_id, DATE '1900-01-01', 'GIR 0AA',
                                     scope => 'recipient:dfe')::text,
               outreach.pseudonymise('c' || p.controller_id, 'p' || p.participant_id, DATE '1900-01-01', 'GIR 0AA',
                                     scope => 'recipient:esfa')::text,
               outreach.pseudonymise('c' || p.controller_id, 'p' || p.participant_id, DATE '1900-01-01', 'GIR 0AA',
                                     scope => 'recipient:hesa')::text,
               outreach.pseudonymise('c' || p.controller_id, 'p' || p.participant_id, DATE '1900-01-01', 'GIR 0AA',
                                     scope => 'recipient:ucas')::text
        FROM outreach.participant p LEFT JOIN outreach.institution i USING (institution_id)
        ORDER BY p.controller_id, p.participant_id""")
    return [dict(zip(cols, r)) for r in rows]


def cmd_expect(directory):
    conn = connect()
    ay = query(conn, "SELECT outreach.academic_year(current_date)")[0][0]
    people = participants(conn)
    files = {}
    for name in sorted(os.listdir(directory)):
        if name.startswith(".") or name.endswith(".manifest.json"):
            continue
        rec = query(conn, "SELECT recipient FROM outreach.export WHERE file_name = %s", (name,))
        if rec:
            files[rec[0][0]] = name
    check(sorted(files) == sorted(WINDOWS), f"one file per shipped recipient: {', '.join(sorted(files))}")
    meant = {}
    for p in people:
        m = re.fullmatch(r"[^:]+:([dehu]*)", p["external_ref"] or "")
        if m:
            meant[p["external_ref"]] = set(m.group(1))
    parsed_files = {}
    for recipient, name in sorted(files.items()):
        parsed = parse_csv(open(os.path.join(directory, name), "rb").read(), name)
        if parsed is None:
            continue
        parsed_files[recipient] = parsed
        _, records = parsed
        expected, who = [], []
        for p in people:
            r = model_record(recipient, p, ay)
            if r is not None:
                expected.append(r)
                who.append(p["external_ref"])
        # The test data says, independently of the model, whom each recipient gets.
        intended = sorted(ref for ref, letters in meant.items() if LETTER[recipient] in letters)
        check(sorted(w for w in who if w in meant) == intended,
              f"{recipient}: the model of docs/linkage.md and the test data agree on who is eligible ({len(intended)})",
              f"model {sorted(who)}, data {intended}")
        left_out = sorted(p["external_ref"] for p in people if p["external_ref"] not in who)
        missing = [e for e in expected if e not in records]
        extra = [r for r in records if r not in expected]
        check(records == expected,
              f"{recipient}: the file holds exactly the {len(expected)} eligible participants, in key order, each "
              f"record field by field as docs/linkage.md describes (left out: {', '.join(left_out)})",
              f"missing {missing[:3]}, unexpected {extra[:3]}")
    # References: one per participant and recipient, never shared between recipients or members.
    seen = {}
    for recipient, (header, records) in parsed_files.items():
        col = header.index({"dfe": "PupilReference", "esfa": "LearnerReference", "hesa": "REFERENCE",
                            "ucas": "Reference"}[recipient])
        for r in records:
            seen.setdefault(r[col], set()).add(recipient)
    shared = [ref for ref, rs in seen.items() if len(rs) > 1]
    check(not shared, f"no reference appears in two recipients' files ({len(seen)} references)", f"{shared[:3]}")
    everywhere = [p for p in people if all(model_record(r, p, ay) for r in WINDOWS)]
    distinct = all(len({p["ref_" + r] for r in WINDOWS}) == 4 for p in everywhere)
    check(everywhere and distinct,
          f"each of the {len(everywhere)} participants sent to all four recipients has four different references")
    same_person = [p for p in people if p["first_name"] == "Ann" and p["last_name"] == "Smith"]
    check(len(same_person) == 2 and same_person[0]["ref_hesa"] != same_person[1]["ref_hesa"],
          "the same person registered by two members has two different references")


# --- outcome files -----------------------------------------------------------------------------
def outcome_row(recipient, ref, i):
    """A good outcome record for the i-th exported row (per docs/linkage.md's outcome layouts)."""
    if recipient == "dfe":      # PupilReference, KeyStage, AcademicYear, Measure, Value
        return [ref, "KS4" if i % 2 else "KS5", "2024/25", "attainment8", str(40 + i % 30)]
    if recipient == "esfa":     # LearnerReference, Outcome, AcademicYear, UKPRN, Measure, Value
        return [ref, ["KS5", "L3", "LEVEL3"][i % 3], "2025", "10007789", "level3_aps", str(30 + i % 10)]
    if recipient == "hesa":     # REFERENCE, OUTCOME, ACADEMICYEAR, UKPRN, PROVIDER, VALUE
        return [ref, "HE_ENTRY" if i % 2 else "CONTINUATION", "2025/26", "10007789", "University of Example",
                "entered" if i % 2 else "continuing"]
    if recipient == "ucas":     # Reference, Cycle, Status, UKPRN, Provider
        return [ref, "2026", "placed" if i % 2 else "applied", "10007768", "University of Somewhere"]
    raise ValueError(recipient)


def cmd_outcome_file(recipient, export_file, out):
    conn = connect()
    parsed = parse_csv(open(export_file, "rb").read(), os.path.basename(export_file))
    if parsed is None:
        return
    header, records = parsed
    version = query(conn, "SELECT outcome_layout FROM outreach.recipient WHERE name = %s", (recipient,))[0][0]
    cols = layout(conn, recipient, version, "outcome")
    ref_col = header.index(next(h for h, f, _ in layout(conn, recipient, 1) if f == "reference"))
    with open(out, "w", encoding="utf-8", newline="") as f:
        f.write(csv_record([c[0] for c in cols]) + "\r\n")
        for i, r in enumerate(records):
            f.write(csv_record(outcome_row(recipient, r[ref_col], i)) + "\r\n")


KINDS = {"KS4": "ks4", "KS5": "ks5", "L3": "ks5", "LEVEL3": "ks5", "HE_ENTRY": "he_entry", "ENTRY": "he_entry",
         "CONTINUATION": "continuation"}


def expected_fact(recipient, line):
    """(outcome, academic_year, measure, provider_ukprn, value) a good line of outcome_row() means."""
    year = lambda t: int(t[:4])
    if recipient == "dfe":
        ref, kind, ay, measure, value = line
        return KINDS[kind], year(ay), measure, 0, value
    if recipient == "esfa":
        ref, kind, ay, ukprn, measure, value = line
        return KINDS[kind], year(ay), measure, int(ukprn or 0), value
    if recipient == "hesa":
        ref, kind, ay, ukprn, provider, value = line
        return KINDS[kind], year(ay), "", int(ukprn or 0), value
    if recipient == "ucas":
        ref, cycle, status, ukprn, provider = line
        return "he_application", year(cycle), "", int(ukprn or 0), status
    raise ValueError(recipient)


def cmd_outcomes_match(recipient, export_file, outcome_file, skip):
    """Every line of a good outcome file is stored for the participant of the exported row with
    that reference, found by the row's surname (not through the ledger)."""
    conn = connect()
    _, exported = parse_csv(open(export_file, "rb").read(), os.path.basename(export_file)) or (None, [])
    header, lines = parse_csv(open(outcome_file, "rb").read(), os.path.basename(outcome_file)) or (None, [])
    version = query(conn, "SELECT export_layout FROM outreach.recipient WHERE name = %s", (recipient,))[0][0]
    cols = [f for _, f, _ in layout(conn, recipient, version)]
    by_ref = {r[cols.index("reference")]: r[cols.index("surname")] for r in exported}
    people = {r[0]: r[1:] for r in query(conn, """SELECT last_name, controller_id, participant_id, external_ref
                                                  FROM outreach.participant""")}
    stored = {}
    for cid, pid, *fact in query(conn, """SELECT controller_id, participant_id, outcome, academic_year, measure,
                                                 provider_ukprn, value FROM outreach.outcome WHERE recipient = %s""",
                                 (recipient,)):
        stored.setdefault((cid, pid), set()).add(tuple(fact))
    wrong, expected = [], 0
    for i, line in enumerate(lines, start=2):
        cid, pid, ext = people[by_ref[line[0]]]
        if ext in skip:
            if stored.get((cid, pid)):
                wrong.append(f"line {i}: {ext} has outcomes")
            continue
        expected += 1
        if expected_fact(recipient, line) not in stored.get((cid, pid), set()):
            wrong.append(f"line {i}: {ext} has {stored.get((cid, pid))}, not {expected_fact(recipient, line)}")
    total = sum(len(v) for v in stored.values())
    check(not wrong and total == expected,
          f"{recipient}: each of the {expected} good lines is stored for the participant its exported row was "
          f"(matched by surname), and nothing else", f"{total} stored; {wrong[:3]}")


def main():
    args = sys.argv[2:]
    cmd = args[0]
    if cmd == "files":
        directory = args[1]
        gpg_home = args[args.index("--gpg-home") + 1] if "--gpg-home" in args else None
        summaries = check_directory(connect(), directory, gpg_home, "--allow-hidden" in args)
        if "--summary" in args:
            json.dump([{k: v for k, v in s.items() if k != "rows"} | {"row_count": len(s["rows"])} for s in summaries],
                      open(args[args.index("--summary") + 1], "w"))
    elif cmd == "expect":
        cmd_expect(args[1])
    elif cmd == "outcomes-match":
        cmd_outcomes_match(args[1], args[2], args[3], set(args[4:]))
    elif cmd == "outcome-file":
        cmd_outcome_file(args[1], args[2], args[3])
    else:
        sys.exit(f"unknown subcommand {cmd}")
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
