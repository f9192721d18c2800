/*
 * Percent-decoding (RFC 3986 §2.1) shared by the router (path segments) and the query-string
 * helper (where '+' also means space, per application/x-www-form-urlencoded).
 *
 * Invariant: output never exceeds input length, so a caller buffer of n + 1 bytes always fits.
 */
#include "core_int.h"

#include "tandem/error.h"

/* Decodes one unit at s[*i]: a literal byte, or %XX. Returns the byte (0..255) or -1. */
static int pct_next(const char *s, size_t n, size_t *i, bool plus_is_space)
{
    char c = s[*i];
    if (c == '%') {
        if (*i + 2 >= n)
            return -1;
        int hi = core_hexval(s[*i + 1]);
        int lo = core_hexval(s[*i + 2]);
        if (hi < 0 || lo < 0)
            return -1;
        *i += 3;
        return hi * 16 + lo;
    }
    *i += 1;
    if (c == '+' && plus_is_space)
        return ' ';
    return (unsigned char)c;
}

int core_pct_decode(const char *s, size_t n, bool plus_is_space, char *out, size_t cap,
                    size_t *out_len)
{
    size_t i = 0, o = 0;
    while (i < n) {
        int b = pct_next(s, n, &i, plus_is_space);
        if (b <= 0)
            return TANDEM_EINVAL;
        if (o + 1 >= cap)
            return TANDEM_ETOOLARGE;
        out[o++] = (char)b;
    }
    if (cap == 0)
        return TANDEM_ETOOLARGE;
    out[o] = '\0';
    *out_len = o;
    return 0;
}

bool core_pct_equal(const char *raw, size_t n, const char *lit, size_t lit_len)
{
    size_t i = 0, o = 0;
    while (i < n) {
        int b = pct_next(raw, n, &i, false);
        if (b <= 0 || o >= lit_len || (unsigned char)lit[o] != b)
            return false;
        o++;
    }
    return o == lit_len;
}
