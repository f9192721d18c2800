/*
 * libFuzzer target for what tandem-web believes of a request (services/web/request.c): the path
 * check that guards the files and the single-page fallback, and the Accept-Encoding parser.
 *
 * The input's first byte chooses the function, the rest is the NUL-terminated string it gets.
 * Invariants checked, beyond "no crash, no sanitizer report":
 *   - web_path_ok agrees with a second, plainer implementation here (split on '/', decode each
 *     segment whole, then judge it): a path is good exactly when both say so;
 *   - web_accepts_gzip is false for a field naming neither gzip nor '*' (no 'z' or '*' in it);
 *   - web_content_type always answers a type.
 * Seeds: tests/fuzz/corpus/web/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/web/request.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The reference: every segment decodes, and none decodes to "." or "..", or holds '/', '\\', a
 * control byte or DEL. */
static bool path_ok_reference(const char *path)
{
    if (path[0] != '/') {
        return false;
    }
    const char *seg = path + 1;
    for (;;) {
        size_t len = strcspn(seg, "/");
        char dec[4096];
        size_t n = 0;
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)seg[i];
            if (c == '%') {
                if (i + 2 >= len) {
                    return false; /* the escape runs past the segment */
                }
                int hi = hex((unsigned char)seg[i + 1]), lo = hex((unsigned char)seg[i + 2]);
                if (hi < 0 || lo < 0) {
                    return false;
                }
                c = (unsigned char)(hi * 16 + lo);
                i += 2;
            }
            if (c < 0x20 || c == 0x7f || c == '\\' || c == '/') {
                return false;
            }
            dec[n++] = (char)c;
        }
        if ((n == 1 && dec[0] == '.') || (n == 2 && dec[0] == '.' && dec[1] == '.')) {
            return false;
        }
        if (seg[len] == '\0') {
            return true;
        }
        seg += len + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 4000) {
        return 0;
    }
    char *s = malloc(size);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    switch (data[0] % 3) {
    case 0:
        if (web_path_ok(s) != path_ok_reference(s)) {
            abort();
        }
        break;
    case 1:
        if (strpbrk(s, "zZ*") == NULL && web_accepts_gzip(s)) {
            abort();
        }
        break;
    default:
        if (web_content_type(s) == NULL) {
            abort();
        }
        break;
    }
    free(s);
    return 0;
}
