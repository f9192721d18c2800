"""Config and record admin APIs seen by kafka-python 2.0.2 (Debian python3-kafka), for
t_admin_kafka_python.sh. Run with Debian's /usr/bin/python3:

    admin_kafka_python.py before|after HOST:PORT

before: KafkaAdminClient.describe_configs / alter_configs on a topic and the broker (names,
  values, sources, read-only, errors); DescribeConfigs v0 (is_default); and, through
  kafka-python's protocol classes (the requests its admin client lacks): IncrementalAlterConfigs
  v0 (SET, DELETE, APPEND and SUBTRACT where Kafka allows them, validate_only, errors), a broker
  resource naming another node id, DeleteRecords v1 (unknown topic and partition, an offset
  below -1), then after a DeleteRecords: Fetch v5 below the log start offset
  (OFFSET_OUT_OF_RANGE) and at it (log_start_offset reported), ListOffsets v1 earliest, and
  OffsetDelete v0 with an empty group id.
after (the broker restarted): the configs and the log start offset are what "before" left.
Prints one "OK ..." or "FAIL ..." line per check; exits 1 when any check failed.
"""
import sys
import time

from kafka import KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from kafka.protocol.admin import DescribeConfigsRequest
from kafka.protocol.api import Request, Response
from kafka.protocol.fetch import FetchRequest
from kafka.protocol.offset import OffsetRequest
from kafka.protocol.types import Array, Boolean, Int8, Int16, Int32, Int64, Schema, String

FAILED = []
STR = String("utf-8")


def check(ok, what):
    print(("OK " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILED.append(what)


class IncrementalAlterConfigsResponse(Response):
    API_KEY = 44
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("resources", Array(("error_code", Int16), ("error_message", STR),
                            ("resource_type", Int8), ("resource_name", STR))),
    )


class IncrementalAlterConfigsRequest(Request):
    API_KEY = 44
    API_VERSION = 0
    RESPONSE_TYPE = IncrementalAlterConfigsResponse
    SCHEMA = Schema(
        ("resources", Array(("resource_type", Int8), ("resource_name", STR),
                            ("configs", Array(("name", STR), ("op", Int8), ("value", STR))))),
        ("validate_only", Boolean),
    )


class DeleteRecordsResponse(Response):
    API_KEY = 21
    API_VERSION = 1
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("topics", Array(("name", STR), ("partitions", Array(
            ("partition", Int32), ("low_watermark", Int64), ("error_code", Int16))))),
    )


class DeleteRecordsRequest(Request):
    API_KEY = 21
    API_VERSION = 1
    RESPONSE_TYPE = DeleteRecordsResponse
    SCHEMA = Schema(
        ("topics", Array(("name", STR), ("partitions", Array(("partition", Int32),
                                                             ("offset", Int64))))),
        ("timeout_ms", Int32),
    )


class OffsetDeleteResponse(Response):
    API_KEY = 47
    API_VERSION = 0
    SCHEMA = Schema(
        ("error_code", Int16),
        ("throttle_time_ms", Int32),
        ("topics", Array(("name", STR), ("partitions", Array(("partition", Int32),
                                                             ("error_code", Int16))))),
    )


class OffsetDeleteRequest(Request):
    API_KEY = 47
    API_VERSION = 0
    RESPONSE_TYPE = OffsetDeleteResponse
    SCHEMA = Schema(
        ("group_id", STR),
        ("topics", Array(("name", STR), ("partitions", Array(Int32)))),
    )


SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3


def send(admin, request):
    f = admin._send_request_to_node(admin._client.least_loaded_node(), request)
    admin._wait_for_futures([f])
    return f.value


def topic_configs(admin, topic):
    r = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])[0]
    res = r.resources[0]
    # v1/v2 entries: name, value, read_only, config_source, is_sensitive, synonyms
    return res[0], {e[0]: e for e in res[4]}


def incremental(admin, name, configs, validate_only=False, rtype=2):
    r = send(admin, IncrementalAlterConfigsRequest(
        resources=[(rtype, name, configs)], validate_only=validate_only))
    return r.resources[0][0]


def before(admin, bootstrap):
    admin.create_topics([NewTopic("py-cfg", 1, 1, topic_configs={"segment.bytes": "8192"}),
                         NewTopic("py-rec", 1, 1)])
    err, c = topic_configs(admin, "py-cfg")
    check(err == 0, "describe_configs py-cfg: error %d" % err)
    sb = c.get("segment.bytes")
    check(sb is not None and sb[1] == "8192" and sb[3] == 1 and not sb[2],
          "segment.bytes 8192 DYNAMIC_TOPIC_CONFIG writable: %r" % (sb,))
    rm = c.get("retention.ms")
    check(rm is not None and rm[1] == "604800000" and rm[3] == 5, "retention.ms default: %r" % (rm,))

    r = admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, "py-cfg",
                                            configs={"retention.ms": "2000"})])
    check(r.resources[0][0] == 0, "alter_configs retention.ms=2000: %r" % (r.resources[0],))
    err, c = topic_configs(admin, "py-cfg")
    check(c["retention.ms"][1] == "2000" and c["retention.ms"][3] == 1, "retention.ms now 2000")
    check(c["segment.bytes"][3] == 5, "alter_configs replaced the set: segment.bytes is default")
    r = admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, "py-cfg",
                                            configs={"cleanup.policy": "compact"})])
    check(r.resources[0][0] == 40, "cleanup.policy=compact: INVALID_CONFIG (%r)" % (r.resources[0],))
    r = admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, "py-nosuch",
                                            configs={"retention.ms": "1"})])
    check(r.resources[0][0] == 3, "unknown topic: UNKNOWN_TOPIC_OR_PARTITION (%r)" % (r.resources[0],))

    b = admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, "0")])[0].resources[0]
    entries = {e[0]: e for e in b[4]}
    check(b[0] == 0 and "log.segment.bytes" in entries and all(e[2] for e in b[4]),
          "broker 0: %d settings, all read-only" % len(b[4]))

    r = send(admin, DescribeConfigsRequest[0](resources=[(2, "py-cfg", ["retention.ms",
                                                                        "retention.bytes"])]))
    e0 = {e[0]: e for e in r.resources[0][4]}  # v0: name, value, read_only, is_default, sensitive
    check(sorted(e0) == ["retention.bytes", "retention.ms"],
          "DescribeConfigs v0 answers the keys asked: %r" % sorted(e0))
    check(e0["retention.bytes"][3] is True and e0["retention.ms"][3] is False,
          "DescribeConfigs v0 is_default: %r" % (e0,))

    # IncrementalAlterConfigs v0.
    check(incremental(admin, "py-cfg", [("segment.bytes", SET, "4096")]) == 0, "SET segment.bytes")
    err, c = topic_configs(admin, "py-cfg")
    check(c["segment.bytes"][1] == "4096" and c["retention.ms"][1] == "2000",
          "SET kept the other overrides")
    check(incremental(admin, "py-cfg", [("retention.ms", DELETE, None)]) == 0, "DELETE retention.ms")
    check(incremental(admin, "py-cfg", [("cleanup.policy", APPEND, "delete")]) == 0,
          "APPEND cleanup.policy delete")
    check(incremental(admin, "py-cfg", [("cleanup.policy", APPEND, "compact")]) == 40,
          "APPEND cleanup.policy compact: INVALID_CONFIG")
    check(incremental(admin, "py-cfg", [("retention.ms", SUBTRACT, "1")]) == 40,
          "SUBTRACT on a non-list config: INVALID_CONFIG")
    check(incremental(admin, "py-cfg", [("retention.ms", 9, "1")]) == 42,
          "an unknown operation: INVALID_REQUEST")
    check(incremental(admin, "py-cfg", [("retention.ms", SET, None)]) == 42,
          "SET with a null value: INVALID_REQUEST")
    check(incremental(admin, "py-cfg", [("retention.ms", SET, "1"), ("retention.ms", SET, "2")])
          == 42, "duplicate keys: INVALID_REQUEST")
    check(incremental(admin, "py-cfg", [("no.such", SET, "1")]) == 40, "unknown name: INVALID_CONFIG")
    check(incremental(admin, "py-cfg", [("segment.bytes", SET, "100000")], validate_only=True) == 0,
          "validate_only SET")
    check(incremental(admin, "py-nosuch", [("segment.bytes", SET, "100000")]) == 3,
          "unknown topic: UNKNOWN_TOPIC_OR_PARTITION")
    check(incremental(admin, "0", [("log.retention.ms", SET, "1")], rtype=4) == 40,
          "a broker setting: INVALID_CONFIG (not dynamic)")
    check(incremental(admin, "7", [], rtype=4) == 42, "another broker id: INVALID_REQUEST")
    check(incremental(admin, "x", [], rtype=8) == 42, "BROKER_LOGGER: INVALID_REQUEST")
    r = send(admin, IncrementalAlterConfigsRequest(
        resources=[(2, "py-cfg", [("segment.bytes", SET, "2048")]),
                   (2, "py-cfg", [("segment.bytes", SET, "1024")])], validate_only=False))
    check([x[0] for x in r.resources] == [42, 42],
          "a resource named twice: INVALID_REQUEST for both (%r)" % (r.resources,))
    err, c = topic_configs(admin, "py-cfg")
    check(c["segment.bytes"][1] == "4096" and c["retention.ms"][3] == 5 and
          c["cleanup.policy"][3] == 1, "after the incremental changes: %r" %
          ([c["segment.bytes"][:4], c["retention.ms"][:4], c["cleanup.policy"][:4]],))
    r = send(admin, DescribeConfigsRequest[0](resources=[(4, "7", None)]))
    check(r.resources[0][0] == 42, "DescribeConfigs of broker 7: INVALID_REQUEST")

    # DeleteRecords, Fetch and ListOffsets around the log start offset.
    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for i in range(10):
        p.send("py-rec", value=b"v%d" % i, partition=0)
    p.flush()
    p.close()
    r = send(admin, DeleteRecordsRequest(topics=[("py-rec", [(0, 4), (5, 1)]),
                                                 ("py-nosuch", [(0, 1)])], timeout_ms=5000))
    parts = {(t[0], q[0]): q for t in r.topics for q in t[1]}
    check(parts[("py-rec", 0)][1:] == (4, 0), "DeleteRecords 4: %r" % (parts[("py-rec", 0)],))
    check(parts[("py-rec", 5)][2] == 3, "DeleteRecords of partition 5: UNKNOWN_TOPIC_OR_PARTITION")
    check(parts[("py-nosuch", 0)][2] == 3, "DeleteRecords of an unknown topic")
    r = send(admin, DeleteRecordsRequest(topics=[("py-rec", [(0, -5)])], timeout_ms=5000))
    check(r.topics[0][1][0][2] == 1, "DeleteRecords -5: OFFSET_OUT_OF_RANGE")
    fetch = lambda off: send(admin, FetchRequest[5](
        replica_id=-1, max_wait_time=100, min_bytes=0, max_bytes=1 << 20, isolation_level=0,
        topics=[("py-rec", [(0, off, -1, 1 << 20)])])).topics[0][1][0]
    f = fetch(2)
    check(f[1] == 1, "Fetch v5 at 2 (below the start): OFFSET_OUT_OF_RANGE (%d)" % f[1])
    f = fetch(4)  # partition, error, high watermark, last stable, log start offset, ...
    check(f[1] == 0 and f[2] == 10 and f[4] == 4, "Fetch v5 at 4: error %d hw %d log_start %d" %
          (f[1], f[2], f[4]))
    earliest(admin, 4)
    r = send(admin, OffsetDeleteRequest(group_id="", topics=[("py-rec", [0])]))
    check(r.error_code == 24, "OffsetDelete with an empty group id: INVALID_GROUP_ID")
    r = send(admin, OffsetDeleteRequest(group_id="py-none", topics=[("py-rec", [0])]))
    check(r.error_code == 69 and r.topics == [], "OffsetDelete of an unknown group: GROUP_ID_NOT_FOUND")


def earliest(admin, want):
    r = send(admin, OffsetRequest[1](replica_id=-1, topics=[("py-rec", [(0, -2)])]))
    q = r.topics[0][1][0]  # partition, error, timestamp, offset
    check(q[1] == 0 and q[3] == want, "ListOffsets v1 earliest: %r, want %d" % (q, want))


def after(admin):
    err, c = topic_configs(admin, "py-cfg")
    check(c["segment.bytes"][1] == "4096" and c["segment.bytes"][3] == 1,
          "segment.bytes 4096 after the restart")
    check(c["cleanup.policy"][3] == 1 and c["retention.ms"][3] == 5,
          "cleanup.policy set and retention.ms default after the restart")
    earliest(admin, 4)


def main():
    phase, bootstrap = sys.argv[1], sys.argv[2]
    admin = None
    for _ in range(50):
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
            break
        except Exception:  # the broker may still be starting
            time.sleep(0.2)
    if admin is None:
        check(False, "no admin client")
        sys.exit(1)
    if phase == "before":
        before(admin, bootstrap)
    else:
        after(admin)
    admin.close()
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
