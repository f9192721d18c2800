/*
 * tandem error codes.
 *
 * Every tandem function that can fail returns int: 0 on success, a negative TANDEM_E* code
 * otherwise; results go through out-parameters. The codes come from one X-macro table so that
 * the enum and tandem_strerror() can never disagree. Kafka's own ErrorCode values are protocol
 * data (an int16 on the wire) and live in a separate enum in the broker; they are never mixed
 * with these.
 */
#ifndef TANDEM_ERROR_H
#define TANDEM_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define TANDEM_EXPORT __attribute__((visibility("default")))
#else
#define TANDEM_EXPORT
#endif

/* X(name, value, message) */
#define TANDEM_ERRNO_MAP(X)                                         \
    X(EINVAL, -1, "invalid argument")                               \
    X(ENOMEM, -2, "out of memory")                                  \
    X(EIO, -3, "I/O error")                                         \
    X(EAGAIN, -4, "more input needed")                              \
    X(ENOENT, -5, "no such entity")                                 \
    X(EEXIST, -6, "already exists")                                 \
    X(ERANGE, -7, "value out of range")                             \
    X(ECORRUPT, -8, "corrupt data (bad length, magic or checksum)") \
    X(ETOOLARGE, -9, "too large")                                   \
    X(EDUPSEQ, -10, "duplicate sequence number")                    \
    X(EOUTOFORDER, -11, "out of order sequence number")             \
    X(EFENCED, -12, "producer epoch is stale")                      \
    X(EUNSUPPORTED, -13, "unsupported")                             \
    X(ECLOSED, -14, "closed")                                       \
    X(ETIMEDOUT, -15, "timed out")                                  \
    X(ENOSPC, -16, "no space left")                                 \
    X(EPROTO, -17, "protocol error")

enum tandem_errno {
#define TANDEM_ERRNO_ENUM(name, value, msg) TANDEM_##name = (value),
    TANDEM_ERRNO_MAP(TANDEM_ERRNO_ENUM)
#undef TANDEM_ERRNO_ENUM
};

/* Returns a static, human-readable description of a TANDEM_E* code (or "unknown error"). */
TANDEM_EXPORT const char *tandem_strerror(int err);

/* Called when an allocation fails; the default prints a message and aborts. Replaceable for
 * tests or embedding. Never returns. */
typedef void (*tandem_oom_fn)(size_t size);
TANDEM_EXPORT void tandem_set_oom_handler(tandem_oom_fn fn);

#ifdef __cplusplus
}
#endif
#endif
