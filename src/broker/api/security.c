/*
 * Features tandem-broker does not have, answered the way Apache Kafka answers them when they are
 * off, so a client fails at once with a clear error instead of waiting for a timeout:
 *
 *   SaslHandshake (17), SaslAuthenticate (36)   ILLEGAL_SASL_STATE, no mechanisms: what Kafka's
 *       KafkaApis answers on a PLAINTEXT listener (handleSaslHandshakeRequest,
 *       handleSaslAuthenticateRequest); a SASL client (security.protocol=SASL_*) stops there.
 *   DescribeAcls (29)   SECURITY_DISABLED, "No Authorizer is configured on the broker", no
 *       resources (Kafka's AclApis with no authorizer).
 *   CreateAcls (30), DeleteAcls (31)   SECURITY_DISABLED, "No Authorizer is configured.", once
 *       per creation or filter (the requests' getErrorResponse).
 *
 * The table marks these entries disabled, so ApiVersions does not advertise them (table.c says
 * why). Each request is parsed whole first: a malformed one closes the connection like any other.
 */
#include "api/api.h"
#include "protocol/messages_security.h"

void handle_sasl_handshake(struct request *req)
{
    int16_t ver = req->hdr.request_api_version;
    struct sasl_handshake_req in;
    if (kafka_parse_sasl_handshake_request(&req->body, ver, &req->arena, &in)) {
        request_fail(req, "malformed SaslHandshake request");
        return;
    }
    struct sasl_handshake_resp resp = {.error_code = KAFKA_ILLEGAL_SASL_STATE};
    struct kw w;
    request_begin_response(req, &w);
    kafka_encode_sasl_handshake_response(&w, ver, &resp);
    request_respond(req, &w);
}

void handle_sasl_authenticate(struct request *req)
{
    int16_t ver = req->hdr.request_api_version;
    struct sasl_authenticate_req in;
    if (kafka_parse_sasl_authenticate_request(&req->body, ver, &req->arena, &in)) {
        request_fail(req, "malformed SaslAuthenticate request");
        return;
    }
    struct sasl_authenticate_resp resp = {
        .error_code = KAFKA_ILLEGAL_SASL_STATE,
        .error_message = KSTR("SASL is not enabled on this listener"),
        .auth_bytes = {(const uint8_t *)"", 0},
    };
    struct kw w;
    request_begin_response(req, &w);
    kafka_encode_sasl_authenticate_response(&w, ver, &resp);
    request_respond(req, &w);
}

void handle_describe_acls(struct request *req)
{
    int16_t ver = req->hdr.request_api_version;
    struct describe_acls_req in;
    if (kafka_parse_describe_acls_request(&req->body, ver, &req->arena, &in)) {
        request_fail(req, "malformed DescribeAcls request");
        return;
    }
    struct describe_acls_resp resp = {
        .error_code = KAFKA_SECURITY_DISABLED,
        .error_message = KSTR("No Authorizer is configured on the broker"),
    };
    struct kw w;
    request_begin_response(req, &w);
    kafka_encode_describe_acls_response(&w, ver, &resp);
    request_respond(req, &w);
}

/* One SECURITY_DISABLED result per creation or filter, from the arena; NULL when out of room. */
static struct acl_result *disabled_results(struct request *req, int32_t n)
{
    struct acl_result *r = arena_array(&req->arena, (size_t)(n > 0 ? n : 1), sizeof(*r));
    for (int32_t i = 0; r && i < n; i++)
        r[i] = (struct acl_result){.error_code = KAFKA_SECURITY_DISABLED,
                                   .error_message = KSTR("No Authorizer is configured.")};
    return r;
}

void handle_create_acls(struct request *req)
{
    int16_t ver = req->hdr.request_api_version;
    struct create_acls_req in;
    if (kafka_parse_create_acls_request(&req->body, ver, &req->arena, &in)) {
        request_fail(req, "malformed CreateAcls request");
        return;
    }
    struct create_acls_resp resp = {.nresults = in.ncreations};
    resp.results = disabled_results(req, in.ncreations);
    if (!resp.results) {
        request_fail(req, "CreateAcls request too large");
        return;
    }
    struct kw w;
    request_begin_response(req, &w);
    kafka_encode_create_acls_response(&w, ver, &resp);
    request_respond(req, &w);
}

void handle_delete_acls(struct request *req)
{
    int16_t ver = req->hdr.request_api_version;
    struct delete_acls_req in;
    if (kafka_parse_delete_acls_request(&req->body, ver, &req->arena, &in)) {
        request_fail(req, "malformed DeleteAcls request");
        return;
    }
    struct delete_acls_resp resp = {.nresults = in.nfilters};
    resp.results = disabled_results(req, in.nfilters);
    if (!resp.results) {
        request_fail(req, "DeleteAcls request too large");
        return;
    }
    struct kw w;
    request_begin_response(req, &w);
    kafka_encode_delete_acls_response(&w, ver, &resp);
    request_respond(req, &w);
}
