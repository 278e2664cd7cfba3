-- 0012_ingest_inflight: crash accounting for the SQLite ingest worker, which processes jobs
-- without a lease (ingest/worker.h). Before applying a batch the worker records its jobs here
-- in a small transaction of its own; the transaction that applies a job deletes its row. A row
-- that outlives its owner process means that process died applying the job: the next worker
-- charges the job one attempt (dead letters at max_attempts), as the lease path does, so a job
-- that crashes the process cannot crash it forever. Unused by the PostgreSQL lease path; kept
-- in both schemas so they stay alike.
CREATE TABLE ops.event_inflight (
    job_id     BIGINT PRIMARY KEY,
    owner      TEXT NOT NULL,
    pid        BIGINT NOT NULL,
    started_at BIGINT NOT NULL
);
