\echo Use "ALTER EXTENSION outreach UPDATE TO '0.5.0'" to load this file. \quit

-- 0.5.0: faster linkage exports. Records are written by one C function per row
-- (export_line), staged in blocks of participants, and the disclosure ledger is kept in the
-- same blocks (outreach.disclosure_block; outreach.disclosure is now a view of it).
