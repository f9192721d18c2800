/*
 * stream.c: a streamed answer (tandem_http_stream_* in include/tandem/http.h): an answer that
 * stays open and is written piece by piece, for server-sent events and long exports.
 *
 * IN THE CONNECTION'S STATE MACHINE a stream is a request that stays at its handler: the
 * connection is `pending` from dispatch until the stream ends, so nothing further is parsed
 * (pipelined requests wait, as they do behind any answer) and no request or idle deadline runs.
 * What differs from a deferred answer:
 *
 *   - bytes go out while it is pending: begin writes the head, each write one piece, appended to
 *     the connection's output buffer and queued for the end of the loop's current step (the
 *     worker's flush queue), never sent from inside the call, so no callback can run inside
 *     tandem_http_stream_write;
 *   - its framing is chosen at begin and written here, not by response.c's Content-Length:
 *
 *         HTTP/1.1   Transfer-Encoding: chunked; each write is   <len in hex>\r\n<bytes>\r\n
 *                    and the end                                 0\r\n\r\n
 *                    (RFC 9112 section 7.1; no chunk extensions, no trailers); the connection
 *                    then goes on with the next request unless it was to close
 *         HTTP/1.0   no length, Connection: close: the body is every byte up to the close
 *                    (RFC 9112 section 6.3, rule 8); the end closes the connection
 *
 *   - back-pressure: a write that would leave more than max_stream_queue bytes unsent is refused
 *     whole (TANDEM_EAGAIN), so a slow reader costs at most that much memory and the producer
 *     decides what to drop; while bytes wait unsent the connection sits in the idle list, its
 *     deadline pushed back whenever the kernel takes some (worker.c, conn_update), so a client
 *     that reads nothing for idle_timeout_ms is closed (TANDEM_ETIMEDOUT);
 *   - the client going away ends it: the peer's FIN (epoll's EPOLLRDHUP, io_uring's receive of 0
 *     bytes) or an error closes the connection (hconn_rdhup, hconn_close_reason), which ends the
 *     stream with on_close(TANDEM_ECLOSED): nginx's rule for a proxied request whose client shut
 *     its side, since a client that half-closes a stream it cannot end is leaving;
 *   - the server ends it: the drain (drain_begin) and the stop (hworker_main, before the loop's
 *     last posts and stop hooks, on the worker thread) finish every open stream with its last
 * chunk, on_close(0) and a close, so no stream keeps a connection the drain or stop cannot end.
 *
 * The worker keeps its open streams in a list (w->streams) for the drain and the stop. A stream
 * with nothing pipelined behind it gives up its connection's input buffer (16 KiB, a page of it
 * touched) until it ends (hconn_next allocates it again): an idle stream's memory is mostly
 * what the connection and its request hold (docs/benchmarks.md). Every
 * end runs on_close (unless the owner ended it), then the config's on_done with the stream's
 * status, exactly once.
 */
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

#define LAST_CHUNK "0\r\n\r\n"

static void streams_link(struct hworker *w, struct hreq *r)
{
    r->sprev = NULL;
    r->snext = w->streams;
    if (w->streams != NULL) {
        w->streams->sprev = r;
    }
    w->streams = r;
}

static void streams_unlink(struct hworker *w, struct hreq *r)
{
    if (r->sprev != NULL) {
        r->sprev->snext = r->snext;
    } else {
        w->streams = r->snext;
    }
    if (r->snext != NULL) {
        r->snext->sprev = r->sprev;
    }
    r->sprev = r->snext = NULL;
}

bool hstream_open(const struct hconn *c)
{
    return c->pending && c->req != NULL && c->req->stream == HSTREAM_OPEN;
}

static void done(struct hreq *r)
{
    if (r->cfg != NULL && r->cfg->on_done != NULL) {
        r->cfg->on_done(&r->view, r->status, r->cfg->arg);
    }
}

/* Whether the calling thread may act on r's connection (c NULL: the connection is gone). */
static bool on_worker(const struct hconn *c)
{
    return c == NULL || hloop_current == &c->w->loop;
}

int tandem_http_stream_begin(struct tandem_http_request *req, int status, const char *content_type,
                             tandem_http_stream_close_fn on_close, void *arg)
{
    struct hreq *r = (struct hreq *)req;
    struct hconn *c = r->conn;
    if (status < 200 || status > 599 || status == 204 || status == 304 || r->answered ||
        !on_worker(c)) {
        return TANDEM_EINVAL;
    }
    r->answered = true; /* tandem_http_respond refuses it from here */
    r->status = status;
    if (c != NULL && (c->rd_hup || c->rd_end)) {
        hconn_close(c); /* the client shut its side: leaving (see the essay) */
        c = NULL;
    }
    if (c == NULL) { /* the client went away while the handler worked */
        done(r);
        hreq_free(r);
        return TANDEM_ECLOSED;
    }
    struct hworker *w = c->w;
    bool http10 = r->view.http_minor == 0;
    bool close = !r->keep_alive || http10 || w->stopping || w->draining;
    bool at_once = r->is_head || w->stopping || w->draining; /* no stream to write */
    if (at_once) {
        done(r); /* before the head, as for any answer: its headers still go out */
    }
    struct hresp resp = {
        .status = status,
        .content_type = content_type,
        .extra = r->extra,
        .extra_len = r->extra_len,
        .close = close,
        .head_only = true,
        .framing = http10 ? HRESP_TO_CLOSE : HRESP_CHUNKED,
    };
    hresp_write(&c->out, &resp, w->date);
    if (at_once) {
        if (!r->is_head && !http10) {
            hbuf_append(&c->out, LAST_CHUNK, sizeof(LAST_CHUNK) - 1);
        }
        hconn_next(c, r, close);
        hconn_queue_flush(c);
        return TANDEM_ECLOSED;
    }
    if (c->in_off == c->in_len) { /* nothing pipelined: no input buffer while it streams */
        free(c->in);
        c->in = NULL;
        c->in_cap = c->in_off = c->in_len = 0;
    }
    r->stream = HSTREAM_OPEN;
    r->chunked = !http10;
    r->stream_close = close;
    r->on_close = on_close;
    r->close_arg = arg;
    streams_link(w, r);
    hconn_queue_flush(c);
    return 0;
}

/* Writes the chunk-size line of a chunk of n bytes ("1a2\r\n") into out; returns its length. */
static size_t chunk_line(char out[20], size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char digits[16];
    size_t k = 0;
    do {
        digits[k++] = hex[n & 15];
        n >>= 4;
    } while (n != 0);
    size_t len = 0;
    while (k > 0) {
        out[len++] = digits[--k];
    }
    out[len++] = '\r';
    out[len++] = '\n';
    return len;
}

/* 0 when r has an open stream that the calling thread may use, else what to answer. */
static int usable(const struct hreq *r)
{
    if (r->stream == HSTREAM_CLOSING) {
        return TANDEM_ECLOSED;
    }
    if (r->stream != HSTREAM_OPEN || !on_worker(r->conn)) {
        return TANDEM_EINVAL;
    }
    return 0;
}

int tandem_http_stream_write(struct tandem_http_request *req, const void *data, size_t len)
{
    struct hreq *r = (struct hreq *)req;
    int rc = usable(r);
    if (rc != 0 || len == 0) {
        return rc; /* a chunk of 0 bytes would end the body */
    }
    struct hconn *c = r->conn;
    char line[20];
    size_t ln = r->chunked ? chunk_line(line, len) : 0;
    size_t need = ln + len + (r->chunked ? 2 : 0);
    size_t cap = c->w->sh->cfg.max_stream_queue;
    if (need > cap) {
        return TANDEM_ETOOLARGE;
    }
    if (hconn_unsent(c) + need > cap) {
        return TANDEM_EAGAIN;
    }
    hbuf_append(&c->out, line, ln);
    hbuf_append(&c->out, data, len);
    if (r->chunked) {
        hbuf_append(&c->out, "\r\n", 2);
    }
    hconn_queue_flush(c);
    return 0;
}

size_t tandem_http_stream_queued(const struct tandem_http_request *req)
{
    const struct hreq *r = (const struct hreq *)req;
    return r->stream == HSTREAM_OPEN ? hconn_unsent(r->conn) : 0;
}

int tandem_http_stream_end(struct tandem_http_request *req)
{
    struct hreq *r = (struct hreq *)req;
    int rc = usable(r);
    if (rc != 0) {
        return rc;
    }
    struct hconn *c = r->conn;
    streams_unlink(c->w, r);
    r->stream = HSTREAM_NONE;
    if (r->chunked) {
        hbuf_append(&c->out, LAST_CHUNK, sizeof(LAST_CHUNK) - 1);
    }
    done(r);
    hconn_next(c, r, r->stream_close);
    hconn_queue_flush(c);
    return 0;
}

void hstream_gone(struct hworker *w, struct hreq *r, int reason)
{
    streams_unlink(w, r);
    r->stream = HSTREAM_CLOSING;
    r->conn = NULL;
    if (r->on_close != NULL) {
        r->on_close(&r->view, reason, r->close_arg);
    }
    done(r);
    hreq_free(r);
}

void hstream_finish(struct hconn *c)
{
    struct hreq *r = c->req;
    streams_unlink(c->w, r);
    r->stream = HSTREAM_CLOSING;
    if (r->chunked) {
        hbuf_append(&c->out, LAST_CHUNK, sizeof(LAST_CHUNK) - 1);
    }
    if (r->on_close != NULL) {
        r->on_close(&r->view, 0, r->close_arg);
    }
    done(r);
    r->stream = HSTREAM_NONE;
    if (r->conn == NULL) { /* its connection failed meanwhile (it detached r) */
        hreq_free(r);
        return;
    }
    hconn_next(c, r, true);
    hconn_queue_flush(c);
}
