#!/usr/bin/env bash
# Exports that go wrong, with real files:
#  - the export directory is missing, is a file, or is not writable (the daemon run as the OS
#    user nobody: root bypasses permissions): exit 1, a message naming the directory and the
#    problem, nothing begun, nothing written, outreach.export and the ledger unchanged;
#  - the disk fills up (a small tmpfs mounted for the test; where mounting is not allowed,
#    `ulimit -f` with SIGXFSZ ignored, so that write() fails with EFBIG; the output says which):
#    mid-write (a file over the daemon's 1 MB write buffer), at the last write after the rows
#    were read (a small file), and after the ledger's commit, when only the manifest does not
#    fit: exit 1 with a message naming the error; no file left visible without its manifest
#    (nor a hidden one), the export abandoned and the ledger unchanged for the first two; for
#    the third, the export is finished (the ledger has it) and the complete file waits hidden
#    until the next run, given room, puts the manifest and the file in place;
#  - kill -9 in the middle of big exports (BIG, default 200,000, eligible participants; one trial
#    per recipient (TRIALS, default 4), killed at random delays: while staging, twice while the
#    rows are written, and late (finish, rename, or done)): after each kill, every
#    visible file has its manifest and the manifest's sha256 matches, ledger rows exist only for
#    finished exports, the killed export is building (or finished with its complete file hidden,
#    or done); the re-run leaves no temporary file, the killed export abandoned, and every
#    eligible participant exactly once in the recipient's ledger, whose rows match the files.
# SEED repeats a run's random delays.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BIG=${BIG:-200000}
TRIALS=${TRIALS:-4}
SEED=${SEED:-$((RANDOM * 32768 + RANDOM))}
RANDOM=$SEED
lk_begin "linkage faults" ltest-faults 55502
dt_note "BIG=$BIG TRIALS=$TRIALS SEED=$SEED"
MOUNTS=()
trap 'rc=$?; for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null; done; (exit $rc); dt_end' EXIT

lk_member lka
# 20,000 participants of cohort -5 (dfe, esfa and hesa: about 1.4 MB a file) and 200 of cohort
# +1 (dfe, esfa and ucas: ucas's file is about 15 kB).
q "INSERT INTO outreach.participant (controller_id, external_ref, first_name, last_name, date_of_birth, postcode, sex)
   SELECT lk.member('lka'), 'f-' || i, 'Fay', 'Fault' || i, lk.dob(-5) + (i % 150), 'M1 1AE', 'F'
   FROM generate_series(1, 20000) AS i;
   INSERT INTO outreach.participant (controller_id, external_ref, first_name, last_name, date_of_birth, postcode, sex)
   SELECT lk.member('lka'), 'u-' || i, 'Una', 'Upcoming' || i, lk.dob(1) + (i % 150), 'B1 1AA', 'F'
   FROM generate_series(1, 200) AS i;
   ANALYZE outreach.participant" >/dev/null || { dt_fail "set-up: participants"; exit 1; }

# refused WHAT DIR MESSAGE: exit 1, MESSAGE in the error, nothing begun or written.
refused() {
  local what=$1 dir=$2 message=$3
  dt_expect "$what: exit code 1" "$LK_RC" 1
  if grep -qF -- "$message" "$DT_WORK/last.err"; then dt_ok "$what: the error says \"$message\""
  else dt_fail "$what: the error does not say \"$message\": $(tail -2 "$DT_WORK/last.err" | tr '\n' ' ')"; fi
  dt_expect "$what: nothing written" "$(ls -A "$dir" 2>/dev/null | tr '\n' ' ')" ""
  dt_expect "$what: no export begun, the ledger unchanged" "$(lk_counts)" "$before"
}

# --- the directory -----------------------------------------------------------------------------------
before=$(lk_counts)
lk_export "$DT_WORK/missing" --recipient hesa
refused "missing directory" "$DT_WORK/missing" "export directory $DT_WORK/missing: No such file or directory"
dt_check "missing directory: not created" test ! -e "$DT_WORK/missing"
: >"$DT_WORK/a-file"
lk_export "$DT_WORK/a-file" --recipient hesa
refused "a file, not a directory" "$DT_WORK/nothing" "export directory $DT_WORK/a-file is not a directory"
ro="$DT_WORK/read-only"
if [ "$(id -u)" = 0 ]; then   # root writes anywhere: the daemon runs as nobody, the directory is root's
  mkdir -p "$ro" && chown root:root "$ro" && chmod 755 "$ro"
  runuser -u nobody -- "$OUTREACHD" --config "$LK_CONFIG" run-once export --recipient hesa --output-dir "$ro" \
    >"$DT_WORK/last.out" 2>"$DT_WORK/last.err"
  LK_RC=$?
  user=nobody
else
  mkdir -p "$ro" && chmod 555 "$ro" && lk_export "$ro" --recipient hesa
  user=$(id -un)
fi
refused "directory not writable by the daemon's OS user ($user)" "$ro" "export directory is not writable: $ro: Permission denied"

# --- the disk fills up ----------------------------------------------------------------------------------
# disk DIR SIZE: a tmpfs of SIZE bytes at DIR (else DIR with "ulimit -f" of SIZE for the daemon;
# LK_DISK_FULL=ulimit chooses that).
FILL=${LK_DISK_FULL:-}
disk() {
  mkdir -p "$1"
  if [ "$FILL" != ulimit ] && mount -t tmpfs -o "size=$2,mode=0755" ltest-disk "$1" 2>"$DT_WORK/mount.err"; then
    MOUNTS+=("$1"); FILL=tmpfs
  else
    [ "$FILL" = ulimit ] || dt_note "cannot mount a tmpfs ($(cat "$DT_WORK/mount.err")): using ulimit -f and EFBIG instead"
    FILL=ulimit; LIMIT_KB=$(( ($2 + 1023) / 1024 ))
    [ "$(id -u)" = 0 ] && chown root:root "$1" && chmod 755 "$1"
  fi
}
# export_to_full_disk DIR RECIPIENT: the export, under the file size limit when there is no tmpfs.
export_to_full_disk() {
  if [ "$FILL" = ulimit ]; then
    (trap '' XFSZ; ulimit -f "$LIMIT_KB"; exec "$OUTREACHD" --config "$LK_CONFIG" run-once export --recipient "$2" \
      --output-dir "$1") >"$DT_WORK/last.out" 2>"$DT_WORK/last.err"
    LK_RC=$?
  else
    lk_export "$1" --recipient "$2"
  fi
}
# abandoned WHAT DIR RECIPIENT: exit 1 naming the error, nothing left, export abandoned, ledger unchanged.
abandoned() {
  local what=$1 dir=$2 recipient=$3 error
  error=$([ "$FILL" = tmpfs ] && echo "No space left on device" || echo "File too large")
  dt_expect "$what: exit code 1" "$LK_RC" 1
  if grep -qE "export of $recipient failed \(export [0-9]+ abandoned, ledger unchanged\): cannot write .*: $error" "$DT_WORK/last.err"
  then dt_ok "$what: the error says the export was abandoned, the ledger unchanged: $error"
  else dt_fail "$what: unexpected error: $(tail -2 "$DT_WORK/last.err" | tr '\n' ' ')"; fi
  dt_expect "$what: no file left, visible or hidden" "$(ls -A "$dir" | tr '\n' ' ')" ""
  dt_expect "$what: the export is abandoned with the error, the ledger unchanged" \
    "$(q "SELECT recipient || ' ' || status || ' ' || (error LIKE '%$error%') FROM outreach.export ORDER BY export_id DESC LIMIT 1") $(q "SELECT count(*) FROM outreach.disclosure")" \
    "$recipient abandoned true $ledger"
}
ledger=$(q "SELECT count(*) FROM outreach.disclosure")
disk "$DT_WORK/disk-1m" $((1024 * 1024))
dt_note "disk full: using $FILL"
export_to_full_disk "$DT_WORK/disk-1m" hesa
abandoned "disk full mid-write (hesa, 20,000 rows, 1 MB $FILL)" "$DT_WORK/disk-1m" hesa
disk "$DT_WORK/disk-8k" 8192
export_to_full_disk "$DT_WORK/disk-8k" ucas
abandoned "disk full at the last write, after the rows were read (ucas, 200 rows, 8 kB $FILL)" "$DT_WORK/disk-8k" ucas

# Only the manifest does not fit: a tmpfs exactly as large as ucas's file (its size found by a
# begin that is rolled back).
size=$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$DT_DB" <<'SQL'
BEGIN;
SELECT export_id AS id FROM outreach.export_begin('ucas') \gset
SELECT sum(octet_length(l) + 2) FROM outreach.export_lines(:id) AS l;
ROLLBACK;
SQL
)
if [ "$FILL" = tmpfs ] && [ "${size:-0}" -gt 0 ]; then
  full="$DT_WORK/disk-exact"
  disk "$full" $(( (size + 4095) / 4096 * 4096 ))
  lk_export "$full" --recipient ucas
  dt_expect "disk full for the manifest (ucas file of $size bytes on a tmpfs of its size): exit code 1" "$LK_RC" 1
  if grep -qE "export [0-9]+ of ucas is finished \(ledger written\) but .* could not be put in place: .*manifest.json.partial: No space left on device; the next run puts it in place" "$DT_WORK/last.err"; then
    dt_ok "disk full for the manifest: the error says the export is finished, the manifest could not be written (ENOSPC), the next run completes it"
  else dt_fail "disk full for the manifest: unexpected error: $(tail -2 "$DT_WORK/last.err" | tr '\n' ' ')"; fi
  dt_expect "disk full for the manifest: no file visible without its manifest" \
    "$(lk_visible "$full" | grep -v '\.manifest\.json$' | while read -r f; do [ -e "$full/$f.manifest.json" ] || echo "$f"; done)" ""
  id=$(q "SELECT export_id FROM outreach.export WHERE recipient = 'ucas' ORDER BY export_id DESC LIMIT 1")
  dt_expect "disk full for the manifest: the export is finished (committed before the manifest), its rows in the ledger" \
    "$(q "SELECT status || ' ' || row_count || ' ' || (SELECT count(*) FROM outreach.disclosure d WHERE d.export_id = $id)
          FROM outreach.export WHERE export_id = $id")" "finished 200 200"
  sha=$(q "SELECT sha256 FROM outreach.export WHERE export_id = $id")
  name=$(q "SELECT file_name FROM outreach.export WHERE export_id = $id")
  dt_expect "disk full for the manifest: the complete file is there (hidden, or visible), checksum as recorded" \
    "$(cat "$full/.$name.partial" "$full/$name" 2>/dev/null | sha256sum | cut -d' ' -f1)" "$sha"
  mount -o remount,size=1m "$full"
  lk_export "$full" --recipient ucas
  dt_expect "given room, the next run: exit code 0" "$LK_RC" 0
  lk_py files "$full"
  dt_expect "given room, the next run: the file and its manifest are in place; nothing sent again (0 rows)" \
    "$(lk_visible "$full" | grep -c "^$name") $(q "SELECT row_count FROM outreach.export WHERE recipient = 'ucas' ORDER BY export_id DESC LIMIT 1")" \
    "2 0"
else
  dt_note "disk full for the manifest: skipped (needs a tmpfs; size '$size')"
fi

# --- kill -9 in the middle of big exports ---------------------------------------------------------------
[ "$TRIALS" -gt 0 ] || exit 0
q "INSERT INTO outreach.participant (controller_id, external_ref, first_name, last_name, date_of_birth, postcode, sex)
   SELECT lk.member('lka'), 'k-' || i, 'Kim', 'Killtest' || i, lk.dob(0) + (i % 180), 'SW1A 1AA', 'M'
   FROM generate_series(1, $BIG) AS i;
   ANALYZE outreach.participant; ANALYZE outreach.disclosure_block" >/dev/null || { dt_fail "set-up: $BIG participants"; exit 1; }
# Who each recipient must have received in the end (by how the records were made).
declare -A ELIGIBLE=(
  [dfe]=$(q "SELECT count(*) FROM outreach.participant WHERE external_ref ~ '^[fuk]-'")
  [esfa]=$(q "SELECT count(*) FROM outreach.participant WHERE external_ref ~ '^[fuk]-'")
  [hesa]=$(q "SELECT count(*) FROM outreach.participant WHERE external_ref ~ '^[fk]-'")
  [ucas]=$(q "SELECT count(*) FROM outreach.participant WHERE external_ref ~ '^[uk]-'")
)
# How long a begin (staging, the longest step) takes here, rolled back: kills spread over twice that.
t0=$(date +%s%N)
psql -X -q -At -d "$DT_DB" -c "BEGIN; SELECT row_count FROM outreach.export_begin('dfe'); ROLLBACK" >/dev/null
begin_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
span_ms=$(( begin_ms * 2 + 300 ))
if [ "$begin_ms" -ge 300 ]; then dt_ok "kill -9: an export of $BIG rows takes long enough to be killed in the middle (begin ${begin_ms} ms)"
else dt_fail "kill -9: the export is too quick to kill in the middle (begin ${begin_ms} ms): raise BIG"; fi

# wait_partial DIR: until the daemon's hidden temporary file appears (its rows are being written).
wait_partial() {
  local end=$((SECONDS + 60))
  while [ -z "$(lk_hidden "$1")" ] && [ "$SECONDS" -lt "$end" ]; do sleep 0.005; done
}
sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }
recipients=(dfe esfa hesa ucas)
for trial in $(seq 0 $((TRIALS - 1))); do
  r=${recipients[$((trial % 4))]}
  dir="$DT_WORK/kill-$trial"
  mkdir -p "$dir"
  if [ "$trial" -ge 4 ]; then  # (test-only reset: the recipient has had everyone already)
    q "DELETE FROM outreach.disclosure_block WHERE recipient = '$r'; ANALYZE outreach.disclosure_block" >/dev/null
  fi
  first=$(q "SELECT coalesce(max(export_id), 0) FROM outreach.export")
  dt_daemon_start "kill$trial" "$LK_CONFIG" run-once export --recipient "$r" --output-dir "$dir"
  # Four kinds of kill, in turn: while staging (a random delay shorter than a begin), while the
  # rows are written (a random delay after the temporary file appeared: 0-100 ms, 100-400 ms),
  # and late (a random delay between a begin and twice that).
  case $((trial % 4)) in
    0) delay_ms=$((RANDOM % begin_ms)); sleep_ms "$delay_ms"; when="$delay_ms ms after start" ;;
    1) wait_partial "$dir"; delay_ms=$((RANDOM % 100)); sleep_ms "$delay_ms"; when="$delay_ms ms after its file appeared" ;;
    2) wait_partial "$dir"; delay_ms=$((100 + RANDOM % 300)); sleep_ms "$delay_ms"; when="$delay_ms ms after its file appeared" ;;
    3) delay_ms=$((begin_ms + RANDOM % (span_ms - begin_ms))); sleep_ms "$delay_ms"; when="$delay_ms ms after start" ;;
  esac
  dt_daemon_kill9 "kill$trial"
  lk_wait_idle 120 || dt_fail "trial $trial: the killed daemon's session did not finish"
  what="trial $trial ($r, killed $when)"
  state=$(q "SELECT coalesce(string_agg(status, ' '), 'none') FROM outreach.export WHERE export_id > $first")
  dt_note "$what: export $state; files: $(ls -A "$dir" | sed -E 's/_[0-9]{4}_[0-9]{6,}//' | tr '\n' ' ')"
  # Visible files: each with its manifest, checksum and ledger rows (lk_py files); hidden ones may stay.
  lk_py files "$dir" --allow-hidden >"$DT_WORK/trial.log"; grep -E '^FAILED' "$DT_WORK/trial.log"
  dt_expect "$what: every visible file has its manifest, sha256 matching (and rows = ledger)" \
    "$(grep -c '^FAILED' "$DT_WORK/trial.log")" 0
  dt_expect "$what: ledger rows only for finished exports, all of each" \
    "$(q "SELECT count(*) FROM outreach.export e
          WHERE (e.export_id > $first OR e.status <> 'finished')   -- (finished earlier: see the reset above)
            AND CASE WHEN e.status = 'finished'
                     THEN e.row_count <> (SELECT count(*) FROM outreach.disclosure d WHERE d.export_id = e.export_id)
                     ELSE EXISTS (SELECT 1 FROM outreach.disclosure d WHERE d.export_id = e.export_id) END")" \
    "0"
  case $state in
    none|building) dt_ok "$what: the killed export is $state" ;;
    finished)
      name=$(q "SELECT file_name FROM outreach.export WHERE export_id > $first")
      sha=$(q "SELECT sha256 FROM outreach.export WHERE export_id > $first")
      if [ -e "$dir/$name" ]; then dt_ok "$what: killed after it was done"
      else dt_expect "$what: killed after the ledger's commit: the complete file waits hidden" \
             "$(sha256sum <"$dir/.$name.partial" 2>/dev/null | cut -d' ' -f1)" "$sha"; fi ;;
    *) dt_fail "$what: the killed export is $state" ;;
  esac
  # The re-run completes the export.
  t0=$(date +%s%N)
  lk_export "$dir" --recipient "$r"
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  dt_expect "$what: re-run: exit code 0 (${ms} ms)" "$LK_RC" 0
  lk_py files "$dir"
  dt_expect "$what: re-run: no export is left building" "$(q "SELECT count(*) FROM outreach.export WHERE status = 'building'")" 0
  if [ "$state" = building ]; then
    dt_expect "$what: re-run: the killed export is abandoned, nothing of it in the ledger" \
      "$(q "SELECT status || ': ' || error || ', ' || (SELECT count(*) FROM outreach.disclosure d WHERE d.export_id = e.export_id)
            FROM outreach.export e WHERE export_id = (SELECT min(export_id) FROM outreach.export WHERE export_id > $first)")" "abandoned: abandoned: a new export of the recipient began, 0"
  fi
  dt_expect "$what: re-run: every eligible participant is in $r's ledger exactly once" \
    "$(q "SELECT count(*) || ' ' || count(DISTINCT (controller_id, participant_id)) FROM outreach.disclosure WHERE recipient = '$r'")" \
    "${ELIGIBLE[$r]} ${ELIGIBLE[$r]}"
done
