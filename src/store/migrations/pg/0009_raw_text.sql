-- 0009_raw_text (PostgreSQL only): keep mirror rows and event payloads as the exact text
-- received or produced, like SQLite does.
-- Why: `raw` is "the full JSON as received"; jsonb normalises it (reorders keys, drops
-- duplicates, rewrites spacing), so the same row served from PostgreSQL and SQLite differed
-- byte for byte, and re-serialising jsonb to text dominated the cost of a list page
-- (pgbench on the bare list query). No query uses jsonb operators.
ALTER TABLE work_plane.projects ALTER COLUMN raw TYPE TEXT;
ALTER TABLE work_plane.items ALTER COLUMN raw TYPE TEXT;
ALTER TABLE work_plane.pages ALTER COLUMN raw TYPE TEXT;
ALTER TABLE ops.outbox ALTER COLUMN payload TYPE TEXT;
