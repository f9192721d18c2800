/*
 * CRC-32C vectors: RFC 3720 (iSCSI) appendix B.4, and the usual check value of "123456789".
 * Both the dispatching crc32c() (SSE4.2 when the CPU has it) and the portable crc32c_sw() must
 * give them, at every alignment and split, so the two paths can never disagree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/crc32c.h"

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

struct vector {
    uint8_t data[32];
    size_t len;
    uint32_t crc;
};

static void fill_vectors(struct vector v[5])
{
    memset(v, 0, 5 * sizeof(v[0]));
    v[0].len = 32; /* 32 bytes of zeros */
    v[0].crc = 0x8A9136AA;
    memset(v[1].data, 0xff, 32); /* 32 bytes of ones */
    v[1].len = 32;
    v[1].crc = 0x62A8AB43;
    for (int i = 0; i < 32; i++) {
        v[2].data[i] = (uint8_t)i;      /* 32 incrementing bytes */
        v[3].data[i] = (uint8_t)31 - i; /* 32 decrementing bytes */
    }
    v[2].len = v[3].len = 32;
    v[2].crc = 0x46DD794E;
    v[3].crc = 0x113FDB5C;
    memcpy(v[4].data, "123456789", 9);
    v[4].len = 9;
    v[4].crc = 0xE3069283;
}

static void check_fn(crc_fn fn)
{
    struct vector v[5];
    uint8_t buf[64];
    fill_vectors(v);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(fn(0, v[i].data, v[i].len), v[i].crc);
        for (size_t off = 1; off < 16; off++) { /* unaligned starts */
            memcpy(buf + off, v[i].data, v[i].len);
            assert_int_equal(fn(0, buf + off, v[i].len), v[i].crc);
        }
        for (size_t cut = 0; cut <= v[i].len; cut++) { /* continuation */
            uint32_t c = fn(0, v[i].data, cut);
            assert_int_equal(fn(c, v[i].data + cut, v[i].len - cut), v[i].crc);
        }
    }
    assert_int_equal(fn(0, NULL, 0), 0);
}

static void test_crc32c_dispatch(void **state)
{
    (void)state;
    check_fn(crc32c);
}

static void test_crc32c_sw(void **state)
{
    (void)state;
    check_fn(crc32c_sw);
}

static void test_paths_agree(void **state)
{
    (void)state;
    uint8_t buf[4096];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(buf); i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
    for (size_t len = 0; len < sizeof(buf); len += 97)
        assert_int_equal(crc32c(0, buf + 3, len), crc32c_sw(0, buf + 3, len));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_dispatch),
        cmocka_unit_test(test_crc32c_sw),
        cmocka_unit_test(test_paths_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
