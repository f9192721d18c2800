/*
 * Held responses: answers that may leave only once data is on stable storage.
 *
 * Produce with acks=-1, OffsetCommit and DeleteGroups encode their response at once, then hold
 * it here with what it waits for: partitions' logs up to an offset, or the offsets log up to a
 * byte position. Holding marks those for the flusher; each time the flusher finishes a sync
 * round, durable_complete() sends every held response whose needs are met. The connection keeps
 * the response's place in its ordered output (its slot), so later requests on the same
 * connection are answered after it, as the protocol requires.
 *
 * This layer knows connections, storage, the offsets log and the flusher; it knows nothing of
 * requests (request_hold_until_durable in request.c hands it a slot and frees the request).
 * Loop thread only.
 */
#ifndef TANDEM_BROKER_DURABLE_H
#define TANDEM_BROKER_DURABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/kbuf.h"
#include "log/log.h"
#include "net/net.h"

struct flusher;
struct offsets_log;

/* Something a held response waits for: a partition's log or the offsets log to be durable up
 * to `end` (an offset for a partition, a byte position for the offsets log). */
enum durable_kind { DURABLE_NONE = 0, DURABLE_PLOG, DURABLE_OFFSETS };

struct durable_need {
    enum durable_kind kind; /* DURABLE_NONE once satisfied by other means (topic deleted) */
    struct plog *log;
    int64_t end;
};

struct held_response;

/* The held responses, oldest first. Embedded in struct broker. */
struct durable_queue {
    struct held_response *head, *tail;
    struct flusher *flusher;  /* marked for every need */
    struct offsets_log *olog; /* whose durable position DURABLE_OFFSETS needs compare with */
};

/* Starts an empty queue whose needs are marked on f and compared with olog's position. */
void durable_init(struct durable_queue *q, struct flusher *f, struct offsets_log *olog);
/* Holds w (an encoded response, consumed: left zeroed) for slot on c until every need is met,
 * and asks the flusher to sync what the needs name. Takes a reference on c until it is sent. */
void durable_hold(struct durable_queue *q, struct conn *c, struct conn_slot *slot, struct kw *w,
                  const struct durable_need *needs, int nneeds);
/* Sends the held responses whose needs are now durable (after each sync round, or once needs
 * were dropped by durable_forget_topic). */
void durable_complete(struct durable_queue *q);
/* Drops needs on a topic's partitions before the topic is deleted (they can never be met, and
 * the plogs are about to be freed); call durable_complete afterwards. */
void durable_forget_topic(struct durable_queue *q, const struct topic *t);
/* True while some response is held. */
bool durable_pending(const struct durable_queue *q);

#endif
