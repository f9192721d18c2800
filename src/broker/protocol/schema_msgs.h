/*
 * The message tables (schema.h), one per request and response body, for the codecs in
 * messages*.c and their client direction in tests/common/kafka_client. Each table covers the
 * versions tandem implements of that message (vmin..vmax).
 */
#ifndef TANDEM_PROTOCOL_SCHEMA_MSGS_H
#define TANDEM_PROTOCOL_SCHEMA_MSGS_H

#include "protocol/schema.h"

/* messages.c */
extern const struct schema_message schema_api_versions_request, schema_api_versions_response;
extern const struct schema_message schema_metadata_request, schema_metadata_response;
/* messages_data.c */
extern const struct schema_message schema_produce_request, schema_produce_response;
extern const struct schema_message schema_fetch_request, schema_fetch_response;
extern const struct schema_message schema_list_offsets_request, schema_list_offsets_response;
/* messages_admin.c */
extern const struct schema_message schema_create_topics_request, schema_create_topics_response;
extern const struct schema_message schema_delete_topics_request, schema_delete_topics_response;
extern const struct schema_message schema_init_producer_id_request,
    schema_init_producer_id_response;
extern const struct schema_message schema_create_partitions_request,
    schema_create_partitions_response;
/* messages_group.c */
extern const struct schema_message schema_find_coordinator_request,
    schema_find_coordinator_response;
extern const struct schema_message schema_join_group_request, schema_join_group_response;
extern const struct schema_message schema_sync_group_request, schema_sync_group_response;
extern const struct schema_message schema_heartbeat_request, schema_heartbeat_response;
extern const struct schema_message schema_leave_group_request, schema_leave_group_response;
extern const struct schema_message schema_offset_commit_request, schema_offset_commit_response;
extern const struct schema_message schema_offset_fetch_request, schema_offset_fetch_response;
extern const struct schema_message schema_list_groups_request, schema_list_groups_response;
extern const struct schema_message schema_describe_groups_request, schema_describe_groups_response;
extern const struct schema_message schema_delete_groups_request, schema_delete_groups_response;

#endif
