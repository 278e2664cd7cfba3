-- 0002_auth: security core (users, members, API keys, usage, rate buckets, vault, OAuth state).
-- Workspaces are work_plane.installations rows; this adds their display name.
ALTER TABLE work_plane.installations ADD COLUMN name TEXT NOT NULL DEFAULT '';

CREATE TABLE ops.users (
    id           TEXT PRIMARY KEY,
    email        TEXT NOT NULL UNIQUE,
    first_name   TEXT NOT NULL DEFAULT '',
    last_name    TEXT NOT NULL DEFAULT '',
    display_name TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

-- Plane's workspace roles: 20 admin, 15 member, 5 guest.
CREATE TABLE ops.workspace_members (
    workspace_slug TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    role           INTEGER NOT NULL CHECK (role IN (5, 15, 20)),
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (workspace_slug, user_id)
);
CREATE INDEX workspace_members_user ON ops.workspace_members (user_id);

-- Only the SHA-256 of a key is stored, never the key.
CREATE TABLE ops.api_keys (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL,
    name           TEXT NOT NULL DEFAULT '',
    prefix         TEXT NOT NULL,
    key_hash       TEXT NOT NULL UNIQUE,
    scopes         TEXT NOT NULL,
    workspace_slug TEXT NOT NULL DEFAULT '',
    project_id     TEXT NOT NULL DEFAULT '',
    rate_limit     INTEGER NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT,
    revoked_at     BIGINT,
    rotated_to     TEXT,
    rotated_from   TEXT,
    last_used_at   BIGINT
);
CREATE INDEX api_keys_user ON ops.api_keys (user_id);

CREATE TABLE ops.api_usage (
    id         BIGSERIAL PRIMARY KEY,
    key_id     TEXT NOT NULL,
    at         BIGINT NOT NULL,
    method     TEXT NOT NULL,
    route      TEXT NOT NULL,
    status     INTEGER NOT NULL,
    latency_us BIGINT NOT NULL,
    user_agent TEXT NOT NULL DEFAULT '',
    client_ip  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX api_usage_key_at ON ops.api_usage (key_id, at);
-- No index on (at) alone: each index costs every logged request a B-tree insert; pruning
-- goes key by key through api_usage_key_at.

-- Token buckets shared by every process on one store; tokens in micro-tokens.
CREATE TABLE ops.rate_buckets (
    key_id     TEXT PRIMARY KEY,
    tokens     BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Vault: base64(nonce || ciphertext || tag) per name; key_fp names the master key used.
CREATE TABLE ops.vault (
    name       TEXT PRIMARY KEY,
    sealed     TEXT NOT NULL,
    key_fp     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- OAuth2 authorization requests in flight (single use, expiring); state stored hashed.
CREATE TABLE ops.oauth_states (
    state_hash     TEXT PRIMARY KEY,
    app            TEXT NOT NULL,
    workspace_slug TEXT NOT NULL DEFAULT '',
    verifier       TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    expires_at     BIGINT NOT NULL
);
