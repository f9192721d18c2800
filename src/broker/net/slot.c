/*
 * The handler's side of a connection: response slots and the small accessors.
 *
 * A slot is reserved in request order (conn_reserve appends it to the conn's queue) and later
 * filled or cancelled exactly once. Filling turns the caller's struct kw into the slot's list of
 * wire parts (see the layout table in conn.c) and takes ownership of its buffer, splice array and
 * splice handles; nothing is sent here: the conn goes on the server's pending list and the flush
 * hook writes it before the loop next sleeps. That keeps the handler's calls free of re-entrancy
 * (on_close can never fire inside conn_fill).
 *
 * On a closed conn a reserved slot stays queued only so that its fill or cancel can find it; the
 * fill then disposes of everything at once.
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "net/net_int.h"

static void dispose(struct conn *c, struct conn_slot *s)
{
    slot_unlink(c, s);
    slot_free(c, s);
}

struct conn_slot *conn_reserve(struct conn *c)
{
    struct conn_slot *s = xcalloc(1, sizeof(*s));
    s->state = SLOT_RESERVED;
    if (c->q_tail)
        c->q_tail->next = s;
    else
        c->q_head = s;
    c->q_tail = s;
    c->inflight++;
    c->unfilled++;
    return s;
}

static void add_part(struct conn_slot *s, const uint8_t *p, struct file_slice *file, size_t len)
{
    if (len > 0)
        s->parts[s->nparts++] = (struct wpart){p, file, len};
}

void conn_fill(struct conn *c, struct conn_slot *s, struct kw *w)
{
    c->unfilled--;
    s->buf = w->buf;
    s->splices = w->splices;
    s->nsplices = w->nsplices;
    uint64_t body = w->len + w->ext_total;
    size_t len = w->len;
    memset(w, 0, sizeof(*w));
    if (c->closed || body > INT32_MAX) {
        if (!c->closed)
            log_error("response larger than 2 GiB dropped", "\"conn\":%llu",
                      (unsigned long long)c->id);
        dispose(c, s);
        if (!c->closed)
            conn_abort(c); /* the stream cannot continue without this response */
        return;
    }
    int max_parts = 2 + 2 * s->nsplices;
    s->parts = max_parts <= 4 ? s->inline_parts : xmalloc((size_t)max_parts * sizeof(*s->parts));
    put_be32(s->hdr, (uint32_t)body);
    add_part(s, s->hdr, NULL, 4);
    size_t at = 0;
    for (int i = 0; i < s->nsplices; i++) {
        const struct kw_splice *sp = &s->splices[i];
        add_part(s, s->buf + at, NULL, sp->at - at);
        add_part(s, NULL, (struct file_slice *)sp->ext, sp->ext_len);
        at = sp->at;
    }
    add_part(s, s->buf + at, NULL, len - at);
    s->state = SLOT_FILLED;
    c->unsent += 4 + body;
    conn_mark_pending(c);
}

void conn_cancel(struct conn *c, struct conn_slot *s)
{
    c->unfilled--;
    if (c->closed) {
        dispose(c, s);
        return;
    }
    s->state = SLOT_CANCELLED;
    conn_mark_pending(c);
}

bool conn_is_closed(const struct conn *c)
{
    return c->closed || c->closing || c->aborting;
}

void conn_close(struct conn *c)
{
    if (c->closed)
        return;
    c->closing = true;
    conn_mark_pending(c);
}

void conn_abort(struct conn *c)
{
    if (c->closed)
        return;
    if (c->in_frame) {
        c->aborting = true;
        return;
    }
    conn_kill(c, "aborted");
}

void conn_set_data(struct conn *c, void *data)
{
    c->data = data;
}

void *conn_data(const struct conn *c)
{
    return c->data;
}

uint64_t conn_id(const struct conn *c)
{
    return c->id;
}

const char *conn_peer(const struct conn *c)
{
    return c->peer;
}

uint8_t *conn_steal_frame(struct conn *c)
{
    if (!c->in_frame || c->cur_stolen)
        return NULL;
    c->cur_stolen = true;
    if (c->cur_frame == c->big)
        return c->big;
    uint8_t *p = xmalloc(c->cur_len ? c->cur_len : 1);
    memcpy(p, c->cur_frame, c->cur_len);
    return p;
}

size_t conn_unsent_bytes(const struct conn *c)
{
    return c->unsent;
}

int conn_inflight(const struct conn *c)
{
    return c->inflight;
}
