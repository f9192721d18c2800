/*
 * One Kafka record as the console shows it, for the topic browser and the live tails (the shape
 * is in docs/console.md, "API"):
 *
 *   {"partition":0,"offset":12,"timestamp":1733420000123,"timestamp_type":"create",
 *    "key":"7",                                   (or "key_base64" when not UTF-8; null: no key)
 *    "headers":[{"name":"ce_type","value":"user.registered"}, ...],   (or "base64")
 *    "ce":{"specversion":"1.0","id":...,"source":"/users","type":...,"time":...,
 *          "datacontenttype":"application/json", "subject":..., "extensions":{...}} | null,
 *    "ce_error":"...",                            (why ce is null, when headers were there)
 *    "value":{...},                               (parsed JSON: shown readably by the page)
 *    "value_text":"..." | "value_base64":"...",   (when not JSON: UTF-8 text, else base64)
 *    "size":123, "value_truncated":false}
 *
 * The CloudEvents attributes come from libtandem's own reader (tandem_ce_from_kafka: the
 * binary-mode rules of the Kafka protocol binding), so the console judges an event as the
 * services do. A value larger than max_value is cut (at a UTF-8 boundary for text) and flagged;
 * the browser asks for the record alone to see all of it.
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "tandem/cloudevents.h"

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 (RFC 4648 §4, padded) of p[0..n) as a JSON string; NULL when out of memory. */
static json_t *base64(const unsigned char *p, size_t n)
{
    size_t out_len = (n + 2) / 3 * 4;
    char *s = malloc(out_len + 1);
    if (s == NULL) {
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n) {
            v |= (unsigned)p[i + 1] << 8;
        }
        if (i + 2 < n) {
            v |= p[i + 2];
        }
        s[o++] = B64[(v >> 18) & 63];
        s[o++] = B64[(v >> 12) & 63];
        s[o++] = i + 1 < n ? B64[(v >> 6) & 63] : '=';
        s[o++] = i + 2 < n ? B64[v & 63] : '=';
    }
    s[o] = '\0';
    json_t *j = json_string(s);
    free(s);
    return j;
}

/* Sets obj[text_key] to p[0..n) when it is UTF-8 (jansson checks), else obj[b64_key]. */
static void set_bytes(json_t *obj, const char *text_key, const char *b64_key, const void *p,
                      size_t n)
{
    json_t *s = json_stringn(p, n);
    if (s != NULL) {
        json_object_set_new(obj, text_key, s);
    } else {
        json_object_set_new(obj, b64_key, base64(p, n));
    }
}

/* n cut back to the start of a UTF-8 sequence, so a cut text stays UTF-8. */
static size_t utf8_cut(const unsigned char *p, size_t n)
{
    while (n > 0 && (p[n] & 0xC0) == 0x80) {
        n--;
    }
    return n;
}

static json_t *ce_json(const struct tandem_cloudevent *ev)
{
    json_t *o = json_object();
    const struct {
        const char *name, *value;
    } attrs[] = {
        {"specversion", ev->specversion},
        {"id", ev->id},
        {"source", ev->source},
        {"type", ev->type},
        {"time", ev->time},
        {"datacontenttype", ev->datacontenttype},
        {"dataschema", ev->dataschema},
        {"subject", ev->subject},
    };
    for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
        if (attrs[i].value != NULL) {
            json_object_set_new(o, attrs[i].name, json_string(attrs[i].value));
        }
    }
    if (ev->next > 0) {
        json_t *ext = json_object();
        for (size_t i = 0; i < ev->next; i++) {
            json_object_set_new(ext, ev->ext[i].name, json_string(ev->ext[i].value));
        }
        json_object_set_new(o, "extensions", ext);
    }
    return o;
}

static const char *ce_reason(int rc)
{
    switch (rc) {
    case TANDEM_ENOENT:
        return "not a CloudEvent: no ce_specversion header";
    case TANDEM_EUNSUPPORTED:
        return "a structured-mode CloudEvent or another specversion (not read)";
    case TANDEM_ETOOLARGE:
        return "too many or too long CloudEvents attributes";
    default:
        return "invalid CloudEvents attributes (a duplicate, a missing required one, or a value "
               "that is not UTF-8)";
    }
}

/* The value: parsed JSON when it is JSON and whole, else text, else base64. */
static void value_json(json_t *r, const unsigned char *p, size_t n, size_t max_value)
{
    bool cut = n > max_value;
    size_t keep = cut ? max_value : n;
    json_object_set_new(r, "value_truncated", json_boolean(cut));
    if (p == NULL) {
        json_object_set_new(r, "value", json_null());
        return;
    }
    if (!cut) {
        json_t *v = json_loadb((const char *)p, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        if (v != NULL) {
            json_object_set_new(r, "value", v);
            return;
        }
    }
    size_t text = cut ? utf8_cut(p, keep) : keep;
    json_t *s = json_stringn((const char *)p, text);
    if (s != NULL) {
        json_object_set_new(r, "value_text", s);
    } else {
        json_object_set_new(r, "value_base64", base64(p, keep));
    }
}

json_t *record_json(const struct rd_kafka_message_s *m, size_t max_value)
{
    json_t *r = json_object();
    if (r == NULL) {
        return NULL;
    }
    rd_kafka_timestamp_type_t tt = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
    int64_t ts = rd_kafka_message_timestamp(m, &tt);
    json_object_set_new(r, "partition", json_integer(m->partition));
    json_object_set_new(r, "offset", json_integer(m->offset));
    json_object_set_new(r, "timestamp", ts >= 0 ? json_integer(ts) : json_null());
    json_object_set_new(r, "timestamp_type",
                        json_string(tt == RD_KAFKA_TIMESTAMP_CREATE_TIME       ? "create"
                                    : tt == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME ? "log_append"
                                                                               : "none"));
    if (m->key == NULL) {
        json_object_set_new(r, "key", json_null());
    } else {
        set_bytes(r, "key", "key_base64", m->key, m->key_len);
    }
    struct tandem_kafka_header hs[64];
    size_t nh = 0;
    json_t *headers = json_array();
    rd_kafka_headers_t *rh = NULL;
    /* rd_kafka_message_headers takes a non-const message (it parses them lazily, once) */
    if (rd_kafka_message_headers((rd_kafka_message_t *)m, &rh) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char *name;
        const void *val;
        size_t size;
        for (size_t i = 0; rd_kafka_header_get_all(rh, i, &name, &val, &size) == 0; i++) {
            json_t *h = json_pack("{s:s}", "name", name);
            if (val == NULL) {
                json_object_set_new(h, "value", json_null());
            } else {
                set_bytes(h, "value", "base64", val, size);
            }
            json_array_append_new(headers, h);
            if (nh < sizeof(hs) / sizeof(hs[0])) {
                hs[nh++] = (struct tandem_kafka_header){name, val, size};
            }
        }
    }
    json_object_set_new(r, "headers", headers);
    char buf[4096];
    struct tandem_cloudevent ev;
    int rc = tandem_ce_from_kafka(hs, nh, buf, sizeof(buf), &ev);
    if (rc == 0) {
        json_object_set_new(r, "ce", ce_json(&ev));
    } else {
        json_object_set_new(r, "ce", json_null());
        json_object_set_new(r, "ce_error", json_string(ce_reason(rc)));
    }
    json_object_set_new(r, "size", json_integer((json_int_t)m->len));
    value_json(r, m->payload, m->len, max_value);
    return r;
}
