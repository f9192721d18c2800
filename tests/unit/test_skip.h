/*
 * How a test binary reports that it did not run. A test whose precondition is missing (Debian's
 * nginx, an io_uring the kernel accepts) must not pass: its main() prints one line starting with
 * "SKIP:" that says why, and exits with TEST_SKIP, which tests/unit/CMakeLists.txt declares as
 * the test's SKIP_RETURN_CODE. CTest then reports it as "Skipped" (not "Passed"), and `make test`
 * (scripts/run-tests.sh) fails unless TANDEM_ALLOW_SKIPS=1 accepts the skips.
 */
#ifndef TANDEM_TEST_SKIP_H
#define TANDEM_TEST_SKIP_H

#define TEST_SKIP 77

#endif
