/*
 * Strong ETags from a fixed 64-bit hash, and If-None-Match evaluation (RFC 9110 §8.8.3, §13.1.2).
 *
 * The hash (tandem_hash64) is defined here and must never change, since ETags computed by
 * different versions of a service would otherwise stop matching. It reads the input as 64-bit
 * little-endian words (whatever the host byte order), multiplies each into a running state, packs
 * the 0..7 trailing bytes into one last word, and finishes with the 64-bit avalanche step of
 * MurmurHash3 (fmix64), so that every input bit affects every output bit. The length is mixed in
 * first, so inputs that differ only by trailing zero bytes differ. One multiply-rotate round per
 * 8 bytes keeps it in the GB/s range: hashing a response body costs far less than sending it.
 *
 * Grammar (RFC 9110 §8.8.3):
 *   entity-tag = [ weak ] opaque-tag     weak = %s"W/"     opaque-tag = DQUOTE *etagc DQUOTE
 *   etagc      = %x21 / %x23-7E / obs-text                 obs-text   = %x80-FF
 *   If-None-Match = "*" / #entity-tag                       (§13.1.2; # is §5.6.1's list)
 */
#include "tandem/cache.h"

#include <string.h>

#define K1 0x9e3779b97f4a7c15ULL /* 2^64 / golden ratio */
#define K2 0xc2b2ae3d27d4eb4fULL
#define K3 0x165667b19e3779f9ULL

static inline uint64_t rotl64(uint64_t x, unsigned r)
{
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t load_le64(const unsigned char *p)
{
    uint64_t w = 0;
    for (int i = 7; i >= 0; i--)
        w = (w << 8) | p[i]; /* compilers turn this into one load on little-endian hosts */
    return w;
}

static inline uint64_t absorb(uint64_t h, uint64_t w)
{
    h ^= rotl64(w * K2, 31) * K1;
    return rotl64(h, 27) * K1 + K3;
}

uint64_t tandem_hash64(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = K3 ^ ((uint64_t)n * K1);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        h = absorb(h, load_le64(p + i));
    if (i < n) {
        uint64_t w = 0;
        for (size_t k = n; k > i; k--)
            w = (w << 8) | p[k - 1];
        h = absorb(h, w);
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

void tandem_etag_of(const void *body, size_t len, char out[TANDEM_ETAG_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t h = tandem_hash64(body, len);
    out[0] = '"';
    for (int i = 0; i < 16; i++)
        out[1 + i] = hex[(h >> (60 - 4 * i)) & 0xf];
    out[17] = '"';
    out[18] = '\0';
}

/* Length of the entity-tag at the start of s[0..n), or 0 when there is none. */
static size_t etag_scan(const char *s, size_t n)
{
    size_t i = 0;
    if (n >= 2 && s[0] == 'W' && s[1] == '/')
        i = 2;
    if (i >= n || s[i] != '"')
        return 0;
    for (i++; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"')
            return i + 1;
        if (c < 0x21 || c == 0x7f)
            return 0; /* not etagc: controls, space, DEL */
    }
    return 0; /* no closing quote */
}

bool tandem_etag_equal(const char *a, size_t alen, const char *b, size_t blen, bool weak)
{
    if (!a || !b || etag_scan(a, alen) != alen || etag_scan(b, blen) != blen)
        return false;
    bool aw = a[0] == 'W', bw = b[0] == 'W';
    if (!weak && (aw || bw))
        return false;
    if (aw) {
        a += 2;
        alen -= 2;
    }
    if (bw) {
        b += 2;
        blen -= 2;
    }
    return alen == blen && memcmp(a, b, alen) == 0;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

int tandem_if_none_match(const char *field, size_t len, const char *etag, size_t etag_len,
                         int *match)
{
    *match = 0;
    size_t b = 0, e = len;
    while (b < e && is_ows(field[b]))
        b++;
    while (e > b && is_ows(field[e - 1]))
        e--;
    if (e - b == 1 && field[b] == '*') {
        *match = etag != NULL; /* §13.1.2: "*" is false if a current representation exists */
        return 0;
    }
    int found = 0;
    size_t pos = b;
    for (;;) {
        while (pos < e && (is_ows(field[pos]) || field[pos] == ','))
            pos++; /* empty list elements and OWS (§5.6.1) */
        if (pos == e)
            break;
        size_t n = etag_scan(field + pos, e - pos);
        if (n == 0)
            return TANDEM_EINVAL;
        if (etag && tandem_etag_equal(field + pos, n, etag, etag_len, true))
            found = 1;
        pos += n;
        while (pos < e && is_ows(field[pos]))
            pos++;
        if (pos < e && field[pos] != ',')
            return TANDEM_EINVAL;
    }
    *match = found;
    return 0;
}
