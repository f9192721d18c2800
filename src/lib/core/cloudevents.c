/*
 * CloudEvents 1.0 <-> Kafka headers, binary content mode (kafka-protocol-binding.md §3.2).
 *
 * Model: one table lists the core context attributes (CloudEvents spec.md §3.1 "Context
 * Attributes": REQUIRED id, source, specversion, type; OPTIONAL datacontenttype, dataschema,
 * subject, time) with their header names and where they live in struct tandem_cloudevent, so the
 * encoder, the decoder and validation walk the same list and cannot disagree. Anything else after
 * "ce_" is an extension attribute (spec.md §3.1.1 naming: lower-case ASCII letters and digits).
 *
 * Decoding copies values into the caller's buffer (Kafka header values are not NUL-terminated and
 * belong to the consumer's message), checking each is UTF-8 without NULs (§3.2.3); encoding
 * borrows the event's strings. Neither allocates.
 */
#include "tandem/cloudevents.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#define CE_PREFIX     "ce_"
#define CE_PREFIX_LEN 3

static const struct {
    const char *name, *header;
    size_t offset;
    bool required;
} core[] = {
    {"specversion", "ce_specversion", offsetof(struct tandem_cloudevent, specversion), true},
    {"id", "ce_id", offsetof(struct tandem_cloudevent, id), true},
    {"source", "ce_source", offsetof(struct tandem_cloudevent, source), true},
    {"type", "ce_type", offsetof(struct tandem_cloudevent, type), true},
    /* §3.2.1: datacontenttype is the content-type header, not ce_datacontenttype */
    {"datacontenttype", "content-type", offsetof(struct tandem_cloudevent, datacontenttype), false},
    {"dataschema", "ce_dataschema", offsetof(struct tandem_cloudevent, dataschema), false},
    {"subject", "ce_subject", offsetof(struct tandem_cloudevent, subject), false},
    {"time", "ce_time", offsetof(struct tandem_cloudevent, time), false},
};
#define NCORE (sizeof(core) / sizeof(core[0]))

static const char **core_slot(struct tandem_cloudevent *ev, size_t i)
{
    return (const char **)(void *)((char *)ev + core[i].offset);
}

static const char *core_get(const struct tandem_cloudevent *ev, size_t i)
{
    return *(const char *const *)(const void *)((const char *)ev + core[i].offset);
}

void tandem_ce_init(struct tandem_cloudevent *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->specversion = TANDEM_CE_SPECVERSION;
}

/* spec.md §3.1.1 (Attribute Naming Convention): [a-z0-9]+; "data" and core names are taken. */
static bool ext_name_ok(const char *name, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9')))
            return false;
    }
    if (n == 4 && memcmp(name, "data", 4) == 0)
        return false;
    for (size_t i = 0; i < NCORE; i++) {
        if (strlen(core[i].name) == n && memcmp(core[i].name, name, n) == 0)
            return false;
    }
    return true;
}

int tandem_ce_set_ext(struct tandem_cloudevent *ev, const char *name, const char *value)
{
    if (!name || !value || !ext_name_ok(name, strlen(name)))
        return TANDEM_EINVAL;
    for (size_t i = 0; i < ev->next; i++) {
        if (strcmp(ev->ext[i].name, name) == 0) {
            ev->ext[i].value = value;
            return 0;
        }
    }
    if (ev->next == TANDEM_CE_MAX_EXTENSIONS)
        return TANDEM_ETOOLARGE;
    ev->ext[ev->next++] = (struct tandem_ce_attr){name, value};
    return 0;
}

const char *tandem_ce_ext(const struct tandem_cloudevent *ev, const char *name)
{
    for (size_t i = 0; i < ev->next; i++) {
        if (strcmp(ev->ext[i].name, name) == 0)
            return ev->ext[i].value;
    }
    return NULL;
}

/* ---- RFC 3339 §5.6 -----------------------------------------------------------------------------
 */

/* Reads exactly n digits at s[*i] as a number; -1 when they are not all digits. */
static int digits(const char *s, size_t len, size_t *i, size_t n)
{
    if (*i + n > len)
        return -1;
    int v = 0;
    for (size_t k = 0; k < n; k++) {
        char c = s[*i + k];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *i += n;
    return v;
}

static bool expect(const char *s, size_t len, size_t *i, char c1, char c2)
{
    if (*i >= len || (s[*i] != c1 && s[*i] != c2))
        return false;
    (*i)++;
    return true;
}

/* RFC 3339 §5.7: month lengths, February 29 in leap years (Appendix C). */
static int mday_max(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

bool tandem_rfc3339_valid(const char *s, size_t len)
{
    size_t i = 0;
    /* full-date = date-fullyear "-" date-month "-" date-mday */
    int y = digits(s, len, &i, 4);
    if (y < 0 || !expect(s, len, &i, '-', '-'))
        return false;
    int mo = digits(s, len, &i, 2);
    if (mo < 1 || mo > 12 || !expect(s, len, &i, '-', '-'))
        return false;
    int d = digits(s, len, &i, 2);
    if (d < 1 || d > mday_max(y, mo) || !expect(s, len, &i, 'T', 't'))
        return false;
    /* partial-time = time-hour ":" time-minute ":" time-second [time-secfrac] */
    int h = digits(s, len, &i, 2);
    if (h < 0 || h > 23 || !expect(s, len, &i, ':', ':'))
        return false;
    int mi = digits(s, len, &i, 2);
    if (mi < 0 || mi > 59 || !expect(s, len, &i, ':', ':'))
        return false;
    int sec = digits(s, len, &i, 2);
    if (sec < 0 || sec > 60) /* 60: a leap second */
        return false;
    if (i < len && s[i] == '.') {
        size_t start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start)
            return false; /* time-secfrac = "." 1*DIGIT */
    }
    /* time-offset = "Z" / time-numoffset */
    if (i < len && (s[i] == 'Z' || s[i] == 'z'))
        return i + 1 == len;
    if (!expect(s, len, &i, '+', '-'))
        return false;
    int oh = digits(s, len, &i, 2);
    if (oh < 0 || oh > 23 || !expect(s, len, &i, ':', ':'))
        return false;
    int om = digits(s, len, &i, 2);
    return om >= 0 && om <= 59 && i == len;
}

/* ---- validation --------------------------------------------------------------------------------
 */

int tandem_ce_validate(const struct tandem_cloudevent *ev)
{
    for (size_t i = 0; i < NCORE; i++) {
        const char *v = core_get(ev, i);
        if (!v) {
            if (core[i].required)
                return TANDEM_EINVAL;
            continue;
        }
        if (v[0] == '\0')
            return TANDEM_EINVAL; /* every attribute, when present, is non-empty */
    }
    if (strcmp(ev->specversion, TANDEM_CE_SPECVERSION) != 0)
        return TANDEM_EUNSUPPORTED;
    if (ev->time && !tandem_rfc3339_valid(ev->time, strlen(ev->time)))
        return TANDEM_EINVAL;
    if (ev->next > TANDEM_CE_MAX_EXTENSIONS)
        return TANDEM_EINVAL;
    for (size_t i = 0; i < ev->next; i++) {
        const struct tandem_ce_attr *a = &ev->ext[i];
        if (!a->name || !a->value || !ext_name_ok(a->name, strlen(a->name)))
            return TANDEM_EINVAL;
        for (size_t k = 0; k < i; k++) {
            if (strcmp(ev->ext[k].name, a->name) == 0)
                return TANDEM_EINVAL;
        }
    }
    return 0;
}

/* ---- encoding ----------------------------------------------------------------------------------
 */

int tandem_ce_to_kafka(const struct tandem_cloudevent *ev, struct tandem_kafka_header *out,
                       size_t cap, size_t *n, char *names, size_t names_len, const char **key,
                       size_t *key_len)
{
    int rc = tandem_ce_validate(ev);
    if (rc != 0)
        return rc;
    size_t h = 0, used = 0;
    for (size_t i = 0; i < NCORE; i++) {
        const char *v = core_get(ev, i);
        if (!v)
            continue;
        if (h == cap)
            return TANDEM_ETOOLARGE;
        out[h++] = (struct tandem_kafka_header){core[i].header, v, strlen(v)};
    }
    for (size_t i = 0; i < ev->next; i++) {
        size_t nl = strlen(ev->ext[i].name);
        if (h == cap || used + CE_PREFIX_LEN + nl + 1 > names_len)
            return TANDEM_ETOOLARGE;
        char *name = names + used;
        memcpy(name, CE_PREFIX, CE_PREFIX_LEN);
        memcpy(name + CE_PREFIX_LEN, ev->ext[i].name, nl + 1);
        used += CE_PREFIX_LEN + nl + 1;
        out[h++] = (struct tandem_kafka_header){name, ev->ext[i].value, strlen(ev->ext[i].value)};
    }
    *n = h;
    /* §3.1: the opt-in key mapper sends partitionkey as the record key, as-is */
    *key = tandem_ce_ext(ev, "partitionkey");
    *key_len = *key ? strlen(*key) : 0;
    return 0;
}

/* ---- decoding ----------------------------------------------------------------------------------
 */

/* RFC 3629 §4: well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF); NUL refused. */
static bool utf8_ok(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        size_t more;
        unsigned char lo = 0x80, hi = 0xbf; /* range of the first continuation byte */
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            more = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            more = 2;
            lo = c == 0xe0 ? 0xa0 : 0x80;
            hi = c == 0xed ? 0x9f : 0xbf;
        } else if (c >= 0xf0 && c <= 0xf4) {
            more = 3;
            lo = c == 0xf0 ? 0x90 : 0x80;
            hi = c == 0xf4 ? 0x8f : 0xbf;
        } else {
            return false;
        }
        if (i + more >= n)
            return false;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= more; k++) {
            if (p[i + k] < 0x80 || p[i + k] > 0xbf)
                return false;
        }
        i += more + 1;
    }
    return true;
}

/* Copies a header value into buf as a NUL-terminated string. */
static int copy_value(const struct tandem_kafka_header *h, char *buf, size_t buf_len, size_t *used,
                      const char **out)
{
    if (!h->value || !utf8_ok(h->value, h->value_len))
        return TANDEM_EINVAL;
    if (*used + h->value_len + 1 > buf_len)
        return TANDEM_ETOOLARGE;
    char *dst = buf + *used;
    memcpy(dst, h->value, h->value_len);
    dst[h->value_len] = '\0';
    *used += h->value_len + 1;
    *out = dst;
    return 0;
}

static int copy_name(const char *name, size_t n, char *buf, size_t buf_len, size_t *used,
                     const char **out)
{
    if (*used + n + 1 > buf_len)
        return TANDEM_ETOOLARGE;
    char *dst = buf + *used;
    memcpy(dst, name, n);
    dst[n] = '\0';
    *used += n + 1;
    *out = dst;
    return 0;
}

/* Decodes one header into ev; headers that are not attributes are skipped. */
static int decode_header(const struct tandem_kafka_header *h, char *buf, size_t buf_len,
                         size_t *used, struct tandem_cloudevent *ev)
{
    for (size_t i = 0; i < NCORE; i++) {
        if (strcmp(h->name, core[i].header) != 0)
            continue;
        const char **slot = core_slot(ev, i);
        if (*slot)
            return TANDEM_EINVAL; /* the same attribute twice */
        return copy_value(h, buf, buf_len, used, slot);
    }
    if (strncmp(h->name, CE_PREFIX, CE_PREFIX_LEN) != 0)
        return 0; /* not ours: traceparent, application headers */
    const char *name = h->name + CE_PREFIX_LEN;
    size_t nl = strlen(name);
    if (!ext_name_ok(name, nl))
        return TANDEM_EINVAL; /* also catches ce_datacontenttype and ce_data */
    for (size_t k = 0; k < ev->next; k++) {
        if (strcmp(ev->ext[k].name, name) == 0)
            return TANDEM_EINVAL;
    }
    if (ev->next == TANDEM_CE_MAX_EXTENSIONS)
        return TANDEM_ETOOLARGE;
    struct tandem_ce_attr *a = &ev->ext[ev->next];
    int rc = copy_name(name, nl, buf, buf_len, used, &a->name);
    if (rc == 0)
        rc = copy_value(h, buf, buf_len, used, &a->value);
    if (rc == 0)
        ev->next++;
    return rc;
}

int tandem_ce_from_kafka(const struct tandem_kafka_header *headers, size_t n, char *buf,
                         size_t buf_len, struct tandem_cloudevent *ev)
{
    static const char structured[] = "application/cloudevents";
    memset(ev, 0, sizeof(*ev));
    const struct tandem_kafka_header *ct = tandem_kafka_header_find(headers, n, "content-type");
    /* §3: a content-type starting with application/cloudevents means structured mode */
    if (ct && ct->value && ct->value_len >= sizeof(structured) - 1 &&
        strncasecmp(ct->value, structured, sizeof(structured) - 1) == 0)
        return TANDEM_EUNSUPPORTED;
    if (!tandem_kafka_header_find(headers, n, "ce_specversion"))
        return TANDEM_ENOENT;
    size_t used = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = decode_header(&headers[i], buf, buf_len, &used, ev);
    if (rc == 0)
        rc = tandem_ce_validate(ev);
    if (rc != 0)
        memset(ev, 0, sizeof(*ev));
    return rc;
}

const struct tandem_kafka_header *
tandem_kafka_header_find(const struct tandem_kafka_header *headers, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (headers[i].name && strcmp(headers[i].name, name) == 0)
            return &headers[i];
    }
    return NULL;
}

bool tandem_ce_is_json(const char *ct)
{
    if (!ct)
        return false;
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
        return true;
    const char *slash = memchr(ct, '/', n);
    if (!slash || n < 5)
        return false;
    size_t subtype = (size_t)(slash - ct) + 1; /* "+json" needs a non-empty name before it */
    return n - 5 > subtype && strncasecmp(ct + n - 5, "+json", 5) == 0;
}

bool tandem_ce_json_data_valid(const void *data, size_t len)
{
    json_t *v = json_loadb(data, len, JSON_DECODE_ANY, NULL);
    bool ok = v != NULL;
    json_decref(v);
    return ok;
}
