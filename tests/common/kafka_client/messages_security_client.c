/*
 * Client direction of the security codecs (messages_security_client.h). Layouts: Apache Kafka
 * clients/src/main/resources/common/message/{SaslHandshake,SaslAuthenticate,DescribeAcls,
 * CreateAcls,DeleteAcls}{Request,Response}.json, as summarised in
 * src/broker/protocol/messages_security.c.
 */
#include <string.h>

#include "kafka_client/messages_security_client.h"
#include "protocol/messages_int.h"

static void wr_str(struct kw *w, bool flex, struct kstr s)
{
    if (flex)
        kw_compact_string(w, s);
    else
        kw_string(w, s);
}

static struct kstr rd_str(struct kr *r, bool flex, bool nullable)
{
    struct kstr s = flex ? kr_compact_string(r) : kr_string(r);
    if (s.len < 0 && !nullable && !r->err) {
        r->err = TANDEM_EPROTO;
        r->p = r->end;
    }
    return s;
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

/* ---- SaslHandshake ----------------------------------------------------------------------------
 */

void kafka_encode_sasl_handshake_request(struct kw *w, int16_t version,
                                         const struct sasl_handshake_req *req)
{
    (void)version;
    kw_string(w, req->mechanism);
}

int kafka_parse_sasl_handshake_response(struct kr *r, int16_t version, struct arena *a,
                                        struct sasl_handshake_resp *out)
{
    int rc = 0;
    if (version < 0 || version > 1)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->error_code = kr_i16(r);
    out->nmechanisms = msg_array(r, W_STR);
    struct kstr *m;
    MSG_ALLOC(a, out->nmechanisms, m, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->nmechanisms; i++)
        m[i] = msg_string(r);
    out->mechanisms = m;
    return msg_end(r);
}

/* ---- SaslAuthenticate -------------------------------------------------------------------------
 */

void kafka_encode_sasl_authenticate_request(struct kw *w, int16_t version,
                                            const struct sasl_authenticate_req *req)
{
    if (version >= 2) {
        kw_compact_bytes(w, req->auth_bytes);
        kw_empty_tagged_fields(w);
    } else {
        kw_bytes(w, req->auth_bytes);
    }
}

int kafka_parse_sasl_authenticate_response(struct kr *r, int16_t version, struct arena *a,
                                           struct sasl_authenticate_resp *out)
{
    (void)a;
    if (version < 0 || version > 2)
        return TANDEM_EUNSUPPORTED;
    bool flex = version >= 2;
    memset(out, 0, sizeof(*out));
    out->error_code = kr_i16(r);
    out->error_message = rd_str(r, flex, true);
    out->auth_bytes = flex ? kr_compact_bytes(r) : kr_bytes(r);
    if (out->auth_bytes.len < 0 && !r->err)
        return TANDEM_EPROTO;
    if (version >= 1)
        out->session_lifetime_ms = kr_i64(r);
    if (flex)
        kr_tagged_fields(r);
    return msg_end(r);
}

/* ---- ACLs -------------------------------------------------------------------------------------
 */

static void wr_binding(struct kw *w, int16_t version, const struct acl_binding *b)
{
    bool flex = version >= 2;
    kw_i8(w, b->resource_type);
    wr_str(w, flex, b->resource_name);
    if (version >= 1)
        kw_i8(w, b->pattern_type);
    wr_str(w, flex, b->principal);
    wr_str(w, flex, b->host);
    kw_i8(w, b->operation);
    kw_i8(w, b->permission_type);
}

static void wr_bindings(struct kw *w, int16_t version, int32_t n, const struct acl_binding *b)
{
    bool flex = version >= 2;
    wr_array(w, flex, n);
    for (int32_t i = 0; i < n; i++) {
        wr_binding(w, version, &b[i]);
        if (flex)
            kw_empty_tagged_fields(w);
    }
    if (flex)
        kw_empty_tagged_fields(w);
}

void kafka_encode_describe_acls_request(struct kw *w, int16_t version,
                                        const struct describe_acls_req *req)
{
    wr_binding(w, version, &req->filter);
    if (version >= 2)
        kw_empty_tagged_fields(w);
}

void kafka_encode_create_acls_request(struct kw *w, int16_t version,
                                      const struct create_acls_req *req)
{
    wr_bindings(w, version, req->ncreations, req->creations);
}

void kafka_encode_delete_acls_request(struct kw *w, int16_t version,
                                      const struct delete_acls_req *req)
{
    wr_bindings(w, version, req->nfilters, req->filters);
}

int kafka_parse_describe_acls_response(struct kr *r, int16_t version, struct arena *a,
                                       struct describe_acls_resp *out)
{
    (void)a;
    if (version < 0 || version > 3)
        return TANDEM_EUNSUPPORTED;
    bool flex = version >= 2;
    memset(out, 0, sizeof(*out));
    out->throttle_time_ms = kr_i32(r);
    out->error_code = kr_i16(r);
    out->error_message = rd_str(r, flex, true);
    out->nresources = rd_array(r, flex, 1 + 1 + 1);
    for (int32_t i = 0; i < out->nresources && !r->err; i++) {
        (void)kr_i8(r); /* resource type */
        (void)rd_str(r, flex, false);
        if (version >= 1)
            (void)kr_i8(r); /* pattern type */
        int32_t nacls = rd_array(r, flex, 4);
        for (int32_t j = 0; j < nacls && !r->err; j++) {
            (void)rd_str(r, flex, false); /* principal */
            (void)rd_str(r, flex, false); /* host */
            (void)kr_i8(r);               /* operation */
            (void)kr_i8(r);               /* permission type */
            if (flex)
                kr_tagged_fields(r);
        }
        if (flex)
            kr_tagged_fields(r);
    }
    if (flex)
        kr_tagged_fields(r);
    return msg_end(r);
}

/* Results of CreateAcls (matching = false) or DeleteAcls (with MatchingAcls). */
static int parse_results(struct kr *r, int16_t version, struct arena *a, bool matching, int32_t *n,
                         const struct acl_result **out)
{
    int rc = 0;
    bool flex = version >= 2;
    *n = rd_array(r, flex, W_I16 + 1);
    struct acl_result *res;
    MSG_ALLOC(a, *n, res, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < *n; i++) {
        res[i].error_code = kr_i16(r);
        res[i].error_message = rd_str(r, flex, true);
        if (matching) {
            res[i].nmatching_acls = rd_array(r, flex, 2 + 1 + 1 + 1 + 1 + 1 + 1);
            for (int32_t j = 0; j < res[i].nmatching_acls && !r->err; j++) {
                (void)kr_i16(r);             /* error code */
                (void)rd_str(r, flex, true); /* error message */
                (void)kr_i8(r);              /* resource type */
                (void)rd_str(r, flex, false);
                if (version >= 1)
                    (void)kr_i8(r);           /* pattern type */
                (void)rd_str(r, flex, false); /* principal */
                (void)rd_str(r, flex, false); /* host */
                (void)kr_i8(r);               /* operation */
                (void)kr_i8(r);               /* permission type */
                if (flex)
                    kr_tagged_fields(r);
            }
        }
        if (flex)
            kr_tagged_fields(r);
    }
    *out = res;
    if (flex)
        kr_tagged_fields(r);
    return msg_end(r);
}

int kafka_parse_create_acls_response(struct kr *r, int16_t version, struct arena *a,
                                     struct create_acls_resp *out)
{
    if (version < 0 || version > 3)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->throttle_time_ms = kr_i32(r);
    return parse_results(r, version, a, false, &out->nresults, &out->results);
}

int kafka_parse_delete_acls_response(struct kr *r, int16_t version, struct arena *a,
                                     struct delete_acls_resp *out)
{
    if (version < 0 || version > 3)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->throttle_time_ms = kr_i32(r);
    return parse_results(r, version, a, true, &out->nresults, &out->results);
}
