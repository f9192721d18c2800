/*
 * tandem store: tandem_outbox_add, the write side of the transactional outbox.
 *
 * Model. The row is inserted on the caller's connection inside the caller's transaction, so it
 * shares the fate of the state change written in that transaction. The event is checked here,
 * with the rules tandem_publish applies, so that a row the relay cannot publish is refused at
 * write time rather than found later. The CloudEvents id is fixed here (generated when absent):
 * every publication of the row, including re-publications after a crash, carries it.
 *
 *   tandem_outbox
 *   COLUMN       TYPE     NOTE
 *   seq          INTEGER  PRIMARY KEY AUTOINCREMENT: never reused, so the relay's cursor
 *                         (the last seq it published) never skips a new row
 *   topic        TEXT     required
 *   key          BLOB     the record key, NULL: none
 *   type         TEXT     the CloudEvents type, required
 *   subject      TEXT     NULL: none
 *   event_id     TEXT     the CloudEvents id, always set
 *   traceparent  TEXT     NULL: the relay's publication starts a new trace
 *   data         BLOB     the JSON body, NULL: none
 *   created_at   INTEGER  unix ms
 *   sent_at      INTEGER  NULL until acknowledged by the broker; -1: refused by tandem_publish
 */
#include <string.h>
#include <sys/random.h>

#include "common/clock.h"
#include "events_int.h"
#include "store_int.h"
#include "tandem/cloudevents.h"
#include "tandem/store.h"
#include "tandem/trace.h"

_Thread_local uint64_t store_outbox_added;

static int event_check(const struct tandem_event_out *ev)
{
    if (ev->topic == NULL || ev->topic[0] == '\0' || ev->type == NULL || ev->type[0] == '\0') {
        return TANDEM_EINVAL;
    }
    if ((ev->id != NULL && ev->id[0] == '\0') || (ev->subject != NULL && ev->subject[0] == '\0')) {
        return TANDEM_EINVAL;
    }
    if (ev->traceparent != NULL &&
        !tandem_traceparent_valid(ev->traceparent, strlen(ev->traceparent))) {
        return TANDEM_EINVAL;
    }
    if ((ev->data == NULL && ev->data_len != 0) || (ev->key == NULL && ev->key_len != 0)) {
        return TANDEM_EINVAL;
    }
    /* The same data check tandem_publish makes: a row the relay could never publish must be
     * refused here, inside the caller's transaction, or its state change would lose its event. */
    if (ev->data_len > 0 && !tandem_ce_json_data_valid(ev->data, ev->data_len)) {
        return TANDEM_EINVAL;
    }
    return 0;
}

static void bind_opt_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s != NULL) {
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(st, i);
    }
}

static void bind_opt_blob(sqlite3_stmt *st, int i, const void *p, size_t n)
{
    if (p != NULL) {
        sqlite3_bind_blob64(st, i, n > 0 ? p : "", n, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(st, i);
    }
}

int tandem_outbox_add(sqlite3 *db, const struct tandem_event_out *ev, char id_out[37])
{
    char uuid[EVENTS_UUID_SIZE];
    sqlite3_stmt *st = NULL;
    if (db == NULL || ev == NULL || sqlite3_get_autocommit(db)) {
        return TANDEM_EINVAL; /* autocommit on: no transaction to share the fate of */
    }
    if (event_check(ev) != 0) {
        return TANDEM_EINVAL;
    }
    const char *id = ev->id;
    if (id == NULL) {
        uint8_t rnd[16];
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
            return TANDEM_EIO;
        }
        events_uuid_format(rnd, uuid);
        id = uuid;
    }
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO tandem_outbox (topic, key, type, subject, event_id,"
                           " traceparent, data, created_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
                           -1, &st, NULL) != SQLITE_OK) {
        return store_fail(db, "store: outbox insert");
    }
    sqlite3_bind_text(st, 1, ev->topic, -1, SQLITE_STATIC);
    bind_opt_blob(st, 2, ev->key, ev->key_len);
    sqlite3_bind_text(st, 3, ev->type, -1, SQLITE_STATIC);
    bind_opt_text(st, 4, ev->subject);
    sqlite3_bind_text(st, 5, id, -1, SQLITE_STATIC);
    bind_opt_text(st, 6, ev->traceparent);
    bind_opt_blob(st, 7, ev->data, ev->data_len);
    sqlite3_bind_int64(st, 8, clock_wall_ms());
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(db, "store: outbox insert");
    sqlite3_finalize(st);
    if (rc == 0) {
        store_outbox_added++;
    }
    if (rc == 0 && id_out != NULL) {
        size_t n = strlen(id);
        n = n < 36 ? n : 36;
        memcpy(id_out, id, n);
        id_out[n] = '\0';
    }
    return rc;
}
