/*
 * The request lifecycle: how one Kafka request frame becomes (at most) one response.
 *
 *   net/ delivers a frame                                       request_on_frame
 *   -> the header is parsed (kafka_parse_request_header); a bad header closes the connection
 *   -> the API key is looked up in the one dispatch table (struct api_entry, api/table.c), the
 *      same table ApiVersions advertises (less its disabled entries: SASL and ACLs, answered
 *      with Kafka's feature-disabled errors); an unknown key closes the connection at once
 *   -> a response slot is reserved on the connection, so responses leave in request order
 *      whatever order they are completed in
 *   -> the version is checked against the table: an unsupported ApiVersions version is answered
 *      at v0 with UNSUPPORTED_VERSION and the supported list (KIP-511), any other closes the
 *      connection (as Kafka does)
 *   -> the handler parses the body into the request's arena, acts, and ends the request one way:
 *        answers now          request_begin_response, encode, request_respond
 *        answers nothing      request_free (Produce acks=0: the slot is cancelled)
 *        rejects it           request_fail (malformed body: the connection is closed)
 *        parks it             request_park (Fetch short of MinBytes: re-tried after appends and
 *                             answered at the latest when its wait ends)
 *        holds the answer     request_hold_until_durable (Produce acks=-1, OffsetCommit,
 *                             DeleteGroups: encoded now, sent once the flusher synced the data)
 *        answers later        request_hold_conn (JoinGroup, SyncGroup: the group coordinator
 *                             keeps the request and its callback answers)
 *
 * The lifecycle knows the dispatch table only as data (struct broker's apis, set at start-up),
 * never the handlers' files: handlers (api/) sit above it and call down into it. Everything here
 * runs on the loop thread.
 */
#ifndef TANDEM_BROKER_REQUEST_H
#define TANDEM_BROKER_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/kbuf.h"
#include "core.h"
#include "durable.h"
#include "net/net.h"
#include "protocol/messages.h"

struct request;

typedef void (*request_handler)(struct request *req);
/* A parked request's re-try: answers (and frees req) and returns true when it is time to, else
 * returns false and keeps waiting. force: the wait is over (timeout, shutdown, closed
 * connection), answer with what there is. */
typedef bool (*request_retry)(struct request *req, bool force);

/* One entry of the dispatch table: [ApiKey] = { MinVersion, MaxVersion, handler, name,
 * disabled }. A disabled entry is a feature tandem does not have (SASL, ACLs): its requests are
 * answered with the error Kafka gives when that feature is off, and ApiVersions does not list
 * it, since advertising an API says it is implemented. */
struct api_entry {
    int16_t min_version;
    int16_t max_version;
    request_handler handler;
    const char *name;
    bool disabled;
};

struct request {
    struct broker *b;
    struct conn *conn;
    struct conn_slot *slot; /* NULL once answered or cancelled */
    struct kafka_req_header hdr;
    struct arena arena;
    uint8_t *frame; /* owned only when frame_owned (a parked fetch keeps its frame) */
    size_t frame_len;
    bool frame_owned;
    bool conn_held;  /* a reference on conn is held (answer comes later) */
    struct kr body;  /* the request body, after the header */
    size_t body_off; /* where the body starts in frame */

    /* parked requests (request_park) */
    struct request *next, *prev;
    uint64_t timer_id;
    request_retry retry;
    void *state; /* the handler's own, e.g. a Fetch's parsed request */
};

/* The server's on_frame (net/net.h) for arg = the struct broker: runs one request through the
 * lifecycle above. b->apis must be set. */
void request_on_frame(struct conn *c, uint8_t *frame, size_t len, void *arg);

/* Fills out[] (room for KAFKA_API_KEY_MAX) with the version range of every API in table, in key
 * order; returns the count. This is what ApiVersions advertises. */
int request_api_ranges(const struct api_entry *table, struct api_version_range *out);

/* Starts a response: initialises w and writes the response header for this request. */
void request_begin_response(struct request *req, struct kw *w);
/* Sends w as this request's response (w is consumed) and frees the request. */
void request_respond(struct request *req, struct kw *w);
/* Frees a request that will send nothing (acks=0, or after its connection was closed). */
void request_free(struct request *req);
/* Closes the request's connection (protocol violation) and frees the request. */
void request_fail(struct request *req, const char *why);
/* Keeps the request past on_frame: copies the frame, resets req->body to the start of the body
 * (to be parsed again) and takes a reference on the connection. */
void request_keep(struct request *req);
/* Keeps the connection referenced until the request is freed (for answers that come later but
 * need nothing from the frame: the client id is dropped, it pointed into the borrowed frame). */
void request_hold_conn(struct request *req);
/* Holds the encoded response w (consumed) until every need is durable (durable.h), then sends
 * it in the request's place; frees the request now. */
void request_hold_until_durable(struct request *req, struct kw *w, const struct durable_need *needs,
                                int nneeds);

/* Parks req (which must own its frame: request_keep) until retry(req, false) returns true after
 * an append (request_poke_parked), or for at most wait_ms, when retry(req, true) answers it. */
void request_park(struct request *req, int64_t wait_ms, request_retry retry);
/* After an append: the parked requests are re-tried once, in the loop's next before-sleep hook
 * (request_before_sleep), however many appends came before it. */
void request_poke_parked(struct broker *b);
/* Re-tries every parked request now; with force (shutdown) each one answers. A request whose
 * connection was closed is forced too. */
void request_wake_parked(struct broker *b, bool force);
/* The loop's before-sleep hook (arg = the struct broker): re-tries the parked requests if an
 * append poked them since the last call. */
void request_before_sleep(void *arg);

#endif
