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
 * Parameters: ?1 the viewer (0: anonymous), ?2 limit, ?3 offset, then the filters' values from ?4
 * in the order tag, author's id, favoriter's id, numbered without gaps over the filters present
 * (PostgreSQL refuses a statement with a parameter it cannot type, as an unused $N is); a
 * count statement alone numbers them from ?1. Usernames are turned into ids first
 * (blog_profiles_id_of): an unknown one matches nothing. Newest first is by id (ids grow with
 * creation and are never reused); every order is total (ids are unique in each list).
 *
 * The same text runs on SQLite and on PostgreSQL (tandem_sql): the viewer's booleans are EXISTS
 * columns, read as 1/0 on both; /api/tags sorts by the tags' bytes on both (the column's
 * collation is "C" on PostgreSQL: schema.sql).
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

static const char ONE_BY_SLUG[] = ONE " WHERE a.slug = ?2";
static const char ONE_BY_ID[] = ONE " WHERE a.id = ?2";

/*
 * A list page: the count of matches (an uncorrelated subquery: evaluated once), then the page.
 * FROM_WHERE names the articles `a` (joined to their authors `u`) and the filters; ORDER is the
 * id column of the table the rows come from in index order, so that SQLite walks an index
 * newest first and stops after the page, computing the columns of the page's rows only.
 */
#define PAGE(COUNT, FROM_WHERE, ORDER) \
    "SELECT " COLUMNS ", (" COUNT ")" FROM_WHERE " ORDER BY " ORDER " DESC LIMIT ?2 OFFSET ?3"
#define HAS_TAG(ID, T) \
    "EXISTS(SELECT 1 FROM article_tags tt WHERE tt.article_id = " ID " AND tt.tag = " T ")"
#define HAS_FAVORITE(ID, F) \
    "EXISTS(SELECT 1 FROM favorites ff WHERE ff.user_id = " F " AND ff.article_id = " ID ")"

/* Each combination drives from the index that serves its most selective filter: a tag's rows
 * (article_tags_tag), an author's articles (articles_author), a user's favorites (their primary
 * key); the other filters are lookups by primary key. article_tags and favorites rows exist only
 * for existing articles (deleted with them), so their counts need no join. T, A and F are the
 * placeholders of the tag, the author's id and the favoriter's id. */
#define COUNT_NONE "SELECT COUNT(*) FROM articles"
#define FROM_NONE  " FROM articles a" AUTHORS
#define COUNT_T(T) "SELECT COUNT(*) FROM article_tags WHERE tag = " T
#define FROM_T(T) \
    " FROM article_tags t JOIN articles a ON a.id = t.article_id" AUTHORS " WHERE t.tag = " T
#define COUNT_A(A)     "SELECT COUNT(*) FROM articles WHERE author_id = " A
#define FROM_A(A)      " FROM articles a" AUTHORS " WHERE a.author_id = " A
#define COUNT_TA(T, A) COUNT_A(A) " AND " HAS_TAG("articles.id", T)
#define FROM_TA(T, A)  FROM_A(A) " AND " HAS_TAG("a.id", T)
#define COUNT_F(F)     "SELECT COUNT(*) FROM favorites v WHERE v.user_id = " F
#define FROM_F(F) \
    " FROM favorites v JOIN articles a ON a.id = v.article_id" AUTHORS " WHERE v.user_id = " F
#define COUNT_TF(T, F)     COUNT_F(F) " AND " HAS_TAG("v.article_id", T)
#define FROM_TF(T, F)      FROM_F(F) " AND " HAS_TAG("v.article_id", T)
#define COUNT_AF(A, F)     COUNT_A(A) " AND " HAS_FAVORITE("articles.id", F)
#define FROM_AF(A, F)      FROM_A(A) " AND " HAS_FAVORITE("a.id", F)
#define COUNT_TAF(T, A, F) COUNT_TA(T, A) " AND " HAS_FAVORITE("articles.id", F)
#define FROM_TAF(T, A, F)  FROM_TA(T, A) " AND " HAS_FAVORITE("a.id", F)

enum { F_TAG = 1, F_AUTHOR = 2, F_FAVORITED = 4 };

/* The pages, by mask of F_*: the filters' values from ?4. */
static const char *const LIST_SQL[8] = {
    PAGE(COUNT_NONE, FROM_NONE, "a.id"),
    PAGE(COUNT_T("?4"), FROM_T("?4"), "t.article_id"),
    PAGE(COUNT_A("?4"), FROM_A("?4"), "a.id"),
    PAGE(COUNT_TA("?4", "?5"), FROM_TA("?4", "?5"), "a.id"),
    PAGE(COUNT_F("?4"), FROM_F("?4"), "v.article_id"),
    PAGE(COUNT_TF("?4", "?5"), FROM_TF("?4", "?5"), "v.article_id"),
    PAGE(COUNT_AF("?4", "?5"), FROM_AF("?4", "?5"), "a.id"),
    PAGE(COUNT_TAF("?4", "?5", "?6"), FROM_TAF("?4", "?5", "?6"), "a.id"),
};
/* The counts alone: the filters' values from ?1. */
static const char *const COUNT_SQL[8] = {
    COUNT_NONE,    COUNT_T("?1"),        COUNT_A("?1"),        COUNT_TA("?1", "?2"),
    COUNT_F("?1"), COUNT_TF("?1", "?2"), COUNT_AF("?1", "?2"), COUNT_TAF("?1", "?2", "?3"),
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
static void render(struct jsonw *w, struct tandem_sql_stmt *st, int64_t viewer, bool body)
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
        case M_TAGS: { /* written by tags_json: a JSON array's text */
            const char *tags = blog_col_text(st, col);
            if (tags[0] == '[') {
                jsonw_raw(w, tags, strlen(tags));
            } else {
                jsonw_lit(w, "[]");
            }
            break;
        }
        case M_TIME:
            jsonw_time(w, tandem_sql_column_int64(st, col));
            break;
        case M_INT:
            jsonw_int(w, tandem_sql_column_int64(st, col));
            break;
        default: /* M_VIEWER: an EXISTS column, 1/0 on either backend */
            jsonw_bool(w, viewer > 0 && tandem_sql_column_int64(st, col) != 0);
        }
    }
    jsonw_lit(w, "}}");
}

/* Renders {"article":...} of st's one row (st bound, not yet stepped; reset here). */
static int render_one(struct tandem_sql_stmt *st, int64_t viewer, struct jsonw *w)
{
    int rc = tandem_sql_step(st);
    if (rc == TANDEM_SQL_ROW) {
        jsonw_lit(w, "{\"article\":");
        render(w, st, viewer, true);
        jsonw_lit(w, "}");
    }
    tandem_sql_reset(st);
    return rc == TANDEM_SQL_ROW ? 0 : rc == TANDEM_SQL_DONE ? JOB_NOT_FOUND : TANDEM_EIO;
}

int articles_render_id(struct tandem_sql *db, int64_t id, int64_t viewer, struct jsonw *w)
{
    struct tandem_sql_stmt *st = blog_stmt(db, ONE_BY_ID);
    if (st == NULL) {
        return TANDEM_EIO;
    }
    tandem_sql_bind_int64(st, 1, viewer);
    tandem_sql_bind_int64(st, 2, id);
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

/* A prepared statement of sql on the worker's reader; NULL after answering (503 or 500). */
static struct tandem_sql_stmt *prepare(struct tandem_http_request *req, const char *sql)
{
    struct tandem_sql *db = blog_reader(req, articles.store);
    if (db == NULL) {
        return NULL;
    }
    struct tandem_sql_stmt *st = blog_stmt(db, sql);
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
    if (!blog_utf8_valid(tandem_param(req, "slug"))) {
        blog_not_found(req, "article"); /* no slug is (PostgreSQL would refuse it) */
        return;
    }
    struct tandem_sql_stmt *st = prepare(req, ONE_BY_SLUG);
    if (st == NULL) {
        return;
    }
    int64_t viewer = blog_user_id(c);
    tandem_sql_bind_int64(st, 1, viewer);
    tandem_sql_bind_text(st, 2, tandem_param(req, "slug"));
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

/* Binds the values of f's filters to the parameters from first on (in the order tag, author,
 * favoriter, as LIST_SQL and COUNT_SQL number them). */
static void bind_filters(struct tandem_sql_stmt *st, int first, const struct filters *f)
{
    int i = first;
    if (f->mask & F_TAG) {
        tandem_sql_bind_text(st, i++, f->tag);
    }
    if (f->mask & F_AUTHOR) {
        tandem_sql_bind_int64(st, i++, f->author);
    }
    if (f->mask & F_FAVORITED) {
        tandem_sql_bind_int64(st, i, f->favoriter);
    }
}

/* Counts the matches alone (a page past the end has no row to carry the count): the filters f,
 * or the feed of viewer when f is NULL. >= 0, or -1. */
static int64_t count_alone(struct tandem_sql *db, const char *sql, int64_t viewer,
                           const struct filters *f)
{
    struct tandem_sql_stmt *st = blog_stmt(db, sql);
    if (st == NULL) {
        return -1;
    }
    if (f != NULL) {
        bind_filters(st, 1, f);
    } else {
        tandem_sql_bind_int64(st, 1, viewer);
    }
    int64_t n = tandem_sql_step(st) == TANDEM_SQL_ROW ? tandem_sql_column_int64(st, 0) : -1;
    tandem_sql_reset(st);
    return n;
}

/* Answers {"articles":[...],"articlesCount":n} of list_sql (count_sql for a page past the end):
 * a list filtered by f, or the feed when f is NULL. */
static void list_answer(struct tandem_http_request *req, struct tandem_sql *db,
                        const char *list_sql, const char *count_sql, int64_t viewer,
                        const struct blog_page *page, const struct filters *f)
{
    struct tandem_sql_stmt *st = blog_stmt(db, list_sql);
    if (st == NULL) {
        tandem_respond_problem(req, 500, "storage failed");
        return;
    }
    tandem_sql_bind_int64(st, 1, viewer);
    tandem_sql_bind_int64(st, 2, page->limit);
    tandem_sql_bind_int64(st, 3, page->offset);
    if (f != NULL) {
        bind_filters(st, 4, f);
    }
    struct jsonw w;
    jsonw_init(&w);
    jsonw_lit(&w, "{\"articles\":[");
    int64_t count = 0, n = 0;
    int rc = tandem_sql_step(st);
    for (; rc == TANDEM_SQL_ROW; rc = tandem_sql_step(st)) {
        if (n++ > 0) {
            jsonw_lit(&w, ",");
        }
        render(&w, st, viewer, false);
        count = tandem_sql_column_int64(st, C_EXTRA);
    }
    tandem_sql_reset(st);
    if (rc == TANDEM_SQL_DONE && n == 0 && page->offset > 0) {
        count = count_alone(db, count_sql, viewer, f);
        rc = count >= 0 ? TANDEM_SQL_DONE : TANDEM_EIO;
    }
    if (rc != TANDEM_SQL_DONE) {
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
    struct tandem_sql *db = blog_reader(req, articles.store);
    if (db == NULL) {
        return;
    }
    bool nobody = f.tag != NULL && !blog_utf8_valid(f.tag); /* not UTF-8: no tag or name is */
    f.mask =
        (f.tag != NULL ? F_TAG : 0) | (by != NULL ? F_AUTHOR : 0) | (fav != NULL ? F_FAVORITED : 0);
    if (by != NULL) {
        f.author = blog_utf8_valid(by) ? blog_profiles_id_of(db, by) : 0;
        nobody = nobody || f.author == 0;
    }
    if (fav != NULL) {
        f.favoriter = blog_utf8_valid(fav) ? blog_profiles_id_of(db, fav) : 0;
        nobody = nobody || f.favoriter == 0;
    }
    if (nobody) { /* a tag or an author or favoriter nobody has: nothing matches */
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
    struct tandem_sql *db = blog_reader(req, articles.store);
    if (db == NULL) {
        return;
    }
    list_answer(req, db, FEED_SQL, FEED_COUNT_SQL, blog_user_id(c), &page, NULL);
}

/* ---- GET /api/tags ------------------------------------------------------------------------- */

void articles_tags(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    struct tandem_sql_stmt *st = prepare(req, TAGS);
    if (st == NULL) {
        return;
    }
    struct jsonw w;
    jsonw_init(&w);
    jsonw_lit(&w, "{\"tags\":[");
    int n = 0, rc = tandem_sql_step(st);
    for (; rc == TANDEM_SQL_ROW; rc = tandem_sql_step(st)) {
        if (n++ > 0) {
            jsonw_lit(&w, ",");
        }
        jsonw_str(&w, blog_col_text(st, 0));
    }
    tandem_sql_reset(st);
    if (rc != TANDEM_SQL_DONE) {
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
    if (!blog_utf8_valid(tandem_param(req, "slug"))) {
        blog_not_found(req, "article"); /* no slug is (PostgreSQL would refuse it) */
        return;
    }
    struct tandem_sql_stmt *st = prepare(req, INTERNAL);
    if (st == NULL) {
        return;
    }
    tandem_sql_bind_text(st, 1, tandem_param(req, "slug"));
    struct jsonw w;
    jsonw_init(&w);
    int rc = tandem_sql_step(st);
    if (rc == TANDEM_SQL_ROW) {
        jsonw_lit(&w, "{\"id\":");
        jsonw_int(&w, tandem_sql_column_int64(st, 0));
        jsonw_lit(&w, ",\"slug\":");
        jsonw_str(&w, blog_col_text(st, 1));
        jsonw_lit(&w, ",\"authorId\":");
        jsonw_int(&w, tandem_sql_column_int64(st, 2));
        jsonw_lit(&w, ",\"version\":");
        jsonw_int(&w, tandem_sql_column_int64(st, 3));
        jsonw_lit(&w, ",\"deleted\":false}");
    }
    tandem_sql_reset(st);
    answer_found(req, &w,
                 rc == TANDEM_SQL_ROW    ? 0
                 : rc == TANDEM_SQL_DONE ? JOB_NOT_FOUND
                                         : TANDEM_EIO);
}
