#!/usr/bin/env python3
"""group_kafka_python.py PHASE BROKER [SEEDS_DIR]: kafka-python 2.0.2 (Debian python3-kafka)
against tandem-broker, for group_kafka_python.sh. Every check that fails prints "FAIL ..." and
the script exits 1; it prints "OK ..." lines for what it verified.

  before   makes group kp-empty (joined, never committed, left), kp-offsets (committed, left)
           and kp-active (a member still in it), then with KafkaAdminClient: list_consumer_groups
           lists all three; describe_consumer_groups gives Empty / no members / "consumer" for
           the first two and Stable with one member for the third; delete_consumer_groups gives
           NonEmptyGroupError for kp-active, GroupIdNotFoundError for an unknown group, and
           deletes kp-empty (then not listed); describe_acls fails at once (not advertised).
  after    (after a broker restart) kp-offsets is still listed and described as Empty with no
           members and protocol type "consumer"; its committed offsets are there; it is deleted; an unknown group is
           GroupIdNotFoundError.
  expiry   a member (JoinGroup v1, SyncGroup, one Heartbeat; session.timeout.ms 1000) stops
           heartbeating; DescribeGroups every 20 ms sees it until its deadline and gone no later
           than 300 ms after it (the coordinator arms a timer for the earliest deadline; a
           periodic sweep would be up to its period late). Three rounds; prints each delay.
  disabled raw frames (SEEDS_DIR: tests/fuzz/corpus/security) of SaslHandshake,
           SaslAuthenticate, DescribeAcls, CreateAcls and DeleteAcls are each answered at once
           with ILLEGAL_SASL_STATE (34) or SECURITY_DISABLED (54); ApiVersions does not list
           them; an API key the broker does not know closes the connection at once.
"""
import glob
import os
import socket
import struct
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka import errors as Errors

PHASE, BROKER = sys.argv[1], sys.argv[2]
TOPIC = "kp-topic"
FAILED = []


def check(ok, what):
    if ok:
        print("OK", what, flush=True)
    else:
        print("FAIL", what, flush=True)
        FAILED.append(what)


def admin():
    return KafkaAdminClient(bootstrap_servers=BROKER, client_id="kp-admin",
                            request_timeout_ms=10000)


def consumer(group):
    c = KafkaConsumer(bootstrap_servers=BROKER, group_id=group, enable_auto_commit=False,
                      auto_offset_reset="earliest", session_timeout_ms=10000,
                      heartbeat_interval_ms=1000, consumer_timeout_ms=500)
    c.subscribe([TOPIC])
    deadline = time.time() + 30
    got = 0
    while not c.assignment() and time.time() < deadline:
        got += sum(len(recs) for recs in c.poll(timeout_ms=200).values())
    check(bool(c.assignment()), "consumer of %s got an assignment" % group)
    return c, got


def describe(a, group):
    d = a.describe_consumer_groups([group])
    check(len(d) == 1 and d[0].group == group, "describe %s answers for it" % group)
    return d[0]


def listed(a):
    return {g: t for g, t in a.list_consumer_groups()}


def deletion(a, group):
    r = dict(a.delete_consumer_groups([group]))
    return r.get(group)


def before():
    p = KafkaProducer(bootstrap_servers=BROKER, acks="all")
    for i in range(10):
        p.send(TOPIC, value=b"v%d" % i)
    p.flush()
    p.close()

    c, _ = consumer("kp-empty")  # joins, consumes, commits nothing, leaves
    c.poll(timeout_ms=500)
    c.close(autocommit=False)

    c, got = consumer("kp-offsets")
    deadline = time.time() + 20
    while got < 10 and time.time() < deadline:
        for recs in c.poll(timeout_ms=500).values():
            got += len(recs)
    check(got == 10, "kp-offsets consumed 10 records (got %d)" % got)
    c.commit()
    c.close(autocommit=False)

    active, _ = consumer("kp-active")
    a = admin()
    groups = listed(a)
    for g in ("kp-empty", "kp-offsets", "kp-active"):
        check(groups.get(g) == "consumer", "list_consumer_groups lists %s as consumer: %r"
              % (g, groups))
    for g in ("kp-empty", "kp-offsets"):
        d = describe(a, g)
        check(d.state == "Empty" and len(d.members) == 0 and d.protocol_type == "consumer",
              "describe %s: Empty, no members, consumer: %r" % (g, d))
    d = describe(a, "kp-active")
    check(d.state == "Stable" and len(d.members) == 1, "describe kp-active: Stable, 1 member")

    e = deletion(a, "kp-active")
    check(e is Errors.NonEmptyGroupError, "delete kp-active: NON_EMPTY_GROUP (%r)" % e)
    e = deletion(a, "kp-unknown")
    check(e is Errors.GroupIdNotFoundError, "delete kp-unknown: GROUP_ID_NOT_FOUND (%r)" % e)
    e = deletion(a, "kp-empty")
    check(e is Errors.NoError, "delete kp-empty: done (%r)" % e)
    groups = listed(a)
    check("kp-empty" not in groups and "kp-offsets" in groups,
          "after the deletion: kp-empty gone, kp-offsets listed: %r" % groups)

    t0 = time.monotonic()
    try:
        from kafka.admin import ACLFilter, ACLOperation, ACLPermissionType, ResourcePatternFilter
        from kafka.admin import ResourceType, ACLResourcePatternType
        a.describe_acls(ACLFilter(principal=None, host="*", operation=ACLOperation.ANY,
                                  permission_type=ACLPermissionType.ANY,
                                  resource_pattern=ResourcePatternFilter(
                                      ResourceType.TOPIC, None, ACLResourcePatternType.ANY)))
        check(False, "describe_acls failed")
    except (Errors.IncompatibleBrokerVersion, Errors.SecurityDisabledError) as ex:
        took = time.monotonic() - t0
        check(took < 5, "describe_acls failed at once (%.2f s): %r" % (took, ex))
    active.close(autocommit=False)
    a.close()


def after():
    a = admin()
    groups = listed(a)
    check("kp-offsets" in groups and "kp-empty" not in groups,
          "after the restart kp-offsets is listed, kp-empty is not: %r" % groups)
    d = describe(a, "kp-offsets")
    check(d.state == "Empty" and len(d.members) == 0 and d.protocol_type == "consumer",
          "after the restart kp-offsets is Empty, no members, consumer: %r" % (d,))
    check(groups.get("kp-offsets") == "consumer", "listed as consumer after the restart")
    offs = a.list_consumer_group_offsets("kp-offsets")
    check(offs.get(TopicPartition(TOPIC, 0)) is not None
          and offs[TopicPartition(TOPIC, 0)].offset == 10,
          "kp-offsets kept its committed offset 10: %r" % offs)
    e = deletion(a, "kp-offsets")
    check(e is Errors.NoError, "delete kp-offsets after the restart: done (%r)" % e)
    check("kp-offsets" not in listed(a), "kp-offsets no longer listed")
    e = deletion(a, "kp-offsets")
    check(e is Errors.GroupIdNotFoundError, "delete kp-offsets again: GROUP_ID_NOT_FOUND")
    a.close()


def expiry():
    from kafka.client_async import KafkaClient
    from kafka.protocol.admin import DescribeGroupsRequest_v0
    from kafka.protocol.group import (HeartbeatRequest_v0, JoinGroupRequest_v1,
                                      SyncGroupRequest_v0)
    kc = KafkaClient(bootstrap_servers=BROKER, client_id="kp-expiry")
    node = None
    deadline = time.time() + 20
    while node is None and time.time() < deadline:
        kc.poll(timeout_ms=100)
        node = kc.least_loaded_node()
    while not kc.ready(node) and time.time() < deadline:
        kc.poll(timeout_ms=50)

    def call(req):
        f = kc.send(node, req)
        kc.poll(future=f, timeout_ms=10000)
        if not f.succeeded():
            raise RuntimeError("request failed: %r" % (f.exception,))
        return f.value

    session_ms = 1000
    for rnd in range(3):
        group = "kp-expiry-%d" % rnd
        j = call(JoinGroupRequest_v1(group, session_ms, 5000, "", "consumer", [("range", b"")]))
        check(j.error_code == 0, "join %s" % group)
        s = call(SyncGroupRequest_v0(group, j.generation_id, j.member_id, [(j.member_id, b"")]))
        check(s.error_code == 0, "sync %s" % group)
        sent = time.monotonic()
        h = call(HeartbeatRequest_v0(group, j.generation_id, j.member_id))
        answered = time.monotonic()
        check(h.error_code == 0, "heartbeat %s" % group)
        # the broker's deadline lies between sent + 1 s and answered + 1 s
        early = sent + session_ms / 1000.0
        late = answered + session_ms / 1000.0
        last_seen = None
        gone_at = None
        while time.monotonic() < late + 3:
            t0 = time.monotonic()
            d = call(DescribeGroupsRequest_v0([group]))
            members = len(d.groups[0][4])
            if members == 0:
                gone_at = time.monotonic()
                break
            last_seen = t0
            time.sleep(0.02)
        check(gone_at is not None, "%s: the silent member expired" % group)
        if gone_at is None:
            continue
        check(last_seen is not None and last_seen >= early - 0.2,
              "%s: the member was there until its deadline (last seen %.0f ms before it)"
              % (group, (early - (last_seen or 0)) * 1000))
        delay_ms = (gone_at - late) * 1000
        print("EXPIRY %s gone %.0f ms after the deadline (at most; the deadline is known to "
              "within %.0f ms)" % (group, delay_ms, (late - early) * 1000), flush=True)
        check(gone_at <= late + 0.3, "%s: expired within deadline + 300 ms (%.0f ms)"
              % (group, delay_ms))
    kc.close()


def frame_io(sock, frame):
    sock.sendall(struct.pack(">i", len(frame)) + frame)
    hdr = b""
    while len(hdr) < 4:
        chunk = sock.recv(4 - len(hdr))
        if not chunk:
            return None
        hdr += chunk
    n = struct.unpack(">i", hdr)[0]
    body = b""
    while len(body) < n:
        chunk = sock.recv(n - len(body))
        if not chunk:
            return None
        body += chunk
    return body


def connect():
    host, port = BROKER.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=5)
    return s


def disabled(seeds):
    # SaslHandshake never flexible; the others flexible from v2 (response header v1: one tag byte)
    want = {17: 34, 36: 34, 29: 54, 30: 54, 31: 54}
    files = sorted(glob.glob(os.path.join(seeds, "*.bin")))
    check(len(files) >= 17, "seed frames found in %s" % seeds)
    for f in files:
        frame = open(f, "rb").read()
        api, ver, corr = struct.unpack(">hhi", frame[:8])
        s = connect()
        t0 = time.monotonic()
        resp = frame_io(s, frame)
        took = time.monotonic() - t0
        s.close()
        name = os.path.basename(f)
        if resp is None:
            check(False, "%s answered" % name)
            continue
        flex = api != 17 and ver >= 2
        body = resp[4 + (1 if flex else 0):]
        check(struct.unpack(">i", resp[:4])[0] == corr, "%s: correlation id" % name)
        if api in (17, 36):
            err = struct.unpack(">h", body[:2])[0]
        elif api == 29:
            err = struct.unpack(">h", body[4:6])[0]
        else:  # throttle, results array (compact count in one byte or INT32), first error
            off = 4 + (1 if flex else 4)
            err = struct.unpack(">h", body[off:off + 2])[0]
        check(err == want[api] and took < 2, "%s: error %d (want %d) in %.3f s"
              % (name, err, want[api], took))

    # ApiVersions v0 lists none of them
    s = connect()
    resp = frame_io(s, struct.pack(">hhih", 18, 0, 1, 2) + b"kp")
    s.close()
    n = struct.unpack(">i", resp[6:10])[0]
    keys = {struct.unpack(">h", resp[10 + 6 * i:12 + 6 * i])[0] for i in range(n)}
    check(n > 15 and not keys & set(want), "ApiVersions advertises none of %s" % sorted(want))

    # an API key the broker does not implement (50, DescribeUserScramCredentials): closed at once
    s = connect()
    t0 = time.monotonic()
    resp = frame_io(s, struct.pack(">hhih", 50, 0, 9, 2) + b"kp" + b"\x00\x00\x00\x00")
    took = time.monotonic() - t0
    s.close()
    check(resp is None and took < 2, "unknown API key: connection closed in %.3f s" % took)


if PHASE == "before":
    before()
elif PHASE == "after":
    after()
elif PHASE == "expiry":
    expiry()
elif PHASE == "disabled":
    disabled(sys.argv[3])
else:
    sys.exit("unknown phase " + PHASE)
sys.exit(1 if FAILED else 0)
