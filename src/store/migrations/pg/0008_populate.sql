-- 0008_populate: progress of populate runs (apply/import; an interrupted run is resumed) and
-- the per-object record of what populate last applied (external id -> plane id + hash of the
-- desired document), so unchanged objects cost no write and memberships/relations need no read.
CREATE TABLE ops.populate_runs (
    id             TEXT PRIMARY KEY,
    workspace_slug TEXT NOT NULL,
    target         TEXT NOT NULL,
    kind           TEXT NOT NULL,
    name           TEXT NOT NULL,
    instance       TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed')),
    total          BIGINT NOT NULL DEFAULT 0,
    done           BIGINT NOT NULL DEFAULT 0,
    created        BIGINT NOT NULL DEFAULT 0,
    updated        BIGINT NOT NULL DEFAULT 0,
    unchanged      BIGINT NOT NULL DEFAULT 0,
    failed         BIGINT NOT NULL DEFAULT 0,
    requests       BIGINT NOT NULL DEFAULT 0,
    started_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    finished_at    BIGINT
);
CREATE INDEX populate_runs_key ON ops.populate_runs (workspace_slug, target, kind, name, instance, started_at);

CREATE TABLE ops.populate_objects (
    workspace_slug  TEXT NOT NULL,
    target          TEXT NOT NULL,
    kind            TEXT NOT NULL,
    external_source TEXT NOT NULL,
    external_id     TEXT NOT NULL,
    plane_id        TEXT NOT NULL,
    applied_hash    TEXT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (workspace_slug, target, kind, external_source, external_id)
);
