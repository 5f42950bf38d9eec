#!/usr/bin/env bash
# Export files expire (docs/linkage.md, "Export files expire"): outreachd run-once export writes
# hesa's, ucas's and dfe's files into the configured directory, then
#  - confirm_export_delivered (the processor role; a writer is refused 42501) returns when the
#    file goes; a sweep before that leaves every file; with the service's export_file_days set to
#    0 the next sweep removes hesa's file and manifest, overwriting first (a hard link made
#    beforehand sees zeros of the same size, where the file system writes in place), and records
#    the removal (removed_at, removal) in outreach.export; a second sweep changes nothing;
#  - a file removed by hand is recorded as not_found; a symbolic link, a decoy (another
#    checksum) or a FIFO in the file's place, and a directory whose volume is "not mounted" (no
#    .outreachd-exports marker), are refused: the sweep fails naming the export, nothing is
#    touched or recorded, and the next sweep removes the file once it is back;
#  - run-once export --recreate sends hesa's records again, byte for byte as first sent (but
#    for the file name), as a new export with its own ledger rows under the same references and
#    "recreates" in its manifest, also with Art. 19 records (record_action); refused (exit 1,
#    nothing recorded) while a record differs from what was sent, is restricted, is outside the
#    recipient's entry years, or is no longer held, and for an unknown export; --recreate
#    with a non-number or with --recipient is a usage error (exit 2);
#  - bad input to the SQL functions: a delivery in the future or before the export finished, an
#    unknown export, an unfinished one, a reference with a control character, export_file_days
#    out of range: 22023 / 42704 / 55000, nothing changed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lk_begin "linkage expiry" ltest-expiry 55506
EXPORTS="$DT_WORK/exports"
mkdir -p "$EXPORTS"

lk_member lka
lk_member lkb
#         member ref   forename surname   cohort postcode   sex
lk_person lka e1       Eva      Evans     0      'SW1A 1AA' F
lk_person lka e2       Eli      Ellis     -1     'M1 1AE'   M
lk_person lkb e3       Ena      Eaves     -2     'B1 1AA'   F
lk_person lkb e4       Eri      Egan      0      'CF10 1AA' M
q "ANALYZE outreach.participant" >/dev/null
q "CREATE ROLE lk_proc IN ROLE outreach_processor; CREATE ROLE lk_writer;
   SELECT outreach.grant_controller_access('lk_writer', 'lka', 'writer')" >/dev/null || dt_fail "set-up: roles"

sqlstate() { psql -X -q -At -v VERBOSITY=sqlstate -d "$DT_DB" -c "$1" 2>&1 >/dev/null | sed -n 's/^ERROR: *//p'; }
export_of() { q "SELECT max(export_id) FROM outreach.export WHERE recipient = '$1' AND status = 'finished'"; }
file_of() { q "SELECT file_name FROM outreach.export WHERE export_id = $1"; }
removal_of() { q "SELECT coalesce(removal, 'kept') FROM outreach.export WHERE export_id = $1"; }
sweep() { lk_run "$DT_WORK/sweep" run-once sweep; }

for r in hesa ucas dfe; do
  lk_run "$DT_WORK/last" run-once export --recipient "$r"
  dt_expect "export of $r into the configured directory: exit code 0" "$LK_RC" 0
done
mkdir -p "$DT_WORK/vol" && lk_export "$DT_WORK/vol" --recipient esfa
dt_expect "export of esfa into another directory (--output-dir): exit code 0" "$LK_RC" 0
hesa=$(export_of hesa) ucas=$(export_of ucas) dfe=$(export_of dfe) esfa=$(export_of esfa)
hesa_file=$(file_of "$hesa") ucas_file=$(file_of "$ucas") dfe_file=$(file_of "$dfe") esfa_file=$(file_of "$esfa")
dt_expect "each export records the directory it was written to" \
  "$(q "SELECT count(*) FROM outreach.export WHERE export_id IN ($hesa, $ucas, $dfe) AND directory = '$EXPORTS'")/$(
     q "SELECT count(*) FROM outreach.export WHERE export_id = $esfa AND directory = '$DT_WORK/vol'")" 3/1
dt_expect "the export job marks its directories (.outreachd-exports)" \
  "$(test -f "$EXPORTS/.outreachd-exports" && test -f "$DT_WORK/vol/.outreachd-exports" && echo marked)" marked
cp "$EXPORTS/$hesa_file" "$DT_WORK/hesa-as-sent.csv"
ln "$EXPORTS/$hesa_file" "$DT_WORK/hesa-witness"   # another name for the same inode: sees the overwrite
size=$(stat -c %s "$EXPORTS/$hesa_file")

# --- delivery confirmed, kept for export_file_days -------------------------------------------------
dt_expect "a writer cannot confirm a delivery (42501)" \
  "$(sqlstate "SET ROLE lk_writer; SELECT outreach.confirm_export_delivered($hesa, 'x')")" 42501
due=$(q "SET ROLE lk_proc; SELECT outreach.confirm_export_delivered($hesa, 'HESA-ACK-1') - now() < interval '30 days 1 minute'
         AND outreach.confirm_export_delivered($hesa) > now() + interval '29 days'")
dt_expect "the processor confirms hesa's delivery: the file goes in 30 days (the default)" "$due" t
dt_expect "the confirmation is on the record (reference, who, when)" \
  "$(q "SELECT delivery_reference || ' ' || delivery_confirmed_by || ' ' || (delivered_at > now() - interval '1 minute')
        FROM outreach.export WHERE export_id = $hesa")" "HESA-ACK-1 lk_proc true"
q "SET ROLE lk_proc; SELECT outreach.confirm_export_delivered($ucas, 'UCAS-1'), outreach.confirm_export_delivered($dfe, 'DFE-1'),
                          outreach.confirm_export_delivered($esfa, 'ESFA-1')" >/dev/null
dt_expect "the daemon cannot record a removal before the file is due (55000), nor of an unknown export (42704)" \
  "$(sqlstate "SELECT outreach.export_file_removed($hesa, 'overwritten')") $(sqlstate "SELECT outreach.export_file_removed(999999, 'unlinked')")" \
  "55000 42704"
sweep
dt_expect "a sweep within the 30 days: exit code 0" "$LK_RC" 0
dt_expect "within the 30 days every file stays" "$(ls "$EXPORTS" | grep -c 'csv$')" 3
dt_expect "bad export_file_days (400): 22023" "$(sqlstate "SELECT outreach.set_service_retention(export_file_days => 400)")" 22023

# --- expired: overwritten, removed, recorded -----------------------------------------------------
q "SELECT outreach.set_service_retention(export_file_days => 0)" >/dev/null
rm "$EXPORTS/$ucas_file"                                  # removed by hand
mv "$EXPORTS/$dfe_file" "$DT_WORK/dfe-target"             # a symbolic link in its place
ln -s "$DT_WORK/dfe-target" "$EXPORTS/$dfe_file"
dfe_sum=$(sha256sum <"$DT_WORK/dfe-target")
mv "$DT_WORK/vol" "$DT_WORK/vol.unmounted" && mkdir "$DT_WORK/vol"   # esfa's volume "not mounted"
sweep
dt_expect "the sweep with a symbolic link in an export's place and a directory not mounted fails (exit 1)" "$LK_RC" 1
for id in "$dfe" "$esfa"; do
  if grep -q "export $id" "$DT_WORK/sweep.err"; then dt_ok "the failure names export $id"
  else dt_fail "the failure does not name export $id: $(tail -2 "$DT_WORK/sweep.err" | tr '\n' ' ')"; fi
done
if grep -q "is the export directory mounted" "$DT_WORK/sweep.err"; then dt_ok "esfa's failure asks whether the directory is mounted"
else dt_fail "esfa's failure does not ask whether its directory is mounted"; fi
dt_expect "the link's target is untouched and the link left" \
  "$(sha256sum <"$DT_WORK/dfe-target") $(test -L "$EXPORTS/$dfe_file" && echo link)" "$dfe_sum link"
dt_expect "nothing recorded for the refused ones (not even not_found for the missing volume)" "$(removal_of "$dfe") $(removal_of "$esfa")" "kept kept"
rmdir "$DT_WORK/vol" && mv "$DT_WORK/vol.unmounted" "$DT_WORK/vol"
case $(stat -f -c %T "$EXPORTS") in
  ext2/ext3|xfs|tmpfs) want=overwritten ;;
  *) want=unlinked ;;
esac
dt_expect "hesa's removal is recorded as $want ($(stat -f -c %T "$EXPORTS")), ucas's as not_found" \
  "$(removal_of "$hesa") $(removal_of "$ucas") $(q "SELECT count(*) FROM outreach.export WHERE removed_at > now() - interval '5 minutes'")" \
  "$want not_found 2"
dt_expect "hesa's file and manifest are gone" "$(ls "$EXPORTS" | grep -c "^$hesa_file")" 0
if [ "$want" = overwritten ]; then
  dt_expect "the file's bytes were overwritten with zeros before the unlink (the hard link sees $size zero bytes)" \
    "$(stat -c %s "$DT_WORK/hesa-witness") $(tr -d '\0' <"$DT_WORK/hesa-witness" | wc -c)" "$size 0"
fi
# A decoy under the export's name (the real file moved away), then a FIFO: refused, not waited on.
rm -f "$EXPORTS/$dfe_file"
mv "$DT_WORK/dfe-target" "$DT_WORK/dfe-real"
echo decoy >"$EXPORTS/$dfe_file"
sweep
dt_expect "a decoy under dfe's name is not taken for the export (exit 1, kept)" "$LK_RC $(removal_of "$dfe") $(cat "$EXPORTS/$dfe_file")" "1 kept decoy"
if grep -q "SHA-256 differs" "$DT_WORK/sweep.err"; then dt_ok "the failure says the checksum differs"
else dt_fail "the failure does not say the checksum differs: $(tail -2 "$DT_WORK/sweep.err" | tr '\n' ' ')"; fi
rm "$EXPORTS/$dfe_file" && mkfifo "$EXPORTS/$dfe_file"
start=$SECONDS
sweep
dt_expect "a FIFO under dfe's name is refused at once (exit 1 within 20 s, kept)" \
  "$LK_RC $(removal_of "$dfe") $(( SECONDS - start < 20 ))" "1 kept 1"
rm "$EXPORTS/$dfe_file" && mv "$DT_WORK/dfe-real" "$EXPORTS/$dfe_file"
sweep
dt_expect "the next sweep removes dfe's and esfa's files once they are back (exit 0)" \
  "$LK_RC $(removal_of "$dfe") $(removal_of "$esfa") $(ls "$DT_WORK/vol" | grep -c csv)" "0 $want $want 0"
before=$(q "SELECT string_agg(export_id || ':' || removed_at, ' ' ORDER BY export_id) FROM outreach.export")
sweep
dt_expect "a second sweep changes nothing" "$LK_RC $(q "SELECT string_agg(export_id || ':' || removed_at, ' ' ORDER BY export_id) FROM outreach.export")" "0 $before"

# --- re-created from the ledger ------------------------------------------------------------------
recreate() { lk_run "$DT_WORK/recreate" run-once export --recreate "$@"; }
refused() {  # refused WHAT MESSAGE: exit 1, MESSAGE on stderr, no new export row
  local what=$1 message=$2 n
  n=$(q "SELECT count(*) FROM outreach.export")
  recreate "$hesa"
  dt_expect "$what: exit code 1" "$LK_RC" 1
  if grep -qF -- "$message" "$DT_WORK/recreate.err"; then dt_ok "$what: the error says $message"
  else dt_fail "$what: the error does not say $message: $(tail -2 "$DT_WORK/recreate.err" | tr '\n' ' ')"; fi
  dt_expect "$what: no export recorded" "$(q "SELECT count(*) FROM outreach.export")" "$n"
}
q "UPDATE outreach.participant SET last_name = 'Evans-Smith' WHERE external_ref = 'e1'" >/dev/null
refused "a record changed since it was sent" "1 of its 4 records changed since it was sent"
q "UPDATE outreach.participant SET last_name = 'Evans' WHERE external_ref = 'e1';
   UPDATE outreach.participant SET restricted_at = now() WHERE external_ref = 'e2'" >/dev/null
refused "a participant restricted" "1 of its 4 participants have withdrawn, are restricted or are marked for deletion"
q "UPDATE outreach.participant SET restricted_at = NULL WHERE external_ref = 'e2'" >/dev/null

recreate "$hesa"
dt_expect "run-once export --recreate $hesa (records as sent again): exit code 0" "$LK_RC" 0
copy=$(export_of hesa)
copy_file=$(file_of "$copy")
dt_expect "the copy is a new export recreating $hesa" "$(q "SELECT recreates FROM outreach.export WHERE export_id = $copy")" "$hesa"
if cmp -s "$EXPORTS/$copy_file" "$DT_WORK/hesa-as-sent.csv"; then dt_ok "the re-created file is byte for byte the file first sent"
else dt_fail "the re-created file differs: $(diff "$DT_WORK/hesa-as-sent.csv" "$EXPORTS/$copy_file" | head -4 | tr '\n' ' ')"; fi
dt_expect "its ledger rows: the same participants under the same references" \
  "$(q "SELECT count(*) FROM outreach.disclosure a JOIN outreach.disclosure b USING (controller_id, participant_id, reference)
        WHERE a.export_id = $hesa AND b.export_id = $copy")/$(q "SELECT count(*) FROM outreach.disclosure WHERE export_id = $copy")" "4/4"
dt_expect "its manifest says what it recreates" "$(jq -r .recreates "$EXPORTS/$copy_file.manifest.json" 2>/dev/null ||
  "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["recreates"])' "$EXPORTS/$copy_file.manifest.json")" "$hesa"
dt_expect "the copy stays until its own delivery is confirmed" "$(removal_of "$copy") $(test -f "$EXPORTS/$copy_file" && echo there)" "kept there"

q "UPDATE outreach.participant SET he_entry_year_override = outreach.academic_year(current_date) + 5,
                                   he_entry_year_override_reason = 'test' WHERE external_ref = 'e3'" >/dev/null
refused "a participant now outside hesa's entry years" "1 of its 4 participants are no longer in the recipient's scope"
q "UPDATE outreach.participant SET he_entry_year_override = NULL, he_entry_year_override_reason = NULL
   WHERE external_ref = 'e3'" >/dev/null

# A file with Art. 19 records (a layout with record_action): re-created as it was, the
# withdrawal record included and each record's action as first written.
q "SELECT outreach.define_layout('ucas', 'export',
     '[{\"header\": \"Ref\", \"field\": \"reference\"}, {\"header\": \"Action\", \"field\": \"record_action\"},
       {\"header\": \"Forename\", \"field\": \"forename\"}, {\"header\": \"DOB\", \"field\": \"date_of_birth\"}]',
     value_codes => '{\"record_action\": {\"new\": \"N\", \"correction\": \"C\", \"erasure\": \"D\", \"withdrawal\": \"W\", \"restriction\": \"R\"}}')" >/dev/null
lk_person lka e5 Eno Ekins 0 'B1 1AA' F
lk_run "$DT_WORK/last" run-once export --recipient ucas
q "UPDATE outreach.participant SET withdrawn_at = now() WHERE external_ref = 'e4'" >/dev/null
lk_person lka e6 Eda Eden -1 'B1 1AA' F
lk_run "$DT_WORK/last" run-once export --recipient ucas
actions=$(export_of ucas)
cp "$EXPORTS/$(file_of "$actions")" "$DT_WORK/ucas-as-sent.csv"
dt_expect "ucas's export with actions: a new record and a withdrawal record" \
  "$(cut -d, -f2 "$DT_WORK/ucas-as-sent.csv" | tail -n +2 | sort | tr -d '\r' | tr '\n' ' ')" "N W "
lk_run "$DT_WORK/recreate" run-once export --recreate "$actions"
dt_expect "--recreate $actions: exit code 0" "$LK_RC" 0
if cmp -s "$EXPORTS/$(file_of "$(export_of ucas)")" "$DT_WORK/ucas-as-sent.csv"; then
  dt_ok "the re-created file with actions is byte for byte the one first sent (withdrawal record and N included)"
else dt_fail "the re-created file with actions differs: $(diff "$DT_WORK/ucas-as-sent.csv" "$EXPORTS/$(file_of "$(export_of ucas)")" | head -4 | tr '\n' ' ')"; fi
dt_expect "the withdrawal follow-up stays answered by the export first sent" \
  "$(q "SELECT string_agg(DISTINCT carried_by::text, ' ') FROM outreach.recipient_followup WHERE recipient = 'ucas' AND kind = 'withdrawal'")" "$actions"

q "DELETE FROM outreach.participant WHERE external_ref = 'e2'" >/dev/null
refused "a participant no longer held" "1 of its 4 participants are no longer held"
n=$(q "SELECT count(*) FROM outreach.export")
recreate 999999
dt_expect "--recreate of an unknown export: exit 1, nothing recorded" "$LK_RC $(q "SELECT count(*) FROM outreach.export")" "1 $n"
recreate abc
dt_expect "--recreate abc: usage error (exit 2)" "$LK_RC" 2
recreate "$hesa" --recipient hesa
dt_expect "--recreate with --recipient: usage error (exit 2)" "$LK_RC" 2

# --- bad input to the SQL functions --------------------------------------------------------------
q "SELECT outreach.export_begin('ucas')" >/dev/null   # left building
building=$(q "SELECT export_id FROM outreach.export WHERE status = 'building'")
state=$(q "SELECT string_agg(export_id || coalesce(delivered_at::text, '-') || coalesce(delivery_reference, '-'), ' ' ORDER BY export_id) FROM outreach.export")
dt_expect "a delivery in the future: 22023" "$(sqlstate "SELECT outreach.confirm_export_delivered($copy, 'x', now() + interval '1 day')")" 22023
dt_expect "a delivery before the export finished: 22023" \
  "$(sqlstate "SELECT outreach.confirm_export_delivered($copy, 'x', now() - interval '1 day')")" 22023
dt_expect "a reference with a control character: 22023" \
  "$(sqlstate "SELECT outreach.confirm_export_delivered($copy, E'a\\nb')")" 22023
dt_expect "an unknown export: 42704" "$(sqlstate "SELECT outreach.confirm_export_delivered(999999)")" 42704
dt_expect "no delivery time: 22004" "$(sqlstate "SELECT outreach.confirm_export_delivered($copy, 'x', NULL)")" 22004
dt_expect "a reference with a bidirectional control: 22023" \
  "$(sqlstate "SELECT outreach.confirm_export_delivered($copy, E'a\\u202eb')")" 22023
dt_expect "an export still building: 55000" "$(sqlstate "SELECT outreach.confirm_export_delivered($building)")" 55000
dt_expect "the processor cannot record a removal (42501)" \
  "$(sqlstate "SET ROLE lk_proc; SELECT outreach.export_file_removed($copy, 'overwritten')")" 42501
dt_expect "nothing changed by the refused calls" \
  "$(q "SELECT string_agg(export_id || coalesce(delivered_at::text, '-') || coalesce(delivery_reference, '-'), ' ' ORDER BY export_id) FROM outreach.export")" "$state"
