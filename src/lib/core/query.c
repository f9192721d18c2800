/*
 * Request-target helpers: splitting path from query, and looking a name up in a query string.
 *
 * A query is "name=value&name=value" in the application/x-www-form-urlencoded serialisation
 * (WHATWG URL Standard §5, "application/x-www-form-urlencoded parsing"): pairs separated by '&',
 * name and value split at the first '=', both percent-decoded with '+' meaning space. Lookup walks
 * the string once, compares names decoded on the fly, and decodes only the value it returns.
 */
#include "tandem/router.h"

#include <string.h>

#include "core_int.h"

void tandem_target_split(const char *target, size_t len, const char **path, size_t *path_len,
                         const char **query, size_t *query_len)
{
    size_t q = 0;
    while (q < len && target[q] != '?' && target[q] != '#')
        q++;
    *path = target;
    *path_len = q;
    if (q == len || target[q] == '#') {
        *query = target + q;
        *query_len = 0;
        return;
    }
    size_t end = q + 1;
    while (end < len && target[end] != '#')
        end++;
    *query = target + q + 1;
    *query_len = end - (q + 1);
}

/* Does the form-decoding of raw[0..n) equal name? ('+' is space here, unlike in paths.) */
static bool form_name_equal(const char *raw, size_t n, const char *name, size_t name_len)
{
    char tmp[256];
    size_t got = 0;
    if (n >= sizeof(tmp) || core_pct_decode(raw, n, true, tmp, sizeof(tmp), &got) != 0)
        return false; /* names longer than 255 bytes never match */
    return got == name_len && memcmp(tmp, name, got) == 0;
}

int tandem_query_get(const char *query, const char *name, char *buf, size_t len)
{
    if (!query || !name || (!buf && len > 0))
        return TANDEM_EINVAL;
    if (buf && len > 0)
        buf[0] = '\0';
    if (query[0] == '?')
        query++;
    size_t qlen = strlen(query), name_len = strlen(name), pos = 0;
    while (pos <= qlen) {
        size_t end = pos;
        while (end < qlen && query[end] != '&')
            end++;
        const char *pair = query + pos;
        size_t pair_len = end - pos;
        const char *eq = memchr(pair, '=', pair_len);
        size_t raw_name_len = eq ? (size_t)(eq - pair) : pair_len;
        if (pair_len > 0 && form_name_equal(pair, raw_name_len, name, name_len)) {
            const char *val = eq ? eq + 1 : pair + pair_len;
            size_t val_len = pair_len - (size_t)(val - pair), got = 0;
            if (len == 0)
                return TANDEM_ETOOLARGE;
            int rc = core_pct_decode(val, val_len, true, buf, len, &got);
            if (rc != 0)
                buf[0] = '\0';
            return rc;
        }
        pos = end + 1;
    }
    return TANDEM_ENOENT;
}
