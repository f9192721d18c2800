/*
 * The broker core: glue between the network loop (net/), the codecs (protocol/) and storage
 * (log/). Everything here runs on the loop thread, except the flusher thread (flusher.c), which
 * only calls plog_sync() and signals back through an eventfd.
 *
 * A request's life:
 *   on_frame -> parse header -> look up the dispatch table (dispatch.c) -> reserve a response slot
 *   on the connection (responses leave in request order) -> the handler parses the body, acts,
 *   and either answers at once (request_respond) or later:
 *     - Produce with acks=-1 encodes its response at once but holds it until the flusher reports
 *       that every partition it wrote is durable (group commit);
 *     - Fetch parks until data arrives (an append wakes parked fetches in the before-sleep hook),
 *       MinBytes is reached, or MaxWaitMs expires.
 *   Produce with acks=0 cancels its slot: the protocol says no response is sent.
 */
#ifndef TANDEM_BROKER_BROKER_H
#define TANDEM_BROKER_BROKER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "log/log.h"
#include "net/net.h"
#include "protocol/kafka.h"
#include "protocol/messages.h"

struct flusher;
struct pending_produce;
struct gc;
struct offsets_log;

/* Something a held response waits for: a partition's log or the offsets log to be durable up
 * to `end` (an offset for a partition, a byte position for the offsets log). */
enum durable_kind { DURABLE_NONE = 0, DURABLE_PLOG, DURABLE_OFFSETS };

struct durable_need {
    enum durable_kind kind; /* DURABLE_NONE once satisfied by other means (topic deleted) */
    struct plog *log;
    int64_t end;
};

struct broker {
    struct broker_config *cfg;
    struct loop *loop;
    struct server *server;
    struct logmgr *logs;
    struct flusher *flusher;
    int port;
    char cluster_id[32];
    char *host; /* advertised host */

    struct pending_produce *pending_head, *pending_tail; /* responses waiting for a sync */
    struct gc *gc;                                       /* the group coordinator */
    struct offsets_log *olog;                            /* committed offsets on disk */
    uint64_t group_timer;
    int64_t group_timer_at;
    struct request *parked; /* long-polling fetches */
    bool data_appended;     /* since the last wake of parked fetches */

    int64_t next_producer_id, producer_id_block_end;

    int signal_fd;
    bool stopping;
    int64_t stop_deadline_ms;
    uint64_t maintain_timer, flush_timer;

    uint64_t requests_total;
    uint64_t connections_total;
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

    /* parked fetches */
    struct request *next, *prev;
    uint64_t timer_id;
    bool timed_out;
    void *state;
};

/* ---- broker.c ---------------------------------------------------------------------------- */

/* Opens storage, binds the listener and installs timers and signal handling. */
int broker_init(struct broker *b, struct broker_config *cfg);
/* Runs until SIGTERM/SIGINT and a drain. Returns 0 on a clean stop. */
int broker_run(struct broker *b);
void broker_cleanup(struct broker *b);

/* Starts a response: a writer holding the response header for this request. */
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
 * need nothing from the frame). */
void request_hold_conn(struct request *req);
/* Looks a topic up, creating it when auto-creation is on and the name is valid. *err gets the
 * Kafka error for a NULL result. */
struct topic *broker_topic(struct broker *b, struct kstr name, bool auto_create, int16_t *err);
/* Hands out a producer id (InitProducerId); ids are never reused across restarts. */
int broker_next_producer_id(struct broker *b, int64_t *out);
/* Called after appends: wakes parked fetches in the before-sleep hook. */
void broker_note_append(struct broker *b);

/* ---- dispatch.c -------------------------------------------------------------------------- */

typedef void (*request_handler)(struct request *req);

struct api_entry {
    int16_t min_version;
    int16_t max_version;
    request_handler handler;
    const char *name;
};

/* The one table: what is advertised is what is implemented. NULL for unknown keys. */
const struct api_entry *dispatch_lookup(int16_t api_key);
/* Fills out[] (room for KAFKA_API_KEY_MAX) from the table; returns the count. */
int dispatch_versions(struct api_version_range *out);

/* ---- handlers ---------------------------------------------------------------------------- */

void handle_api_versions(struct request *req);
void handle_metadata(struct request *req);
void handle_produce(struct request *req);
void handle_fetch(struct request *req);
void handle_list_offsets(struct request *req);
void handle_create_topics(struct request *req);
void handle_delete_topics(struct request *req);
void handle_init_producer_id(struct request *req);
void handle_create_partitions(struct request *req);

/* fetch.c: re-evaluates parked fetches (after appends, or all of them when stopping). */
void fetch_wake_parked(struct broker *b, bool force);

/* durable.c: holds an encoded response (w is consumed; req is freed) until every need is met. */
void broker_hold_until_durable(struct broker *b, struct request *req, struct kw *w,
                               const struct durable_need *needs, int nneeds);
/* Sends held responses whose needs are now durable (after each sync round). */
void broker_complete_durable(struct broker *b);
/* Drops references to a topic's partitions before the topic is deleted. */
void broker_forget_topic(struct broker *b, struct topic *t);

/* groups.c */
void handle_find_coordinator(struct request *req);
void handle_join_group(struct request *req);
void handle_sync_group(struct request *req);
void handle_heartbeat(struct request *req);
void handle_leave_group(struct request *req);
void handle_offset_commit(struct request *req);
void handle_offset_fetch(struct request *req);
void handle_list_groups(struct request *req);
void handle_describe_groups(struct request *req);
void handle_delete_groups(struct request *req);
/* Opens the offsets log and the coordinator; closes them. */
int groups_init(struct broker *b);
void groups_cleanup(struct broker *b);
/* Periodic: expire old offsets of empty groups, compact the offsets log. */
void groups_maintain(struct broker *b);

/* ---- flusher.c --------------------------------------------------------------------------- */

/* The group-commit thread: fdatasyncs marked partitions and signals the loop, which then calls
 * produce_complete_durable(). */
int flusher_start(struct broker *b, struct flusher **out);
/* Asks for a sync of l (loop thread). Cheap; coalesces. */
void flusher_mark(struct flusher *f, struct plog *l);
/* Asks for a sync of the offsets log. */
void flusher_mark_offsets(struct flusher *f);
/* Waits until the flusher no longer uses l (before its topic is deleted). */
void flusher_forget(struct flusher *f, struct plog *l);
/* Syncs what is marked, stops the thread. */
void flusher_stop(struct flusher *f);

#endif
