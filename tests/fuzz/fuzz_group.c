/*
 * libFuzzer target for the consumer-group codecs (messages_group.h, messages_group_client.h).
 *
 * The input is read as a request frame without its size prefix: the request header is parsed
 * (kafka_parse_request_header), and the body after it (or, when the header does not parse, the
 * whole input) is given to every group request parser at every version from -1 to one past the
 * codec's maximum, and to every group response parser likewise. Invariants checked, beyond "no
 * crash, no sanitizer report":
 *   - a parser returns 0, TANDEM_EPROTO, TANDEM_EUNSUPPORTED (only outside the version range) or
 *     TANDEM_ETOOLARGE (arena cap);
 *   - what a request parser accepts, the client encoder writes back as the identical bytes, and
 *     what a response parser accepts, the broker encoder writes back identically (every field
 *     is read and nothing is invented); at flexible versions, where unknown tagged fields are
 *     skipped and varints may be longer than needed, what is written back must parse and be
 *     written back identically again (the re-encoding is a fixed point);
 *   - a response built from an accepted request (as a coordinator would answer it) encodes and
 *     parses back with the client parser.
 * Seeds: tests/fuzz/corpus/group/ (frames captured from librdkafka, see tests/vectors/group, and
 * one encoded sample per API and version). The per-API dispatch to the codecs is shared with the
 * unit test: tests/common/codec_group_dispatch.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/kafka.h"
#include "protocol/messages_group.h"
#include "kafka_client/messages_group_client.h"
#include "tandem/error.h"
#include "../common/codec_group_dispatch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ARENA_CAP (1u << 20)

/* Builds the response a coordinator could give to an accepted request, from arena memory.
 * Returns false when the arena is out of room. */
static bool answer(int16_t api, const union group_req *q, struct arena *a, union group_resp *o)
{
    memset(o, 0, sizeof(*o));
    switch (api) {
    case KAFKA_FIND_COORDINATOR:
        o->find_coordinator =
            (struct find_coordinator_resp){0, 0, KSTR_NULL, 1, KSTR("127.0.0.1"), 9092, 0, NULL};
        return true;
    case KAFKA_JOIN_GROUP: {
        const struct join_group_req *j = &q->join_group;
        struct join_group_resp *r = &o->join_group;
        r->generation_id = 1;
        r->protocol_name = j->nprotocols > 0 ? j->protocols[0].name : KSTR("");
        r->leader = r->member_id = j->member_id;
        r->nmembers = j->nprotocols;
        r->members =
            j->nprotocols > 0 ? arena_array(a, (size_t)j->nprotocols, sizeof(*r->members)) : NULL;
        if (j->nprotocols > 0 && !r->members)
            return false;
        for (int32_t i = 0; i < j->nprotocols; i++)
            r->members[i] = (struct join_group_member){j->member_id, j->group_instance_id,
                                                       j->protocols[i].metadata};
        return true;
    }
    case KAFKA_SYNC_GROUP:
        if (q->sync_group.nassignments > 0)
            o->sync_group.assignment = q->sync_group.assignments[0].assignment;
        return true;
    case KAFKA_HEARTBEAT:
    case KAFKA_LIST_GROUPS:
        return true;
    case KAFKA_LEAVE_GROUP:
        o->leave_group.nmembers = q->leave_group.nmembers;
        o->leave_group.members = q->leave_group.members; /* error_code 0 from the parser */
        return true;
    case KAFKA_OFFSET_COMMIT: {
        const struct offset_commit_req *c = &q->offset_commit;
        struct offset_commit_resp *r = &o->offset_commit;
        r->ntopics = c->ntopics;
        r->topics = c->ntopics > 0 ? arena_array(a, (size_t)c->ntopics, sizeof(*r->topics)) : NULL;
        if (c->ntopics > 0 && !r->topics)
            return false;
        for (int32_t i = 0; i < c->ntopics; i++) {
            const struct offset_commit_req_topic *t = &c->topics[i];
            r->topics[i].name = t->name;
            r->topics[i].npartitions = t->npartitions;
            r->topics[i].partitions =
                t->npartitions > 0
                    ? arena_array(a, (size_t)t->npartitions, sizeof(*r->topics[i].partitions))
                    : NULL;
            if (t->npartitions > 0 && !r->topics[i].partitions)
                return false;
            for (int32_t j = 0; j < t->npartitions; j++)
                r->topics[i].partitions[j].partition_index = t->partitions[j].partition_index;
        }
        return true;
    }
    case KAFKA_OFFSET_FETCH: {
        const struct offset_fetch_req *f = &q->offset_fetch;
        struct offset_fetch_resp *r = &o->offset_fetch;
        r->ntopics = f->ntopics > 0 ? f->ntopics : 0;
        r->topics = r->ntopics > 0 ? arena_array(a, (size_t)r->ntopics, sizeof(*r->topics)) : NULL;
        if (r->ntopics > 0 && !r->topics)
            return false;
        for (int32_t i = 0; i < r->ntopics; i++) {
            const struct offset_fetch_req_topic *t = &f->topics[i];
            struct offset_fetch_resp_topic *rt = &r->topics[i];
            rt->name = t->name;
            rt->npartitions = t->npartition_indexes;
            rt->partitions =
                t->npartition_indexes > 0
                    ? arena_array(a, (size_t)t->npartition_indexes, sizeof(*rt->partitions))
                    : NULL;
            if (t->npartition_indexes > 0 && !rt->partitions)
                return false;
            for (int32_t j = 0; j < t->npartition_indexes; j++)
                rt->partitions[j] = (struct offset_fetch_resp_partition){t->partition_indexes[j],
                                                                         -1, -1, KSTR_NULL, 0};
        }
        return true;
    }
    case KAFKA_DESCRIBE_GROUPS: {
        const struct describe_groups_req *d = &q->describe_groups;
        struct describe_groups_resp *r = &o->describe_groups;
        r->ngroups = d->ngroups;
        r->groups = d->ngroups > 0 ? arena_array(a, (size_t)d->ngroups, sizeof(*r->groups)) : NULL;
        if (d->ngroups > 0 && !r->groups)
            return false;
        for (int32_t i = 0; i < d->ngroups; i++)
            r->groups[i] = (struct describe_groups_group){
                0, d->groups[i], KSTR("Empty"), KSTR(""), KSTR(""), 0, NULL, INT32_MIN};
        return true;
    }
    case KAFKA_DELETE_GROUPS: {
        const struct delete_groups_req *d = &q->delete_groups;
        struct delete_groups_resp *r = &o->delete_groups;
        r->nresults = d->ngroups_names;
        r->results = d->ngroups_names > 0
                         ? arena_array(a, (size_t)d->ngroups_names, sizeof(*r->results))
                         : NULL;
        if (d->ngroups_names > 0 && !r->results)
            return false;
        for (int32_t i = 0; i < d->ngroups_names; i++)
            r->results[i] = (struct delete_groups_result){d->groups_names[i], 0};
        return true;
    }
    }
    return false;
}

static void check_rc(int rc, int16_t v, int16_t max)
{
    bool in_range = v >= 0 && v <= max;
    if (rc == TANDEM_EUNSUPPORTED ? in_range : !in_range)
        abort();
    if (rc != 0 && rc != TANDEM_EPROTO && rc != TANDEM_EUNSUPPORTED && rc != TANDEM_ETOOLARGE)
        abort();
}

static void same_bytes(const struct kw *w, const uint8_t *p, size_t n)
{
    if (w->len != n || (n > 0 && memcmp(w->buf, p, n) != 0))
        abort();
}

static bool flexible(int16_t api, int16_t v)
{
    return kafka_request_header_version(api, v) == 2;
}

/* Flexible versions: the re-encoding w of an accepted message parses, and writes back as w. */
static void fixed_point(int16_t api, int16_t v, bool request, const struct kw *w)
{
    struct arena a;
    struct kr r;
    struct kw w2;
    union group_req q;
    union group_resp o;
    arena_init(&a, ARENA_CAP);
    kw_init(&w2, 0);
    kr_init(&r, w->buf, w->len);
    if ((request ? group_parse_req(api, v, &r, &a, &q) : group_parse_resp(api, v, &r, &a, &o)) != 0)
        abort();
    if (request)
        group_encode_req(api, v, &w2, &q);
    else
        group_encode_resp(api, v, &w2, &o);
    same_bytes(&w2, w->buf, w->len);
    kw_cleanup(&w2);
    arena_cleanup(&a);
}

static void run_request(int16_t api, int16_t v, int16_t max, const uint8_t *p, size_t n)
{
    struct arena a;
    struct kr r;
    struct kw w;
    union group_req q;
    union group_resp o, back;
    arena_init(&a, ARENA_CAP);
    kw_init(&w, 0);
    kr_init(&r, p, n);
    int rc = group_parse_req(api, v, &r, &a, &q);
    check_rc(rc, v, max);
    if (rc == 0) {
        group_encode_req(api, v, &w, &q);
        if (flexible(api, v)) {
            fixed_point(api, v, true, &w);
        } else if (api == KAFKA_DESCRIBE_GROUPS && v >= 3 && n > 0) {
            /* include_authorized_operations, the last byte: any non-zero byte reads as true
             * (as in Kafka's readers) and is written back as 1 */
            if (w.len != n || memcmp(w.buf, p, n - 1) != 0)
                abort();
            if ((w.buf[n - 1] != 0) != (p[n - 1] != 0))
                abort();
        } else {
            same_bytes(&w, p, n);
        }
        if (answer(api, &q, &a, &o)) {
            kw_reset(&w);
            group_encode_resp(api, v, &w, &o);
            kr_init(&r, w.buf, w.len);
            if (group_parse_resp(api, v, &r, &a, &back) != 0)
                abort();
        }
    }
    kw_cleanup(&w);
    arena_cleanup(&a);
}

static void run_response(int16_t api, int16_t v, int16_t max, const uint8_t *p, size_t n)
{
    struct arena a;
    struct kr r;
    struct kw w;
    union group_resp o;
    arena_init(&a, ARENA_CAP);
    kw_init(&w, 0);
    kr_init(&r, p, n);
    int rc = group_parse_resp(api, v, &r, &a, &o);
    check_rc(rc, v, max);
    if (rc == 0) {
        group_encode_resp(api, v, &w, &o);
        if (flexible(api, v))
            fixed_point(api, v, false, &w);
        else
            same_bytes(&w, p, n);
    }
    kw_cleanup(&w);
    arena_cleanup(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kafka_req_header h;
    size_t used = 0;
    const uint8_t *body = data;
    size_t n = size;
    if (kafka_parse_request_header(data, size, &h, &used) == 0) {
        body = data + used;
        n = size - used;
    }
    for (size_t i = 0; i < sizeof(group_apis) / sizeof(group_apis[0]); i++) {
        for (int16_t v = -1; v <= group_apis[i].max + 1; v++) {
            run_request(group_apis[i].api, v, group_apis[i].max, body, n);
            run_response(group_apis[i].api, v, group_apis[i].max, body, n);
        }
    }
    return 0;
}
