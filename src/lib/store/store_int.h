/*
 * tandem store, private: helpers shared by db.c (open, idempotent consumer), outbox.c
 * (tandem_outbox_add, prune), relay.c (the relay thread) and writer.c (group commit, readers).
 * See include/tandem/store.h for the model; nothing here is exported.
 */
#ifndef TANDEM_STORE_INT_H
#define TANDEM_STORE_INT_H

#include <stdint.h>

#include <sqlite3.h>

/* Runs sql (no parameters, no rows) on db. Returns 0, or TANDEM_EIO with the reason logged under
 * what (e.g. "store: begin"). */
int store_exec(sqlite3 *db, const char *sql, const char *what);

/* Outbox rows inserted by tandem_outbox_add on the calling thread, ever (the writer compares it
 * around a batch to know whether to wake the relay). */
extern _Thread_local uint64_t store_outbox_added;

/* Logs SQLite's last error on db under msg and returns TANDEM_EIO. */
int store_fail(sqlite3 *db, const char *msg);

#endif
