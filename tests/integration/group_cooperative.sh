#!/usr/bin/env bash
# group_assign.sh with partition.assignment.strategy=cooperative-sticky: incremental rebalance
# callbacks (rd_kafka_incremental_assign/unassign), and the survivors of a kill -9 keep the
# partitions they had. See assign_scenario in group_lib.sh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/group_lib.sh"
assign_scenario cooperative-sticky
