/*
 * Router and query-string tests (src/lib/core/router.c, query.c): one route table, then a table
 * of requests with the exact outcome each must get: status, handler, template, captured params
 * and the Allow value. Handlers are the addresses of distinct static ints.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tandem/router.h"

static int h_root, h_posts_list, h_posts_create, h_posts_new, h_post_get, h_post_delete,
    h_post_head, h_comments, h_comment, h_static, h_users_me, h_user, h_opts, h_slash;

static const struct {
    const char *method, *pattern;
    void *handler;
} routes[] = {
    {"GET", "/", &h_root},
    {"GET", "/posts", &h_posts_list},
    {"POST", "/posts", &h_posts_create},
    {"GET", "/posts/new", &h_posts_new},
    {"GET", "/posts/{id}", &h_post_get},
    {"DELETE", "/posts/{id}", &h_post_delete},
    {"HEAD", "/posts/{id}", &h_post_head},
    {"GET", "/posts/{id}/comments", &h_comments},
    {"GET", "/posts/{id}/comments/{cid}", &h_comment},
    {"GET", "/static/{path...}", &h_static},
    {"GET", "/users/me", &h_users_me},
    {"PUT", "/users/{user_id}", &h_user},
    {"OPTIONS", "/users/{user_id}", &h_opts},
    {"GET", "/dir/", &h_slash},
};

struct want_param {
    const char *name, *value;
};

static const struct {
    const char *method, *path;
    int rc, status;
    void *handler;
    const char *pattern, *allow;
    struct want_param params[3];
} cases[] = {
    {"GET", "/", 0, 200, &h_root, "/", "", {{0}}},
    {"GET", "/posts", 0, 200, &h_posts_list, "/posts", "", {{0}}},
    {"POST", "/posts", 0, 200, &h_posts_create, "/posts", "", {{0}}},
    {"HEAD", "/posts", 0, 200, &h_posts_list, "/posts", "", {{0}}}, /* HEAD falls back to GET */
    {"PUT", "/posts", TANDEM_EUNSUPPORTED, 405, NULL, NULL, "GET, HEAD, POST", {{0}}},
    /* literal beats parameter */
    {"GET", "/posts/new", 0, 200, &h_posts_new, "/posts/new", "", {{0}}},
    {"GET", "/posts/42", 0, 200, &h_post_get, "/posts/{id}", "", {{"id", "42"}}},
    /* ...but a method only the parameter route has still reaches it */
    {"DELETE", "/posts/new", 0, 200, &h_post_delete, "/posts/{id}", "", {{"id", "new"}}},
    {"HEAD", "/posts/42", 0, 200, &h_post_head, "/posts/{id}", "", {{"id", "42"}}},
    {"POST", "/posts/42", TANDEM_EUNSUPPORTED, 405, NULL, NULL, "GET, HEAD, DELETE", {{0}}},
    /* a dead-end literal branch falls back to the parameter */
    {"GET",
     "/posts/new/comments",
     0,
     200,
     &h_comments,
     "/posts/{id}/comments",
     "",
     {{"id", "new"}}},
    {"GET",
     "/posts/7/comments/a%20b%2Fc",
     0,
     200,
     &h_comment,
     "/posts/{id}/comments/{cid}",
     "",
     {{"id", "7"}, {"cid", "a b/c"}}},
    {"GET", "/posts/%6Eew", 0, 200, &h_posts_new, "/posts/new", "", {{0}}}, /* decoded literal */
    {"GET", "/posts/a+b", 0, 200, &h_post_get, "/posts/{id}", "", {{"id", "a+b"}}},
    {"GET",
     "/static/css/site.css",
     0,
     200,
     &h_static,
     "/static/{path...}",
     "",
     {{"path", "css/site.css"}}},
    {"GET", "/static/", 0, 200, &h_static, "/static/{path...}", "", {{"path", ""}}},
    {"GET", "/users/me", 0, 200, &h_users_me, "/users/me", "", {{0}}},
    {"PUT", "/users/me", 0, 200, &h_user, "/users/{user_id}", "", {{"user_id", "me"}}},
    {"DELETE", "/users/me", TANDEM_EUNSUPPORTED, 405, NULL, NULL, "GET, HEAD, PUT, OPTIONS", {{0}}},
    {"BREW", "/posts", TANDEM_EUNSUPPORTED, 405, NULL, NULL, "GET, HEAD, POST", {{0}}},
    {"get", "/posts", TANDEM_EUNSUPPORTED, 405, NULL, NULL, "GET, HEAD, POST", {{0}}},
    {"GET", "/dir/", 0, 200, &h_slash, "/dir/", "", {{0}}},
    /* 404s */
    {"GET", "/dir", TANDEM_ENOENT, 404, NULL, NULL, "", {{0}}},
    {"GET", "/static", TANDEM_ENOENT, 404, NULL, NULL, "", {{0}}},
    {"GET", "/posts/", TANDEM_ENOENT, 404, NULL, NULL, "", {{0}}}, /* {id} needs a segment */
    {"GET", "/posts//comments", TANDEM_ENOENT, 404, NULL, NULL, "", {{0}}},
    {"GET", "/nope", TANDEM_ENOENT, 404, NULL, NULL, "", {{0}}},
    {"GET", "/posts/1/comments/2/3", TANDEM_ENOENT, 404, NULL, NULL, "", {{0}}},
    {"GET", "//", TANDEM_ENOENT, 404, NULL, NULL, "", {{0}}},
    /* 400s */
    {"GET", "posts", TANDEM_EINVAL, 400, NULL, NULL, "", {{0}}},
    {"GET", "/posts/%zz", TANDEM_EINVAL, 400, NULL, NULL, "", {{0}}},
    {"GET", "/posts/%00", TANDEM_EINVAL, 400, NULL, NULL, "", {{0}}},
    {"GET", "/posts/%4", TANDEM_EINVAL, 400, NULL, NULL, "", {{0}}},
};

static struct tandem_router *build(void)
{
    struct tandem_router *r = NULL;
    assert_int_equal(tandem_router_new(&r), 0);
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        assert_int_equal(
            tandem_router_add(r, routes[i].method, routes[i].pattern, routes[i].handler), 0);
    return r;
}

static void test_match_table(void **state)
{
    struct tandem_router *r = build();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[128];
        struct tandem_route_match m;
        const char *path = cases[i].path;
        print_message("case %zu: %s %s\n", i, cases[i].method, path);
        int rc = tandem_router_match(r, cases[i].method, strlen(cases[i].method), path,
                                     strlen(path), buf, sizeof(buf), &m);
        assert_int_equal(rc, cases[i].rc);
        assert_int_equal(m.status, cases[i].status);
        assert_ptr_equal(m.handler, cases[i].handler);
        assert_string_equal(m.allow, cases[i].allow);
        if (cases[i].pattern)
            assert_string_equal(m.pattern, cases[i].pattern);
        else
            assert_null(m.pattern);
        size_t np = 0;
        while (np < 3 && cases[i].params[np].name)
            np++;
        assert_int_equal(m.nparams, np);
        for (size_t k = 0; k < np; k++) {
            assert_int_equal(m.params[k].name_len, strlen(cases[i].params[k].name));
            assert_memory_equal(m.params[k].name, cases[i].params[k].name, m.params[k].name_len);
            assert_string_equal(m.params[k].value, cases[i].params[k].value);
            assert_int_equal(m.params[k].value_len, strlen(cases[i].params[k].value));
            assert_string_equal(tandem_route_param(&m, cases[i].params[k].name),
                                cases[i].params[k].value);
        }
    }
    tandem_router_free(r);
}

static void test_match_small_buffer(void **state)
{
    struct tandem_router *r = build();
    struct tandem_route_match m;
    char buf[4];
    const char *p = "/posts/12345";
    assert_int_equal(tandem_router_match(r, "GET", 3, p, strlen(p), buf, sizeof(buf), &m),
                     TANDEM_ETOOLARGE);
    assert_int_equal(m.status, 414);
    assert_int_equal(tandem_router_match(r, "GET", 3, p, strlen(p), NULL, 0, &m), TANDEM_ETOOLARGE);
    p = "/posts/123"; /* "123" + NUL fits exactly */
    assert_int_equal(tandem_router_match(r, "GET", 3, p, strlen(p), buf, sizeof(buf), &m), 0);
    assert_string_equal(tandem_route_param(&m, "id"), "123");
    assert_null(tandem_route_param(&m, "nope"));
    /* no params: no buffer needed */
    assert_int_equal(tandem_router_match(r, "GET", 3, "/posts", 6, NULL, 0, &m), 0);
    tandem_router_free(r);
}

static void test_add_errors(void **state)
{
    struct tandem_router *r = build();
    static const struct {
        const char *method, *pattern;
        int rc;
    } bad[] = {
        {"GET", "/posts", TANDEM_EEXIST},
        {"GET", "/posts/{pid}", TANDEM_EINVAL}, /* same node, other name */
        {"FETCH", "/x", TANDEM_EINVAL},
        {"get", "/x", TANDEM_EINVAL},
        {"GET", "x", TANDEM_EINVAL},
        {"GET", "", TANDEM_EINVAL},
        {"GET", "/{}", TANDEM_EINVAL},
        {"GET", "/{a", TANDEM_EINVAL},
        {"GET", "/a}", TANDEM_EINVAL},
        {"GET", "/{a}/{a}", TANDEM_EINVAL},
        {"GET", "/{rest...}/x", TANDEM_EINVAL},
        {"GET", "/{...}", TANDEM_EINVAL},
        {"GET", "/{a b}", TANDEM_EINVAL},
        {"GET", "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", TANDEM_EINVAL},
        {"POST", "/posts/{id}/comments", 0},
        {"PATCH", "/static/{path...}", 0},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(tandem_router_add(r, bad[i].method, bad[i].pattern, &h_root), bad[i].rc);
    assert_int_equal(tandem_router_add(r, "GET", "/y", NULL), TANDEM_EINVAL);
    tandem_router_free(r);
    tandem_router_free(NULL);
}

static void test_allow_all_methods(void **state)
{
    struct tandem_router *r = NULL;
    assert_int_equal(tandem_router_new(&r), 0);
    const char *ms[] = {"OPTIONS", "DELETE", "PATCH", "PUT", "POST", "HEAD"};
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(tandem_router_add(r, ms[i], "/a/{x}", &h_root), 0);
    assert_int_equal(tandem_router_add(r, "GET", "/a/b", &h_root), 0);
    struct tandem_route_match m;
    char buf[16];
    assert_int_equal(tandem_router_match(r, "TRACE", 5, "/a/b", 4, buf, sizeof(buf), &m),
                     TANDEM_EUNSUPPORTED);
    assert_string_equal(m.allow, "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
    tandem_router_free(r);
}

static void test_target_split(void **state)
{
    static const struct {
        const char *target, *path, *query;
    } t[] = {
        {"/a/b?x=1&y=2", "/a/b", "x=1&y=2"},
        {"/a/b", "/a/b", ""},
        {"/a?", "/a", ""},
        {"/a?q#frag", "/a", "q"},
        {"/a#frag", "/a", ""},
        {"/?a=b?c", "/", "a=b?c"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        const char *p, *q;
        size_t pn, qn;
        tandem_target_split(t[i].target, strlen(t[i].target), &p, &pn, &q, &qn);
        assert_int_equal(pn, strlen(t[i].path));
        assert_memory_equal(p, t[i].path, pn);
        assert_int_equal(qn, strlen(t[i].query));
        assert_memory_equal(q, t[i].query, qn);
    }
}

static void test_query_get(void **state)
{
    static const struct {
        const char *query, *name;
        int rc;
        const char *value;
    } t[] = {
        {"a=1&b=2", "b", 0, "2"},
        {"?a=1&b=2", "a", 0, "1"},
        {"a=1&a=2", "a", 0, "1"}, /* first wins */
        {"q=hello+world%21", "q", 0, "hello world!"},
        {"q=%E2%82%AC", "q", 0, "\xE2\x82\xAC"},
        {"first+name=Ada", "first name", 0, "Ada"},
        {"f%6Fo=bar", "foo", 0, "bar"},
        {"flag&x=1", "flag", 0, ""},
        {"x=&y=1", "x", 0, ""},
        {"x=a=b", "x", 0, "a=b"},
        {"&&x=1&", "x", 0, "1"},
        {"ab=1", "a", TANDEM_ENOENT, ""},
        {"", "a", TANDEM_ENOENT, ""},
        {"a=%G1", "a", TANDEM_EINVAL, ""},
        {"a=%00", "a", TANDEM_EINVAL, ""},
        {"a=%4", "a", TANDEM_EINVAL, ""},
        {"%zz=1&a=2", "a", 0, "2"}, /* malformed names are skipped */
        {"a=0123456789abcdef", "a", TANDEM_ETOOLARGE, ""},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char buf[16];
        print_message("query %zu: %s\n", i, t[i].query);
        assert_int_equal(tandem_query_get(t[i].query, t[i].name, buf, sizeof(buf)), t[i].rc);
        if (t[i].rc != TANDEM_ENOENT)
            assert_string_equal(buf, t[i].value);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_table),  cmocka_unit_test(test_match_small_buffer),
        cmocka_unit_test(test_add_errors),   cmocka_unit_test(test_allow_all_methods),
        cmocka_unit_test(test_target_split), cmocka_unit_test(test_query_get),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
