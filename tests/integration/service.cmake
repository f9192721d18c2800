# libtandem runtime integration test (lib_service.sh): curl against example-hello. Included from
# CMakeLists.txt; needs only the example (no broker: /readyz is 503 "broker"). Run alone:
#   ctest -R integration/lib_service --output-on-failure
if(TARGET example-hello)
  add_test(NAME integration/lib_service COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/lib_service.sh)
  set_tests_properties(integration/lib_service PROPERTIES
    TIMEOUT 120
    LABELS integration
    ENVIRONMENT "EXAMPLE_HELLO=$<TARGET_FILE:example-hello>;TEST_DEADLINE=110")
else()
  tandem_skip_test(integration/lib_service "example-hello is not built (libtandem's packages: \
scripts/deps.sh)" integration)
endif()

# libtandem.so + tandem.pc installed, and the example built from them alone (lib_install.sh).
if(TARGET tandem)
  if(TANDEM_SANITIZE)
    set(san "-fsanitize=address,undefined")
  endif()
  add_test(NAME integration/lib_install COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/lib_install.sh)
  set_tests_properties(integration/lib_install PROPERTIES
    TIMEOUT 120
    LABELS integration
    ENVIRONMENT "TANDEM_BUILD_DIR=${CMAKE_BINARY_DIR};TANDEM_SRC_DIR=${CMAKE_SOURCE_DIR};CC=${CMAKE_C_COMPILER};TANDEM_SAN_CFLAGS=${san}")
else()
  tandem_skip_test(integration/lib_install "libtandem.so is not built (scripts/deps.sh)" integration)
endif()

# example-hello's events against a real tandem-broker (lib_hello_events.sh, on lib.sh): events
# produced and consumed in /metrics, kcat reading them, /readyz following the broker, SIGTERM
# committing the consumer's offsets.
if(TARGET example-hello AND TARGET tandem_events AND TARGET kafka-check)
  add_test(NAME integration/lib_hello_events
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/lib_hello_events.sh)
  set_tests_properties(integration/lib_hello_events PROPERTIES
    TIMEOUT 150
    LABELS integration
    RESOURCE_LOCK tandem_it_heavy
    ENVIRONMENT "EXAMPLE_HELLO=$<TARGET_FILE:example-hello>;TANDEM_BROKER=$<TARGET_FILE:tandem-broker>;TANDEM_TEST_BIN=$<TARGET_FILE_DIR:kafka-check>;TANDEM_IT_DIR=${CMAKE_CURRENT_SOURCE_DIR};TEST_DEADLINE=140")
else()
  tandem_skip_test(integration/lib_hello_events "example-hello or tandem_events is not built \
(scripts/deps.sh)" integration)
endif()

# libtandem's consumer with cooperative-sticky (incremental) rebalancing (lib_cooperative.sh):
# two example-hello members sharing a 4-partition topic mid-stream, every record handled once,
# offsets committed on incremental revoke.
if(TARGET example-hello AND TARGET tandem_events AND TARGET kafka-check)
  add_test(NAME integration/lib_cooperative
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/lib_cooperative.sh)
  set_tests_properties(integration/lib_cooperative PROPERTIES
    TIMEOUT 120
    LABELS integration
    RESOURCE_LOCK tandem_it_heavy
    ENVIRONMENT "EXAMPLE_HELLO=$<TARGET_FILE:example-hello>;TANDEM_BROKER=$<TARGET_FILE:tandem-broker>;TANDEM_TEST_BIN=$<TARGET_FILE_DIR:kafka-check>;TANDEM_IT_DIR=${CMAKE_CURRENT_SOURCE_DIR};TEST_DEADLINE=110")
else()
  tandem_skip_test(integration/lib_cooperative "example-hello or tandem_events is not built \
(scripts/deps.sh)" integration)
endif()

# Every service binary's --help touches nothing (services_help.sh: tandem_service_help_asked).
if(TARGET tandem-users AND TARGET tandem-console)
  add_test(NAME integration/services_help COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/services_help.sh)
  set_tests_properties(integration/services_help PROPERTIES
    TIMEOUT 60
    LABELS integration
    ENVIRONMENT "TANDEM_TEST_BIN=$<TARGET_FILE_DIR:tandem-users>")
endif()

# The console's admin client across a broker outage (console_admin.sh, console_admin_check.c,
# which #includes services/console/admin.c): a coordinator call's timeout replaces the handle,
# and the process survives the broker's return.
if(TARGET tandem-console)
  add_executable(console-admin-check console_admin_check.c)
  target_include_directories(console-admin-check PRIVATE ${PROJECT_SOURCE_DIR}/services/console)
  target_link_libraries(console-admin-check PRIVATE tandem_service tandem_client
                                                    PkgConfig::RDKAFKA)
  tandem_it_tests(console-admin-check "" "console_admin 120 0")
else()
  tandem_skip_test(integration/console_admin "the console is not built (librdkafka-dev missing)"
                   integration)
endif()
