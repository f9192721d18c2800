# Consumer-group integration tests (group_*.sh), included from CMakeLists.txt after its
# RDKAFKA_FOUND check and its tandem_it_tests(). group-check is a librdkafka high-level
# consumer/producer/admin tool; group-bad speaks raw Kafka through the client codecs
# (tandem_kafka_client).
# Run them alone with
#   ctest -R integration/group --output-on-failure
add_executable(group-check group_check.c)
target_link_libraries(group-check PRIVATE PkgConfig::RDKAFKA)

add_executable(group-bad group_bad.c raw_kafka.c)
target_link_libraries(group-bad PRIVATE tandem_kafka_client)

# name  timeout(s)  heavy(1: never two heavy tests at once; see CMakeLists.txt)
set(TANDEM_GROUP_TESTS
    "group_assign 120 1"
    "group_cooperative 120 1"
    "group_manual_ack 180 1"
    "group_pubsub 90 0"
    "group_kcat 60 0"
    "group_kafkajs 90 0"
    "group_restart 90 0"
    "group_bad 60 0"
    "group_kafka_python 120 0"
    "group_empty 90 0")

tandem_it_tests(group-check "" ${TANDEM_GROUP_TESTS})
