# Consumer-group integration tests (group_*.sh), included from CMakeLists.txt after its
# RDKAFKA_FOUND check. group-check is a librdkafka high-level consumer/producer/admin tool;
# group-bad speaks raw Kafka through the broker's client codecs. Run them alone with
#   ctest -R integration/group --output-on-failure
add_executable(group-check group_check.c)
target_link_libraries(group-check PRIVATE PkgConfig::RDKAFKA)

add_executable(group-bad group_bad.c raw_kafka.c)
target_link_libraries(group-bad PRIVATE tandem_broker_core)

# name  timeout(s)  heavy(1: never two heavy tests at once; see CMakeLists.txt)
set(TANDEM_GROUP_TESTS
    "group_assign 120 1"
    "group_cooperative 120 1"
    "group_manual_ack 180 1"
    "group_pubsub 90 0"
    "group_kcat 60 0"
    "group_kafkajs 90 0"
    "group_restart 90 0"
    "group_bad 60 0")

foreach(entry ${TANDEM_GROUP_TESTS})
  string(REPLACE " " ";" entry "${entry}")
  list(GET entry 0 name)
  list(GET entry 1 secs)
  list(GET entry 2 heavy)
  math(EXPR deadline "${secs} - 10")
  add_test(NAME integration/${name}
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/${name}.sh)
  set_tests_properties(integration/${name} PROPERTIES
    TIMEOUT ${secs}
    LABELS integration
    ENVIRONMENT "TANDEM_BROKER=$<TARGET_FILE:tandem-broker>;TANDEM_TEST_BIN=$<TARGET_FILE_DIR:group-check>;TANDEM_IT_DIR=${CMAKE_CURRENT_SOURCE_DIR};TEST_DEADLINE=${deadline}")
  if(heavy)
    set_tests_properties(integration/${name} PROPERTIES RESOURCE_LOCK tandem_it_heavy)
  endif()
endforeach()
