#!/usr/bin/env bash
# Three librdkafka consumer processes in one group (eager "range,roundrobin" assignment) split a
# 6-partition topic disjointly; a kill -9 hands the dead member's partitions to the other two
# within the session timeout plus a margin, and records produced to them are consumed; a clean
# close (SIGTERM: rd_kafka_consumer_close, LeaveGroup) hands everything to the last member well
# within the session timeout. See assign_scenario in group_lib.sh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/group_lib.sh"
assign_scenario range,roundrobin
