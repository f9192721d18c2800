/*
 * What the pure pieces of libtandem share: hex digits, percent-decoding, and the one table of the
 * HTTP methods libtandem knows.
 *
 * Private to libtandem (built -fvisibility=hidden, nothing here is exported): src/lib/core/
 * includes it as "core_int.h", the layers above that need the same table (the runtime's metrics)
 * as "lib/core/core_int.h". Everything works on borrowed (pointer, length) slices and writes into
 * caller buffers; nothing allocates.
 */
#ifndef TANDEM_LIB_CORE_INT_H
#define TANDEM_LIB_CORE_INT_H

#include <stdbool.h>
#include <stddef.h>

/* The value of one hex digit (either case), or -1. */
static inline int core_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Percent-decodes s[0..n) (RFC 3986 §2.1) into out, NUL-terminated; with plus_is_space, '+'
 * becomes ' ' (application/x-www-form-urlencoded, WHATWG URL §5.1). On success stores the decoded
 * length (without the NUL) in *out_len and returns 0. Returns TANDEM_EINVAL for a '%' not followed
 * by two hex digits or for "%00" (a NUL would silently truncate every C string built from the
 * value), TANDEM_ETOOLARGE when out (cap bytes, room for the NUL included) is too small.
 */
int core_pct_decode(const char *s, size_t n, bool plus_is_space, char *out, size_t cap,
                    size_t *out_len);

/* True when the percent-decoding of raw[0..n) (no '+' rule) equals lit[0..lit_len) exactly;
 * false for malformed escapes. Does not write anywhere. */
bool core_pct_equal(const char *raw, size_t n, const char *lit, size_t lit_len);

/*
 * The HTTP methods a route can have (RFC 9110 §9.3 and RFC 5789's PATCH), in the one fixed order
 * libtandem lists them in: an Allow value (router.c) and the runtime's method label
 * (service/metrics.c) both follow it, so they can never disagree on which methods exist.
 */
enum core_method {
    CORE_GET,
    CORE_HEAD,
    CORE_POST,
    CORE_PUT,
    CORE_PATCH,
    CORE_DELETE,
    CORE_OPTIONS,
    CORE_NMETHODS
};
extern const char *const core_method_names[CORE_NMETHODS];

/* The CORE_* of the method m[0..n) (exact case: methods are case-sensitive, RFC 9110 §9.1), or
 * -1 for any other. */
int core_method_index(const char *m, size_t n);

/*
 * problem.c: the one problem+json encoder, for the HTTP core's own error answers and the runtime's
 * problem answers. Encodes {"type":"about:blank","title":<reason phrase>,"status":status,
 * "detail":detail} (detail NULL: no "detail") followed by members' members as extension members
 * (RFC 9457 §3.2; members NULL: none; borrowed), into buf (cap bytes) when the document fits and
 * into a malloc'd buffer otherwise: *out is buf or that buffer (free it when *out != buf),
 * NUL-terminated, and *len its length. With no members nothing is allocated once buf holds the
 * document (512 bytes hold any 4xx/5xx with a detail of 400 ASCII bytes). Returns 0, or
 * TANDEM_EINVAL (*out NULL): status outside 400..599, detail not UTF-8, members not an object or
 * naming a standard member or a name §3.2 advises against (letter first, [A-Za-z0-9_], >= 3).
 */
struct json_t;
int core_problem_format(int status, const char *detail, const struct json_t *members, char *buf,
                        size_t cap, char **out, size_t *len);

/*
 * sse.c: one server-sent event (text/event-stream, WHATWG HTML section 9.2): "event: <event>\n"
 * (event NULL or "": none), "id: <id>\n" (id NULL: none), one "data: <line>\n" per line of
 * data[0..len) split at CRLF, LF and CR (data NULL: len ignored, one empty line), then "\n".
 * Writes it into buf when it fits cap bytes (not NUL-terminated); *need is its length in every
 * case but TANDEM_EINVAL. Returns 0, TANDEM_ETOOLARGE (call again with *need bytes) or
 * TANDEM_EINVAL (CR or LF in event or id). Pure: no allocation.
 */
int core_sse_format(const char *event, const char *id, const void *data, size_t len, char *buf,
                    size_t cap, size_t *need);

#endif
