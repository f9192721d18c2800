/*
 * The client side of protocol/messages_config.h: request encoders and response parsers for
 * DescribeConfigs v0-3, AlterConfigs v0-1, IncrementalAlterConfigs v0, DeleteRecords v0-1 and
 * OffsetDelete v0. The broker never calls these; the unit tests and the fuzzer do. Conventions
 * are those of messages_client.h (encoders append a request body of that version; parsers read a
 * whole response body and return 0, TANDEM_EPROTO, TANDEM_EUNSUPPORTED or TANDEM_ETOOLARGE).
 */
#ifndef TANDEM_KAFKA_CLIENT_MESSAGES_CONFIG_CLIENT_H
#define TANDEM_KAFKA_CLIENT_MESSAGES_CONFIG_CLIENT_H

#include "base/kbuf.h"
#include "protocol/messages_config.h"

void kafka_encode_describe_configs_request(struct kw *w, int16_t version,
                                           const struct describe_configs_req *req);
int kafka_parse_describe_configs_response(struct kr *r, int16_t version, struct arena *a,
                                          struct describe_configs_resp *out);

void kafka_encode_alter_configs_request(struct kw *w, int16_t version,
                                        const struct alter_configs_req *req);
void kafka_encode_incremental_alter_configs_request(struct kw *w, int16_t version,
                                                    const struct alter_configs_req *req);
/* Both APIs answer with this layout. */
int kafka_parse_alter_configs_response(struct kr *r, int16_t version, struct arena *a,
                                       struct alter_configs_resp *out);

void kafka_encode_delete_records_request(struct kw *w, int16_t version,
                                         const struct delete_records_req *req);
int kafka_parse_delete_records_response(struct kr *r, int16_t version, struct arena *a,
                                        struct delete_records_resp *out);

void kafka_encode_offset_delete_request(struct kw *w, int16_t version,
                                        const struct offset_delete_req *req);
int kafka_parse_offset_delete_response(struct kr *r, int16_t version, struct arena *a,
                                       struct offset_delete_resp *out);

#endif
