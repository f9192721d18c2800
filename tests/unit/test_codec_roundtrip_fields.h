/*
 * Field comparisons for test_codec_roundtrip.c: what a parser returns must equal what was
 * encoded for the fields a version has, and the spec's default for the fields it lacks.
 * Included once, from test_codec_roundtrip.c.
 */

#define EQ(a, b) assert_int_equal((a), (b))

static void check_metadata_resp(int16_t v, const struct metadata_resp *in,
                                const struct metadata_resp *o)
{
    EQ(o->throttle_time_ms, v >= 3 ? in->throttle_time_ms : 0);
    EQ(o->nbrokers, in->nbrokers);
    for (int i = 0; i < in->nbrokers; i++) {
        EQ(o->brokers[i].node_id, in->brokers[i].node_id);
        assert_same_kstr(o->brokers[i].host, in->brokers[i].host);
        EQ(o->brokers[i].port, in->brokers[i].port);
        assert_same_kstr(o->brokers[i].rack, v >= 1 ? in->brokers[i].rack : KSTR_NULL);
    }
    assert_same_kstr(o->cluster_id, v >= 2 ? in->cluster_id : KSTR_NULL);
    EQ(o->controller_id, v >= 1 ? in->controller_id : -1);
    EQ(o->ntopics, in->ntopics);
    for (int i = 0; i < in->ntopics; i++) {
        const struct metadata_topic *a = &in->topics[i], *b = &o->topics[i];
        EQ(b->error_code, a->error_code);
        assert_same_kstr(b->name, a->name);
        EQ(b->is_internal, v >= 1 ? a->is_internal : false);
        EQ(b->topic_authorized_operations, v >= 8 ? a->topic_authorized_operations : INT32_MIN);
        EQ(b->npartitions, a->npartitions);
        for (int j = 0; j < a->npartitions; j++) {
            const struct metadata_partition *p = &a->partitions[j], *q = &b->partitions[j];
            EQ(q->error_code, p->error_code);
            EQ(q->partition_index, p->partition_index);
            EQ(q->leader_id, p->leader_id);
            EQ(q->leader_epoch, v >= 7 ? p->leader_epoch : -1);
            EQ(q->nreplica_nodes, p->nreplica_nodes);
            EQ(q->nisr_nodes, p->nisr_nodes);
            EQ(q->noffline_replicas, v >= 5 ? p->noffline_replicas : 0);
            for (int k = 0; k < p->nreplica_nodes; k++)
                EQ(q->replica_nodes[k], p->replica_nodes[k]);
            for (int k = 0; k < p->nisr_nodes; k++)
                EQ(q->isr_nodes[k], p->isr_nodes[k]);
        }
    }
    EQ(o->cluster_authorized_operations,
       v >= 8 && v <= 10 ? in->cluster_authorized_operations : INT32_MIN);
}

static void check_produce_resp(int16_t v, const struct produce_resp *in,
                               const struct produce_resp *o)
{
    EQ(o->throttle_time_ms, v >= 1 ? in->throttle_time_ms : 0);
    EQ(o->ntopics, in->ntopics);
    assert_same_kstr(o->topics[0].name, in->topics[0].name);
    EQ(o->topics[0].npartitions, in->topics[0].npartitions);
    for (int j = 0; j < in->topics[0].npartitions; j++) {
        const struct produce_resp_partition *p = &in->topics[0].partitions[j];
        const struct produce_resp_partition *q = &o->topics[0].partitions[j];
        EQ(q->index, p->index);
        EQ(q->error_code, p->error_code);
        EQ(q->base_offset, p->base_offset);
        EQ(q->log_append_time_ms, v >= 2 ? p->log_append_time_ms : -1);
        EQ(q->log_start_offset, v >= 5 ? p->log_start_offset : -1);
        EQ(q->nrecord_errors, v >= 8 ? p->nrecord_errors : 0);
        for (int k = 0; k < q->nrecord_errors; k++) {
            EQ(q->record_errors[k].batch_index, p->record_errors[k].batch_index);
            assert_same_kstr(q->record_errors[k].batch_index_error_message,
                             p->record_errors[k].batch_index_error_message);
        }
        assert_same_kstr(q->error_message, v >= 8 ? p->error_message : KSTR_NULL);
    }
}

static void check_fetch_resp(int16_t v, const struct fetch_resp *in, const struct fetch_resp *o)
{
    EQ(o->throttle_time_ms, v >= 1 ? in->throttle_time_ms : 0);
    EQ(o->error_code, v >= 7 ? in->error_code : 0);
    EQ(o->session_id, v >= 7 ? in->session_id : 0);
    EQ(o->ntopics, in->ntopics);
    assert_same_kstr(o->topics[0].topic, in->topics[0].topic);
    for (int j = 0; j < in->topics[0].npartitions; j++) {
        const struct fetch_resp_partition *p = &in->topics[0].partitions[j];
        const struct fetch_resp_partition *q = &o->topics[0].partitions[j];
        EQ(q->partition_index, p->partition_index);
        EQ(q->error_code, p->error_code);
        EQ(q->high_watermark, p->high_watermark);
        EQ(q->last_stable_offset, v >= 4 ? p->last_stable_offset : -1);
        EQ(q->log_start_offset, v >= 5 ? p->log_start_offset : -1);
        EQ(q->naborted, v >= 4 ? p->naborted : -1);
        for (int k = 0; k < q->naborted; k++) {
            EQ(q->aborted_transactions[k].producer_id, p->aborted_transactions[k].producer_id);
            EQ(q->aborted_transactions[k].first_offset, p->aborted_transactions[k].first_offset);
        }
        EQ(q->preferred_read_replica, v >= 11 ? p->preferred_read_replica : -1);
        EQ(q->records.len, p->records.len);
        if (p->records.len > 0)
            assert_memory_equal(q->records.p, p->records.p, (size_t)p->records.len);
    }
}

static void check_list_offsets_resp(int16_t v, const struct list_offsets_resp *in,
                                    const struct list_offsets_resp *o)
{
    EQ(o->throttle_time_ms, v >= 2 ? in->throttle_time_ms : 0);
    assert_same_kstr(o->topics[0].name, in->topics[0].name);
    for (int j = 0; j < in->topics[0].npartitions; j++) {
        const struct list_offsets_resp_partition *p = &in->topics[0].partitions[j];
        const struct list_offsets_resp_partition *q = &o->topics[0].partitions[j];
        EQ(q->partition_index, p->partition_index);
        EQ(q->error_code, p->error_code);
        EQ(q->nold_style_offsets, v == 0 ? p->nold_style_offsets : 0);
        for (int k = 0; k < q->nold_style_offsets; k++)
            EQ(q->old_style_offsets[k], p->old_style_offsets[k]);
        EQ(q->timestamp, v >= 1 ? p->timestamp : -1);
        EQ(q->offset, v >= 1 ? p->offset : -1);
        EQ(q->leader_epoch, v >= 4 ? p->leader_epoch : -1);
    }
}

static void check_response_fields(int16_t api, int16_t v, const union codec_resp *in,
                                  const union codec_resp *out)
{
    switch (api) {
    case KAFKA_API_VERSIONS:
        EQ(out->api_versions.error_code, in->api_versions.error_code);
        EQ(out->api_versions.napi_keys, in->api_versions.napi_keys);
        for (int i = 0; i < in->api_versions.napi_keys; i++) {
            EQ(out->api_versions.api_keys[i].api_key, in->api_versions.api_keys[i].api_key);
            EQ(out->api_versions.api_keys[i].max_version, in->api_versions.api_keys[i].max_version);
        }
        EQ(out->api_versions.throttle_time_ms, v >= 1 ? in->api_versions.throttle_time_ms : 0);
        break;
    case KAFKA_METADATA:
        check_metadata_resp(v, &in->metadata, &out->metadata);
        break;
    case KAFKA_PRODUCE:
        check_produce_resp(v, &in->produce, &out->produce);
        break;
    case KAFKA_FETCH:
        check_fetch_resp(v, &in->fetch, &out->fetch);
        break;
    case KAFKA_LIST_OFFSETS:
        check_list_offsets_resp(v, &in->list_offsets, &out->list_offsets);
        break;
    case KAFKA_CREATE_TOPICS:
        EQ(out->create_topics.throttle_time_ms, v >= 2 ? in->create_topics.throttle_time_ms : 0);
        EQ(out->create_topics.ntopics, 2);
        EQ(out->create_topics.topics[1].error_code, 36);
        assert_same_kstr(out->create_topics.topics[1].error_message,
                         v >= 1 ? in->create_topics.topics[1].error_message : KSTR_NULL);
        for (int i = 0; i < 2; i++) { /* v5+ (KIP-525); TopicConfigErrorCode is tagged */
            const struct create_topics_resp_topic *ti = &in->create_topics.topics[i];
            const struct create_topics_resp_topic *to = &out->create_topics.topics[i];
            EQ(to->topic_config_error_code, v >= 5 ? ti->topic_config_error_code : 0);
            EQ(to->num_partitions, v >= 5 ? ti->num_partitions : -1);
            EQ(to->replication_factor, v >= 5 ? ti->replication_factor : -1);
            EQ(to->nconfigs, v >= 5 ? ti->nconfigs : 0);
            for (int j = 0; j < to->nconfigs; j++) {
                assert_same_kstr(to->configs[j].name, ti->configs[j].name);
                assert_same_kstr(to->configs[j].value, ti->configs[j].value);
                EQ(to->configs[j].read_only, ti->configs[j].read_only);
                EQ(to->configs[j].config_source, ti->configs[j].config_source);
                EQ(to->configs[j].is_sensitive, ti->configs[j].is_sensitive);
            }
        }
        break;
    case KAFKA_DELETE_TOPICS:
        EQ(out->delete_topics.throttle_time_ms, v >= 1 ? in->delete_topics.throttle_time_ms : 0);
        EQ(out->delete_topics.nresponses, 2);
        assert_same_kstr(out->delete_topics.responses[1].name, KSTR("zz"));
        EQ(out->delete_topics.responses[1].error_code, 3);
        assert_same_kstr(out->delete_topics.responses[1].error_message,
                         v >= 5 ? in->delete_topics.responses[1].error_message : KSTR_NULL);
        break;
    case KAFKA_INIT_PRODUCER_ID:
        EQ(out->init_producer_id.throttle_time_ms, 18);
        EQ(out->init_producer_id.producer_id, 4000);
        EQ(out->init_producer_id.producer_epoch, 2);
        break;
    case KAFKA_CREATE_PARTITIONS: {
        const struct create_partitions_resp *o = &out->create_partitions;
        EQ(o->throttle_time_ms, 19);
        EQ(o->nresults, 3);
        for (int i = 0; i < 3; i++) {
            assert_same_kstr(o->results[i].name, in->create_partitions.results[i].name);
            EQ(o->results[i].error_code, in->create_partitions.results[i].error_code);
            assert_same_kstr(o->results[i].error_message,
                             in->create_partitions.results[i].error_message);
        }
        break;
    }
    }
}

static void check_fetch_req(int16_t v, const struct fetch_req *in, const struct fetch_req *o)
{
    EQ(o->replica_id, in->replica_id);
    EQ(o->max_wait_ms, in->max_wait_ms);
    EQ(o->min_bytes, in->min_bytes);
    EQ(o->max_bytes, in->max_bytes);
    EQ(o->isolation_level, in->isolation_level);
    EQ(o->session_id, in->session_id);
    EQ(o->session_epoch, in->session_epoch);
    EQ(o->ntopics, 1);
    assert_same_kstr(o->topics[0].topic, in->topics[0].topic);
    EQ(o->topics[0].npartitions, 2);
    for (int j = 0; j < 2; j++) {
        const struct fetch_req_partition *p = &in->topics[0].partitions[j];
        const struct fetch_req_partition *q = &o->topics[0].partitions[j];
        EQ(q->partition, p->partition);
        EQ(q->current_leader_epoch, p->current_leader_epoch);
        EQ(q->fetch_offset, p->fetch_offset);
        EQ(q->log_start_offset, p->log_start_offset);
        EQ(q->partition_max_bytes, p->partition_max_bytes);
    }
    EQ(o->nforgotten, in->nforgotten);
    if (v >= 7) {
        assert_same_kstr(o->forgotten_topics_data[0].topic, KSTR("old"));
        EQ(o->forgotten_topics_data[0].npartitions, 2);
        EQ(o->forgotten_topics_data[0].partitions[1], 8);
    }
    assert_same_kstr(o->rack_id, in->rack_id);
}

static void check_request_fields(int16_t api, int16_t v, const union codec_req *in,
                                 const union codec_req *out)
{
    switch (api) {
    case KAFKA_API_VERSIONS:
        assert_same_kstr(out->api_versions.client_software_name,
                         in->api_versions.client_software_name);
        assert_same_kstr(out->api_versions.client_software_version,
                         in->api_versions.client_software_version);
        break;
    case KAFKA_METADATA:
        EQ(out->metadata.ntopics, 2);
        assert_same_kstr(out->metadata.topics[1], KSTR("payments"));
        EQ(out->metadata.allow_auto_topic_creation, in->metadata.allow_auto_topic_creation);
        EQ(out->metadata.include_topic_authorized_operations,
           in->metadata.include_topic_authorized_operations);
        break;
    case KAFKA_PRODUCE:
        assert_same_kstr(out->produce.transactional_id, in->produce.transactional_id);
        EQ(out->produce.acks, -1);
        EQ(out->produce.timeout_ms, 1500);
        EQ(out->produce.topics[0].npartitions, 2);
        EQ(out->produce.topics[0].partitions[1].index, 3);
        EQ(out->produce.topics[0].partitions[1].records.len, -1);
        EQ(out->produce.topics[0].partitions[0].records.len, sizeof(batch_bytes));
        break;
    case KAFKA_FETCH:
        check_fetch_req(v, &in->fetch, &out->fetch);
        break;
    case KAFKA_LIST_OFFSETS:
        EQ(out->list_offsets.isolation_level, in->list_offsets.isolation_level);
        for (int j = 0; j < 2; j++) {
            const struct list_offsets_req_partition *p = &in->list_offsets.topics[0].partitions[j];
            const struct list_offsets_req_partition *q = &out->list_offsets.topics[0].partitions[j];
            EQ(q->partition_index, p->partition_index);
            EQ(q->current_leader_epoch, p->current_leader_epoch);
            EQ(q->timestamp, p->timestamp);
            EQ(q->max_num_offsets, p->max_num_offsets);
        }
        break;
    case KAFKA_CREATE_TOPICS: {
        const struct create_topics_req *o = &out->create_topics;
        EQ(o->ntopics, 2);
        assert_same_kstr(o->topics[0].configs[1].name, KSTR("retention.ms"));
        EQ(o->topics[0].configs[1].value.len, -1);
        EQ(o->topics[1].num_partitions, -1);
        EQ(o->topics[1].nassignments, 2);
        EQ(o->topics[1].assignments[1].partition_index, 1);
        EQ(o->topics[1].assignments[1].broker_ids[0], 1);
        EQ(o->timeout_ms, 30000);
        EQ(o->validate_only, in->create_topics.validate_only);
        break;
    }
    case KAFKA_DELETE_TOPICS:
        EQ(out->delete_topics.ntopic_names, 3);
        assert_same_kstr(out->delete_topics.topic_names[2], KSTR("c"));
        EQ(out->delete_topics.timeout_ms, 15000);
        break;
    case KAFKA_INIT_PRODUCER_ID:
        assert_same_kstr(out->init_producer_id.transactional_id, KSTR("txn-1"));
        EQ(out->init_producer_id.transaction_timeout_ms, 60000);
        EQ(out->init_producer_id.producer_id, v >= 3 ? 4000 : -1);
        EQ(out->init_producer_id.producer_epoch, v >= 3 ? 2 : -1);
        break;
    case KAFKA_CREATE_PARTITIONS: {
        const struct create_partitions_req *o = &out->create_partitions;
        EQ(o->ntopics, 3);
        assert_same_kstr(o->topics[0].name, KSTR("grow"));
        EQ(o->topics[0].count, 3);
        EQ(o->topics[0].nassignments, -1); /* null: the broker places them */
        EQ(o->topics[1].count, 5);
        EQ(o->topics[1].nassignments, 2);
        EQ(o->topics[1].assignments[0].nbroker_ids, 1);
        EQ(o->topics[1].assignments[0].broker_ids[0], 1);
        EQ(o->topics[1].assignments[1].nbroker_ids, 2);
        EQ(o->topics[1].assignments[1].broker_ids[1], 3);
        EQ(o->topics[2].nassignments, 0); /* empty, not null */
        EQ(o->topics[2].count, 1);
        EQ(o->timeout_ms, 25000);
        EQ(o->validate_only, true);
        break;
    }
    }
}
