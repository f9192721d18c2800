/*
 * struct broker: the state the broker core's files share.
 *
 * The core is everything between the lower layers (base/, protocol/, log/, group/, net/) and
 * main.c. Its files are layered too, lower to higher (docs/internals/broker.md draws it):
 *
 *   config.c     the settings table
 *   flusher.c    the group-commit thread (knows storage, the offsets log and the loop)
 *   durable.c    held responses, sent once what they wait for is synced (knows the flusher)
 *   core.h       this struct: data only, so every layer above may name it
 *   request.c    the request lifecycle: frame in, header, dispatch, response out, parking
 *   identity.c   what the broker keeps about itself: cluster id, producer ids, port file
 *   api/         one handler per Kafka API, and the dispatch table that lists them
 *   broker.c     start-up, timers, signals, shutdown: wires the layers together
 *
 * Each file includes only headers of its own layer and below; upward calls go through data
 * given at start-up (the dispatch table, the flusher's callback), never through an include.
 * Everything here is touched on the loop thread only, except what the flusher thread reads
 * through its own locks (flusher.c).
 */
#ifndef TANDEM_BROKER_CORE_H
#define TANDEM_BROKER_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "durable.h"
#include "log/log.h"
#include "net/net.h"

struct api_entry;
struct flusher;
struct gc;
struct offsets_log;
struct request;
struct txn_coord;

struct broker {
    struct broker_config *cfg;
    const struct api_entry *apis; /* the dispatch table (api/table.c), [KAFKA_API_KEY_MAX] */
    struct loop *loop;
    struct server *server;
    struct logmgr *logs;
    struct flusher *flusher;
    struct durable_queue held; /* responses waiting for a sync */
    int port;
    char cluster_id[32];
    char *host; /* advertised host */

    struct gc *gc;            /* the group coordinator */
    struct offsets_log *olog; /* committed offsets on disk */
    struct txn_coord *txn;    /* the transaction coordinator (api/txn.c) */
    uint64_t group_timer;
    int64_t group_timer_at;
    struct request *parked; /* long-polling requests (Fetch) */
    bool data_appended;     /* since the parked requests were last re-tried */

    int64_t next_producer_id, producer_id_block_end;

    int signal_fd;
    bool stopping;
    int64_t stop_deadline_ms;
    uint64_t maintain_timer, flush_timer;

    uint64_t requests_total;
};

#endif
