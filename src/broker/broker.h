/*
 * tandem-broker's start-up and shutdown (broker.c), the top of the core: main.c calls these.
 *
 * broker_init opens storage, reads the broker's identity, opens the offsets log and the group
 * coordinator, binds the listener with the request lifecycle (request.c) and the dispatch table
 * (api/table.c) behind it, starts the flusher, and installs timers and signal handling.
 * broker_run runs the loop until SIGTERM/SIGINT and a bounded drain; broker_cleanup syncs and
 * closes everything. The state they share with every layer below is struct broker (core.h).
 */
#ifndef TANDEM_BROKER_BROKER_H
#define TANDEM_BROKER_BROKER_H

#include "core.h"

/* Fills b (zeroed first) and starts everything; cfg must outlive b. Returns 0, or a negative
 * TANDEM_E* after logging why and undoing what was started. */
int broker_init(struct broker *b, struct broker_config *cfg);
/* Runs until SIGTERM/SIGINT and a drain. Returns 0 on a clean stop. */
int broker_run(struct broker *b);
/* Stops and frees everything broker_init started (also after a failed broker_init). */
void broker_cleanup(struct broker *b);

#endif
