-- 0004_deliver: outbound deliveries (subscriptions, per-outbox-row fan-out progress,
-- one message per subscription and event, every attempt). Times are BIGINT microseconds.

-- Subscriptions ("hooks"). The signing secret lives in the vault under secret_name; during a
-- rotation the previous one stays valid (also signs) until old_secret_until.
CREATE TABLE ops.hooks (
    id               TEXT PRIMARY KEY,
    workspace_slug   TEXT NOT NULL,
    project_id       TEXT,
    url              TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    format           TEXT NOT NULL CHECK (format IN ('standard', 'slack', 'pumble', 'plane')),
    event_mode       TEXT NOT NULL DEFAULT 'all' CHECK (event_mode IN ('all', 'individual')),
    events           TEXT NOT NULL DEFAULT '',
    active           INTEGER NOT NULL DEFAULT 1,
    disabled_reason  TEXT,
    secret_name      TEXT NOT NULL,
    old_secret_name  TEXT,
    old_secret_until BIGINT,
    failing_since    BIGINT,
    max_inflight     INTEGER NOT NULL DEFAULT 16,
    min_interval_ms  INTEGER NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX hooks_ws ON ops.hooks (workspace_slug, active);

-- Fan-out progress: one row per ops.outbox row already turned into deliveries, written in
-- the same transaction as those deliveries.
CREATE TABLE ops.outbox_fanout (
    outbox_id  BIGINT PRIMARY KEY,
    fanned_at  BIGINT NOT NULL,
    deliveries INTEGER NOT NULL DEFAULT 0
);

-- Small key/value state of the dispatcher (the fan-out low watermark).
CREATE TABLE ops.deliver_state (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);

-- One message per (subscription, event[, changed field for the plane format]).
-- msg_id is the webhook-id: stable across retries and replays.
CREATE TABLE ops.deliveries (
    id              BIGSERIAL PRIMARY KEY,
    msg_id          TEXT NOT NULL UNIQUE,
    hook_id         TEXT NOT NULL,
    outbox_id       BIGINT,
    event_type      TEXT NOT NULL,
    workspace_slug  TEXT NOT NULL,
    object_id       TEXT,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'succeeded', 'failed', 'skipped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    manual          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    leased_by       TEXT,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX deliveries_due ON ops.deliveries (status, next_attempt_at);
CREATE INDEX deliveries_lease ON ops.deliveries (status, lease_until);
CREATE INDEX deliveries_hook ON ops.deliveries (hook_id, status, updated_at);

-- Every attempt: the delivery log.
CREATE TABLE ops.delivery_attempts (
    id              BIGSERIAL PRIMARY KEY,
    delivery_id     BIGINT NOT NULL,
    msg_id          TEXT NOT NULL,
    hook_id         TEXT NOT NULL,
    attempt         INTEGER NOT NULL,
    trigger_kind    TEXT NOT NULL,
    started_at      BIGINT NOT NULL,
    duration_ms     INTEGER NOT NULL,
    http_status     INTEGER NOT NULL DEFAULT 0,
    outcome         TEXT NOT NULL,
    error           TEXT,
    response        TEXT,
    next_attempt_at BIGINT
);
CREATE INDEX delivery_attempts_hook ON ops.delivery_attempts (hook_id, started_at);
CREATE INDEX delivery_attempts_msg ON ops.delivery_attempts (msg_id, started_at);
