-- RFC 4180 CSV for linkage files: the exports to DfE, ESFA, HESA and UCAS and the outcome files
-- they return (extension/src/core/csv.hpp has the rules). Pure utilities: EXECUTE stays with
-- PUBLIC.

CREATE OR REPLACE FUNCTION outreach.csv_record(fields text[]) RETURNS text
  AS 'MODULE_PATHNAME', 'csv_record' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.csv_record(text[]) IS
  'one RFC 4180 CSV record (no line terminator) of a one-dimensional array: a field is quoted only '
  'when it contains a comma, double quote, CR or LF, begins or ends with a space or begins with '
  'U+FEFF; quotes are doubled; NULL and empty elements are written empty (a record of one empty '
  'field as "")';

CREATE OR REPLACE FUNCTION outreach.csv_records(content bytea)
  RETURNS TABLE (line_no integer, fields text[], error text, terminated boolean)
  AS 'MODULE_PATHNAME', 'csv_records' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000;
COMMENT ON FUNCTION outreach.csv_records(bytea) IS
  'the records of an RFC 4180 CSV file (UTF-8, LF or CRLF, optional byte order mark), one row per '
  'record with the physical line it starts on; a bad record has fields NULL and error set and '
  'reading resumes at the next line; terminated is false for a last line without a line '
  'terminator (a possible truncation); empty fields are empty strings, never NULL';
