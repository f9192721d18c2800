// The blog as `make run` starts it (the repository's tandem.yaml, tests/blog/tandem.mjs), driven
// only through the gateway: every RealWorld endpoint with its shapes, types, statuses and dates
// (every answer validated strictly against RealWorld's openapi.yml and docs/blog-openapi.yaml by
// schemas.mjs), paging and filters with articlesCount, favorites read back at once from either
// articles instance, follow -> feed once the event arrived, comments under the pattern route,
// tags, activity's beacons and analytics, the gateway's own answers (unrouted paths, instances'
// endpoints, request ids), and every event the system published meanwhile against
// docs/asyncapi.yaml.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { api, register, waitFor } from './lib.mjs';
import { checkResponses } from './schemas.mjs';
import { Blog, watchEvents } from './tandem.mjs';

checkResponses();

const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
let blog, events, base;

before(async () => {
    blog = new Blog('conformance');
    await blog.up();
    base = blog.url;
    events = await watchEvents(blog.brokers, ['users', 'articles', 'comments', 'activity']);
});

after(async () => {
    try {
        await events?.stop();
    } finally {
        await blog.down();
    }
});

let serial = 0;
const fresh = (extra = {}) => ({ title: `Sys ${process.pid} ${++serial}`, description: 'about it', body: 'the text', ...extra });

async function publish(token, article) {
    const r = await api(base, 'POST', '/api/articles', { token, body: { article } });
    assert.equal(r.status, 201, r.text);
    return r.json.article;
}

test('users: register 201, login, the current user, update, profiles, follow and unfollow', async () => {
    const u = await register(base, 'cu');
    const login = await api(base, 'POST', '/api/users/login', { body: { user: { email: u.email, password: u.password } } });
    assert.equal(login.status, 200);
    assert.equal(login.json.user.username, u.username);
    assert.equal(login.json.user.email, u.email);
    assert.deepEqual([login.json.user.bio, login.json.user.image], ['', '']);
    const bad = await api(base, 'POST', '/api/users/login', { body: { user: { email: u.email, password: 'not the password' } } });
    assert.equal(bad.status, 401);
    assert.deepEqual(bad.json.errors, { 'email or password': ['is invalid'] });
    const me = await api(base, 'GET', '/api/user', { token: login.json.user.token });
    assert.equal(me.status, 200);
    assert.equal(me.json.user.username, u.username);
    assert.equal((await api(base, 'GET', '/api/user')).status, 401);
    // /api/user is an exact route: what lies under it is no service's
    assert.equal((await api(base, 'GET', '/api/user/x', { token: u.token, unchecked: true })).status, 404);
    const put = await api(base, 'PUT', '/api/user', {
        token: u.token,
        body: { user: { bio: 'I like <b>dragons</b> 🐉', image: 'https://example.com/me.png' } },
    });
    assert.equal(put.status, 200);
    assert.equal(put.json.user.bio, 'I like <b>dragons</b> 🐉');
    assert.equal(put.json.user.image, 'https://example.com/me.png');
    const v = await register(base, 'cv');
    const p = await api(base, 'GET', `/api/profiles/${u.username}`, { token: v.token });
    assert.equal(p.status, 200);
    assert.deepEqual(p.json.profile, { username: u.username, bio: 'I like <b>dragons</b> 🐉', image: 'https://example.com/me.png', following: false });
    assert.equal((await api(base, 'GET', '/api/profiles/nobody-at-all')).status, 404);
    const f = await api(base, 'POST', `/api/profiles/${u.username}/follow`, { token: v.token });
    assert.equal(f.status, 200);
    assert.equal(f.json.profile.following, true);
    assert.equal((await api(base, 'GET', `/api/profiles/${u.username}`, { token: v.token })).json.profile.following, true);
    assert.equal((await api(base, 'GET', `/api/profiles/${u.username}`)).json.profile.following, false);
    const uf = await api(base, 'DELETE', `/api/profiles/${u.username}/follow`, { token: v.token });
    assert.equal(uf.status, 200);
    assert.equal(uf.json.profile.following, false);
    assert.equal((await api(base, 'POST', `/api/profiles/${u.username}/follow`)).status, 401);
});

test('articles: publish, read with and without a token, update (new slug), delete; 401, 403, 404, 422', async () => {
    const u = await register(base, 'ca');
    const other = await register(base, 'cb');
    const a = await publish(u.token, fresh({ title: `How to train your dragon ${process.pid}`, tagList: ['reactjs', 'angularjs', 'dragons'] }));
    assert.equal(a.slug, `how-to-train-your-dragon-${process.pid}`);
    assert.deepEqual(a.tagList, ['angularjs', 'dragons', 'reactjs']);
    assert.match(a.createdAt, ISO_MS);
    assert.equal(a.createdAt, a.updatedAt);
    assert.deepEqual([a.favorited, a.favoritesCount], [false, 0]);
    assert.deepEqual(a.author, { username: u.username, bio: '', image: '', following: false });
    for (const token of [undefined, u.token, other.token]) {
        const r = await api(base, 'GET', `/api/articles/${a.slug}`, { token });
        assert.equal(r.status, 200);
        assert.deepEqual(r.json.article, a);
    }
    assert.equal((await api(base, 'POST', '/api/articles', { body: { article: fresh() } })).status, 401);
    const invalid = await api(base, 'POST', '/api/articles', { token: u.token, body: { article: { title: '', description: 'd', body: 'b' } } });
    assert.equal(invalid.status, 422);
    assert.deepEqual(invalid.json.errors, { title: ["can't be blank"] });
    assert.equal((await api(base, 'PUT', `/api/articles/${a.slug}`, { token: other.token, body: { article: { body: 'mine' } } })).status, 403);
    assert.equal((await api(base, 'DELETE', `/api/articles/${a.slug}`, { token: other.token })).status, 403);
    assert.equal((await api(base, 'GET', '/api/articles/no-such-article-here')).status, 404);
    await new Promise((r) => setTimeout(r, 3));
    const up = await api(base, 'PUT', `/api/articles/${a.slug}`, { token: u.token, body: { article: { title: `Dragons again ${process.pid}`, body: 'new' } } });
    assert.equal(up.status, 200);
    assert.equal(up.json.article.slug, `dragons-again-${process.pid}`);
    assert.equal(up.json.article.body, 'new');
    assert.equal(up.json.article.createdAt, a.createdAt);
    assert.ok(up.json.article.updatedAt > a.updatedAt);
    assert.equal((await api(base, 'GET', `/api/articles/${a.slug}`)).status, 404);
    const del = await api(base, 'DELETE', `/api/articles/${up.json.article.slug}`, { token: u.token });
    assert.equal(del.status, 204);
    assert.equal(del.text, '');
    assert.equal((await api(base, 'GET', `/api/articles/${up.json.article.slug}`)).status, 404);
});

test('lists: newest first, paging with articlesCount, filters tag, author, favorited and combined', async () => {
    const w1 = await register(base, 'la');
    const w2 = await register(base, 'lb');
    const fan = await register(base, 'lf');
    const tag = `sys${process.pid}`;
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await publish(w1.token, fresh({ tagList: i % 2 ? [tag] : [`${tag}x`] })));
    for (let i = 0; i < 3; i++) made.push(await publish(w2.token, fresh({ tagList: [tag] })));
    for (const i of [1, 2, 6]) assert.equal((await api(base, 'POST', `/api/articles/${made[i].slug}/favorite`, { token: fan.token })).status, 200);
    const newestFirst = [...made].reverse().map((a) => a.slug);

    const byTag = await api(base, 'GET', `/api/articles?tag=${tag}&limit=100`);
    assert.equal(byTag.json.articlesCount, 5);
    assert.deepEqual(byTag.json.articles.map((a) => a.slug), newestFirst.filter((s) => [1, 3, 5, 6, 7].some((i) => made[i].slug === s)));
    for (const a of byTag.json.articles) assert.ok(!('body' in a));
    const byAuthor = await api(base, 'GET', `/api/articles?author=${w1.username}`);
    assert.equal(byAuthor.json.articlesCount, 5);
    assert.deepEqual(byAuthor.json.articles.map((a) => a.author.username), Array(5).fill(w1.username));
    const fav = await api(base, 'GET', `/api/articles?favorited=${fan.username}`, { token: fan.token });
    assert.equal(fav.json.articlesCount, 3);
    assert.deepEqual(fav.json.articles.map((a) => a.slug), [made[6].slug, made[2].slug, made[1].slug]);
    assert.ok(fav.json.articles.every((a) => a.favorited && a.favoritesCount === 1));
    const both = await api(base, 'GET', `/api/articles?tag=${tag}&author=${w1.username}&favorited=${fan.username}`);
    assert.deepEqual(both.json.articles.map((a) => a.slug), [made[1].slug]);
    assert.equal(both.json.articlesCount, 1);
    // pages of 2 over the author's 5: 2, 2, 1, then an empty page, articlesCount 5 on each
    const pages = [];
    for (let offset = 0; offset <= 6; offset += 2) {
        const r = await api(base, 'GET', `/api/articles?author=${w1.username}&limit=2&offset=${offset}`);
        assert.equal(r.json.articlesCount, 5);
        pages.push(r.json.articles.map((a) => a.slug));
    }
    assert.deepEqual(pages.map((p) => p.length), [2, 2, 1, 0]);
    assert.deepEqual(pages.flat(), newestFirst.filter((s) => made.slice(0, 5).some((a) => a.slug === s)));
    for (const q of ['limit=0', 'limit=x', 'offset=-1']) {
        assert.equal((await api(base, 'GET', `/api/articles?${q}`)).status, 422, q);
    }
    const none = await api(base, 'GET', '/api/articles?author=nobody-writes-here');
    assert.deepEqual(none.json, { articles: [], articlesCount: 0 });
    const all = await api(base, 'GET', '/api/articles');
    assert.ok(all.json.articles.length <= 20 && all.json.articlesCount >= 8);
});

test('favorites: read back at once through the gateway, whichever articles instance answers', async () => {
    const author = await register(base, 'fa');
    const fans = await Promise.all([1, 2, 3].map(() => register(base, 'ff')));
    const a = await publish(author.token, fresh());
    for (let i = 0; i < fans.length; i++) {
        const f = await api(base, 'POST', `/api/articles/${a.slug}/favorite`, { token: fans[i].token });
        assert.equal(f.status, 200);
        assert.deepEqual([f.json.article.favorited, f.json.article.favoritesCount], [true, i + 1]);
        // round robin over the two instances: several reads, every one sees the favorite
        for (let k = 0; k < 4; k++) {
            const r = await api(base, 'GET', `/api/articles/${a.slug}`, { token: fans[i].token });
            assert.deepEqual([r.json.article.favorited, r.json.article.favoritesCount], [true, i + 1]);
        }
    }
    const reads = await blog.logged((l) => l.uri === `/api/articles/${a.slug}` && l.method === 'GET', 12, 'the 12 reads in the access log');
    const served = new Set(reads.map((l) => l.upstream));
    assert.equal(served.size, 2, `reads served by ${[...served]}`);
    const un = await api(base, 'DELETE', `/api/articles/${a.slug}/favorite`, { token: fans[0].token });
    assert.deepEqual([un.json.article.favorited, un.json.article.favoritesCount], [false, 2]);
    const list = await api(base, 'GET', `/api/articles?favorited=${fans[1].username}`);
    assert.deepEqual(list.json.articles.map((x) => [x.slug, x.favoritesCount]), [[a.slug, 2]]);
});

test('follow -> feed: the followed author\'s articles once user.followed reached articles; unfollow empties it', async () => {
    const writer = await register(base, 'fw');
    const reader = await register(base, 'fr');
    const mine = await publish(writer.token, fresh());
    const empty = await api(base, 'GET', '/api/articles/feed', { token: reader.token });
    assert.equal(empty.status, 200);
    assert.deepEqual(empty.json, { articles: [], articlesCount: 0 });
    assert.equal((await api(base, 'GET', '/api/articles/feed')).status, 401);
    assert.equal((await api(base, 'POST', `/api/profiles/${writer.username}/follow`, { token: reader.token })).status, 200);
    const feed = await waitFor(async () => {
        const r = await api(base, 'GET', '/api/articles/feed', { token: reader.token });
        return r.json.articlesCount === 1 && r;
    }, 'the feed to show the followed author');
    assert.equal(feed.json.articles[0].slug, mine.slug);
    assert.equal(feed.json.articles[0].author.following, true);
    // author.following everywhere articles answers, once the event is there
    const single = await api(base, 'GET', `/api/articles/${mine.slug}`, { token: reader.token });
    assert.equal(single.json.article.author.following, true);
    await api(base, 'DELETE', `/api/profiles/${writer.username}/follow`, { token: reader.token });
    await waitFor(async () => (await api(base, 'GET', '/api/articles/feed', { token: reader.token })).json.articlesCount === 0,
        'the feed to empty after unfollow');
});

test('comments under the pattern route: add, list newest first, delete, 401, 403, 404', async () => {
    const author = await register(base, 'ma');
    const other = await register(base, 'mb');
    const a = await publish(author.token, fresh());
    const c1 = await api(base, 'POST', `/api/articles/${a.slug}/comments`, { token: author.token, body: { comment: { body: 'first' } } });
    assert.equal(c1.status, 200);
    assert.equal(c1.json.comment.body, 'first');
    assert.match(c1.json.comment.createdAt, ISO_MS);
    assert.deepEqual(c1.json.comment.author, { username: author.username, bio: '', image: '', following: false });
    const c2 = await api(base, 'POST', `/api/articles/${a.slug}/comments`, { token: other.token, body: { comment: { body: 'second <script>' } } });
    assert.equal(c2.status, 200);
    const list = await api(base, 'GET', `/api/articles/${a.slug}/comments`);
    assert.equal(list.status, 200);
    assert.deepEqual(list.json.comments.map((c) => c.body), ['second <script>', 'first']);
    assert.equal((await api(base, 'POST', `/api/articles/${a.slug}/comments`, { body: { comment: { body: 'x' } } })).status, 401);
    const blank = await api(base, 'POST', `/api/articles/${a.slug}/comments`, { token: other.token, body: { comment: { body: ' ' } } });
    assert.equal(blank.status, 422);
    assert.deepEqual(blank.json.errors, { body: ["can't be blank"] });
    // /api/articles/X/comments/ID reaches comments through the same pattern route
    assert.equal((await api(base, 'DELETE', `/api/articles/${a.slug}/comments/${c1.json.comment.id}`, { token: other.token })).status, 403);
    const del = await api(base, 'DELETE', `/api/articles/${a.slug}/comments/${c1.json.comment.id}`, { token: author.token });
    assert.equal(del.status, 204);
    assert.equal((await api(base, 'DELETE', `/api/articles/${a.slug}/comments/${c1.json.comment.id}`, { token: author.token })).status, 404);
    assert.deepEqual((await api(base, 'GET', `/api/articles/${a.slug}/comments`)).json.comments.map((c) => c.id), [c2.json.comment.id]);
    assert.equal((await api(base, 'GET', '/api/articles/no-such-article-here/comments')).status, 404);
    // every one of them reached comments: the three DELETEs of c1, the six requests to the list
    const routed = async (uri, count) => (await blog.logged((l) => l.uri === uri, count, `${count} lines of ${uri}`)).map((l) => l.upstream);
    const commentsPort = String(blog.ports.comments);
    for (const u of await routed(`/api/articles/${a.slug}/comments/${c1.json.comment.id}`, 3)) assert.ok(u.endsWith(`:${commentsPort}`), u);
    for (const u of await routed(`/api/articles/${a.slug}/comments`, 6)) assert.ok(u.endsWith(`:${commentsPort}`), u);
    // the comments of a deleted article go with it (comments consumes article.deleted)
    assert.equal((await api(base, 'DELETE', `/api/articles/${a.slug}`, { token: author.token })).status, 204);
    await waitFor(async () => (await api(base, 'GET', `/api/articles/${a.slug}/comments`)).status === 404, 'the comments to go');
});

test('comments on an article comments has not heard of yet: the one internal call finds it', async () => {
    const u = await register(base, 'mc');
    // publish and comment at once: comments may not have article.published yet
    const a = await publish(u.token, fresh());
    const c = await api(base, 'POST', `/api/articles/${a.slug}/comments`, { token: u.token, body: { comment: { body: 'quick' } } });
    assert.equal(c.status, 200);
    assert.deepEqual((await api(base, 'GET', `/api/articles/${a.slug}/comments`)).json.comments.map((x) => x.body), ['quick']);
});

test('tags: every tag of an existing article, sorted and distinct', async () => {
    const u = await register(base, 'tg');
    const t = `tg${process.pid}`;
    await publish(u.token, fresh({ tagList: [`${t}b`, `${t}a`, 'dragons'] }));
    await publish(u.token, fresh({ tagList: [`${t}a`] }));
    const r = await api(base, 'GET', '/api/tags');
    assert.equal(r.status, 200);
    const tags = r.json.tags;
    assert.deepEqual(tags, [...new Set(tags)].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
    for (const x of [`${t}a`, `${t}b`, 'dragons']) assert.ok(tags.includes(x), x);
});

test('activity: beacons 202 (fire-and-forget), then the analytics: daily, top articles, a user\'s activity, totals', async () => {
    const u = await register(base, 'ac');
    const a = await publish(u.token, fresh());
    const anonymousId = `anon-${process.pid}`;
    const beacon = (type) => ({ type, path: `/article/${a.slug}`, slug: a.slug });
    const b1 = await api(base, 'POST', '/api/activity/events', { body: { anonymousId, events: [beacon('page_view'), beacon('click')] } });
    assert.equal(b1.status, 202);
    assert.deepEqual(b1.json, { accepted: 2 });
    const b2 = await api(base, 'POST', '/api/activity/events', { token: u.token, body: { anonymousId, events: [beacon('article_read')] } });
    assert.deepEqual([b2.status, b2.json], [202, { accepted: 1 }]);
    const bad = await api(base, 'POST', '/api/activity/events', { body: { anonymousId, events: [{ type: 'nope', path: 'x' }] } });
    assert.equal(bad.status, 422);
    assert.ok(bad.json.errors['events[0].type']);
    const top = await waitFor(async () => {
        const r = await api(base, 'GET', '/api/activity/top-articles?limit=100');
        const mine = r.json.articles.find((x) => x.slug === a.slug);
        return mine && mine.reads === 2 && mine;
    }, 'the article\'s reads (a page view and a read)');
    assert.deepEqual(top, { slug: a.slug, title: a.title, reads: 2, favorites: 0, comments: 0 });
    const mine = await waitFor(async () => {
        const r = await api(base, 'GET', `/api/activity/users/${u.username}`);
        return r.status === 200 && r.json.activity.length === 2 && r.json;
    }, 'the user\'s activity');
    assert.deepEqual(mine.activity.map((x) => x.type), ['activity.article_read', 'article.published']);
    assert.deepEqual(mine.activity[1].article, { slug: a.slug, title: a.title, deleted: false });
    assert.equal((await api(base, 'GET', '/api/activity/users/nobody-at-all')).status, 404);
    const daily = await api(base, 'GET', '/api/activity/daily?days=2');
    assert.equal(daily.json.days.length, 2);
    assert.ok(daily.json.days[1].counts['activity.page_viewed'] >= 1);
    assert.equal((await api(base, 'GET', '/api/activity/daily?days=0')).status, 422);
    const totals = await api(base, 'GET', '/api/activity/totals');
    assert.ok(totals.json.users >= 1 && totals.json.articles >= 1);
    assert.ok(totals.json.events['activity.clicked'] >= 1);
});

test('the gateway: the pages at /, unknown API paths and the instances\' own endpoints 404, request ids come back', async () => {
    // / is the web service's (the pages); the API routes are more specific and win
    const home = await api(base, 'GET', '/', { unchecked: true });
    assert.equal(home.status, 200);
    assert.match(home.headers.get('content-type'), /^text\/html/);
    // unknown API paths fall to web, which answers them as problems; the instances' endpoints are
    // the gateway's own 404s; articles' internal route is not routed to articles
    for (const p of ['/api/nothing', '/api/activityx', '/api/articlesx', '/metrics', '/readyz', '/healthz']) {
        const r = await api(base, 'GET', p, { unchecked: true });
        assert.equal(r.status, 404, p);
        assert.match(r.headers.get('content-type'), /^application\/problem\+json/, p);
        assert.equal(r.json.status, 404);
    }
    const internal = await api(base, 'GET', '/internal/articles/x', { unchecked: true });
    assert.equal(internal.status, 404);
    const articlesPorts = [blog.ports.articles, blog.ports.articles + 1].map((p) => `127.0.0.1:${p}`);
    const lines = await blog.logged((l) => l.uri === '/internal/articles/x', 1, 'the /internal request in the access log');
    assert.ok(lines.every((l) => !articlesPorts.includes(l.upstream)));
    const r = await api(base, 'GET', '/api/tags', { headers: { 'x-request-id': 'conformance-1' } });
    assert.equal(r.headers.get('x-request-id'), 'conformance-1');
    await blog.logged((l) => l.request_id === 'conformance-1' && l.status === 200, 1, 'the request id in the access log');
});

test('the events published so far are valid against docs/asyncapi.yaml and cover every domain type', async () => {
    const want = ['user.registered', 'user.updated', 'user.followed', 'user.unfollowed', 'article.published',
        'article.updated', 'article.deleted', 'article.favorited', 'article.unfavorited', 'comment.added', 'comment.deleted',
        'activity.page_viewed', 'activity.clicked', 'activity.article_read'];
    await waitFor(() => want.every((t) => events.events.some((e) => e.type === t)),
        `events of every type (seen: ${[...new Set(events.events.map((e) => e.type))]})`);
    assert.deepEqual(events.errors, []);
});
