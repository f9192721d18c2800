/*
 * W3C traceparent codec and id generation (Trace Context Level 1, §3.2 and §4).
 *
 * Parsing is strict where the spec is strict (lowercase hex only, §3.2.2.2 HEXDIGLC; version ff
 * and all-zero ids invalid) and forward compatible where it asks to be: a version this code does
 * not know is read with the version-00 layout, provided its first 55 characters have that shape
 * and are followed by the end or a '-' (§3.2.4, "Versioning of traceparent"). Ids come from a
 * per-thread xoshiro256** generator seeded from getrandom(2) once per thread (and again in a
 * forked child): the spec asks for random, unique ids (§3.2.2.3, §3.2.2.4), not secret ones, and
 * a getrandom call per id was two syscalls per HTTP request, most of the runtime's cost over
 * nginx in bench/http. An all-zero draw (probability 2^-64 or 2^-128) is drawn again.
 *
 * Request ids (X-Request-Id) are checked here too: not a standard, just a character set safe in
 * a log line and a header.
 */
#include "tandem/trace.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>

static const char hexlc[] = "0123456789abcdef";

static int hexlc_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* upper case is invalid here (HEXDIGLC) */
}

/* Decodes 2n lowercase hex characters into n bytes. */
static bool hex_decode(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hexlc_val(s[2 * i]), lo = hexlc_val(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

static void hex_encode(const uint8_t *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexlc[in[i] >> 4];
        out[2 * i + 1] = hexlc[in[i] & 0xf];
    }
    out[2 * n] = '\0';
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i])
            return false;
    }
    return true;
}

int tandem_traceparent_parse(const char *s, size_t len, struct tandem_traceparent *out)
{
    struct tandem_traceparent tp;
    while (len > 0 && (s[0] == ' ' || s[0] == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len < TANDEM_TRACEPARENT_LEN)
        return TANDEM_EINVAL;
    if (!hex_decode(s, &tp.version, 1) || tp.version == 0xff)
        return TANDEM_EINVAL; /* §3.2.2.1: version ff is forbidden */
    if (tp.version == 0 && len != TANDEM_TRACEPARENT_LEN)
        return TANDEM_EINVAL;
    if (tp.version != 0 && len > TANDEM_TRACEPARENT_LEN && s[TANDEM_TRACEPARENT_LEN] != '-')
        return TANDEM_EINVAL; /* §3.2.4: flags must be followed by the end or a dash */
    if (s[2] != '-' || s[35] != '-' || s[52] != '-')
        return TANDEM_EINVAL;
    if (!hex_decode(s + 3, tp.trace_id, 16) || !hex_decode(s + 36, tp.parent_id, 8) ||
        !hex_decode(s + 53, &tp.flags, 1))
        return TANDEM_EINVAL;
    if (all_zero(tp.trace_id, 16) || all_zero(tp.parent_id, 8))
        return TANDEM_EINVAL; /* §3.2.2.3, §3.2.2.4 */
    *out = tp;
    return 0;
}

bool tandem_traceparent_valid(const char *s, size_t len)
{
    struct tandem_traceparent tp;
    return tandem_traceparent_parse(s, len, &tp) == 0;
}

bool tandem_request_id_valid(const char *s, size_t len)
{
    if (s == NULL || len == 0 || len > TANDEM_REQUEST_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  (c != '\0' && strchr("-_.:+/=@", c) != NULL);
        if (!ok)
            return false;
    }
    return true;
}

int tandem_traceparent_format(const struct tandem_traceparent *tp,
                              char out[TANDEM_TRACEPARENT_SIZE])
{
    if (all_zero(tp->trace_id, 16) || all_zero(tp->parent_id, 8))
        return TANDEM_EINVAL;
    out[0] = '0';
    out[1] = '0';
    out[2] = '-';
    hex_encode(tp->trace_id, 16, out + 3);
    out[35] = '-';
    hex_encode(tp->parent_id, 8, out + 36);
    out[52] = '-';
    hex_encode(&tp->flags, 1, out + 53);
    return 0;
}

/* Fills p[0..n) with random bytes, not all zero. */
static _Thread_local uint64_t rng[4];
static _Thread_local bool rng_seeded;
static pthread_once_t rng_once = PTHREAD_ONCE_INIT;

static void rng_forked(void)
{
    rng_seeded = false; /* the child must not repeat the parent's ids */
}

static void rng_setup(void)
{
    pthread_atfork(NULL, NULL, rng_forked);
}

static int rng_seed(void)
{
    pthread_once(&rng_once, rng_setup);
    uint8_t *p = (uint8_t *)rng;
    size_t got = 0;
    while (got < sizeof(rng)) {
        ssize_t r = getrandom(p + got, sizeof(rng) - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return TANDEM_EIO;
        got += (size_t)r;
    }
    if (all_zero(p, sizeof(rng)))
        rng[0] = 1; /* xoshiro's one forbidden state */
    rng_seeded = true;
    return 0;
}

static inline uint64_t rotl64(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** (Blackman and Vigna, 2018). */
static uint64_t rng_next(void)
{
    uint64_t result = rotl64(rng[1] * 5, 7) * 9, t = rng[1] << 17;
    rng[2] ^= rng[0];
    rng[3] ^= rng[1];
    rng[1] ^= rng[2];
    rng[0] ^= rng[3];
    rng[2] ^= t;
    rng[3] = rotl64(rng[3], 45);
    return result;
}

static int random_id(uint8_t *p, size_t n)
{
    if (!rng_seeded) {
        int rc = rng_seed();
        if (rc)
            return rc;
    }
    do {
        for (size_t i = 0; i < n; i += 8) {
            uint64_t v = rng_next();
            memcpy(p + i, &v, n - i < 8 ? n - i : 8);
        }
    } while (all_zero(p, n));
    return 0;
}

int tandem_trace_new(bool sampled, struct tandem_traceparent *out)
{
    struct tandem_traceparent tp = {.version = 0, .flags = sampled ? TANDEM_TRACE_FLAG_SAMPLED : 0};
    int rc = random_id(tp.trace_id, sizeof(tp.trace_id));
    if (rc == 0)
        rc = random_id(tp.parent_id, sizeof(tp.parent_id));
    if (rc != 0)
        return rc;
    *out = tp;
    return 0;
}

int tandem_trace_child(const struct tandem_traceparent *parent, struct tandem_traceparent *child)
{
    struct tandem_traceparent tp = *parent;
    int rc = random_id(tp.parent_id, sizeof(tp.parent_id));
    if (rc != 0)
        return rc;
    tp.version = 0;
    tp.flags &= TANDEM_TRACE_FLAG_SAMPLED;
    *child = tp;
    return 0;
}

void tandem_trace_id_hex(const uint8_t id[16], char out[33])
{
    hex_encode(id, 16, out);
}

void tandem_span_id_hex(const uint8_t id[8], char out[17])
{
    hex_encode(id, 8, out);
}
