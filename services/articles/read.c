/*
 * read.c: the GET routes (an article, the lists, the feed, the tags, the internal check) and
 * the rendering of an article.
 *
 * Every answer is one SQL statement on the worker's reader (a cached prepared statement): the
 * article's columns, its author's profile from the users read model (a join), whether the
 * viewer favorited it and follows its author (two lookups by primary key), and its tags as the
 * JSON array text articles.tag_list keeps. A list page adds the number of articles matching, an
 * uncorrelated subquery SQLite evaluates once per statement, so page and count come from the
 * same snapshot; only a page past the end runs the count on its own.
 *
 * The list statements: one text per combination of the filters (tag, author, favorited; AND),
 * written out at compile time below (each walks the index of its most selective filter newest
 * first, so a page costs its own rows, not the matches'), each prepared once per worker.
 * Parameters: ?1 the viewer (0: anonymous), ?2 limit, ?3 offset, ?4 the tag, ?5 the author's id, ?6
 * the favoriter's id. Usernames are turned into ids first (blog_profiles_id_of): an unknown one
 * matches nothing. Newest first is by id (ids grow with creation and are never reused).
 */
#include <stdio.h>
#include <string.h>

#include "articles.h"

/* The columns of an article as the viewer ?1 sees it; C_EXTRA is the body (one article) or the
 * count of matches (a list page). */
enum {
    C_ID,
    C_SLUG,
    C_TITLE,
    C_DESCRIPTION,
    C_TAGS,
    C_CREATED,
    C_UPDATED,
    C_FAVORITES,
    C_USERNAME,
    C_BIO,
    C_IMAGE,
    C_FAVORITED,
    C_FOLLOWING,
    C_EXTRA,
};

#define COLUMNS                                                                        \
    "a.id, a.slug, a.title, a.description, a.tag_list, a.created_at, a.updated_at, "   \
    "a.favorites_count, u.username, u.bio, u.image, "                                  \
    "EXISTS(SELECT 1 FROM favorites f WHERE f.user_id = ?1 AND f.article_id = a.id), " \
    "EXISTS(SELECT 1 FROM blog_follows w WHERE w.follower_id = ?1 "                    \
    "AND w.followee_id = a.author_id AND w.following = 1)"
#define AUTHORS " LEFT JOIN blog_authors u ON u.user_id = a.author_id"
#define ONE     "SELECT " COLUMNS ", a.body FROM articles a" AUTHORS

static const char ONE_BY_SLUG[] = ONE " WHERE a.slug = ?4";
static const char ONE_BY_ID[] = ONE " WHERE a.id = ?4";

/*
 * A list page: the count of matches (an uncorrelated subquery: evaluated once), then the page.
 * FROM_WHERE names the articles `a` (joined to their authors `u`) and the filters; ORDER is the
 * id column of the table the rows come from in index order, so that SQLite walks an index
 * newest first and stops after the page, computing the columns of the page's rows only.
 */
#define PAGE(COUNT, FROM_WHERE, ORDER) \
    "SELECT " COLUMNS ", (" COUNT ")" FROM_WHERE " ORDER BY " ORDER " DESC LIMIT ?2 OFFSET ?3"
#define HAS_TAG(ID) \
    "EXISTS(SELECT 1 FROM article_tags tt WHERE tt.article_id = " ID " AND tt.tag = ?4)"
#define HAS_FAVORITE(ID) \
    "EXISTS(SELECT 1 FROM favorites ff WHERE ff.user_id = ?6 AND ff.article_id = " ID ")"

/* Each combination drives from the index that serves its most selective filter: a tag's rows
 * (article_tags_tag), an author's articles (articles_author), a user's favorites (their primary
 * key); the other filters are lookups by primary key. article_tags and favorites rows exist only
 * for existing articles (deleted with them), so their counts need no join. */
#define COUNT_NONE "SELECT COUNT(*) FROM articles"
#define FROM_NONE  " FROM articles a" AUTHORS
#define COUNT_T    "SELECT COUNT(*) FROM article_tags WHERE tag = ?4"
#define FROM_T \
    " FROM article_tags t JOIN articles a ON a.id = t.article_id" AUTHORS " WHERE t.tag = ?4"
#define COUNT_A  "SELECT COUNT(*) FROM articles WHERE author_id = ?5"
#define FROM_A   " FROM articles a" AUTHORS " WHERE a.author_id = ?5"
#define COUNT_TA COUNT_A " AND " HAS_TAG("articles.id")
#define FROM_TA  FROM_A " AND " HAS_TAG("a.id")
#define COUNT_F  "SELECT COUNT(*) FROM favorites v WHERE v.user_id = ?6"
#define FROM_F \
    " FROM favorites v JOIN articles a ON a.id = v.article_id" AUTHORS " WHERE v.user_id = ?6"
#define COUNT_TF  COUNT_F " AND " HAS_TAG("v.article_id")
#define FROM_TF   FROM_F " AND " HAS_TAG("v.article_id")
#define COUNT_AF  COUNT_A " AND " HAS_FAVORITE("articles.id")
#define FROM_AF   FROM_A " AND " HAS_FAVORITE("a.id")
#define COUNT_TAF COUNT_TA " AND " HAS_FAVORITE("articles.id")
#define FROM_TAF  FROM_TA " AND " HAS_FAVORITE("a.id")

enum { F_TAG = 1, F_AUTHOR = 2, F_FAVORITED = 4 };

static const char *const LIST_SQL[8] = {
    PAGE(COUNT_NONE, FROM_NONE, "a.id"),   PAGE(COUNT_T, FROM_T, "t.article_id"),
    PAGE(COUNT_A, FROM_A, "a.id"),         PAGE(COUNT_TA, FROM_TA, "a.id"),
    PAGE(COUNT_F, FROM_F, "v.article_id"), PAGE(COUNT_TF, FROM_TF, "v.article_id"),
    PAGE(COUNT_AF, FROM_AF, "a.id"),       PAGE(COUNT_TAF, FROM_TAF, "a.id"),
};
static const char *const COUNT_SQL[8] = {
    COUNT_NONE, COUNT_T, COUNT_A, COUNT_TA, COUNT_F, COUNT_TF, COUNT_AF, COUNT_TAF,
};

/* The feed: the followed authors' articles come from several ranges of articles_author, so
 * they must be sorted; the page's ids are picked first (from the index alone), then only those
 * rows get their columns. */
#define FOLLOWED                                                             \
    " FROM blog_follows fw JOIN articles c ON c.author_id = fw.followee_id " \
    "WHERE fw.follower_id = ?1 AND fw.following = 1"
static const char FEED_COUNT_SQL[] = "SELECT COUNT(*)" FOLLOWED;
static const char FEED_SQL[] = "SELECT " COLUMNS ", (SELECT COUNT(*)" FOLLOWED ") FROM "
                               "(SELECT c.id" FOLLOWED " ORDER BY c.id DESC LIMIT ?2 OFFSET ?3) p "
                               "JOIN articles a ON a.id = p.id" AUTHORS " ORDER BY a.id DESC";

static const char TAGS[] = "SELECT DISTINCT tag FROM article_tags ORDER BY tag";
static const char INTERNAL[] = "SELECT id, slug, author_id, version FROM articles WHERE slug = ?1";

/* ---- rendering ----------------------------------------------------------------------------- */

/* RealWorld's Article, member by member in openapi.yml's order: the text before the value, the
 * column it comes from and how it is written. */
enum { M_STR, M_BODY, M_TAGS, M_TIME, M_INT, M_VIEWER };
static const struct {
    const char *before;
    int col, kind;
} ARTICLE[] = {
    {"{\"slug\":", C_SLUG, M_STR},
    {",\"title\":", C_TITLE, M_STR},
    {",\"description\":", C_DESCRIPTION, M_STR},
    {",\"body\":", C_EXTRA, M_BODY},
    {",\"tagList\":", C_TAGS, M_TAGS},
    {",\"createdAt\":", C_CREATED, M_TIME},
    {",\"updatedAt\":", C_UPDATED, M_TIME},
    {",\"favorited\":", C_FAVORITED, M_VIEWER},
    {",\"favoritesCount\":", C_FAVORITES, M_INT},
    {",\"author\":{\"username\":", C_USERNAME, M_STR},
    {",\"bio\":", C_BIO, M_STR},
    {",\"image\":", C_IMAGE, M_STR},
    {",\"following\":", C_FOLLOWING, M_VIEWER},
};

/* Writes the article of st's row (COLUMNS) as RealWorld's Article; with the body or without
 * (lists). The viewer's booleans are false for the anonymous viewer 0. */
static void render(struct jsonw *w, sqlite3_stmt *st, int64_t viewer, bool body)
{
    for (size_t i = 0; i < sizeof(ARTICLE) / sizeof(ARTICLE[0]); i++) {
        int col = ARTICLE[i].col;
        if (ARTICLE[i].kind == M_BODY && !body) {
            continue;
        }
        jsonw_lit(w, ARTICLE[i].before);
        switch (ARTICLE[i].kind) {
        case M_STR:
        case M_BODY:
            jsonw_str(w, blog_col_text(st, col));
            break;
        case M_TAGS: /* written by tags_json: a JSON array's text */
            if (blog_col_text(st, col)[0] == '[') {
                jsonw_raw(w, blog_col_text(st, col), (size_t)sqlite3_column_bytes(st, col));
            } else {
                jsonw_lit(w, "[]");
            }
            break;
        case M_TIME:
            jsonw_time(w, sqlite3_column_int64(st, col));
            break;
        case M_INT:
            jsonw_int(w, sqlite3_column_int64(st, col));
            break;
        default: /* M_VIEWER */
            jsonw_bool(w, viewer > 0 && sqlite3_column_int(st, col) != 0);
        }
    }
    jsonw_lit(w, "}}");
}

/* Renders {"article":...} of st's one row (st bound, not yet stepped; reset here). */
static int render_one(sqlite3_stmt *st, int64_t viewer, struct jsonw *w)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        jsonw_lit(w, "{\"article\":");
        render(w, st, viewer, true);
        jsonw_lit(w, "}");
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? JOB_NOT_FOUND : TANDEM_EIO;
}

int articles_render_id(sqlite3 *db, int64_t id, int64_t viewer, struct jsonw *w)
{
    sqlite3_stmt *st = blog_stmt(db, ONE_BY_ID);
    if (st == NULL) {
        return TANDEM_EIO;
    }
    sqlite3_bind_int64(st, 1, viewer);
    sqlite3_bind_int64(st, 4, id);
    return render_one(st, viewer, w);
}

/* Answers w's text (200 application/json), or 500 when writing it ran out of memory. */
static void answer(struct tandem_http_request *req, struct jsonw *w)
{
    if (w->failed) {
        tandem_respond_problem(req, 500, "out of memory");
    } else {
        tandem_respond(req, 200, "application/json", w->p, w->len);
    }
    jsonw_free(w);
}

/* Answers a lookup of one thing: rc 0 answers w's text, JOB_NOT_FOUND 404, else 500/503. */
static void answer_found(struct tandem_http_request *req, struct jsonw *w, int rc)
{
    if (rc == 0) {
        answer(req, w);
        return;
    }
    jsonw_free(w);
    if (rc == JOB_NOT_FOUND) {
        blog_not_found(req, "article");
    } else {
        blog_store_failed(req, rc);
    }
}

/* The reader and a prepared statement of sql on it; NULL after answering (503 or 500). */
static sqlite3_stmt *prepare(struct tandem_http_request *req, const char *sql, sqlite3 **db)
{
    *db = blog_reader(req, articles.store);
    if (*db == NULL) {
        return NULL;
    }
    sqlite3_stmt *st = blog_stmt(*db, sql);
    if (st == NULL) {
        tandem_respond_problem(req, 500, "storage failed");
    }
    return st;
}

/* ---- GET /api/articles/{slug} -------------------------------------------------------------- */

void articles_get(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    const struct tandem_claims *c = NULL;
    if (tandem_optional_auth(req, &c) != 0) {
        return; /* a token was sent but is not valid: 401 */
    }
    sqlite3 *db;
    sqlite3_stmt *st = prepare(req, ONE_BY_SLUG, &db);
    if (st == NULL) {
        return;
    }
    int64_t viewer = blog_user_id(c);
    sqlite3_bind_int64(st, 1, viewer);
    sqlite3_bind_text(st, 4, tandem_param(req, "slug"), -1, SQLITE_STATIC);
    struct jsonw w;
    jsonw_init(&w);
    answer_found(req, &w, render_one(st, viewer, &w));
}

/* ---- lists --------------------------------------------------------------------------------- */

/* A list's filters. */
struct filters {
    unsigned mask; /* F_* */
    const char *tag;
    int64_t author, favoriter;
};

static void bind_filters(sqlite3_stmt *st, int64_t viewer, const struct filters *f)
{
    sqlite3_bind_int64(st, 1, viewer);
    if (f->mask & F_TAG) {
        sqlite3_bind_text(st, 4, f->tag, -1, SQLITE_STATIC);
    }
    if (f->mask & F_AUTHOR) {
        sqlite3_bind_int64(st, 5, f->author);
    }
    if (f->mask & F_FAVORITED) {
        sqlite3_bind_int64(st, 6, f->favoriter);
    }
}

/* Counts the matches alone (a page past the end has no row to carry the count): >= 0, or -1. */
static int64_t count_alone(sqlite3 *db, const char *sql, int64_t viewer, const struct filters *f)
{
    sqlite3_stmt *st = blog_stmt(db, sql);
    if (st == NULL) {
        return -1;
    }
    bind_filters(st, viewer, f);
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    return n;
}

/* Answers {"articles":[...],"articlesCount":n} of list_sql (count_sql for a page past the end). */
static void list_answer(struct tandem_http_request *req, sqlite3 *db, const char *list_sql,
                        const char *count_sql, int64_t viewer, const struct blog_page *page,
                        const struct filters *f)
{
    sqlite3_stmt *st = blog_stmt(db, list_sql);
    if (st == NULL) {
        tandem_respond_problem(req, 500, "storage failed");
        return;
    }
    bind_filters(st, viewer, f);
    sqlite3_bind_int64(st, 2, page->limit);
    sqlite3_bind_int64(st, 3, page->offset);
    struct jsonw w;
    jsonw_init(&w);
    jsonw_lit(&w, "{\"articles\":[");
    int64_t count = 0, n = 0;
    int rc = sqlite3_step(st);
    for (; rc == SQLITE_ROW; rc = sqlite3_step(st)) {
        if (n++ > 0) {
            jsonw_lit(&w, ",");
        }
        render(&w, st, viewer, false);
        count = sqlite3_column_int64(st, C_EXTRA);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE && n == 0 && page->offset > 0) {
        count = count_alone(db, count_sql, viewer, f);
        rc = count >= 0 ? SQLITE_DONE : SQLITE_ERROR;
    }
    if (rc != SQLITE_DONE) {
        jsonw_free(&w);
        blog_store_failed(req, TANDEM_EIO);
        return;
    }
    jsonw_lit(&w, "],\"articlesCount\":");
    jsonw_int(&w, count);
    jsonw_lit(&w, "}");
    answer(req, &w);
}

void articles_list(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    const struct tandem_claims *c = NULL;
    if (tandem_optional_auth(req, &c) != 0) {
        return;
    }
    struct blog_page page;
    if (blog_page_of(req, &page) != 0) {
        return;
    }
    char tag[512], author[256], favorited[256];
    bool answered = false;
    struct filters f = {0};
    f.tag = blog_query(req, "tag", tag, sizeof(tag), &answered);
    const char *by = answered ? NULL : blog_query(req, "author", author, sizeof(author), &answered);
    const char *fav =
        answered ? NULL : blog_query(req, "favorited", favorited, sizeof(favorited), &answered);
    if (answered) {
        return;
    }
    sqlite3 *db = blog_reader(req, articles.store);
    if (db == NULL) {
        return;
    }
    bool nobody = false;
    f.mask =
        (f.tag != NULL ? F_TAG : 0) | (by != NULL ? F_AUTHOR : 0) | (fav != NULL ? F_FAVORITED : 0);
    if (by != NULL) {
        f.author = blog_profiles_id_of(db, by);
        nobody = f.author == 0;
    }
    if (fav != NULL) {
        f.favoriter = blog_profiles_id_of(db, fav);
        nobody = nobody || f.favoriter == 0;
    }
    if (nobody) { /* an author or favoriter nobody is called: nothing matches */
        static const char EMPTY[] = "{\"articles\":[],\"articlesCount\":0}";
        tandem_respond(req, 200, "application/json", EMPTY, sizeof(EMPTY) - 1);
        return;
    }
    list_answer(req, db, LIST_SQL[f.mask], COUNT_SQL[f.mask], blog_user_id(c), &page, &f);
}

void articles_feed(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    const struct tandem_claims *c = tandem_require_auth(req);
    if (c == NULL) {
        return;
    }
    struct blog_page page;
    if (blog_page_of(req, &page) != 0) {
        return;
    }
    sqlite3 *db = blog_reader(req, articles.store);
    if (db == NULL) {
        return;
    }
    struct filters none = {0};
    list_answer(req, db, FEED_SQL, FEED_COUNT_SQL, blog_user_id(c), &page, &none);
}

/* ---- GET /api/tags ------------------------------------------------------------------------- */

void articles_tags(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    sqlite3 *db;
    sqlite3_stmt *st = prepare(req, TAGS, &db);
    if (st == NULL) {
        return;
    }
    struct jsonw w;
    jsonw_init(&w);
    jsonw_lit(&w, "{\"tags\":[");
    int n = 0, rc = sqlite3_step(st);
    for (; rc == SQLITE_ROW; rc = sqlite3_step(st)) {
        if (n++ > 0) {
            jsonw_lit(&w, ",");
        }
        jsonw_str(&w, blog_col_text(st, 0));
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        jsonw_free(&w);
        blog_store_failed(req, TANDEM_EIO);
        return;
    }
    jsonw_lit(&w, "]}");
    answer(req, &w);
}

/* ---- GET /internal/articles/{slug} --------------------------------------------------------- */

void articles_internal(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    sqlite3 *db;
    sqlite3_stmt *st = prepare(req, INTERNAL, &db);
    if (st == NULL) {
        return;
    }
    sqlite3_bind_text(st, 1, tandem_param(req, "slug"), -1, SQLITE_STATIC);
    struct jsonw w;
    jsonw_init(&w);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        jsonw_lit(&w, "{\"id\":");
        jsonw_int(&w, sqlite3_column_int64(st, 0));
        jsonw_lit(&w, ",\"slug\":");
        jsonw_str(&w, blog_col_text(st, 1));
        jsonw_lit(&w, ",\"authorId\":");
        jsonw_int(&w, sqlite3_column_int64(st, 2));
        jsonw_lit(&w, ",\"version\":");
        jsonw_int(&w, sqlite3_column_int64(st, 3));
        jsonw_lit(&w, ",\"deleted\":false}");
    }
    sqlite3_reset(st);
    answer_found(req, &w, rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? JOB_NOT_FOUND : TANDEM_EIO);
}
