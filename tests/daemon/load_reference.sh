#!/usr/bin/env bash
# `outreachd load-reference`: the synthetic samples (docs/samples/area_lookups/) loaded through a
# real daemon process and server, in chunks, as the daemon's role (not a superuser):
#   - every sample loads; the ONSPD sample's ZZ99 9ZZ line is listed with its number (exit 3);
#   - a file of 200,000 lines crosses several 16 MB chunks: lines keep their numbers across
#     chunk boundaries, one over-long line (3 MB) is reported at its number and the rest kept;
#   - a wrong header: exit 1, the message names the expected and found names, nothing changes;
#   - a profile then resolves from what was loaded.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SAMPLES="$REPO_ROOT/docs/samples/area_lookups"

dt_begin load_reference dtest-lookups 55477
dt_config "$DT_WORK/outreachd.toml"
load() { "$OUTREACHD" --config "$DT_WORK/outreachd.toml" load-reference "$@" >"$DT_WORK/out.txt" 2>"$DT_WORK/err.txt"; echo $?; }

rc=$(load --kind onspd "$SAMPLES/onspd_sample.csv")
dt_expect "ONSPD sample: exit 3 with line 18 (ZZ99 9ZZ) listed" \
  "$rc $(grep -c '^onspd_sample.csv:18: invalid_postcode' "$DT_WORK/out.txt")" "3 1"
for f in polar4_msoa_sample:polar4 tundra_msoa_sample:tundra tundra_lsoa_sample:tundra imd2019_sample:imd imd2025_sample:imd; do
  rc=$(load --kind "${f#*:}" "$SAMPLES/${f%%:*}.csv")
  dt_expect "${f%%:*}: exit 0 and a summary" "$rc $(grep -c ': load [0-9]* of ' "$DT_WORK/out.txt")" "0 1"
done
dt_expect "what was loaded" "$(q "SELECT string_agg(kind || coalesce('/' || vintage, '') || ':' || lines_loaded, ' ' ORDER BY load_id) FROM outreach.area_lookup_load")" \
  "onspd:16 polar4:7 tundra:6 tundra:12 imd/2019:12 imd/2025:12"
dt_expect "a profile resolves from the loaded files" \
  "$(q "SELECT status || ' ' || imd2019_decile || ' ' || imd2025_decile FROM outreach.area_profile('AB1 0AE', '2024-01-01')")" "resolved 4 7"

# A large file in several chunks, with one over-long line (line 100001) and a bad one (150001).
big="$DT_WORK/big_polar4.csv"
$PY - "$big" <<'PY'
import sys
with open(sys.argv[1], 'w', newline='') as f:
    f.write('MSOA11CD,POLAR4 quintile,note\r\n')
    for i in range(2, 200002):
        if i == 100001:
            f.write('E02' + 'X' * (3 * 1024 * 1024) + ',1,x\r\n')
        elif i == 150001:
            f.write('E02%06d,7,%s\r\n' % (i, 'y' * 80))
        else:
            f.write('E02%06d,%d,%s\r\n' % (i, i % 5 + 1, 'y' * 80))
PY
rc=$(load --kind polar4 "$big")
dt_expect "large file: exit 3, exactly the two bad lines listed by number" \
  "$rc $(grep -v ': load ' "$DT_WORK/out.txt" | cut -d: -f2 | tr '\n' ' ')" "3 100001 150001 "
dt_expect "large file: the other 199,998 lines loaded" "$(q "SELECT count(*) FROM outreach.polar4_area")" "199998"
dt_expect "large file: it crossed chunk boundaries (over 16 MB)" "$(( $(stat -c %s "$big") > 16 * 1024 * 1024 ))" "1"

# A wrong header: refused whole, exit 1, the expected and found names in the message.
printf 'MSOA code 2011,POLAR3 quintile\r\nE02000001,1\r\n' >"$DT_WORK/polar3.csv"
rc=$(load --kind polar4 "$DT_WORK/polar3.csv")
dt_expect "wrong header: exit 1 naming expected and found names (22P04)" \
  "$rc $(grep -c 'expected "POLAR4 quintile".*found "MSOA code 2011,POLAR3 quintile".*22P04' "$DT_WORK/err.txt")" "1 1"
dt_expect "wrong header: the edition loaded before is kept" "$(q "SELECT count(*) FROM outreach.polar4_area")" "199998"
# A file whose every line but the last is wrong: each one listed, in order (the daemon reads the
# report through a cursor, 10,000 lines at a time, so its memory does not grow with the list).
# (A file with no loadable line at all is refused whole, the edition before kept.)
python3 - "$DT_WORK/allbad.csv" <<'PY'
import sys
with open(sys.argv[1], 'w', newline='') as f:
    f.write('MSOA11CD,POLAR4 quintile\r\n')
    for i in range(2, 25002):
        f.write('E02%06d,9\r\n' % i)
    f.write('E02999999,3\r\n')
PY
rc=$(load --kind polar4 "$DT_WORK/allbad.csv")
dt_expect "25,000 wrong lines: exit 3, all listed by number in order (three report pages)" \
  "$rc $(grep -c '^allbad.csv:[0-9]*: ' "$DT_WORK/out.txt") $(grep '^allbad.csv:[0-9]*: ' "$DT_WORK/out.txt" | cut -d: -f2 | sort -c -n && echo sorted)" \
  "3 25000 sorted"
rc=$(load --kind census "$DT_WORK/polar3.csv")
dt_expect "unknown kind: exit 1" "$rc" "1"
