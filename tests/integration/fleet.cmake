# tandem-fleet against a real tandem-broker (fleet.sh, docs/fleet.md): the state a replay implies,
# malformed records dead-lettered, REST ingest and reads, the SSE stream, a restart from the
# snapshots without replaying the topic, two instances splitting the partitions. fleet-check
# (fleet_check.c) produces the positions and judges the answers. Run alone with
#   ctest -R integration/fleet --output-on-failure
if(TARGET tandem-fleet AND TARGET group-check)
  add_executable(fleet-check fleet_check.c)
  target_link_libraries(fleet-check PRIVATE fleet_core PkgConfig::RDKAFKA)
  set(TANDEM_IT_ENV "TANDEM_FLEET=$<TARGET_FILE:tandem-fleet>")
  tandem_it_tests(group-check "" "fleet 240 1")
  unset(TANDEM_IT_ENV)
else()
  tandem_skip_test(integration/fleet "tandem-fleet is not built (librdkafka-dev)" integration)
endif()
