/*
 * Held responses. See durable.h for the model.
 *
 * The queue is a singly linked list in hold order; completion walks it whole after each sync
 * round, since a later response may be ready before an earlier one (it waited on another
 * partition). Responses per connection still leave in request order: each holds its slot.
 */
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "durable.h"
#include "flusher.h"
#include "group/offsets_log.h"

struct held_response {
    struct held_response *next;
    struct conn *conn;
    struct conn_slot *slot;
    struct kw w;
    int nneeds;
    struct durable_need needs[];
};

void durable_init(struct durable_queue *q, struct flusher *f, struct offsets_log *olog)
{
    q->head = q->tail = NULL;
    q->flusher = f;
    q->olog = olog;
}

void durable_hold(struct durable_queue *q, struct conn *c, struct conn_slot *slot, struct kw *w,
                  const struct durable_need *needs, int nneeds)
{
    struct held_response *h = xmalloc(sizeof(*h) + (size_t)nneeds * sizeof(h->needs[0]));
    h->next = NULL;
    h->conn = c;
    h->slot = slot;
    h->w = *w;
    memset(w, 0, sizeof(*w));
    h->nneeds = nneeds;
    memcpy(h->needs, needs, (size_t)nneeds * sizeof(needs[0]));
    conn_ref(c);
    if (q->tail)
        q->tail->next = h;
    else
        q->head = h;
    q->tail = h;
    for (int i = 0; i < nneeds; i++) {
        if (needs[i].kind == DURABLE_PLOG)
            flusher_mark(q->flusher, needs[i].log);
        else if (needs[i].kind == DURABLE_OFFSETS)
            flusher_mark_offsets(q->flusher);
    }
}

static bool need_met(const struct durable_queue *q, const struct durable_need *n)
{
    switch (n->kind) {
    case DURABLE_PLOG:
        return plog_durable_offset(n->log) >= n->end;
    case DURABLE_OFFSETS:
        return offsets_log_durable(q->olog) >= n->end;
    default:
        return true;
    }
}

static bool held_met(const struct durable_queue *q, const struct held_response *h)
{
    for (int i = 0; i < h->nneeds; i++)
        if (!need_met(q, &h->needs[i]))
            return false;
    return true;
}

void durable_complete(struct durable_queue *q)
{
    struct held_response **hp = &q->head, *prev = NULL;
    while (*hp) {
        struct held_response *cur = *hp;
        if (!held_met(q, cur)) {
            prev = cur;
            hp = &cur->next;
            continue;
        }
        *hp = cur->next;
        if (q->tail == cur)
            q->tail = prev;
        conn_fill(cur->conn, cur->slot, &cur->w);
        kw_cleanup(&cur->w);
        conn_unref(cur->conn);
        free(cur);
    }
}

void durable_forget_topic(struct durable_queue *q, const struct topic *t)
{
    for (struct held_response *h = q->head; h; h = h->next)
        for (int i = 0; i < h->nneeds; i++)
            for (int32_t p = 0; p < t->npartitions; p++)
                if (h->needs[i].kind == DURABLE_PLOG && h->needs[i].log == t->partitions[p])
                    h->needs[i].kind = DURABLE_NONE;
}

bool durable_pending(const struct durable_queue *q)
{
    return q->head != NULL;
}
