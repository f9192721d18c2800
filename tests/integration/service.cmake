# libtandem runtime integration test (lib_service.sh): curl against example-hello. Included from
# CMakeLists.txt; needs only the example (no broker). Run alone:
#   ctest -R integration/lib_service --output-on-failure
if(TARGET example-hello)
  add_test(NAME integration/lib_service COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/lib_service.sh)
  set_tests_properties(integration/lib_service PROPERTIES
    TIMEOUT 90
    LABELS integration
    ENVIRONMENT "EXAMPLE_HELLO=$<TARGET_FILE:example-hello>;TEST_DEADLINE=80")
endif()
