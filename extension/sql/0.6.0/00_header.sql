\echo Use "ALTER EXTENSION outreach UPDATE TO '0.6.0'" to load this file. \quit

-- 0.6.0: faster outcome imports. Outcome facts are kept in blocks of participants
-- (outreach.outcome_block; outreach.outcome is now a view of it), and an outcome file is
-- parsed, matched through the ledger, judged and merged with the facts held by one C++ pass
-- (outcome_import_rows).
