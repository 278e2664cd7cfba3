/* writelock: an in-process turn-taking lock for SQLite's single writer.
 *
 * SQLite lets one connection write at a time; a connection that finds the database locked
 * sleeps in SQLite's busy handler (1, 2, 5, 10 ... 25 ms steps) and retries. Between the
 * group committer and the ingest workers of one process that sleep lands on webhook
 * answers, so they take turns through this lock instead: the holder's release wakes the next
 * one at once, and the committer (high priority: requests are waiting on it) goes before
 * workers. A no-op on PostgreSQL, where writers do not exclude each other. Writers outside
 * ingestion still meet SQLite's own locking as before. */
#ifndef PB_INGEST_WRITELOCK_H
#define PB_INGEST_WRITELOCK_H

#include "store/db.h"

/* Returns 1 when the lock was taken (call pb_ingest_write_unlock), 0 on PostgreSQL. */
int pb_ingest_write_lock(pb_db *db, int high_priority);
void pb_ingest_write_unlock(int taken);
/* 1 while a high-priority writer (the group committer) waits for the lock: a low-priority
 * holder in the middle of a long transaction should commit and let it go first. */
int pb_ingest_write_contended(void);

#endif
