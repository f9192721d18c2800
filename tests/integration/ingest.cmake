# `tandem bench ingest`'s integration tests (ingest_*.sh on cli_lib.sh): the benchmark run by the
# tandem command against a system it started (docs/ingest.md). Included from CMakeLists.txt.
#   ingest_fleet     every mode and an outage, against the fleet service (tandem-fleet when it is
#                    built, else ingest_fleet_contract.mjs, a stand-in from docs/fleet.md), the
#                    results checked against the ledger and a replay of the topic (kafkajs)
#   ingest_activity  the same comparison for the activity service's page-view beacons
# tandem-ingest itself is defined later (bench/ is configured after tests/): its own conditions
# (bench/ingest/CMakeLists.txt) are checked here instead.
find_program(NODE_EXECUTABLE node)
pkg_check_modules(INGEST_IT_JANSSON jansson)
if(TARGET tandem-cli AND TARGET tandem-broker AND TARGET example-hello AND NODE_EXECUTABLE
   AND RDKAFKA_FOUND AND INGEST_IT_JANSSON_FOUND AND HTTP_PARSER_LIBRARY)
  set(TANDEM_IT_ENV "TANDEM_CLI=$<TARGET_FILE:tandem-cli>;EXAMPLE_HELLO=$<TARGET_FILE:example-hello>")
  if(TARGET tandem-fleet)
    list(APPEND TANDEM_IT_ENV "FLEET_BIN=$<TARGET_FILE:tandem-fleet>")
  endif()
  tandem_it_tests(tandem-cli "" "ingest_fleet 150 1")
  if(TARGET tandem-activity)
    list(APPEND TANDEM_IT_ENV "ACTIVITY_BIN=$<TARGET_FILE:tandem-activity>")
    tandem_it_tests(tandem-cli "" "ingest_activity 120 1")
  else()
    tandem_skip_test(integration/ingest_activity "tandem-activity is not built" integration)
  endif()
  unset(TANDEM_IT_ENV)
else()
  tandem_skip_test(integration/ingest "the tandem command, tandem-ingest or node is missing \
(scripts/deps.sh)" integration)
endif()
