# broker.external (docs/scale-out.md): tandem-mock-cluster, librdkafka's mock cluster as a process
# of its own (three brokers on 127.0.0.1: mock_cluster.c says what it supports), used by
# blog/system-cluster; and cli_external.sh, `tandem up` against an external tandem-broker (the
# topics created through CreateTopics, no broker started). Included from CMakeLists.txt.
add_executable(tandem-mock-cluster mock_cluster.c)
target_link_libraries(tandem-mock-cluster PRIVATE PkgConfig::RDKAFKA)
if(TARGET tandem-cli AND TARGET example-hello AND TARGET tandem-broker)
  set(TANDEM_IT_ENV "TANDEM_CLI=$<TARGET_FILE:tandem-cli>;EXAMPLE_HELLO=$<TARGET_FILE:example-hello>")
  tandem_it_tests(tandem-cli "" "cli_external 90 0")
  unset(TANDEM_IT_ENV)
endif()
