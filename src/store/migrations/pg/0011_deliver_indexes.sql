-- 0011_deliver_indexes: the indexes retention and bulk replay need, and leaner indexes
-- for the hot path. (0010 was taken by 0010_oauth_state_user.)
--   retention    DELETE FROM ops.delivery_attempts WHERE started_at < $1
--                DELETE FROM ops.deliveries WHERE status IN ('succeeded', 'failed', 'skipped')
--                AND updated_at < $1
--   bulk replay  UPDATE ops.deliveries ... WHERE hook_id = $1 AND status = 'failed'
--                AND created_at >= $2
-- Finished messages are almost every row, and each message changes status twice (pending ->
-- sending -> finished): the claim indexes become partial (only pending, only sending rows), so
-- a finished message leaves them for good, and the retention index holds only finished rows.
-- deliveries_hook (hook_id, status, updated_at) becomes (hook_id, status, created_at): the same
-- prefix for per-hook lists, counts and disable, a range for bulk replay, and no index move
-- on every updated_at change. The queries keep the literal status tests these WHERE clauses
-- name, which is what lets both planners use a partial index.
DROP INDEX IF EXISTS ops.deliveries_due;
DROP INDEX IF EXISTS ops.deliveries_lease;
DROP INDEX IF EXISTS ops.deliveries_hook;
CREATE INDEX deliveries_due_pending ON ops.deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_lease_sending ON ops.deliveries (lease_until) WHERE status = 'sending';
CREATE INDEX deliveries_finished ON ops.deliveries (updated_at) WHERE status IN ('succeeded', 'failed', 'skipped');
CREATE INDEX deliveries_hook_created ON ops.deliveries (hook_id, status, created_at);
CREATE INDEX delivery_attempts_started ON ops.delivery_attempts (started_at);
