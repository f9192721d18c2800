/*
 * Problem details (RFC 9457) on top of jansson.
 *
 * Model: the five standard members are held apart from the extensions so that encoding always
 * writes them first and in one order: type, title, status, detail, instance (§3.1), then the
 * extension members (§3.2) in insertion order (jansson objects keep insertion order, and replacing
 * a key's value keeps its place). Strings are stored as jansson string values, which is also how
 * they are checked to be UTF-8: json_string() refuses anything else.
 *
 * Invariants: p->type is never NULL ("about:blank" by default); p->ext holds no standard name.
 */
#include "tandem/problem.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/mem.h"

struct tandem_problem {
    json_t *type, *title, *detail, *instance; /* string values or NULL */
    int status;
    json_t *ext; /* object */
};

/* RFC 9110 §15 reason phrases for the statuses an API uses; 4xx/5xx first. */
static const struct {
    int status;
    const char *reason;
} reasons[] = {
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {402, "Payment Required"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {407, "Proxy Authentication Required"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Range Not Satisfiable"},
    {417, "Expectation Failed"},
    {421, "Misdirected Request"},
    {422, "Unprocessable Content"},
    {426, "Upgrade Required"},
    {428, "Precondition Required"},           /* RFC 6585 §3 */
    {429, "Too Many Requests"},               /* RFC 6585 §4 */
    {431, "Request Header Fields Too Large"}, /* RFC 6585 §5 */
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
};

const char *tandem_http_reason(int status)
{
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
        if (reasons[i].status == status)
            return reasons[i].reason;
    }
    return "Unknown Status";
}

static const char *const standard_names[] = {"type", "title", "status", "detail", "instance"};

static bool is_standard(const char *name)
{
    for (size_t i = 0; i < 5; i++) {
        if (strcmp(name, standard_names[i]) == 0)
            return true;
    }
    return false;
}

/* §3.2: "SHOULD start with a letter ... SHOULD comprise only ALPHA, DIGIT and '_' ... SHOULD be
 * three characters or longer". tandem makes the SHOULDs a rule for what it writes. */
static bool ext_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 3 || is_standard(name))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alpha && (i == 0 || !((c >= '0' && c <= '9') || c == '_')))
            return false;
    }
    return true;
}

/* Replaces *slot with a string value for s (NULL clears). */
static int set_string(json_t **slot, const char *s)
{
    json_t *v = NULL;
    if (s) {
        v = json_string(s);
        if (!v)
            return TANDEM_EINVAL; /* not UTF-8 (or out of memory) */
    }
    json_decref(*slot);
    *slot = v;
    return 0;
}

static struct tandem_problem *problem_alloc(void)
{
    struct tandem_problem *p = xcalloc(1, sizeof(*p));
    p->type = json_string("about:blank");
    p->ext = json_object();
    if (!p->type || !p->ext) {
        tandem_problem_free(p);
        return NULL;
    }
    return p;
}

int tandem_problem_new(int status, const char *detail, struct tandem_problem **out)
{
    *out = NULL;
    if (status < 400 || status > 599)
        return TANDEM_EINVAL;
    struct tandem_problem *p = problem_alloc();
    if (!p)
        return TANDEM_ENOMEM;
    int rc = set_string(&p->title, tandem_http_reason(status));
    if (rc == 0)
        rc = set_string(&p->detail, detail);
    if (rc != 0)
        goto fail;
    p->status = status;
    *out = p;
    return 0;
fail:
    tandem_problem_free(p);
    return rc;
}

void tandem_problem_free(struct tandem_problem *p)
{
    if (!p)
        return;
    json_decref(p->type);
    json_decref(p->title);
    json_decref(p->detail);
    json_decref(p->instance);
    json_decref(p->ext);
    free(p);
}

int tandem_problem_set_type(struct tandem_problem *p, const char *type, const char *title)
{
    if (!type)
        return TANDEM_EINVAL;
    json_t *t = json_string(type);
    if (!t)
        return TANDEM_EINVAL;
    if (title) {
        int rc = set_string(&p->title, title);
        if (rc != 0) {
            json_decref(t);
            return rc;
        }
    }
    json_decref(p->type);
    p->type = t;
    return 0;
}

int tandem_problem_set_detail(struct tandem_problem *p, const char *detail)
{
    return set_string(&p->detail, detail);
}

int tandem_problem_set_instance(struct tandem_problem *p, const char *instance)
{
    return set_string(&p->instance, instance);
}

/* Takes ownership of v (NULL means its constructor failed: bad UTF-8 or no memory). */
static int set_ext(struct tandem_problem *p, const char *name, json_t *v)
{
    if (!ext_name_ok(name)) {
        json_decref(v);
        return TANDEM_EINVAL;
    }
    if (!v)
        return TANDEM_EINVAL;
    return json_object_set_new(p->ext, name, v) == 0 ? 0 : TANDEM_ENOMEM;
}

int tandem_problem_set_str(struct tandem_problem *p, const char *name, const char *value)
{
    return set_ext(p, name, value ? json_string(value) : NULL);
}

int tandem_problem_set_int(struct tandem_problem *p, const char *name, long long value)
{
    return set_ext(p, name, json_integer(value));
}

int tandem_problem_set_json(struct tandem_problem *p, const char *name, const char *json)
{
    json_t *v = json ? json_loads(json, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL) : NULL;
    return set_ext(p, name, v);
}

int tandem_problem_status(const struct tandem_problem *p)
{
    return p->status;
}

const char *tandem_problem_type(const struct tandem_problem *p)
{
    return json_string_value(p->type);
}

const char *tandem_problem_title(const struct tandem_problem *p)
{
    return p->title ? json_string_value(p->title) : NULL;
}

const char *tandem_problem_detail(const struct tandem_problem *p)
{
    return p->detail ? json_string_value(p->detail) : NULL;
}

const char *tandem_problem_instance(const struct tandem_problem *p)
{
    return p->instance ? json_string_value(p->instance) : NULL;
}

const char *tandem_problem_get_str(const struct tandem_problem *p, const char *name)
{
    return json_string_value(json_object_get(p->ext, name)); /* NULL unless a string */
}

/* Adds v to obj under key unless v is NULL; borrows v. Returns false when out of memory. */
static bool put(json_t *obj, const char *key, json_t *v)
{
    return !v || json_object_set(obj, key, v) == 0;
}

int tandem_problem_encode(const struct tandem_problem *p, char **body, size_t *len)
{
    int rc = TANDEM_ENOMEM;
    json_t *status = NULL, *doc = json_object();
    *body = NULL;
    if (!doc)
        goto fail;
    if (p->status) {
        status = json_integer(p->status);
        if (!status)
            goto fail;
    }
    if (!put(doc, "type", p->type) || !put(doc, "title", p->title) || !put(doc, "status", status) ||
        !put(doc, "detail", p->detail) || !put(doc, "instance", p->instance))
        goto fail;
    const char *key;
    json_t *v;
    json_object_foreach(p->ext, key, v)
    {
        if (json_object_set(doc, key, v) != 0)
            goto fail;
    }
    *body = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!*body)
        goto fail;
    *len = strlen(*body);
    rc = 0;
fail:
    json_decref(status);
    json_decref(doc);
    return rc;
}

int tandem_problem_parse(const char *json, size_t len, struct tandem_problem **out)
{
    int rc = TANDEM_EINVAL;
    *out = NULL;
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
    struct tandem_problem *p = NULL;
    if (!json_is_object(doc))
        goto fail;
    rc = TANDEM_ENOMEM;
    p = problem_alloc();
    if (!p)
        goto fail;
    const char *key;
    json_t *v;
    json_object_foreach(doc, key, v)
    {
        json_t **slot = NULL;
        if (strcmp(key, "type") == 0)
            slot = &p->type;
        else if (strcmp(key, "title") == 0)
            slot = &p->title;
        else if (strcmp(key, "detail") == 0)
            slot = &p->detail;
        else if (strcmp(key, "instance") == 0)
            slot = &p->instance;
        if (slot) {
            if (json_is_string(v)) { /* §3.1: a member of the wrong type is ignored */
                json_decref(*slot);
                *slot = json_incref(v);
            }
        } else if (strcmp(key, "status") == 0) {
            if (json_is_integer(v) && json_integer_value(v) >= 100 && json_integer_value(v) <= 599)
                p->status = (int)json_integer_value(v);
        } else if (json_object_set(p->ext, key, v) != 0) {
            goto fail;
        }
    }
    *out = p;
    p = NULL;
    rc = 0;
fail:
    tandem_problem_free(p);
    json_decref(doc);
    return rc;
}

int tandem_problem_body(int status, const char *detail, char **body, size_t *len)
{
    struct tandem_problem *p = NULL;
    int rc = tandem_problem_new(status, detail, &p);
    if (rc == 0)
        rc = tandem_problem_encode(p, body, len);
    tandem_problem_free(p);
    return rc;
}
