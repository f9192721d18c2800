/*
 * The flusher: group commit on its own thread (see flusher.c for the model).
 *
 * It knows storage (plog_sync), the offsets log (offsets_log_sync) and the loop (an eventfd it
 * watches); what happens once a sync round is done is the owner's business, told through the
 * on_synced callback given at start, so nothing here depends on who waits for the syncs.
 */
#ifndef TANDEM_BROKER_FLUSHER_H
#define TANDEM_BROKER_FLUSHER_H

#include "log/log.h"
#include "net/net.h"

struct flusher;
struct offsets_log;

/* Starts the thread. After each sync round, on_synced(arg) runs on l's thread (the loop).
 * olog is synced when flusher_mark_offsets asked for it. Returns 0 or TANDEM_EIO. */
int flusher_start(struct loop *l, struct offsets_log *olog, loop_cb on_synced, void *arg,
                  struct flusher **out);
/* Asks for a sync of l (loop thread). Cheap; coalesces. */
void flusher_mark(struct flusher *f, struct plog *l);
/* Asks for a sync of the offsets log. */
void flusher_mark_offsets(struct flusher *f);
/* Waits until the flusher no longer uses l (before its topic is deleted). */
void flusher_forget(struct flusher *f, struct plog *l);
/* Syncs what is marked, stops the thread, frees f. */
void flusher_stop(struct flusher *f);

#endif
