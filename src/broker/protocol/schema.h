/*
 * schema: one table-driven codec for every Kafka message, any version, flexible or not.
 *
 * Model. Each message (a request or a response body of one API) is described once, as a
 * struct schema_message whose fields mirror Kafka's message definition
 * (clients/src/main/resources/common/message/<Name>.json): for every field its wire type, the
 * versions it exists in, the versions where it may be null, its tag when it is a tagged field,
 * its default, and where it lives in the C struct that messages.h declares for that message
 * (offsetof). The tables are transcribed by hand from the JSON files, in their field order, one
 * line per field (schema_*.c). One engine reads and writes any described message at any version
 * between the message's validVersions, in either direction: the broker decodes requests and
 * encodes responses with it, the test client (tests/common/kafka_client) encodes requests and
 * decodes responses with the same tables.
 *
 * Wire rules the engine applies (Kafka protocol guide; KIP-482):
 *   - below flexible_from: STRING/BYTES with INT16/INT32 lengths, ARRAY with an INT32 count
 *     (-1 = null); no tagged fields.
 *   - from flexible_from: COMPACT_STRING/BYTES/ARRAY, UNSIGNED_VARINT length+1 (0 = null), and
 *     every struct (the message itself and each array element of struct type) ends in a
 *     TAGGED_FIELDS section: UNSIGNED_VARINT count, then (UNSIGNED_VARINT tag, UNSIGNED_VARINT
 *     size, size bytes) each. Known tags are decoded into their field; unknown tags are skipped
 *     by their size, as the spec requires. A known tag whose value does not use exactly its size
 *     is malformed. Encoding writes a tagged field only when its value differs from its default,
 *     in ascending tag order (tables list tagged fields in that order).
 *   - a null where the version does not allow one, a count or length larger than the bytes left,
 *     a truncated field, or bytes left after the message are TANDEM_EPROTO.
 *
 * Memory. Decoding borrows strings and bytes from the input and carves arrays from the arena,
 * after validating each count against the bytes left times the smallest wire size of one element
 * (computed from the element's fields at that version), so allocation stays bounded by a small
 * multiple of the frame. Decoded structs get every described field set: read from the wire, or
 * the field's default when the version lacks it. C struct fields that the table does not describe
 * are zeroed. Fields described with off = SCHEMA_NONE are read and dropped, and written as their
 * default (fields tandem has no use for, such as topic ids).
 *
 * Limits. Tagged fields may be scalars or strings; tagged structs and arrays (never sent by
 * tandem, whose single node has no leader changes or features to report) are modelled as
 * unknown tags: skipped when read, not written. RECORDS fields may point at external bytes
 * (struct fetch_resp_partition's records_ext), which the encoder leaves as a kw_splice.
 */
#ifndef TANDEM_PROTOCOL_SCHEMA_H
#define TANDEM_PROTOCOL_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/kbuf.h"

enum schema_type {
    ST_I8,        /* int8_t */
    ST_I16,       /* int16_t */
    ST_I32,       /* int32_t */
    ST_I64,       /* int64_t */
    ST_BOOL,      /* bool */
    ST_UUID,      /* uint8_t[16] */
    ST_STRING,    /* struct kstr */
    ST_BYTES,     /* struct kbytes */
    ST_RECORDS,   /* struct kbytes at off; encoding: when the const void * at ext_off is set, the
                   * uint32_t at n_off external bytes are spliced instead */
    ST_ARRAY,     /* element pointer at off, int32_t count at n_off, elements described by elem */
    ST_ARRAY_I32, /* int32_t * at off, int32_t count at n_off */
    ST_ARRAY_I64, /* int64_t * at off */
    ST_ARRAY_STR, /* struct kstr * at off */
};

#define SCHEMA_NONE 0xffff /* off: not stored (read and dropped, written as the default) */
#define SCHEMA_VMAX 0x7f   /* "N+": no upper version */

/* Flags. */
#define SF_EMPTY_IS_NULL                                                    \
    0x01 /* arrays: in versions where the array is not nullable, an empty   \
          * array means what null means later (Metadata v0's "all topics"): \
          * decoded as count -1, and count -1 encoded as empty */

struct schema_struct;

struct schema_field {
    uint8_t type;     /* enum schema_type */
    int8_t vmin;      /* first version that has the field */
    int8_t vmax;      /* last version (SCHEMA_VMAX: all later ones) */
    int8_t nullable;  /* first version where null is allowed (SCHEMA_VMAX: never) */
    int8_t tag;       /* -1, or the tag: the field is a tagged field in flexible versions */
    uint8_t flags;    /* SF_* */
    uint16_t off;     /* offsetof the value in the C struct, or SCHEMA_NONE */
    uint16_t n_off;   /* arrays: offsetof the int32_t count; ST_RECORDS: of the ext length */
    uint16_t ext_off; /* ST_RECORDS: offsetof the external-bytes pointer (0: none) */
    int64_t dflt;     /* value when absent: integers and bool as is; strings 0 = null,
                       * 1 = empty; arrays: count 0 (empty) or -1 (null) */
    const struct schema_struct *elem; /* ST_ARRAY: the element struct */
};

struct schema_struct {
    const struct schema_field *fields;
    uint16_t nfields;
    uint16_t size; /* sizeof the C struct */
};

struct schema_message {
    const char *name; /* "ProduceRequest", as the JSON file names it */
    int16_t api_key;
    int16_t vmin, vmax;    /* versions this table describes (a subset of validVersions) */
    int16_t flexible_from; /* first flexible version ("flexibleVersions"); SCHEMA_VMAX: none */
    struct schema_struct body;
};

#define SCHEMA_STRUCT(ctype, table)                                                      \
    {                                                                                    \
        (table), (uint16_t)(sizeof(table) / sizeof((table)[0])), (uint16_t)sizeof(ctype) \
    }

/* Reads a whole message body of this version from r into out (a zeroed-then-filled struct of the
 * message's C type): 0, TANDEM_EPROTO (truncated, malformed, trailing bytes), TANDEM_EUNSUPPORTED
 * (version outside vmin..vmax) or TANDEM_ETOOLARGE (the arena's cap). On error out is partly
 * filled: ignore it. Strings and bytes borrow from r's input. */
int schema_decode(const struct schema_message *m, struct kr *r, int16_t version, struct arena *a,
                  void *out);

/* Appends the body of in (the message's C type) at this version. The version must be within
 * vmin..vmax (the callers' dispatch guarantees it; otherwise nothing is written). */
void schema_encode(const struct schema_message *m, struct kw *w, int16_t version, const void *in);

#endif
