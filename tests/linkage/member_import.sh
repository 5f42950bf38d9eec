#!/usr/bin/env bash
# outreachd import (docs/import.md): a member's writer imports its own participant file.
#  - a file of 200,000 lines with one in twenty bad (dates, postcodes, codes, references given
#    twice, stray quotes that do not close on their line), CRLF line ends: exit 3, every bad line listed on stdout
#    with its number (exactly the generated ones), every other line written;
#  - while it runs, the writer sees the import's progress from another session
#    (outreach.import_progress: lines done of the total), another member's writer sees nothing;
#  - the same file again writes nothing new: every good line unchanged, the same bad lines;
#  - a header without the required columns: exit 1, 22P04 naming them, nothing written; an
#    unknown member code, or another member's: exit 1; the daemon's own role cannot import;
#  - activities and attendance files by the member's references (--kind activities|attendance).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lk_begin "member import" ltest-import 55507
lk_member lka
lk_member lkb
q "CREATE ROLE lk_writer_a LOGIN; CREATE ROLE lk_writer_b LOGIN;
   SELECT outreach.grant_controller_access('lk_writer_a', 'lka', 'writer'),
          outreach.grant_controller_access('lk_writer_b', 'lkb', 'writer')" >/dev/null || dt_fail "set-up: writers"

N=${IMPORT_LINES:-200000}
FILE="$DT_WORK/register.csv"
# Line k (2..N+1) is bad when k % 20 == 0, in one of five ways.
"$PY" - "$FILE" "$N" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w", newline="") as f:
    f.write("Student ID,Forename,Surname,DOB,Post Code,Gender\r\n")
    for i in range(n):
        line = i + 2
        ref, dob, pc, sex = f"R{i}", f"{1 + i % 28:02d}/{1 + i % 12:02d}/{2005 + i % 6}", "M1 1AE", "F" if i % 2 else "M"
        if line % 20 == 0:
            kind = (line // 20) % 5
            if kind == 0: dob = f"31/02/{2005 + i % 6}"
            elif kind == 1: pc = "XX1"
            elif kind == 2: sex = "Q"
            elif kind == 3: ref = "R0"           # given on line 2 already
            else:
                f.write(f'"{ref},Name{i},Family{i},{dob},{pc},{sex}\r\n')  # a quote that never closes
                continue
        f.write(f"{ref},Name{i},Family{i},{dob},{pc},{sex}\r\n")
PY
bad_expected=$(( (N + 1) / 20 ))

progress() {  # progress ROLE: "lines_done/lines_total phase" of the role's running imports, one a line
  PGUSER=$1 psql -X -q -At -d "$DT_DB" -c "SELECT lines_done || '/' || coalesce(lines_total, 0) || ' ' || phase FROM outreach.import_progress" 2>/dev/null
}
PGUSER=lk_writer_a PGDATABASE=$DT_DB "$OUTREACHD" import --controller lka --kind participants "$FILE" \
  >"$DT_WORK/import1.out" 2>"$DT_WORK/import1.err" &
pid=$!
seen="" other=""
while kill -0 "$pid" 2>/dev/null; do
  p=$(progress lk_writer_a)
  [ -n "$p" ] && seen+="$p;"
  o=$(progress lk_writer_b)
  [ -n "$o" ] && other+="$o;"
  sleep 0.05
done
wait "$pid"
rc=$?
dt_expect "outreachd import of $N lines, one in twenty bad: exit code 3 (lines left out, listed)" "$rc" 3
dt_expect "stdout lists exactly the bad lines ($bad_expected), each with its number" \
  "$(grep -c ': error: ' "$DT_WORK/import1.out") $(cut -d: -f2 "$DT_WORK/import1.out" | awk '$1 % 20 != 0' | wc -l)" "$bad_expected 0"
dt_expect "every other line was written" \
  "$(q "SELECT count(*) FROM outreach.participant WHERE controller_id = lk.member('lka')")" "$(( N - bad_expected ))"
if [[ $seen == *reading* || $seen == *writing* ]]; then dt_ok "the writer saw the import's progress from another session (${seen%%;*} ... $(tr ';' '\n' <<<"$seen" | tail -2 | head -1))"
else dt_fail "the writer never saw the import's progress (polled every 50 ms)"; fi
dt_expect "another member's writer saw no progress rows" "$other" ""
for kind in "no such date" "not a UK postcode" "coding frame" "given on line 2 already" "does not close"; do
  if grep -q "$kind" "$DT_WORK/import1.out"; then dt_ok "a bad line says: $kind"; else dt_fail "no bad line says: $kind"; fi
done

PGUSER=lk_writer_a PGDATABASE=$DT_DB "$OUTREACHD" import --controller lka --kind participants "$FILE" \
  >"$DT_WORK/import2.out" 2>"$DT_WORK/import2.err"
dt_expect "the same file again: exit 3, the same lines listed" "$? $(cmp -s "$DT_WORK/import1.out" "$DT_WORK/import2.out" && echo same)" "3 same"
dt_expect "... and nothing new written: every good line unchanged" \
  "$(q "SELECT inserted || ' ' || updated || ' ' || unchanged || ' ' || bad FROM outreach.member_import ORDER BY import_id DESC LIMIT 1")" \
  "0 0 $(( N - bad_expected )) $bad_expected"

printf 'Ref,Forename,Post Code\r\nH1,Amy,M1 1AE\r\n' >"$DT_WORK/short.csv"
before=$(q "SELECT count(*) FROM outreach.participant")
PGUSER=lk_writer_a PGDATABASE=$DT_DB "$OUTREACHD" import --controller lka --kind participants "$DT_WORK/short.csv" \
  >"$DT_WORK/short.out" 2>"$DT_WORK/short.err"
dt_expect "a header without surname and date of birth: exit 1" "$?" 1
if grep -q "no column for last_name, date_of_birth (SQLSTATE 22P04)" "$DT_WORK/short.err"; then dt_ok "the refusal names the missing columns (22P04)"
else dt_fail "the refusal does not name them: $(tail -1 "$DT_WORK/short.err")"; fi
PGUSER=lk_writer_a PGDATABASE=$DT_DB "$OUTREACHD" import --controller nosuch --kind participants "$FILE" >/dev/null 2>"$DT_WORK/x.err"
dt_expect "an unknown member code: exit 1" "$?" 1
PGUSER=lk_writer_a PGDATABASE=$DT_DB "$OUTREACHD" import --controller lkb --kind participants "$DT_WORK/short.csv" >/dev/null 2>"$DT_WORK/x.err"
dt_expect "another member's code: exit 1 (42501)" "$? $(grep -c 42501 "$DT_WORK/x.err")" "1 1"
PGUSER=$DT_ROLE PGDATABASE=$DT_DB "$OUTREACHD" import --controller lka --kind participants "$DT_WORK/short.csv" >/dev/null 2>"$DT_WORK/x.err"
dt_expect "the daemon's own role cannot import: exit 1 (42501)" "$? $(grep -c 42501 "$DT_WORK/x.err")" "1 1"
dt_expect "nothing written by the refused imports" "$(q "SELECT count(*) FROM outreach.participant")" "$before"

# Activities and attendance through outreachd import, by the member's references.
printf 'Activity ID,Type,Title,Start Date\r\nSS26,summer_school,Summer School,20/07/2026\r\nCV26,campus_visit,Campus day,12/03/2026\r\n' \
  >"$DT_WORK/activities.csv"
PGUSER=lk_writer_a PGDATABASE=$DT_DB "$OUTREACHD" import --controller lka --kind activities "$DT_WORK/activities.csv" \
  >"$DT_WORK/act.out" 2>"$DT_WORK/act.err"
dt_expect "outreachd import --kind activities: exit 0, two activities" \
  "$? $(q "SELECT count(*) FROM outreach.activity WHERE controller_id = lk.member('lka')")" "0 2"
printf 'Student ID,Activity,Date\r\nR1,SS26,21/07/2026\r\nR3,CV26,12/03/2026\r\nR1,XX,12/03/2026\r\n' >"$DT_WORK/attendance.csv"
PGUSER=lk_writer_a PGDATABASE=$DT_DB "$OUTREACHD" import --controller lka --kind attendance "$DT_WORK/attendance.csv" \
  >"$DT_WORK/att.out" 2>"$DT_WORK/att.err"
dt_expect "outreachd import --kind attendance: exit 3, the unknown activity listed, two attendances written" \
  "$? $(cat "$DT_WORK/att.out") $(q "SELECT count(*) FROM outreach.attendance WHERE controller_id = lk.member('lka')")" \
  '3 attendance.csv:4: error: no activity with reference "XX" 2'
