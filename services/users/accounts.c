/*
 * accounts.c: registration, login and the current user.
 *
 * A request that needs a password hashed or checked goes through three threads: its HTTP worker
 * validates the body and reads what it can (its reader connection), the service's pool runs
 * argon2id (tandem_offload: tens of milliseconds of CPU that no other request waits behind), the
 * writer commits the change with its event (blog_write: one fsync shared by every write of the
 * batch on SQLite, one COMMIT on PostgreSQL), and the answer is given back on the worker. One
 * struct account carries the request through all of them; whoever runs last frees it.
 *
 * Passwords: argon2id (libsodium's crypto_pwhash_str) with OWASP's minimum for it, 19 MiB and 2
 * passes: a login costs about 15 ms of one core (perf: two thirds argon2, one third the kernel's
 * page faults of the 19 MiB libsodium maps afresh for each hash), which bounds a 2-core machine
 * to about a hundred logins a second, on purpose.
 *
 * The pool threads that hash run at a lower priority (nice 10, per thread): a burst of logins
 * takes the CPU that the other requests leave, instead of an equal share of it. Measured through
 * the gateway on 2 cores (bench/blog): at nice 0, 50 logins/s made the p99 of article reads at
 * 5,000/s 30 times its idle value (the hashes and the readers' threads took turns on the cores);
 * see docs/blog.md for the figures with it.
 */
#include <ctype.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "tandem/validate.h"
#include "users.h"

#define PW_OPSLIMIT 2
#define PW_MEMLIMIT (19u * 1024 * 1024)

static const struct tandem_field REGISTER[] = {
    {.path = "user.username",
     .type = TANDEM_FIELD_STRING,
     .flags = TANDEM_FIELD_REQUIRED | TANDEM_FIELD_NOT_BLANK,
     .max = 60},
    {.path = "user.email",
     .type = TANDEM_FIELD_STRING,
     .flags = TANDEM_FIELD_REQUIRED | TANDEM_FIELD_NOT_BLANK | TANDEM_FIELD_EMAIL},
    {.path = "user.password",
     .type = TANDEM_FIELD_STRING,
     .flags = TANDEM_FIELD_REQUIRED,
     .min = 8,
     .max = 256},
    TANDEM_FIELD_END,
};

static const struct tandem_field LOGIN[] = {
    {.path = "user.email",
     .type = TANDEM_FIELD_STRING,
     .flags = TANDEM_FIELD_REQUIRED | TANDEM_FIELD_NOT_BLANK,
     .max = 254},
    {.path = "user.password",
     .type = TANDEM_FIELD_STRING,
     .flags = TANDEM_FIELD_REQUIRED | TANDEM_FIELD_NOT_BLANK,
     .max = 256},
    TANDEM_FIELD_END,
};

static const struct tandem_field UPDATE[] = {
    {.path = "user", .type = TANDEM_FIELD_OBJECT, .flags = TANDEM_FIELD_REQUIRED},
    {.path = "user.username",
     .type = TANDEM_FIELD_STRING,
     .flags = TANDEM_FIELD_NOT_BLANK,
     .max = 60},
    {.path = "user.email",
     .type = TANDEM_FIELD_STRING,
     .flags = TANDEM_FIELD_NOT_BLANK | TANDEM_FIELD_EMAIL},
    {.path = "user.password", .type = TANDEM_FIELD_STRING, .min = 8, .max = 256},
    {.path = "user.bio", .type = TANDEM_FIELD_STRING, .max = 2000},
    {.path = "user.image", .type = TANDEM_FIELD_STRING, .max = 2000},
    TANDEM_FIELD_END,
};

/* One request's way through worker, pool and writer. Strings are malloc'd (NULL: not given). */
struct account {
    struct tandem_http_request *req;
    int64_t id;
    char *username, *email, *password, *bio, *image;
    char hash[crypto_pwhash_STRBYTES]; /* made (registration, update) or read (login) */
    bool hashed, verified;
    bool taken_username, taken_email;
    char *token;  /* the request's own token (current user, update) */
    json_t *user; /* the answer's user object, without its token */
    bool renamed; /* the username changed: the answer carries a new token */
    char traceparent[64];
};

static struct account *account_new(struct tandem_http_request *req)
{
    struct account *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        tandem_respond_problem(req, 500, "out of memory");
        return NULL;
    }
    a->req = req;
    const char *tp = tandem_request_traceparent(req);
    snprintf(a->traceparent, sizeof(a->traceparent), "%s", tp != NULL ? tp : "");
    return a;
}

static void account_free(struct account *a)
{
    if (a->password != NULL) {
        sodium_memzero(a->password, strlen(a->password));
    }
    sodium_memzero(a->hash, sizeof(a->hash));
    free(a->username);
    free(a->email);
    free(a->password);
    free(a->bio);
    free(a->image);
    free(a->token);
    json_decref(a->user);
    free(a);
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

/* An e-mail is compared and stored lower-cased (ASCII; the rest as given). */
static char *email_dup(const char *s)
{
    char *e = dup_or_null(s);
    for (char *p = e; p != NULL && *p != '\0'; p++) {
        *p = (char)tolower((unsigned char)*p);
    }
    return e;
}

/* A username is a path segment of /api/profiles/{username}: any characters but white space,
 * controls and the URL's own delimiters. */
static bool username_ok(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p <= 0x20 || *p == 0x7f || strchr("/?#%\\\"<>", *p) != NULL) {
            return false;
        }
    }
    return true;
}

json_t *users_event_profile(int64_t id, const char *username, const char *bio, const char *image,
                            int64_t version, int64_t at_ms)
{
    return json_pack("{s:I,s:s,s:s,s:s,s:I,s:o}", "id", (json_int_t)id, "username", username, "bio",
                     bio, "image", image, "version", (json_int_t)version, "at",
                     blog_time_json(at_ms));
}

static json_t *user_json(const char *email, const char *username, const char *bio,
                         const char *image)
{
    return json_pack("{s:s,s:s,s:s,s:s}", "email", email, "username", username, "bio", bio, "image",
                     image);
}

/* Answers {"user":{...,"token"}}: token as given, or a new one signed for (id, username). */
static void answer_user(struct tandem_http_request *req, int status, json_t *user, int64_t id,
                        const char *token)
{
    char *fresh = NULL;
    if (token == NULL) {
        char sub[24];
        snprintf(sub, sizeof(sub), "%" PRId64, id);
        if (tandem_auth_sign(users.auth, sub, json_string_value(json_object_get(user, "username")),
                             NULL, &fresh) != 0) {
            tandem_respond_problem(req, 500, "cannot sign a token");
            return;
        }
        token = fresh;
    }
    json_t *u = json_deep_copy(user);
    json_object_set_new(u, "token", json_string(token));
    free(fresh);
    tandem_respond_json(req, status, json_pack("{s:o}", "user", u));
}

/* The token of the request's Authorization header ("Token <jwt>", "Bearer <jwt>"), copied. */
static char *request_token(struct tandem_http_request *req)
{
    const char *h = tandem_http_header(req, "Authorization");
    const char *sp = h != NULL ? strchr(h, ' ') : NULL;
    if (sp == NULL) {
        return NULL;
    }
    while (*sp == ' ') {
        sp++;
    }
    return strdup(sp);
}

/* The 422 of a username or e-mail someone else has. */
static void answer_taken(struct tandem_http_request *req, const struct account *a)
{
    json_t *errors = json_object();
    if (a->taken_username) {
        tandem_errors_add(errors, "username", "has already been taken");
    }
    if (a->taken_email) {
        tandem_errors_add(errors, "email", "has already been taken");
    }
    tandem_respond_invalid(req, errors);
}

static const char TAKEN[] = "SELECT EXISTS(SELECT 1 FROM users WHERE username = ?1 AND id != ?3), "
                            "EXISTS(SELECT 1 FROM users WHERE email = ?2 AND id != ?3)";

/* Who has a's username or e-mail (another user than a->id): sets a->taken_*. Returns 1 when
 * either is taken, 0 when neither, TANDEM_EIO when the read failed (logged; inside a writer job
 * on PostgreSQL the job must then stop). */
static int taken(struct tandem_sql *db, struct account *a)
{
    a->taken_username = false;
    a->taken_email = false;
    struct tandem_sql_stmt *st = blog_stmt(db, TAKEN);
    if (st == NULL) {
        return TANDEM_EIO;
    }
    tandem_sql_bind_text(st, 1, a->username != NULL ? a->username : "");
    tandem_sql_bind_text(st, 2, a->email != NULL ? a->email : "");
    tandem_sql_bind_int64(st, 3, a->id);
    int rc = tandem_sql_step(st);
    if (rc == TANDEM_SQL_ROW) {
        a->taken_username = a->username != NULL && tandem_sql_column_int64(st, 0) != 0;
        a->taken_email = a->email != NULL && tandem_sql_column_int64(st, 1) != 0;
    }
    tandem_sql_reset(st);
    if (rc != TANDEM_SQL_ROW) {
        return TANDEM_EIO;
    }
    return a->taken_username || a->taken_email ? 1 : 0;
}

/* ---- the pool's work: argon2id -------------------------------------------------------------- */

#define HASH_NICE 10

/* Lowers the calling pool thread's priority once (Linux: the nice value is a thread's own, set by
 * its id; lowering it needs no privilege). A failure only leaves the thread as it was. */
static void hash_thread_nice(void)
{
    static _Thread_local bool done;
    if (!done) {
        done = true;
        (void)setpriority(PRIO_PROCESS, (id_t)gettid(), HASH_NICE);
    }
}

static void hash_work(void *arg)
{
    struct account *a = arg;
    hash_thread_nice();
    a->hashed =
        crypto_pwhash_str(a->hash, a->password, strlen(a->password), PW_OPSLIMIT, PW_MEMLIMIT) == 0;
}

static void verify_work(void *arg)
{
    struct account *a = arg;
    hash_thread_nice();
    /* an unknown e-mail has the dummy hash: the same work, and never a match */
    bool ok = crypto_pwhash_str_verify(a->hash, a->password, strlen(a->password)) == 0;
    a->verified = ok && a->id > 0;
}

int users_hash_setup(void)
{
    char pw[33];
    randombytes_buf(pw, sizeof(pw) - 1);
    for (size_t i = 0; i + 1 < sizeof(pw); i++) {
        pw[i] = (char)('a' + (unsigned char)pw[i] % 26);
    }
    pw[sizeof(pw) - 1] = '\0';
    return crypto_pwhash_str(users.dummy_hash, pw, strlen(pw), PW_OPSLIMIT, PW_MEMLIMIT) == 0
               ? 0
               : TANDEM_ENOMEM;
}

/* ---- POST /api/users ------------------------------------------------------------------------ */

/* A username or e-mail someone has is no error (no row back): on PostgreSQL a failed statement
 * would fail the job's SAVEPOINT, and taken() could not run after it. The database numbers the
 * id (AUTOINCREMENT; an identity column on PostgreSQL). */
static const char INSERT_USER[] =
    "INSERT INTO users(username, email, password_hash, bio, image, version, created_at, "
    "updated_at) VALUES(?1, ?2, ?3, '', '', 1, ?4, ?4) ON CONFLICT DO NOTHING RETURNING id";

static int register_job(struct tandem_sql *db, void *arg)
{
    struct account *a = arg;
    json_decref(a->user); /* a job may run again (a lost PostgreSQL connection): set, not add */
    a->user = NULL;
    a->id = 0;
    struct tandem_sql_stmt *st = blog_stmt(db, INSERT_USER);
    if (st == NULL) {
        return TANDEM_EIO;
    }
    int64_t now = blog_now_ms();
    tandem_sql_bind_text(st, 1, a->username);
    tandem_sql_bind_text(st, 2, a->email);
    tandem_sql_bind_text(st, 3, a->hash);
    tandem_sql_bind_int64(st, 4, now);
    int rc = tandem_sql_step(st);
    int64_t id = rc == TANDEM_SQL_ROW ? tandem_sql_column_int64(st, 0) : 0;
    tandem_sql_reset(st);
    if (rc == TANDEM_SQL_DONE) { /* a conflict: who has what */
        return taken(db, a) == 1 ? JOB_TAKEN : TANDEM_EIO;
    }
    if (rc != TANDEM_SQL_ROW || id <= 0) {
        return TANDEM_EIO;
    }
    a->id = id;
    a->user = user_json(a->email, a->username, "", "");
    return blog_event_add(db, USERS_TOPIC, a->id, "user.registered",
                          users_event_profile(a->id, a->username, "", "", 1, now),
                          a->traceparent[0] != '\0' ? a->traceparent : NULL);
}

static void register_done(int status, void *arg)
{
    struct account *a = arg;
    if (status == 0) {
        answer_user(a->req, 201, a->user, a->id, NULL);
    } else if (status == JOB_TAKEN) {
        answer_taken(a->req, a);
    } else {
        blog_store_failed(a->req, status);
    }
    account_free(a);
}

static void register_hashed(struct tandem_http_request *req, void *arg)
{
    struct account *a = arg;
    if (req == NULL) { /* the drain cancelled it: answered 503 */
        account_free(a);
        return;
    }
    if (!a->hashed) {
        tandem_respond_problem(req, 500, "cannot hash the password");
        account_free(a);
        return;
    }
    int rc = blog_write(users.store, register_job, register_done, a);
    if (rc != 0) {
        blog_store_failed(req, rc);
        account_free(a);
    }
}

void users_register(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    json_t *in = tandem_json_body_valid(req, REGISTER);
    if (in == NULL) {
        return; /* answered 415, 400 or 422 */
    }
    json_t *u = json_object_get(in, "user");
    const char *username = blog_json_str(u, "username");
    if (!username_ok(username)) {
        json_decref(in);
        json_t *errors = json_object();
        tandem_errors_add(errors, "username",
                          "can only hold letters, digits and punctuation "
                          "other than / ? # % \\ \" < >");
        tandem_respond_invalid(req, errors);
        return;
    }
    struct account *a = account_new(req);
    if (a == NULL) {
        json_decref(in);
        return;
    }
    a->username = strdup(username);
    a->email = email_dup(blog_json_str(u, "email"));
    a->password = strdup(blog_json_str(u, "password"));
    json_decref(in);
    struct tandem_sql *db = blog_reader(req, users.store);
    if (db == NULL) {
        account_free(a);
        return;
    }
    if (taken(db, a) == 1) { /* spare a hash; the insert checks again */
        answer_taken(req, a);
        account_free(a);
        return;
    }
    if (tandem_offload(req, hash_work, register_hashed, a) != 0) {
        account_free(a); /* answered 503 */
    }
}

/* ---- POST /api/users/login ------------------------------------------------------------------ */

static const char BY_EMAIL[] =
    "SELECT id, username, password_hash, bio, image FROM users WHERE email = ?1";

static void login_checked(struct tandem_http_request *req, void *arg)
{
    struct account *a = arg;
    if (req != NULL && a->verified) {
        answer_user(req, 200, a->user, a->id, NULL);
    } else if (req != NULL) {
        tandem_respond_header(req, "WWW-Authenticate", "Token");
        tandem_respond_problem_ext(
            req, 401, "e-mail or password is invalid",
            json_pack("{s:{s:[s]}}", "errors", "email or password", "is invalid"));
    }
    account_free(a);
}

void users_login(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    json_t *in = tandem_json_body_valid(req, LOGIN);
    if (in == NULL) {
        return;
    }
    struct account *a = account_new(req);
    struct tandem_sql *db = a != NULL ? blog_reader(req, users.store) : NULL;
    if (db == NULL) {
        json_decref(in);
        if (a != NULL) {
            account_free(a);
        }
        return;
    }
    json_t *u = json_object_get(in, "user");
    a->email = email_dup(blog_json_str(u, "email"));
    a->password = strdup(blog_json_str(u, "password"));
    json_decref(in);
    snprintf(a->hash, sizeof(a->hash), "%s", users.dummy_hash);
    struct tandem_sql_stmt *st = blog_stmt(db, BY_EMAIL);
    int rc = TANDEM_EIO;
    if (st != NULL) {
        tandem_sql_bind_text(st, 1, a->email);
        rc = tandem_sql_step(st);
        if (rc == TANDEM_SQL_ROW) {
            a->id = tandem_sql_column_int64(st, 0);
            snprintf(a->hash, sizeof(a->hash), "%s", blog_col_text(st, 2));
            a->user = user_json(a->email, blog_col_text(st, 1), blog_col_text(st, 3),
                                blog_col_text(st, 4));
        }
        tandem_sql_reset(st);
    }
    if (rc != TANDEM_SQL_ROW && rc != TANDEM_SQL_DONE) { /* a failed read is no unknown e-mail */
        tandem_respond_problem(req, 500, "storage failed");
        account_free(a);
        return;
    }
    if (tandem_offload(req, verify_work, login_checked, a) != 0) {
        account_free(a);
    }
}

/* ---- GET /api/user -------------------------------------------------------------------------- */

static const char BY_ID[] = "SELECT email, username, bio, image FROM users WHERE id = ?1";

void users_current(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    const struct tandem_claims *c = tandem_require_auth(req);
    if (c == NULL) {
        return;
    }
    struct tandem_sql *db = blog_reader(req, users.store);
    struct tandem_sql_stmt *st = db != NULL ? blog_stmt(db, BY_ID) : NULL;
    if (st == NULL) {
        if (db != NULL) {
            tandem_respond_problem(req, 500, "storage failed");
        }
        return;
    }
    tandem_sql_bind_int64(st, 1, blog_user_id(c));
    json_t *user = NULL;
    int rc = tandem_sql_step(st);
    if (rc == TANDEM_SQL_ROW) {
        user = user_json(blog_col_text(st, 0), blog_col_text(st, 1), blog_col_text(st, 2),
                         blog_col_text(st, 3));
    }
    tandem_sql_reset(st);
    if (rc != TANDEM_SQL_ROW && rc != TANDEM_SQL_DONE) {
        tandem_respond_problem(req, 500, "storage failed");
        return;
    }
    if (user == NULL) {
        blog_not_found(req, "user");
        return;
    }
    char *token = request_token(req);
    answer_user(req, 200, user, 0, token);
    free(token);
    json_decref(user);
}

/* ---- PUT /api/user -------------------------------------------------------------------------- */

static const char CURRENT[] =
    "SELECT username, email, bio, image, version FROM users WHERE id = ?1";
static const char UPDATE_USER[] =
    "UPDATE users SET username = ?2, email = ?3, password_hash = COALESCE(?4, password_hash), "
    "bio = ?5, image = ?6, version = ?7, updated_at = ?8 WHERE id = ?1";

/* s when given, else the column's current text. */
static const char *given_or(const char *s, struct tandem_sql_stmt *st, int col)
{
    return s != NULL ? s : blog_col_text(st, col);
}

/*
 * The username and e-mail are checked before the UPDATE, not from its failure: on PostgreSQL a
 * failed statement fails the job's SAVEPOINT (nothing can run after it). The check is the whole
 * answer on SQLite (the writer holds the database's write lock); on PostgreSQL another instance
 * may commit the same name between the check and the UPDATE, which then fails: 503, and the
 * client's retry gets the 422.
 */
static int update_job(struct tandem_sql *db, void *arg)
{
    struct account *a = arg;
    json_decref(a->user); /* a job may run again (a lost PostgreSQL connection): set, not add */
    a->user = NULL;
    struct tandem_sql_stmt *cur = blog_stmt(db, CURRENT), *up = blog_stmt(db, UPDATE_USER);
    if (cur == NULL || up == NULL) {
        return TANDEM_EIO;
    }
    tandem_sql_bind_int64(cur, 1, a->id);
    int rc = tandem_sql_step(cur);
    if (rc != TANDEM_SQL_ROW) {
        tandem_sql_reset(cur);
        return rc == TANDEM_SQL_DONE ? JOB_NOT_FOUND : TANDEM_EIO;
    }
    rc = a->username != NULL || a->email != NULL ? taken(db, a) : 0;
    if (rc != 0) {
        tandem_sql_reset(cur);
        return rc == 1 ? JOB_TAKEN : TANDEM_EIO;
    }
    const char *username = given_or(a->username, cur, 0), *email = given_or(a->email, cur, 1);
    const char *bio = given_or(a->bio, cur, 2), *image = given_or(a->image, cur, 3);
    bool changed = strcmp(username, blog_col_text(cur, 0)) != 0 ||
                   strcmp(bio, blog_col_text(cur, 2)) != 0 ||
                   strcmp(image, blog_col_text(cur, 3)) != 0;
    a->renamed = strcmp(username, blog_col_text(cur, 0)) != 0;
    int64_t version = tandem_sql_column_int64(cur, 4) + (changed ? 1 : 0), now = blog_now_ms();
    tandem_sql_bind_int64(up, 1, a->id);
    tandem_sql_bind_text(up, 2, username); /* (copied: cur's texts go with its reset) */
    tandem_sql_bind_text(up, 3, email);
    if (a->hashed) {
        tandem_sql_bind_text(up, 4, a->hash);
    } else {
        tandem_sql_bind_null(up, 4); /* the hash stays */
    }
    tandem_sql_bind_text(up, 5, bio);
    tandem_sql_bind_text(up, 6, image);
    tandem_sql_bind_int64(up, 7, version);
    tandem_sql_bind_int64(up, 8, now);
    a->user = user_json(email, username, bio, image);
    json_t *ev = changed ? users_event_profile(a->id, username, bio, image, version, now) : NULL;
    tandem_sql_reset(cur);
    rc = tandem_sql_step(up);
    tandem_sql_reset(up);
    if (rc != TANDEM_SQL_DONE) {
        json_decref(ev);
        /* a constraint after the check: another instance's commit (PostgreSQL) */
        return rc == TANDEM_EEXIST ? TANDEM_EAGAIN : TANDEM_EIO;
    }
    return ev == NULL ? 0
                      : blog_event_add(db, USERS_TOPIC, a->id, "user.updated", ev,
                                       a->traceparent[0] != '\0' ? a->traceparent : NULL);
}

static void update_done(int status, void *arg)
{
    struct account *a = arg;
    if (status == 0) {
        answer_user(a->req, 200, a->user, a->id, a->renamed ? NULL : a->token);
    } else if (status == JOB_TAKEN) {
        answer_taken(a->req, a);
    } else if (status == JOB_NOT_FOUND) {
        blog_not_found(a->req, "user");
    } else {
        blog_store_failed(a->req, status);
    }
    account_free(a);
}

static void update_write(struct tandem_http_request *req, struct account *a)
{
    int rc = blog_write(users.store, update_job, update_done, a);
    if (rc != 0) {
        blog_store_failed(req, rc);
        account_free(a);
    }
}

static void update_hashed(struct tandem_http_request *req, void *arg)
{
    struct account *a = arg;
    if (req == NULL) {
        account_free(a);
    } else if (!a->hashed) {
        tandem_respond_problem(req, 500, "cannot hash the password");
        account_free(a);
    } else {
        update_write(req, a);
    }
}

void users_update(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    const struct tandem_claims *c = tandem_require_auth(req);
    if (c == NULL) {
        return;
    }
    json_t *in = tandem_json_body_valid(req, UPDATE);
    if (in == NULL) {
        return;
    }
    json_t *u = json_object_get(in, "user");
    json_t *errors = json_object();
    const char *username = blog_json_str(u, "username");
    if (username != NULL && !username_ok(username)) {
        tandem_errors_add(errors, "username",
                          "can only hold letters, digits and punctuation "
                          "other than / ? # % \\ \" < >");
    }
    static const char *const FIELDS[] = {"username", "email", "password", "bio", "image"};
    bool any = false;
    for (size_t i = 0; i < 5; i++) {
        any = any || json_object_get(u, FIELDS[i]) != NULL;
    }
    if (!any) {
        tandem_errors_add(errors, "user",
                          "must change at least one of username, email, "
                          "password, bio, image");
    }
    struct account *a = json_object_size(errors) == 0 ? account_new(req) : NULL;
    if (a == NULL) {
        json_decref(in);
        if (json_object_size(errors) > 0) {
            tandem_respond_invalid(req, errors);
        } else {
            json_decref(errors);
        }
        return;
    }
    json_decref(errors);
    a->id = blog_user_id(c);
    a->token = request_token(req);
    a->username = dup_or_null(username);
    a->email = email_dup(blog_json_str(u, "email"));
    a->password = dup_or_null(blog_json_str(u, "password"));
    /* null clears bio and image (the validator lets null through as absent) */
    a->bio =
        json_is_null(json_object_get(u, "bio")) ? strdup("") : dup_or_null(blog_json_str(u, "bio"));
    a->image = json_is_null(json_object_get(u, "image")) ? strdup("")
                                                         : dup_or_null(blog_json_str(u, "image"));
    json_decref(in);
    if (a->password == NULL) {
        update_write(req, a);
    } else if (tandem_offload(req, hash_work, update_hashed, a) != 0) {
        account_free(a);
    }
}
