/*
 * Produce: validate every batch, append, answer according to acks.
 *
 * Per partition, all batches are validated before any is appended (kbatch_validate: magic 2,
 * lengths, CRC-32C, record count, records), so a rejected request changes nothing on disk.
 * Kafka's error codes: CORRUPT_MESSAGE (bad CRC/length/record), UNSUPPORTED_FOR_MESSAGE_FORMAT
 * (magic 0/1), MESSAGE_TOO_LARGE, INVALID_RECORD (control or transactional batches from a client),
 * UNKNOWN_TOPIC_OR_PARTITION, INVALID_TOPIC_EXCEPTION, INVALID_REQUIRED_ACKS, and for idempotent
 * producers OUT_OF_ORDER_SEQUENCE_NUMBER and INVALID_PRODUCER_EPOCH (a duplicate is success with
 * the original offset, as in Kafka).
 *
 * acks=0: no response at all (answering would desynchronise the client).
 * acks=1: answered once write(2) returned, i.e. the bytes reached the OS.
 * acks=-1: the response is encoded at once but held (durable.c) until the flusher thread has
 * fdatasync'ed every partition the request wrote to; one sync covers every batch appended
 * before it (group commit).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/log.h"
#include "common/mem.h"
#include "protocol/record_batch.h"
#include "tandem/error.h"

/* Validates every batch of one partition's records. Returns the Kafka error (NONE if all good)
 * and a message. */
static int16_t validate_records(struct kbytes recs, const struct log_config *cfg, int *nbatches,
                                const char **msg)
{
    *nbatches = 0;
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
        if (kb.attributes & KBATCH_ATTR_TRANSACTIONAL) {
            *msg = "transactions are not supported by tandem-broker";
            return KAFKA_INVALID_RECORD;
        }
        off += used;
        (*nbatches)++;
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

/* Appends one partition's (already validated) batches. */
static void produce_partition(struct broker *b, struct topic *t,
                              const struct produce_req_partition *in,
                              struct produce_resp_partition *out, struct durable_need *need)
{
    struct plog *l = t->partitions[in->index];
    uint8_t *p = (uint8_t *)in->records.p; /* the frame is ours to modify until we return */
    size_t off = 0, len = (size_t)in->records.len;
    bool first = true;
    while (off < len) {
        struct kbatch kb;
        size_t used;
        (void)kbatch_validate(p + off, len - off, &kb, &used); /* validated before */
        struct log_append_info info;
        int rc = plog_append(l, p + off, used, &info);
        if (rc && rc != TANDEM_EDUPSEQ) {
            out->error_code = append_error(rc);
            if (rc == TANDEM_EIO)
                log_error("append failed", "\"topic\":\"%s\",\"partition\":%d", t->name, in->index);
            break;
        }
        if (first) {
            out->base_offset = info.base_offset;
            out->log_append_time_ms = info.log_append_time;
            first = false;
        }
        out->log_start_offset = info.log_start_offset;
        off += used;
    }
    if (!first) {
        need->kind = DURABLE_PLOG;
        need->log = l;
        need->end = plog_end_offset(l);
        request_poke_parked(b);
    }
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
        if (!bad_acks && in.transactional_id.len < 0)
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
            if (in.transactional_id.len >= 0) {
                po->error_code = KAFKA_INVALID_REQUEST;
                po->error_message = KSTR("transactions are not supported by tandem-broker");
                continue;
            }
            if (!t || pi->index < 0 || pi->index >= t->npartitions) {
                po->error_code = t ? KAFKA_UNKNOWN_TOPIC_OR_PARTITION : terr;
                continue;
            }
            const char *msg = NULL;
            int nbatches;
            po->error_code = validate_records(pi->records, &t->cfg, &nbatches, &msg);
            if (po->error_code != KAFKA_NONE) {
                po->error_message = (struct kstr){msg, (int32_t)strlen(msg)};
                log_info("produce rejected",
                         "\"topic\":\"%s\",\"partition\":%d,\"error\":\"%s\",\"reason\":\"%s\"",
                         t->name, pi->index, kafka_error_name(po->error_code), msg);
                continue;
            }
            produce_partition(b, t, pi, po, &needs[nneeds]);
            if (needs[nneeds].kind == DURABLE_PLOG)
                nneeds++;
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
