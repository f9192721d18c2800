/*
 * tandem trace context: the W3C Trace Context "traceparent" header (W3C Recommendation, Trace
 * Context Level 1, §3.2), which carries a request's trace across REST calls and, as a Kafka
 * record header of the same name, across events.
 *
 *   traceparent = version "-" trace-id "-" parent-id "-" trace-flags      (version 00)
 *   OFFSET SIZE FIELD
 *        0    2 version      2 lowercase hex; "ff" is invalid (§3.2.2.1)
 *        3   32 trace-id     16 bytes, lowercase hex, not all zero (§3.2.2.3)
 *       36   16 parent-id    8 bytes (the caller's span id), lowercase hex, not all zero (§3.2.2.4)
 *       53    2 trace-flags  8 bits; 0x01 = sampled (§3.2.2.5)
 *       55      end for version 00; a higher version may continue with "-" and more (§3.2.4)
 *
 * A service receiving traceparent parses it (and starts a new trace when the value is invalid, as
 * §3.2.4 directs), derives a child for its own work (same trace-id, its own new span id as
 * parent-id: §3.4 "Mutating the traceparent Field"), and sends the child's value downstream.
 */
#ifndef TANDEM_TRACE_H
#define TANDEM_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tandem/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TANDEM_TRACEPARENT_LEN    55 /* characters of a version-00 value */
#define TANDEM_TRACEPARENT_SIZE   56 /* with the NUL */
#define TANDEM_TRACE_FLAG_SAMPLED 0x01

struct tandem_traceparent {
    uint8_t version; /* as received; tandem always sends 00 */
    uint8_t trace_id[16];
    uint8_t parent_id[8]; /* the span id of the sender */
    uint8_t flags;
};

/*
 * Parses a traceparent field value s[0..len) (surrounding spaces/tabs ignored). Version 00 must be
 * exactly 55 characters. A higher version (01..fe) is parsed as 00 from its first 55 characters,
 * which must be followed by the end or by '-' (§3.2.4); what follows is ignored. Returns 0 and
 * fills *out, or TANDEM_EINVAL: wrong length, upper-case or non-hex digits, version ff, missing
 * dashes, all-zero trace-id or parent-id.
 */
TANDEM_EXPORT int tandem_traceparent_parse(const char *s, size_t len,
                                           struct tandem_traceparent *out);

/* True when tandem_traceparent_parse would accept s[0..len). */
TANDEM_EXPORT bool tandem_traceparent_valid(const char *s, size_t len);

/* Writes the version-00 value of tp into out (55 characters + NUL), whatever tp->version is; the
 * flags are written as they are. Returns 0, or TANDEM_EINVAL when an id is all zero. */
TANDEM_EXPORT int tandem_traceparent_format(const struct tandem_traceparent *tp,
                                            char out[TANDEM_TRACEPARENT_SIZE]);

/* Starts a new trace: random trace-id and parent-id (getrandom(2), never all zero), version 00,
 * flags sampled or 0. Returns 0, or TANDEM_EIO when the kernel gives no randomness. */
TANDEM_EXPORT int tandem_trace_new(bool sampled, struct tandem_traceparent *out);

/* Derives the context for work done on behalf of parent: the same trace-id, a new random
 * parent-id (this hop's span id), version 00, and only the flags version 00 defines (sampled)
 * carried over (§3.2.2.5, §3.4). child may be parent. Returns 0 or TANDEM_EIO. */
TANDEM_EXPORT int tandem_trace_child(const struct tandem_traceparent *parent,
                                     struct tandem_traceparent *child);

/*
 * Request ids: the gateway's X-Request-Id (the client's own, or nginx's $request_id, 32 hex
 * digits), one key shared by the gateway's access log and the service's log lines. Services and
 * the HTTP client take it only when it is 1..TANDEM_REQUEST_ID_MAX characters of letters, digits
 * and "-_.:+/=@" (a UUID, a hex or base64 id), so it can go into a log line and a header as it is.
 */
#define TANDEM_REQUEST_ID_MAX 128

/* True when s[0..len) is an acceptable request id (above). */
TANDEM_EXPORT bool tandem_request_id_valid(const char *s, size_t len);

/* Lowercase hex of a trace-id (32 characters + NUL) and of a span/parent id (16 + NUL), for logs.
 */
TANDEM_EXPORT void tandem_trace_id_hex(const uint8_t id[16], char out[33]);
TANDEM_EXPORT void tandem_span_id_hex(const uint8_t id[8], char out[17]);

#ifdef __cplusplus
}
#endif
#endif
