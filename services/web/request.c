/*
 * request.c: what the web service believes of a request: its path and its Accept-Encoding.
 *
 * Pure functions over strings, no allocation, fuzzed (tests/fuzz/fuzz_web.c).
 *
 * The path check is a second wall: files are looked up by exact path in a table made at start
 * (files.c), so a path cannot reach a file that is not in it. Still, a target that only an
 * attack or a broken client sends (an encoded slash, a dot segment in any encoding, a NUL, a
 * backslash, a control byte) is refused with 400 before anything else, so the logs say so and
 * the single-page fallback never answers 200 to it.
 */
#include <string.h>
#include <strings.h>

#include "web.h"

static int hex(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

bool web_path_ok(const char *path)
{
    if (path == NULL || path[0] != '/') {
        return false;
    }
    size_t seg_len = 0;   /* decoded bytes in the current segment */
    bool seg_dots = true; /* ...all of them '.' */
    for (const unsigned char *p = (const unsigned char *)path + 1;; p++) {
        unsigned int c = *p;
        if (c == '\0' || c == '/') {
            if (seg_dots && (seg_len == 1 || seg_len == 2)) {
                return false; /* "." or ".." */
            }
            if (c == '\0') {
                return true;
            }
            seg_len = 0;
            seg_dots = true;
            continue;
        }
        if (c == '%') {
            int hi = hex(p[1]);
            int lo = hi < 0 ? -1 : hex(p[2]);
            if (lo < 0) {
                return false;
            }
            c = (unsigned int)(hi * 16 + lo);
            p += 2;
            if (c == '\0' || c == '/' || c == '\\') {
                return false;
            }
        }
        if (c < 0x20 || c == 0x7f || c == '\\') {
            return false;
        }
        seg_len++;
        seg_dots = seg_dots && c == '.';
    }
}

/* Skips optional white space (SP, HTAB). */
static const char *ows(const char *p)
{
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    return p;
}

/* Parses a qvalue (RFC 9110 §12.4.2: "0" [ "." 0*3DIGIT ] / "1" [ "." 0*3("0") ]) at p into
 * thousandths; returns the end, or NULL when it is not one. */
static const char *qvalue(const char *p, int *q)
{
    if (*p != '0' && *p != '1') {
        return NULL;
    }
    int v = (*p - '0') * 1000;
    p++;
    if (*p == '.') {
        p++;
        int scale = 100;
        for (int i = 0; i < 3 && *p >= '0' && *p <= '9'; i++, p++) {
            v += (*p - '0') * scale;
            scale /= 10;
        }
    }
    if (v > 1000) {
        return NULL;
    }
    *q = v;
    return p;
}

bool web_accepts_gzip(const char *field)
{
    if (field == NULL) {
        return false;
    }
    int gzip_q = -1, star_q = -1;
    const char *p = field;
    while (*p != '\0') {
        p = ows(p);
        const char *name = p;
        while (*p != '\0' && *p != ',' && *p != ';' && *p != ' ' && *p != '\t') {
            p++;
        }
        size_t name_len = (size_t)(p - name);
        int q = 1000;
        bool bad = false;
        p = ows(p);
        while (*p == ';') { /* parameters: only q counts */
            p = ows(p + 1);
            if ((*p == 'q' || *p == 'Q') && p[1] == '=') {
                const char *end = qvalue(p + 2, &q);
                if (end == NULL) {
                    bad = true;
                    end = p + 2;
                }
                p = end;
            }
            while (*p != '\0' && *p != ',' && *p != ';') {
                if (*p != ' ' && *p != '\t') {
                    bad = true; /* junk after a parameter */
                }
                p++;
            }
        }
        if (*p != '\0' && *p != ',') {
            bad = true;
            while (*p != '\0' && *p != ',') {
                p++;
            }
        }
        if (!bad) {
            if ((name_len == 4 && strncasecmp(name, "gzip", 4) == 0) ||
                (name_len == 6 && strncasecmp(name, "x-gzip", 6) == 0)) {
                gzip_q = gzip_q < 0 ? q : (q > gzip_q ? q : gzip_q);
            } else if (name_len == 1 && name[0] == '*') {
                star_q = q;
            }
        }
        if (*p == ',') {
            p++;
        }
    }
    if (gzip_q >= 0) {
        return gzip_q > 0;
    }
    return star_q > 0;
}

static const struct {
    const char *ext, *type;
} TYPES[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".webp", "image/webp"},
    {".ico", "image/x-icon"},
    {".json", "application/json"},
    {".webmanifest", "application/manifest+json"},
    {".txt", "text/plain; charset=utf-8"},
    {".woff2", "font/woff2"},
    {".map", "application/json"},
};

const char *web_content_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    const char *slash = strrchr(name, '/');
    if (dot != NULL && (slash == NULL || dot > slash)) {
        for (size_t i = 0; i < sizeof(TYPES) / sizeof(TYPES[0]); i++) {
            if (strcasecmp(dot, TYPES[i].ext) == 0) {
                return TYPES[i].type;
            }
        }
    }
    return "application/octet-stream";
}
