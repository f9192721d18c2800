# The gateway under load (cli_load_*.sh on cli_load_lib.sh): a system started by `tandem up`
# (tandem-broker, example-hello instances, nginx) driven by tandem-load (bench/load/) while it is
# scaled (cli_load_scale) or an instance is killed with SIGKILL (cli_load_kill). Included from
# CMakeLists.txt. Heavy: under ASan the load generator, nginx and the instances fill both cores.
# Run one alone: ctest -R integration/cli_load_scale --output-on-failure
# tandem-load is defined after this directory (bench/load/), hence no TARGET check for it.
find_program(TANDEM_NGINX nginx PATHS /usr/sbin)
if(TARGET tandem-cli AND TARGET example-hello AND HTTP_PARSER_LIBRARY AND TANDEM_NGINX)
  set(TANDEM_IT_ENV "TANDEM_CLI=$<TARGET_FILE:tandem-cli>;TANDEM_LOAD=$<TARGET_FILE:tandem-load>;EXAMPLE_HELLO=$<TARGET_FILE:example-hello>")
  tandem_it_tests(tandem-cli "" "cli_load_scale 120 1" "cli_load_kill 120 1")
  unset(TANDEM_IT_ENV)
else()
  foreach(name cli_load_scale cli_load_kill)
    tandem_skip_test(integration/${name} "needs the tandem command, example-hello, http-parser \
and nginx (scripts/deps.sh)" integration)
  endforeach()
endif()
