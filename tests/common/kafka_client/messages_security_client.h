/*
 * The client side of protocol/messages_security.h: request encoders and response parsers for
 * SaslHandshake v0-1, SaslAuthenticate v0-2, DescribeAcls v0-3, CreateAcls v0-3 and
 * DeleteAcls v0-3. The broker never calls these; the unit tests and the fuzzer do. Conventions
 * are those of messages_client.h (encoders append a request body of that version; parsers read a
 * whole response body and return 0, TANDEM_EPROTO, TANDEM_EUNSUPPORTED or TANDEM_ETOOLARGE).
 */
#ifndef TANDEM_KAFKA_CLIENT_MESSAGES_SECURITY_CLIENT_H
#define TANDEM_KAFKA_CLIENT_MESSAGES_SECURITY_CLIENT_H

#include "base/kbuf.h"
#include "protocol/messages_security.h"

void kafka_encode_sasl_handshake_request(struct kw *w, int16_t version,
                                         const struct sasl_handshake_req *req);
int kafka_parse_sasl_handshake_response(struct kr *r, int16_t version, struct arena *a,
                                        struct sasl_handshake_resp *out);

void kafka_encode_sasl_authenticate_request(struct kw *w, int16_t version,
                                            const struct sasl_authenticate_req *req);
int kafka_parse_sasl_authenticate_response(struct kr *r, int16_t version, struct arena *a,
                                           struct sasl_authenticate_resp *out);

void kafka_encode_describe_acls_request(struct kw *w, int16_t version,
                                        const struct describe_acls_req *req);
int kafka_parse_describe_acls_response(struct kr *r, int16_t version, struct arena *a,
                                       struct describe_acls_resp *out);

void kafka_encode_create_acls_request(struct kw *w, int16_t version,
                                      const struct create_acls_req *req);
int kafka_parse_create_acls_response(struct kr *r, int16_t version, struct arena *a,
                                     struct create_acls_resp *out);

void kafka_encode_delete_acls_request(struct kw *w, int16_t version,
                                      const struct delete_acls_req *req);
int kafka_parse_delete_acls_response(struct kr *r, int16_t version, struct arena *a,
                                     struct delete_acls_resp *out);

#endif
