/*
 * Codecs of the security APIs the broker answers as disabled (messages_security.h). Each codec
 * names its spec file: Apache Kafka clients/src/main/resources/common/message/<Name>.json. In
 * flexible versions (ACL APIs v2+, SaslAuthenticate v2+) strings, bytes and arrays carry compact
 * (unsigned varint N+1) lengths and every structure ends with a tagged-field section; unknown
 * tagged fields are skipped, as KIP-482 requires.
 */
#include <string.h>

#include "protocol/messages_int.h"
#include "protocol/messages_security.h"

/* ---- flexible-aware primitives ----------------------------------------------------------------
 */

static struct kstr rd_str(struct kr *r, bool flex, bool nullable)
{
    struct kstr s = flex ? kr_compact_string(r) : kr_string(r);
    if (s.len < 0 && !nullable && !r->err) {
        r->err = TANDEM_EPROTO;
        r->p = r->end;
    }
    return s;
}

static void wr_str(struct kw *w, bool flex, struct kstr s)
{
    if (flex)
        kw_compact_string(w, s);
    else
        kw_string(w, s);
}

static int32_t rd_array(struct kr *r, bool flex, size_t min_elem)
{
    return flex ? msg_compact_array(r, min_elem) : msg_array(r, min_elem);
}

static void wr_array(struct kw *w, bool flex, int32_t n)
{
    if (flex)
        kw_compact_array(w, n);
    else
        kw_array(w, n);
}

static void rd_tags(struct kr *r, bool flex)
{
    if (flex)
        kr_tagged_fields(r);
}

static void wr_tags(struct kw *w, bool flex)
{
    if (flex)
        kw_empty_tagged_fields(w);
}

/* ---- SaslHandshake (SaslHandshakeRequest.json / SaslHandshakeResponse.json), v0-1 --------------
 *
 * Request:  mechanism STRING.
 * Response: error_code INT16, mechanisms [STRING].
 * v1 only changes what follows on the connection (SaslAuthenticate frames), not these bytes.
 */

int kafka_parse_sasl_handshake_request(struct kr *r, int16_t version, struct arena *a,
                                       struct sasl_handshake_req *out)
{
    (void)a;
    if (version < 0 || version > 1)
        return TANDEM_EUNSUPPORTED;
    out->mechanism = msg_string(r);
    return msg_end(r);
}

void kafka_encode_sasl_handshake_response(struct kw *w, int16_t version,
                                          const struct sasl_handshake_resp *resp)
{
    (void)version;
    kw_i16(w, resp->error_code);
    kw_array(w, resp->nmechanisms);
    for (int32_t i = 0; i < resp->nmechanisms; i++)
        kw_string(w, resp->mechanisms[i]);
}

/* ---- SaslAuthenticate (SaslAuthenticateRequest.json / SaslAuthenticateResponse.json), v0-2 -----
 *
 * Request:  auth_bytes BYTES; (v2 flexible: COMPACT_BYTES, tagged fields).
 * Response: error_code INT16, error_message NULLABLE_STRING, auth_bytes BYTES,
 *           session_lifetime_ms INT64 (v1+); (v2: compact, tagged fields).
 */

int kafka_parse_sasl_authenticate_request(struct kr *r, int16_t version, struct arena *a,
                                          struct sasl_authenticate_req *out)
{
    (void)a;
    if (version < 0 || version > 2)
        return TANDEM_EUNSUPPORTED;
    bool flex = version >= 2;
    out->auth_bytes = flex ? kr_compact_bytes(r) : kr_bytes(r);
    if (out->auth_bytes.len < 0 && !r->err)
        return TANDEM_EPROTO; /* not nullable */
    rd_tags(r, flex);
    return msg_end(r);
}

void kafka_encode_sasl_authenticate_response(struct kw *w, int16_t version,
                                             const struct sasl_authenticate_resp *resp)
{
    bool flex = version >= 2;
    kw_i16(w, resp->error_code);
    wr_str(w, flex, resp->error_message);
    if (flex)
        kw_compact_bytes(w, resp->auth_bytes);
    else
        kw_bytes(w, resp->auth_bytes);
    if (version >= 1)
        kw_i64(w, resp->session_lifetime_ms);
    wr_tags(w, flex);
}

/* ---- ACL bindings ------------------------------------------------------------------------------
 *
 * CreateAclsRequest.json Creations[] and DeleteAclsRequest.json Filters[] (and DescribeAcls'
 * top-level filter) share one layout:
 *   resource_type INT8, resource_name STRING (nullable in filters), pattern_type INT8 (v1+),
 *   principal STRING (nullable in filters), host STRING (nullable in filters), operation INT8,
 *   permission_type INT8; (v2+ flexible: compact strings, tagged fields after each element).
 * Smallest element: 3 int8 + 3 empty strings (2 bytes each, 1 compact) + pattern type.
 */

static void rd_binding(struct kr *r, int16_t version, bool filter, struct acl_binding *b)
{
    bool flex = version >= 2;
    b->resource_type = kr_i8(r);
    b->resource_name = rd_str(r, flex, filter);
    b->pattern_type = version >= 1 ? kr_i8(r) : 3;
    b->principal = rd_str(r, flex, filter);
    b->host = rd_str(r, flex, filter);
    b->operation = kr_i8(r);
    b->permission_type = kr_i8(r);
}

#define W_BINDING 6 /* 3 INT8 + 3 STRING lengths in their smallest (compact) form */

static int parse_bindings(struct kr *r, int16_t version, struct arena *a, bool filter, int32_t *n,
                          struct acl_binding **out)
{
    int rc = 0;
    if (version < 0 || version > 3)
        return TANDEM_EUNSUPPORTED;
    bool flex = version >= 2;
    *n = rd_array(r, flex, W_BINDING);
    MSG_ALLOC(a, *n, *out, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < *n; i++) {
        rd_binding(r, version, filter, &(*out)[i]);
        rd_tags(r, flex);
    }
    rd_tags(r, flex);
    return msg_end(r);
}

/* ---- DescribeAcls (DescribeAclsRequest.json / DescribeAclsResponse.json), v0-3 -----------------
 *
 * Request:  one filter (the binding layout above, names nullable); tagged fields (v2+).
 * Response: throttle_time_ms INT32, error_code INT16, error_message NULLABLE_STRING,
 *           resources [resource_type INT8, resource_name STRING, pattern_type INT8 (v1+),
 *           acls [principal, host, operation, permission_type]]: always empty here.
 */

int kafka_parse_describe_acls_request(struct kr *r, int16_t version, struct arena *a,
                                      struct describe_acls_req *out)
{
    (void)a;
    if (version < 0 || version > 3)
        return TANDEM_EUNSUPPORTED;
    rd_binding(r, version, true, &out->filter);
    rd_tags(r, version >= 2);
    return msg_end(r);
}

void kafka_encode_describe_acls_response(struct kw *w, int16_t version,
                                         const struct describe_acls_resp *resp)
{
    bool flex = version >= 2;
    kw_i32(w, resp->throttle_time_ms);
    kw_i16(w, resp->error_code);
    wr_str(w, flex, resp->error_message);
    wr_array(w, flex, 0);
    wr_tags(w, flex);
}

/* ---- CreateAcls (CreateAclsRequest.json / CreateAclsResponse.json), v0-3 -----------------------
 *
 * Request:  creations [binding, names not nullable].
 * Response: throttle_time_ms INT32, results [error_code INT16, error_message NULLABLE_STRING].
 */

int kafka_parse_create_acls_request(struct kr *r, int16_t version, struct arena *a,
                                    struct create_acls_req *out)
{
    memset(out, 0, sizeof(*out));
    return parse_bindings(r, version, a, false, &out->ncreations, &out->creations);
}

static void encode_results(struct kw *w, bool flex, int32_t n, const struct acl_result *res,
                           bool matching_acls)
{
    wr_array(w, flex, n);
    for (int32_t i = 0; i < n; i++) {
        kw_i16(w, res[i].error_code);
        wr_str(w, flex, res[i].error_message);
        if (matching_acls)
            wr_array(w, flex, 0);
        wr_tags(w, flex);
    }
}

void kafka_encode_create_acls_response(struct kw *w, int16_t version,
                                       const struct create_acls_resp *resp)
{
    bool flex = version >= 2;
    kw_i32(w, resp->throttle_time_ms);
    encode_results(w, flex, resp->nresults, resp->results, false);
    wr_tags(w, flex);
}

/* ---- DeleteAcls (DeleteAclsRequest.json / DeleteAclsResponse.json), v0-3 -----------------------
 *
 * Request:  filters [binding, names nullable].
 * Response: throttle_time_ms INT32, filter_results [error_code INT16, error_message
 *           NULLABLE_STRING, matching_acls [...]: always empty here].
 */

int kafka_parse_delete_acls_request(struct kr *r, int16_t version, struct arena *a,
                                    struct delete_acls_req *out)
{
    memset(out, 0, sizeof(*out));
    return parse_bindings(r, version, a, true, &out->nfilters, &out->filters);
}

void kafka_encode_delete_acls_response(struct kw *w, int16_t version,
                                       const struct delete_acls_resp *resp)
{
    bool flex = version >= 2;
    kw_i32(w, resp->throttle_time_ms);
    encode_results(w, flex, resp->nresults, resp->results, true);
    wr_tags(w, flex);
}
