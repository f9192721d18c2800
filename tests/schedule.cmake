# The order ctest -j starts the tests in, and which tests may run side by side.
#   tandem_it_heavy   the tests that start a broker and services and time something or kill them
#                     mid-run, drive chromium, or time deadlines (tests/unit): one at a time.
#   tandem_cpu        the fuzzers (a whole core each) and the unit tests that time things: one at
#                     a time, so a fuzzer never runs beside a timing unit test.
#   tandem_blog_light the blog's tests that only check answers (tests/blog/CMakeLists.txt): one at
#                     a time, beside a heavy test.
# With ctest -j2 the heavy tests are the suite's longest chain, so the suite takes as long as they
# do. CTest starts tests in descending COST (a fresh checkout has no timings of its own yet, so
# every cost is 0 and the order is the order of declaration). With COST 1000 on the heavy tests the
# chain starts at once and never waits, and the other tests fill the second core beside it.
#   tandem_heavy_first(): sets COST 1000 on the tests of the current directory that hold
#     tandem_it_heavy; call it at the end of a directory's CMakeLists.txt.
include_guard(GLOBAL)

function(tandem_heavy_first)
  get_property(tests DIRECTORY PROPERTY TESTS)
  foreach(t ${tests})
    get_test_property(${t} RESOURCE_LOCK locks)
    if(locks MATCHES "tandem_it_heavy")
      set_tests_properties(${t} PROPERTIES COST 1000)
    endif()
  endforeach()
endfunction()
