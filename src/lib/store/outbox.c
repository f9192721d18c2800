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
#include "sql_int.h"
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

int tandem_sql_outbox_add(struct tandem_sql *db, const struct tandem_event_out *ev, char id_out[37])
{
    char uuid[EVENTS_UUID_SIZE];
    struct tandem_sql_stmt *st = NULL;
    if (db == NULL || ev == NULL || tandem_sql_txn_state(db) != TANDEM_SQL_ACTIVE) {
        return TANDEM_EINVAL; /* no transaction to share the fate of */
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
    if (sql_stmt_get(db, SQL_CACHED_OUTBOX_ADD,
                     "INSERT INTO tandem_outbox (topic, key, type, subject, event_id,"
                     " traceparent, data, created_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
                     &st) != 0) {
        return TANDEM_EIO;
    }
    tandem_sql_bind_text(st, 1, ev->topic);
    tandem_sql_bind_blob(st, 2, ev->key, ev->key_len);
    tandem_sql_bind_text(st, 3, ev->type);
    tandem_sql_bind_text(st, 4, ev->subject);
    tandem_sql_bind_text(st, 5, id);
    tandem_sql_bind_text(st, 6, ev->traceparent);
    tandem_sql_bind_blob(st, 7, ev->data, ev->data_len);
    tandem_sql_bind_int64(st, 8, clock_wall_ms());
    int rc = tandem_sql_step(st) == TANDEM_SQL_DONE ? 0 : TANDEM_EIO;
    sql_stmt_put(st);
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

int tandem_outbox_add(sqlite3 *db, const struct tandem_event_out *ev, char id_out[37])
{
    if (db == NULL) {
        return TANDEM_EINVAL;
    }
    struct sql_lite s;
    sql_lite_init(&s, db, false);
    return tandem_sql_outbox_add(&s.base, ev, id_out);
}
