/*
 * The client side of the consumer-group codecs in protocol/messages_group.h: request encoders and
 * response parsers for the same APIs and versions (FindCoordinator v0-2, JoinGroup v0-5,
 * SyncGroup v0-3, Heartbeat v0-3, LeaveGroup v0-3, OffsetCommit v0-7, OffsetFetch v0-5,
 * ListGroups v0-2, DescribeGroups v0-4, DeleteGroups v0-1). The broker never calls these; the
 * unit tests, the group fuzzer and the raw-Kafka integration tests do (tandem_kafka_client, see
 * messages_client.h).
 *
 * Conventions are those of messages_client.h: kafka_encode_<api>_request(w, version, req) appends
 * the request body (after the request header) with only the fields that version has;
 * kafka_parse_<api>_response(r, version, arena, out) reads a whole response body, borrowing
 * strings and bytes from the input and taking arrays from the arena, and returns 0,
 * TANDEM_EPROTO (truncated, malformed or trailing bytes), TANDEM_EUNSUPPORTED (version outside
 * the range above) or TANDEM_ETOOLARGE (arena cap). Frame with kafka_frame_begin/_end and
 * kafka_encode_request_header from messages_client.h.
 */
#ifndef TANDEM_KAFKA_CLIENT_MESSAGES_GROUP_CLIENT_H
#define TANDEM_KAFKA_CLIENT_MESSAGES_GROUP_CLIENT_H

#include "base/kbuf.h"
#include "protocol/messages_group.h"

void kafka_encode_find_coordinator_request(struct kw *w, int16_t version,
                                           const struct find_coordinator_req *req);
int kafka_parse_find_coordinator_response(struct kr *r, int16_t version, struct arena *a,
                                          struct find_coordinator_resp *out);

void kafka_encode_join_group_request(struct kw *w, int16_t version,
                                     const struct join_group_req *req);
int kafka_parse_join_group_response(struct kr *r, int16_t version, struct arena *a,
                                    struct join_group_resp *out);

void kafka_encode_sync_group_request(struct kw *w, int16_t version,
                                     const struct sync_group_req *req);
int kafka_parse_sync_group_response(struct kr *r, int16_t version, struct arena *a,
                                    struct sync_group_resp *out);

void kafka_encode_heartbeat_request(struct kw *w, int16_t version, const struct heartbeat_req *req);
int kafka_parse_heartbeat_response(struct kr *r, int16_t version, struct arena *a,
                                   struct heartbeat_resp *out);

/* v0-2 send members[0].member_id (the empty string when nmembers is 0); v3 the whole array. */
void kafka_encode_leave_group_request(struct kw *w, int16_t version,
                                      const struct leave_group_req *req);
int kafka_parse_leave_group_response(struct kr *r, int16_t version, struct arena *a,
                                     struct leave_group_resp *out);

void kafka_encode_offset_commit_request(struct kw *w, int16_t version,
                                        const struct offset_commit_req *req);
int kafka_parse_offset_commit_response(struct kr *r, int16_t version, struct arena *a,
                                       struct offset_commit_resp *out);

/* ntopics -1 asks for every committed partition: a null array (v2+); v0-1 cannot say that and
 * get an empty array. */
void kafka_encode_offset_fetch_request(struct kw *w, int16_t version,
                                       const struct offset_fetch_req *req);
int kafka_parse_offset_fetch_response(struct kr *r, int16_t version, struct arena *a,
                                      struct offset_fetch_resp *out);

/* ListGroups v0-2 requests have an empty body: the encoder writes nothing. */
void kafka_encode_list_groups_request(struct kw *w, int16_t version,
                                      const struct list_groups_req *req);
int kafka_parse_list_groups_response(struct kr *r, int16_t version, struct arena *a,
                                     struct list_groups_resp *out);

void kafka_encode_describe_groups_request(struct kw *w, int16_t version,
                                          const struct describe_groups_req *req);
int kafka_parse_describe_groups_response(struct kr *r, int16_t version, struct arena *a,
                                         struct describe_groups_resp *out);

void kafka_encode_delete_groups_request(struct kw *w, int16_t version,
                                        const struct delete_groups_req *req);
int kafka_parse_delete_groups_response(struct kr *r, int16_t version, struct arena *a,
                                       struct delete_groups_resp *out);

#endif
