#!/usr/bin/env bash
# lib_store.sh on PostgreSQL: the same outbox, kill -9 and idempotent-consumer checks, with
# lib-store-check given postgres:// URLs of databases on a server started by pg_lib.sh.
export STORE_BACKEND=postgres
. "$(dirname "$0")/lib_store.sh"
