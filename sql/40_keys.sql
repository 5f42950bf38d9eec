-- Keys: rotation, and every way a key file can be unusable. The keys here are generated at run
-- time by the server; none is ever printed.
SET search_path = regress, outreach, public;
SELECT current_setting('regress.keydir') AS keydir \gset
\set rotate :keydir '/rotate.keys'
SELECT regress.random_key() AS k1, regress.random_key() AS k2 \gset

-- Version 1 signs while it is the only one.
SELECT regress.write_key_file('rotate.keys', 'linkage 1 ' || :'k1');
SET outreach.key_file = :'rotate';
CREATE TABLE before_rotation AS
SELECT n, outreach.pseudonymise('Ann' || n, 'Smith', '2007-03-01', 'SW1A 1AA') AS p FROM generate_series(1, 3) AS n;
SELECT n, outreach.pseudo_id_key_version(p) AS version FROM before_rotation ORDER BY n;

-- Rotation: version 2 is added. New pseudonyms use it; version-1 ones are still recognised.
SELECT regress.write_key_file('rotate.keys', 'linkage 1 ' || :'k1' || E'\n' || 'linkage 2 ' || :'k2');
SELECT n, outreach.pseudo_id_key_version(outreach.pseudonymise('Ann' || n, 'Smith', '2007-03-01', 'SW1A 1AA')) AS new_version,
       outreach.pseudo_id_matches(p, 'Ann' || n, 'Smith', '2007-03-01', 'SW1A 1AA') AS old_recognised,
       outreach.pseudo_id_matches(p, 'Ann' || n, 'Smyth', '2007-03-01', 'SW1A 1AA') AS other_person,
       outreach.pseudonymise('Ann' || n, 'Smith', '2007-03-01', 'SW1A 1AA') = p AS same_value
FROM before_rotation ORDER BY n;

-- Once version 1 is retired from the file, its pseudonyms cannot be checked any more.
SELECT regress.write_key_file('rotate.keys', 'linkage 2 ' || :'k2');
SELECT regress.try(format('SELECT outreach.pseudo_id_matches(%L, %L, %L, %L, %L)::text',
                          p, 'Ann1', 'Smith', '2007-03-01', 'SW1A 1AA'))
FROM before_rotation WHERE n = 1;

-- Unusable key files: clear errors (F0000 / 42704), never a silent default key, never the key.
CREATE FUNCTION regress.pseudonymise_with(key_file text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('outreach.key_file', key_file, true);
  RETURN regress.try($q$SELECT outreach.pseudonymise('Ann', 'Smith', '2007-03-01', 'SW1A 1AA')::text$q$);
END $$;
SELECT written FROM (VALUES
  (regress.write_key_file('group-readable.keys', 'linkage 1 ' || :'k1', '640')),
  (regress.write_key_file('world-readable.keys', 'linkage 1 ' || :'k1', '604')),
  (regress.write_key_file('short.keys', 'linkage 1 ' || left(:'k1', 40))),
  (regress.write_key_file('other-scope.keys', 'other 1 ' || :'k1')),
  (regress.write_key_file('extra-field.keys', 'linkage 1 ' || :'k1' || ' extra')),
  (regress.write_key_file('odd-hex.keys', 'linkage 1 ' || :'k1' || 'f')),
  (regress.write_key_file('not-hex.keys', 'linkage 1 ' || left(:'k1', 62) || 'zz')),
  (regress.write_key_file('version-zero.keys', 'linkage 0 ' || :'k1')),
  (regress.write_key_file('duplicate.keys', 'linkage 1 ' || :'k1' || E'\nlinkage 1 ' || :'k2')),
  (regress.write_key_file('empty.keys', '# only a comment'))
) AS t(written);
SELECT file, regress.pseudonymise_with(:'keydir' || '/' || file) AS result
FROM (VALUES ('group-readable.keys'), ('world-readable.keys'), ('short.keys'), ('other-scope.keys'),
             ('extra-field.keys'), ('odd-hex.keys'), ('not-hex.keys'), ('version-zero.keys'), ('duplicate.keys'),
             ('empty.keys'), ('missing.keys')) AS t(file);
SET outreach.key_file = 'relative/path.keys';
SELECT regress.try($$SELECT outreach.pseudonymise('Ann', 'Smith', '2007-03-01', 'SW1A 1AA')::text$$);
SET outreach.key_file = '';
SELECT regress.try($$SELECT outreach.pseudonymise('Ann', 'Smith', '2007-03-01', 'SW1A 1AA')::text$$);

-- A file that becomes readable by others stops working at once (no stale cached keys).
SET outreach.key_file = :'rotate';
SELECT outreach.pseudo_id_key_version(outreach.pseudonymise('Ann', 'Smith', '2007-03-01', 'SW1A 1AA')) AS works;
SELECT regress.write_key_file('rotate.keys', 'linkage 2 ' || :'k2', '644');
SELECT regress.try($$SELECT outreach.pseudonymise('Ann', 'Smith', '2007-03-01', 'SW1A 1AA')::text$$);
RESET outreach.key_file;
