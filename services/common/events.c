/*
 * events.c: the envelope of the blog's domain events.
 *
 * Every event is a CloudEvent keyed by the id of the entity it is about (decimal), so one
 * entity's events keep their order in a partition; its data is a JSON object carrying "v" (the
 * payload's schema version, 1) and the entity's "version", which read models compare to move
 * only forward. Events are written to the outbox inside the state change's own transaction
 * (docs/blog.md, docs/asyncapi.yaml).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blog.h"

int blog_event_add(struct tandem_sql *db, const char *topic, int64_t key_id, const char *type,
                   json_t *data, const char *traceparent)
{
    char key[24];
    int klen = snprintf(key, sizeof(key), "%" PRId64, key_id);
    if (data == NULL || json_object_set_new(data, "v", json_integer(1)) != 0) {
        json_decref(data);
        return TANDEM_ENOMEM;
    }
    char *text = json_dumps(data, JSON_COMPACT);
    json_decref(data);
    if (text == NULL) {
        return TANDEM_ENOMEM;
    }
    struct tandem_event_out ev = {
        .topic = topic,
        .key = key,
        .key_len = (size_t)klen,
        .type = type,
        .subject = key,
        .traceparent = traceparent,
        .data = text,
        .data_len = strlen(text),
    };
    int rc = tandem_sql_outbox_add(db, &ev, NULL);
    free(text);
    return rc;
}

json_t *blog_event_data(const struct tandem_event *ev)
{
    json_error_t err;
    json_t *o = ev->data != NULL ? json_loadb(ev->data, ev->data_len, 0, &err) : NULL;
    if (!json_is_object(o)) {
        tandem_log_warn(NULL, "blog: an event whose data is not a JSON object",
                        "\"topic\":\"%s\",\"partition\":%d,\"offset\":%" PRId64, ev->topic,
                        (int)ev->partition, ev->offset);
        json_decref(o);
        return NULL;
    }
    return o;
}

int64_t blog_json_int(const json_t *o, const char *name)
{
    const json_t *v = json_object_get(o, name);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

const char *blog_json_str(const json_t *o, const char *name)
{
    return json_string_value(json_object_get(o, name));
}
