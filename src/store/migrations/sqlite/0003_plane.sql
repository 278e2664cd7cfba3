-- 0003_plane (SQLite, same as pg/0003_plane.sql): what the Plane-compatible API (src/api) needs on top of the 0001 mirror tables.
-- Columns on work_plane.items used by particular item types:
--   is_draft   issue: Plane's is_draft (drafts are hidden from lists and lookups)
--   is_default state: the project's default state (one per project)
--   member_id, role, is_active   project_member: the user, Plane role 20/15/5, active flag
-- work_plane.projects.visible_issues caches the number of listable work items of a project
-- (Plane's total_count); NULL means unknown and is recounted on the next list. Any writer of
-- work_plane.items other than plane_store.c must set it to NULL for the project it touches.
ALTER TABLE work_plane.items ADD COLUMN is_draft INTEGER NOT NULL DEFAULT 0;
ALTER TABLE work_plane.items ADD COLUMN is_default INTEGER NOT NULL DEFAULT 0;
ALTER TABLE work_plane.items ADD COLUMN member_id TEXT;
ALTER TABLE work_plane.items ADD COLUMN role INTEGER;
ALTER TABLE work_plane.items ADD COLUMN is_active INTEGER NOT NULL DEFAULT 1;
ALTER TABLE work_plane.projects ADD COLUMN visible_issues BIGINT;

-- Work-item list pages: only listable rows, in the two orders clients page by.
CREATE INDEX items_issue_created ON work_plane.items (project_id, created_at, plane_id)
    WHERE item_type = 'issue' AND deleted_at IS NULL AND archived_at IS NULL AND is_draft = 0 AND state_group <> 'triage';
CREATE INDEX items_issue_updated ON work_plane.items (project_id, updated_at, plane_id)
    WHERE item_type = 'issue' AND deleted_at IS NULL AND archived_at IS NULL AND is_draft = 0 AND state_group <> 'triage';
-- Project membership checks (every project-scoped request) and "my projects".
CREATE UNIQUE INDEX items_project_member ON work_plane.items (project_id, member_id)
    WHERE item_type = 'project_member';
CREATE INDEX items_member_user ON work_plane.items (member_id) WHERE item_type = 'project_member';
-- Plane's unique names per project (soft-deleted rows excluded).
CREATE UNIQUE INDEX items_state_name ON work_plane.items (project_id, name)
    WHERE item_type = 'state' AND deleted_at IS NULL;
CREATE UNIQUE INDEX items_label_name ON work_plane.items (project_id, name)
    WHERE item_type = 'label' AND deleted_at IS NULL;
-- Activities of an issue in time order.
CREATE INDEX items_parent_created ON work_plane.items (parent_id, item_type, created_at);
-- Outbox by object (tests, replays).
CREATE INDEX outbox_object ON ops.outbox (object_id, id);
