/* queue_store: see queue_store.h. */
#include "store/queue_store.h"

#include "core/buf.h"
#include "core/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define Q_COLS 7
/* One multi-row INSERT per batch of up to MAX_CHUNK rows: a statement for every row count
 * 1..MAX_CHUNK (built once, prepared per connection on first use). A batch of 3 was three
 * single-row statements before (sizes 32/8/1), i.e. three round trips on PostgreSQL. */
#define MAX_CHUNK 64
static char *insert_sql[MAX_CHUNK + 1];
static pthread_once_t insert_once = PTHREAD_ONCE_INIT;

static void build_insert_sql(void)
{
    for (size_t k = 1; k <= MAX_CHUNK; k++) {
        pb_buf b;
        pb_buf_init(&b, 1 << 16);
        pb_buf_puts(&b, "INSERT INTO ops.event_queue (idempotency_key, source, workspace_slug, object_type, "
                        "object_id, received_at, body) VALUES ");
        for (size_t r = 0; r < k; r++) {
            int p = (int)(r * Q_COLS);
            pb_buf_printf(&b, "%s($%d, $%d, $%d, $%d, $%d, $%d, $%d)", r ? ", " : "", p + 1, p + 2, p + 3,
                          p + 4, p + 5, p + 6, p + 7);
        }
        pb_buf_puts(&b, " ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key");
        insert_sql[k] = pb_buf_steal(&b);
    }
}

static int insert_chunk(pb_conn *c, const char *sql, const pb_queue_in *jobs, size_t n,
                        unsigned char *inserted, pb_error *err)
{
    pb_val params[MAX_CHUNK * Q_COLS];
    for (size_t r = 0; r < n; r++) {
        const pb_queue_in *j = &jobs[r];
        pb_val *p = &params[r * Q_COLS];
        p[0] = PB_TEXT(j->key);
        p[1] = PB_TEXT(j->source);
        p[2] = PB_TEXT(j->workspace);
        p[3] = PB_TEXT(j->object_type);
        p[4] = PB_TEXT(j->object_id);
        p[5] = PB_INT(j->received_at);
        p[6] = PB_BLOB(j->body, j->body_len);
        inserted[r] = 0;
    }
    pb_rows *rows = NULL;
    int rc = pb_conn_query(c, sql, params, (int)(n * Q_COLS), &rows, err);
    if (rc) return rc;
    while ((rc = pb_rows_next(rows)) == 1) {
        const char *k = pb_rows_text(rows, 0);
        for (size_t r = 0; r < n; r++) {
            if (!inserted[r] && strcmp(jobs[r].key, k) == 0) {
                inserted[r] = 1;
                break;
            }
        }
    }
    pb_rows_free(rows);
    if (rc < 0) return pb_error_set(err, PB_ESTORE, "reading inserted keys failed");
    return 0;
}

static int cmp_in_key(const void *a, const void *b)
{
    return strcmp(((const pb_queue_in *)a)->key, ((const pb_queue_in *)b)->key);
}

/* One attempt: every row of the batch in one transaction. */
static int enqueue_once(pb_conn *c, const pb_queue_in *jobs, size_t n, unsigned char *inserted, pb_error *err)
{
    if (n <= MAX_CHUNK && pb_db_backend(pb_conn_db(c)) == PB_DB_POSTGRES) {
        /* One statement is atomic by itself: no BEGIN/COMMIT round trips. (SQLite keeps
         * BEGIN IMMEDIATE: an autocommit statement upgrading its read snapshot to a write can
         * fail with SQLITE_BUSY_SNAPSHOT instead of waiting.) */
        int rc = insert_chunk(c, insert_sql[n], jobs, n, inserted, err);
        if (rc)
            for (size_t r = 0; r < n; r++)
                inserted[r] = 0;
        return rc;
    }
    int rc = pb_conn_begin_write(c, err);
    if (rc) return rc;
    size_t i = 0;
    while (i < n) {
        size_t k = n - i < MAX_CHUNK ? n - i : MAX_CHUNK;
        rc = insert_chunk(c, insert_sql[k], jobs + i, k, inserted + i, err);
        if (rc) goto fail;
        i += k;
    }
    rc = pb_conn_commit(c, err);
    if (rc) goto fail;
    return 0;
fail:
    pb_conn_rollback(c);
    for (size_t r = 0; r < n; r++)
        inserted[r] = 0;
    return rc;
}

int pb_queue_enqueue_batch(pb_conn *c, const pb_queue_in *jobs, size_t n, unsigned char *inserted,
                           pb_error *err)
{
    pthread_once(&insert_once, build_insert_sql);
    for (size_t k = 1; k <= MAX_CHUNK; k++)
        if (!insert_sql[k]) return pb_error_set(err, PB_ENOMEM, "out of memory");
    if (n == 0) return 0;
    /* Several committers (PostgreSQL) insert concurrently; two batches holding the same keys
     * in different orders would wait on each other's unique-index entries and deadlock. Rows
     * go in key order, so every committer takes those locks in the same order; a deadlock or
     * serialization failure that still happens (PB_EBUSY) is retried. */
    pb_queue_in *sorted = malloc((n ? n : 1) * sizeof *sorted);
    unsigned char *ins_sorted = calloc(n ? n : 1, 1);
    int rc = 0;
    if (!sorted || !ins_sorted) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(sorted, jobs, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_in_key);
    for (int attempt = 0; attempt < 4; attempt++) {
        rc = enqueue_once(c, sorted, n, ins_sorted, err);
        if (rc != PB_EBUSY) break;
    }
    for (size_t r = 0; r < n; r++)
        inserted[r] = 0;
    if (rc) goto out;
    /* Map the flags back to the caller's order. A key present twice is inserted once: the
     * first caller row with that key gets the flag, the others are duplicates. */
    for (size_t s = 0; s < n; s++) {
        if (!ins_sorted[s]) continue;
        for (size_t r = 0; r < n; r++) {
            if (!inserted[r] && strcmp(jobs[r].key, sorted[s].key) == 0) {
                inserted[r] = 1;
                break;
            }
        }
    }
out:
    free(sorted);
    free(ins_sorted);
    return rc;
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

static int read_job(pb_rows *r, pb_queue_job *j)
{
    memset(j, 0, sizeof *j);
    j->id = pb_rows_int(r, 0);
    j->key = dup_or_empty(pb_rows_text(r, 1));
    j->source = dup_or_empty(pb_rows_text(r, 2));
    j->workspace = dup_or_empty(pb_rows_text(r, 3));
    j->object_type = dup_or_empty(pb_rows_text(r, 4));
    j->object_id = dup_or_empty(pb_rows_text(r, 5));
    j->received_at = pb_rows_int(r, 6);
    size_t bl = 0;
    const void *b = pb_rows_blob(r, 7, &bl);
    j->body = malloc(bl + 1);
    if (j->body) {
        if (bl) memcpy(j->body, b, bl);
        j->body[bl] = '\0';
        j->body_len = bl;
    }
    j->attempts = (int)pb_rows_int(r, 8);
    if (!j->key || !j->source || !j->workspace || !j->object_type || !j->object_id || !j->body)
        return PB_ENOMEM;
    return 0;
}

static void job_clear(pb_queue_job *j)
{
    free(j->key);
    free(j->source);
    free(j->workspace);
    free(j->object_type);
    free(j->object_id);
    free(j->body);
    memset(j, 0, sizeof *j);
}

void pb_queue_jobs_free(pb_queue_job *jobs, size_t n)
{
    if (!jobs) return;
    for (size_t i = 0; i < n; i++)
        job_clear(&jobs[i]);
    free(jobs);
}

static int cmp_job(const void *a, const void *b)
{
    int64_t x = ((const pb_queue_job *)a)->id, y = ((const pb_queue_job *)b)->id;
    return x < y ? -1 : x > y;
}

/* Claims read only through the partial indexes of 0006 (status = 'pending' / 'leased'), so
 * their cost does not grow with the number of finished jobs kept for deduplication. */
#define CLAIM_HEAD                                                                                           \
    "UPDATE ops.event_queue SET status = 'leased', leased_by = $1, lease_until = $2, "                       \
    "attempts = attempts + 1 WHERE id IN (SELECT id FROM ops.event_queue WHERE status = 'pending' "          \
    "AND next_attempt_at <= $3 AND received_at <= $4 ORDER BY id LIMIT $5"
#define CLAIM_TAIL                                                                                           \
    ") RETURNING id, idempotency_key, source, workspace_slug, object_type, object_id, received_at, body, "   \
    "attempts"

static const char sql_claim_pg[] = CLAIM_HEAD " FOR UPDATE SKIP LOCKED" CLAIM_TAIL;
/* SQLite's planner (no statistics) preferred the (status, next_attempt_at) index (dropped in 0014) for
 * `status = 'pending'` and then reads and sorts EVERY pending row (3 KB each) to find the
 * oldest few: with a backlog of 20k jobs a claim read ~80 MB. INDEXED BY walks the partial
 * index in id order and stops after LIMIT rows. */
static const char sql_claim_sqlite[] =
    "UPDATE ops.event_queue SET status = 'leased', leased_by = $1, lease_until = $2, "
    "attempts = attempts + 1 WHERE id IN (SELECT id FROM ops.event_queue INDEXED BY event_queue_pending "
    "WHERE status = 'pending' AND next_attempt_at <= $3 AND received_at <= $4 ORDER BY id LIMIT $5" CLAIM_TAIL;
/* A lease that ran out (its worker died or stalled) makes the job claimable again. */
static const char sql_reclaim_pg[] =
    "UPDATE ops.event_queue SET status = 'pending', lease_until = NULL WHERE id IN (SELECT id FROM "
    "ops.event_queue WHERE status = 'leased' AND lease_until < $1 ORDER BY lease_until LIMIT 1000 FOR UPDATE "
    "SKIP "
    "LOCKED)";
static const char sql_reclaim_sqlite[] = "UPDATE ops.event_queue SET status = 'pending', lease_until = NULL "
                                         "WHERE status = 'leased' AND lease_until < $1";

int pb_queue_claim(pb_conn *c, const char *worker_id, int64_t now, int64_t lease_us, int64_t max_received_at,
                   int max, pb_queue_job **out, size_t *n, pb_error *err)
{
    *out = NULL;
    *n = 0;
    if (max <= 0) return 0;
    int pg = pb_db_backend(pb_conn_db(c)) == PB_DB_POSTGRES;
    pb_queue_job *jobs = calloc((size_t)max, sizeof *jobs);
    if (!jobs) return pb_error_set(err, PB_ENOMEM, "out of memory");
    size_t cnt = 0;
    pb_rows *rows = NULL;
    int rc = pb_conn_begin_write(c, err);
    if (rc) goto fail;
    pb_val rp[] = {PB_INT(now)};
    rc = pb_conn_exec(c, pg ? sql_reclaim_pg : sql_reclaim_sqlite, rp, 1, NULL, err);
    if (rc) goto fail;
    pb_val p[] = {PB_TEXT(worker_id), PB_INT(now + lease_us), PB_INT(now), PB_INT(max_received_at),
                  PB_INT(max)};
    rc = pb_conn_query(c, pg ? sql_claim_pg : sql_claim_sqlite, p, 5, &rows, err);
    if (rc) goto fail;
    while ((rc = pb_rows_next(rows)) == 1 && cnt < (size_t)max) {
        if (read_job(rows, &jobs[cnt++])) {
            rc = pb_error_set(err, PB_ENOMEM, "out of memory");
            goto fail;
        }
    }
    pb_rows_free(rows);
    rows = NULL;
    if (rc < 0) {
        rc = pb_error_set(err, PB_ESTORE, "claim query failed");
        goto fail;
    }
    rc = pb_conn_commit(c, err);
    if (rc) goto fail;
    if (cnt == 0) {
        free(jobs);
        return 0;
    }
    qsort(jobs, cnt, sizeof *jobs, cmp_job);
    *out = jobs;
    *n = cnt;
    return 0;
fail:
    pb_rows_free(rows);
    pb_conn_rollback(c);
    pb_queue_jobs_free(jobs, cnt);
    return rc;
}

int pb_queue_ack(pb_conn *c, int64_t id, const char *worker_id, int64_t now, int64_t *changed, pb_error *err)
{
    pb_val p[] = {PB_INT(id), PB_TEXT(worker_id), PB_INT(now)};
    return pb_conn_exec(c,
                        "UPDATE ops.event_queue SET status = 'done', done_at = $3, lease_until = NULL, "
                        "last_error = NULL WHERE id = $1 AND status = 'leased' AND leased_by = $2",
                        p, 3, changed, err);
}

int pb_queue_retry(pb_conn *c, int64_t id, const char *worker_id, int64_t next_attempt_at, const char *error,
                   pb_error *err)
{
    pb_val p[] = {PB_INT(id), PB_TEXT(worker_id), PB_INT(next_attempt_at), PB_TEXT(error ? error : "")};
    return pb_conn_exec(
        c,
        "UPDATE ops.event_queue SET status = 'pending', next_attempt_at = $3, lease_until = NULL, "
        "last_error = $4 WHERE id = $1 AND status = 'leased' AND leased_by = $2",
        p, 4, NULL, err);
}

int pb_queue_dead(pb_conn *c, int64_t id, const char *worker_id, int64_t now, const char *error,
                  pb_error *err)
{
    pb_val p[] = {PB_INT(id), PB_TEXT(worker_id), PB_INT(now), PB_TEXT(error ? error : "")};
    return pb_conn_exec(c,
                        "UPDATE ops.event_queue SET status = 'dead', done_at = $3, lease_until = NULL, "
                        "last_error = $4 WHERE id = $1 AND status = 'leased' AND leased_by = $2",
                        p, 4, NULL, err);
}

int pb_queue_replay(pb_conn *c, int all_dead, const int64_t *ids, size_t nids, int64_t *changed,
                    pb_error *err)
{
    int64_t total = 0, ch = 0;
    int rc = pb_conn_begin_write(c, err);
    if (rc) return rc;
    if (all_dead) {
        rc = pb_conn_exec(c,
                          "UPDATE ops.event_queue SET status = 'pending', attempts = 0, next_attempt_at = 0, "
                          "lease_until = NULL, leased_by = NULL, done_at = NULL WHERE status = 'dead'",
                          NULL, 0, &ch, err);
        if (rc) goto fail;
        total += ch;
    }
    for (size_t i = 0; i < nids; i++) {
        pb_val p[] = {PB_INT(ids[i])};
        rc = pb_conn_exec(c,
                          "UPDATE ops.event_queue SET status = 'pending', attempts = 0, next_attempt_at = 0, "
                          "lease_until = NULL, leased_by = NULL, done_at = NULL "
                          "WHERE id = $1 AND status <> 'leased' AND status <> 'pending'",
                          p, 1, &ch, err);
        if (rc) goto fail;
        total += ch;
    }
    rc = pb_conn_commit(c, err);
    if (rc) goto fail;
    if (changed) *changed = total;
    return 0;
fail:
    pb_conn_rollback(c);
    return rc;
}

static int oldest_unfinished(pb_conn *c, pb_queue_stats *st, pb_error *err);

/* Job counts per status from sql (rows of status, count) into st, then the backlog's age. */
static int status_counts(pb_conn *c, const char *sql, pb_queue_stats *st, pb_error *err)
{
    pb_rows *rows = NULL;
    int rc = pb_conn_query(c, sql, NULL, 0, &rows, err);
    if (rc) return rc;
    while ((rc = pb_rows_next(rows)) == 1) {
        const char *s = pb_rows_text(rows, 0);
        int64_t v = pb_rows_int(rows, 1);
        if (!strcmp(s, "pending"))
            st->pending = v;
        else if (!strcmp(s, "leased"))
            st->leased = v;
        else if (!strcmp(s, "done"))
            st->done = v;
        else if (!strcmp(s, "dead"))
            st->dead = v;
    }
    pb_rows_free(rows);
    if (rc < 0) return pb_error_set(err, PB_ESTORE, "queue count query failed");
    return oldest_unfinished(c, st, err);
}

int pb_queue_get_stats(pb_conn *c, pb_queue_stats *st, pb_error *err)
{
    memset(st, 0, sizeof *st);
    return status_counts(c, "SELECT status, COUNT(*) FROM ops.event_queue GROUP BY status", st, err);
}

/* Age of the backlog: the oldest pending job by id (ids follow arrival) and the oldest leased
 * one. Both read a handful of index entries; MIN(received_at) over every unfinished job read
 * each pending row (3 KB) once per gauge refresh. */
static int oldest_unfinished(pb_conn *c, pb_queue_stats *st, pb_error *err)
{
    int sqlite = pb_db_backend(pb_conn_db(c)) == PB_DB_SQLITE;
    int64_t a = 0, b = 0;
    int rc = pb_conn_query_int(c,
                               sqlite ? "SELECT received_at FROM ops.event_queue INDEXED BY event_queue_pending "
                                        "WHERE status = 'pending' ORDER BY id LIMIT 1"
                                      : "SELECT received_at FROM ops.event_queue WHERE status = 'pending' "
                                        "ORDER BY id LIMIT 1",
                               NULL, 0, &a, err);
    if (rc == PB_ENOTFOUND) rc = 0, a = 0;
    if (rc) return rc;
    rc = pb_conn_query_int(c, "SELECT COALESCE(MIN(received_at), 0) FROM ops.event_queue WHERE status = 'leased'",
                           NULL, 0, &b, err);
    if (rc == PB_ENOTFOUND) rc = 0, b = 0;
    if (rc) return rc;
    st->oldest_ready_received_at = a && b ? (a < b ? a : b) : (a ? a : b);
    return 0;
}

int pb_queue_get_backlog(pb_conn *c, pb_queue_stats *st, pb_error *err)
{
    memset(st, 0, sizeof *st);
    st->done = -1; /* not counted */
    /* Counts only the unfinished and dead jobs through the (status, done_at) index: done jobs
     * (kept a week for deduplication) are never read. */
    return status_counts(c,
                         "SELECT status, COUNT(*) FROM ops.event_queue WHERE status IN ('pending', 'leased', "
                         "'dead') GROUP BY status",
                         st, err);
}

int pb_queue_inflight_mark(pb_conn *c, const int64_t *ids, size_t n, const char *owner, int64_t pid, int64_t now,
                           pb_error *err)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        pb_val p[] = {PB_INT(ids[i]), PB_TEXT(owner), PB_INT(pid), PB_INT(now)};
        rc = pb_conn_exec(c,
                          "INSERT INTO ops.event_inflight (job_id, owner, pid, started_at) VALUES ($1, $2, $3, $4) "
                          "ON CONFLICT (job_id) DO UPDATE SET owner = excluded.owner, pid = excluded.pid, "
                          "started_at = excluded.started_at",
                          p, 4, NULL, err);
    }
    return rc;
}

int pb_queue_inflight_clear(pb_conn *c, int64_t id, pb_error *err)
{
    pb_val p[] = {PB_INT(id)};
    return pb_conn_exec(c, "DELETE FROM ops.event_inflight WHERE job_id = $1", p, 1, NULL, err);
}

int pb_queue_inflight_list(pb_conn *c, int max, pb_queue_inflight **out, size_t *n, pb_error *err)
{
    *out = NULL;
    *n = 0;
    if (max <= 0) return 0;
    pb_queue_inflight *v = calloc((size_t)max, sizeof *v);
    if (!v) return pb_error_set(err, PB_ENOMEM, "out of memory");
    pb_rows *r = NULL;
    pb_val p[] = {PB_INT(max)};
    int rc = pb_conn_query(c,
                           "SELECT job_id, owner, pid, started_at FROM ops.event_inflight ORDER BY started_at, job_id "
                           "LIMIT $1",
                           p, 1, &r, err);
    size_t k = 0;
    while (!rc && k < (size_t)max && (rc = pb_rows_next(r)) == 1) {
        v[k].job_id = pb_rows_int(r, 0);
        const char *o = pb_rows_text(r, 1);
        pb_strlcpy(v[k].owner, o ? o : "", sizeof v[k].owner);
        v[k].pid = pb_rows_int(r, 2);
        v[k].started_at = pb_rows_int(r, 3);
        k++;
        rc = 0;
    }
    pb_rows_free(r);
    if (rc < 0) rc = pb_error_set(err, PB_ESTORE, "in-flight query failed");
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    *n = k;
    return 0;
}

int pb_queue_inflight_charge(pb_conn *c, int64_t id, int max_attempts, int64_t now, const char *error, int *dead,
                             pb_error *err)
{
    *dead = 0;
    pb_rows *r = NULL;
    pb_val p[] = {PB_INT(id), PB_INT(max_attempts), PB_INT(now), PB_TEXT(error ? error : "")};
    int rc = pb_conn_query(c,
                           "UPDATE ops.event_queue SET attempts = attempts + 1, last_error = $4, "
                           "status = CASE WHEN attempts + 1 >= $2 THEN 'dead' ELSE status END, "
                           "done_at = CASE WHEN attempts + 1 >= $2 THEN $3 ELSE done_at END "
                           "WHERE id = $1 AND status = 'pending' RETURNING status",
                           p, 4, &r, err);
    while (!rc && (rc = pb_rows_next(r)) == 1) {
        const char *st = pb_rows_text(r, 0);
        *dead = st && strcmp(st, "dead") == 0;
        rc = 0;
    }
    pb_rows_free(r);
    if (rc < 0) return pb_error_set(err, PB_ESTORE, "in-flight charge failed");
    if (!rc) rc = pb_queue_inflight_clear(c, id, err);
    return rc;
}

int pb_queue_get(pb_conn *c, int64_t id, pb_queue_job *out, char status[16], pb_error *err)
{
    pb_rows *rows = NULL;
    pb_val p[] = {PB_INT(id)};
    int rc = pb_conn_query(
        c,
        "SELECT id, idempotency_key, source, workspace_slug, object_type, object_id, received_at, "
        "body, attempts, status FROM ops.event_queue WHERE id = $1",
        p, 1, &rows, err);
    if (rc) return rc;
    rc = pb_rows_next(rows);
    if (rc == 1) {
        if (status) snprintf(status, 16, "%s", pb_rows_text(rows, 9));
        rc = read_job(rows, out) ? pb_error_set(err, PB_ENOMEM, "out of memory") : 0;
        if (rc) job_clear(out);
    } else if (rc == 0) {
        rc = pb_error_set(err, PB_ENOTFOUND, "no job %lld", (long long)id);
    } else {
        rc = pb_error_set(err, PB_ESTORE, "job query failed");
    }
    pb_rows_free(rows);
    return rc;
}

int pb_queue_purge_done(pb_conn *c, int64_t before_us, int64_t *deleted, pb_error *err)
{
    pb_val p[] = {PB_INT(before_us)};
    return pb_conn_exec(c, "DELETE FROM ops.event_queue WHERE status = 'done' AND done_at < $1", p, 1,
                        deleted, err);
}

int pb_queue_list(pb_conn *c, const char *status, int limit, pb_queue_row **out, size_t *n, pb_error *err)
{
    *out = NULL;
    *n = 0;
    if (limit <= 0) return 0;
    pb_queue_row *rowsv = calloc((size_t)limit, sizeof *rowsv);
    if (!rowsv) return pb_error_set(err, PB_ENOMEM, "out of memory");
    pb_rows *r = NULL;
    pb_val p[] = {PB_TEXT(status), PB_INT(limit)};
    int rc = pb_conn_query(c,
                           "SELECT id, received_at, COALESCE(done_at, 0), attempts, status, workspace_slug, "
                           "COALESCE(object_type, ''), COALESCE(object_id, ''), COALESCE(last_error, '') "
                           "FROM ops.event_queue WHERE status = $1 ORDER BY id LIMIT $2",
                           p, 2, &r, err);
    if (rc) {
        free(rowsv);
        return rc;
    }
    size_t k = 0;
    while (k < (size_t)limit && (rc = pb_rows_next(r)) == 1) {
        pb_queue_row *q = &rowsv[k++];
        q->id = pb_rows_int(r, 0);
        q->received_at = pb_rows_int(r, 1);
        q->done_at = pb_rows_int(r, 2);
        q->attempts = (int)pb_rows_int(r, 3);
        snprintf(q->status, sizeof q->status, "%s", pb_rows_text(r, 4));
        snprintf(q->workspace, sizeof q->workspace, "%s", pb_rows_text(r, 5));
        snprintf(q->object_type, sizeof q->object_type, "%s", pb_rows_text(r, 6));
        snprintf(q->object_id, sizeof q->object_id, "%s", pb_rows_text(r, 7));
        snprintf(q->last_error, sizeof q->last_error, "%s", pb_rows_text(r, 8));
    }
    pb_rows_free(r);
    if (rc < 0) {
        free(rowsv);
        return pb_error_set(err, PB_ESTORE, "list query failed");
    }
    *out = rowsv;
    *n = k;
    return 0;
}

static int run_pragma(pb_conn *c, const char *sql, int64_t *v1, int64_t *v2, pb_error *err)
{
    pb_rows *r = NULL;
    int rc = pb_conn_query(c, sql, NULL, 0, &r, err);
    if (rc) return rc;
    if ((rc = pb_rows_next(r)) == 1) {
        if (v1 && pb_rows_ncols(r) > 1) *v1 = pb_rows_int(r, 1);
        if (v2 && pb_rows_ncols(r) > 2) *v2 = pb_rows_int(r, 2);
        while ((rc = pb_rows_next(r)) == 1) {
        }
    }
    pb_rows_free(r);
    return rc < 0 ? pb_error_set(err, PB_ESTORE, "pragma failed") : 0;
}

int pb_queue_wal_autocheckpoint(pb_conn *c, int pages, pb_error *err)
{
    if (pb_db_backend(pb_conn_db(c)) != PB_DB_SQLITE) return 0;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA wal_autocheckpoint=%d", pages < 0 ? 1000 : pages);
    return run_pragma(c, sql, NULL, NULL, err);
}

int pb_queue_checkpoint(pb_conn *c, int64_t *log_frames, int64_t *done_frames, pb_error *err)
{
    if (pb_db_backend(pb_conn_db(c)) != PB_DB_SQLITE) return 0;
    return run_pragma(c, "PRAGMA wal_checkpoint(PASSIVE)", log_frames, done_frames, err);
}

int pb_queue_require_durable(pb_conn *c, pb_error *err)
{
    if (pb_db_backend(pb_conn_db(c)) != PB_DB_POSTGRES) return 0;
    return pb_conn_exec(c, "SET synchronous_commit = on", NULL, 0, NULL, err);
}

/* --- the single-transaction path (SQLite workers, worker.c) ------------------------------ */

static const char sql_peek_sqlite[] =
    "SELECT id, idempotency_key, source, workspace_slug, object_type, object_id, received_at, body, attempts "
    "FROM ops.event_queue INDEXED BY event_queue_pending WHERE status = 'pending' AND next_attempt_at <= $1 "
    "AND received_at <= $2 ORDER BY id LIMIT $3";
static const char sql_peek_pg[] =
    "SELECT id, idempotency_key, source, workspace_slug, object_type, object_id, received_at, body, attempts "
    "FROM ops.event_queue WHERE status = 'pending' AND next_attempt_at <= $1 AND received_at <= $2 "
    "ORDER BY id LIMIT $3";

int pb_queue_peek_ready(pb_conn *c, int64_t now, int64_t max_received_at, int max, pb_queue_job **out,
                        size_t *n, pb_error *err)
{
    *out = NULL;
    *n = 0;
    if (max <= 0) return 0;
    int sqlite = pb_db_backend(pb_conn_db(c)) == PB_DB_SQLITE;
    pb_queue_job *jobs = calloc((size_t)max, sizeof *jobs);
    if (!jobs) return pb_error_set(err, PB_ENOMEM, "out of memory");
    size_t cnt = 0;
    pb_rows *rows = NULL;
    pb_val p[] = {PB_INT(now), PB_INT(max_received_at), PB_INT(max)};
    int rc = pb_conn_query(c, sqlite ? sql_peek_sqlite : sql_peek_pg, p, 3, &rows, err);
    if (rc) goto fail;
    while ((rc = pb_rows_next(rows)) == 1 && cnt < (size_t)max) {
        if (read_job(rows, &jobs[cnt++])) {
            rc = pb_error_set(err, PB_ENOMEM, "out of memory");
            goto fail;
        }
    }
    pb_rows_free(rows);
    rows = NULL;
    if (rc < 0) {
        rc = pb_error_set(err, PB_ESTORE, "ready-jobs query failed");
        goto fail;
    }
    if (cnt == 0) {
        free(jobs);
        return 0;
    }
    *out = jobs;
    *n = cnt;
    return 0;
fail:
    pb_rows_free(rows);
    pb_queue_jobs_free(jobs, cnt);
    return rc;
}

int pb_queue_take(pb_conn *c, int64_t id, const char *worker_id, int64_t now, int *taken, int *attempts,
                  pb_error *err)
{
    *taken = 0;
    pb_rows *rows = NULL;
    pb_val p[] = {PB_INT(id), PB_TEXT(worker_id), PB_INT(now)};
    int rc = pb_conn_query(c,
                           "UPDATE ops.event_queue SET status = 'done', done_at = $3, leased_by = $2, "
                           "lease_until = NULL, last_error = NULL, attempts = attempts + 1 "
                           "WHERE id = $1 AND status = 'pending' AND next_attempt_at <= $3 RETURNING attempts",
                           p, 3, &rows, err);
    if (rc) return rc;
    while ((rc = pb_rows_next(rows)) == 1) {
        *taken = 1;
        if (attempts) *attempts = (int)pb_rows_int(rows, 0);
    }
    pb_rows_free(rows);
    return rc < 0 ? pb_error_set(err, PB_ESTORE, "take query failed") : 0;
}

int pb_queue_fail_pending(pb_conn *c, int64_t id, const char *worker_id, int64_t now, int64_t next_attempt_at,
                          int dead, const char *error, int64_t *changed, pb_error *err)
{
    if (dead) {
        pb_val p[] = {PB_INT(id), PB_TEXT(worker_id), PB_INT(now), PB_TEXT(error ? error : "")};
        return pb_conn_exec(c,
                            "UPDATE ops.event_queue SET status = 'dead', done_at = $3, leased_by = $2, "
                            "lease_until = NULL, attempts = attempts + 1, last_error = $4 "
                            "WHERE id = $1 AND status = 'pending'",
                            p, 4, changed, err);
    }
    pb_val p[] = {PB_INT(id), PB_TEXT(worker_id), PB_INT(next_attempt_at), PB_TEXT(error ? error : "")};
    return pb_conn_exec(c,
                        "UPDATE ops.event_queue SET next_attempt_at = $3, leased_by = $2, lease_until = NULL, "
                        "attempts = attempts + 1, last_error = $4 WHERE id = $1 AND status = 'pending'",
                        p, 4, changed, err);
}

int pb_queue_reclaim_expired(pb_conn *c, int64_t now, pb_error *err)
{
    pb_val p[] = {PB_INT(now)};
    return pb_conn_exec(c, pb_db_backend(pb_conn_db(c)) == PB_DB_POSTGRES ? sql_reclaim_pg : sql_reclaim_sqlite, p,
                        1, NULL, err);
}

int pb_queue_sync_level(pb_conn *c, int level, int *previous, pb_error *err)
{
    if (pb_db_backend(pb_conn_db(c)) != PB_DB_SQLITE) return 0;
    int rc = 0;
    if (previous) {
        int64_t v = 2;
        rc = pb_conn_query_int(c, "PRAGMA synchronous", NULL, 0, &v, err);
        if (rc) return rc;
        *previous = (int)v;
    }
    if (level < 0) return 0;
    char sql[48];
    snprintf(sql, sizeof sql, "PRAGMA synchronous=%d", level > 3 ? 3 : level);
    return pb_conn_exec(c, sql, NULL, 0, NULL, err);
}

int pb_queue_lease_expired(pb_conn *c, int64_t now, int *any, pb_error *err)
{
    int64_t v = 0;
    pb_val p[] = {PB_INT(now)};
    *any = 0;
    int rc = pb_conn_query_int(c,
                               "SELECT COUNT(*) FROM (SELECT 1 FROM ops.event_queue WHERE status = 'leased' AND "
                               "lease_until < $1 LIMIT 1) x",
                               p, 1, &v, err);
    if (rc == PB_ENOTFOUND) rc = 0;
    if (!rc) *any = v > 0;
    return rc;
}
