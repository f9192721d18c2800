# libtandem store integration tests (lib_store.sh), included from CMakeLists.txt after its
# RDKAFKA_FOUND check and its tandem_it_tests(). lib-store-check drives include/tandem/store.h
# (idempotent consumer, transactional outbox and relay) against a real tandem-broker:
#   ctest -R integration/lib_store --output-on-failure
if(TARGET tandem_store)
  add_executable(lib-store-check lib_store_check.c)
  target_link_libraries(lib-store-check PRIVATE tandem_store)
  # name  timeout(s)  heavy(1: never two heavy tests at once; see CMakeLists.txt)
  tandem_it_tests(lib-store-check "" "lib_store 240 1")
else()
  tandem_skip_test(integration/lib_store "no tandem_store target (libsqlite3-dev, librdkafka-dev)"
                   integration)
endif()

# lib_store_multi.sh: several instances on one database file (the outbox lock, tandem_db_writer,
# idempotent consumers in two processes), through lib-store-multi-check.
if(TARGET tandem_store)
  add_executable(lib-store-multi-check lib_store_multi_check.c)
  target_link_libraries(lib-store-multi-check PRIVATE tandem_store)
  tandem_it_tests(lib-store-multi-check "" "lib_store_multi 300 1")
endif()

# The same store on PostgreSQL (tandem_sql, include/tandem/sql.h), on a real PostgreSQL 15 started
# by pg_lib.sh (Debian's postgresql-15, as an unprivileged user):
#   lib_store_pg       lib_store.sh with STORE_BACKEND=postgres
#   lib_store_pg_race  two processes, each with its writer and its relay, racing on one outbox:
#                      every event published exactly once
#   lib_store_pg_kill  the backend of a writer's connection killed (pg_terminate_backend, kill -9)
#                      mid-write: every write whole or absent, none applied twice
if(TARGET tandem_store AND EXISTS /usr/lib/postgresql/15/bin/postgres)
  if(TARGET tandem_service)
    add_executable(lib-store-pg-service lib_store_pg_service.c)
    target_link_libraries(lib-store-pg-service PRIVATE tandem_service tandem_store)
  endif()
  tandem_it_tests(lib-store-check "" "lib_store_pg 240 1" "lib_store_pg_race 180 1"
                  "lib_store_pg_kill 180 1")
elseif(TARGET tandem_store)
  tandem_skip_test(integration/lib_store_pg "no PostgreSQL 15 (apt-get install postgresql-15)"
                   integration)
endif()
