# The configuration and record admin APIs (DescribeConfigs, AlterConfigs,
# IncrementalAlterConfigs, DeleteRecords, OffsetDelete), included from CMakeLists.txt after its
# RDKAFKA_FOUND check. config-check drives them through librdkafka's Admin API; the kafkajs and
# kafka-python scripts judge them with those clients. Run them alone with
#   ctest -R 'integration/(admin_configs|admin_records|kafkajs_admin|admin_kafka_python)'
add_executable(config-check config_check.c)
target_link_libraries(config-check PRIVATE PkgConfig::RDKAFKA)

# name  timeout(s)  heavy (see CMakeLists.txt)
set(TANDEM_CONFIG_TESTS
    "admin_configs 180 0"
    "admin_records 180 0"
    "kafkajs_admin 120 0"
    "admin_kafka_python 120 0")

tandem_it_tests(config-check t_ ${TANDEM_CONFIG_TESTS})
