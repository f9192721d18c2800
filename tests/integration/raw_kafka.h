/*
 * Raw Kafka over TCP for the integration programs that send what no real client sends
 * (bad_input.c: kafka-bad-input, group_bad.c: group-bad): blocking sockets to 127.0.0.1, every
 * read bounded by a deadline on the monotonic clock so that a broker that neither answers nor
 * closes fails the test instead of hanging it. Building the frames is the caller's business;
 * this file only moves bytes and cuts the stream into frames:
 *
 *   OFFSET SIZE FIELD                (any Kafka response, "Common Request and Response Structure")
 *   0      4    Size (bytes after this field, big-endian)
 *   4      Size correlation_id INT32, header tagged fields if flexible, body
 *
 * Nothing here allocates; functions return 0 (or a length) and small negative numbers, as each
 * one documents, never TANDEM_E* codes (these are test programs, not the library).
 */
#ifndef TANDEM_IT_RAW_KAFKA_H
#define TANDEM_IT_RAW_KAFKA_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

/* Milliseconds on the monotonic clock (for deadlines). */
int64_t raw_now_ms(void);

/* Connects to addr with TCP_NODELAY. Returns the fd, or -1 with "<who>: connect: <reason>" on
 * stderr. */
int raw_connect(const struct sockaddr_in *addr, const char *who);

/* Sends all n bytes (never SIGPIPE). Returns 0, or -1 when the connection failed. */
int raw_send_all(int fd, const void *p, size_t n);

/* Reads exactly n bytes before deadline (raw_now_ms() time). Returns 0, 1 when the peer closed
 * (EOF or reset), -1 on timeout or another error. */
int raw_recv_exact(int fd, uint8_t *p, size_t n, int64_t deadline);

/* Reads one frame's Size and then its bytes into buf (cap bytes), within timeout_ms. Returns the
 * frame's length (the bytes after Size), -1 on timeout, -2 when the peer closed the connection,
 * -3 when the frame is larger than cap (its bytes are left unread). */
int raw_recv_frame(int fd, uint8_t *buf, size_t cap, int timeout_ms);

/* Waits until the peer closes fd, discarding anything it sends. Returns 0 when it closed within
 * timeout_ms, -1 otherwise. */
int raw_wait_closed(int fd, int timeout_ms);

#endif
