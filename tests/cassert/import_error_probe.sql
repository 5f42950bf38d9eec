-- Appended by tests/cassert/run.sh to sql/85_linkage.sql as far as its "damaged block" test
-- (members, participants, exports to dfe and outcomes held in blocks are then set up; psql's
-- :lk_a and pg_temp.ref() come from there).
--
-- A PostgreSQL error raised inside guard() inside an executor callback of the outcome import
-- (extension/src/pg/outcome_import.cpp: merge_blocks' on_row -> put_block ->
-- tuplestore_putvalues): the copied ErrorData must reach the client intact. guard() copies it
-- into the memory context current in the callback, the executor's per-query context, which
-- SPI frees when the stopped query ends, before invoke() re-throws it. An assertion-enabled
-- server clobbers freed memory (0x7F bytes), so there the message arrives destroyed.
\echo PROBE
\set VERBOSITY default
BEGIN;
-- 20000 more (synthetic) facts in member A's block for dfe, after its own in key order, so
-- that the merged block is a result row of about a megabyte.
UPDATE outreach.outcome_block b SET
  participant_ids = participant_ids || ARRAY(SELECT (block::bigint << 16) + 40000 + g FROM generate_series(1, 20000) g),
  outcomes = outcomes || array_fill('ks4'::text, ARRAY[20000]),
  academic_years = academic_years || array_fill(2022, ARRAY[20000]),
  measures = measures || array_fill('attainment8'::text, ARRAY[20000]),
  provider_ukprns = provider_ukprns || array_fill(0, ARRAY[20000]),
  provider_names = provider_names || array_fill(NULL::text, ARRAY[20000]),
  outcome_values = outcome_values || array_fill('50'::text, ARRAY[20000]),
  import_ids = import_ids || array_fill(import_ids[1], ARRAY[20000]),
  line_nos = line_nos || array_fill(2, ARRAY[20000]),
  updated_ats = updated_ats || array_fill(updated_ats[1], ARRAY[20000])
WHERE controller_id = :lk_a AND recipient = 'dfe' AND block = 0;
-- The result rows spill to a temporary file, which may not grow beyond 64 kB: the write of the
-- block's row fails with 53400 inside the callback.
ALTER FUNCTION outreach.import_outcomes(text, text, bytea) SET work_mem = '64kB';
SET LOCAL temp_file_limit = '64kB';
SELECT regress.try(format($$SELECT count(*)::text FROM outreach.import_outcomes('dfe', 'spill.csv', %L)$$,
         convert_to(E'PupilReference,KeyStage,AcademicYear,Measure,Value\r\n' || pg_temp.ref('a-adult') || E',KS4,2021,attainment8,41\r\n', 'UTF8')))
       AS import_error;
ROLLBACK;
