# The `tandem` command's integration tests (cli_*.sh on cli_lib.sh): the real supervisor running
# tandem-broker, example-hello and Debian's nginx from a manifest in the test's temp dir. Included
# from CMakeLists.txt. Run them alone with
#   ctest -R integration/cli_ --output-on-failure
if(TARGET tandem-cli AND TARGET example-hello AND TARGET tandem-broker)
  # name  timeout(s)  heavy(1: never two heavy tests at once; see CMakeLists.txt)
  set(TANDEM_CLI_TESTS
      "cli_up 60 0"
      "cli_kill 60 0"
      "cli_failed 60 0"
      "cli_ops 90 1"
      "cli_bad 30 0"
      "cli_harden 60 0")
  foreach(entry ${TANDEM_CLI_TESTS})
    string(REPLACE " " ";" entry "${entry}")
    list(GET entry 0 name)
    list(GET entry 1 secs)
    list(GET entry 2 heavy)
    math(EXPR deadline "${secs} - 10")
    add_test(NAME integration/${name} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/${name}.sh)
    set_tests_properties(integration/${name} PROPERTIES
      TIMEOUT ${secs}
      LABELS integration
      ENVIRONMENT "TANDEM_CLI=$<TARGET_FILE:tandem-cli>;EXAMPLE_HELLO=$<TARGET_FILE:example-hello>;TANDEM_BROKER=$<TARGET_FILE:tandem-broker>;TANDEM_TEST_BIN=$<TARGET_FILE_DIR:tandem-cli>;TANDEM_IT_DIR=${CMAKE_CURRENT_SOURCE_DIR};TEST_DEADLINE=${deadline}")
    if(heavy)
      set_tests_properties(integration/${name} PROPERTIES RESOURCE_LOCK tandem_it_heavy)
    endif()
  endforeach()
endif()
