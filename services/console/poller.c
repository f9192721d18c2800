/*
 * The poller: once a second, what every process of the system is doing, as one status.
 *
 * A tick (every POLL_MS, on the poller's own thread):
 *
 *   1. the supervisor's `ps --json` over its control socket (every process: state, pid, port,
 *      restarts, uptime; answered at once by the supervisor even while it runs an operation);
 *   2. every service instance with a process: GET /metrics, all at once through libtandem's HTTP
 *      client (thread mode), each bounded by SCRAPE_TIMEOUT_MS, so a hung instance costs at most
 *      that and shows as not scraped;
 *   3. meanwhile, the broker's consumer groups and their committed offsets (admin.c);
 *   4. the numbers, over the last RATE_WINDOW seconds (stats.c): for each instance, its newest
 *      scrape against the oldest kept from the same process, summed per service as rates per
 *      second; requests, 5xx, 4xx, p50 and p99 per service and per route; events produced and
 *      consumed; the topics' records per second and per publisher (the tail's counters); each
 *      group's lag per partition (the partition's end, as the tail consumer last fetched it,
 *      minus the group's committed offset) and its commits per second;
 *   5. the map (graph.c) and the status JSON (status.c), kept for new streams and broadcast to
 *      the open ones as one "status" event.
 *
 * A group is matched to the service that consumes with it by its members' Kafka client id
 * (libtandem sets it to the service's name), else by the service whose metrics count events of
 * that group; the match is remembered, so a group whose service is stopped stays that service's
 * (its lag keeps growing on the service's row: what one wants to watch).
 */
#include <math.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "console.h"
#include "status.h"
#include "tandem/http_client.h"
#include "tandem/service.h"

#define POLL_MS           1000
#define SCRAPE_TIMEOUT_MS 500
#define GROUPS_TIMEOUT_MS 800
#define CTL_TIMEOUT_MS    800
#define MAX_ROWS          512

struct inst {
    char name[80], service[64];
    int pid, port;
    struct msnap ring[RATE_WINDOW + 1];
    int n, head;
    bool scraped, listed;
};

struct keyed {
    char key[320];
    struct rate_ring r;
    bool touched;
};

struct scrape {
    struct poller *p;
    int port;
    char *body;
    size_t len;
    bool ok;
};

struct poller {
    struct console *c;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    pthread_mutex_t wait_mu; /* scrapes in flight */
    pthread_cond_t wait_cv;
    int pending;
    struct tandem_http_client *http;
    struct inst *insts;
    size_t n_insts;
    struct keyed *rates;
    size_t n_rates;
    struct graph graph;
    struct {
        char group[128], service[64];
    } known[128];
    size_t n_known;
    char gateway_conf[1100]; /* the gateway's nginx.conf, "" when not known */
    struct timespec conf_mtime;
    ino_t conf_ino;
    /* what the other threads read, under mu */
    pthread_mutex_t mu;
    char *status_text;
    json_t *groups;
    struct ps_row *rows;
    size_t n_rows;
    char self[64];
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- rates of cumulative counters, by key ---------------------------------------------------- */

static double keyed_rate(struct poller *p, const char *key, int64_t now, double v)
{
    struct keyed *k = NULL;
    for (size_t i = 0; i < p->n_rates && k == NULL; i++) {
        k = strcmp(p->rates[i].key, key) == 0 ? &p->rates[i] : NULL;
    }
    if (k == NULL) {
        struct keyed *r = realloc(p->rates, (p->n_rates + 1) * sizeof(*r));
        if (r == NULL) {
            return 0;
        }
        p->rates = r;
        k = &p->rates[p->n_rates++];
        memset(k, 0, sizeof(*k));
        snprintf(k->key, sizeof(k->key), "%s", key);
    }
    if (!k->touched) {
        rate_push(&k->r, now, v);
        k->touched = true;
    }
    return rate_per_s(&k->r);
}

static void keyed_sweep(struct poller *p)
{
    size_t kept = 0;
    for (size_t i = 0; i < p->n_rates; i++) {
        if (p->rates[i].touched) {
            p->rates[i].touched = false;
            p->rates[kept++] = p->rates[i];
        }
    }
    p->n_rates = kept;
}

/* ---- 1. ps ------------------------------------------------------------------------------------
 */

static size_t read_ps(struct poller *p, struct ps_row *rows, size_t cap, bool *ok)
{
    *ok = false;
    if (p->c->ctl_path == NULL) {
        return 0;
    }
    char *ans = NULL;
    size_t len = 0, n = 0;
    if (ctl_request(p->c->ctl_path, "ps --json", CTL_TIMEOUT_MS, &ans, &len) != 0) {
        return 0;
    }
    const char *s = ans, *end = ans + len;
    while (s < end && n < cap) {
        const char *eol = memchr(s, '\n', (size_t)(end - s));
        const char *stop = eol != NULL ? eol : end;
        if (stop - s > 2 && s[0] == 'o' && s[1] == ' ' &&
            ps_row_parse(s + 2, (size_t)(stop - s - 2), &rows[n]) == 0) {
            n++;
        } else if (stop - s >= 3 && s[0] == 'x' && s[1] == ' ') {
            *ok = s[2] == '0';
        }
        s = eol != NULL ? eol + 1 : end;
    }
    free(ans);
    return *ok ? n : 0;
}

static bool is_service_row(const struct ps_row *r)
{
    return strcmp(r->service, "broker") != 0 && strcmp(r->service, "gateway") != 0;
}

/* ---- 2. scrapes ---------------------------------------------------------------------------------
 */

static void scraped(const struct tandem_http_response *r, void *arg)
{
    struct scrape *s = arg;
    if (r->err == 0 && r->status == 200) {
        s->body = malloc(r->body_len + 1);
        if (s->body != NULL) {
            memcpy(s->body, r->body, r->body_len + 1);
            s->len = r->body_len;
            s->ok = true;
        }
    }
    pthread_mutex_lock(&s->p->wait_mu);
    s->p->pending--;
    pthread_cond_broadcast(&s->p->wait_cv);
    pthread_mutex_unlock(&s->p->wait_mu);
}

static void scrape_start(struct poller *p, struct scrape *s)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", s->port);
    struct tandem_http_call_opts o = {.method = "GET",
                                      .url = url,
                                      .timeout_ms = SCRAPE_TIMEOUT_MS,
                                      .deadline_ms = SCRAPE_TIMEOUT_MS};
    pthread_mutex_lock(&p->wait_mu);
    p->pending++;
    pthread_mutex_unlock(&p->wait_mu);
    if (tandem_http_call(p->http, &o, scraped, s) != 0) {
        pthread_mutex_lock(&p->wait_mu);
        p->pending--;
        pthread_mutex_unlock(&p->wait_mu);
    }
}

static void scrape_wait(struct poller *p)
{
    pthread_mutex_lock(&p->wait_mu);
    while (p->pending > 0) {
        pthread_cond_wait(&p->wait_cv, &p->wait_mu); /* each call ends by its deadline */
    }
    pthread_mutex_unlock(&p->wait_mu);
}

static struct inst *inst_of(struct poller *p, const struct ps_row *r)
{
    for (size_t i = 0; i < p->n_insts; i++) {
        if (strcmp(p->insts[i].name, r->name) == 0) {
            return &p->insts[i];
        }
    }
    struct inst *n = realloc(p->insts, (p->n_insts + 1) * sizeof(*n));
    if (n == NULL) {
        return NULL;
    }
    p->insts = n;
    struct inst *in = &p->insts[p->n_insts++];
    memset(in, 0, sizeof(*in));
    snprintf(in->name, sizeof(in->name), "%s", r->name);
    snprintf(in->service, sizeof(in->service), "%s", r->service);
    return in;
}

static void inst_reset(struct inst *in)
{
    for (int i = 0; i <= RATE_WINDOW; i++) {
        msnap_cleanup(&in->ring[i]);
    }
    in->n = 0;
    in->head = 0;
}

/* The instance's scrape of this tick (body NULL: not answered). */
static void inst_update(struct inst *in, const struct ps_row *r, const struct scrape *s,
                        int64_t now)
{
    in->listed = true;
    in->port = r->port;
    if (in->pid != r->pid) {
        inst_reset(in); /* a new process: its counters started again */
        in->pid = r->pid;
    }
    in->scraped = false;
    if (s == NULL || !s->ok) {
        return;
    }
    struct msnap snap = {0};
    if (msnap_parse(s->body, s->len, now, &snap) == 0) {
        in->head = (in->head + 1) % (RATE_WINDOW + 1);
        msnap_move(&in->ring[in->head], &snap);
        in->n += in->n < RATE_WINDOW + 1;
        in->scraped = true;
    }
    msnap_cleanup(&snap);
}

/* ---- 4. the numbers -----------------------------------------------------------------------------
 */

static void service_window(struct poller *p, const char *service, struct svc_window *w)
{
    memset(w, 0, sizeof(*w));
    for (size_t i = 0; i < p->n_insts; i++) {
        struct inst *in = &p->insts[i];
        if (!in->listed || in->n == 0 || strcmp(in->service, service) != 0) {
            continue;
        }
        const struct msnap *cur = &in->ring[in->head];
        const struct msnap *old =
            in->n >= 2 ? &in->ring[(in->head - in->n + 1 + RATE_WINDOW + 1) % (RATE_WINDOW + 1)]
                       : NULL;
        int64_t span = old != NULL ? cur->at_ms - old->at_ms : 0;
        svc_window_add(w, span > 0 ? old : NULL, cur, span > 0 ? 1000.0 / (double)span : 0);
    }
}

/* The service consuming with group: members' client ids, then what is remembered, then the
 * metrics. */
static const char *group_service(struct poller *p, json_t *g, const struct ps_row *rows,
                                 size_t n_rows)
{
    const char *group = json_string_value(json_object_get(g, "group"));
    const char *found = NULL;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(g, "members"), i, m)
    {
        const char *cid = json_string_value(json_object_get(m, "client_id"));
        for (size_t r = 0; cid != NULL && found == NULL && r < n_rows; r++) {
            if (is_service_row(&rows[r]) && strcmp(rows[r].service, cid) == 0) {
                found = rows[r].service;
            }
        }
    }
    for (size_t k = 0; found == NULL && k < p->n_insts; k++) {
        const struct inst *in = &p->insts[k];
        if (!in->listed || in->n == 0) {
            continue;
        }
        const struct msnap *s = &in->ring[in->head];
        for (size_t j = 0; found == NULL && j < s->n; j++) {
            if (s->s[j].kind == MK_CONSUMED && strcmp(s->s[j].a, group) == 0) {
                found = in->service;
            }
        }
    }
    for (size_t k = 0; k < p->n_known; k++) {
        if (strcmp(p->known[k].group, group) == 0) {
            if (found != NULL) {
                snprintf(p->known[k].service, sizeof(p->known[k].service), "%s", found);
            }
            return p->known[k].service;
        }
    }
    if (found != NULL && p->n_known < sizeof(p->known) / sizeof(p->known[0])) {
        snprintf(p->known[p->n_known].group, sizeof(p->known[0].group), "%s", group);
        snprintf(p->known[p->n_known].service, sizeof(p->known[0].service), "%s", found);
        return p->known[p->n_known++].service;
    }
    return found;
}

/* The watermark (low or high) of topic/partition in the tail's topics JSON, or -1. */
static int64_t watermark(json_t *topics, const char *topic, json_int_t partition, bool high)
{
    size_t i, j;
    json_t *t, *pt;
    json_array_foreach(topics, i, t)
    {
        if (strcmp(json_string_value(json_object_get(t, "name")), topic) != 0) {
            continue;
        }
        json_array_foreach(json_object_get(t, "partitions"), j, pt)
        {
            if (json_integer_value(json_object_get(pt, "partition")) == partition) {
                return json_integer_value(json_object_get(pt, high ? "high" : "low"));
            }
        }
    }
    return -1;
}

/* Adds to each group: service, partitions {topic, partition, committed, end, lag, member}, lag
 * and rate (commits per second) in total and per topic. */
static void groups_compute(struct poller *p, json_t *groups, json_t *topics,
                           const struct ps_row *rows, size_t n_rows, int64_t now)
{
    size_t i;
    json_t *g;
    json_array_foreach(groups, i, g)
    {
        const char *group = json_string_value(json_object_get(g, "group"));
        const char *svc = group_service(p, g, rows, n_rows);
        json_object_set_new(g, "service", svc != NULL ? json_string(svc) : json_null());
        json_t *parts = json_array(), *per_topic = json_object();
        json_int_t lag = 0;
        size_t j;
        json_t *o;
        json_array_foreach(json_object_get(g, "offsets"), j, o)
        {
            const char *topic = json_string_value(json_object_get(o, "topic"));
            json_int_t part = json_integer_value(json_object_get(o, "partition"));
            json_int_t com = json_integer_value(json_object_get(o, "committed"));
            int64_t end = watermark(topics, topic, part, true);
            int64_t low = watermark(topics, topic, part, false);
            json_int_t l = end < 0 ? -1 : com >= 0 ? end - com : low >= 0 ? end - low : -1;
            json_t *pj = json_pack("{s:s,s:I,s:o,s:o}", "topic", topic, "partition", part,
                                   "committed", com >= 0 ? json_integer(com) : json_null(), "end",
                                   end >= 0 ? json_integer(end) : json_null());
            json_object_set_new(pj, "lag", l >= 0 ? json_integer(l) : json_null());
            /* who holds it */
            size_t k, x;
            json_t *m, *a;
            json_array_foreach(json_object_get(g, "members"), k, m)
            {
                json_array_foreach(json_object_get(m, "assignment"), x, a)
                {
                    if (json_integer_value(json_object_get(a, "partition")) == part &&
                        strcmp(json_string_value(json_object_get(a, "topic")), topic) == 0) {
                        json_object_set(pj, "member", json_object_get(m, "member_id"));
                        json_object_set(pj, "client_id", json_object_get(m, "client_id"));
                    }
                }
            }
            json_array_append_new(parts, pj);
            lag += l > 0 ? l : 0;
            json_t *tt = json_object_get(per_topic, topic);
            if (tt == NULL) {
                tt = json_pack("{s:I,s:I}", "lag", (json_int_t)0, "committed", (json_int_t)0);
                json_object_set_new(per_topic, topic, tt);
            }
            json_object_set_new(
                tt, "lag",
                json_integer(json_integer_value(json_object_get(tt, "lag")) + (l > 0 ? l : 0)));
            json_object_set_new(tt, "committed",
                                json_integer(json_integer_value(json_object_get(tt, "committed")) +
                                             (com > 0 ? com : 0)));
        }
        double rate = 0;
        json_t *topics_out = json_array();
        const char *topic;
        json_t *tt;
        json_object_foreach(per_topic, topic, tt)
        {
            char key[320];
            snprintf(key, sizeof(key), "g|%s|%s", group, topic);
            double r = keyed_rate(p, key, now,
                                  (double)json_integer_value(json_object_get(tt, "committed")));
            rate += r;
            json_array_append_new(topics_out, json_pack("{s:s,s:O,s:f}", "topic", topic, "lag",
                                                        json_object_get(tt, "lag"), "rate", r));
        }
        json_decref(per_topic);
        json_object_del(g, "offsets");
        json_object_set_new(g, "partitions", parts);
        json_object_set_new(g, "topics", topics_out);
        json_object_set_new(g, "lag", json_integer(lag));
        json_object_set_new(g, "rate", json_real(rate));
    }
}

struct pubs {
    struct poller *p;
    int64_t now;
    struct gin_publish *list;
    char (*keys)[2][160];
    size_t n, cap;
};

static void pub_seen(const char *topic, const char *source, double n, void *arg)
{
    struct pubs *ps = arg;
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 16;
        void *l = realloc(ps->list, cap * sizeof(*ps->list));
        if (l == NULL) {
            return;
        }
        ps->list = l;
        void *k = realloc(ps->keys, cap * sizeof(*ps->keys));
        if (k == NULL) {
            return;
        }
        ps->keys = k;
        ps->cap = cap;
    }
    char key[320];
    snprintf(key, sizeof(key), "p|%s|%s", topic, source);
    snprintf(ps->keys[ps->n][0], sizeof(ps->keys[0][0]), "%s", topic);
    snprintf(ps->keys[ps->n][1], sizeof(ps->keys[0][1]), "%s", source);
    ps->list[ps->n].topic = ps->keys[ps->n][0];
    ps->list[ps->n].source = ps->keys[ps->n][1];
    ps->list[ps->n].rate = keyed_rate(ps->p, key, ps->now, n);
    ps->n++;
}

/* ---- the gateway's reloads ----------------------------------------------------------------------
 *
 * When the supervisor changes the gateway (a stop, start or scale, from here or from the tandem
 * command), nginx's old workers keep the connections they hold until those end, or until
 * worker_shutdown_timeout (5 s) cuts them: a browser's event stream through an old worker would
 * be cut mid-chunk (the browser reports a broken answer), and the supervisor, which waits for the
 * old workers to leave before it stops an instance, would wait those 5 s. So when nginx.conf
 * changes (the supervisor writes it just before the reload: <project>/var/gateway/nginx.conf,
 * beside the control socket's var/tandem/), the console ends its own streams cleanly; browsers
 * reconnect (retry: 2 s) through the new workers and the old ones leave at once. */

static void close_stream(struct tandem_sse *sse, void *arg)
{
    tandem_sse_close(sse);
}

static void watch_gateway(struct poller *p)
{
    struct stat st;
    if (p->gateway_conf[0] == '\0' || stat(p->gateway_conf, &st) != 0) {
        return;
    }
    bool changed = p->conf_ino != 0 &&
                   (st.st_ino != p->conf_ino || st.st_mtim.tv_sec != p->conf_mtime.tv_sec ||
                    st.st_mtim.tv_nsec != p->conf_mtime.tv_nsec);
    p->conf_ino = st.st_ino;
    p->conf_mtime = st.st_mtim;
    if (changed) {
        tandem_log_info(NULL, "console: the gateway reloads: streams end so browsers reconnect",
                        NULL);
        tandem_sse_each(p->c->svc, NULL, close_stream, NULL, NULL);
    }
}

/* ---- the tick
 * ------------------------------------------------------------------------------------ */

static void tick(struct poller *p)
{
    watch_gateway(p);
    int64_t now = mono_ms();
    struct ps_row *rows = calloc(MAX_ROWS, sizeof(*rows));
    struct scrape *scrapes = calloc(MAX_ROWS, sizeof(*scrapes));
    if (rows == NULL || scrapes == NULL) {
        free(rows);
        free(scrapes);
        return;
    }
    bool sup_ok = false;
    size_t n_rows = read_ps(p, rows, MAX_ROWS, &sup_ok);
    char self[64] = "";
    for (size_t i = 0; i < n_rows; i++) {
        scrapes[i].p = p;
        scrapes[i].port = rows[i].port;
        if (is_service_row(&rows[i]) && rows[i].pid > 0) {
            scrape_start(p, &scrapes[i]);
        }
        if (rows[i].port == p->c->self_port && is_service_row(&rows[i])) {
            snprintf(self, sizeof(self), "%s", rows[i].service);
        }
    }
    char gerr[256] = "";
    json_t *groups = p->c->admin != NULL
                         ? admin_groups(p->c->admin, GROUPS_TIMEOUT_MS, gerr, sizeof(gerr))
                         : NULL;
    scrape_wait(p);
    now = mono_ms();

    for (size_t i = 0; i < p->n_insts; i++) {
        p->insts[i].listed = false;
    }
    for (size_t i = 0; i < n_rows; i++) {
        if (!is_service_row(&rows[i])) {
            continue;
        }
        struct inst *in = inst_of(p, &rows[i]);
        if (in != NULL) {
            inst_update(in, &rows[i], rows[i].pid > 0 ? &scrapes[i] : NULL, now);
        }
    }
    size_t kept = 0;
    for (size_t i = 0; i < p->n_insts; i++) {
        if (p->insts[i].listed) {
            p->insts[i].listed = true;
            p->insts[kept++] = p->insts[i];
        } else {
            inst_reset(&p->insts[i]); /* scaled away: forgotten */
        }
    }
    p->n_insts = kept;
    for (size_t i = 0; i < n_rows; i++) {
        free(scrapes[i].body);
    }
    free(scrapes);

    /* topics and publishers */
    json_t *topics = p->c->tail != NULL ? tail_topics(p->c->tail) : json_array();
    size_t i;
    json_t *t;
    json_array_foreach(topics, i, t)
    {
        char key[320];
        snprintf(key, sizeof(key), "t|%s", json_string_value(json_object_get(t, "name")));
        json_object_set_new(
            t, "rate",
            json_real(keyed_rate(p, key, now, json_real_value(json_object_get(t, "live")))));
        json_object_del(t, "live");
    }
    struct pubs pubs = {.p = p, .now = now};
    if (p->c->tail != NULL) {
        tail_publishes(p->c->tail, pub_seen, &pubs);
    }
    if (groups != NULL) {
        groups_compute(p, groups, topics, rows, n_rows, now);
    }

    /* the services, in the supervisor's order */
    bool *scraped_rows = calloc(n_rows + 1, sizeof(*scraped_rows));
    struct svc_status *svcs = calloc(n_rows + 1, sizeof(*svcs));
    size_t n_svcs = 0;
    for (size_t r = 0; svcs != NULL && scraped_rows != NULL && r < n_rows; r++) {
        if (!is_service_row(&rows[r])) {
            continue;
        }
        for (size_t k = 0; k < p->n_insts; k++) {
            if (strcmp(p->insts[k].name, rows[r].name) == 0) {
                scraped_rows[r] = p->insts[k].scraped;
            }
        }
        struct svc_status *s = NULL;
        for (size_t k = 0; k < n_svcs && s == NULL; k++) {
            s = strcmp(svcs[k].name, rows[r].service) == 0 ? &svcs[k] : NULL;
        }
        if (s == NULL) {
            s = &svcs[n_svcs++];
            snprintf(s->name, sizeof(s->name), "%s", rows[r].service);
            service_window(p, s->name, &s->w);
            json_array_foreach(groups, i, t)
            {
                const char *gs = json_string_value(json_object_get(t, "service"));
                if (gs != NULL && strcmp(gs, s->name) == 0) {
                    s->lag += json_integer_value(json_object_get(t, "lag"));
                }
            }
        }
        s->up = s->up || rows[r].ready;
    }
    struct status_input in = {
        .rows = rows,
        .n_rows = n_rows,
        .scraped = scraped_rows,
        .has_supervisor = p->c->ctl_path != NULL,
        .supervisor = sup_ok,
        .self = self,
        .svcs = svcs,
        .n_svcs = svcs != NULL ? n_svcs : 0,
        .topics = topics,
        .groups = groups,
        .groups_error = groups == NULL ? gerr : NULL,
        .publishes = pubs.list,
        .n_publishes = pubs.n,
        .graph = &p->graph,
        .now_ms = now,
    };
    char *text = scraped_rows != NULL && svcs != NULL ? status_build(&in) : NULL;
    for (size_t k = 0; svcs != NULL && k < n_svcs; k++) {
        svc_window_cleanup(&svcs[k].w);
    }
    free(svcs);
    free(scraped_rows);
    keyed_sweep(p);
    free(pubs.list);
    free(pubs.keys);

    pthread_mutex_lock(&p->mu);
    free(p->status_text);
    p->status_text = text;
    json_decref(p->groups);
    p->groups = groups;
    free(p->rows);
    p->rows = rows;
    p->n_rows = n_rows;
    snprintf(p->self, sizeof(p->self), "%s", self);
    pthread_mutex_unlock(&p->mu);
    json_decref(topics);
    if (text != NULL) {
        tandem_sse_broadcast(p->c->svc, CONSOLE_STREAM, "status", NULL, text, strlen(text));
    }
}

static void *run(void *arg)
{
    struct poller *p = arg;
    while (!atomic_load(&p->stop)) {
        int64_t start = mono_ms();
        tick(p);
        int64_t next = start + POLL_MS;
        pthread_mutex_lock(&p->stop_mu);
        while (!atomic_load(&p->stop) && mono_ms() < next) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t left = next - mono_ms();
            ts.tv_sec += left / 1000;
            ts.tv_nsec += (left % 1000) * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&p->stop_cv, &p->stop_mu, &ts);
        }
        pthread_mutex_unlock(&p->stop_mu);
    }
    return NULL;
}

int poller_start(struct console *c, struct poller **out)
{
    struct poller *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return TANDEM_ENOMEM;
    }
    p->c = c;
    /* <project>/var/tandem/ctl.sock -> <project>/var/gateway/nginx.conf */
    const char *slash = c->ctl_path != NULL ? strrchr(c->ctl_path, '/') : NULL;
    if (slash != NULL && slash - c->ctl_path > 7 && strncmp(slash - 7, "/tandem", 7) == 0) {
        snprintf(p->gateway_conf, sizeof(p->gateway_conf), "%.*s/gateway/nginx.conf",
                 (int)(slash - 7 - c->ctl_path), c->ctl_path);
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->wait_mu, NULL);
    pthread_cond_init(&p->wait_cv, NULL);
    pthread_mutex_init(&p->stop_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->stop_cv, &ca);
    pthread_condattr_destroy(&ca);
    /* No breaker: an instance that is down is simply not scraped; one that comes back on the
     * same port must be read at the next tick, not after a cool-down. */
    struct tandem_http_client_config hc = {.timeout_ms = SCRAPE_TIMEOUT_MS,
                                           .connect_timeout_ms = SCRAPE_TIMEOUT_MS,
                                           .breaker_failures = 1000000000,
                                           .max_response_bytes = 4 << 20,
                                           .max_host_connections = 1};
    int rc = tandem_http_client_new(&hc, &p->http);
    if (rc == 0 && pthread_create(&p->thread, NULL, run, p) != 0) {
        rc = TANDEM_EIO;
    }
    if (rc != 0) {
        tandem_http_client_free(p->http);
        free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void poller_stop(struct poller *p)
{
    if (p == NULL) {
        return;
    }
    pthread_mutex_lock(&p->stop_mu);
    atomic_store(&p->stop, true);
    pthread_cond_broadcast(&p->stop_cv);
    pthread_mutex_unlock(&p->stop_mu);
    pthread_join(p->thread, NULL);
    tandem_http_client_free(p->http);
    for (size_t i = 0; i < p->n_insts; i++) {
        inst_reset(&p->insts[i]);
    }
    free(p->insts);
    free(p->rates);
    graph_cleanup(&p->graph);
    free(p->status_text);
    json_decref(p->groups);
    free(p->rows);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->wait_mu);
    pthread_cond_destroy(&p->wait_cv);
    pthread_mutex_destroy(&p->stop_mu);
    pthread_cond_destroy(&p->stop_cv);
    free(p);
}

char *poller_status_text(struct poller *p)
{
    pthread_mutex_lock(&p->mu);
    char *s = p->status_text != NULL ? strdup(p->status_text) : NULL;
    pthread_mutex_unlock(&p->mu);
    return s;
}

bool poller_is_service(struct poller *p, const char *name, bool *is_self)
{
    bool found = false;
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->n_rows && !found; i++) {
        found = is_service_row(&p->rows[i]) && strcmp(p->rows[i].service, name) == 0;
    }
    *is_self = found && strcmp(p->self, name) == 0;
    pthread_mutex_unlock(&p->mu);
    return found;
}

json_t *poller_group(struct poller *p, const char *group)
{
    json_t *out = NULL;
    pthread_mutex_lock(&p->mu);
    size_t i;
    json_t *g;
    json_array_foreach(p->groups, i, g)
    {
        if (strcmp(json_string_value(json_object_get(g, "group")), group) == 0) {
            out = json_deep_copy(g);
            break;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return out;
}

json_t *poller_groups(struct poller *p)
{
    pthread_mutex_lock(&p->mu);
    json_t *out = p->groups != NULL ? json_deep_copy(p->groups) : NULL;
    pthread_mutex_unlock(&p->mu);
    return out;
}
