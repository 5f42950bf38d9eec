\echo Use "ALTER EXTENSION outreach UPDATE TO '0.7.0'" to load this file. \quit

-- 0.7.0: the member boundary hardened. No member, and no role without access, can stop the
-- service for everyone (impossible dates, held locks), poison a backup, learn what it may not
-- read (audit side effects, plans, NOTIFY payloads) or exhaust a backend.
