/*
 * The flusher: group commit on its own thread.
 *
 * The loop thread marks partitions that need a sync (flusher_mark: after an acks=-1 append, on
 * the background flush timer, at shutdown). The flusher thread takes the whole marked set at
 * once, fdatasyncs each partition (plog_sync, which is safe against concurrent appends), and
 * then writes to an eventfd; the loop wakes and runs the owner's on_synced callback (the broker
 * then sends every held response whose needs are now durable, durable.c). While one sync runs,
 * new marks accumulate, so one fdatasync covers every batch appended before it started: the more
 * producers wait, the more each sync carries.
 *
 * flusher_forget() waits for a sync in progress to finish and unmarks a partition, so its topic
 * can be deleted safely.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "flusher.h"
#include "group/offsets_log.h"
#include "tandem/error.h"

struct flusher {
    struct loop *loop;
    struct offsets_log *olog;
    loop_cb on_synced;
    void *arg;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;      /* work arrived, or stop */
    pthread_cond_t idle_cond; /* a sync round finished */
    struct plog **marked;
    int nmarked, cap;
    bool offsets_marked; /* the offsets log needs a sync */
    bool syncing;
    bool stop;
    int efd;
};

static void *flusher_main(void *arg)
{
    struct flusher *f = arg;
    struct plog **batch = NULL;
    int cap = 0;
    pthread_mutex_lock(&f->mu);
    for (;;) {
        while (f->nmarked == 0 && !f->offsets_marked && !f->stop)
            pthread_cond_wait(&f->cond, &f->mu);
        if (f->nmarked == 0 && !f->offsets_marked && f->stop)
            break;
        bool offsets = f->offsets_marked;
        f->offsets_marked = false;
        if (cap < f->nmarked) {
            cap = f->cap;
            batch = xrealloc(batch, (size_t)cap * sizeof(*batch));
        }
        int n = f->nmarked;
        if (n)
            memcpy(batch, f->marked, (size_t)n * sizeof(*batch));
        f->nmarked = 0;
        f->syncing = true;
        pthread_mutex_unlock(&f->mu);

        for (int i = 0; i <= n; i++) {
            int64_t durable;
            int rc = 0;
            if (i < n)
                rc = plog_sync(batch[i], &durable);
            else if (offsets)
                rc = offsets_log_sync(f->olog);
            if (rc) {
                /* Like Kafka on a log-dir failure: an unsyncable log cannot keep promises. */
                log_error("fdatasync failed; stopping", "\"error\":\"%s\"", tandem_strerror(rc));
                abort();
            }
        }
        uint64_t one = 1;
        ssize_t w = write(f->efd, &one, sizeof(one));
        (void)w;

        pthread_mutex_lock(&f->mu);
        f->syncing = false;
        pthread_cond_broadcast(&f->idle_cond);
    }
    pthread_mutex_unlock(&f->mu);
    free(batch);
    return NULL;
}

static void on_eventfd(void *arg)
{
    struct flusher *f = arg;
    uint64_t v;
    while (read(f->efd, &v, sizeof(v)) == (ssize_t)sizeof(v))
        ;
    f->on_synced(f->arg);
}

int flusher_start(struct loop *l, struct offsets_log *olog, loop_cb on_synced, void *arg,
                  struct flusher **out)
{
    struct flusher *f = xcalloc(1, sizeof(*f));
    f->loop = l;
    f->olog = olog;
    f->on_synced = on_synced;
    f->arg = arg;
    f->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (f->efd < 0) {
        free(f);
        return TANDEM_EIO;
    }
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cond, NULL);
    pthread_cond_init(&f->idle_cond, NULL);
    if (pthread_create(&f->thread, NULL, flusher_main, f) != 0) {
        close(f->efd);
        free(f);
        return TANDEM_EIO;
    }
    loop_watch_fd(l, f->efd, on_eventfd, f);
    *out = f;
    return 0;
}

void flusher_mark(struct flusher *f, struct plog *l)
{
    pthread_mutex_lock(&f->mu);
    bool found = false;
    for (int i = f->nmarked - 1; i >= 0 && !found; i--)
        found = f->marked[i] == l;
    if (!found) {
        if (f->nmarked == f->cap) {
            f->cap = f->cap ? f->cap * 2 : 64;
            f->marked = xrealloc(f->marked, (size_t)f->cap * sizeof(*f->marked));
        }
        f->marked[f->nmarked++] = l;
        pthread_cond_signal(&f->cond);
    }
    pthread_mutex_unlock(&f->mu);
}

void flusher_mark_offsets(struct flusher *f)
{
    pthread_mutex_lock(&f->mu);
    if (!f->offsets_marked) {
        f->offsets_marked = true;
        pthread_cond_signal(&f->cond);
    }
    pthread_mutex_unlock(&f->mu);
}

void flusher_forget(struct flusher *f, struct plog *l)
{
    pthread_mutex_lock(&f->mu);
    while (f->syncing)
        pthread_cond_wait(&f->idle_cond, &f->mu);
    for (int i = 0; i < f->nmarked; i++)
        if (f->marked[i] == l)
            f->marked[i--] = f->marked[--f->nmarked];
    pthread_mutex_unlock(&f->mu);
}

void flusher_stop(struct flusher *f)
{
    pthread_mutex_lock(&f->mu);
    f->stop = true;
    pthread_cond_signal(&f->cond);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    loop_unwatch_fd(f->loop, f->efd);
    close(f->efd);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cond);
    pthread_cond_destroy(&f->idle_cond);
    free(f->marked);
    free(f);
}
