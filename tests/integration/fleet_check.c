/*
 * fleet-check: drives tandem-fleet for tests/integration/fleet.sh. Each command exits 0 only when
 * all its checks passed; failures are printed as "FAIL ..." lines.
 *
 *   produce -b B -n N -v V -e FILE [-k K] [-s SEED]
 *        N binary positions of V vehicles to vehicle-positions (keyed by id, librdkafka's
 *        murmur2 partitioner as any producer), each vehicle's timestamps out of order (so some
 *        are stale), plus K malformed records (truncated, bad version, key not the id, latitude
 *        out of range, JSON); FILE gets (merged with what it held) the state a replay implies:
 *        each vehicle's newest position, one "id lat lon speed heading ts" line per vehicle
 *   verify -u URL -e FILE [-w SECS]
 *        waits until every vehicle of FILE answers GET /api/fleet/vehicles/{id} with its
 *        position, then asks 60 random boxes and compares them with a scan of FILE
 *   dlq -b B -k K       vehicle-positions.dlq holds exactly K records, each with
 *                       tandem_error "permanent failure"
 *   rest -u URL -e FILE the REST ingest: one position (204, read back), a stale one (204,
 *                       unchanged), bad ones (400, 415, 422 and nothing applied), a batch (200
 *                       applied and stale counted), a trail; the vehicles it wrote are added to
 *                       FILE
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "fleet.h"
#include "tandem/http_client.h"

static int failures;
#define CHECK(cond, ...)                                         \
    do {                                                         \
        if (!(cond)) {                                           \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                        \
            fputc('\n', stderr);                                 \
            failures++;                                          \
        }                                                        \
    } while (0)

#define MAXV 20000 /* vehicles fleet-check keeps (a linear scan: tests are small) */

static const char *brokers, *url, *file;
static long n_pos = 1000, n_veh = 100, n_bad, wait_s = 60;
static uint64_t rng = 88172645463325252u;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the expected state ------------------------------------------------------------------- */

static struct fleet_pos *state; /* by index; id 0: none */
static size_t nstate;

static struct fleet_pos *state_of(uint64_t id)
{
    for (size_t i = 0; i < nstate; i++) {
        if (state[i].id == id) {
            return &state[i];
        }
    }
    return NULL;
}

static void state_put(const struct fleet_pos *p)
{
    struct fleet_pos *s = state_of(p->id);
    if (s == NULL && nstate == MAXV) {
        fprintf(stderr, "fleet-check: more than %d vehicles\n", MAXV);
        exit(2);
    }
    if (s == NULL) {
        state[nstate++] = *p;
    } else if (p->ts > s->ts) {
        *s = *p;
    }
}

static void state_load(void)
{
    state = calloc(MAXV, sizeof(*state));
    FILE *in = fopen(file, "r");
    if (in == NULL) {
        return;
    }
    struct fleet_pos p;
    unsigned speed, heading;
    while (fscanf(in, "%" SCNu64 " %" SCNd32 " %" SCNd32 " %u %u %" SCNd64, &p.id, &p.lat, &p.lon,
                  &speed, &heading, &p.ts) == 6 &&
           nstate < MAXV) {
        p.speed_mm = speed;
        p.heading_cd = (uint16_t)heading;
        state_put(&p);
    }
    fclose(in);
}

static void state_save(void)
{
    FILE *out = fopen(file, "w");
    if (out == NULL) {
        exit(2);
    }
    for (size_t i = 0; i < nstate; i++) {
        const struct fleet_pos *p = &state[i];
        fprintf(out, "%" PRIu64 " %" PRId32 " %" PRId32 " %u %u %" PRId64 "\n", p->id, p->lat,
                p->lon, p->speed_mm, p->heading_cd, p->ts);
    }
    fclose(out);
}

/* ---- produce ------------------------------------------------------------------------------ */

static void produce_one(rd_kafka_t *rk, const char *key, size_t klen, const void *v, size_t vlen)
{
    rd_kafka_resp_err_t err;
    while ((err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(FLEET_TOPIC),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_VALUE((void *)v, vlen),
                                    RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(rk, 10);
    }
    CHECK(err == 0, "produce: %s", rd_kafka_err2str(err));
}

static int delivery_failures;

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    if (m->err != 0) {
        delivery_failures++;
    }
}

static int cmd_produce(void)
{
    state_load();
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err));
    rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof(err));
    rd_kafka_conf_set(conf, "partitioner", "murmur2", err, sizeof(err)); /* Kafka's Java client */
    rd_kafka_conf_set_dr_msg_cb(conf, on_dr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (rk == NULL) {
        fprintf(stderr, "rd_kafka_new: %s\n", err);
        return 2;
    }
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    int64_t base = (int64_t)wall.tv_sec * 1000 - 3600000; /* an hour ago */
    for (long i = 0; i < n_pos; i++) {
        struct fleet_pos p = {.id = 1000 + (uint64_t)(rnd() % (uint64_t)n_veh) * 37,
                              .lat = 488000000 + (int32_t)(rnd() % 2000000),
                              .lon = 23000000 + (int32_t)(rnd() % 3000000),
                              .speed_mm = (uint32_t)(rnd() % 30000),
                              .heading_cd = (uint16_t)(rnd() % 36000),
                              /* unique per vehicle (i), out of order: some are stale */
                              .ts = base + (int64_t)(rnd() % 1000) * 100000 + i % 100000};
        uint8_t b[FLEET_POS_BYTES];
        fleet_pos_encode(&p, b);
        char key[24];
        size_t kl = fleet_key_of(p.id, key);
        produce_one(rk, key, kl, b, sizeof(b));
        state_put(&p);
    }
    for (long i = 0; i < n_bad; i++) {
        struct fleet_pos p = {.id = 1000, .lat = 1, .lon = 1, .ts = base + 4000000000};
        uint8_t b[FLEET_POS_BYTES];
        fleet_pos_encode(&p, b);
        char key[24];
        size_t kl = fleet_key_of(p.id, key);
        switch (i % 5) {
        case 0: /* truncated */
            produce_one(rk, key, kl, b, FLEET_POS_BYTES - 1);
            break;
        case 1: /* another version */
            b[0] = 2;
            produce_one(rk, key, kl, b, sizeof(b));
            break;
        case 2: /* the key is not the id */
            produce_one(rk, "1001", 4, b, sizeof(b));
            break;
        case 3: { /* latitude 91 degrees: 910,000,000 little-endian */
            static const uint8_t LAT91[4] = {0x80, 0x7f, 0x3d, 0x36};
            memcpy(b + 16, LAT91, sizeof(LAT91));
            produce_one(rk, key, kl, b, sizeof(b));
            break;
        }
        default: { /* JSON is not the topic's payload */
            const char *j = "{\"id\":1000,\"lat\":1,\"lon\":1,\"speed\":0,\"heading\":0,\"ts\":1}";
            produce_one(rk, key, kl, j, strlen(j));
        }
        }
    }
    CHECK(rd_kafka_flush(rk, 30000) == 0, "flush timed out");
    CHECK(delivery_failures == 0, "%d deliveries failed", delivery_failures);
    rd_kafka_destroy(rk);
    state_save();
    printf("produced %ld positions of %zu vehicles, %ld malformed\n", n_pos, nstate, n_bad);
    return failures ? 1 : 0;
}

/* ---- HTTP --------------------------------------------------------------------------------- */

static struct tandem_http_client *http;

/* The call's status and body (a copy in *body, may be NULL); 0 when no answer. */
static int req(const char *method, const char *path, const char *ctype, const char *body,
               char **out)
{
    char u[1024], h[128];
    snprintf(u, sizeof(u), "%s%s", url, path);
    snprintf(h, sizeof(h), "Content-Type: %s", ctype != NULL ? ctype : "application/json");
    const char *headers[] = {h, NULL};
    struct tandem_http_call_opts o = {.method = method,
                                      .url = u,
                                      .headers = body != NULL ? headers : NULL,
                                      .body = body,
                                      .body_len = body != NULL ? strlen(body) : 0,
                                      .timeout_ms = 5000};
    struct tandem_http_response *r = NULL;
    if (tandem_http_call_sync(http, &o, &r) != 0) {
        return 0;
    }
    int status = r->err == 0 ? r->status : 0;
    if (out != NULL) {
        *out = strdup(r->body != NULL ? r->body : "");
    }
    tandem_http_response_free(r);
    return status;
}

static bool same(const struct fleet_pos *a, const struct fleet_pos *b)
{
    return a->id == b->id && a->lat == b->lat && a->lon == b->lon && a->ts == b->ts &&
           a->speed_mm == b->speed_mm && a->heading_cd == b->heading_cd;
}

/* GET the vehicle: 1 when it answers p exactly, 0 when not (yet), -1 on 404. */
static int vehicle_is(const struct fleet_pos *p, bool report)
{
    char path[64], *body = NULL;
    snprintf(path, sizeof(path), "/api/fleet/vehicles/%" PRIu64, p->id);
    int st = req("GET", path, NULL, NULL, &body);
    struct fleet_pos got = {0};
    int ok = st == 200 && fleet_pos_parse_json(body, strlen(body), &got) == NULL && same(&got, p);
    if (report && !ok) {
        fprintf(stderr, "vehicle %" PRIu64 ": %d %s, want ts %" PRId64 "\n", p->id, st,
                body ? body : "", p->ts);
    }
    free(body);
    return ok ? 1 : st == 404 ? -1 : 0;
}

static int cmd_verify(void)
{
    state_load();
    CHECK(nstate > 0, "nothing to verify in %s", file);
    int64_t deadline = now_ms() + wait_s * 1000;
    size_t good = 0;
    while (good < nstate && now_ms() < deadline) {
        while (good < nstate && vehicle_is(&state[good], false) == 1) {
            good++;
        }
        if (good < nstate) {
            usleep(100000);
        }
    }
    if (good < nstate) {
        vehicle_is(&state[good], true);
    }
    CHECK(good == nstate, "%zu of %zu vehicles as a replay implies after %ld s", good, nstate,
          wait_s);
    for (size_t i = 0; i < nstate; i++) { /* all of them again, after the last came */
        CHECK(vehicle_is(&state[i], true) == 1, "vehicle %" PRIu64, state[i].id);
    }
    for (int k = 0; k < 60; k++) {
        int32_t lat = 488000000 + (int32_t)(rnd() % 2000000);
        int32_t lon = 23000000 + (int32_t)(rnd() % 3000000);
        int32_t h = (int32_t)(rnd() % 600000), w = (int32_t)(rnd() % 900000);
        struct fleet_box b = {lat - h, lon - w, lat + h, lon + w};
        size_t want = 0;
        for (size_t i = 0; i < nstate; i++) {
            const struct fleet_pos *p = &state[i];
            want += p->lat >= b.min_lat && p->lat <= b.max_lat && p->lon >= b.min_lon &&
                    p->lon <= b.max_lon;
        }
        char path[256], *body = NULL;
        snprintf(path, sizeof(path), "/api/fleet/vehicles?bbox=%.7f,%.7f,%.7f,%.7f&limit=1000",
                 b.min_lon / 1e7, b.min_lat / 1e7, b.max_lon / 1e7, b.max_lat / 1e7);
        int st = req("GET", path, NULL, NULL, &body);
        json_t *o = st == 200 ? json_loads(body, 0, NULL) : NULL;
        json_t *vs = json_object_get(o, "vehicles");
        CHECK(json_is_array(vs), "box %d: %d %s", k, st, body ? body : "");
        size_t n = json_array_size(vs), match = 0;
        for (size_t i = 0; i < n; i++) {
            struct fleet_pos p;
            const struct fleet_pos *s;
            if (fleet_pos_from_json(json_array_get(vs, i), &p) == NULL &&
                (s = state_of(p.id)) != NULL && same(&p, s) && p.lat >= b.min_lat &&
                p.lat <= b.max_lat && p.lon >= b.min_lon && p.lon <= b.max_lon) {
                match++;
            }
        }
        CHECK(n == want && match == want && json_is_false(json_object_get(o, "truncated")),
              "box %d: %zu answered (%zu right), %zu inside", k, n, match, want);
        json_decref(o);
        free(body);
    }
    printf("verified %zu vehicles and 60 boxes\n", nstate);
    return failures ? 1 : 0;
}

/* ---- the dead letters --------------------------------------------------------------------- */

static int cmd_dlq(void)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err));
    rd_kafka_conf_set(conf, "group.id", "fleet-check-dlq", err, sizeof(err));
    rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof(err));
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (rk == NULL) {
        return 2;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, FLEET_TOPIC ".dlq", RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    long n = 0, permanent = 0;
    int64_t deadline = now_ms() + 30000, quiet = 0;
    while (now_ms() < deadline && (n < n_bad || now_ms() < quiet)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (m == NULL) {
            continue;
        }
        if (m->err == 0) {
            n++;
            rd_kafka_headers_t *h = NULL;
            const void *v;
            size_t vl;
            if (rd_kafka_message_headers(m, &h) == 0 &&
                rd_kafka_header_get_last(h, "tandem_error", &v, &vl) == 0 &&
                vl == strlen("permanent failure") && memcmp(v, "permanent failure", vl) == 0) {
                permanent++;
            }
            if (n == n_bad) {
                quiet = now_ms() + 1500; /* and nothing more */
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    CHECK(n == n_bad && permanent == n_bad, "%ld dead letters (%ld permanent), want %ld", n,
          permanent, n_bad);
    printf("dead letters: %ld\n", n);
    return failures ? 1 : 0;
}

/* ---- REST --------------------------------------------------------------------------------- */

static int cmd_rest(void)
{
    state_load();
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    int64_t ts = (int64_t)wall.tv_sec * 1000;
    char body[1024], *ans = NULL;
    struct fleet_pos p = {.id = 900001,
                          .lat = 488512345,
                          .lon = 23456789,
                          .speed_mm = 8300,
                          .heading_cd = 9050,
                          .ts = ts};
    fleet_pos_json(&p, body, sizeof(body));
    CHECK(req("POST", "/api/fleet/positions", NULL, body, NULL) == 204, "POST one");
    CHECK(vehicle_is(&p, true) == 1, "the position read back");
    struct fleet_pos old = p;
    old.ts -= 1000;
    old.lat += 1000;
    fleet_pos_json(&old, body, sizeof(body));
    CHECK(req("POST", "/api/fleet/positions", NULL, body, NULL) == 204, "POST stale");
    CHECK(vehicle_is(&p, true) == 1, "a stale position changed the vehicle");
    /* bad ones: nothing applied */
    CHECK(req("POST", "/api/fleet/positions", NULL, "{\"id\":", NULL) == 400, "bad JSON");
    CHECK(req("POST", "/api/fleet/positions", "text/plain", body, NULL) == 415, "not JSON");
    snprintf(body, sizeof(body),
             "{\"id\":900001,\"lat\":91,\"lon\":2,\"speed\":1,\"heading\":1,\"ts\":%" PRId64 "}",
             ts + 5);
    CHECK(req("POST", "/api/fleet/positions", NULL, body, &ans) == 422 && strstr(ans, "\"lat\""),
          "out of range: %s", ans);
    free(ans);
    ans = NULL;
    CHECK(vehicle_is(&p, true) == 1, "an invalid position changed the vehicle");
    /* a batch: two new, one stale; then one with an invalid position: nothing of it applied */
    struct fleet_pos q1 = p, q2 = p;
    q1.id = 900002;
    q2.id = 900003;
    q2.lat = -335000000;
    char a[256], b[256], c[256];
    fleet_pos_json(&q1, a, sizeof(a));
    fleet_pos_json(&q2, b, sizeof(b));
    fleet_pos_json(&old, c, sizeof(c));
    snprintf(body, sizeof(body), "{\"positions\":[%s,%s,%s]}", a, b, c);
    CHECK(req("POST", "/api/fleet/positions/batch", NULL, body, &ans) == 200 && ans != NULL &&
              strcmp(ans, "{\"applied\":2,\"stale\":1}") == 0,
          "batch: %s", ans);
    free(ans);
    ans = NULL;
    CHECK(vehicle_is(&q1, true) == 1 && vehicle_is(&q2, true) == 1, "the batch read back");
    struct fleet_pos q3 = q1;
    q3.id = 900004;
    fleet_pos_json(&q3, a, sizeof(a));
    snprintf(body, sizeof(body),
             "{\"positions\":[%s,{\"id\":5,\"lat\":1,\"lon\":1,\"speed\":1,\"heading\":400,"
             "\"ts\":%" PRId64 "}]}",
             a, ts);
    CHECK(req("POST", "/api/fleet/positions/batch", NULL, body, &ans) == 422 && ans != NULL &&
              strstr(ans, "positions[1].heading") != NULL,
          "invalid batch: %s", ans);
    free(ans);
    ans = NULL;
    CHECK(vehicle_is(&q3, false) == -1, "a position of an invalid batch was applied");
    CHECK(req("POST", "/api/fleet/positions/batch", NULL, "{\"positions\":[]}", NULL) == 422,
          "empty batch");
    /* a trail: three more positions, oldest first */
    for (int i = 1; i <= 3; i++) {
        struct fleet_pos t = p;
        t.ts += 1;
        t.lat += 1;
        fleet_pos_json(&t, body, sizeof(body));
        CHECK(req("POST", "/api/fleet/positions", NULL, body, NULL) == 204, "trail %d", i);
        p = t;
    }
    CHECK(req("GET", "/api/fleet/vehicles/900001/trail?limit=3", NULL, NULL, &ans) == 200, "trail");
    json_t *o = json_loads(ans != NULL ? ans : "", 0, NULL);
    json_t *pts = json_object_get(o, "points");
    CHECK(json_array_size(pts) == 3 &&
              json_integer_value(json_object_get(json_array_get(pts, 0), "ts")) == p.ts - 2 &&
              json_integer_value(json_object_get(json_array_get(pts, 2), "ts")) == p.ts,
          "trail: %s", ans);
    json_decref(o);
    free(ans);
    ans = NULL;
    CHECK(req("GET", "/api/fleet/vehicles/123456789012", NULL, NULL, NULL) == 404, "unknown");
    CHECK(req("GET", "/api/fleet/vehicles/x", NULL, NULL, NULL) == 404, "not an id");
    CHECK(req("GET", "/api/fleet/vehicles?bbox=1,2,3", NULL, NULL, NULL) == 400, "bad box");
    CHECK(req("GET", "/api/fleet/vehicles?bbox=3,2,1,4", NULL, NULL, NULL) == 400, "min > max");
    CHECK(req("GET", "/api/fleet/vehicles?bbox=1,2,3,4&limit=0", NULL, NULL, NULL) == 400, "limit");
    state_put(&p);
    state_put(&q1);
    state_put(&q2);
    state_save();
    printf("rest: ok\n");
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        goto usage;
    }
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *f = argv[i], *v = argv[i + 1];
        if (strcmp(f, "-b") == 0) {
            brokers = v;
        } else if (strcmp(f, "-u") == 0) {
            url = v;
        } else if (strcmp(f, "-e") == 0) {
            file = v;
        } else if (strcmp(f, "-n") == 0) {
            n_pos = atol(v);
        } else if (strcmp(f, "-v") == 0) {
            n_veh = atol(v);
        } else if (strcmp(f, "-k") == 0) {
            n_bad = atol(v);
        } else if (strcmp(f, "-w") == 0) {
            wait_s = atol(v);
        } else if (strcmp(f, "-s") == 0) {
            rng = strtoull(v, NULL, 10) | 1;
        } else {
            goto usage;
        }
    }
    if (tandem_http_client_new(NULL, &http) != 0) {
        return 2;
    }
    int rc = 2;
    const char *cmd = argv[1];
    if (strcmp(cmd, "produce") == 0 && brokers != NULL && file != NULL) {
        rc = cmd_produce();
    } else if (strcmp(cmd, "verify") == 0 && url != NULL && file != NULL) {
        rc = cmd_verify();
    } else if (strcmp(cmd, "dlq") == 0 && brokers != NULL) {
        rc = cmd_dlq();
    } else if (strcmp(cmd, "rest") == 0 && url != NULL && file != NULL) {
        rc = cmd_rest();
    } else {
        tandem_http_client_free(http);
        goto usage;
    }
    tandem_http_client_free(http);
    free(state);
    return rc;
usage:
    fprintf(stderr, "usage: fleet-check produce|verify|dlq|rest -b B -u URL -e FILE [-n N] "
                    "[-v V] [-k K] [-w SECS] [-s SEED]\n");
    return 2;
}
