-- 0006_ingest (SQLite): same as pg/0006_ingest.sql; what webhook ingestion needs on top of 0001_core.
-- ops.self_writes: changes planebridge itself wrote upstream (object id + the updated_at
-- Plane answered with), so the webhook echoing them back emits no event (echo suppression).
CREATE TABLE ops.self_writes (
    object_id   TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    recorded_at BIGINT NOT NULL,
    PRIMARY KEY (object_id, updated_at)
);
CREATE INDEX self_writes_recorded ON ops.self_writes (recorded_at);
-- Replay/inspection by object, and purging finished jobs.
CREATE INDEX event_queue_object ON ops.event_queue (object_id, id);
CREATE INDEX event_queue_done ON ops.event_queue (status, done_at);
-- Claims: only unfinished jobs are ever looked at, however many finished ones the table holds.
CREATE INDEX event_queue_pending ON ops.event_queue (id) WHERE status = 'pending';
CREATE INDEX event_queue_leased ON ops.event_queue (lease_until) WHERE status = 'leased';
