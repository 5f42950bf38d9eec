\echo Use "ALTER EXTENSION outreach UPDATE TO '0.4.0'" to load this file. \quit

-- 0.4.0: the daemon's contract (job leases, job history, notification channels and deliveries)
-- and linkage (recipients and layouts as data, exports, the ledger, outcome imports).
