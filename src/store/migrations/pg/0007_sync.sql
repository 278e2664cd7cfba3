-- 0007_sync: the upstream rate governor's shared budget (one row per upstream key, shared by
-- every planebridge process on one store) and a sync run log for `planebridge sync` / verify.
-- upstream_key is a hash of (upstream URL, API key), never the key itself.
CREATE TABLE ops.sync_budget (
    upstream_key  TEXT PRIMARY KEY,
    lim           INTEGER NOT NULL DEFAULT 0,
    remaining     INTEGER NOT NULL DEFAULT -1,
    reset_at      BIGINT NOT NULL DEFAULT 0,
    blocked_until BIGINT NOT NULL DEFAULT 0,
    observed_at   BIGINT NOT NULL DEFAULT 0,
    requests      BIGINT NOT NULL DEFAULT 0,
    throttled     BIGINT NOT NULL DEFAULT 0
);
