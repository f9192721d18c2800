# Skips that show. A test that cannot run on this machine must be reported as skipped, never pass
# and never vanish from the list: CTest shows it as "Skipped" when it exits with its
# SKIP_RETURN_CODE (77, TEST_SKIP in tests/unit/test_skip.h), and `make test`
# (scripts/run-tests.sh) fails on any skip unless TANDEM_ALLOW_SKIPS=1.
#   tandem_skip_test(NAME REASON LABEL): registers NAME as a test that prints "SKIP: REASON" and
#     exits 77, for the tests whose build prerequisites are missing (they are not built, so the
#     real test cannot be registered).
#   tandem_may_skip(NAME...): declares that these tests exit 77 when they skip themselves.
include_guard(GLOBAL)

function(tandem_skip_test name reason label)
  add_test(NAME ${name} COMMAND sh -c "echo \"SKIP: $0\"; exit 77" "${reason}")
  set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77 LABELS ${label})
endfunction()

function(tandem_may_skip)
  set_tests_properties(${ARGN} PROPERTIES SKIP_RETURN_CODE 77)
endfunction()
