/*
 * Held responses: answers that may leave only once data is on stable storage.
 *
 * Produce with acks=-1 and OffsetCommit encode their response at once, then hold it here with
 * what it waits for: partitions' logs up to an offset, or the offsets log up to a byte position.
 * Each time the flusher finishes a sync round, broker_complete_durable() sends every held
 * response whose needs are met. The connection keeps the response's place in its ordered
 * output, so later requests on the same connection are answered after it, as the protocol
 * requires.
 */
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "common/mem.h"
#include "group/offsets_log.h"

struct pending_produce {
    struct pending_produce *next;
    struct conn *conn;
    struct conn_slot *slot;
    struct kw w;
    int nneeds;
    struct durable_need needs[];
};

void broker_hold_until_durable(struct broker *b, struct request *req, struct kw *w,
                               const struct durable_need *needs, int nneeds)
{
    struct pending_produce *pp = xmalloc(sizeof(*pp) + (size_t)nneeds * sizeof(pp->needs[0]));
    pp->next = NULL;
    pp->conn = req->conn;
    pp->slot = req->slot;
    pp->w = *w;
    memset(w, 0, sizeof(*w));
    pp->nneeds = nneeds;
    memcpy(pp->needs, needs, (size_t)nneeds * sizeof(needs[0]));
    conn_ref(pp->conn);
    req->slot = NULL;
    if (b->pending_tail)
        b->pending_tail->next = pp;
    else
        b->pending_head = pp;
    b->pending_tail = pp;
    for (int i = 0; i < nneeds; i++) {
        if (needs[i].kind == DURABLE_PLOG)
            flusher_mark(b->flusher, needs[i].log);
        else if (needs[i].kind == DURABLE_OFFSETS)
            flusher_mark_offsets(b->flusher);
    }
    request_free(req);
}

static bool need_met(struct broker *b, const struct durable_need *n)
{
    switch (n->kind) {
    case DURABLE_PLOG:
        return plog_durable_offset(n->log) >= n->end;
    case DURABLE_OFFSETS:
        return offsets_log_durable(b->olog) >= n->end;
    default:
        return true;
    }
}

static bool pending_met(struct broker *b, const struct pending_produce *pp)
{
    for (int i = 0; i < pp->nneeds; i++)
        if (!need_met(b, &pp->needs[i]))
            return false;
    return true;
}

void broker_complete_durable(struct broker *b)
{
    struct pending_produce **pp = &b->pending_head, *prev = NULL;
    while (*pp) {
        struct pending_produce *cur = *pp;
        if (!pending_met(b, cur)) {
            prev = cur;
            pp = &cur->next;
            continue;
        }
        *pp = cur->next;
        if (b->pending_tail == cur)
            b->pending_tail = prev;
        conn_fill(cur->conn, cur->slot, &cur->w);
        kw_cleanup(&cur->w);
        conn_unref(cur->conn);
        free(cur);
    }
}

void broker_forget_topic(struct broker *b, struct topic *t)
{
    for (struct pending_produce *pp = b->pending_head; pp; pp = pp->next)
        for (int i = 0; i < pp->nneeds; i++)
            for (int32_t p = 0; p < t->npartitions; p++)
                if (pp->needs[i].kind == DURABLE_PLOG && pp->needs[i].log == t->partitions[p])
                    pp->needs[i].kind = DURABLE_NONE;
}
