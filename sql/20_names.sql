-- Name normalisation: NFKD, marks removed, case-folded, letters and digits of any script.
SELECT input, outreach.normalise_name(input) AS normalised
FROM (VALUES ('O''Brien'), ('Zoë'), ('Siân'), ('Mary-Jane'), ('  Mary  Jane  '), ('MÜLLER'), ('Straße'),
             ('José María'), ('Nguyễn'), ('Đặng'), ('Ørsted'), ('ﬁnn'), ('ＡＢＣ'), ('王芳'), ('محمد'),
             ('Σωκράτης'), ('Дмитрий'), ('Łukasz'), ('Ǆemal'), ('Anne-Marie 2nd'), ('!!!'), (''),
             ('😀Amy😀')) AS t(input);

-- Composed and decomposed spellings of the same name agree.
SELECT outreach.normalise_name(normalize('Zoë Siân', NFC)) = outreach.normalise_name(normalize('Zoë Siân', NFD)) AS nfc_equals_nfd,
       outreach.normalise_name(NULL) IS NULL AS strict;

-- Scripts other than Latin are kept, never collapsed to empty.
SELECT input, length(outreach.normalise_name(input)) > 0 AS kept
FROM (VALUES ('王芳'), ('محمد'), ('नमस्ते'), ('김민준'), ('ひらがな'), ('עברית')) AS t(input);

-- A value stored out of line (TOAST) is read whole, not as its TOAST pointer.
CREATE TEMP TABLE long_names (n text);
ALTER TABLE long_names ALTER COLUMN n SET STORAGE EXTERNAL;
INSERT INTO long_names SELECT repeat('Ab', 1500);
SELECT length(outreach.normalise_name(n)) AS normalised_length FROM long_names;
