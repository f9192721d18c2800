/*
 * reads.c: the analytics' GET routes, answered from the service's own database through the
 * calling worker's read connection (README.md documents each answer; the web UI's console and
 * the chaos test read them, so their shapes stay as they are).
 *
 * Everything here is as of the events applied so far: the consumer may be behind the owners by
 * its lag (tandem_consumer_lag in /metrics). The totals are read in one read transaction, so
 * they are one consistent snapshot.
 */
#include <stdio.h>
#include <string.h>

#include "activity.h"

#define DAY_MS (86400 * 1000LL)

/* Query parameter name: an integer in [min, max], def when absent. Returns 0 and *out, or -1
 * after answering 422. */
static int int_param(struct tandem_http_request *req, const char *name, int64_t def, int64_t min,
                     int64_t max, int64_t *out)
{
    char buf[24];
    bool answered = false;
    const char *v = blog_query(req, name, buf, sizeof(buf), &answered);
    if (answered) {
        return -1;
    }
    *out = def;
    if (v == NULL || (blog_parse_id(v, out) == 0 && *out >= min && *out <= max)) {
        return 0;
    }
    char message[80];
    snprintf(message, sizeof(message), "must be an integer from %lld to %lld", (long long)min,
             (long long)max);
    tandem_respond_invalid(req, json_pack("{s:[s]}", name, message));
    return -1;
}

/* The statement for sql on a worker's reader, or NULL after answering 500. */
static struct tandem_sql_stmt *reader_stmt(struct tandem_http_request *req, struct tandem_sql *db,
                                           const char *sql)
{
    struct tandem_sql_stmt *st = blog_stmt(db, sql);
    if (st == NULL) {
        tandem_respond_problem(req, 500, "storage failed");
    }
    return st;
}

/* Answers 200 with body, or 500 when a step failed (rc: the last tandem_sql_step's; the
 * database's message is logged by tandem_sql). */
static void answer(struct tandem_http_request *req, int rc, json_t *body)
{
    if (rc != TANDEM_SQL_DONE) {
        tandem_log_error(req, "activity: a read failed", "\"error\":\"%s\"",
                         tandem_strerror(rc < 0 ? rc : TANDEM_EIO));
        json_decref(body);
        tandem_respond_problem(req, 500, "storage failed");
        return;
    }
    tandem_respond_json(req, 200, body);
}

/* ---- GET /api/activity/daily ---------------------------------------------------------------- */

static const char DAILY[] = "SELECT day, type, count FROM activity_daily "
                            "WHERE day >= ?1 AND day <= ?2 ORDER BY day, type";

void activity_daily(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    int64_t days;
    if (int_param(req, "days", 7, 1, 90, &days) != 0) {
        return;
    }
    struct tandem_sql *db = blog_reader(req, activity.store);
    struct tandem_sql_stmt *st = db != NULL ? reader_stmt(req, db, DAILY) : NULL;
    if (st == NULL) {
        return;
    }
    /* every day of the range, oldest first, today (UTC) last, with or without events */
    int64_t first = blog_now_ms() - (days - 1) * DAY_MS;
    json_t *list = json_array();
    char day[ACTIVITY_DAY_SIZE], from[ACTIVITY_DAY_SIZE];
    for (int64_t k = 0; k < days; k++) {
        activity_day(first + k * DAY_MS, day);
        json_array_append_new(list, json_pack("{s:s,s:i,s:{}}", "day", day, "total", 0, "counts"));
    }
    activity_day(first, from);
    tandem_sql_bind_text(st, 1, from);
    tandem_sql_bind_text(st, 2, day);
    size_t at = 0; /* rows come by day: the day they fill moves forward only */
    int rc = tandem_sql_step(st);
    for (; rc == TANDEM_SQL_ROW; rc = tandem_sql_step(st)) {
        const char *d = blog_col_text(st, 0);
        while (at < (size_t)days &&
               strcmp(json_string_value(json_object_get(json_array_get(list, at), "day")), d) < 0) {
            at++;
        }
        json_t *o = json_array_get(list, at);
        if (o == NULL) {
            break; /* not reached: the range bounds the rows */
        }
        int64_t n = tandem_sql_column_int64(st, 2);
        json_object_set_new(json_object_get(o, "counts"), blog_col_text(st, 1), json_integer(n));
        json_object_set_new(o, "total", json_integer(blog_json_int(o, "total") + n));
    }
    tandem_sql_reset(st);
    answer(req, rc, json_pack("{s:o}", "days", list));
}

/* ---- GET /api/activity/top-articles --------------------------------------------------------- */

static const char TOP[] = "SELECT slug, title, reads, favorites, comments FROM activity_articles "
                          "WHERE deleted = 0 AND version > 0 "
                          "ORDER BY reads DESC, favorites DESC, id DESC LIMIT ?1";

void activity_top_articles(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    int64_t limit;
    if (int_param(req, "limit", 10, 1, 100, &limit) != 0) {
        return;
    }
    struct tandem_sql *db = blog_reader(req, activity.store);
    struct tandem_sql_stmt *st = db != NULL ? reader_stmt(req, db, TOP) : NULL;
    if (st == NULL) {
        return;
    }
    tandem_sql_bind_int64(st, 1, limit);
    json_t *list = json_array();
    int rc = tandem_sql_step(st);
    for (; rc == TANDEM_SQL_ROW; rc = tandem_sql_step(st)) {
        json_array_append_new(list,
                              json_pack("{s:s,s:s,s:I,s:I,s:I}", "slug", blog_col_text(st, 0),
                                        "title", blog_col_text(st, 1), "reads",
                                        (json_int_t)tandem_sql_column_int64(st, 2), "favorites",
                                        (json_int_t)tandem_sql_column_int64(st, 3), "comments",
                                        (json_int_t)tandem_sql_column_int64(st, 4)));
    }
    tandem_sql_reset(st);
    answer(req, rc, json_pack("{s:o}", "articles", list));
}

/* ---- GET /api/activity/users/{username} ----------------------------------------------------- */

/* A user's items, newest first; the article (by id, else by the slug a read named) and the other
 * user as they are now. */
static const char RECENT[] =
    "SELECT r.type, r.at, r.comment_id, r.article_id IS NOT NULL OR r.slug IS NOT NULL, "
    "COALESCE(a.slug, r.slug), a.title, COALESCE(a.deleted, 0), r.other_user_id, u.username "
    "FROM activity_recent r "
    "LEFT JOIN activity_articles a ON a.id = COALESCE(r.article_id, "
    "(SELECT s.article_id FROM activity_slugs s WHERE s.slug = r.slug)) "
    "LEFT JOIN blog_authors u ON u.user_id = r.other_user_id "
    "WHERE r.user_id = ?1 ORDER BY r.at DESC, r.id DESC LIMIT ?2";

/* The column, or JSON null. */
static json_t *text_or_null(struct tandem_sql_stmt *st, int i)
{
    const char *s = tandem_sql_column_text(st, i);
    return s == NULL ? json_null() : json_string(s);
}

static json_t *recent_item(struct tandem_sql_stmt *st)
{
    json_t *item = json_pack("{s:s,s:o}", "type", blog_col_text(st, 0), "at",
                             blog_time_json(tandem_sql_column_int64(st, 1)));
    if (tandem_sql_column_int64(st, 3) != 0) {
        json_object_set_new(item, "article",
                            json_pack("{s:o,s:o,s:b}", "slug", text_or_null(st, 4), "title",
                                      text_or_null(st, 5), "deleted",
                                      tandem_sql_column_int64(st, 6) != 0));
    }
    if (!tandem_sql_column_null(st, 7)) {
        json_object_set_new(item, "profile", json_pack("{s:o}", "username", text_or_null(st, 8)));
    }
    if (!tandem_sql_column_null(st, 2)) {
        json_object_set_new(item, "commentId", json_integer(tandem_sql_column_int64(st, 2)));
    }
    return item;
}

void activity_user(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    int64_t limit;
    if (int_param(req, "limit", 20, 1, 50, &limit) != 0) {
        return;
    }
    struct tandem_sql *db = blog_reader(req, activity.store);
    if (db == NULL) {
        return;
    }
    const char *username = tandem_param(req, "username");
    int64_t user = blog_utf8_valid(username) ? blog_profiles_id_of(db, username) : 0;
    if (user == 0) {
        blog_not_found(req, "user");
        return;
    }
    struct tandem_sql_stmt *st = reader_stmt(req, db, RECENT);
    if (st == NULL) {
        return;
    }
    tandem_sql_bind_int64(st, 1, user);
    tandem_sql_bind_int64(st, 2, limit);
    json_t *list = json_array();
    int rc = tandem_sql_step(st);
    for (; rc == TANDEM_SQL_ROW; rc = tandem_sql_step(st)) {
        json_array_append_new(list, recent_item(st));
    }
    tandem_sql_reset(st);
    answer(req, rc, json_pack("{s:s,s:o}", "username", username, "activity", list));
}

/* ---- GET /api/activity/totals --------------------------------------------------------------- */

static const char TOTALS[] =
    "SELECT (SELECT COUNT(*) FROM blog_authors WHERE version > 0), "
    "(SELECT COUNT(*) FROM activity_articles WHERE version > 0 AND deleted = 0), "
    "(SELECT COUNT(*) FROM activity_comments WHERE deleted = 0), "
    "(SELECT COALESCE(SUM(favorites), 0) FROM activity_articles "
    "WHERE version > 0 AND deleted = 0), "
    "(SELECT COUNT(*) FROM blog_follows WHERE following = 1)";

static const char EVENTS[] =
    "SELECT type, SUM(count) FROM activity_daily GROUP BY type ORDER BY type";

/* One snapshot for both statements: SQLite's read transaction (deferred: no write lock), and on
 * PostgreSQL REPEATABLE READ (its READ COMMITTED takes a snapshot per statement). */
static const char BEGIN_READ[] = "BEGIN";
static const char BEGIN_READ_PG[] = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
static const char END_READ[] = "COMMIT";
static const char ABORT_READ[] = "ROLLBACK";

/* Runs a statement without rows (BEGIN, COMMIT, ROLLBACK) on the reader; TANDEM_SQL_DONE or the
 * error. */
static int exec_cached(struct tandem_sql *db, const char *sql)
{
    struct tandem_sql_stmt *st = blog_stmt(db, sql);
    int rc = st != NULL ? tandem_sql_step(st) : TANDEM_EIO;
    if (st != NULL) {
        tandem_sql_reset(st);
    }
    return rc;
}

void activity_totals(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    struct tandem_sql *db = blog_reader(req, activity.store);
    if (db == NULL) {
        return;
    }
    struct tandem_sql_stmt *t = reader_stmt(req, db, TOTALS);
    struct tandem_sql_stmt *e = t != NULL ? reader_stmt(req, db, EVENTS) : NULL;
    if (e == NULL) {
        return;
    }
    int rc =
        exec_cached(db, tandem_sql_backend(db) == TANDEM_SQL_POSTGRES ? BEGIN_READ_PG : BEGIN_READ);
    json_t *body = NULL;
    if (rc == TANDEM_SQL_DONE) {
        rc = tandem_sql_step(t);
        rc = rc == TANDEM_SQL_ROW ? TANDEM_SQL_DONE : rc < 0 ? rc : TANDEM_EIO;
    }
    if (rc == TANDEM_SQL_DONE) {
        body = json_pack("{s:I,s:I,s:I,s:I,s:I,s:{}}", "users",
                         (json_int_t)tandem_sql_column_int64(t, 0), "articles",
                         (json_int_t)tandem_sql_column_int64(t, 1), "comments",
                         (json_int_t)tandem_sql_column_int64(t, 2), "favorites",
                         (json_int_t)tandem_sql_column_int64(t, 3), "follows",
                         (json_int_t)tandem_sql_column_int64(t, 4), "events");
        rc = tandem_sql_step(e);
        for (; rc == TANDEM_SQL_ROW; rc = tandem_sql_step(e)) {
            json_object_set_new(json_object_get(body, "events"), blog_col_text(e, 0),
                                json_integer(tandem_sql_column_int64(e, 1)));
        }
    }
    tandem_sql_reset(t);
    tandem_sql_reset(e);
    if (tandem_sql_txn_state(db) == TANDEM_SQL_ACTIVE &&
        exec_cached(db, END_READ) != TANDEM_SQL_DONE) {
        rc = TANDEM_EIO;
    }
    if (tandem_sql_txn_state(db) != TANDEM_SQL_IDLE) {
        (void)exec_cached(db, ABORT_READ); /* failed (PostgreSQL) or not committed */
        rc = rc == TANDEM_SQL_DONE ? TANDEM_EIO : rc;
    }
    answer(req, rc, body);
}
