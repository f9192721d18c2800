# libtandem integration tests (lib_*.sh), included from CMakeLists.txt after its RDKAFKA_FOUND
# check and its tandem_it_tests(). lib-events-check drives include/tandem/events.h against a real
# tandem-broker. Run them alone with
#   ctest -R integration/lib_ --output-on-failure
if(TARGET tandem_events)
  add_executable(lib-events-check lib_events_check.c)
  target_link_libraries(lib-events-check PRIVATE tandem_events PkgConfig::RDKAFKA
                                                 Threads::Threads)
  # the rewind scenario reaches the consumer's librdkafka handle (events_consumer_kafka)
  target_include_directories(lib-events-check PRIVATE ${PROJECT_SOURCE_DIR}/src/lib/events)
  # name  timeout(s)  heavy(1: never two heavy tests at once; see CMakeLists.txt)
  tandem_it_tests(lib-events-check "" "lib_events 240 1")
else()
  tandem_skip_test(integration/lib_events "no tandem_events target (librdkafka-dev)" integration)
endif()

# A consumer's lag per partition in /metrics (lib_lag.sh): lib-lag-check is a tandem service whose
# handler blocks on a record until released, so the gauges are read at known positions.
if(TARGET tandem_service AND TARGET tandem_events)
  add_executable(lib-lag-check lib_lag_check.c)
  target_link_libraries(lib-lag-check PRIVATE tandem_service)
  tandem_it_tests(lib-lag-check "" "lib_lag 150 1")
endif()
