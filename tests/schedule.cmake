# The order ctest -j starts the tests in. Tests that hold the tandem_it_heavy lock (the blog's,
# the heavy integration tests, the image, and the unit tests that time things) run one at a time,
# so together they are the suite's longest chain (1220 of 1966 test seconds in a CI run), and
# with ctest -j2 the suite lasts as long as the chain. CTest starts tests in descending COST; a
# fresh checkout has no timings of its own yet, so every cost is 0 and the order was the order of
# declaration: the unit tests first, for about a minute in which no heavy test ran. With COST
# 1000 the chain starts at once and never waits, and the other tests fill the second core beside
# it. (Letting some of the heavy tests run beside one another was tried: the suite is CPU-bound on
# two cores, every such test slowed down, and the run was only 4% shorter.)
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
