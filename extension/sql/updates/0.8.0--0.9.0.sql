-- 0.8.0 to 0.9.0: what an update must do besides re-creating every function, view, trigger,
-- comment and grant from extension/sql/current/ (which follows this file in the update script).

-- progression_summary is now read from report_progression() (rounded and suppressed; withdrawn
-- and restricted participants left out); its text columns no longer carry the "C" collation of
-- the blocks, which CREATE OR REPLACE VIEW cannot change.
DROP VIEW outreach.progression_summary;
