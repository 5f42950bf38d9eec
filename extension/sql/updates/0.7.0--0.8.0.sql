-- 0.7.0 to 0.8.0: what an update must do besides re-creating every function, view, trigger,
-- comment and grant from extension/sql/current/ (which follows this file in the update script).

-- Nothing has called outcome_file_lines() since 0.6.0: outcome_import_rows() parses the files.
DROP FUNCTION outreach.outcome_file_lines(bytea, int, int, int[], text, text[], text[]);
