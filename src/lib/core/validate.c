/*
 * validate.c: tandem/validate.h, a JSON document checked against a static table of fields.
 *
 * One pass over the table; each entry is resolved by walking its path through nested objects
 * (resolve), then checked by type (check_string, check_strings, ...). Every finding becomes a
 * message in the caller's errors object under the path's leaf name, through tandem_errors_add,
 * which keeps one copy of each message per key. Nothing here allocates in proportion to the
 * input beyond the messages themselves: paths are walked segment by segment in place, lengths
 * are counted over jansson's strings without copying them.
 *
 * Characters are Unicode code points counted over UTF-8 (jansson guarantees valid UTF-8 for
 * every string it parsed or built): a byte that is not a continuation byte (10xxxxxx) starts one.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tandem/validate.h"

#define PATH_SEGMENT_MAX 128

int tandem_errors_add(json_t *errors, const char *field, const char *message)
{
    if (!json_is_object(errors) || field == NULL || message == NULL) {
        return TANDEM_EINVAL;
    }
    json_t *list = json_object_get(errors, field);
    if (list == NULL) {
        list = json_array();
        if (list == NULL) {
            return TANDEM_ENOMEM;
        }
        if (json_object_set_new(errors, field, list) != 0) {
            return TANDEM_EINVAL; /* field is not UTF-8 (or no memory) */
        }
    } else if (!json_is_array(list)) {
        return TANDEM_EINVAL;
    }
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m)
    {
        if (json_is_string(m) && strcmp(json_string_value(m), message) == 0) {
            return 0;
        }
    }
    json_t *s = json_string(message); /* NULL when not UTF-8 */
    if (s == NULL) {
        return TANDEM_EINVAL;
    }
    return json_array_append_new(list, s) == 0 ? 0 : TANDEM_ENOMEM;
}

/* ---- characters ------------------------------------------------------------------------------ */

static size_t utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    }
    return c;
}

/* Decodes the code point at s[*i] (valid UTF-8) and advances *i. */
static unsigned long utf8_next(const char *s, size_t n, size_t *i)
{
    unsigned char b = (unsigned char)s[*i];
    int len = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    unsigned long cp = len == 1 ? b : len == 2 ? b & 0x1F : len == 3 ? b & 0x0F : b & 0x07;
    (*i)++;
    for (int k = 1; k < len && *i < n; k++, (*i)++) {
        cp = (cp << 6) | ((unsigned char)s[*i] & 0x3F);
    }
    return cp;
}

/* Unicode White_Space (what Ruby's [[:space:]] and so Rails' blank? take as space). */
static bool is_space(unsigned long cp)
{
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

static bool is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        if (!is_space(utf8_next(s, n, &i))) {
            return false;
        }
    }
    return true;
}

/* ---- formats --------------------------------------------------------------------------------- */

static bool local_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c >= 0x80 || (c != '\0' && strchr("!#$%&'*+/=?^_`{|}~.-", c) != NULL);
}

static bool label_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c >= 0x80 || c == '-';
}

static bool email_valid(const char *s, size_t n)
{
    const char *at = memchr(s, '@', n);
    if (n > 254 || at == NULL) {
        return false;
    }
    size_t local = (size_t)(at - s);
    if (local == 0 || local > 64 || s[0] == '.' || s[local - 1] == '.') {
        return false;
    }
    for (size_t i = 0; i < local; i++) {
        if (!local_char((unsigned char)s[i]) || (s[i] == '.' && s[i + 1] == '.')) {
            return false;
        }
    }
    const char *d = at + 1, *end = s + n;
    int labels = 0;
    bool all_digits = true;
    while (d <= end) {
        const char *dot = memchr(d, '.', (size_t)(end - d));
        const char *le = dot != NULL ? dot : end;
        size_t len = (size_t)(le - d);
        if (len == 0 || len > 63 || d[0] == '-' || le[-1] == '-') {
            return false;
        }
        all_digits = true;
        for (const char *p = d; p < le; p++) {
            if (!label_char((unsigned char)*p)) {
                return false; /* a second '@' too */
            }
            all_digits = all_digits && *p >= '0' && *p <= '9';
        }
        labels++;
        d = le + 1;
    }
    return labels >= 2 && !all_digits;
}

static bool url_valid(const char *s, size_t n)
{
    size_t skip = 0;
    if (n > 7 && strncasecmp(s, "http://", 7) == 0) {
        skip = 7;
    } else if (n > 8 && strncasecmp(s, "https://", 8) == 0) {
        skip = 8;
    } else {
        return false;
    }
    if (s[skip] == '/' || s[skip] == '?' || s[skip] == '#') {
        return false; /* no host */
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7F || c == '"' || c == '<' || c == '>' || c == '\\') {
            return false;
        }
    }
    return true;
}

/* ---- the walk -------------------------------------------------------------------------------- */

struct finding {
    json_t *errors;
    int rc; /* 0, TANDEM_EINVAL once a message was added, TANDEM_ENOMEM */
};

static void add(struct finding *f, const char *key, const char *msg)
{
    int rc = tandem_errors_add(f->errors, key, msg);
    if (rc == TANDEM_ENOMEM || f->rc == TANDEM_ENOMEM) {
        f->rc = TANDEM_ENOMEM;
    } else {
        f->rc = TANDEM_EINVAL;
    }
}

/* "is too long (maximum is 60 characters)": what, then the bound with its unit. */
static void add_bound(struct finding *f, const char *key, const char *what, bool maximum,
                      size_t bound, const char *unit)
{
    char msg[128];
    snprintf(msg, sizeof(msg), "%s (%s is %zu %s%s)", what, maximum ? "maximum" : "minimum", bound,
             unit, bound == 1 ? "" : "s");
    add(f, key, msg);
}

/*
 * Resolves path in doc: *out = the member (NULL when it or a parent is absent or null), and the
 * path's last segment copied into leaf. Returns false when a parent is present but not an object
 * (reported here, on the parent's name) or the path is malformed (*bad set).
 */
static bool resolve(struct finding *f, const json_t *doc, const char *path, const json_t **out,
                    char *leaf, bool *bad)
{
    *out = NULL;
    for (const char *p = path;;) { /* the table's syntax first, whatever the document */
        size_t len = strcspn(p, ".");
        if (len == 0 || len >= PATH_SEGMENT_MAX) {
            *bad = true;
            return false;
        }
        if (p[len] == '\0') {
            break;
        }
        p += len + 1;
    }
    const char *last = strrchr(path, '.');
    last = last != NULL ? last + 1 : path;
    size_t last_len = strlen(last);
    memcpy(leaf, last, last_len + 1);
    char seg[PATH_SEGMENT_MAX];
    const json_t *cur = doc;
    for (const char *p = path;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot != NULL ? (size_t)(dot - p) : strlen(p);
        memcpy(seg, p, len);
        seg[len] = '\0';
        const json_t *next = json_object_get(cur, seg);
        if (dot == NULL) {
            *out = json_is_null(next) ? NULL : next;
            return true;
        }
        if (next == NULL || json_is_null(next)) {
            return true; /* an absent parent: the field is absent */
        }
        if (!json_is_object(next)) {
            add(f, seg, "must be an object");
            return false;
        }
        cur = next;
        p = dot + 1;
    }
}

static void check_string(struct finding *f, const char *key, const struct tandem_field *fd,
                         const json_t *v)
{
    if (!json_is_string(v)) {
        add(f, key, "must be a string");
        return;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if ((fd->flags & TANDEM_FIELD_NOT_BLANK) && is_blank(s, n)) {
        add(f, key, "can't be blank");
        return; /* no "too short" or "is invalid" on top of it */
    }
    size_t chars = utf8_chars(s, n);
    if (fd->min > 0 && chars < fd->min) {
        add_bound(f, key, "is too short", false, fd->min, "character");
    }
    if (fd->max > 0 && chars > fd->max) {
        add_bound(f, key, "is too long", true, fd->max, "character");
    }
    if (((fd->flags & TANDEM_FIELD_EMAIL) && !email_valid(s, n)) ||
        ((fd->flags & TANDEM_FIELD_URL) && !url_valid(s, n))) {
        add(f, key, "is invalid");
    }
}

static void check_strings(struct finding *f, const char *key, const struct tandem_field *fd,
                          const json_t *v)
{
    if (!json_is_array(v)) {
        add(f, key, "must be an array of strings");
        return;
    }
    size_t i, n = json_array_size(v);
    const json_t *item;
    bool blank = false, long_item = false;
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item)) {
            add(f, key, "must be an array of strings");
            return;
        }
        const char *s = json_string_value(item);
        size_t len = json_string_length(item);
        blank = blank || ((fd->flags & TANDEM_FIELD_NOT_BLANK) && is_blank(s, len));
        long_item = long_item || (fd->item_max > 0 && utf8_chars(s, len) > fd->item_max);
    }
    if (blank) {
        add(f, key, "can't contain blank items");
    }
    if (long_item) {
        add_bound(f, key, "has an item that is too long", true, fd->item_max, "character");
    }
    if (fd->min > 0 && n < fd->min) {
        add_bound(f, key, "is too short", false, fd->min, "item");
    }
    if (fd->max > 0 && n > fd->max) {
        add_bound(f, key, "is too long", true, fd->max, "item");
    }
}

static void check_field(struct finding *f, const char *key, const struct tandem_field *fd,
                        const json_t *v)
{
    switch (fd->type) {
    case TANDEM_FIELD_STRING:
        check_string(f, key, fd, v);
        break;
    case TANDEM_FIELD_INT:
        if (!json_is_integer(v)) {
            add(f, key, "must be an integer");
        }
        break;
    case TANDEM_FIELD_BOOL:
        if (!json_is_boolean(v)) {
            add(f, key, "must be true or false");
        }
        break;
    case TANDEM_FIELD_STRINGS:
        check_strings(f, key, fd, v);
        break;
    default: /* TANDEM_FIELD_OBJECT: the type was checked by tandem_validate */
        if (!json_is_object(v)) {
            add(f, key, "must be an object");
        } else if ((fd->flags & TANDEM_FIELD_NOT_BLANK) && json_object_size(v) == 0) {
            add(f, key, "can't be blank");
        }
        break;
    }
}

int tandem_validate(const json_t *doc, const struct tandem_field *spec, json_t *errors)
{
    if (!json_is_object(errors) || spec == NULL) {
        return TANDEM_EINVAL;
    }
    struct finding f = {errors, 0};
    if (!json_is_object(doc)) {
        add(&f, "body", "must be a JSON object");
        return f.rc;
    }
    char leaf[PATH_SEGMENT_MAX];
    for (const struct tandem_field *fd = spec; fd->path != NULL; fd++) {
        const json_t *v = NULL;
        bool bad = fd->type < TANDEM_FIELD_STRING || fd->type > TANDEM_FIELD_OBJECT;
        if (bad || !resolve(&f, doc, fd->path, &v, leaf, &bad)) {
            if (bad) {
                add(&f, "body", "has an invalid validation rule");
            }
            continue;
        }
        if (v == NULL) {
            if (fd->flags & TANDEM_FIELD_REQUIRED) {
                add(&f, leaf, "can't be blank");
            }
            continue;
        }
        check_field(&f, leaf, fd, v);
    }
    return f.rc;
}
