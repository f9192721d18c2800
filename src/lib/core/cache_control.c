/*
 * Cache-Control (RFC 9111 §5.2): format what a server sets, parse what a cache reads.
 *
 * Grammar (RFC 9111 §5.2, RFC 9110 §5.6.2 and §5.6.4):
 *   Cache-Control   = #cache-directive
 *   cache-directive = token [ "=" ( token / quoted-string ) ]
 *   quoted-string   = DQUOTE *( qdtext / quoted-pair ) DQUOTE     quoted-pair = "\" octet
 *   delta-seconds   = 1*DIGIT                                      (RFC 9111 §1.2.2)
 * The parser is one pass over the field; nothing is copied and nothing allocated.
 */
#include "tandem/cache.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define AGE_CAP 2147483648LL /* RFC 9111 §1.2.2: larger delta-seconds are sent as 2^31 */

void tandem_cache_control_init(struct tandem_cache_control *cc)
{
    memset(cc, 0, sizeof(*cc));
    cc->max_age = -1;
    cc->s_maxage = -1;
}

/* Appends s to buf at *o, keeping room for the NUL; false when it does not fit. */
static bool append(char *buf, size_t len, size_t *o, const char *s)
{
    size_t n = strlen(s);
    if (*o + n + 1 > len)
        return false;
    memcpy(buf + *o, s, n);
    *o += n;
    buf[*o] = '\0';
    return true;
}

static bool directive(char *buf, size_t len, size_t *o, const char *name, int64_t arg)
{
    char tmp[48];
    if (arg >= 0)
        snprintf(tmp, sizeof(tmp), "%s=%lld", name, (long long)arg);
    else
        snprintf(tmp, sizeof(tmp), "%s", name);
    if (*o > 0 && !append(buf, len, o, ", "))
        return false;
    return append(buf, len, o, tmp);
}

int tandem_cache_control_format(const struct tandem_cache_control *cc, char *buf, size_t len,
                                size_t *out_len)
{
    if ((cc->is_private && cc->is_public) || cc->max_age < -1 || cc->s_maxage < -1)
        return TANDEM_EINVAL;
    if (len == 0)
        return TANDEM_ETOOLARGE;
    size_t o = 0;
    buf[0] = '\0';
    bool ok = (!cc->no_store || directive(buf, len, &o, "no-store", -1)) &&
              (!cc->no_cache || directive(buf, len, &o, "no-cache", -1)) &&
              (!cc->is_private || directive(buf, len, &o, "private", -1)) &&
              (!cc->is_public || directive(buf, len, &o, "public", -1)) &&
              (cc->max_age < 0 || directive(buf, len, &o, "max-age", cc->max_age)) &&
              (cc->s_maxage < 0 || directive(buf, len, &o, "s-maxage", cc->s_maxage)) &&
              (!cc->must_revalidate || directive(buf, len, &o, "must-revalidate", -1)) &&
              (!cc->no_transform || directive(buf, len, &o, "no-transform", -1)) &&
              (!cc->immutable || directive(buf, len, &o, "immutable", -1));
    if (!ok) {
        buf[0] = '\0';
        return TANDEM_ETOOLARGE;
    }
    if (out_len)
        *out_len = o;
    return 0;
}

/* tchar (RFC 9110 §5.6.2) */
static bool is_tchar(char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* delta-seconds from an argument (quotes already removed); 0 when it is not 1*DIGIT. */
static int64_t parse_age(const char *p, size_t n)
{
    if (n == 0)
        return 0;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        if (v < AGE_CAP)
            v = v * 10 + (p[i] - '0');
    }
    return v > AGE_CAP ? AGE_CAP : v;
}

static bool name_is(const char *p, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

/* Records one directive; the first occurrence of each counts. */
static void apply(struct tandem_cache_control *cc, const char *name, size_t n, const char *arg,
                  size_t arg_len, bool has_arg)
{
    if (name_is(name, n, "max-age")) {
        if (cc->max_age < 0)
            cc->max_age = has_arg ? parse_age(arg, arg_len) : 0;
    } else if (name_is(name, n, "s-maxage")) {
        if (cc->s_maxage < 0)
            cc->s_maxage = has_arg ? parse_age(arg, arg_len) : 0;
    } else if (name_is(name, n, "no-store")) {
        cc->no_store = true;
    } else if (name_is(name, n, "no-cache")) {
        cc->no_cache = true;
    } else if (name_is(name, n, "private")) {
        cc->is_private = true;
    } else if (name_is(name, n, "public")) {
        cc->is_public = true;
    } else if (name_is(name, n, "must-revalidate")) {
        cc->must_revalidate = true;
    } else if (name_is(name, n, "no-transform")) {
        cc->no_transform = true;
    } else if (name_is(name, n, "immutable")) {
        cc->immutable = true;
    }
}

int tandem_cache_control_parse(const char *field, size_t len, struct tandem_cache_control *cc)
{
    tandem_cache_control_init(cc);
    size_t pos = 0;
    for (;;) {
        while (pos < len && (field[pos] == ' ' || field[pos] == '\t' || field[pos] == ','))
            pos++;
        if (pos == len)
            return 0;
        size_t name = pos;
        while (pos < len && is_tchar(field[pos]))
            pos++;
        size_t name_len = pos - name;
        if (name_len == 0)
            goto fail;
        const char *arg = NULL;
        size_t arg_len = 0;
        bool has_arg = pos < len && field[pos] == '=';
        if (has_arg) {
            pos++;
            if (pos < len && field[pos] == '"') {
                /* quoted-string; escapes are kept in the slice, harmless for digits and the
                 * field-name lists that are the only quoted arguments understood here */
                arg = field + ++pos;
                while (pos < len && field[pos] != '"')
                    pos += field[pos] == '\\' ? 2 : 1;
                if (pos >= len)
                    goto fail;
                arg_len = (size_t)(field + pos - arg);
                pos++;
            } else {
                arg = field + pos;
                while (pos < len && is_tchar(field[pos]))
                    pos++;
                arg_len = (size_t)(field + pos - arg);
                if (arg_len == 0)
                    goto fail;
            }
        }
        while (pos < len && (field[pos] == ' ' || field[pos] == '\t'))
            pos++;
        if (pos < len && field[pos] != ',')
            goto fail;
        apply(cc, field + name, name_len, arg, arg_len, has_arg);
    }
fail:
    tandem_cache_control_init(cc);
    return TANDEM_EINVAL;
}
