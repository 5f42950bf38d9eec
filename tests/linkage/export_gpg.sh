#!/usr/bin/env bash
# An export to a recipient with an OpenPGP public key: a throwaway key pair (no passphrase, in a
# temporary GNUPGHOME), hesa's public key set with outreach.define_recipient, then
# outreachd run-once export --recipient hesa:
#  - the file is encrypted to that key (gpg --list-packets), holds no plain text (no surname
#    appears in any file of the directory), decrypts with the private key to a valid CSV whose
#    rows are the ledger's, and its name ends in .gpg;
#  - the manifest's sha256 is the encrypted file's (sha256sum -c), modes 0600, no temporary
#    plain-text file left behind, no throwaway gpg home left in /tmp;
#  - a key gpg cannot use, and gpg missing from PATH: exit 1 with a message that says so, the
#    export abandoned, nothing visible or hidden left in the directory, the ledger unchanged.
# Needs gpg (Debian's gnupg); skipped with a note when it is missing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v gpg >/dev/null || { echo "# linkage gpg: gpg is not installed (Debian package gnupg): skipped"; exit 0; }
lk_begin "linkage gpg" ltest-gpg 55504
GH="$DT_WORK/gnupg"
trap 'rc=$?; gpgconf --homedir "$GH" --kill all >/dev/null 2>&1; (exit $rc); dt_end' EXIT
mkdir -m 700 "$GH"

uid="Outreach Test Recipient <ltest@example.invalid>"
if gpg --homedir "$GH" --batch --quiet --passphrase '' --quick-gen-key "$uid" future-default default never \
     >"$DT_WORK/gpg-keygen.log" 2>&1 &&
   gpg --homedir "$GH" --batch --armor --export "$uid" >"$DT_WORK/recipient.asc" 2>>"$DT_WORK/gpg-keygen.log"; then
  dt_ok "a throwaway key pair without passphrase ($(gpg --homedir "$GH" --batch --with-colons --list-keys "$uid" 2>/dev/null | awk -F: '$1 == "sub" { print "encryption subkey " $5 }'))"
else
  dt_fail "gpg --quick-gen-key: $(tail -3 "$DT_WORK/gpg-keygen.log" | tr '\n' ' ')"; exit 1
fi
subkey=$(gpg --homedir "$GH" --batch --with-colons --list-keys "$uid" 2>/dev/null | awk -F: '$1 == "sub" { print $5; exit }')

lk_member lka
#         member ref   forename surname      cohort postcode   sex
lk_person lka g1       Gia      Greenfield   0      'SW1A 1AA' F
lk_person lka g2       Gus      Goldsmith    -1     'M1 1AE'   M
lk_person lka g3       Gil      "Grey, \"G\"" -2    ''         ''
q "ANALYZE outreach.participant" >/dev/null
key=$(cat "$DT_WORK/recipient.asc")
q "SELECT outreach.define_recipient('hesa', pgp_public_key => '$key')" >/dev/null || { dt_fail "define_recipient with the key"; exit 1; }

gpg_homes() { find /tmp -maxdepth 1 -name 'outreachd-gpg-*' 2>/dev/null | sort; }
homes_before=$(gpg_homes)
dir="$DT_WORK/encrypted"
mkdir -p "$dir" && lk_export "$dir" --recipient hesa
dt_expect "export to hesa with its public key: exit code 0" "$LK_RC" 0
file=$(lk_visible "$dir" | grep -v '\.manifest\.json$')
dt_expect "one file and its manifest" "$(lk_visible "$dir" | wc -l) $(lk_visible "$dir" | grep -c '\.manifest\.json$')" "2 1"
case $file in
  *.gpg) dt_ok "the encrypted file's name ends in .gpg ($file)" ;;
  *) dt_fail "the encrypted file's name does not end in .gpg: $file (export_begin's file_name; see the report)" ;;
esac
if gpg --homedir "$GH" --batch --list-packets "$dir/$file" 2>/dev/null | grep -q "pubkey enc packet: .*keyid $subkey"; then
  dt_ok "the file is an OpenPGP message encrypted to the recipient's key ($subkey)"
else
  dt_fail "the file is not encrypted to $subkey: $(head -c 60 "$dir/$file" | od -c | head -2 | tr '\n' ' ')"
fi
if grep -rlaE 'Greenfield|Goldsmith|Grey|FNAMES' "$dir" >/dev/null; then
  dt_fail "plain text in the directory: $(grep -rlaE 'Greenfield|Goldsmith|Grey|FNAMES' "$dir" | tr '\n' ' ')"
else
  dt_ok "no file in the directory holds plain text (no surname, no header)"
fi
# Manifest, modes, sha256sum -c, export and ledger; decrypted: RFC 4180, header, rows = ledger.
lk_py files "$dir" --gpg-home "$GH"
dt_expect "decrypted, it holds the three participants" \
  "$(gpg --homedir "$GH" --batch --quiet --decrypt "$dir/$file" 2>/dev/null | cut -d, -f3 | tr -d '\r' | tr '\n' ' ')" \
  'SURNAME Greenfield Goldsmith "Grey '
dt_expect "no throwaway gpg home left in /tmp" "$(comm -13 <(echo "$homes_before") <(gpg_homes))" ""

# --- encryption fails ------------------------------------------------------------------------------
encryption_fails() {  # encryption_fails WHAT MESSAGE_REGEX [env ...]: exit 1, abandoned, nothing left
  local what=$1 message=$2 d="$DT_WORK/fails-$RANDOM" before
  shift 2
  q "UPDATE outreach.participant SET postcode = 'B$((RANDOM % 90 + 1)) 1AA' WHERE external_ref = 'g1'" >/dev/null
  before=$(q "SELECT count(*) FROM outreach.disclosure")
  mkdir -p "$d"
  env "$@" "$OUTREACHD" --config "$LK_CONFIG" run-once export --recipient hesa --output-dir "$d" \
    >"$DT_WORK/fails.out" 2>"$DT_WORK/fails.err"
  dt_expect "$what: exit code 1" "$?" 1
  if grep -qE -- "$message" "$DT_WORK/fails.err"; then dt_ok "$what: the error says so ($(grep -oE -- "$message" "$DT_WORK/fails.err" | head -1))"
  else dt_fail "$what: the error does not match /$message/: $(tail -2 "$DT_WORK/fails.err" | tr '\n' ' ')"; fi
  dt_expect "$what: nothing left in the directory, visible or hidden" "$(ls -A "$d" | tr '\n' ' ')" ""
  dt_expect "$what: the export is abandoned, the ledger unchanged" \
    "$(q "SELECT status || ' ' || (error IS NOT NULL) FROM outreach.export ORDER BY export_id DESC LIMIT 1") $(q "SELECT count(*) FROM outreach.disclosure")" \
    "abandoned true $before"
}
bad_key=$'-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nbm90IGEga2V5IGF0IGFsbA==\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----'
q "SELECT outreach.define_recipient('hesa', pgp_public_key => '$bad_key')" >/dev/null
encryption_fails "a key gpg cannot use" "gpg could not encrypt"
q "SELECT outreach.define_recipient('hesa', pgp_public_key => '$key')" >/dev/null
encryption_fails "gpg missing from PATH" "gnupg" PATH=/nonexistent
dt_expect "no throwaway gpg home left in /tmp after the failures" "$(comm -13 <(echo "$homes_before") <(gpg_homes))" ""
