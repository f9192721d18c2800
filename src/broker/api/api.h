/*
 * The API handlers: one function per Kafka API, and the dispatch table that lists them.
 *
 *   table.c          the table [ApiKey] = { MinVersion, MaxVersion, handler }, and ApiVersions,
 *                    answered from it
 *   metadata.c       Metadata; api_topic, the topic lookup (with auto-creation) every handler uses
 *   produce.c        Produce: validate once, append all-or-nothing per partition, answer per acks
 *   fetch.c          Fetch: whole batches by sendfile, long-polling when short of MinBytes
 *   list_offsets.c   ListOffsets
 *   admin.c          CreateTopics, DeleteTopics, CreatePartitions, InitProducerId
 *   configs.c        DescribeConfigs, AlterConfigs, IncrementalAlterConfigs
 *   records.c        DeleteRecords, OffsetDelete
 *   groups.c         the consumer-group APIs, over the coordinator (group/) and the offsets log
 *   security.c       SASL and ACL requests, answered as Kafka does when those features are off
 *   txn.c            the transaction coordinator: AddPartitionsToTxn, AddOffsetsToTxn, EndTxn,
 *                    TxnOffsetCommit, InitProducerId with a transactional id, the transaction
 *                    log, markers, timeouts, recovery
 *
 * A handler gets a request whose header was parsed and whose version is in the table's range
 * (request.c), parses the body from req->body into req->arena, acts on the broker's state, and
 * ends the request in one of the ways request.h lists. Handlers call down (request.c, durable.c,
 * flusher.c, identity.c, storage, the coordinator); nothing below calls a handler except through
 * the table.
 */
#ifndef TANDEM_BROKER_API_API_H
#define TANDEM_BROKER_API_API_H

#include <stdbool.h>
#include <stdint.h>

#include "core.h"
#include "protocol/kafka.h"
#include "request.h"

/* The one dispatch table (table.c): what is advertised is what is implemented. Entries without
 * a handler are APIs tandem does not implement. */
extern const struct api_entry api_table[KAFKA_API_KEY_MAX];

/* table.c */
void handle_api_versions(struct request *req);

/* metadata.c */
void handle_metadata(struct request *req);
/* Looks a topic up, creating it when auto_create is true, auto.create.topics.enable is on and the
 * name is valid. *err gets the Kafka error for a NULL result (INVALID_TOPIC_EXCEPTION,
 * UNKNOWN_TOPIC_OR_PARTITION, KAFKA_STORAGE_ERROR). */
struct topic *api_topic(struct broker *b, struct kstr name, bool auto_create, int16_t *err);

/* produce.c, fetch.c, list_offsets.c */
void handle_produce(struct request *req);
/* Produce's work for one partition of topic t (index valid): validates every batch of records
 * once and appends them all or none (plog_append), then fills out's error_code, error_message,
 * base_offset, log_append_time_ms and log_start_offset (the caller sets the -1 defaults). The
 * record bytes are modified in place (offsets). Returns true when the batches are stored (now,
 * or earlier for duplicates): an acks=-1 answer must wait until the log is durable to its end. */
bool produce_partition(struct topic *t, int32_t index, struct kbytes records,
                       struct produce_resp_partition *out);
void handle_fetch(struct request *req);
void handle_list_offsets(struct request *req);

/* admin.c */
void handle_create_topics(struct request *req);
void handle_delete_topics(struct request *req);
void handle_create_partitions(struct request *req);
void handle_init_producer_id(struct request *req);

/* configs.c: DescribeConfigs, AlterConfigs, IncrementalAlterConfigs (topics and the broker) */
void handle_describe_configs(struct request *req);
void handle_alter_configs(struct request *req);
void handle_incremental_alter_configs(struct request *req);
/* records.c: DeleteRecords, OffsetDelete */
void handle_delete_records(struct request *req);
void handle_offset_delete(struct request *req);
/* txn.c: the transaction coordinator */
void handle_add_partitions_to_txn(struct request *req);
void handle_add_offsets_to_txn(struct request *req);
void handle_end_txn(struct request *req);
void handle_txn_offset_commit(struct request *req);
/* InitProducerId with a transactional id: the producer id and a new epoch for id (fencing older
 * ones; an ongoing transaction of the older epoch is aborted). Returns the Kafka error. */
int16_t txn_init_producer(struct broker *b, struct kstr id, int32_t timeout_ms, int64_t *pid,
                          int16_t *epoch);
/* Produce's check of a transactional batch of producer pid at epoch for topic/partition: the
 * partition must belong to the producer's ongoing transaction (AddPartitionsToTxn). Returns
 * NONE, INVALID_PRODUCER_EPOCH (older epoch), INVALID_PRODUCER_ID_MAPPING (unknown producer) or
 * INVALID_TXN_STATE. */
int16_t txn_produce_check(struct broker *b, int64_t pid, int16_t epoch, struct kstr topic,
                          int32_t partition);
/* Opens the transaction log (b->txn) and completes every transaction a crash left open: prepared
 * commits are finished, ongoing transactions aborted. Needs the logs, the group coordinator and
 * the offsets log; call before the listener serves. Returns 0 or a TANDEM_E* error. */
int txn_init(struct broker *b);
/* Starts the timeout timer (needs b->loop). */
void txn_start_timer(struct broker *b);
void txn_cleanup(struct broker *b);

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
/* security.c: disabled features (not advertised) */
void handle_sasl_handshake(struct request *req);
void handle_sasl_authenticate(struct request *req);
void handle_describe_acls(struct request *req);
void handle_create_acls(struct request *req);
void handle_delete_acls(struct request *req);

/* Opens the offsets log and the coordinator (b->gc, b->olog); closes them (answering pending
 * joins and syncs). Returns 0 or the offsets log's error. */
int groups_init(struct broker *b);
void groups_cleanup(struct broker *b);
/* Periodic: expires old offsets of empty groups, compacts the offsets log. */
void groups_maintain(struct broker *b);

#endif
