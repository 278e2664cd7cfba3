-- 0014_queue_indexes: the webhook queue is written once per accepted webhook and again when
-- a worker finishes the job, so every index on it is paid on the hot path. Two are read by no
-- query: event_queue_object (object_id, id): random keys, a random leaf page per insert; and
-- event_queue_ready (status, next_attempt_at), superseded by the partial event_queue_pending
-- (id) WHERE status = 'pending' that the claims, the ready-job read and the lag gauge use.
DROP INDEX IF EXISTS ops.event_queue_object;
DROP INDEX IF EXISTS ops.event_queue_ready;
