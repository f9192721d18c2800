/*
 * The console's HTTP API, under /api/console (docs/console.md, "API"). The gateway routes the
 * prefix here; the pages (web/src/console) are the web service's.
 *
 *   GET  /api/console/stream                     server-sent events: "status" every second,
 *                                                "events" as they come (at most 2 a second)
 *   GET  /api/console/status                     the newest status
 *   GET  /api/console/events                     the recent events of every topic
 *   GET  /api/console/topics                     topics, partitions, offsets, rates
 *   GET  /api/console/topics/{topic}/records     records from an offset or a time (the browser)
 *   GET  /api/console/topics/{topic}/tail        server-sent events: "record" as they come
 *   GET  /api/console/groups[/{group}]           consumer groups: members, assignments, lag
 *   POST /api/console/key                        204 when X-Console-Key is the key
 *   POST /api/console/services/{name}/stop       the same operations as `tandem stop|start|
 *   POST /api/console/services/{name}/start      scale` (key needed): 202 at once, the end
 *   POST /api/console/services/{name}/scale      as an "action" event ({"instances": N})
 *   GET  /api/console/actions                    the recent actions and how they ended
 *   POST /api/console/groups/{group}/reset       {"to": "earliest|latest|offset|time", ...}
 *
 * The reads are open to whoever reaches the route (a browser's EventSource cannot send a
 * header); the actions need the console key in X-Console-Key, checked before anything else is
 * read: no key 401, a wrong one 403, and nothing changes. The key is compared in constant time.
 * Answers carry Cache-Control: no-store. Actions and reads that wait for the broker or the
 * supervisor run on the service's pool, so a worker never blocks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "tandem/pool.h"
#include "tandem/router.h"
#include "tandem/service.h"

#define KEY_HEADER    "X-Console-Key"
#define CTL_ACTION_MS 120000 /* a start waits for readiness (30 s each) and nginx's reload */
#define BROWSE_MAX    200

static struct console *C;

static json_t *actions_recent(void);

static void no_store(struct tandem_http_request *req)
{
    tandem_respond_header(req, "Cache-Control", "no-store");
}

/* Answers and returns false unless req carries the console key. */
static bool authorized(struct tandem_http_request *req)
{
    const char *k = tandem_http_header(req, KEY_HEADER);
    bool ok = C->key[0] != '\0' && k != NULL && console_key_equal(k, C->key);
    if (ok) {
        return true;
    }
    no_store(req);
    if (C->key[0] == '\0') {
        tandem_respond_problem(req, 503,
                               "actions are off: this console has no key (it runs outside "
                               "tandem up, or var/tandem/console.secret could not be read)");
        return false;
    }
    if (k == NULL || k[0] == '\0') {
        tandem_respond_header(req, "WWW-Authenticate", "ConsoleKey");
        tandem_respond_problem(req, 401,
                               "actions need the console key (X-Console-Key): tandem up wrote "
                               "it to var/tandem/console.secret");
        return false;
    }
    tandem_respond_problem(req, 403, "this is not the console key");
    return false;
}

static void answer(struct tandem_http_request *req, int status, json_t *body)
{
    no_store(req);
    if (status >= 400) {
        const char *d = json_string_value(json_object_get(body, "detail"));
        json_t *ext = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(body, k, v)
        {
            if (strcmp(k, "detail") != 0) {
                json_object_set(ext, k, v);
            }
        }
        tandem_respond_problem_ext(req, status, d != NULL ? d : "failed", ext);
        json_decref(body);
        return;
    }
    tandem_respond_json(req, status, body);
}

/* ---- reads ------------------------------------------------------------------------------------
 */

static void status_get(struct tandem_http_request *req, void *arg)
{
    char *text = poller_status_text(C->poller);
    no_store(req);
    if (text == NULL) {
        tandem_respond_header(req, "Retry-After", "1");
        tandem_respond_problem(req, 503, "the first status is not ready yet");
        return;
    }
    tandem_respond(req, 200, "application/json", text, strlen(text));
    free(text);
}

/* One member of the newest status (a new reference), or NULL. */
static json_t *status_member(const char *name)
{
    char *text = poller_status_text(C->poller);
    json_t *st = text != NULL ? json_loads(text, 0, NULL) : NULL;
    free(text);
    json_t *m = json_incref(json_object_get(st, name));
    json_decref(st);
    return m;
}

static void topics_get(struct tandem_http_request *req, void *arg)
{
    json_t *t = status_member("topics");
    answer(req, t != NULL ? 200 : 503,
           t != NULL ? json_pack("{s:o}", "topics", t)
                     : json_pack("{s:s}", "detail", "the first status is not ready yet"));
}

static void events_get(struct tandem_http_request *req, void *arg)
{
    answer(req, 200, json_pack("{s:o}", "events", tail_recent(C->tail, 64)));
}

static void groups_get(struct tandem_http_request *req, void *arg)
{
    json_t *g = poller_groups(C->poller);
    answer(req, g != NULL ? 200 : 503,
           g != NULL ? json_pack("{s:o}", "groups", g)
                     : json_pack("{s:s}", "detail", "the broker's groups are not known yet"));
}

static void group_get(struct tandem_http_request *req, void *arg)
{
    json_t *g = poller_group(C->poller, tandem_param(req, "group"));
    answer(req, g != NULL ? 200 : 404,
           g != NULL ? g : json_pack("{s:s}", "detail", "no such consumer group"));
}

/* ---- streams ----------------------------------------------------------------------------------
 */

static void stream_get(struct tandem_http_request *req, void *arg)
{
    struct tandem_sse *sse = tandem_respond_sse(req, NULL, NULL);
    if (sse == NULL) {
        return;
    }
    tandem_sse_retry(sse, 2000);
    char *text = poller_status_text(C->poller);
    if (text != NULL) {
        tandem_sse_send(sse, "status", NULL, text, strlen(text));
        free(text);
    }
    tandem_sse_send_json(sse, "actions", NULL, json_pack("{s:o}", "actions", actions_recent()));
    tandem_sse_send_json(
        sse, "events", NULL,
        json_pack("{s:o,s:i,s:b}", "events", tail_recent(C->tail, 20), "more", 0, "initial", 1));
}

static void tail_closed(struct tandem_sse *sse, void *arg)
{
    tail_watch_close(arg);
}

/* "partition" of the query: -1 when absent or "all"; -2 when malformed (answered). */
static int32_t query_partition(struct tandem_http_request *req)
{
    char buf[16];
    int rc = tandem_query_get(req->query, "partition", buf, sizeof(buf));
    if (rc == TANDEM_ENOENT || (rc == 0 && (buf[0] == '\0' || strcmp(buf, "all") == 0))) {
        return -1;
    }
    char *end = NULL;
    long v = rc == 0 ? strtol(buf, &end, 10) : -1;
    if (rc != 0 || end == buf || *end != '\0' || v < 0 || v > 1000000) {
        tandem_respond_invalid(
            req, json_pack("{s:[s]}", "partition", "must be a partition number or all"));
        return -2;
    }
    return (int32_t)v;
}

static void tail_get(struct tandem_http_request *req, void *arg)
{
    no_store(req);
    int32_t part = query_partition(req);
    if (part == -2) {
        return;
    }
    struct tail_watch *w = tail_watch_open(C->tail, tandem_param(req, "topic"), part);
    if (w == NULL) {
        tandem_respond_problem(req, 503, "out of memory");
        return;
    }
    struct tandem_sse *sse = tandem_respond_sse(req, tail_closed, w);
    if (sse == NULL) {
        tail_watch_close(w);
        return;
    }
    tandem_sse_retry(sse, 2000);
    tandem_sse_send(sse, "open", NULL, "{}", 2);
}

/* ---- pool jobs: browse, actions
 * ------------------------------------------------------------------ */

struct job {
    enum { JOB_BROWSE, JOB_RESET } kind;
    char name[160]; /* topic, group */
    int32_t partition;
    char from[16];
    int64_t offset, time_ms;
    int limit;
    json_t *spec;
    int status;
    json_t *body;
};

static void job_work(void *arg)
{
    struct job *j = arg;
    if (j->kind == JOB_BROWSE) {
        j->status = admin_browse(C->admin, j->name, j->partition, j->from, j->offset, j->time_ms,
                                 j->limit, &j->body);
    } else if (j->kind == JOB_RESET) {
        j->status = admin_reset(C->admin, j->name, j->spec, &j->body);
    }
}

static void job_done(struct tandem_http_request *req, void *arg)
{
    struct job *j = arg;
    if (req != NULL) {
        if (j->body == NULL) {
            j->body = json_pack("{s:s}", "detail", "failed");
            j->status = 500;
        }
        answer(req, j->status, j->body);
        j->body = NULL;
        tandem_log_info(req, "console action", "\"kind\":%d,\"status\":%d", (int)j->kind,
                        j->status);
    }
    json_decref(j->body);
    json_decref(j->spec);
    free(j);
}

static void run_job(struct tandem_http_request *req, struct job *j)
{
    if (tandem_offload(req, job_work, job_done, j) != 0) {
        json_decref(j->spec);
        free(j); /* answered 503 */
    }
}

/* A decimal integer query value: 0 and *out, ENOENT when absent, or answered 422 (-1). */
static int query_int(struct tandem_http_request *req, const char *name, int64_t min, int64_t max,
                     int64_t *out)
{
    char buf[32];
    int rc = tandem_query_get(req->query, name, buf, sizeof(buf));
    if (rc == TANDEM_ENOENT) {
        return TANDEM_ENOENT;
    }
    char *end = NULL;
    long long v = rc == 0 ? strtoll(buf, &end, 10) : 0;
    if (rc != 0 || end == buf || *end != '\0' || v < min || v > max) {
        char msg[96];
        snprintf(msg, sizeof(msg), "must be an integer from %lld to %lld", (long long)min,
                 (long long)max);
        tandem_respond_invalid(req, json_pack("{s:[s]}", name, msg));
        return -1;
    }
    *out = v;
    return 0;
}

static void records_get(struct tandem_http_request *req, void *arg)
{
    no_store(req);
    struct job *j = calloc(1, sizeof(*j));
    if (j == NULL) {
        tandem_respond_problem(req, 503, "out of memory");
        return;
    }
    j->kind = JOB_BROWSE;
    snprintf(j->name, sizeof(j->name), "%s", tandem_param(req, "topic"));
    j->partition = query_partition(req);
    int64_t limit = 50;
    char from[16] = "newest";
    int rc = j->partition == -2 ? -1 : 0;
    if (rc == 0) {
        int q = tandem_query_get(req->query, "from", from, sizeof(from));
        bool ok = q == TANDEM_ENOENT ||
                  (q == 0 && (strcmp(from, "newest") == 0 || strcmp(from, "oldest") == 0 ||
                              strcmp(from, "offset") == 0 || strcmp(from, "time") == 0));
        if (q == TANDEM_ENOENT) {
            snprintf(from, sizeof(from), "newest");
        }
        if (!ok) {
            tandem_respond_invalid(
                req, json_pack("{s:[s]}", "from", "must be newest, oldest, offset or time"));
            rc = -1;
        }
    }
    if (rc == 0) {
        rc = query_int(req, "limit", 1, BROWSE_MAX, &limit);
        rc = rc == TANDEM_ENOENT ? 0 : rc;
    }
    if (rc == 0 && strcmp(from, "offset") == 0) {
        rc = query_int(req, "offset", 0, INT64_MAX / 2, &j->offset);
        if (rc == TANDEM_ENOENT) {
            tandem_respond_invalid(req,
                                   json_pack("{s:[s]}", "offset", "is needed with from=offset"));
            rc = -1;
        }
    }
    if (rc == 0 && strcmp(from, "time") == 0) {
        rc = query_int(req, "time", 0, INT64_MAX / 2, &j->time_ms);
        if (rc == TANDEM_ENOENT) {
            tandem_respond_invalid(req, json_pack("{s:[s]}", "time",
                                                  "is needed with from=time (milliseconds since "
                                                  "1970)"));
            rc = -1;
        }
    }
    if (rc != 0) {
        free(j);
        return;
    }
    snprintf(j->from, sizeof(j->from), "%s", from);
    j->limit = (int)limit;
    run_job(req, j);
}

static void key_post(struct tandem_http_request *req, void *arg)
{
    if (authorized(req)) {
        tandem_respond(req, 204, NULL, NULL, 0);
    }
}

/* ---- actions: the supervisor's operations, run in the background ------------------------------
 *
 * A stop, a start or a scale makes the supervisor reload the gateway and wait until nginx's old
 * workers are gone, and the request asking for it is itself served by one of those old workers:
 * answered only when the operation ends, it would hold the worker the operation waits for (until
 * nginx's worker_shutdown_timeout cuts it). So an action is answered at once, 202 with its record
 * {"id", "request", "state": "running"}, and runs on the pool; its end is broadcast to the console
 * streams as an "action" event (state "done" or "failed", the supervisor's output or error) and
 * kept among the recent ones (GET /api/console/actions). */

#define ACTIONS_KEPT 32

struct action {
    int id;
    char request[200];
    char state[16]; /* running, done, failed */
    char output[2048];
    int exit;
};

static pthread_mutex_t actions_mu = PTHREAD_MUTEX_INITIALIZER;
static struct action actions[ACTIONS_KEPT];
static int actions_next = 1;

static json_t *action_json(const struct action *a)
{
    return json_pack("{s:i,s:s,s:s,s:s,s:i}", "id", a->id, "request", a->request, "state", a->state,
                     "output", a->output, "exit", a->exit);
}

static void action_work(void *arg)
{
    struct action *mine = arg; /* a private copy: the table's slot may be reused */
    char *ans = NULL;
    size_t len = 0;
    if (ctl_request(C->ctl_path, mine->request, CTL_ACTION_MS, &ans, &len) != 0) {
        snprintf(mine->state, sizeof(mine->state), "failed");
        snprintf(mine->output, sizeof(mine->output), "the supervisor did not answer");
        mine->exit = -1;
    } else {
        char out[2048], err[2048];
        mine->exit = ctl_answer_parse(ans, len, out, sizeof(out), err, sizeof(err));
        snprintf(mine->state, sizeof(mine->state), "%s", mine->exit == 0 ? "done" : "failed");
        snprintf(mine->output, sizeof(mine->output), "%s", mine->exit == 0 ? out : err);
        free(ans);
    }
    pthread_mutex_lock(&actions_mu);
    struct action *slot = &actions[mine->id % ACTIONS_KEPT];
    if (slot->id == mine->id) {
        *slot = *mine;
    }
    pthread_mutex_unlock(&actions_mu);
    json_t *j = action_json(mine);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (text != NULL) {
        tandem_sse_broadcast(C->svc, CONSOLE_STREAM, "action", NULL, text, strlen(text));
        free(text);
    }
    tandem_log_info(NULL, "console action", "\"id\":%d,\"exit\":%d", mine->id, mine->exit);
}

static void action_free(void *arg, int status)
{
    (void)status;
    free(arg);
}

/* Records request as a running action, queues it and answers 202 with its record. */
static void action_start(struct tandem_http_request *req, const char *request)
{
    struct action *mine = calloc(1, sizeof(*mine));
    struct tandem_pool *pool = tandem_service_pool(C->svc);
    if (mine == NULL || pool == NULL) {
        free(mine);
        tandem_respond_problem(req, 503, "the console is shutting down");
        return;
    }
    pthread_mutex_lock(&actions_mu);
    mine->id = actions_next++;
    snprintf(mine->request, sizeof(mine->request), "%s", request);
    snprintf(mine->state, sizeof(mine->state), "running");
    actions[mine->id % ACTIONS_KEPT] = *mine;
    pthread_mutex_unlock(&actions_mu);
    json_t *body = action_json(mine);
    if (tandem_pool_submit(pool, action_work, action_free, mine) != 0) {
        free(mine);
        json_decref(body);
        tandem_respond_header(req, "Retry-After", "1");
        tandem_respond_problem(req, 503, "the console is busy: try again");
        return;
    }
    tandem_log_info(req, "console action asked", "\"id\":%d",
                    (int)json_integer_value(json_object_get(body, "id")));
    no_store(req);
    tandem_respond_json(req, 202, body);
}

static json_t *actions_recent(void)
{
    json_t *a = json_array();
    pthread_mutex_lock(&actions_mu);
    for (int id = actions_next - ACTIONS_KEPT; id < actions_next; id++) {
        if (id > 0 && actions[id % ACTIONS_KEPT].id == id) {
            json_array_append_new(a, action_json(&actions[id % ACTIONS_KEPT]));
        }
    }
    pthread_mutex_unlock(&actions_mu);
    return a;
}

static void actions_get(struct tandem_http_request *req, void *arg)
{
    answer(req, 200, json_pack("{s:o}", "actions", actions_recent()));
}

/* The service of an action's path: answered and NULL unless it is one the supervisor runs and not
 * the console itself. */
static const char *action_service(struct tandem_http_request *req)
{
    const char *name = tandem_param(req, "name");
    bool self = false;
    if (C->ctl_path == NULL) {
        tandem_respond_problem(req, 503, "this console has no supervisor to ask");
        return NULL;
    }
    if (!poller_is_service(C->poller, name, &self)) {
        tandem_respond_problem(req, 404,
                               "no such service (broker and gateway cannot be changed "
                               "from here either)");
        return NULL;
    }
    if (self) {
        tandem_respond_problem(req, 409,
                               "the console does not stop or scale itself: use the "
                               "tandem command");
        return NULL;
    }
    return name;
}

static void ctl_action(struct tandem_http_request *req, const char *verb)
{
    if (!authorized(req)) {
        return;
    }
    const char *name = action_service(req);
    if (name == NULL) {
        return;
    }
    int64_t n = -1;
    if (strcmp(verb, "scale") == 0) {
        json_t *in = tandem_json_body(req);
        if (in == NULL) {
            return;
        }
        json_t *v = json_object_get(in, "instances");
        n = json_is_integer(v) ? json_integer_value(v) : -1;
        json_decref(in);
        if (n < 0 || n > 64) {
            tandem_respond_invalid(req,
                                   json_pack("{s:[s]}", "instances", "must be an integer 0..64"));
            return;
        }
    }
    char line[200];
    if (n >= 0) {
        snprintf(line, sizeof(line), "scale %s=%d", name, (int)n);
    } else {
        snprintf(line, sizeof(line), "%s %s", verb, name);
    }
    action_start(req, line);
}

static void stop_post(struct tandem_http_request *req, void *arg)
{
    ctl_action(req, "stop");
}

static void start_post(struct tandem_http_request *req, void *arg)
{
    ctl_action(req, "start");
}

static void scale_post(struct tandem_http_request *req, void *arg)
{
    ctl_action(req, "scale");
}

static void reset_post(struct tandem_http_request *req, void *arg)
{
    if (!authorized(req)) {
        return;
    }
    json_t *in = tandem_json_body(req);
    if (in == NULL) {
        return;
    }
    const char *to = json_string_value(json_object_get(in, "to"));
    json_t *errors = json_object();
    if (to == NULL || (strcmp(to, "earliest") != 0 && strcmp(to, "latest") != 0 &&
                       strcmp(to, "offset") != 0 && strcmp(to, "time") != 0)) {
        json_object_set_new(errors, "to",
                            json_pack("[s]", "must be earliest, latest, offset or "
                                             "time"));
    }
    json_t *v = json_object_get(in, "offset");
    if (to != NULL && strcmp(to, "offset") == 0 &&
        (!json_is_integer(v) || json_integer_value(v) < 0)) {
        json_object_set_new(errors, "offset", json_pack("[s]", "must be an integer of at least 0"));
    }
    v = json_object_get(in, "time");
    if (to != NULL && strcmp(to, "time") == 0 &&
        (!json_is_integer(v) || json_integer_value(v) < 0)) {
        json_object_set_new(errors, "time",
                            json_pack("[s]", "must be milliseconds since 1970 (an integer)"));
    }
    v = json_object_get(in, "topic");
    if (v != NULL && !json_is_null(v) && (!json_is_string(v) || json_string_length(v) == 0)) {
        json_object_set_new(errors, "topic", json_pack("[s]", "must be a topic's name"));
    }
    v = json_object_get(in, "partition");
    if (v != NULL && !json_is_null(v) &&
        (!json_is_integer(v) || json_integer_value(v) < 0 ||
         json_is_null(json_object_get(in, "topic")) || json_object_get(in, "topic") == NULL)) {
        json_object_set_new(errors, "partition",
                            json_pack("[s]", "must be a partition number, with a topic"));
    }
    if (json_object_size(errors) > 0) {
        json_decref(in);
        tandem_respond_invalid(req, errors);
        return;
    }
    json_decref(errors);
    struct job *j = calloc(1, sizeof(*j));
    if (j == NULL) {
        json_decref(in);
        tandem_respond_problem(req, 503, "out of memory");
        return;
    }
    j->kind = JOB_RESET;
    j->spec = in;
    snprintf(j->name, sizeof(j->name), "%s", tandem_param(req, "group"));
    tandem_log_info(req, "console action asked", "\"request\":\"reset group\"");
    run_job(req, j);
}

int api_routes(struct console *c)
{
    C = c;
    static const struct {
        const char *method, *pattern;
        tandem_route_fn fn;
    } ROUTES[] = {
        {"GET", CONSOLE_STREAM, stream_get},
        {"GET", "/api/console/status", status_get},
        {"GET", "/api/console/events", events_get},
        {"GET", "/api/console/topics", topics_get},
        {"GET", "/api/console/topics/{topic}/records", records_get},
        {"GET", CONSOLE_TAIL, tail_get},
        {"GET", "/api/console/groups", groups_get},
        {"GET", "/api/console/groups/{group}", group_get},
        {"POST", "/api/console/key", key_post},
        {"GET", "/api/console/actions", actions_get},
        {"POST", "/api/console/services/{name}/stop", stop_post},
        {"POST", "/api/console/services/{name}/start", start_post},
        {"POST", "/api/console/services/{name}/scale", scale_post},
        {"POST", "/api/console/groups/{group}/reset", reset_post},
    };
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof(ROUTES) / sizeof(ROUTES[0]); i++) {
        rc = tandem_route(c->svc, ROUTES[i].method, ROUTES[i].pattern, ROUTES[i].fn, c);
    }
    return rc;
}
