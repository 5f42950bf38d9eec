-- The benchmark's own helpers, in schema bench (not part of the extension).
\set ON_ERROR_STOP on
CREATE SCHEMA IF NOT EXISTS bench;

-- One row per step of a timed sweep: the prepare statement and each batch, with the time the
-- step's statement took. A batch's row locks are held from its statement until the COMMIT
-- right after it, so a batch's duration is how long it holds members' rows.
CREATE TABLE bench.sweep_step (
  run_id bigint,
  step int,
  kind text,
  rows bigint,
  started_at timestamptz,
  finished_at timestamptz
);

-- outreach.retention_sweep, step for step, with each step timed.
CREATE PROCEDURE bench.timed_sweep(as_of date, batch_size int)
LANGUAGE plpgsql
AS $$
DECLARE
  run bigint;
  taken int;
  t0 timestamptz;
  i int := 0;
BEGIN
  t0 := clock_timestamp();
  run := outreach.retention_sweep_prepare(as_of);
  INSERT INTO bench.sweep_step VALUES (run, 0, 'prepare', NULL, t0, clock_timestamp());
  COMMIT;
  LOOP
    i := i + 1;
    t0 := clock_timestamp();
    taken := outreach.retention_sweep_batch(run, batch_size);
    INSERT INTO bench.sweep_step VALUES (run, i, 'batch', taken, t0, clock_timestamp());
    COMMIT;
    EXIT WHEN taken = 0;
  END LOOP;
  PERFORM outreach.retention_run_finish(run);
  COMMIT;
END
$$;
