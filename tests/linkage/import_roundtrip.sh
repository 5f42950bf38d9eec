#!/usr/bin/env bash
# Outcome files back from every shipped recipient, through outreachd import-outcomes:
#  - three members (two with participants exported to all four recipients, one with none); for
#    each recipient an outcome file in its outcome layout (docs/linkage.md) built from the
#    references of the file outreachd exported: exit 0, nothing listed, every line stored for
#    the participant of the exported row it answers (matched by the row's surname, independently
#    of the ledger);
#  - row security: each member's reader sees exactly its own participants' outcomes, the third
#    member none;
#  - the same files again: exit 0, the outcome table unchanged row for row, the import counted
#    as unchanged (same_as the first);
#  - a file with good lines and malformed rows, unknown references (never sent, another
#    recipient's), a malformed reference, a duplicated row, a conflicting row, invalid UTF-8, an
#    unknown outcome code, a participant withdrawn since the export, a quote never closed and a
#    truncated last line: exit 3, each bad line on stdout with its line number and reason, the
#    good lines imported;
#  - a wrong header: exit 1, the message names the expected header, nothing imported; an unknown
#    recipient and a missing file: exit 1, nothing imported.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lk_begin "linkage import" ltest-import 55503

lk_member lka
lk_member lkb
lk_member lkc
#         member ref   forename surname     cohort postcode   sex
lk_person lka a1       Amy      Alpha       0      'SW1A 1AA' F
lk_person lka a2       Abe      Beta        -1     'M1 1AE'   M
lk_person lka a3       Ava      Gamma       0      'B1 1AA'   F
lk_person lka a4       Art      Delta       -2     'EC1A 1BB' M
lk_person lka a5       Ali      Epsilon     0      'B2 2BB'   F    # withdraws after the export
lk_person lkb b1       Ben      Zeta        0      'CF10 1AA' M
lk_person lkb b2       Bo       Eta         -1     'CF10 2AA' F
lk_person lkb b3       Bel      Theta       0      'CF10 3AA' F
q "ANALYZE outreach.participant" >/dev/null

exports="$DT_WORK/exports"
mkdir -p "$exports" && lk_export "$exports"
dt_expect "export to every recipient: exit code 0" "$LK_RC" 0
q "UPDATE outreach.participant SET withdrawn_at = now() WHERE external_ref = 'a5'" >/dev/null
export_file() { lk_visible "$exports" | grep -v manifest | grep "^$1_"; }

# Everything the members can see, row for row (to show that a re-import changes nothing).
fingerprint() {
  q "SELECT count(*) || ' ' || md5(coalesce(string_agg(o::text, '|' ORDER BY o.controller_id, o.participant_id, o.recipient,
                                                     o.outcome, o.academic_year, o.measure, o.provider_ukprn), ''))
     FROM outreach.outcome o"
}
# reader_sees CODE: "rows rows_of_other_members" as member CODE's reader, under row security.
reader_sees() {
  local id
  id=$(q "SELECT lk.member('$1')")
  q "SET ROLE lk_reader_$1;
     SELECT count(*) || ' ' || count(*) FILTER (WHERE controller_id <> $id) FROM outreach.outcome"
}

# --- good files, one per recipient -----------------------------------------------------------------
ref() { q "SELECT reference FROM outreach.disclosure d JOIN outreach.participant p USING (controller_id, participant_id)
           WHERE p.external_ref = '$1' AND d.recipient = '$2'"; }
total=0
for recipient in dfe esfa hesa ucas; do
  file=$(export_file "$recipient")
  good="$DT_WORK/${recipient}_outcomes.csv"
  lk_py outcome-file "$recipient" "$exports/$file" "$good.all"
  grep -vF "$(ref a5 "$recipient")" "$good.all" >"$good"   # a5 has withdrawn since: see the bad file below
  n=$(( $(wc -l <"$good") - 1 ))
  [ "$n" -gt 0 ] || { dt_fail "$recipient: no outcome file built from $file"; continue; }
  lk_run "$DT_WORK/import-$recipient" import-outcomes --recipient "$recipient" "$good"
  dt_expect "$recipient: import of $n good lines: exit code 0, nothing listed on stdout" \
    "$LK_RC $(cat "$DT_WORK/import-$recipient.out")" "0 "
  lk_py outcomes-match "$recipient" "$exports/$file" "$good" a5
  total=$((total + n))
done
dt_expect "every line of the four files is stored once" "$(q "SELECT count(*) FROM outreach.outcome")" "$total"

# --- row security ----------------------------------------------------------------------------------
for code in lka lkb; do
  want=$(q "SELECT count(*) FROM outreach.outcome WHERE controller_id = lk.member('$code')")
  [ "$want" -gt 0 ] || dt_fail "member $code has outcomes to see"
  dt_expect "row security: member $code's reader sees its $want outcomes and none of another member's" \
    "$(reader_sees "$code")" "$want 0"
done
dt_expect "row security: a member with no participants sent sees no outcome" "$(reader_sees lkc)" "0 0"
dt_expect "row security: also through outreach.outcome_he_entry" \
  "$(q "SET ROLE lk_reader_lkb; SELECT count(*) FILTER (WHERE controller_id <> $(q "SELECT lk.member('lkb')")) || ' ' || (count(*) > 0)
        FROM outreach.outcome_he_entry")" "0 true"

# --- the same files again ----------------------------------------------------------------------------
before=$(fingerprint)
imports=$(q "SELECT count(*) FROM outreach.outcome_import")
for recipient in dfe esfa hesa ucas; do
  lk_run "$DT_WORK/again-$recipient" import-outcomes --recipient "$recipient" "$DT_WORK/${recipient}_outcomes.csv"
  dt_expect "$recipient: the same file again: exit code 0, nothing listed" "$LK_RC $(cat "$DT_WORK/again-$recipient.out")" "0 "
done
dt_expect "the same files again change no outcome (row for row)" "$(fingerprint)" "$before"
dt_expect "the same files again are recorded as unchanged, the same as the first imports" \
  "$(q "SELECT string_agg(i.recipient || ' ' || (i.same_as = f.import_id) || ' ' || i.inserted || ' ' || i.updated || ' ' ||
                          (i.unchanged = f.inserted), ', ' ORDER BY i.import_id)
        FROM outreach.outcome_import i JOIN outreach.outcome_import f ON f.recipient = i.recipient AND f.import_id <= $imports
        WHERE i.import_id > $imports")" \
  "dfe true 0 0 true, esfa true 0 0 true, hesa true 0 0 true, ucas true 0 0 true"

# --- a file with bad lines -------------------------------------------------------------------------
a1=$(ref a1 hesa); b1=$(ref b1 hesa); a3=$(ref a3 hesa); a5=$(ref a5 hesa); dfe_ref=$(ref a2 dfe)
bad="$DT_WORK/hesa_bad.csv"
{
  printf 'REFERENCE,OUTCOME,ACADEMICYEAR,UKPRN,PROVIDER,VALUE\r\n'                          # 1
  printf '%s,HE_ENTRY,2024,10007789,University of Example,entered\r\n' "$a1"                 # 2 good
  printf '%s,HE_ENTRY,2024,10007789,University of Example,entered\r\n' "$a1"                 # 3 duplicate of 2
  printf '%s,HE_ENTRY,2024,10007789,University of Example,deferred\r\n' "$a1"                # 4 conflicts with 2
  printf '%s,HE_ENTRY\r\n' "$a3"                                                             # 5 too few fields
  printf '1-00000000000000000000000000X,HE_ENTRY,2024,10007789,Somewhere,entered\r\n'         # 6 never sent
  printf '%s,HE_ENTRY,2024,10007789,Somewhere,entered\r\n' "$dfe_ref"                        # 7 dfe's reference
  printf 'not-a-reference,HE_ENTRY,2024,10007789,Somewhere,entered\r\n'                       # 8 malformed reference
  printf '%s,HE_ENTRY,2023,10007789,Universit\xe9 de Paris,entered\r\n' "$a3"                 # 9 Latin-1, not UTF-8
  printf '%s,CONTINUATION,2027,10007789,University of Example,continuing\r\n' "$b1"           # 10 good
  printf '%s,GRADUATED,2024,10007789,University of Example,x\r\n' "$b1"                      # 11 unknown outcome
  printf '%s,HE_ENTRY,2025,10007789,University of Example,entered\r\n' "$a5"                 # 12 withdrawn since
  printf '%s,"HE_ENTRY,2024,10007789,Broken,entered\r\n' "$a3"                                # 13 quote never closed...
  printf '%s,CONTINUATION,2028,10007789,University of Example,continuing' "$b1"               # 14 ...and no terminator
} >"$bad"
before=$(lk_counts)
outcomes_before=$(q "SELECT count(*) FROM outreach.outcome")
lk_run "$DT_WORK/bad" import-outcomes --recipient hesa "$bad"
dt_expect "a file with bad lines: exit code 3" "$LK_RC" 3
listed() {  # listed LINE STATUS REASON_PART: stdout has "hesa_bad.csv:LINE: STATUS: ...REASON_PART..."
  if grep -qE "^hesa_bad\.csv:$1: $2: .*$3" "$DT_WORK/bad.out"; then dt_ok "bad file: line $1 listed as $2 ($3)"
  else dt_fail "bad file: line $1 not listed as $2 ($3): $(grep "^hesa_bad.csv:$1:" "$DT_WORK/bad.out")"; fi
}
listed 3 duplicate "same outcome as line 2"
listed 4 rejected "conflicts with line 2"
listed 5 rejected "expected 6 fields, found 2"
listed 6 unknown_reference ""
listed 7 unknown_reference ""
listed 8 rejected "reference"
listed 9 rejected "invalid UTF-8"
listed 11 rejected "GRADUATED|outcome"
listed 12 rejected "the participant has withdrawn"
listed 13 rejected "quote|end of the file"
dt_expect "bad file: exactly lines 3-9 and 11-13 are listed" \
  "$(cut -d: -f2 "$DT_WORK/bad.out" | tr '\n' ' ')" "3 4 5 6 7 8 9 11 12 13 "
dt_expect "bad file: the good lines 2 and 10 are imported (2 new outcomes)" \
  "$(q "SELECT count(*) FROM outreach.outcome o JOIN outreach.participant p USING (controller_id, participant_id)
        WHERE o.recipient = 'hesa' AND ((p.external_ref = 'a1' AND o.outcome = 'he_entry' AND o.academic_year = 2024
                                         AND o.value = 'entered')
                                     OR (p.external_ref = 'b1' AND o.outcome = 'continuation' AND o.academic_year = 2027))")
   $(( $(q "SELECT count(*) FROM outreach.outcome") - outcomes_before ))" "2
   2"
dt_expect "bad file: recorded with 12 records (line 13's open quote takes in line 14), 2 inserted, 7 rejected, 1 duplicate, 2 unknown references" \
  "$(q "SELECT lines || ' ' || inserted || ' ' || rejected || ' ' || duplicates || ' ' || unknown_references
        FROM outreach.outcome_import ORDER BY import_id DESC LIMIT 1")" "12 2 7 1 2"

# A truncated last line on its own (the quote above took in line 14).
trunc="$DT_WORK/hesa_truncated.csv"
{ printf 'REFERENCE,OUTCOME,ACADEMICYEAR,UKPRN,PROVIDER,VALUE\r\n'
  printf '%s,CONTINUATION,2028,10007789,University of Example,continuing\r\n' "$b1"
  printf '%s,CONTINUATION,2029,10007789,University of Exa' "$b1"; } >"$trunc"
lk_run "$DT_WORK/trunc" import-outcomes --recipient hesa "$trunc"
dt_expect "truncated file: exit code 3, line 3 listed as possibly truncated, line 2 imported" \
  "$LK_RC $(cat "$DT_WORK/trunc.out") $(q "SELECT inserted FROM outreach.outcome_import ORDER BY import_id DESC LIMIT 1")" \
  "3 hesa_truncated.csv:3: rejected: the last line has no line terminator: the file may be truncated 1"

# --- refused files -----------------------------------------------------------------------------------
before=$(lk_counts)
wrong="$DT_WORK/hesa_wrong_header.csv"
printf 'REFERENCE,OUTCOME,YEAR,UKPRN,PROVIDER,VALUE\r\n%s,HE_ENTRY,2024,10007789,X,entered\r\n' "$a1" >"$wrong"
lk_run "$DT_WORK/wrong" import-outcomes --recipient hesa "$wrong"
dt_expect "wrong header: exit code 1" "$LK_RC" 1
if grep -qF 'expected "REFERENCE,OUTCOME,ACADEMICYEAR,UKPRN,PROVIDER,VALUE"' "$DT_WORK/wrong.err"; then
  dt_ok "wrong header: the message names the expected header"
else dt_fail "wrong header: the message does not name the expected header: $(cat "$DT_WORK/wrong.err")"; fi
lk_run "$DT_WORK/unknown" import-outcomes --recipient nobody "$DT_WORK/hesa_outcomes.csv"
dt_expect "unknown recipient: exit code 1, named" "$LK_RC $(grep -c 'unknown recipient "nobody"' "$DT_WORK/unknown.err")" "1 1"
lk_run "$DT_WORK/missing" import-outcomes --recipient hesa "$DT_WORK/no-such-file.csv"
dt_expect "missing file: exit code 1, named" "$LK_RC $(grep -c 'no-such-file.csv' "$DT_WORK/missing.err")" "1 1"
dt_expect "refused files: nothing imported or recorded (exports ledger outcomes imports)" "$(lk_counts)" "$before"
