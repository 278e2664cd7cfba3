/* writelock: see writelock.h. */
#include "ingest/writelock.h"

#include <pthread.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int held, high_waiting;

int pb_ingest_write_lock(pb_db *db, int high_priority)
{
    if (!db || pb_db_backend(db) != PB_DB_SQLITE) return 0;
    pthread_mutex_lock(&mu);
    if (high_priority) high_waiting++;
    while (held || (!high_priority && high_waiting))
        pthread_cond_wait(&cv, &mu);
    if (high_priority) high_waiting--;
    held = 1;
    pthread_mutex_unlock(&mu);
    return 1;
}

void pb_ingest_write_unlock(int taken)
{
    if (!taken) return;
    pthread_mutex_lock(&mu);
    held = 0;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

int pb_ingest_write_contended(void)
{
    pthread_mutex_lock(&mu);
    int w = high_waiting > 0;
    pthread_mutex_unlock(&mu);
    return w;
}
