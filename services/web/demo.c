/*
 * demo.c: the demo data, so that `make run` opens on a living blog.
 *
 * A thread of its own goes through the gateway's public API like any client would: it registers
 * the demo document's users (demo.json, embedded at build time), sets their bios, follows,
 * publishes the articles (with tags, Markdown bodies), favorites and comments. It runs once per
 * system: only when GET /api/articles answers articlesCount 0, and never again after it wrote
 * <data-dir>/demo-data.done (also written, saying so, when the system already had data). Two
 * instances of the web service starting together do not both load: the one that takes
 * <data-dir>/demo-data.lock (flock) does, the other leaves it.
 *
 * The other services may still be starting: every call is tried again while the gateway answers
 * 503 or 429 (a service not up yet), or nothing answers at all, waiting 1, 2, 4, then 5 s between
 * tries, for up to 5 minutes; GET and PUT are also tried again on 502 and 504. A POST is not
 * repeated after an answer that leaves its outcome unknown (502, 504), so nothing is created
 * twice; the loader stops there (logged) and the blog keeps what it had. A registration that
 * finds the user taken logs in instead. Nothing here blocks the HTTP workers.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tandem/http_client.h"
#include "web.h"

#define CALL_TIMEOUT_MS 10000
#define RETRY_FOR_MS    (5 * 60 * 1000)
#define TOKEN_MAX       2048

struct web_demo {
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    struct tandem_http_client *client;
    char *gateway, *data_dir;
    json_t *doc;
    int lock_fd;
};

/* Waits ms unless stopped; returns false when the loader must stop. */
static bool pause_ms(struct web_demo *d, int64_t ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&d->mu);
    while (!d->stop && pthread_cond_timedwait(&d->cv, &d->mu, &until) != ETIMEDOUT) {
    }
    bool go = !d->stop;
    pthread_mutex_unlock(&d->mu);
    return go;
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* One attempt in flight. The loader thread waits for it on d->cv; when the loader stops first it
 * abandons the attempt, and the completion (at the latest when web_demo_stop frees the client,
 * which cancels what is left) frees it. Guarded by d->mu. */
struct attempt {
    struct web_demo *d;
    bool done, abandoned;
    int err, status;
    char *body;
    size_t len;
};

static void attempt_done(const struct tandem_http_response *r, void *arg)
{
    struct attempt *a = arg;
    struct web_demo *d = a->d;
    pthread_mutex_lock(&d->mu);
    if (a->abandoned) {
        free(a);
    } else {
        a->done = true;
        a->err = r->err;
        a->status = r->status;
        a->body = r->err == 0 && r->body_len > 0 ? strndup(r->body, r->body_len) : NULL;
        a->len = a->body != NULL ? r->body_len : 0;
        pthread_cond_broadcast(&d->cv);
    }
    pthread_mutex_unlock(&d->mu);
}

/* Makes one attempt and waits for it. Returns 0 with *status (0: no answer; *body malloc'd or
 * NULL) or TANDEM_ECLOSED when the loader is stopping (or the client refused the call). */
static int attempt(struct web_demo *d, const struct tandem_http_call_opts *o, int *status,
                   char **body, size_t *len)
{
    struct attempt *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return TANDEM_ECLOSED;
    }
    a->d = d;
    if (tandem_http_call(d->client, o, attempt_done, a) != 0) {
        free(a);
        return TANDEM_ECLOSED;
    }
    pthread_mutex_lock(&d->mu);
    while (!a->done && !d->stop) {
        pthread_cond_wait(&d->cv, &d->mu);
    }
    if (!a->done) {
        a->abandoned = true; /* attempt_done frees it */
        pthread_mutex_unlock(&d->mu);
        return TANDEM_ECLOSED;
    }
    pthread_mutex_unlock(&d->mu);
    *status = a->err == 0 ? a->status : 0;
    *body = a->body;
    *len = a->len;
    int err = a->err;
    free(a);
    return err == TANDEM_ETIMEDOUT ? TANDEM_ETIMEDOUT : 0;
}

/*
 * One API call through the gateway: method, path ("/api/users"), token (NULL: none), body (NULL:
 * none; borrowed). Tried again as the file's essay says. Returns the last HTTP status (0 when
 * nothing answered, or stopped) and, when out is not NULL, the answer's JSON (NULL when none;
 * the caller decrefs).
 */
static int call(struct web_demo *d, const char *method, const char *path, const char *token,
                json_t *body, json_t **out)
{
    char url[1024], auth[TOKEN_MAX + 32];
    snprintf(url, sizeof(url), "%s%s", d->gateway, path);
    const char *headers[4] = {"Accept: application/json", NULL, NULL, NULL};
    size_t nh = 1;
    char *payload = NULL;
    if (out != NULL) {
        *out = NULL;
    }
    if (body != NULL) {
        payload = json_dumps(body, JSON_COMPACT);
        if (payload == NULL) {
            return 0;
        }
        headers[nh++] = "Content-Type: application/json";
    }
    if (token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Token %s", token);
        headers[nh++] = auth;
    }
    bool idempotent = strcmp(method, "POST") != 0;
    int64_t end = now_ms() + RETRY_FOR_MS;
    int64_t wait = 1000;
    int status = 0;
    for (;;) {
        struct tandem_http_call_opts o = {
            .method = method,
            .url = url,
            .headers = headers,
            .body = payload,
            .body_len = payload != NULL ? strlen(payload) : 0,
            .timeout_ms = CALL_TIMEOUT_MS,
        };
        char *text = NULL;
        size_t len = 0;
        int rc = attempt(d, &o, &status, &text, &len);
        if (rc == TANDEM_ECLOSED) {
            status = 0;
            break;
        }
        /* no answer: again, unless a POST timed out (it may have been done) */
        bool again = status == 0 ? rc != TANDEM_ETIMEDOUT || idempotent
                                 : status == 503 || status == 429 ||
                                       (idempotent && (status == 502 || status == 504));
        if (!again || now_ms() + wait > end) {
            if (out != NULL && text != NULL) {
                *out = json_loadb(text, len, 0, NULL);
            }
            free(text);
            break;
        }
        free(text);
        if (!pause_ms(d, wait)) {
            status = 0;
            break;
        }
        wait = wait * 2 > 5000 ? 5000 : wait * 2;
    }
    free(payload);
    return status;
}

/* The string member key of the object member obj of o ("user"."token"), or NULL. */
static const char *member(json_t *o, const char *obj, const char *key)
{
    return json_string_value(json_object_get(json_object_get(o, obj), key));
}

static void fail_log(const char *step, const char *what, int status)
{
    tandem_log_error(NULL, "demo data: a call failed, the loader stops",
                     "\"step\":\"%s\",\"what\":\"%s\",\"status\":%d", step, what, status);
}

/* Escapes a username for a path segment (letters, digits, -._~ kept; the rest %XX). */
static void segment(const char *s, char *out, size_t cap)
{
    static const char HEX[] = "0123456789ABCDEF";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0' && n + 4 < cap; p++) {
        bool keep = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || strchr("-._~", *p) != NULL;
        if (keep) {
            out[n++] = (char)*p;
        } else {
            out[n++] = '%';
            out[n++] = HEX[*p >> 4];
            out[n++] = HEX[*p & 15];
        }
    }
    out[n] = '\0';
}

/* Registers (or, when taken, logs in) every user; tokens lands in tokens (username -> token). */
static int load_users(struct web_demo *d, json_t *tokens)
{
    const char *password = json_string_value(json_object_get(d->doc, "password"));
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(d->doc, "users"), i, u)
    {
        const char *name = json_string_value(json_object_get(u, "username"));
        const char *email = json_string_value(json_object_get(u, "email"));
        json_t *reg = json_pack("{s:{s:s,s:s,s:s}}", "user", "username", name, "email", email,
                                "password", password);
        json_t *ans = NULL;
        int st = call(d, "POST", "/api/users", NULL, reg, &ans);
        json_decref(reg);
        if (st == 422) {
            json_decref(ans);
            json_t *login =
                json_pack("{s:{s:s,s:s}}", "user", "email", email, "password", password);
            st = call(d, "POST", "/api/users/login", NULL, login, &ans);
            json_decref(login);
        }
        const char *token = member(ans, "user", "token");
        if ((st != 201 && st != 200) || token == NULL) {
            json_decref(ans);
            fail_log("users", name, st);
            return TANDEM_EIO;
        }
        json_object_set_new(tokens, name, json_string(token));
        json_decref(ans); /* token was ans's: from here on, the copy in tokens */
        token = json_string_value(json_object_get(tokens, name));
        json_t *bio = json_object_get(u, "bio");
        if (bio != NULL) {
            json_t *put = json_pack("{s:{s:O}}", "user", "bio", bio);
            st = call(d, "PUT", "/api/user", token, put, NULL);
            json_decref(put);
            if (st != 200) {
                fail_log("bio", name, st);
                return TANDEM_EIO;
            }
            /* the token stays valid: the username did not change */
        }
    }
    return 0;
}

static const char *token_of(json_t *tokens, json_t *name)
{
    return json_string_value(json_object_get(tokens, json_string_value(name)));
}

static int load_follows(struct web_demo *d, json_t *tokens)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(d->doc, "follows"), i, f)
    {
        char seg[256], path[320];
        segment(json_string_value(json_array_get(f, 1)), seg, sizeof(seg));
        snprintf(path, sizeof(path), "/api/profiles/%s/follow", seg);
        int st = call(d, "POST", path, token_of(tokens, json_array_get(f, 0)), NULL, NULL);
        if (st != 200) {
            fail_log("follows", path, st);
            return TANDEM_EIO;
        }
    }
    return 0;
}

/* The article's body: a string, or an array of lines joined by "\n" (how demo.json keeps
 * Markdown readable). A new string; the caller frees. */
static char *body_text(json_t *b)
{
    if (json_is_string(b)) {
        return strdup(json_string_value(b));
    }
    size_t len = 1, i;
    json_t *line;
    json_array_foreach(b, i, line)
    {
        len += json_string_length(line) + 1;
    }
    char *s = malloc(len);
    if (s == NULL) {
        return NULL;
    }
    size_t n = 0;
    json_array_foreach(b, i, line)
    {
        size_t l = json_string_length(line);
        memcpy(s + n, json_string_value(line), l);
        n += l;
        s[n++] = '\n';
    }
    s[n] = '\0';
    return s;
}

/* Publishes every article; slugs gets key -> slug. */
static int load_articles(struct web_demo *d, json_t *tokens, json_t *slugs)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(d->doc, "articles"), i, a)
    {
        char *text = body_text(json_object_get(a, "body"));
        if (text == NULL) {
            return TANDEM_ENOMEM;
        }
        json_t *req =
            json_pack("{s:{s:O,s:O,s:s,s:O}}", "article", "title", json_object_get(a, "title"),
                      "description", json_object_get(a, "description"), "body", text, "tagList",
                      json_object_get(a, "tagList"));
        free(text);
        json_t *ans = NULL;
        int st = call(d, "POST", "/api/articles", token_of(tokens, json_object_get(a, "author")),
                      req, &ans);
        json_decref(req);
        const char *slug = member(ans, "article", "slug");
        if (st != 201 || slug == NULL) {
            json_decref(ans);
            fail_log("articles", json_string_value(json_object_get(a, "key")), st);
            return TANDEM_EIO;
        }
        json_object_set_new(slugs, json_string_value(json_object_get(a, "key")), json_string(slug));
        json_decref(ans);
    }
    return 0;
}

/* "/api/articles/<slug><suffix>" for the article of key. */
static void article_path(json_t *slugs, json_t *key, const char *suffix, char *out, size_t cap)
{
    char seg[512];
    segment(json_string_value(json_object_get(slugs, json_string_value(key))), seg, sizeof(seg));
    snprintf(out, cap, "/api/articles/%s%s", seg, suffix);
}

static int load_reactions(struct web_demo *d, json_t *tokens, json_t *slugs)
{
    char path[640];
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(d->doc, "favorites"), i, f)
    {
        article_path(slugs, json_array_get(f, 1), "/favorite", path, sizeof(path));
        int st = call(d, "POST", path, token_of(tokens, json_array_get(f, 0)), NULL, NULL);
        if (st != 200) {
            fail_log("favorites", path, st);
            return TANDEM_EIO;
        }
    }
    json_array_foreach(json_object_get(d->doc, "comments"), i, f)
    {
        article_path(slugs, json_object_get(f, "article"), "/comments", path, sizeof(path));
        json_t *req = json_pack("{s:{s:O}}", "comment", "body", json_object_get(f, "body"));
        int st = call(d, "POST", path, token_of(tokens, json_object_get(f, "author")), req, NULL);
        json_decref(req);
        if (st != 200 && st != 201) {
            fail_log("comments", path, st);
            return TANDEM_EIO;
        }
    }
    return 0;
}

/* Writes <data_dir>/demo-data.done durably (temporary file, fsync, rename). */
static void mark_done(struct web_demo *d, const char *what)
{
    char path[1024], tmp[1100];
    snprintf(path, sizeof(path), "%s/demo-data.done", d->data_dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        tandem_log_error(NULL, "demo data: cannot write the marker", "\"path\":\"%s\"", tmp);
        return;
    }
    fprintf(f, "%s\n", what);
    bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        tandem_log_error(NULL, "demo data: cannot write the marker", "\"path\":\"%s\"", path);
        unlink(tmp);
    }
}

static bool marked(struct web_demo *d)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/demo-data.done", d->data_dir);
    return access(path, F_OK) == 0;
}

/* Waits until GET /api/articles answers; its articlesCount, or -1 when stopped. */
static json_int_t articles_count(struct web_demo *d)
{
    int64_t wait = 500, next_log = now_ms() + 30000;
    for (;;) {
        json_t *ans = NULL;
        int st = call(d, "GET", "/api/articles?limit=1", NULL, NULL, &ans);
        if (st != 200 && now_ms() >= next_log) {
            tandem_log_warn(NULL, "demo data: still waiting for the API",
                            "\"url\":\"%s\",\"status\":%d", d->gateway, st);
            next_log = now_ms() + 30000;
        }
        json_t *count = json_object_get(ans, "articlesCount");
        if (st == 200 && json_is_integer(count)) {
            json_int_t n = json_integer_value(count);
            json_decref(ans);
            return n;
        }
        json_decref(ans);
        if (!pause_ms(d, wait)) {
            return -1;
        }
        wait = wait * 2 > 5000 ? 5000 : wait * 2;
    }
}

static void *demo_main(void *arg)
{
    struct web_demo *d = arg;
    if (marked(d)) {
        tandem_log_info(NULL, "demo data: loaded or skipped before", NULL);
        return NULL;
    }
    char path[1024];
    snprintf(path, sizeof(path), "%s/demo-data.lock", d->data_dir);
    d->lock_fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    if (d->lock_fd < 0 || flock(d->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        tandem_log_info(NULL, "demo data: another instance is loading it", NULL);
        return NULL;
    }
    if (marked(d)) {
        return NULL; /* done by the instance that held the lock */
    }
    json_int_t n = articles_count(d);
    if (n < 0) {
        return NULL;
    }
    if (n > 0) {
        tandem_log_info(NULL, "demo data: the system has data, none loaded",
                        "\"articles\":%" JSON_INTEGER_FORMAT, n);
        mark_done(d, "skipped: the system had articles");
        return NULL;
    }
    tandem_log_info(NULL, "demo data: loading", "\"gateway\":\"%s\"", d->gateway);
    json_t *tokens = json_object(), *slugs = json_object();
    int rc = load_users(d, tokens);
    if (rc == 0) {
        rc = load_follows(d, tokens);
    }
    if (rc == 0) {
        rc = load_articles(d, tokens, slugs);
    }
    if (rc == 0) {
        rc = load_reactions(d, tokens, slugs);
    }
    if (rc == 0) {
        mark_done(d, "loaded");
        tandem_log_info(NULL, "demo data: loaded", "\"users\":%zu,\"articles\":%zu",
                        json_object_size(tokens), json_object_size(slugs));
    }
    json_decref(tokens);
    json_decref(slugs);
    return NULL;
}

/* mkdir -p dir (0700 for what it makes). */
static int make_dirs(const char *dir)
{
    char buf[1024];
    if (snprintf(buf, sizeof(buf), "%s", dir) >= (int)sizeof(buf)) {
        return TANDEM_EINVAL;
    }
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
                return TANDEM_EIO;
            }
            *p = c;
            if (c == '\0') {
                return 0;
            }
        }
    }
}

static bool demo_valid(json_t *doc)
{
    return json_is_string(json_object_get(doc, "password")) &&
           json_is_array(json_object_get(doc, "users")) &&
           json_is_array(json_object_get(doc, "articles"));
}

int web_demo_start(const char *gateway, const char *data_dir, const char *json,
                   struct web_demo **out)
{
    int rc = TANDEM_ENOMEM;
    struct web_demo *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        return TANDEM_ENOMEM;
    }
    d->lock_fd = -1;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    d->gateway = strdup(gateway);
    d->data_dir = strdup(data_dir);
    if (d->gateway == NULL || d->data_dir == NULL) {
        goto fail;
    }
    size_t gl = strlen(d->gateway);
    while (gl > 0 && d->gateway[gl - 1] == '/') {
        d->gateway[--gl] = '\0';
    }
    json_error_t jerr;
    d->doc = json_loads(json, 0, &jerr);
    if (d->doc == NULL || !demo_valid(d->doc)) {
        tandem_log_error(NULL, "demo data: the document is not valid", "\"line\":%d", jerr.line);
        rc = TANDEM_EINVAL;
        goto fail;
    }
    rc = make_dirs(data_dir);
    if (rc != 0) {
        tandem_log_error(NULL, "demo data: cannot make the data directory", "\"dir\":\"%s\"",
                         data_dir);
        goto fail;
    }
    struct tandem_http_client_config cfg = {.breaker_failures = 1000, .free_wait_ms = 200};
    rc = tandem_http_client_new(&cfg, &d->client);
    if (rc != 0) {
        goto fail;
    }
    if (pthread_create(&d->thread, NULL, demo_main, d) != 0) {
        rc = TANDEM_EIO;
        goto fail;
    }
    d->started = true;
    *out = d;
    return 0;
fail:
    web_demo_stop(d);
    return rc;
}

void web_demo_stop(struct web_demo *d)
{
    if (d == NULL) {
        return;
    }
    pthread_mutex_lock(&d->mu);
    d->stop = true;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    if (d->started) {
        pthread_join(d->thread, NULL); /* prompt: its waits end on stop */
    }
    tandem_http_client_free(d->client); /* cancels an abandoned attempt, which frees itself */
    if (d->lock_fd >= 0) {
        close(d->lock_fd); /* releases the flock */
    }
    json_decref(d->doc);
    free(d->gateway);
    free(d->data_dir);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d);
}
