/*
 * Codec tests over frames captured from real clients (tests/vectors/<scenario>/, see its
 * README): librdkafka 2.0.2 and kcat 1.7.1 talking to librdkafka's mock broker through a
 * recording proxy.
 *
 * Two kinds of checks:
 *   - generic, over every captured frame: a request parses with the broker's parser, re-encodes
 *     with the client encoder to the identical bytes, and every truncation of it and every
 *     extension by a byte is rejected with TANDEM_EPROTO; a response parses with the client
 *     parser and re-encodes with the broker's encoder to the identical bytes.
 *   - specific, per scenario: the decoded fields have the exact values the client sent (topic
 *     names, acks, versions, partitions, offsets, codecs).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/record_batch.h"
#include "test_codec_util.h"

#define VEC TANDEM_VECTORS_DIR

/* A loaded request frame, parsed. */
struct frame {
    uint8_t *buf;
    size_t len;
    struct kafka_req_header h;
    size_t hdr_len;
    struct arena arena;
    union codec_req req;
};

static void frame_load(struct frame *f, const char *rel)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", VEC, rel);
    f->buf = codec_load(path, &f->len);
    if (!f->buf)
        fail_msg("cannot read %s", path);
    assert_int_equal(kafka_parse_request_header(f->buf, f->len, &f->h, &f->hdr_len), 0);
    arena_init(&f->arena, 0);
    struct kr r;
    kr_init(&r, f->buf + f->hdr_len, f->len - f->hdr_len);
    assert_int_equal(
        codec_parse_request(f->h.request_api_key, f->h.request_api_version, &r, &f->arena, &f->req),
        0);
}

static void frame_free(struct frame *f)
{
    arena_cleanup(&f->arena);
    free(f->buf);
}

/* Loads a response frame for (api, version) and parses it into *o (arena owned by caller). */
static uint8_t *resp_load(const char *rel, int16_t api, int16_t v, struct arena *a,
                          union codec_resp *o)
{
    char path[512];
    size_t len;
    snprintf(path, sizeof(path), "%s/%s", VEC, rel);
    uint8_t *buf = codec_load(path, &len);
    if (!buf)
        fail_msg("cannot read %s", path);
    struct kr r;
    int32_t corr;
    kr_init(&r, buf, len);
    assert_int_equal(kafka_parse_response_header(&r, kafka_response_header_version(api, v), &corr),
                     0);
    assert_int_equal(codec_parse_response(api, v, &r, a, o), 0);
    return buf;
}

static void assert_kstr(struct kstr s, const char *want)
{
    if (!kstr_eq(s, want))
        fail_msg("got \"%.*s\" (len %d), want \"%s\"", s.len < 0 ? 0 : s.len, s.p ? s.p : "", s.len,
                 want);
}

/* ---- generic checks over every captured frame -------------------------------------------------
 */

static void check_request(const char *path, const uint8_t *buf, size_t len)
{
    struct kafka_req_header h;
    size_t hl;
    assert_int_equal(kafka_parse_request_header(buf, len, &h, &hl), 0);
    int16_t lo, hi;
    if (!codec_util_covers(h.request_api_key) ||
        kafka_codec_versions(h.request_api_key, &lo, &hi) != 0 || h.request_api_version > hi)
        return; /* FindCoordinator etc.: test_codec_group.c */
    struct arena a;
    union codec_req req;
    struct kr r;
    arena_init(&a, 0);
    kr_init(&r, buf + hl, len - hl);
    int rc = codec_parse_request(h.request_api_key, h.request_api_version, &r, &a, &req);
    if (rc)
        fail_msg("%s: parse: %d", path, rc);

    struct kw w;
    kw_init(&w, 0);
    kafka_encode_request_header(&w, &h);
    codec_encode_request(h.request_api_key, h.request_api_version, &w, &req);
    if (w.len != len || memcmp(w.buf, buf, len) != 0)
        fail_msg("%s: re-encoded request differs (%zu vs %zu bytes)", path, w.len, len);
    kw_cleanup(&w);

    /* every truncation, and one extra byte, is malformed */
    uint8_t *copy = malloc(len + 1);
    memcpy(copy, buf, len);
    copy[len] = 0;
    for (size_t cut = hl; cut <= len + 1; cut++) {
        if (cut == len)
            continue;
        union codec_req tmp;
        struct arena ta;
        arena_init(&ta, 0);
        kr_init(&r, copy + hl, cut - hl);
        rc = codec_parse_request(h.request_api_key, h.request_api_version, &r, &ta, &tmp);
        if (rc != TANDEM_EPROTO)
            fail_msg("%s: body cut at %zu of %zu: rc %d", path, cut, len, rc);
        arena_cleanup(&ta);
    }
    free(copy);
    arena_cleanup(&a);
}

static void check_response(const char *path, const uint8_t *buf, size_t len, int16_t api, int16_t v)
{
    int16_t lo, hi;
    if (!codec_util_covers(api) || kafka_codec_versions(api, &lo, &hi) != 0 || v > hi)
        return;
    struct kr r;
    int32_t corr;
    kr_init(&r, buf, len);
    assert_int_equal(kafka_parse_response_header(&r, kafka_response_header_version(api, v), &corr),
                     0);
    size_t hl = (size_t)(r.p - buf);
    if (api == KAFKA_API_VERSIONS && v >= 3 && len >= hl + 2 && be16(buf + hl) != 0) {
        /* librdkafka's mock answers an unsupported ApiVersions v3 with a body that is neither
         * v0 nor v3 (README); its clients read only the error code. */
        assert_int_equal((int16_t)be16(buf + hl), KAFKA_UNSUPPORTED_VERSION);
        return;
    }
    struct arena a;
    union codec_resp resp;
    arena_init(&a, 0);
    int rc = codec_parse_response(api, v, &r, &a, &resp);
    if (rc)
        fail_msg("%s: parse: %d", path, rc);
    struct kw w;
    kw_init(&w, 0);
    kafka_encode_response_header(&w, kafka_response_header_version(api, v), corr);
    codec_encode_response(api, v, &w, &resp);
    if (w.len != len || memcmp(w.buf, buf, len) != 0)
        fail_msg("%s: re-encoded response differs (%zu vs %zu bytes)", path, w.len, len);
    kw_cleanup(&w);
    arena_cleanup(&a);
}

static int name_cmp(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static void test_every_captured_frame(void **state)
{
    (void)state;
    const char *scenarios[] = {"kcat-metadata",        "kcat-metadata-v0",
                               "produce-gzip-acks1",   "produce-none",
                               "produce-zstd-acksall", "produce-v3-snappy",
                               "produce-v2-magic1",    "consume",
                               "consume-fetch-v4",     "admin",
                               "admin-partitions",     "idempotent"};
    int nreq = 0, nresp = 0;
    for (size_t s = 0; s < sizeof(scenarios) / sizeof(scenarios[0]); s++) {
        char dir[512];
        snprintf(dir, sizeof(dir), "%s/%s", VEC, scenarios[s]);
        DIR *d = opendir(dir);
        if (!d)
            fail_msg("missing %s", dir);
        char *names[256];
        int n = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL && n < 256)
            if (strstr(e->d_name, ".req.bin"))
                names[n++] = strdup(e->d_name);
        closedir(d);
        qsort(names, (size_t)n, sizeof(names[0]), name_cmp);
        for (int i = 0; i < n; i++) {
            char path[1024];
            size_t len;
            snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
            uint8_t *buf = codec_load(path, &len);
            assert_non_null(buf);
            check_request(path, buf, len);
            nreq++;
            int16_t api = (int16_t)be16(buf), v = (int16_t)be16(buf + 2);
            free(buf);
            char rpath[1100];
            int stem = (int)(strlen(path) - strlen(".req.bin"));
            snprintf(rpath, sizeof(rpath), "%.*s.resp.bin", stem, path);
            buf = codec_load(rpath, &len);
            if (buf) {
                check_response(rpath, buf, len, api, v);
                nresp++;
                free(buf);
            }
            free(names[i]);
        }
    }
    assert_true(nreq >= 40);
    assert_true(nresp >= 40);
}

/* ---- kcat -L: ApiVersions v3 (flexible header), then Metadata --------------------------------
 */

static void test_kcat_api_versions(void **state)
{
    (void)state;
    struct frame f;
    frame_load(&f, "kcat-metadata/001-ApiVersions-v3.req.bin");
    assert_int_equal(f.h.request_api_key, KAFKA_API_VERSIONS);
    assert_int_equal(f.h.request_api_version, 3);
    assert_int_equal(f.h.header_version, 2);
    assert_int_equal(f.h.correlation_id, 1);
    assert_kstr(f.h.client_id, "rdkafka"); /* kcat's client.id; INT16 length even in header v2 */
    assert_kstr(f.req.api_versions.client_software_name, "librdkafka");
    assert_kstr(f.req.api_versions.client_software_version, "2.0.2");
    frame_free(&f);

    frame_load(&f, "kcat-metadata/002-ApiVersions-v0.req.bin"); /* the retry after v3 failed */
    assert_int_equal(f.h.request_api_version, 0);
    assert_int_equal(f.h.header_version, 1);
    assert_int_equal(f.h.correlation_id, 2);
    assert_int_equal(f.hdr_len, f.len); /* empty body */
    frame_free(&f);

    struct arena a;
    union codec_resp o;
    arena_init(&a, 0);
    uint8_t *buf =
        resp_load("kcat-metadata/002-ApiVersions-v0.resp.bin", KAFKA_API_VERSIONS, 0, &a, &o);
    assert_int_equal(o.api_versions.error_code, 0);
    assert_int_equal(o.api_versions.napi_keys, 17);
    const struct api_version_range *k = o.api_versions.api_keys;
    assert_int_equal(k[0].api_key, KAFKA_PRODUCE);
    assert_int_equal(k[0].max_version, 7);
    assert_int_equal(k[1].api_key, KAFKA_FETCH);
    assert_int_equal(k[1].max_version, 11);
    assert_int_equal(k[3].api_key, KAFKA_METADATA);
    assert_int_equal(k[3].max_version, 2);
    free(buf);
    arena_cleanup(&a);
}

static void test_kcat_metadata(void **state)
{
    (void)state;
    struct frame f;
    frame_load(&f, "kcat-metadata/003-Metadata-v2.req.bin");
    assert_int_equal(f.h.request_api_version, 2);
    assert_int_equal(f.req.metadata.ntopics, 0); /* v1+: empty = brokers only */
    assert_true(f.req.metadata.allow_auto_topic_creation);
    frame_free(&f);
    frame_load(&f, "kcat-metadata/004-Metadata-v2.req.bin");
    assert_int_equal(f.req.metadata.ntopics, -1); /* v1+: null = all topics */
    frame_free(&f);

    /* v0: both requests carry an empty array, which means all topics */
    frame_load(&f, "kcat-metadata-v0/004-Metadata-v0.req.bin");
    assert_int_equal(f.h.request_api_version, 0);
    assert_int_equal(f.req.metadata.ntopics, -1);
    frame_free(&f);

    struct arena a;
    union codec_resp o;
    arena_init(&a, 0);
    uint8_t *buf = resp_load("kcat-metadata/004-Metadata-v2.resp.bin", KAFKA_METADATA, 2, &a, &o);
    struct metadata_resp *m = &o.metadata;
    assert_int_equal(m->nbrokers, 1);
    assert_int_equal(m->brokers[0].node_id, 1);
    assert_kstr(m->brokers[0].host, "127.0.0.1");
    assert_int_equal(m->brokers[0].rack.len, -1);
    assert_true(m->cluster_id.len > 0);
    assert_int_equal(m->ntopics, 1);
    assert_kstr(m->topics[0].name, "tandem-topic");
    assert_int_equal(m->topics[0].error_code, 0);
    assert_int_equal(m->topics[0].npartitions, 2);
    for (int i = 0; i < 2; i++) {
        const struct metadata_partition *p = &m->topics[0].partitions[i];
        assert_int_equal(p->partition_index, i);
        assert_int_equal(p->leader_id, 1);
        assert_int_equal(p->nreplica_nodes, 1);
        assert_int_equal(p->replica_nodes[0], 1);
        assert_int_equal(p->nisr_nodes, 1);
        assert_int_equal(p->isr_nodes[0], 1);
    }
    free(buf);
    arena_cleanup(&a);
}

static void test_metadata_v0_response(void **state)
{
    (void)state;
    struct arena a;
    union codec_resp o;
    arena_init(&a, 0);
    uint8_t *buf =
        resp_load("kcat-metadata-v0/004-Metadata-v0.resp.bin", KAFKA_METADATA, 0, &a, &o);
    assert_int_equal(o.metadata.nbrokers, 1);
    assert_int_equal(o.metadata.controller_id, -1); /* not in v0: default */
    assert_int_equal(o.metadata.ntopics, 1);
    assert_kstr(o.metadata.topics[0].name, "tandem-topic");
    free(buf);
    arena_cleanup(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_captured_frame),
        cmocka_unit_test(test_kcat_api_versions),
        cmocka_unit_test(test_kcat_metadata),
        cmocka_unit_test(test_metadata_v0_response),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
