/*
 * The security APIs tandem-broker does not implement but answers, so a client fails at once
 * instead of retrying to a timeout: SaslHandshake v0-1, SaslAuthenticate v0-2, DescribeAcls v0-3,
 * CreateAcls v0-3, DeleteAcls v0-3. The broker answers them the way Apache Kafka answers them on
 * a PLAINTEXT listener without an authorizer (KafkaApis / AclApis): SASL requests get
 * ILLEGAL_SASL_STATE, ACL requests SECURITY_DISABLED. The requests are parsed whole (every
 * field, so a malformed one closes the connection like any other), and the responses carry one
 * result per creation or filter, as Kafka's getErrorResponse does.
 *
 * Same conventions as messages.h (Apache Kafka clients/src/main/resources/common/message/
 * <Name>Request.json and <Name>Response.json; "vN+" marks a field present from version N;
 * strings and bytes borrow from the frame; arrays come from the arena). The ACL APIs are
 * flexible (compact lengths, tagged fields) from v2, SaslAuthenticate from v2, SaslHandshake
 * never.
 */
#ifndef TANDEM_PROTOCOL_MESSAGES_SECURITY_H
#define TANDEM_PROTOCOL_MESSAGES_SECURITY_H

#include "protocol/messages.h"

/* ---- SaslHandshake (17), v0-1 -----------------------------------------------------------------
 */

struct sasl_handshake_req {
    struct kstr mechanism;
};

struct sasl_handshake_resp {
    int16_t error_code;
    int32_t nmechanisms;
    const struct kstr *mechanisms;
};

/* ---- SaslAuthenticate (36), v0-2 --------------------------------------------------------------
 */

struct sasl_authenticate_req {
    struct kbytes auth_bytes;
};

struct sasl_authenticate_resp {
    int16_t error_code;
    struct kstr error_message; /* nullable */
    struct kbytes auth_bytes;
    int64_t session_lifetime_ms; /* v1+ */
};

/* ---- ACL bindings and filters (CreateAcls creations, DescribeAcls and DeleteAcls filters) -----
 */

struct acl_binding {
    int8_t resource_type;
    struct kstr resource_name; /* nullable in filters */
    int8_t pattern_type;       /* v1+, default 3 (LITERAL) */
    struct kstr principal;     /* nullable in filters */
    struct kstr host;          /* nullable in filters */
    int8_t operation;
    int8_t permission_type;
};

/* DescribeAcls (29): one filter. */
struct describe_acls_req {
    struct acl_binding filter;
};

struct describe_acls_resp {
    int32_t throttle_time_ms;
    int16_t error_code;
    struct kstr error_message; /* nullable */
    int32_t nresources;        /* parsed by the client; the broker always writes none */
};

/* CreateAcls (30): creations. */
struct create_acls_req {
    int32_t ncreations;
    struct acl_binding *creations;
};

/* One result per creation (CreateAcls) or per filter (DeleteAcls; its MatchingAcls are always
 * empty here). */
struct acl_result {
    int16_t error_code;
    struct kstr error_message; /* nullable */
    int32_t nmatching_acls;    /* DeleteAcls: parsed by the client; the broker writes none */
};

struct create_acls_resp {
    int32_t throttle_time_ms;
    int32_t nresults;
    const struct acl_result *results;
};

/* DeleteAcls (31): filters. */
struct delete_acls_req {
    int32_t nfilters;
    struct acl_binding *filters;
};

struct delete_acls_resp {
    int32_t throttle_time_ms;
    int32_t nresults;
    const struct acl_result *results;
};

/* Parsers return 0, TANDEM_EPROTO (malformed), TANDEM_EUNSUPPORTED (version) or
 * TANDEM_ETOOLARGE (arena). Encoders write the body of the given version. */
int kafka_parse_sasl_handshake_request(struct kr *r, int16_t version, struct arena *a,
                                       struct sasl_handshake_req *out);
void kafka_encode_sasl_handshake_response(struct kw *w, int16_t version,
                                          const struct sasl_handshake_resp *resp);
int kafka_parse_sasl_authenticate_request(struct kr *r, int16_t version, struct arena *a,
                                          struct sasl_authenticate_req *out);
void kafka_encode_sasl_authenticate_response(struct kw *w, int16_t version,
                                             const struct sasl_authenticate_resp *resp);
int kafka_parse_describe_acls_request(struct kr *r, int16_t version, struct arena *a,
                                      struct describe_acls_req *out);
void kafka_encode_describe_acls_response(struct kw *w, int16_t version,
                                         const struct describe_acls_resp *resp);
int kafka_parse_create_acls_request(struct kr *r, int16_t version, struct arena *a,
                                    struct create_acls_req *out);
void kafka_encode_create_acls_response(struct kw *w, int16_t version,
                                       const struct create_acls_resp *resp);
int kafka_parse_delete_acls_request(struct kr *r, int16_t version, struct arena *a,
                                    struct delete_acls_req *out);
void kafka_encode_delete_acls_response(struct kw *w, int16_t version,
                                       const struct delete_acls_resp *resp);

#endif
