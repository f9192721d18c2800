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
      "cli_harden 60 0"
      "cli_reload 90 0"
      "cli_slowloris 90 1"
      "cli_gateway 120 0"
      "cli_files 90 0"
      "cli_data 60 0"
      "cli_jwt 60 0"
      "cli_sse 120 0")
  set(TANDEM_IT_ENV "TANDEM_CLI=$<TARGET_FILE:tandem-cli>;EXAMPLE_HELLO=$<TARGET_FILE:example-hello>")
  tandem_it_tests(tandem-cli "" ${TANDEM_CLI_TESTS})
  unset(TANDEM_IT_ENV)
else()
  tandem_skip_test(integration/cli "the tandem command or example-hello is not built (missing \
packages: scripts/deps.sh)" integration)
endif()
