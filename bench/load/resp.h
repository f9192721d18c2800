/*
 * resp.h: one HTTP/1.1 response out of the bytes of a keep-alive connection, for tandem-load.
 *
 * A thin layer over Debian's http-parser (the parser libtandem's server uses for requests), run
 * in response mode: status line, headers, Content-Length, chunked and read-until-close bodies
 * (RFC 9112 sections 4, 6, 7.1), HEAD answers without a body, 204/304 without a body, interim
 * 1xx answers skipped. The body is counted, and its first bytes copied when the caller gives a
 * buffer (tandem-ingest reads answers; tandem-load only counts).
 *
 * Model: the caller sends one request, calls load_resp_begin, then feeds every byte it reads
 * until load_resp_feed says the answer is complete. Bytes after the answer are not consumed
 * (*used says where it ended); with one request in flight they are a protocol error for the
 * caller to judge. End of stream is fed as len == 0: it completes an answer whose body runs to
 * the close, and is an error anywhere else.
 */
#ifndef TANDEM_LOAD_RESP_H
#define TANDEM_LOAD_RESP_H

#include <stdbool.h>
#include <stddef.h>

#include <http_parser.h>

struct load_resp {
    http_parser p;
    int status;        /* the final answer's status code, once headers are complete */
    bool head_request; /* the request was HEAD: the answer has no body whatever it says */
    bool started;      /* at least one byte of the answer has been consumed */
    bool headers_done; /* the final answer's headers are complete */
    bool done;         /* the final answer is complete */
    bool keep_alive;   /* the connection may carry another request (valid once done) */
    size_t body_bytes; /* body bytes seen (after chunked decoding) */
    char *body;        /* set after load_resp_begin to keep the body: its first body_cap bytes */
    size_t body_cap;   /* are copied there (NULL: counted only) */
};

/* Prepares r for the answer to one request (head_request: the request's method is HEAD). */
void load_resp_begin(struct load_resp *r, bool head_request);

/* Feeds len bytes (len == 0: the peer closed the connection). Returns 0 when the final answer is
 * complete (*used: the bytes it took from data; the rest belong to no answer), TANDEM_EAGAIN
 * when more bytes are needed (all were consumed), TANDEM_EPROTO when the bytes are not an HTTP/1
 * response (a status outside 100..599 included), an end of stream cut the answer short, or the
 * server switched protocols (101). */
int load_resp_feed(struct load_resp *r, const char *data, size_t len, size_t *used);

#endif
