/*
 * Shorthands for writing schema tables (schema.h): one line per field, in the order of the
 * field in Kafka's <Name>.json, with its versions ("versions"), the first version where it may
 * be null ("nullableVersions", NEVER when it never may), its default ("default"), and the C
 * member it lives in.
 *
 *   FLD(type, lo, hi, nullable, S, member, default)     a scalar, string, bytes or records field
 *   DROP(type, lo, hi, nullable, default)              read and dropped, written as default
 *   ARR(lo, hi, nullable, S, member, count, elem)      []Struct, elem a struct schema_struct
 *   PARR(type, lo, hi, nullable, S, member, count)     []int32, []int64, []string
 *   TAG(type, lo, hi, nullable, tag, S, member, default)  a tagged scalar or string
 *   TDROP(type, lo, hi, nullable, tag)                 a known tagged field tandem drops
 *   RECS(lo, hi, nullable, S, member, ext, ext_len)    records, maybe external (Fetch)
 *
 * V is "and every later version" (the "N+" of the JSON).
 */
#ifndef TANDEM_PROTOCOL_SCHEMA_INT_H
#define TANDEM_PROTOCOL_SCHEMA_INT_H

#include <stddef.h>

#include "protocol/schema.h"

#define V     SCHEMA_VMAX
#define NEVER SCHEMA_VMAX

#define FLD(t, lo, hi, nul, S, m, d)                                           \
    {                                                                          \
        .type = (t), .vmin = (lo), .vmax = (hi), .nullable = (nul), .tag = -1, \
        .off = offsetof(S, m), .dflt = (d)                                     \
    }
#define DROP(t, lo, hi, nul, d)                                                                    \
    {                                                                                              \
        .type = (t), .vmin = (lo), .vmax = (hi), .nullable = (nul), .tag = -1, .off = SCHEMA_NONE, \
        .dflt = (d)                                                                                \
    }
#define ARR(lo, hi, nul, S, m, n, el)                                               \
    {                                                                               \
        .type = ST_ARRAY, .vmin = (lo), .vmax = (hi), .nullable = (nul), .tag = -1, \
        .off = offsetof(S, m), .n_off = offsetof(S, n), .elem = &(el)               \
    }
#define ARRF(lo, hi, nul, fl, S, m, n, el)                                                         \
    {                                                                                              \
        .type = ST_ARRAY, .vmin = (lo), .vmax = (hi), .nullable = (nul), .tag = -1, .flags = (fl), \
        .off = offsetof(S, m), .n_off = offsetof(S, n), .elem = &(el)                              \
    }
#define DROPARR(lo, hi, nul, el)                                                    \
    {                                                                               \
        .type = ST_ARRAY, .vmin = (lo), .vmax = (hi), .nullable = (nul), .tag = -1, \
        .off = SCHEMA_NONE, .elem = &(el)                                           \
    }
#define PARR(t, lo, hi, nul, S, m, n)                                          \
    {                                                                          \
        .type = (t), .vmin = (lo), .vmax = (hi), .nullable = (nul), .tag = -1, \
        .off = offsetof(S, m), .n_off = offsetof(S, n)                         \
    }
#define TAG(t, lo, hi, nul, tg, S, m, d)                                         \
    {                                                                            \
        .type = (t), .vmin = (lo), .vmax = (hi), .nullable = (nul), .tag = (tg), \
        .off = offsetof(S, m), .dflt = (d)                                       \
    }
#define TDROP(t, lo, hi, nul, tg, d)                                             \
    {                                                                            \
        .type = (t), .vmin = (lo), .vmax = (hi), .nullable = (nul), .tag = (tg), \
        .off = SCHEMA_NONE, .dflt = (d)                                          \
    }
#define RECS(lo, hi, nul, S, m, ext, extlen)                                             \
    {                                                                                    \
        .type = ST_RECORDS, .vmin = (lo), .vmax = (hi), .nullable = (nul), .tag = -1,    \
        .off = offsetof(S, m), .n_off = offsetof(S, extlen), .ext_off = offsetof(S, ext) \
    }

#endif
