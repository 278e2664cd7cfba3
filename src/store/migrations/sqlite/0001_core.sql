-- 0001_core (SQLite): same tables as pg/0001_core.sql; "schema." becomes a "schema_" prefix.
-- Timestamps are INTEGER microseconds since the epoch (UTC); flags are INTEGER 0/1.



CREATE TABLE work_plane.installations (
    id               TEXT PRIMARY KEY,
    workspace_slug   TEXT NOT NULL UNIQUE,
    space_id         TEXT NOT NULL UNIQUE,
    upstream_url     TEXT,
    auth_kind        TEXT NOT NULL DEFAULT 'none' CHECK (auth_kind IN ('none', 'api_key', 'oauth')),
    writeback_policy TEXT NOT NULL DEFAULT 'disabled' CHECK (writeback_policy IN ('disabled', 'explicit', 'enabled')),
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);

CREATE TABLE work_plane.tokens_ref (
    workspace_slug TEXT NOT NULL,
    user_ref       TEXT NOT NULL DEFAULT '',
    purpose        TEXT NOT NULL,
    vault_name     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (workspace_slug, user_ref, purpose)
);

CREATE TABLE work_plane.projects (
    plane_id        TEXT PRIMARY KEY,
    workspace_slug  TEXT NOT NULL,
    identifier      TEXT NOT NULL,
    name            TEXT NOT NULL,
    seq_counter     BIGINT NOT NULL DEFAULT 0,
    external_source TEXT,
    external_id     TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    archived_at     BIGINT,
    deleted_at      BIGINT,
    synced_at       BIGINT,
    raw             TEXT NOT NULL
);
CREATE INDEX projects_ws ON work_plane.projects (workspace_slug, created_at);
CREATE UNIQUE INDEX projects_ws_ident ON work_plane.projects (workspace_slug, identifier) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX projects_ws_name ON work_plane.projects (workspace_slug, name) WHERE deleted_at IS NULL;

-- Work items, states, labels, cycles, modules, comments, links, relations, activities,
-- members, intake… one table with an item_type discriminator and the columns queries need.
CREATE TABLE work_plane.items (
    plane_id        TEXT PRIMARY KEY,
    item_type       TEXT NOT NULL,
    workspace_slug  TEXT NOT NULL,
    project_id      TEXT,
    parent_id       TEXT,
    sequence_id     BIGINT,
    state_id        TEXT,
    state_group     TEXT,
    priority        TEXT,
    name            TEXT,
    sort_order      REAL,
    external_source TEXT,
    external_id     TEXT,
    created_by      TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    archived_at     BIGINT,
    deleted_at      BIGINT,
    synced_at       BIGINT,
    raw             TEXT NOT NULL
);
CREATE INDEX items_list ON work_plane.items (project_id, item_type, created_at);
CREATE INDEX items_updated ON work_plane.items (project_id, item_type, updated_at);
CREATE INDEX items_ws_type ON work_plane.items (workspace_slug, item_type, updated_at);
CREATE INDEX items_parent ON work_plane.items (parent_id, item_type);
CREATE INDEX items_seq ON work_plane.items (project_id, item_type, sequence_id);
CREATE INDEX items_external ON work_plane.items (project_id, item_type, external_source, external_id);

-- Many-to-many references of an item: assignees, labels, cycle and module membership…
CREATE TABLE work_plane.item_refs (
    item_id    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    ref_id     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (item_id, kind, ref_id)
);
CREATE INDEX item_refs_ref ON work_plane.item_refs (kind, ref_id);

CREATE TABLE work_plane.pages (
    plane_id       TEXT PRIMARY KEY,
    workspace_slug TEXT NOT NULL,
    project_id     TEXT,
    name           TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    deleted_at     BIGINT,
    synced_at      BIGINT,
    raw            TEXT NOT NULL
);
CREATE INDEX pages_project ON work_plane.pages (project_id, updated_at);

-- Per workspace and resource (and scope, e.g. a project): sync watermark and reconciliation state.
CREATE TABLE work_plane.events_cursor (
    workspace_slug TEXT NOT NULL,
    resource       TEXT NOT NULL,
    scope_id       TEXT NOT NULL DEFAULT '',
    watermark      BIGINT,
    watermark_ids  TEXT,
    next_page      INTEGER NOT NULL DEFAULT 0,
    phase          TEXT NOT NULL DEFAULT 'idle',
    reconciled_at  BIGINT,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (workspace_slug, resource, scope_id)
);

CREATE TABLE ops.event_queue (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    source          TEXT NOT NULL,
    workspace_slug  TEXT NOT NULL,
    object_type     TEXT,
    object_id       TEXT,
    received_at     BIGINT NOT NULL,
    body            BLOB NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'leased', 'done', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL DEFAULT 0,
    lease_until     BIGINT,
    leased_by       TEXT,
    last_error      TEXT,
    done_at         BIGINT
);
CREATE INDEX event_queue_ready ON ops.event_queue (status, next_attempt_at);

CREATE TABLE ops.run_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    at              BIGINT NOT NULL,
    source          TEXT NOT NULL,
    workspace_slug  TEXT,
    action          TEXT NOT NULL,
    target          TEXT,
    upstream_status INTEGER,
    actor           TEXT,
    detail          TEXT
);
CREATE INDEX run_events_ws ON ops.run_events (workspace_slug, at);

-- Domain events (DESIGN.md §4), written in the same transaction as the change they describe.
CREATE TABLE ops.outbox (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id       TEXT NOT NULL UNIQUE,
    type           TEXT NOT NULL,
    workspace_slug TEXT NOT NULL,
    project_id     TEXT,
    object_id      TEXT,
    occurred_at    BIGINT NOT NULL,
    payload        TEXT NOT NULL
);
CREATE INDEX outbox_ws ON ops.outbox (workspace_slug, id);
