/*
 * The configuration APIs: DescribeConfigs (v0-3), AlterConfigs (v0-1) and
 * IncrementalAlterConfigs (v0), for topics (resource type 2) and this broker (type 4).
 *
 * What is configured. A topic's settings are its overrides (the key=value lines of its .topic
 * file, logmgr_topic_overrides) applied over the broker's log.* settings, which come from the
 * config file, the environment or a flag (config.c), else their defaults. DescribeConfigs
 * answers with Kafka's names and sources, the way Kafka's ConfigHelper does:
 *
 *   topic entry set on the topic              DYNAMIC_TOPIC_CONFIG
 *   topic entry following a broker setting    STATIC_BROKER_CONFIG when that setting was given,
 *                                             else DEFAULT_CONFIG
 *   broker entry                              STATIC_BROKER_CONFIG or DEFAULT_CONFIG, read-only
 *
 * and, when asked, the synonyms in Kafka's order (topic override, broker setting, default).
 * Nothing is sensitive (tandem has no passwords). The topic configs are those that change what
 * tandem's log does: cleanup.policy (only "delete": tandem does not compact), retention.ms,
 * retention.bytes, segment.bytes, segment.ms, max.message.bytes, message.timestamp.type and
 * index.interval.bytes; any other name is INVALID_CONFIG ("Unknown topic config name"), as is a
 * value log_config_set refuses.
 *
 * Changes. AlterConfigs replaces a topic's whole override set; IncrementalAlterConfigs edits it
 * (SET, DELETE; APPEND and SUBTRACT only for the list config, cleanup.policy, as in Kafka). The
 * new set is validated in full first and written with logmgr_set_topic_configs, which commits it
 * to the .topic file (so it survives a restart) and puts it in effect at once: appends roll at
 * the new segment.bytes, the next retention pass uses the new retention. validate_only checks
 * without changing anything. Every broker setting is static (read at start-up), so altering one
 * is refused with INVALID_CONFIG, as Kafka refuses a config that cannot be updated dynamically.
 *
 * Errors per resource, as Kafka answers them: an unknown topic UNKNOWN_TOPIC_OR_PARTITION, a bad
 * topic name INVALID_TOPIC_EXCEPTION, a broker name that is neither "" nor this node's id, or a
 * resource type other than topic and broker, INVALID_REQUEST; duplicate keys, null values and a
 * resource named twice in one alter request INVALID_REQUEST; an operation APPEND/SUBTRACT on a
 * non-list config INVALID_CONFIG.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/log.h"
#include "protocol/messages_config.h"
#include "tandem/error.h"

/* The topic configs tandem implements, in the order DescribeConfigs lists them. */
static const struct topic_conf {
    const char *name;       /* topic-level name */
    const char *broker_key; /* the broker setting it defaults from */
    int8_t type;            /* enum kafka_config_type */
    const char *doc;
} topic_confs[] = {
    {"cleanup.policy", "log.cleanup.policy", KAFKA_CONFIG_TYPE_LIST,
     "the retention policy: only \"delete\" (tandem-broker does not compact)"},
    {"index.interval.bytes", "log.index.interval.bytes", KAFKA_CONFIG_TYPE_INT,
     "bytes between offset index entries"},
    {"max.message.bytes", "message.max.bytes", KAFKA_CONFIG_TYPE_INT,
     "largest record batch accepted"},
    {"message.timestamp.type", "log.message.timestamp.type", KAFKA_CONFIG_TYPE_STRING,
     "CreateTime or LogAppendTime"},
    {"retention.bytes", "log.retention.bytes", KAFKA_CONFIG_TYPE_LONG,
     "keep at most this many bytes per partition; -1 = no limit"},
    {"retention.ms", "log.retention.ms", KAFKA_CONFIG_TYPE_LONG,
     "delete segments older than this; -1 = never"},
    {"segment.bytes", "log.segment.bytes", KAFKA_CONFIG_TYPE_INT, "roll segments at this size"},
    {"segment.ms", "log.roll.ms", KAFKA_CONFIG_TYPE_LONG, "roll segments at this age"},
};

#define NTOPIC_CONFS (sizeof(topic_confs) / sizeof(topic_confs[0]))

static const struct topic_conf *topic_conf_find(const char *name)
{
    for (size_t i = 0; i < NTOPIC_CONFS; i++)
        if (strcmp(topic_confs[i].name, name) == 0)
            return &topic_confs[i];
    return NULL;
}

/* A NUL-terminated copy of s in the request's arena; NULL for a null string or a full arena. */
static char *arena_cstr(struct request *req, struct kstr s)
{
    if (s.len < 0)
        return NULL;
    char *c = arena_alloc(&req->arena, (size_t)s.len + 1);
    if (!c)
        return NULL;
    memcpy(c, s.p, (size_t)s.len);
    c[s.len] = '\0';
    return c;
}

static struct kstr kstr_of(const char *s)
{
    return s ? (struct kstr){s, (int32_t)strlen(s)} : KSTR_NULL;
}

/* The broker setting named key, or false. */
static bool broker_entry_find(const struct broker_config *c, const char *key,
                              struct broker_config_entry *e)
{
    for (size_t i = 0; broker_config_entry(c, i, e); i++)
        if (strcmp(e->key, key) == 0)
            return true;
    return false;
}

/* Whether the resource name is "" or this broker's id; else sets *msg. */
static bool broker_name_ok(struct request *req, struct kstr name, bool *is_default,
                           const char **msg)
{
    char want[32];
    snprintf(want, sizeof(want), "%" PRId64, req->b->cfg->node_id);
    *is_default = name.len == 0;
    if (name.len == 0 || kstr_eq(name, want))
        return true;
    *msg = "Unexpected broker id: expected this broker's node id or an empty string";
    return false;
}

/* Whether configuration_keys asks for key (a null list asks for all). */
static bool wanted(const struct describe_configs_req_resource *res, const char *key)
{
    if (res->nconfiguration_keys < 0)
        return true;
    for (int32_t i = 0; i < res->nconfiguration_keys; i++)
        if (kstr_eq(res->configuration_keys[i], key))
            return true;
    return false;
}

/* ---- DescribeConfigs ------------------------------------------------------------------------ */

struct describe_ctx {
    struct request *req;
    const struct describe_configs_req *in;
    struct describe_configs_result *out; /* configs has room for every entry */
};

/* Appends one entry to ctx->out (room was reserved). */
static struct describe_configs_resource_result *add_entry(struct describe_ctx *x, const char *name,
                                                          const char *value, int8_t source,
                                                          int8_t type, const char *doc)
{
    struct describe_configs_resource_result *c = &x->out->configs[x->out->nconfigs++];
    memset(c, 0, sizeof(*c));
    c->name = kstr_of(name);
    c->value = kstr_of(arena_cstr(x->req, kstr_of(value)));
    c->config_source = source;
    c->is_default = source == KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG;
    c->config_type = type;
    c->documentation = x->in->include_documentation ? kstr_of(doc) : KSTR_NULL;
    c->synonyms = arena_array(&x->req->arena, 3, sizeof(*c->synonyms));
    return c;
}

static void add_synonym(struct describe_ctx *x, struct describe_configs_resource_result *c,
                        const char *name, const char *value, int8_t source)
{
    if (!x->in->include_synonyms || !c->synonyms)
        return;
    struct describe_configs_synonym *s = &c->synonyms[c->nsynonyms++];
    s->name = kstr_of(name);
    s->value = kstr_of(arena_cstr(x->req, kstr_of(value)));
    s->source = source;
}

static void describe_topic(struct describe_ctx *x, const struct describe_configs_req_resource *res)
{
    struct broker *b = x->req->b;
    int16_t err = KAFKA_NONE;
    struct topic *t = api_topic(b, res->resource_name, false, &err);
    if (!t) {
        x->out->error_code = err;
        x->out->error_message = kstr_of(err == KAFKA_UNKNOWN_TOPIC_OR_PARTITION
                                            ? "This server does not host this topic."
                                            : "Invalid topic name.");
        return;
    }
    const char *const *keys, *const *values;
    int noverrides = logmgr_topic_overrides(t, &keys, &values);
    struct log_config defaults;
    log_config_defaults(&defaults);
    for (size_t i = 0; i < NTOPIC_CONFS; i++) {
        const struct topic_conf *tc = &topic_confs[i];
        if (!wanted(res, tc->name))
            continue;
        const char *override = NULL;
        for (int k = 0; k < noverrides; k++)
            if (strcmp(keys[k], tc->name) == 0)
                override = values[k];
        struct broker_config_entry be;
        bool has_broker = broker_entry_find(b->cfg, tc->broker_key, &be);
        char value[512], def[512];
        if (log_config_get(&t->cfg, tc->name, value, sizeof(value)) ||
            log_config_get(&defaults, tc->name, def, sizeof(def)))
            continue;
        int8_t source = override                  ? KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG
                        : has_broker && be.is_set ? KAFKA_CONFIG_SOURCE_STATIC_BROKER_CONFIG
                                                  : KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG;
        struct describe_configs_resource_result *c =
            add_entry(x, tc->name, value, source, tc->type, tc->doc);
        if (override)
            add_synonym(x, c, tc->name, override, KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG);
        if (has_broker && be.is_set)
            add_synonym(x, c, tc->broker_key, be.value, KAFKA_CONFIG_SOURCE_STATIC_BROKER_CONFIG);
        add_synonym(x, c, tc->broker_key, def, KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG);
    }
}

static int8_t broker_type(char t)
{
    return t == 'b'   ? KAFKA_CONFIG_TYPE_BOOLEAN
           : t == 'l' ? KAFKA_CONFIG_TYPE_LONG
                      : KAFKA_CONFIG_TYPE_STRING;
}

static void describe_broker(struct describe_ctx *x, const struct describe_configs_req_resource *res)
{
    bool cluster_default;
    const char *msg = NULL;
    if (!broker_name_ok(x->req, res->resource_name, &cluster_default, &msg)) {
        x->out->error_code = KAFKA_INVALID_REQUEST;
        x->out->error_message = kstr_of(msg);
        return;
    }
    if (cluster_default) /* dynamic cluster-wide defaults: tandem has none */
        return;
    struct broker_config_entry e;
    for (size_t i = 0; broker_config_entry(x->req->b->cfg, i, &e); i++) {
        if (!wanted(res, e.key))
            continue;
        int8_t source = e.is_set ? KAFKA_CONFIG_SOURCE_STATIC_BROKER_CONFIG
                                 : KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG;
        struct describe_configs_resource_result *c =
            add_entry(x, e.key, e.value, source, broker_type(e.type), e.doc);
        c->read_only = true; /* no broker setting can change at run time */
        if (e.is_set)
            add_synonym(x, c, e.key, e.value, KAFKA_CONFIG_SOURCE_STATIC_BROKER_CONFIG);
        add_synonym(x, c, e.key, e.def, KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG);
    }
}

void handle_describe_configs(struct request *req)
{
    int16_t ver = req->hdr.request_api_version;
    struct describe_configs_req in;
    if (kafka_parse_describe_configs_request(&req->body, ver, &req->arena, &in)) {
        request_fail(req, "malformed DescribeConfigs request");
        return;
    }
    struct describe_configs_resp resp = {.nresults = in.nresources};
    resp.results = arena_array(&req->arena, (size_t)in.nresources + 1, sizeof(*resp.results));
    if (!resp.results) {
        request_fail(req, "DescribeConfigs request too large");
        return;
    }
    size_t most = NTOPIC_CONFS;
    struct broker_config_entry e;
    for (size_t i = 0; broker_config_entry(req->b->cfg, i, &e); i++)
        most = i + 1 > most ? i + 1 : most;
    for (int32_t i = 0; i < in.nresources; i++) {
        const struct describe_configs_req_resource *res = &in.resources[i];
        struct describe_configs_result *out = &resp.results[i];
        out->error_message = KSTR_NULL;
        out->resource_type = res->resource_type;
        out->resource_name = res->resource_name;
        out->configs = arena_array(&req->arena, most, sizeof(*out->configs));
        if (!out->configs) {
            request_fail(req, "DescribeConfigs request too large");
            return;
        }
        struct describe_ctx x = {req, &in, out};
        if (res->resource_type == KAFKA_RESOURCE_TOPIC) {
            describe_topic(&x, res);
        } else if (res->resource_type == KAFKA_RESOURCE_BROKER) {
            describe_broker(&x, res);
        } else {
            out->error_code = KAFKA_INVALID_REQUEST;
            out->error_message = KSTR("Unsupported resource type: tandem-broker describes topics "
                                      "(2) and the broker (4)");
        }
    }
    struct kw w;
    request_begin_response(req, &w);
    kafka_encode_describe_configs_response(&w, ver, &resp);
    request_respond(req, &w);
}

/* ---- AlterConfigs and IncrementalAlterConfigs ----------------------------------------------- */

/* The override set being built for one topic: names and values in the arena. */
struct override_set {
    const char **keys;
    const char **values;
    int n, cap;
};

static int set_find(const struct override_set *s, const char *key)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->keys[i], key) == 0)
            return i;
    return -1;
}

static void set_put(struct override_set *s, const char *key, const char *value)
{
    int i = set_find(s, key);
    if (i < 0) {
        i = s->n++;
        s->keys[i] = key;
    }
    s->values[i] = value;
}

static void set_remove(struct override_set *s, const char *key)
{
    int i = set_find(s, key);
    if (i < 0)
        return;
    s->n--;
    s->keys[i] = s->keys[s->n];
    s->values[i] = s->values[s->n];
}

/* APPEND / SUBTRACT on a comma-separated list value: returns the new list (arena), or NULL
 * when the arena is full. */
static const char *list_edit(struct request *req, const char *cur, const char *items, bool append)
{
    size_t cap = strlen(cur) + strlen(items) + 2;
    char *out = arena_alloc(&req->arena, cap);
    char *work = arena_alloc(&req->arena, strlen(cur) + strlen(items) + 2);
    if (!out || !work)
        return NULL;
    out[0] = '\0';
    snprintf(work, cap, "%s%s%s", cur, append && *cur && *items ? "," : "", append ? items : "");
    for (char *save = NULL, *tok = strtok_r(work, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        bool drop = false;
        if (!append) { /* SUBTRACT: drop every item named in items */
            const char *p = items;
            size_t tl = strlen(tok);
            while (*p && !drop) {
                size_t n = strcspn(p, ",");
                drop = n == tl && strncmp(p, tok, n) == 0;
                p += n + (p[n] == ',');
            }
        }
        /* no duplicates */
        const char *q = out;
        while (*q && !drop) {
            size_t n = strcspn(q, ",");
            drop = n == strlen(tok) && strncmp(q, tok, n) == 0;
            q += n + (q[n] == ',');
        }
        if (drop)
            continue;
        size_t used = strlen(out);
        snprintf(out + used, cap - used, "%s%s", used ? "," : "", tok);
    }
    return out;
}

/* Checks one entry of a topic's change and applies it to s. Returns a Kafka error, *msg set. */
static int16_t topic_change(struct request *req, struct override_set *s,
                            const struct alter_configs_req_config *c, char *msg, size_t msglen)
{
    char *name = arena_cstr(req, c->name);
    char *value = arena_cstr(req, c->value);
    if (!name) {
        snprintf(msg, msglen, "Config names may not be null.");
        return KAFKA_INVALID_REQUEST;
    }
    const struct topic_conf *tc = topic_conf_find(name);
    if (!tc) {
        snprintf(msg, msglen, "Unknown topic config name: %.200s", name);
        return KAFKA_INVALID_CONFIG;
    }
    switch (c->config_operation) {
    case KAFKA_CONFIG_OP_SET:
        if (!value) {
            snprintf(msg, msglen, "Null value not supported for: %s", name);
            return KAFKA_INVALID_REQUEST;
        }
        set_put(s, name, value);
        return KAFKA_NONE;
    case KAFKA_CONFIG_OP_DELETE:
        set_remove(s, name);
        return KAFKA_NONE;
    case KAFKA_CONFIG_OP_APPEND:
    case KAFKA_CONFIG_OP_SUBTRACT: {
        if (tc->type != KAFKA_CONFIG_TYPE_LIST) {
            snprintf(msg, msglen,
                     "Config value append or subtract is not allowed for config key: %s", name);
            return KAFKA_INVALID_CONFIG;
        }
        if (!value) {
            snprintf(msg, msglen, "Null value not supported for: %s", name);
            return KAFKA_INVALID_REQUEST;
        }
        char cur[512];
        int i = set_find(s, name);
        if (i >= 0)
            snprintf(cur, sizeof(cur), "%s", s->values[i]);
        else if (log_config_get(logmgr_defaults(req->b->logs), name, cur, sizeof(cur)))
            cur[0] = '\0';
        const char *next =
            list_edit(req, cur, value, c->config_operation == KAFKA_CONFIG_OP_APPEND);
        if (!next) {
            snprintf(msg, msglen, "request too large");
            return KAFKA_INVALID_REQUEST;
        }
        set_put(s, name, next);
        return KAFKA_NONE;
    }
    default:
        snprintf(msg, msglen, "Unknown config operation %d", c->config_operation);
        return KAFKA_INVALID_REQUEST;
    }
}

static int16_t alter_topic(struct request *req, const struct alter_configs_req_resource *res,
                           bool incremental, bool validate_only, char *msg, size_t msglen)
{
    int16_t err = KAFKA_NONE;
    struct topic *t = api_topic(req->b, res->resource_name, false, &err);
    if (!t) {
        snprintf(msg, msglen, "%s",
                 err == KAFKA_UNKNOWN_TOPIC_OR_PARTITION ? "This server does not host this topic."
                                                         : "Invalid topic name.");
        return err;
    }
    for (int32_t i = 0; i < res->nconfigs; i++)
        for (int32_t j = 0; j < i; j++)
            if (res->configs[i].name.len >= 0 && res->configs[j].name.len >= 0 &&
                res->configs[i].name.len == res->configs[j].name.len &&
                memcmp(res->configs[i].name.p, res->configs[j].name.p,
                       (size_t)res->configs[i].name.len) == 0) {
                snprintf(msg, msglen, "Error due to duplicate config keys");
                return KAFKA_INVALID_REQUEST;
            }
    const char *const *keys, *const *values;
    int nold = logmgr_topic_overrides(t, &keys, &values);
    struct override_set s = {.cap = nold + res->nconfigs + 1};
    s.keys = arena_array(&req->arena, (size_t)s.cap, sizeof(char *));
    s.values = arena_array(&req->arena, (size_t)s.cap, sizeof(char *));
    if (!s.keys || !s.values) {
        snprintf(msg, msglen, "request too large");
        return KAFKA_INVALID_REQUEST;
    }
    if (incremental) /* AlterConfigs replaces the whole set; the incremental one edits it */
        for (int k = 0; k < nold; k++)
            set_put(&s, keys[k], values[k]);
    for (int32_t i = 0; i < res->nconfigs; i++) {
        err = topic_change(req, &s, &res->configs[i], msg, msglen);
        if (err)
            return err;
    }
    int bad = -1;
    char name[256];
    snprintf(name, sizeof(name), "%.*s", (int)res->resource_name.len, res->resource_name.p);
    int rc =
        logmgr_set_topic_configs(req->b->logs, name, s.keys, s.values, s.n, validate_only, &bad);
    if (rc == TANDEM_EINVAL) {
        if (bad >= 0 && bad < s.n)
            snprintf(msg, msglen, "Invalid value %.200s for configuration %s", s.values[bad],
                     s.keys[bad]);
        else
            snprintf(msg, msglen, "Too many configs");
        return KAFKA_INVALID_CONFIG;
    }
    if (rc) {
        snprintf(msg, msglen, "the topic's config file could not be written");
        return KAFKA_UNKNOWN_SERVER_ERROR;
    }
    return KAFKA_NONE;
}

static int16_t alter_broker(struct request *req, const struct alter_configs_req_resource *res,
                            char *msg, size_t msglen)
{
    bool cluster_default;
    const char *why = NULL;
    if (!broker_name_ok(req, res->resource_name, &cluster_default, &why)) {
        snprintf(msg, msglen, "%s", why);
        return KAFKA_INVALID_REQUEST;
    }
    for (int32_t i = 0; i < res->nconfigs; i++) {
        struct broker_config_entry e;
        char *name = arena_cstr(req, res->configs[i].name);
        if (!name || !broker_entry_find(req->b->cfg, name, &e)) {
            snprintf(msg, msglen, "Unknown broker config name: %.200s", name ? name : "null");
            return KAFKA_INVALID_CONFIG;
        }
        snprintf(msg, msglen,
                 "Cannot update these configs dynamically: %s (tandem-broker reads its settings at "
                 "start-up)",
                 name);
        return KAFKA_INVALID_CONFIG;
    }
    return KAFKA_NONE;
}

/* Whether resource i appears again in the request (same type and name): Kafka answers every
 * copy INVALID_REQUEST and changes none of them (ConfigAdminManager.preprocess). */
static bool alter_duplicate(const struct alter_configs_req *in, int32_t i)
{
    const struct alter_configs_req_resource *a = &in->resources[i];
    for (int32_t j = 0; j < in->nresources; j++) {
        const struct alter_configs_req_resource *b = &in->resources[j];
        if (j != i && a->resource_type == b->resource_type &&
            a->resource_name.len == b->resource_name.len &&
            memcmp(a->resource_name.p, b->resource_name.p, (size_t)a->resource_name.len) == 0)
            return true;
    }
    return false;
}

static void alter(struct request *req, bool incremental)
{
    int16_t ver = req->hdr.request_api_version;
    struct alter_configs_req in;
    int rc = incremental
                 ? kafka_parse_incremental_alter_configs_request(&req->body, ver, &req->arena, &in)
                 : kafka_parse_alter_configs_request(&req->body, ver, &req->arena, &in);
    if (rc) {
        request_fail(req, "malformed AlterConfigs request");
        return;
    }
    struct alter_configs_resp resp = {.nresponses = in.nresources};
    resp.responses = arena_array(&req->arena, (size_t)in.nresources + 1, sizeof(*resp.responses));
    if (!resp.responses) {
        request_fail(req, "AlterConfigs request too large");
        return;
    }
    for (int32_t i = 0; i < in.nresources; i++) {
        const struct alter_configs_req_resource *res = &in.resources[i];
        struct alter_configs_resp_resource *out = &resp.responses[i];
        char msg[512] = "";
        int16_t err;
        if (alter_duplicate(&in, i)) {
            err = KAFKA_INVALID_REQUEST;
            snprintf(msg, sizeof(msg), "Each resource must appear at most once.");
        } else if (res->resource_type == KAFKA_RESOURCE_TOPIC) {
            err = alter_topic(req, res, incremental, in.validate_only, msg, sizeof(msg));
        } else if (res->resource_type == KAFKA_RESOURCE_BROKER) {
            err = alter_broker(req, res, msg, sizeof(msg));
        } else {
            err = KAFKA_INVALID_REQUEST;
            snprintf(msg, sizeof(msg),
                     "Unsupported resource type: tandem-broker alters topics "
                     "(2) and the broker (4)");
        }
        out->error_code = err;
        out->error_message = err ? kstr_of(arena_cstr(req, kstr_of(msg))) : KSTR_NULL;
        out->resource_type = res->resource_type;
        out->resource_name = res->resource_name;
        if (err) {
            char e1[600], e2[1100], name[256];
            snprintf(name, sizeof(name), "%.*s", (int)res->resource_name.len,
                     res->resource_name.p ? res->resource_name.p : "");
            log_info("config change refused", "\"resource\":%s,\"error\":\"%s\",\"message\":%s",
                     log_json_str(e1, sizeof(e1), name), kafka_error_name(err),
                     log_json_str(e2, sizeof(e2), msg));
        }
    }
    struct kw w;
    request_begin_response(req, &w);
    if (incremental)
        kafka_encode_incremental_alter_configs_response(&w, ver, &resp);
    else
        kafka_encode_alter_configs_response(&w, ver, &resp);
    request_respond(req, &w);
}

void handle_alter_configs(struct request *req)
{
    alter(req, false);
}

void handle_incremental_alter_configs(struct request *req)
{
    alter(req, true);
}
