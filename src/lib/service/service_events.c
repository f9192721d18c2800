/*
 * service_events.c: the events half of libtandem (tandem/events.h) plugged into the runtime.
 *
 * MODEL. A service has at most one producer and one consumer per group, all owned by the service
 * and kept in one struct svc_events (s->events, created at the first tandem_service_producer or
 * tandem_service_subscribe call):
 *
 *   producer  created at the first tandem_service_producer (brokers from --brokers, client id the
 *             service's name, CloudEvents source "/<name>"); shared by every thread;
 *   subs[]    one per tandem_service_subscribe; its consumer starts at tandem_service_run (or at
 *             once when the service already runs).
 *
 * tandem_service_run calls svc_events_run before it serves; that registers the ready check
 * "broker" (when events were used before the run, unless the service added it itself) and a
 * metrics source (always: a producer may still be created lazily by a handler; with no events it
 * emits nothing).
 *
 * THE DRAIN is not an on_stop hook: run.c calls its two halves around the service's own hooks,
 * against the one deadline it took at SIGTERM (now + --drain-timeout):
 *
 *   svc_events_stop_consumers  right after HTTP has drained: every consumer is asked to stop at
 *       once (tandem_consumer_stop_begin), then each is waited for with what is left of the
 *       deadline (handled offsets committed, group left). tandem_consumer_stop always waits for
 *       a handler call in progress, even past the deadline (logged): a handler may use the
 *       producer and whatever the service's hooks close, so neither goes while it runs. Then the
 *       producer is taken out of the table: tandem_service_producer returns NULL from here on.
 *   (the service's on_stop hooks, in reverse order: an outbox relay stops there and still
 *       publishes its last rows through the producer it was given, its database still open)
 *   svc_events_close_producer  after the last hook: the producer flushes for what is left of
 *       the deadline (tandem_producer_free_timeout), then drops the rest; nothing publishes
 *       any more.
 *
 * INVARIANTS. mu guards the producer pointers, subs[] and the state flags. Scrapes (worker
 * threads), lazy producer creation (handlers), subscriptions and the drain all take it; the slow
 * parts of the drain (tandem_consumer_stop, flush) run with the pointer already taken out of the
 * table, outside mu. After the drain no producer is created again (tandem_service_producer
 * returns NULL) and no consumer starts.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/mem.h"
#include "service_int.h"

struct svc_sub {
    char *group;
    char **topics;
    int ntopics;
    tandem_event_handler_fn fn;
    void *arg;
    struct tandem_consumer_config more; /* tandem_service_subscribe_config's other settings */
    char *dead_letter_suffix;           /* its copy, or NULL */
    struct tandem_consumer *c;          /* NULL until started, and again once stopped */
};

struct svc_events {
    pthread_mutex_t mu;
    struct tandem_service *svc;
    struct tandem_producer *producer;
    struct tandem_producer *draining; /* the producer once closed: freed after every hook */
    struct svc_sub *subs;
    size_t nsubs;
    bool started; /* tandem_service_run has started the consumers */
    bool closed;  /* the drain has run: nothing is created any more */
};

static struct svc_events *events_of(struct tandem_service *s)
{
    if (s->events == NULL) {
        struct svc_events *e = xcalloc(1, sizeof(*e));
        pthread_mutex_init(&e->mu, NULL);
        e->svc = s;
        s->events = e;
    }
    return s->events;
}

struct tandem_producer *tandem_service_producer(struct tandem_service *s)
{
    struct svc_events *e = events_of(s);
    pthread_mutex_lock(&e->mu);
    if (e->producer == NULL && !e->closed) {
        char source[128];
        snprintf(source, sizeof(source), "/%s", s->name);
        struct tandem_events_config cfg = {
            .brokers = svc_config_get(&s->cfg, "brokers"),
            .client_id = s->name,
            .source = source,
        };
        int rc = tandem_producer_new(&cfg, &e->producer);
        if (rc != 0) {
            e->producer = NULL;
            log_error("cannot create the event producer", "\"error\":\"%s\"", tandem_strerror(rc));
        }
    }
    struct tandem_producer *p = e->producer;
    pthread_mutex_unlock(&e->mu);
    return p;
}

/* Starts sub's consumer (mu held). */
static int sub_start(struct tandem_service *s, struct svc_sub *sub)
{
    struct tandem_consumer_config cc = sub->more; /* the settings the service does not own */
    cc.brokers = svc_config_get(&s->cfg, "brokers");
    cc.group_id = sub->group;
    cc.topics = (const char *const *)sub->topics;
    cc.ntopics = sub->ntopics;
    cc.handler = sub->fn;
    cc.arg = sub->arg;
    cc.client_id = s->name;
    cc.assignment_strategy = svc_config_get(&s->cfg, "assignment-strategy");
    cc.dead_letter_suffix = sub->dead_letter_suffix;
    int rc = tandem_consumer_start(&cc, &sub->c);
    char g[300];
    log_json_str(g, sizeof(g), sub->group);
    if (rc != 0) {
        sub->c = NULL;
        log_error("cannot start the event consumer", "\"group\":%s,\"error\":\"%s\"", g,
                  tandem_strerror(rc));
        return rc;
    }
    log_info("consuming", "\"group\":%s,\"topics\":%d", g, sub->ntopics);
    return 0;
}

/* A group id as Kafka allows it (and as it may stand in a metrics label unescaped). */
static bool group_valid(const char *g)
{
    size_t n = g != NULL ? strlen(g) : 0;
    if (n == 0 || n > 249) {
        return false;
    }
    return strspn(g, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

int tandem_service_subscribe(struct tandem_service *s, const char *group, const char *const *topics,
                             int ntopics, tandem_event_handler_fn fn, void *arg)
{
    struct tandem_consumer_config cfg = {
        .group_id = group, .topics = topics, .ntopics = ntopics, .handler = fn, .arg = arg};
    return tandem_service_subscribe_config(s, &cfg);
}

int tandem_service_subscribe_config(struct tandem_service *s,
                                    const struct tandem_consumer_config *cfg)
{
    if (cfg == NULL || !group_valid(cfg->group_id) || cfg->topics == NULL || cfg->ntopics < 1 ||
        cfg->handler == NULL || cfg->max_attempts < 0 || cfg->backoff_initial_ms < 0 ||
        cfg->backoff_max_ms < 0 || cfg->session_timeout_ms < 0 || cfg->queued_records < 0 ||
        (cfg->dead_letter_suffix != NULL && cfg->dead_letter_suffix[0] == '\0')) {
        return TANDEM_EINVAL;
    }
    const char *group = cfg->group_id;
    int ntopics = cfg->ntopics;
    for (int i = 0; i < ntopics; i++) {
        if (cfg->topics[i] == NULL || cfg->topics[i][0] == '\0') {
            return TANDEM_EINVAL;
        }
    }
    struct svc_events *e = events_of(s);
    int rc = 0;
    pthread_mutex_lock(&e->mu);
    for (size_t i = 0; i < e->nsubs; i++) {
        if (strcmp(e->subs[i].group, group) == 0) {
            rc = TANDEM_EEXIST;
            goto out;
        }
    }
    if (e->closed) {
        rc = TANDEM_ECLOSED;
        goto out;
    }
    struct svc_sub sub = {.group = xstrndup(group, strlen(group)),
                          .topics = xcalloc((size_t)ntopics, sizeof(char *)),
                          .ntopics = ntopics,
                          .fn = cfg->handler,
                          .arg = cfg->arg,
                          .more = *cfg};
    if (cfg->dead_letter_suffix != NULL) {
        sub.dead_letter_suffix = xstrndup(cfg->dead_letter_suffix, strlen(cfg->dead_letter_suffix));
    }
    for (int i = 0; i < ntopics; i++) {
        sub.topics[i] = xstrndup(cfg->topics[i], strlen(cfg->topics[i]));
    }
    /* the borrowed pointers are not kept: sub_start sets them from the copies */
    sub.more.group_id = NULL;
    sub.more.topics = NULL;
    sub.more.brokers = NULL;
    sub.more.client_id = NULL;
    sub.more.assignment_strategy = NULL;
    sub.more.dead_letter_suffix = NULL;
    if (e->started) {
        rc = sub_start(s, &sub);
    }
    e->subs = xrealloc(e->subs, (e->nsubs + 1) * sizeof(*e->subs));
    e->subs[e->nsubs++] = sub; /* kept also when it failed to start: freed with the rest */
out:
    pthread_mutex_unlock(&e->mu);
    return rc;
}

/* Per group, topic and partition: the lag against the position, then against the committed
 * offset (tandem_consumer_lags), each series' samples together (mu held). */
static void emit_lags(struct tandem_metrics_writer *w, struct svc_events *e)
{
    static const struct {
        const char *name, *help;
    } series[] = {
        {"tandem_consumer_lag", "Records not yet handed to the handler (log end offset minus the "
                                "consumer's position), by partition."},
        {"tandem_consumer_committed_lag",
         "Records not yet committed (log end offset minus the committed offset), by partition."},
    };
    char label[600];
    for (size_t k = 0; k < 2; k++) {
        for (size_t i = 0; i < e->nsubs; i++) {
            struct tandem_consumer *c = e->subs[i].c;
            size_t cap = c != NULL ? tandem_consumer_lags(c, NULL, 0) : 0;
            struct tandem_partition_lag *lags = cap > 0 ? xcalloc(cap, sizeof(*lags)) : NULL;
            size_t n = cap > 0 ? tandem_consumer_lags(c, lags, cap) : 0;
            for (size_t j = 0; j < n && j < cap; j++) {
                snprintf(label, sizeof(label), "group=\"%s\",topic=\"%s\",partition=\"%d\"",
                         e->subs[i].group, lags[j].topic, (int)lags[j].partition);
                tandem_metrics_gauge(w, series[k].name, series[k].help, label,
                                     (double)(k == 0 ? lags[j].lag : lags[j].committed_lag));
            }
            free(lags);
        }
    }
}

/* The metrics source: producer counters, then per-group consumer counters and per-partition
 * lags. */
static void events_emit(struct tandem_metrics_writer *w, void *arg)
{
    struct svc_events *e = arg;
    struct tandem_event_stats st;
    char label[300];
    pthread_mutex_lock(&e->mu);
    if (e->producer != NULL) {
        tandem_producer_stats(e->producer, &st);
        const struct svc_metric m[] = {
            {"tandem_events_produced_total", "Events accepted by tandem_publish.", false,
             (double)st.produced},
            {"tandem_events_delivered_total", "Events acknowledged by the broker.", false,
             (double)st.delivered},
            {"tandem_events_delivery_failed_total", "Events that failed or were dropped.", false,
             (double)st.delivery_failed},
        };
        svc_metrics_emit(w, m, sizeof(m) / sizeof(m[0]));
    }
    static const struct {
        const char *name, *help;
    } series[] = {
        {"tandem_events_consumed_total", "Events handed to the handler (first attempts)."},
        {"tandem_events_retried_total", "Handler calls that were retries."},
        {"tandem_events_dead_lettered_total", "Events written to a dead-letter topic."},
        {"tandem_events_rewound_total",
         "Events delivered again by a fetch that went back, skipped: already handled."},
    };
    for (size_t k = 0; k < sizeof(series) / sizeof(series[0]); k++) {
        for (size_t i = 0; i < e->nsubs; i++) {
            memset(&st, 0, sizeof(st));
            if (e->subs[i].c != NULL) {
                tandem_consumer_stats(e->subs[i].c, &st);
            }
            double v[] = {(double)st.consumed, (double)st.retried, (double)st.dead_lettered,
                          (double)st.rewound};
            snprintf(label, sizeof(label), "group=\"%s\"", e->subs[i].group);
            tandem_metrics_counter(w, series[k].name, series[k].help, label, v[k]);
        }
    }
    emit_lags(w, e);
    pthread_mutex_unlock(&e->mu);
}

/* What is left of deadline (monotonic ms), never negative. */
static int left_ms(int64_t deadline)
{
    int64_t left = deadline - clock_mono_ms();
    return left > 0 ? (left < INT32_MAX ? (int)left : INT32_MAX) : 0;
}

void svc_events_stop_consumers(struct tandem_service *s, int64_t deadline)
{
    struct svc_events *e = s->events;
    if (e == NULL) {
        return;
    }
    pthread_mutex_lock(&e->mu);
    e->started = false; /* a subscription made from a handler now waits (and is freed) */
    size_t n = e->nsubs;
    struct tandem_consumer **cs = xcalloc(n + 1, sizeof(*cs));
    const char **groups = xcalloc(n + 1, sizeof(*groups));
    for (size_t i = 0; i < n; i++) {
        cs[i] = e->subs[i].c;
        groups[i] = e->subs[i].group; /* the string lives until svc_events_free */
        e->subs[i].c = NULL;
    }
    pthread_mutex_unlock(&e->mu);
    for (size_t i = 0; i < n; i++) {
        tandem_consumer_stop_begin(cs[i]); /* every one stops fetching now: drains overlap */
    }
    for (size_t i = 0; i < n; i++) {
        if (cs[i] == NULL) {
            continue;
        }
        /* Returns once the handler call in progress has returned, even past the deadline:
         * nothing the handler reaches (the producer) is freed under it (events.h). */
        char g[300];
        log_json_str(g, sizeof(g), groups[i]);
        if (tandem_consumer_stop(cs[i], left_ms(deadline)) != 0) {
            log_warn("consumer drain timeout", "\"group\":%s", g);
        } else {
            log_info("consumer stopped", "\"group\":%s", g);
        }
    }
    free(cs);
    free(groups);
    pthread_mutex_lock(&e->mu);
    e->closed = true; /* tandem_service_producer returns NULL, subscriptions are refused */
    e->draining = e->producer;
    e->producer = NULL;
    pthread_mutex_unlock(&e->mu);
}

void svc_events_close_producer(struct tandem_service *s, int64_t deadline)
{
    struct svc_events *e = s->events;
    if (e == NULL) {
        return;
    }
    pthread_mutex_lock(&e->mu);
    struct tandem_producer *p = e->draining;
    e->draining = NULL;
    pthread_mutex_unlock(&e->mu);
    if (p != NULL) {
        struct tandem_event_stats st;
        tandem_producer_stats(p, &st);
        uint64_t done = st.delivered + st.delivery_failed;
        uint64_t pending = st.produced > done ? st.produced - done : 0;
        int budget = left_ms(deadline);
        int64_t t0 = clock_mono_ms();
        tandem_producer_free_timeout(p, budget); /* flushes for what is left, drops the rest */
        /* flush_ms: the time the flush took (it used to report the budget: the time left) */
        log_info("producer closed",
                 "\"pending_at_drain\":%" PRIu64 ",\"flush_ms\":%" PRId64 ",\"budget_ms\":%d",
                 pending, clock_mono_ms() - t0, budget);
    }
}

int svc_events_run(struct tandem_service *s)
{
    bool used = s->events != NULL; /* a producer or a subscription before the run */
    struct svc_events *e = events_of(s);
    bool has_broker_check = false;
    for (size_t i = 0; i < s->nchecks; i++) {
        has_broker_check = has_broker_check || strcmp(s->checks[i].name, "broker") == 0;
    }
    if (used && !has_broker_check) {
        tandem_service_ready_brokers(s);
    }
    tandem_service_metrics_source(s, events_emit, e);
    int rc = 0;
    pthread_mutex_lock(&e->mu);
    e->started = true;
    for (size_t i = 0; i < e->nsubs && rc == 0; i++) {
        rc = sub_start(s, &e->subs[i]);
    }
    pthread_mutex_unlock(&e->mu);
    return rc;
}

void svc_events_free(struct tandem_service *s)
{
    struct svc_events *e = s->events;
    if (e == NULL) {
        return;
    }
    /* A no-op after the drain; else (run failed, or never run) stops all. */
    svc_events_stop_consumers(s, svc_drain_deadline(s, NULL));
    svc_events_close_producer(s, clock_mono_ms() + 10000);
    for (size_t i = 0; i < e->nsubs; i++) {
        for (int t = 0; t < e->subs[i].ntopics; t++) {
            free(e->subs[i].topics[t]);
        }
        free(e->subs[i].topics);
        free(e->subs[i].group);
        free(e->subs[i].dead_letter_suffix);
    }
    free(e->subs);
    pthread_mutex_destroy(&e->mu);
    free(e);
    s->events = NULL;
}
