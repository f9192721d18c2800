/*
 * What the broker keeps about itself in small files (not in the logs):
 *
 *   <data-dir>/meta.properties     version=1, cluster.id=<22 chars>, node.id=<n>: created once,
 *                                  as Kafka's, so the cluster id survives restarts
 *   <data-dir>/producer_id_block   the end of the block of producer ids handed out so far
 *   <port-file>                    the bound port, for whoever started the broker (optional)
 *
 * Every write is atomic (PATH.tmp, fsync, rename, fsync of the directory), so a crash leaves the
 * old content or the new, and a producer id is never handed out twice across restarts.
 */
#ifndef TANDEM_BROKER_IDENTITY_H
#define TANDEM_BROKER_IDENTITY_H

#include <stdint.h>

#include "core.h"

/* Reads meta.properties into b->cluster_id (creating it with a fresh random id the first time)
 * and the producer id block. Returns 0, TANDEM_ECORRUPT (unreadable content) or TANDEM_EIO. */
int identity_load(struct broker *b);
/* Hands out a producer id (InitProducerId). Ids come from blocks of 1000 whose end is persisted
 * before the first id of the block is used. Returns 0 or TANDEM_EIO (the block could not be
 * persisted; nothing was handed out). */
int identity_next_producer_id(struct broker *b, int64_t *out);
/* Writes "<port>\n" to path. Returns 0 or TANDEM_EIO. */
int identity_write_port_file(const char *path, int port);

#endif
