/*
 * The integration check programs' one assertion (lib-events-check, lib-store-check,
 * lib-store-multi-check, fleet-check): CHECK(cond, fmt, ...) prints "FAIL file:line: message" and
 * counts the failure, and the program goes on, so one run shows every broken expectation; main
 * exits non-zero when failures is not 0.
 */
#ifndef TANDEM_IT_CHECK_H
#define TANDEM_IT_CHECK_H

#include <stdio.h>

static int failures;
#define CHECK(cond, ...)                                         \
    do {                                                         \
        if (!(cond)) {                                           \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                        \
            fputc('\n', stderr);                                 \
            failures++;                                          \
        }                                                        \
    } while (0)

#endif
