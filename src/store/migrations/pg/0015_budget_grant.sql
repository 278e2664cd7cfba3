-- 0015_budget_grant: cross-process reservations on the shared upstream budget. A governor
-- takes requests from ops.sync_budget.remaining before sending them (UPDATE ... RETURNING
-- last_grant: how many of those asked for were granted), so processes sharing one store
-- cannot together send more than the upstream announced; and only the process holding
-- probe_until (a short lease) sends the probe that opens the next window, so processes waiting
-- for the same reset do not all probe at once.
ALTER TABLE ops.sync_budget ADD COLUMN last_grant INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ops.sync_budget ADD COLUMN probe_until BIGINT NOT NULL DEFAULT 0;
