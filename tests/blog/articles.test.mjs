// The articles service with the real users service (tokens, user events): every route and
// filter, paging, favorites, the feed, tags, slugs, refusals, unicode and metacharacters, the
// 1 MiB limit, the events it publishes, the users read model (claims before the events, events
// out of order, redelivered, malformed), the internal route, slugs and filters that are not
// UTF-8, and a restart.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';

import { System, api, freePort, register, waitFor } from './lib.mjs';
import { claimsFor, es256, forgedTokens, jwt } from './tokens.mjs';
import { checkResponses, validateEvent } from './schemas.mjs';

checkResponses();

const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const ARTICLE_KEYS = ['author', 'body', 'createdAt', 'description', 'favorited', 'favoritesCount', 'slug', 'tagList', 'title', 'updatedAt'];
const MIB = 1024 * 1024;
let sys, users, art;

before(async () => {
    sys = new System('articles');
    await sys.broker();
    users = await sys.service('users');
    art = await sys.service('articles');
});

after(async () => {
    await sys.close();
});

const subOf = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url')).sub;

// A token signed with the system's key for a user the users service never heard of.
const tokenFor = (s, sub, username) => jwt({ alg: 'ES256', typ: 'JWT' }, claimsFor(sub, username), es256(fs.readFileSync(s.privateKey, 'utf8')));

let serial = 0;
const fresh = (extra = {}) => ({ title: `Title ${process.pid} ${++serial}`, description: 'about it', body: 'the text', ...extra });

async function publish(token, article, base = art.url) {
    const r = await api(base, 'POST', '/api/articles', { token, body: { article } });
    assert.equal(r.status, 201, r.text);
    return r.json.article;
}

// The Article of openapi.yml, member by member and type by type (lists: without body).
function checkShape(a, { body = true } = {}) {
    assert.deepEqual(Object.keys(a).sort(), body ? ARTICLE_KEYS : ARTICLE_KEYS.filter((k) => k !== 'body'));
    for (const k of body ? ['slug', 'title', 'description', 'body'] : ['slug', 'title', 'description']) {
        assert.equal(typeof a[k], 'string', k);
    }
    assert.ok(Array.isArray(a.tagList) && a.tagList.every((t) => typeof t === 'string'));
    assert.match(a.createdAt, ISO_MS);
    assert.match(a.updatedAt, ISO_MS);
    assert.equal(typeof a.favorited, 'boolean');
    assert.ok(Number.isInteger(a.favoritesCount));
    assert.deepEqual(Object.keys(a.author).sort(), ['bio', 'following', 'image', 'username']);
    for (const k of ['username', 'bio', 'image']) assert.equal(typeof a.author[k], 'string', k);
    assert.equal(typeof a.author.following, 'boolean');
}

async function internal(slug) {
    const r = await api(art.url, 'GET', `/internal/articles/${encodeURIComponent(slug)}`);
    assert.equal(r.status, 200, r.text);
    return r.json;
}

// One raw HTTP/1.1 exchange (for requests fetch will not send as they are); resolves the
// response's text once the server closes or timeout ms passed.
function raw(port, text, timeout = 5000) {
    return new Promise((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1');
        let got = '';
        const t = setTimeout(() => { s.destroy(); resolve(got); }, timeout);
        s.on('data', (d) => (got += d.toString('latin1')));
        s.on('error', (e) => { clearTimeout(t); got ? resolve(got) : reject(e); });
        s.on('close', () => { clearTimeout(t); resolve(got); });
        s.write(text);
    });
}

async function readTopic(topic, until, what) {
    const kafka = new Kafka({ brokers: [sys.brokers], clientId: 'articles-test', logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: `t${process.pid}${Date.now()}${Math.random()}` });
    const seen = [];
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
        eachMessage: async ({ message }) => {
            if (topic === 'articles') validateEvent(topic, message); /* docs/asyncapi.yaml */
            const h = Object.fromEntries(Object.entries(message.headers).map(([k, v]) => [k, v.toString()]));
            const value = message.value?.toString();
            let data;
            try {
                data = JSON.parse(value);
            } catch {
                data = undefined;
            }
            seen.push({ key: message.key?.toString(), h, value, data });
        },
    });
    try {
        await waitFor(() => until(seen), what);
    } finally {
        await consumer.disconnect();
    }
    return seen;
}

test('publish answers 201 with the Article; GET with and without a token', async () => {
    const u = await register(users.url, 'wr');
    const a = await publish(u.token, { title: 'How to train your dragon', description: 'Ever wonder how?', body: 'You have to believe', tagList: ['reactjs', 'angularjs', 'dragons'] });
    checkShape(a);
    assert.match(a.slug, /^how-to-train-your-dragon(-[0-9a-z]{6})?$/);
    assert.equal(a.title, 'How to train your dragon');
    assert.deepEqual(a.tagList, ['angularjs', 'dragons', 'reactjs']);
    assert.equal(a.createdAt, a.updatedAt);
    assert.equal(a.favorited, false);
    assert.equal(a.favoritesCount, 0);
    assert.deepEqual(a.author, { username: u.username, bio: '', image: '', following: false });
    const anon = await api(art.url, 'GET', `/api/articles/${a.slug}`);
    assert.equal(anon.status, 200);
    assert.match(anon.headers.get('content-type'), /^application\/json/);
    assert.deepEqual(anon.json, { article: a });
    const other = await register(users.url, 'rd');
    const seen = await api(art.url, 'GET', `/api/articles/${a.slug}`, { token: other.token });
    assert.deepEqual(seen.json, { article: a });
    assert.equal((await api(art.url, 'GET', '/api/articles/no-such-article')).status, 404);
    const nf = await api(art.url, 'GET', '/api/articles/no-such-article');
    assert.match(nf.headers.get('content-type'), /^application\/problem\+json/);
});

test('validation: 422 per field, 400 malformed JSON, 415 not JSON, 401 without a token', async () => {
    const u = await register(users.url);
    const cases = [
        [{}, { article: ["can't be blank"], title: ["can't be blank"], description: ["can't be blank"], body: ["can't be blank"] }],
        [{ article: { description: 'd', body: 'b' } }, { title: ["can't be blank"] }],
        [{ article: { title: '  ', description: 'd', body: 'b' } }, { title: ["can't be blank"] }],
        [{ article: { title: 't', description: '\u3000', body: 'b' } }, { description: ["can't be blank"] }],
        [{ article: { title: 't', description: 'd', body: '' } }, { body: ["can't be blank"] }],
        [{ article: { title: 7, description: 'd', body: 'b' } }, { title: ['must be a string'] }],
        [{ article: { title: 't', description: 'd', body: 'b', tagList: 'x' } }, { tagList: ['must be an array of strings'] }],
        [{ article: { title: 't', description: 'd', body: 'b', tagList: ['a', 3] } }, { tagList: ['must be an array of strings'] }],
        [{ article: { title: 't', description: 'd', body: 'b', tagList: ['a', ' '] } }, { tagList: ["can't contain blank items"] }],
        [{ article: { title: 'x'.repeat(301), description: 'd', body: 'b' } }, { title: ['is too long (maximum is 300 characters)'] }],
        [{ article: 'no' }, { article: ['must be an object'] }],
    ];
    for (const [body, errors] of cases) {
        const r = await api(art.url, 'POST', '/api/articles', { token: u.token, body });
        assert.equal(r.status, 422, JSON.stringify(body));
        assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
        for (const [k, v] of Object.entries(errors)) assert.deepEqual(r.json.errors[k], v, `${JSON.stringify(body)}: ${k}`);
    }
    const bad = await api(art.url, 'POST', '/api/articles', { token: u.token, raw: '{"article":', headers: { 'content-type': 'application/json' } });
    assert.equal(bad.status, 400);
    const text = await api(art.url, 'POST', '/api/articles', { token: u.token, raw: 'title=x', headers: { 'content-type': 'text/plain' } });
    assert.equal(text.status, 415);
    const none = await api(art.url, 'POST', '/api/articles', { body: { article: fresh() } });
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Token');
    // 300 characters are fine, emoji counting one each
    const long = await api(art.url, 'POST', '/api/articles', { token: u.token, body: { article: fresh({ title: '🐉'.repeat(300) }) } });
    assert.equal(long.status, 201);
    assert.equal(long.json.article.title, '🐉'.repeat(300));
});

test('tags: trimmed, deduplicated, sorted; /api/tags is every tag of an existing article, sorted and distinct', async () => {
    const u = await register(users.url);
    const tag = `t${process.pid}`;
    const a = await publish(u.token, fresh({ tagList: [` ${tag}-b`, `${tag}-a\t`, `${tag}-b`, `\u00a0${tag}-c\u3000`, `${tag}-a`, `Z${tag}`] }));
    assert.deepEqual(a.tagList, [`Z${tag}`, `${tag}-a`, `${tag}-b`, `${tag}-c`]);
    await publish(u.token, fresh({ tagList: [`${tag}-a`, `${tag}-d`] }));
    const untagged = await publish(u.token, fresh());
    assert.deepEqual(untagged.tagList, []);
    const empty = await publish(u.token, fresh({ tagList: [] }));
    assert.deepEqual(empty.tagList, []);
    const r = await api(art.url, 'GET', '/api/tags');
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.json), ['tags']);
    const tags = r.json.tags;
    assert.deepEqual(tags, [...new Set(tags)].sort((x, y) => (Buffer.compare(Buffer.from(x), Buffer.from(y)))));
    for (const t of [`Z${tag}`, `${tag}-a`, `${tag}-b`, `${tag}-c`, `${tag}-d`]) assert.ok(tags.includes(t), t);
    const listed = await api(art.url, 'GET', `/api/articles?tag=${tag}-a`);
    assert.equal(listed.json.articlesCount, 2);
});

test('slugs: one title twice gives two working slugs; a new title a new slug, the old one 404', async () => {
    const u = await register(users.url);
    const title = `Same Title ${process.pid}`;
    const [a, b] = await Promise.all([publish(u.token, fresh({ title })), publish(u.token, fresh({ title }))]);
    const base = `same-title-${process.pid}`;
    assert.notEqual(a.slug, b.slug);
    for (const s of [a.slug, b.slug]) assert.match(s, new RegExp(`^${base}(-[0-9a-z]{6})?$`));
    assert.ok([a.slug, b.slug].includes(base));
    for (const x of [a, b]) assert.equal((await api(art.url, 'GET', `/api/articles/${x.slug}`)).json.article.body, x.body);
    // many at once, across the batch of the writer: every one distinct
    const many = await Promise.all(Array.from({ length: 6 }, () => publish(u.token, fresh({ title }))));
    assert.equal(new Set([a.slug, b.slug, ...many.map((m) => m.slug)]).size, 8);

    const c = await publish(u.token, fresh({ title: `Old Name ${process.pid}` }));
    const up = await api(art.url, 'PUT', `/api/articles/${c.slug}`, { token: u.token, body: { article: { title: `New Name ${process.pid}` } } });
    assert.equal(up.status, 200);
    assert.equal(up.json.article.slug, `new-name-${process.pid}`);
    assert.equal((await api(art.url, 'GET', `/api/articles/${c.slug}`)).status, 404);
    assert.equal((await api(art.url, 'GET', `/api/articles/new-name-${process.pid}`)).status, 200);
    // a new title whose slug another article has gets a suffix
    const clash = await api(art.url, 'PUT', `/api/articles/new-name-${process.pid}`, { token: u.token, body: { article: { title } } });
    assert.equal(clash.status, 200);
    assert.match(clash.json.article.slug, new RegExp(`^${base}-[0-9a-z]{6}$`));
    assert.ok(![a.slug, b.slug, ...many.map((m) => m.slug)].includes(clash.json.article.slug));
    assert.equal((await api(art.url, 'GET', `/api/articles/${clash.json.article.slug}`)).json.article.title, title);
    // a title that slugifies as before keeps the slug, suffix included
    const suffixed = a.slug === base ? b : a;
    const same = await api(art.url, 'PUT', `/api/articles/${suffixed.slug}`, { token: u.token, body: { article: { title: `same TITLE! ${process.pid}` } } });
    assert.equal(same.json.article.slug, suffixed.slug);
    assert.equal(same.json.article.title, `same TITLE! ${process.pid}`);
    // a title of nothing but punctuation and non-ASCII
    const odd = await publish(u.token, fresh({ title: '¿¡🐉!?' }));
    assert.match(odd.slug, /^article(-[0-9a-z]{6})?$/);
});

test('slugs are never given to another article: not after a deletion, not after a rename; an article may take back its own', async () => {
    const u = await register(users.url);
    const title = `Once Only ${process.pid}`;
    const base = `once-only-${process.pid}`;
    const first = await publish(u.token, fresh({ title }));
    assert.equal(first.slug, base);
    assert.equal((await api(art.url, 'DELETE', `/api/articles/${base}`, { token: u.token })).status, 204);
    assert.equal((await api(art.url, 'GET', `/api/articles/${base}`)).status, 404);
    // the same title after the deletion: the slug of the deleted article is not given again (the
    // other services may still map it to the deleted article's id)
    const second = await publish(u.token, fresh({ title }));
    assert.match(second.slug, new RegExp(`^${base}-[0-9a-z]{6}$`));
    // a renamed article's old slug is not given to another article either
    const r = await publish(u.token, fresh({ title: `Renamed From ${process.pid}` }));
    const up = await api(art.url, 'PUT', `/api/articles/${r.slug}`, { token: u.token, body: { article: { title: `Renamed To ${process.pid}` } } });
    assert.equal(up.json.article.slug, `renamed-to-${process.pid}`);
    const taker = await publish(u.token, fresh({ title: `Renamed From ${process.pid}` }));
    assert.match(taker.slug, new RegExp(`^renamed-from-${process.pid}-[0-9a-z]{6}$`));
    // ...but the article that had it may take it back
    const back = await api(art.url, 'PUT', `/api/articles/renamed-to-${process.pid}`, { token: u.token, body: { article: { title: `Renamed From ${process.pid}` } } });
    assert.equal(back.status, 200);
    assert.equal(back.json.article.slug, `renamed-from-${process.pid}`);
});

test('update: the author only (403), 404, partial changes, tagList replaced, no change publishes nothing', async () => {
    const u = await register(users.url);
    const intruder = await register(users.url);
    const a = await publish(u.token, fresh({ tagList: ['one', 'two'] }));
    const forbidden = await api(art.url, 'PUT', `/api/articles/${a.slug}`, { token: intruder.token, body: { article: { body: 'mine now' } } });
    assert.equal(forbidden.status, 403);
    assert.match(forbidden.headers.get('content-type'), /^application\/problem\+json/);
    assert.equal((await api(art.url, 'PUT', '/api/articles/nothing-here', { token: u.token, body: { article: { body: 'x' } } })).status, 404);
    assert.equal((await api(art.url, 'PUT', `/api/articles/${a.slug}`, { body: { article: { body: 'x' } } })).status, 401);
    assert.equal((await api(art.url, 'PUT', `/api/articles/${a.slug}`, { token: u.token, body: { article: {} } })).status, 422);
    assert.equal((await api(art.url, 'PUT', `/api/articles/${a.slug}`, { token: u.token, body: { article: { title: ' ' } } })).status, 422);
    await new Promise((r) => setTimeout(r, 5));
    const r = await api(art.url, 'PUT', `/api/articles/${a.slug}`, { token: u.token, body: { article: { body: 'new text', tagList: ['three', 'one'] } } });
    assert.equal(r.status, 200);
    checkShape(r.json.article);
    assert.equal(r.json.article.slug, a.slug);
    assert.equal(r.json.article.title, a.title);
    assert.equal(r.json.article.description, a.description);
    assert.equal(r.json.article.body, 'new text');
    assert.deepEqual(r.json.article.tagList, ['one', 'three']);
    assert.equal(r.json.article.createdAt, a.createdAt);
    assert.ok(r.json.article.updatedAt > a.updatedAt);
    const byTag = await api(art.url, 'GET', `/api/articles?tag=two&author=${u.username}`);
    assert.equal(byTag.json.articlesCount, 0);
    const { version } = await internal(a.slug);
    assert.equal(version, 2);
    const same = await api(art.url, 'PUT', `/api/articles/${a.slug}`, { token: u.token, body: { article: { body: 'new text', tagList: ['one', 'three', 'one'] } } });
    assert.equal(same.status, 200);
    assert.deepEqual(same.json.article, r.json.article);
    assert.equal((await internal(a.slug)).version, 2);
    const cleared = await api(art.url, 'PUT', `/api/articles/${a.slug}`, { token: u.token, body: { article: { tagList: [] } } });
    assert.deepEqual(cleared.json.article.tagList, []);
});

test('delete: the author only, 204, then 404 everywhere; its tags leave /api/tags', async () => {
    const u = await register(users.url);
    const intruder = await register(users.url);
    const tag = `gone${process.pid}`;
    const a = await publish(u.token, fresh({ tagList: [tag] }));
    await api(art.url, 'POST', `/api/articles/${a.slug}/favorite`, { token: intruder.token });
    assert.equal((await api(art.url, 'DELETE', `/api/articles/${a.slug}`, { token: intruder.token })).status, 403);
    assert.equal((await api(art.url, 'DELETE', `/api/articles/${a.slug}`)).status, 401);
    const r = await api(art.url, 'DELETE', `/api/articles/${a.slug}`, { token: u.token });
    assert.equal(r.status, 204);
    assert.equal(r.text, '');
    assert.equal((await api(art.url, 'GET', `/api/articles/${a.slug}`)).status, 404);
    assert.equal((await api(art.url, 'DELETE', `/api/articles/${a.slug}`, { token: u.token })).status, 404);
    assert.equal((await api(art.url, 'POST', `/api/articles/${a.slug}/favorite`, { token: u.token })).status, 404);
    assert.equal((await api(art.url, 'GET', `/internal/articles/${a.slug}`)).status, 404);
    assert.ok(!(await api(art.url, 'GET', '/api/tags')).json.tags.includes(tag));
    assert.equal((await api(art.url, 'GET', `/api/articles?favorited=${intruder.username}`)).json.articlesCount, 0);
});

test('favorites: read back at once, idempotent, counted per user, the favorited filter', async () => {
    const author = await register(users.url);
    const fan = await register(users.url);
    const fan2 = await register(users.url);
    const a = await publish(author.token, fresh());
    const f = await api(art.url, 'POST', `/api/articles/${a.slug}/favorite`, { token: fan.token });
    assert.equal(f.status, 200);
    checkShape(f.json.article);
    assert.equal(f.json.article.favorited, true);
    assert.equal(f.json.article.favoritesCount, 1);
    assert.equal(f.json.article.updatedAt, a.updatedAt);
    const read = await api(art.url, 'GET', `/api/articles/${a.slug}`, { token: fan.token });
    assert.equal(read.json.article.favorited, true);
    assert.equal(read.json.article.favoritesCount, 1);
    const anon = await api(art.url, 'GET', `/api/articles/${a.slug}`);
    assert.equal(anon.json.article.favorited, false);
    assert.equal(anon.json.article.favoritesCount, 1);
    const again = await api(art.url, 'POST', `/api/articles/${a.slug}/favorite`, { token: fan.token });
    assert.equal(again.json.article.favoritesCount, 1);
    const two = await api(art.url, 'POST', `/api/articles/${a.slug}/favorite`, { token: fan2.token });
    assert.equal(two.json.article.favoritesCount, 2);
    const list = await api(art.url, 'GET', `/api/articles?favorited=${fan.username}`, { token: fan.token });
    assert.equal(list.json.articlesCount, 1);
    assert.equal(list.json.articles[0].slug, a.slug);
    assert.equal(list.json.articles[0].favorited, true);
    const un = await api(art.url, 'DELETE', `/api/articles/${a.slug}/favorite`, { token: fan.token });
    assert.equal(un.status, 200);
    assert.equal(un.json.article.favorited, false);
    assert.equal(un.json.article.favoritesCount, 1);
    const unAgain = await api(art.url, 'DELETE', `/api/articles/${a.slug}/favorite`, { token: fan.token });
    assert.equal(unAgain.json.article.favoritesCount, 1);
    assert.equal((await api(art.url, 'GET', `/api/articles?favorited=${fan.username}`)).json.articlesCount, 0);
    assert.equal((await api(art.url, 'POST', `/api/articles/${a.slug}/favorite`)).status, 401);
    assert.equal((await api(art.url, 'DELETE', `/api/articles/${a.slug}/favorite`)).status, 401);
    assert.equal((await api(art.url, 'POST', '/api/articles/nope-nope/favorite', { token: fan.token })).status, 404);
    // concurrent favorites of one article by many users: each counted once
    const crowd = await Promise.all(Array.from({ length: 6 }, () => register(users.url, 'crowd')));
    await Promise.all(crowd.flatMap((c) => [1, 2].map(() => api(art.url, 'POST', `/api/articles/${a.slug}/favorite`, { token: c.token }))));
    assert.equal((await api(art.url, 'GET', `/api/articles/${a.slug}`)).json.article.favoritesCount, 7);
});

test('lists: newest first, no body, filters combined with AND, limit and offset with articlesCount', async () => {
    const w1 = await register(users.url, 'la');
    const w2 = await register(users.url, 'lb');
    const fan = await register(users.url, 'lf');
    const tag = `list${process.pid}`;
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await publish(w1.token, fresh({ title: `w1 ${i} ${process.pid}`, tagList: i % 2 ? [tag] : [] })));
    for (let i = 0; i < 3; i++) made.push(await publish(w2.token, fresh({ title: `w2 ${i} ${process.pid}`, tagList: [tag] })));
    await api(art.url, 'POST', `/api/articles/${made[1].slug}/favorite`, { token: fan.token });
    await api(art.url, 'POST', `/api/articles/${made[2].slug}/favorite`, { token: fan.token });
    await api(art.url, 'POST', `/api/articles/${made[6].slug}/favorite`, { token: fan.token });

    const all = await api(art.url, 'GET', '/api/articles?limit=100');
    assert.equal(all.status, 200);
    assert.deepEqual(Object.keys(all.json).sort(), ['articles', 'articlesCount']);
    for (const a of all.json.articles) checkShape(a, { body: false });
    const ids = all.json.articles.map((a) => a.slug);
    assert.deepEqual(ids.slice(0, 8), made.map((m) => m.slug).reverse(), 'newest first');
    assert.ok(all.json.articlesCount >= 8);
    assert.equal((await api(art.url, 'GET', '/api/articles')).json.articles.length, Math.min(20, all.json.articlesCount));

    const mine = await api(art.url, 'GET', `/api/articles?author=${w1.username}`);
    assert.equal(mine.json.articlesCount, 5);
    assert.deepEqual(mine.json.articles.map((a) => a.slug), made.slice(0, 5).map((m) => m.slug).reverse());
    const tagged = await api(art.url, 'GET', `/api/articles?tag=${tag}`);
    assert.equal(tagged.json.articlesCount, 5);
    const both = await api(art.url, 'GET', `/api/articles?tag=${tag}&author=${w1.username}`);
    assert.deepEqual(both.json.articles.map((a) => a.slug), [made[3].slug, made[1].slug]);
    const favTag = await api(art.url, 'GET', `/api/articles?favorited=${fan.username}&tag=${tag}`, { token: fan.token });
    assert.deepEqual(favTag.json.articles.map((a) => a.slug), [made[6].slug, made[1].slug]);
    assert.ok(favTag.json.articles.every((a) => a.favorited));
    const three = await api(art.url, 'GET', `/api/articles?favorited=${fan.username}&tag=${tag}&author=${w2.username}`);
    assert.deepEqual(three.json.articles.map((a) => a.slug), [made[6].slug]);
    assert.equal(three.json.articlesCount, 1);
    const favAuthor = await api(art.url, 'GET', `/api/articles?favorited=${fan.username}&author=${w1.username}`);
    assert.equal(favAuthor.json.articlesCount, 2);

    // paging: every page of 2 of w1's 5, the count always 5
    const pages = [];
    for (let offset = 0; offset < 6; offset += 2) {
        const p = await api(art.url, 'GET', `/api/articles?author=${w1.username}&limit=2&offset=${offset}`);
        assert.equal(p.json.articlesCount, 5);
        pages.push(...p.json.articles.map((a) => a.slug));
    }
    assert.deepEqual(pages, mine.json.articles.map((a) => a.slug));
    const past = await api(art.url, 'GET', `/api/articles?author=${w1.username}&offset=50`);
    assert.deepEqual(past.json, { articles: [], articlesCount: 5 });
    assert.equal((await api(art.url, 'GET', `/api/articles?tag=${tag}&limit=1000`)).json.articles.length, 5);

    for (const q of ['limit=0', 'limit=-1', 'limit=x', 'offset=-1', 'offset=1.5', 'tag=%zz']) {
        const r = await api(art.url, 'GET', `/api/articles?${q}`);
        assert.equal(r.status, 422, q);
        assert.ok(r.json.errors, q);
    }
    for (const q of ['author=nobody-at-all', 'favorited=nobody-at-all', `tag=no-such-tag-${process.pid}`]) {
        assert.deepEqual((await api(art.url, 'GET', `/api/articles?${q}`)).json, { articles: [], articlesCount: 0 }, q);
    }
});

test('feed: a token required; the followed authors\' articles once the follow event arrived', async () => {
    const fan = await register(users.url, 'ff');
    const star = await register(users.url, 'fs');
    const other = await register(users.url, 'fo');
    const s1 = await publish(star.token, fresh());
    await publish(other.token, fresh());
    const s2 = await publish(star.token, fresh());
    assert.equal((await api(art.url, 'GET', '/api/articles/feed')).status, 401);
    const before = await api(art.url, 'GET', '/api/articles/feed', { token: fan.token });
    assert.deepEqual(before.json, { articles: [], articlesCount: 0 });
    const f = await api(users.url, 'POST', `/api/profiles/${star.username}/follow`, { token: fan.token });
    assert.equal(f.status, 200);
    const feed = await waitFor(async () => {
        const r = await api(art.url, 'GET', '/api/articles/feed', { token: fan.token });
        return r.json.articlesCount === 2 && r;
    }, 'the feed after the follow');
    assert.deepEqual(feed.json.articles.map((a) => a.slug), [s2.slug, s1.slug]);
    for (const a of feed.json.articles) {
        checkShape(a, { body: false });
        assert.equal(a.author.following, true);
    }
    const page = await api(art.url, 'GET', '/api/articles/feed?limit=1&offset=1', { token: fan.token });
    assert.deepEqual(page.json.articles.map((a) => a.slug), [s1.slug]);
    assert.equal(page.json.articlesCount, 2);
    assert.equal((await api(art.url, 'GET', `/api/articles/${s1.slug}`, { token: fan.token })).json.article.author.following, true);
    assert.equal((await api(art.url, 'GET', `/api/articles/${s1.slug}`, { token: other.token })).json.article.author.following, false);
    assert.equal((await api(art.url, 'GET', `/api/articles/${s1.slug}`)).json.article.author.following, false);
    assert.equal((await api(art.url, 'GET', '/api/articles/feed?limit=0', { token: fan.token })).status, 422);
    await api(users.url, 'DELETE', `/api/profiles/${star.username}/follow`, { token: fan.token });
    await waitFor(async () => (await api(art.url, 'GET', '/api/articles/feed', { token: fan.token })).json.articlesCount === 0, 'the feed after the unfollow');
});

test('HTML, emoji, 4-byte UTF-8, quotes, control characters and SQL metacharacters are data', async () => {
    const u = await register(users.url);
    const nasty = `'; DROP TABLE articles; -- "quoted" \\ back <script>alert(1)</script> & 🐉 𝄞 日本 \u0001\t\n end`;
    const a = await publish(u.token, { title: `<b>${nasty}</b>`, description: nasty, body: `${nasty}\n`.repeat(3), tagList: [`🐉${process.pid}`, `<i>'%_${process.pid}`, 'a"b\\c'] });
    assert.equal(a.title, `<b>${nasty}</b>`);
    assert.equal(a.description, nasty);
    assert.equal(a.body, `${nasty}\n`.repeat(3));
    assert.match(a.slug, /^[a-z0-9-]+$/);
    assert.ok(a.slug.startsWith('b-drop-table-articles-quoted-back-script-alert-1-script'), a.slug);
    const r = await api(art.url, 'GET', `/api/articles/${a.slug}`);
    assert.deepEqual(r.json.article, a);
    assert.ok(r.text.includes('<script>'), 'HTML is returned as given, JSON-escaped only');
    for (const t of a.tagList) {
        const byTag = await api(art.url, 'GET', `/api/articles?tag=${encodeURIComponent(t)}`);
        assert.equal(byTag.json.articlesCount, 1, t);
        assert.equal(byTag.json.articles[0].slug, a.slug);
    }
    // LIKE and GLOB wildcards match themselves only
    assert.equal((await api(art.url, 'GET', `/api/articles?tag=${encodeURIComponent('%')}`)).json.articlesCount, 0);
    assert.equal((await api(art.url, 'GET', `/api/articles?author=${encodeURIComponent("' OR 1=1 --")}`)).json.articlesCount, 0);
    const slugs = await api(art.url, 'GET', `/api/articles/${encodeURIComponent("x' OR '1'='1")}`);
    assert.equal(slugs.status, 404);
});

test('bodies: 1,000,000 characters stored and returned whole; a request over 1 MiB is 413', async () => {
    const u = await register(users.url);
    const big = await publish(u.token, fresh({ body: 'x'.repeat(1_000_000) }));
    assert.equal(big.body.length, 1_000_000);
    const back = await api(art.url, 'GET', `/api/articles/${big.slug}`);
    assert.equal(back.json.article.body, 'x'.repeat(1_000_000));
    const list = await api(art.url, 'GET', `/api/articles?author=${u.username}`);
    assert.ok(list.text.length < 2000, 'lists carry no body');
    // exactly 1 MiB of JSON is accepted, with multi-byte characters in it
    const article = fresh({ body: '' });
    const room = MIB - Buffer.byteLength(JSON.stringify({ article }));
    article.body = '€'.repeat(Math.floor(room / 3));
    article.body += 'y'.repeat(MIB - Buffer.byteLength(JSON.stringify({ article })));
    const exact = JSON.stringify({ article });
    assert.equal(Buffer.byteLength(exact), MIB);
    const ok = await api(art.url, 'POST', '/api/articles', { token: u.token, raw: exact, headers: { 'content-type': 'application/json' } });
    assert.equal(ok.status, 201);
    assert.equal(ok.json.article.body, JSON.parse(exact).article.body);
    // one byte more: refused from its Content-Length, before the body is read
    const head = `POST /api/articles HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token ${u.token}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${MIB + 1}\r\n\r\n`;
    const refused = await raw(art.port, head);
    assert.match(refused, /^HTTP\/1\.1 413 /);
    assert.match(refused, /application\/problem\+json/);
    // nothing was stored by the refused request: u has exactly the two articles
    assert.equal((await api(art.url, 'GET', `/api/articles?author=${u.username}`)).json.articlesCount, 2);
});

test('every forged, expired or malformed token is 401, also where a token is optional', async () => {
    const u = await register(users.url);
    const a = await publish(u.token, fresh());
    for (const [why, token] of Object.entries(forgedTokens(sys, subOf(u.token), u.username))) {
        const routes = [
            ['POST', '/api/articles', { article: fresh() }],
            ['GET', '/api/articles'],
            ['GET', '/api/articles/feed'],
            ['GET', `/api/articles/${a.slug}`],
            ['PUT', `/api/articles/${a.slug}`, { article: { body: 'forged' } }],
            ['DELETE', `/api/articles/${a.slug}`],
            ['POST', `/api/articles/${a.slug}/favorite`],
        ];
        for (const [method, p, body] of routes) {
            const r = await api(art.url, method, p, { token, body });
            assert.equal(r.status, 401, `${why}: ${method} ${p}`);
            assert.equal(r.headers.get('www-authenticate'), 'Token');
        }
    }
    // signed with the right key but not naming a user (a numeric sub and a username): no write
    for (const odd of [tokenFor(sys, 'not-a-number', u.username), tokenFor(sys, subOf(u.token), undefined)]) {
        assert.equal((await api(art.url, 'POST', '/api/articles', { token: odd, body: { article: fresh() } })).status, 401);
        assert.equal((await api(art.url, 'POST', `/api/articles/${a.slug}/favorite`, { token: odd })).status, 401);
        assert.equal((await api(art.url, 'DELETE', `/api/articles/${a.slug}`, { token: odd })).status, 401);
        assert.equal((await api(art.url, 'GET', `/api/articles/${a.slug}`, { token: odd })).status, 200, 'reads need no user');
    }
    const still = await api(art.url, 'GET', `/api/articles/${a.slug}`);
    assert.equal(still.json.article.body, a.body);
    assert.equal(still.json.article.favoritesCount, 0);
});

test('the internal route: id, slug, authorId, version; 404 once unknown', async () => {
    const u = await register(users.url);
    const a = await publish(u.token, fresh());
    const r = await api(art.url, 'GET', `/internal/articles/${a.slug}`);
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.json).sort(), ['authorId', 'deleted', 'id', 'slug', 'version']);
    assert.ok(Number.isInteger(r.json.id) && r.json.id > 0);
    assert.equal(r.json.slug, a.slug);
    assert.equal(r.json.authorId, Number(subOf(u.token)));
    assert.equal(r.json.version, 1);
    assert.equal(r.json.deleted, false);
    await api(art.url, 'PUT', `/api/articles/${a.slug}`, { token: u.token, body: { article: { description: 'changed' } } });
    assert.equal((await internal(a.slug)).version, 2);
    assert.equal((await api(art.url, 'GET', '/internal/articles/never-was')).status, 404);
});

test('a slug or filter that is not UTF-8 names nothing: 404 and empty lists, also on PostgreSQL (which refuses such text)', async () => {
    const u = await register(users.url);
    await publish(u.token, fresh({ tagList: ['caf\u00e9'] }));
    const bad = ['%FF', 'caf%E9', '%C0%AF', '%ED%A0%80', '%F4%90%80%80']; // latin-1, overlong, surrogate, > U+10FFFF
    for (const b of bad) {
        for (const p of [`/api/articles/${b}`, `/internal/articles/${b}`]) {
            const r = await api(art.url, 'GET', p);
            assert.equal(r.status, 404, p);
        }
        for (const [m, p, body] of [['PUT', `/api/articles/${b}`, { article: { title: 'x' } }], ['DELETE', `/api/articles/${b}`], ['POST', `/api/articles/${b}/favorite`], ['DELETE', `/api/articles/${b}/favorite`]]) {
            const r = await api(art.url, m, p, { token: u.token, body });
            assert.equal(r.status, 404, `${m} ${p}`);
        }
        for (const q of [`tag=${b}`, `author=${b}`, `favorited=${b}`, `tag=caf%C3%A9&author=${b}`]) {
            const r = await api(art.url, 'GET', `/api/articles?${q}`);
            assert.equal(r.status, 200, q);
            assert.deepEqual(r.json, { articles: [], articlesCount: 0 }, q);
        }
    }
    assert.ok((await api(art.url, 'GET', '/api/articles?tag=caf%C3%A9')).json.articlesCount >= 1);
});

test('events: published, updated, favorited, unfavorited, deleted, in order, with their versions; repeats publish nothing', async () => {
    const u = await register(users.url, 'ev');
    const fan = await register(users.url, 'evf');
    const a = await publish(u.token, fresh({ tagList: ['b', 'a'] }));
    const { id } = await internal(a.slug);
    const up = await api(art.url, 'PUT', `/api/articles/${a.slug}`, { token: u.token, body: { article: { title: `Evented ${process.pid}`, body: 'never in an event' } } });
    await api(art.url, 'PUT', `/api/articles/${up.json.article.slug}`, { token: u.token, body: { article: { body: 'never in an event' } } }); // no change
    const slug = up.json.article.slug;
    await api(art.url, 'POST', `/api/articles/${slug}/favorite`, { token: fan.token });
    await api(art.url, 'POST', `/api/articles/${slug}/favorite`, { token: fan.token }); // no change
    await api(art.url, 'DELETE', `/api/articles/${slug}/favorite`, { token: fan.token });
    await api(art.url, 'DELETE', `/api/articles/${slug}/favorite`, { token: fan.token }); // no change
    await api(art.url, 'DELETE', `/api/articles/${slug}`, { token: u.token });
    const seen = await readTopic('articles', (s) => s.some((e) => e.key === String(id) && e.h.ce_type === 'article.deleted'), 'article.deleted');
    const mine = seen.filter((e) => e.key === String(id));
    assert.deepEqual(mine.map((e) => [e.h.ce_type, e.data.version]), [
        ['article.published', 1], ['article.updated', 2], ['article.favorited', 1], ['article.unfavorited', 2], ['article.deleted', 3],
    ]);
    const [pub, upd, fav, unfav, del] = mine.map((e) => e.data);
    for (const e of mine) {
        assert.equal(e.h.ce_source, '/articles');
        assert.equal(e.h.ce_specversion, '1.0');
        assert.equal(e.h['content-type'], 'application/json');
        assert.equal(e.h.ce_subject, String(id));
        assert.match(e.h.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
        assert.equal(e.data.v, 1);
        assert.ok(!JSON.stringify(e.data).includes('never in an event'), 'no body in events');
    }
    const state = ['authorId', 'createdAt', 'description', 'id', 'slug', 'tagList', 'title', 'updatedAt', 'v', 'version'];
    assert.deepEqual(Object.keys(pub).sort(), state);
    assert.deepEqual(Object.keys(upd).sort(), state);
    assert.deepEqual(pub, { v: 1, id, slug: a.slug, title: a.title, description: a.description, tagList: ['a', 'b'], authorId: Number(subOf(u.token)), createdAt: a.createdAt, updatedAt: a.updatedAt, version: 1 });
    assert.equal(upd.slug, slug);
    assert.equal(upd.title, `Evented ${process.pid}`);
    assert.equal(upd.createdAt, a.createdAt);
    assert.equal(upd.updatedAt, up.json.article.updatedAt);
    assert.deepEqual(Object.keys(fav).sort(), ['articleId', 'at', 'favoritesCount', 'userId', 'v', 'version']);
    assert.deepEqual([fav.articleId, fav.userId, fav.favoritesCount], [id, Number(subOf(fan.token)), 1]);
    assert.deepEqual([unfav.articleId, unfav.userId, unfav.favoritesCount], [id, Number(subOf(fan.token)), 0]);
    assert.match(fav.at, ISO_MS);
    assert.deepEqual(Object.keys(del).sort(), ['at', 'authorId', 'id', 'slug', 'v', 'version']);
    assert.deepEqual([del.id, del.slug, del.authorId], [id, slug, Number(subOf(u.token))]);
    // the request's trace goes into its event
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const traced = await api(art.url, 'POST', '/api/articles', { token: u.token, body: { article: fresh() }, headers: { traceparent: tp } });
    const tid = (await internal(traced.json.article.slug)).id;
    const again = await readTopic('articles', (s) => s.some((e) => e.key === String(tid)), 'the traced event');
    assert.equal(again.find((e) => e.key === String(tid)).h.traceparent.slice(0, 36), tp.slice(0, 36));
});

test('the users read model: claims first, then events in version order; older, redelivered and malformed ones change nothing', async () => {
    const id = 800000 + (process.pid % 100000);
    const token = tokenFor(sys, id, `claims${id}`);
    const a = await publish(token, fresh());
    assert.equal(a.author.username, `claims${id}`, 'served from the token before any event');
    const kafka = new Kafka({ brokers: [sys.brokers], clientId: 'articles-test-users', logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    let n = 0;
    const send = (type, data, ceId = `test-${id}-${++n}`, value = JSON.stringify({ v: 1, ...data })) => producer.send({
        topic: 'users',
        messages: [{
            key: String(id), value,
            headers: { ce_specversion: '1.0', ce_id: ceId, ce_source: '/users', ce_type: type, 'content-type': 'application/json' },
        }],
    });
    const profile = (username, version) => ({ id, username, bio: `bio ${version}`, image: '', version, at: new Date().toISOString() });
    const author = async () => (await api(art.url, 'GET', `/api/articles/${a.slug}`)).json.article.author;
    try {
        await send('user.registered', profile(`first${id}`, 1));
        await waitFor(async () => (await author()).username === `first${id}`, 'user.registered applied over the claims');
        await send('user.updated', profile(`third${id}`, 3), `test-${id}-v3`);
        await waitFor(async () => (await author()).username === `third${id}`, 'user.updated v3');
        await send('user.updated', profile(`second${id}`, 2)); // older: ignored
        await send('user.updated', profile(`again${id}`, 4), `test-${id}-v3`); // a redelivered id: ignored
        await send('user.updated', {}, undefined, 'not json'); // dead-lettered, consumption goes on
        // a sentinel behind them in the same partition: a follow of a real author by this user
        const star = await register(users.url, 'rs');
        const s = await publish(star.token, fresh());
        await send('user.followed', { followerId: id, followeeId: Number(subOf(star.token)), following: true, version: 1, at: new Date().toISOString() });
        await waitFor(async () => (await api(art.url, 'GET', `/api/articles/${s.slug}`, { token })).json.article.author.following, 'the sentinel');
        assert.deepEqual(await author(), { username: `third${id}`, bio: 'bio 3', image: '', following: false });
        assert.equal((await api(art.url, 'GET', `/api/articles?author=third${id}`)).json.articlesCount, 1);
        assert.equal((await api(art.url, 'GET', `/api/articles?author=claims${id}`)).json.articlesCount, 0);
        const dlq = await readTopic('users.dlq', (x) => x.some((e) => e.key === String(id)), 'the dead letter');
        const dead = dlq.find((e) => e.key === String(id));
        assert.equal(dead.value, 'not json');
        assert.equal(dead.h.tandem_error, 'permanent failure');
        assert.equal(dead.h.tandem_original_topic, 'users');
    } finally {
        await producer.disconnect();
    }
});

test('a writer whose user.registered has not arrived is served from the token, and corrected when the events land', async () => {
    // users publishes nothing while its broker address is dead: its events wait in its outbox
    const s2 = new System('articles-late');
    try {
        await s2.broker();
        const a2 = await s2.service('articles');
        const dead = `127.0.0.1:${freePort()}`;
        const lonely = await s2.service('users', { env: { TANDEM_BROKERS: dead } });
        const u = await register(lonely.url, 'late');
        const a = await publish(u.token, fresh({ title: 'Written early' }), a2.url);
        assert.equal(a.author.username, u.username);
        const renamed = `${u.username}-renamed`;
        const r = await api(lonely.url, 'PUT', '/api/user', { token: u.token, body: { user: { username: renamed, bio: 'late bio' } } });
        assert.equal(r.status, 200);
        await new Promise((res) => setTimeout(res, 300));
        assert.equal((await api(a2.url, 'GET', `/api/articles/${a.slug}`)).json.article.author.username, u.username);
        // the same users database served by an instance that reaches the broker: the outbox goes out
        await s2.stop(lonely.entry, { kill: true });
        await s2.service('users', { instance: 1 });
        const author = await waitFor(async () => {
            const x = (await api(a2.url, 'GET', `/api/articles/${a.slug}`)).json.article.author;
            return x.username === renamed && x;
        }, 'the rename from the events');
        assert.deepEqual(author, { username: renamed, bio: 'late bio', image: '', following: false });
        assert.equal((await api(a2.url, 'GET', `/api/articles?author=${renamed}`)).json.articlesCount, 1);
        // the renamed user's new token writes as the new name
        const b = await publish(r.json.user.token, fresh(), a2.url);
        assert.equal(b.author.username, renamed);
    } catch (e) {
        s2.failed = true;
        throw e;
    } finally {
        await s2.close();
    }
});

test('a restart keeps every article and favorite, and consumption resumes', async () => {
    const u = await register(users.url, 'rs');
    const fan = await register(users.url, 'rf');
    const a = await publish(u.token, fresh({ tagList: ['kept'] }));
    await api(art.url, 'POST', `/api/articles/${a.slug}/favorite`, { token: fan.token });
    const before = await api(art.url, 'GET', '/api/articles?limit=100');
    const exited = await sys.stop(art.entry);
    assert.equal(exited.code, 0);
    // a follow while articles is down: its event waits in the topic
    await api(users.url, 'POST', `/api/profiles/${u.username}/follow`, { token: fan.token });
    art = await sys.service('articles', { instance: 1 });
    const after = await api(art.url, 'GET', '/api/articles?limit=100');
    assert.deepEqual(after.json, before.json);
    const back = await api(art.url, 'GET', `/api/articles/${a.slug}`, { token: fan.token });
    assert.equal(back.json.article.favorited, true);
    assert.equal(back.json.article.favoritesCount, 1);
    await waitFor(async () => (await api(art.url, 'GET', '/api/articles/feed', { token: fan.token })).json.articlesCount === 1, 'the follow made while articles was down');
    const dup = await api(art.url, 'POST', '/api/articles', { token: u.token, body: { article: fresh({ title: a.title }) } });
    assert.notEqual(dup.json.article.slug, a.slug);
});

test('two instances on one database: writes on one are read at once on the other; one relay publishes each event', async () => {
    const other = await sys.service('articles', { instance: 2 });
    const u = await register(users.url, 'two');
    const fan = await register(users.url, 'twof');
    const a = await publish(u.token, fresh({ tagList: ['twice'] }), other.url);
    assert.deepEqual((await api(art.url, 'GET', `/api/articles/${a.slug}`)).json, { article: a });
    const f = await api(art.url, 'POST', `/api/articles/${a.slug}/favorite`, { token: fan.token });
    assert.equal(f.json.article.favoritesCount, 1);
    assert.equal((await api(other.url, 'GET', `/api/articles/${a.slug}`, { token: fan.token })).json.article.favorited, true);
    const same = await Promise.all([art, other].map((s) => publish(u.token, fresh({ title: `Twin ${process.pid}` }), s.url)));
    assert.notEqual(same[0].slug, same[1].slug);
    await api(users.url, 'POST', `/api/profiles/${u.username}/follow`, { token: fan.token });
    for (const s of [art, other]) {
        await waitFor(async () => (await api(s.url, 'GET', '/api/articles/feed', { token: fan.token })).json.articlesCount === 3, `the feed on ${s.url}`);
    }
    const { id } = await internal(a.slug);
    const seen = await readTopic('articles', (x) => x.some((e) => e.key === String(id) && e.h.ce_type === 'article.favorited'), 'the favorite');
    const mine = seen.filter((e) => e.key === String(id));
    assert.deepEqual(mine.map((e) => e.h.ce_type), ['article.published', 'article.favorited']);
    assert.equal(new Set(mine.map((e) => e.h.ce_id)).size, 2);
    assert.equal((await sys.stop(other.entry)).code, 0);
});
