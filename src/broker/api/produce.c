/*
 * Produce: validate every batch once, append each partition's batches all or nothing, answer
 * according to acks.
 *
 * Per partition (produce_partition): one walk over the records validates every batch
 * (kbatch_validate: magic 2, lengths, CRC-32C, record count, records; then max.message.bytes and
 * no control batch) and keeps each batch's header; storage appends by those
 * headers without parsing again (plog_append). The partition's batches are appended all or
 * nothing, as in Kafka: a bad batch, an idempotent producer's sequence error in any batch (the
 * sequences are checked across the request's batches), or a failed write leaves the partition's
 * log as it was and answers the error for the whole partition.
 *
 * Transactional batches (KIP-98) are checked first against the transaction coordinator (txn.c):
 * the partition must be in the producer's ongoing transaction (INVALID_TXN_STATE otherwise), with
 * the current epoch (INVALID_PRODUCER_EPOCH); then they take the idempotent path below.
 *
 * Kafka's error codes: CORRUPT_MESSAGE (bad CRC/length/record), UNSUPPORTED_FOR_MESSAGE_FORMAT
 * (magic 0/1), MESSAGE_TOO_LARGE, INVALID_RECORD (control batches from a client, or a
 * transactional request's non-transactional batch),
 * UNKNOWN_TOPIC_OR_PARTITION, INVALID_TOPIC_EXCEPTION, INVALID_REQUIRED_ACKS, KAFKA_STORAGE_ERROR
 * (I/O), and for idempotent producers OUT_OF_ORDER_SEQUENCE_NUMBER and INVALID_PRODUCER_EPOCH (a
 * duplicate is success with the original offset, as in Kafka).
 *
 * acks=0: no response at all (answering would desynchronise the client).
 * acks=1: answered once write(2) returned, i.e. the bytes reached the OS.
 * acks=-1: the response is encoded at once but held (request_hold_until_durable) until the
 * flusher thread has fdatasync'ed every partition the request wrote to; one sync covers every
 * batch appended before it (group commit).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/log.h"
#include "common/mem.h"
#include "protocol/record_batch.h"
#include "tandem/error.h"

/* The headers of one partition's batches, in order, as validated. It grows with the batch count
 * (72 bytes a batch, and storage plans 16 more), which the frame bounds: a batch is at least 61
 * bytes. */
struct batch_list {
    struct kbatch *v;
    int n, cap;
    struct kbatch inline_v[4]; /* a producer sends one batch per partition and request */
};

static void batch_list_push(struct batch_list *bl, const struct kbatch *b)
{
    if (bl->n == bl->cap) {
        int cap = bl->cap * 2;
        struct kbatch *v = xmalloc((size_t)cap * sizeof(*v));
        memcpy(v, bl->v, (size_t)bl->n * sizeof(*v));
        if (bl->v != bl->inline_v)
            free(bl->v);
        bl->v = v;
        bl->cap = cap;
    }
    bl->v[bl->n++] = *b;
}

/* Validates every batch of one partition's records into bl. Returns the Kafka error (NONE if all
 * good) and a message. */
static int16_t validate_records(struct kbytes recs, const struct log_config *cfg,
                                struct batch_list *bl, const char **msg)
{
    if (recs.len <= 0) {
        *msg = "no record batch";
        return KAFKA_CORRUPT_MESSAGE;
    }
    size_t off = 0;
    while (off < (size_t)recs.len) {
        struct kbatch kb;
        size_t used;
        int rc = kbatch_validate(recs.p + off, (size_t)recs.len - off, &kb, &used);
        if (rc == TANDEM_EUNSUPPORTED) {
            *msg = "message format v0/v1 is not supported; use record batch v2 (magic 2)";
            return KAFKA_UNSUPPORTED_FOR_MESSAGE_FORMAT;
        }
        if (rc) {
            *msg = rc == TANDEM_EAGAIN ? "truncated record batch"
                                       : "corrupt record batch (length, CRC or records)";
            return KAFKA_CORRUPT_MESSAGE;
        }
        if (used > cfg->max_message_bytes) {
            *msg = "record batch larger than max.message.bytes";
            return KAFKA_MESSAGE_TOO_LARGE;
        }
        if (kb.attributes & KBATCH_ATTR_CONTROL) {
            *msg = "control batches may not be produced by clients";
            return KAFKA_INVALID_RECORD;
        }
        batch_list_push(bl, &kb);
        off += used;
    }
    return KAFKA_NONE;
}

/* The transaction check of one partition's batches (before validation, which catches what this
 * cannot read): a transactional batch must come from a producer whose ongoing transaction has
 * this partition (txn.c); a request with a transactional id carries only transactional batches
 * (Kafka's INVALID_RECORD otherwise). */
static int16_t check_transactional(struct broker *b, struct kstr topic, int32_t partition,
                                   struct kbytes recs, bool txn_request, const char **msg)
{
    size_t off = 0;
    while (recs.len > 0 && off < (size_t)recs.len) {
        struct kbatch kb;
        if (kbatch_parse_header(recs.p + off, (size_t)recs.len - off, &kb))
            return KAFKA_NONE;
        if (kb.attributes & KBATCH_ATTR_TRANSACTIONAL) {
            int16_t err = txn_produce_check(b, kb.producer_id, kb.producer_epoch, topic, partition);
            if (err) {
                *msg = err == KAFKA_INVALID_TXN_STATE
                           ? "the partition is not part of the producer's ongoing transaction"
                           : "transactional batch from an unknown or fenced producer";
                return err;
            }
        } else if (txn_request) {
            *msg = "a transactional producer's batches must be transactional";
            return KAFKA_INVALID_RECORD;
        }
        off += kbatch_size(&kb);
    }
    return KAFKA_NONE;
}

static int16_t append_error(int rc)
{
    switch (rc) {
    case TANDEM_EOUTOFORDER:
        return KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER;
    case TANDEM_EFENCED:
        return KAFKA_INVALID_PRODUCER_EPOCH;
    case TANDEM_ETOOLARGE:
        return KAFKA_MESSAGE_TOO_LARGE;
    case TANDEM_ECORRUPT:
        return KAFKA_CORRUPT_MESSAGE;
    default:
        return KAFKA_KAFKA_STORAGE_ERROR;
    }
}

bool produce_partition(struct topic *t, int32_t index, struct kbytes records,
                       struct produce_resp_partition *out)
{
    struct batch_list bl = {.v = bl.inline_v, .cap = 4};
    const char *msg = NULL;
    bool stored = false;
    out->error_code = validate_records(records, &t->cfg, &bl, &msg);
    if (out->error_code != KAFKA_NONE) {
        out->error_message = (struct kstr){msg, (int32_t)strlen(msg)};
        log_info("produce rejected",
                 "\"topic\":\"%s\",\"partition\":%d,\"error\":\"%s\",\"reason\":\"%s\"", t->name,
                 index, kafka_error_name(out->error_code), msg);
        goto out;
    }
    struct log_append_info info;
    /* the frame is ours to modify until the handler returns: the log sets offsets in place */
    int rc = plog_append(t->partitions[index], (uint8_t *)records.p, (size_t)records.len, bl.v,
                         bl.n, &info);
    if (rc && rc != TANDEM_EDUPSEQ) {
        out->error_code = append_error(rc);
        if (rc == TANDEM_EIO)
            log_error("append failed", "\"topic\":\"%s\",\"partition\":%d", t->name, index);
        goto out;
    }
    out->base_offset = info.base_offset;
    out->log_append_time_ms = info.log_append_time;
    out->log_start_offset = info.log_start_offset;
    stored = true;
out:
    if (bl.v != bl.inline_v)
        free(bl.v);
    return stored;
}

void handle_produce(struct request *req)
{
    struct broker *b = req->b;
    int16_t ver = req->hdr.request_api_version;
    struct produce_req in;
    if (kafka_parse_produce_request(&req->body, ver, &req->arena, &in)) {
        request_fail(req, "malformed Produce request");
        return;
    }
    struct produce_resp resp = {.ntopics = in.ntopics};
    resp.topics = arena_array(&req->arena, (size_t)in.ntopics, sizeof(*resp.topics));
    int nparts = 0;
    for (int32_t i = 0; i < in.ntopics; i++)
        nparts += in.topics[i].npartitions;
    struct durable_need *needs = arena_array(&req->arena, (size_t)nparts, sizeof(*needs));
    if ((in.ntopics && !resp.topics) || (nparts && !needs)) {
        request_fail(req, "Produce request too large");
        return;
    }
    bool bad_acks = in.acks != 0 && in.acks != 1 && in.acks != -1;
    int nneeds = 0;
    for (int32_t i = 0; i < in.ntopics; i++) {
        const struct produce_req_topic *ti = &in.topics[i];
        struct produce_resp_topic *to = &resp.topics[i];
        to->name = ti->name;
        to->npartitions = ti->npartitions;
        to->partitions = arena_array(&req->arena, (size_t)ti->npartitions, sizeof(*to->partitions));
        if (ti->npartitions && !to->partitions) {
            request_fail(req, "Produce request too large");
            return;
        }
        int16_t terr = KAFKA_NONE;
        struct topic *t = NULL;
        if (!bad_acks)
            t = api_topic(b, ti->name, true, &terr);
        for (int32_t j = 0; j < ti->npartitions; j++) {
            const struct produce_req_partition *pi = &ti->partitions[j];
            struct produce_resp_partition *po = &to->partitions[j];
            po->index = pi->index;
            po->base_offset = -1;
            po->log_append_time_ms = -1;
            po->log_start_offset = -1;
            if (bad_acks) {
                po->error_code = KAFKA_INVALID_REQUIRED_ACKS;
                continue;
            }
            if (!t || pi->index < 0 || pi->index >= t->npartitions) {
                po->error_code = t ? KAFKA_UNKNOWN_TOPIC_OR_PARTITION : terr;
                continue;
            }
            const char *msg = NULL;
            po->error_code = check_transactional(b, ti->name, pi->index, pi->records,
                                                 in.transactional_id.len >= 0, &msg);
            if (po->error_code) {
                po->error_message = (struct kstr){msg, (int32_t)strlen(msg)};
                continue;
            }
            if (!produce_partition(t, pi->index, pi->records, po))
                continue;
            struct plog *l = t->partitions[pi->index];
            needs[nneeds++] = (struct durable_need){DURABLE_PLOG, l, plog_end_offset(l)};
            request_poke_parked(b);
        }
    }

    if (in.acks == 0) {
        request_free(req); /* cancels the slot: no response for acks=0 */
        return;
    }
    struct kw w;
    request_begin_response(req, &w);
    kafka_encode_produce_response(&w, ver, &resp);
    if (in.acks == 1 || nneeds == 0) {
        request_respond(req, &w);
        return;
    }
    /* acks=-1: hold the response until every written partition is durable. */
    request_hold_until_durable(req, &w, needs, nneeds);
}
