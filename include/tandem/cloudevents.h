/*
 * tandem CloudEvents: CloudEvents 1.0 context attributes mapped to and from Kafka record headers
 * in the Kafka protocol binding's binary content mode (cloudevents/spec, kafka-protocol-binding.md
 * §3.2): each attribute is one header named "ce_" + attribute name (§3.2.3.1), except
 * datacontenttype, which is the "content-type" header (§3.2.1); the event data is the record
 * value, as-is (§3.2.2). tandem's events carry JSON data (datacontenttype "application/json"), and
 * a W3C "traceparent" record header next to the ce_ ones (see trace.h; it is not an attribute).
 *
 *   Kafka record (binary mode)            CloudEvent
 *   key            <- partitionkey        Partitioning extension (§3.1's opt-in key mapper)
 *   ce_specversion <-> specversion        REQUIRED, "1.0"
 *   ce_id          <-> id                 REQUIRED, non-empty
 *   ce_source      <-> source             REQUIRED, non-empty URI-reference
 *   ce_type        <-> type               REQUIRED, non-empty
 *   content-type   <-> datacontenttype    OPTIONAL, RFC 2046 media type
 *   ce_dataschema  <-> dataschema         OPTIONAL, URI
 *   ce_subject     <-> subject            OPTIONAL, non-empty
 *   ce_time        <-> time               OPTIONAL, RFC 3339 date-time
 *   ce_<name>      <-> extension <name>   [a-z0-9]+, e.g. ce_partitionkey
 *   value          <-> data
 *
 * Independent of librdkafka: headers are a plain array of struct tandem_kafka_header. Nothing
 * here allocates but tandem_ce_json_data_valid; strings are borrowed (see each function for from
 * where and for how long).
 */
#ifndef TANDEM_CLOUDEVENTS_H
#define TANDEM_CLOUDEVENTS_H

#include <stdbool.h>
#include <stddef.h>

#include "tandem/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TANDEM_CE_MAX_EXTENSIONS 16
#define TANDEM_CE_MAX_HEADERS    (8 + TANDEM_CE_MAX_EXTENSIONS) /* enough for any event */
#define TANDEM_CE_SPECVERSION    "1.0"

/* One Kafka record header: a NUL-terminated name and a byte value (value NULL is a null value,
 * which Kafka allows). Kafka header names are case-sensitive. */
struct tandem_kafka_header {
    const char *name;
    const void *value;
    size_t value_len;
};

struct tandem_ce_attr {
    const char *name; /* without the "ce_" prefix */
    const char *value;
};

/* An event's context attributes as NUL-terminated UTF-8 strings; NULL when absent. */
struct tandem_cloudevent {
    const char *specversion;
    const char *id;
    const char *source;
    const char *type;
    const char *datacontenttype;
    const char *dataschema;
    const char *subject;
    const char *time;
    size_t next;
    struct tandem_ce_attr ext[TANDEM_CE_MAX_EXTENSIONS];
};

/* Clears ev and sets specversion to "1.0". */
TANDEM_EXPORT void tandem_ce_init(struct tandem_cloudevent *ev);

/* Sets (or replaces, keeping its place) extension attribute name; name and value are borrowed
 * and must outlive ev's use. Returns 0; TANDEM_EINVAL when name is not [a-z0-9]+ or names a core
 * attribute or "data"; TANDEM_ETOOLARGE when TANDEM_CE_MAX_EXTENSIONS are already set. */
TANDEM_EXPORT int tandem_ce_set_ext(struct tandem_cloudevent *ev, const char *name,
                                    const char *value);
/* The value of extension name, or NULL. */
TANDEM_EXPORT const char *tandem_ce_ext(const struct tandem_cloudevent *ev, const char *name);

/*
 * Checks an event against the CloudEvents 1.0 spec's rules for each attribute: the four required
 * ones present and non-empty, specversion exactly "1.0", optional ones non-empty when present,
 * time an RFC 3339 date-time, extension names [a-z0-9]+ and not repeated. Returns 0,
 * TANDEM_EUNSUPPORTED for another specversion, TANDEM_EINVAL otherwise.
 */
TANDEM_EXPORT int tandem_ce_validate(const struct tandem_cloudevent *ev);

/* True when s[0..len) is an RFC 3339 §5.6 date-time ("2018-04-05T03:56:24Z",
 * "1985-04-12T23:20:50.52+01:00"; 't'/'z' accepted as §5.6 allows, real calendar days, leap
 * second 60 allowed). */
TANDEM_EXPORT bool tandem_rfc3339_valid(const char *s, size_t len);

/*
 * Maps a valid event to binary-mode headers. Writes up to cap headers to out, in the order of the
 * table above (required attributes, content-type, optional ones, then extensions in ev order), and
 * their count to *n. Header values borrow ev's strings; extension header names are built in
 * names (names_len bytes, "ce_<name>\0" each); everything stays valid while ev's strings and names
 * do. *key and *key_len get the partitionkey extension (which is also sent as ce_partitionkey,
 * §3.1: the mapper must not remove it) or NULL/0 when there is none. Returns 0, an error of
 * tandem_ce_validate, or TANDEM_ETOOLARGE when out or names is too small (TANDEM_CE_MAX_HEADERS
 * headers and 4 + the extension names' lengths each always suffice).
 */
TANDEM_EXPORT int tandem_ce_to_kafka(const struct tandem_cloudevent *ev,
                                     struct tandem_kafka_header *out, size_t cap, size_t *n,
                                     char *names, size_t names_len, const char **key,
                                     size_t *key_len);

/*
 * Reads an event from a record's headers (binary mode). Attribute values are copied into buf
 * (buf_len bytes) NUL-terminated, and ev's strings (extension names included) point there; they
 * stay valid while buf does. Headers other than content-type and ce_* (traceparent, say) are
 * ignored. Returns 0 for a valid event;
 *   TANDEM_ENOENT        no ce_specversion header: not a binary-mode CloudEvent
 *   TANDEM_EUNSUPPORTED  content-type starts with "application/cloudevents" (structured mode,
 *                        §3: not handled here), or specversion is not "1.0"
 *   TANDEM_EINVAL        a duplicate attribute, a null value, a value that is not UTF-8 or holds
 *                        a NUL (§3.2.3: "MUST be encoded as UTF-8"), a bad extension name, or an
 *                        event tandem_ce_validate rejects
 *   TANDEM_ETOOLARGE     buf too small, or more than TANDEM_CE_MAX_EXTENSIONS extensions
 */
TANDEM_EXPORT int tandem_ce_from_kafka(const struct tandem_kafka_header *headers, size_t n,
                                       char *buf, size_t buf_len, struct tandem_cloudevent *ev);

/* The first header named name (exact, case-sensitive), or NULL. */
TANDEM_EXPORT const struct tandem_kafka_header *
tandem_kafka_header_find(const struct tandem_kafka_header *headers, size_t n, const char *name);

/* True when a datacontenttype names JSON: "application/json" or any "+json" structured suffix
 * (RFC 6839 §3.1), case-insensitive, parameters ignored. NULL is false. */
TANDEM_EXPORT bool tandem_ce_is_json(const char *datacontenttype);

/* True when data[0..len) is one JSON text (RFC 8259 §2, any value), as a JSON event body must
 * be; uses jansson, allocates while parsing and frees before returning. */
TANDEM_EXPORT bool tandem_ce_json_data_valid(const void *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif
