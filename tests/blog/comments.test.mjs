// The comments service with the real users service (tokens, user events) and a simulated articles
// service: its events are produced here with kafkajs (exact payloads of docs/blog.md), and its
// internal lookup GET /internal/articles/{slug} is served by a small HTTP server in this process
// that can answer, 404, fail, hang or be stopped. Covers every route, the refusals, the one
// internal call (stored, not repeated; 503 with Retry-After when articles cannot answer; the
// circuit breaker), the read models (out-of-order and redelivered events, renamed authors,
// follows, deleted articles), the events comments publishes, and a restart that catches up.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';

import { System, api, freePort, register, sleep, waitFor } from './lib.mjs';
import { claimsFor, es256, forgedTokens, jwt } from './tokens.mjs';
import { checkResponses, validateEvent } from './schemas.mjs';

checkResponses();

const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

// The articles service's internal lookup, as its contract says:
// 200 {"id","slug","authorId","version","deleted":false} or 404. mode: 'ok', 'error' (500) or
// 'slow' (answers after 3 s). hits: the requests it got.
class FakeArticles {
    constructor(port) {
        this.port = port;
        this.url = `http://127.0.0.1:${port}`;
        this.articles = new Map();
        this.mode = 'ok';
        this.hits = [];
        this.timers = new Set();
    }

    start() {
        this.server = http.createServer((req, res) => this.#handle(req, res));
        return new Promise((resolve, reject) => {
            this.server.once('error', reject);
            this.server.listen(this.port, '127.0.0.1', resolve);
        });
    }

    async stop() {
        for (const t of this.timers) clearTimeout(t);
        this.timers.clear();
        this.server.closeAllConnections();
        await new Promise((resolve) => this.server.close(resolve));
    }

    #handle(req, res) {
        this.hits.push({ url: req.url, traceparent: req.headers.traceparent });
        const answer = () => {
            const m = /^\/internal\/articles\/([^/?]+)$/.exec(req.url);
            const a = m && this.articles.get(decodeURIComponent(m[1]));
            if (this.mode === 'error') {
                res.writeHead(500, { 'content-type': 'application/problem+json' });
                res.end('{"status":500}');
            } else if (a) {
                res.writeHead(200, { 'content-type': 'application/json' });
                res.end(JSON.stringify({ ...a, deleted: false }));
            } else {
                res.writeHead(404, { 'content-type': 'application/problem+json' });
                res.end('{"status":404}');
            }
        };
        if (this.mode === 'slow') {
            const t = setTimeout(() => {
                this.timers.delete(t);
                answer();
            }, 3000);
            this.timers.add(t);
        } else {
            answer();
        }
    }
}

let sys, users, svc, fake, kafka, producer, collector;
const invalid = []; // comments events that do not follow docs/asyncapi.yaml
const published = []; // the events read back from the comments topic
let nextArticle = 100;

const userId = (token) => Number(JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).sub);

// instance: a new label (and log) for a restart; the data directory is the same.
async function startComments(instance = 0) {
    svc = await sys.service('comments', { instance, env: { TANDEM_ARTICLES_URL: fake.url } });
    return svc;
}

// Produces one event of the articles service: key = article id, CloudEvents binary headers.
const newTraceparent = () => `00-${randomUUID().replace(/-/g, '')}-${randomUUID().slice(0, 18).replace(/-/g, '')}-01`;

async function articleEvent(type, data, { id = randomUUID(), traceparent = newTraceparent() } = {}) {
    await producer.send({
        topic: 'articles',
        messages: [{
            key: String(data.id),
            value: JSON.stringify({ v: 1, ...data }),
            headers: {
                ce_specversion: '1.0',
                ce_id: id,
                ce_source: '/articles',
                ce_type: type,
                'content-type': 'application/json',
                ce_subject: String(data.id),
                ce_time: new Date().toISOString(),
                traceparent,
            },
        }],
    });
    return id;
}

function articleData(author, slug, version = 1, id = nextArticle++) {
    const now = new Date().toISOString();
    return {
        id, slug, title: slug, description: `about ${slug}`, tagList: ['t'], authorId: userId(author.token),
        createdAt: now, updatedAt: now, version,
    };
}

// Publishes a new article and waits until comments knows it (its comments list answers 200; the
// fake articles does not know it, so a lookup is 404 until the event has landed).
async function publishArticle(author, slug) {
    const a = articleData(author, slug);
    await articleEvent('article.published', a);
    await waitFor(async () => (await api(svc.url, 'GET', `/api/articles/${slug}/comments`)).status === 200,
        `article ${slug} in the read model`);
    return a;
}

// The articles topic has one partition, so once a later article is known every earlier article
// event has been applied.
async function barrier() {
    await publishArticle({ token: users.anyToken }, `barrier-${nextArticle}-${process.pid}`);
}

async function comment(slug, user, body) {
    const r = await api(svc.url, 'POST', `/api/articles/${slug}/comments`, { token: user.token, body: { comment: { body } } });
    assert.equal(r.status, 200, r.text);
    return r.json.comment;
}

const list = async (slug, token) => api(svc.url, 'GET', `/api/articles/${slug}/comments`, { token });

before(async () => {
    sys = new System('comments');
    await sys.broker();
    kafka = new Kafka({ brokers: [sys.brokers], clientId: 'blog-comments-test', logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'users', numPartitions: 1 }, { topic: 'articles', numPartitions: 1 }, { topic: 'comments', numPartitions: 2 }] });
    await admin.disconnect();
    producer = kafka.producer();
    await producer.connect();
    users = await sys.service('users');
    users.anyToken = (await register(users.url, 'any')).token;
    fake = new FakeArticles(freePort());
    await fake.start();
    await startComments();
    collector = kafka.consumer({ groupId: `comments-test-${process.pid}` });
    await collector.connect();
    await collector.subscribe({ topic: 'comments', fromBeginning: true });
    await collector.run({
        eachMessage: async ({ message }) => {
            try {
                validateEvent('comments', message); /* docs/asyncapi.yaml */
            } catch (e) {
                invalid.push(String(e));
            }
            const h = Object.fromEntries(Object.entries(message.headers).map(([k, v]) => [k, v.toString()]));
            published.push({ key: message.key.toString(), h, data: JSON.parse(message.value.toString()) });
        },
    });
});

after(async () => {
    await collector?.disconnect();
    await producer?.disconnect();
    await fake?.stop().catch(() => {});
    await sys.close();
});

const eventOf = (type, id) => published.find((e) => e.h.ce_type === type && e.data.id === id);

test('a published article takes comments: shapes, newest first, no call to articles', async () => {
    const jake = await register(users.url, 'jake');
    const anna = await register(users.url, 'anna');
    const a = await publishArticle(jake, `first-${process.pid}`);
    fake.hits = [];
    const r = await api(svc.url, 'POST', `/api/articles/${a.slug}/comments`, { token: jake.token, body: { comment: { body: 'His name was my name too.' } } });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    const c = r.json.comment;
    assert.deepEqual(Object.keys(r.json), ['comment']);
    assert.deepEqual(Object.keys(c).sort(), ['author', 'body', 'createdAt', 'id', 'updatedAt']);
    assert.ok(Number.isInteger(c.id) && c.id > 0);
    assert.match(c.createdAt, ISO_MS);
    assert.equal(c.updatedAt, c.createdAt);
    assert.equal(c.body, 'His name was my name too.');
    assert.deepEqual(c.author, { username: jake.username, bio: '', image: '', following: false });
    const c2 = await comment(a.slug, anna, 'second');
    assert.ok(c2.id > c.id);
    const l = await list(a.slug);
    assert.equal(l.status, 200);
    assert.deepEqual(Object.keys(l.json), ['comments']);
    assert.deepEqual(l.json.comments.map((x) => x.id), [c2.id, c.id], 'newest first');
    assert.deepEqual(l.json.comments[1], c);
    assert.equal((await list(a.slug, jake.token)).json.comments[0].author.following, false);
    const head = await fetch(`${svc.url}/api/articles/${a.slug}/comments`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.deepEqual(fake.hits, [], 'a known article is never looked up');
});

test('refusals: 401 without or with a bad token, 422 for a missing or blank body, 400, 415', async () => {
    const u = await register(users.url, 'val');
    const a = await publishArticle(u, `val-${process.pid}`);
    const path = `/api/articles/${a.slug}/comments`;
    const none = await api(svc.url, 'POST', path, { body: { comment: { body: 'x' } } });
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Token');
    assert.match(none.headers.get('content-type'), /^application\/problem\+json/);
    assert.equal((await api(svc.url, 'DELETE', `${path}/1`)).status, 401);
    for (const [why, token] of Object.entries(forgedTokens(sys, String(userId(u.token)), u.username))) {
        assert.equal((await api(svc.url, 'POST', path, { token, body: { comment: { body: 'x' } } })).status, 401, why);
        assert.equal((await api(svc.url, 'GET', path, { token })).status, 401, `${why} (optional auth)`);
        assert.equal((await api(svc.url, 'DELETE', `${path}/1`, { token })).status, 401, why);
    }
    // well signed, but naming no user: a subject that is not a user id, no username
    const priv = fs.readFileSync(sys.privateKey, 'utf8');
    const { username: _, ...nameless } = claimsFor('5', 'x');
    for (const claims of [claimsFor('abc', 'x'), nameless]) {
        const token = jwt({ alg: 'ES256', typ: 'JWT' }, claims, es256(priv));
        const r = await api(svc.url, 'POST', path, { token, body: { comment: { body: 'x' } } });
        assert.equal(r.status, 401, JSON.stringify(claims));
    }
    const cases = [
        [{}, { body: ["can't be blank"] }],
        [{ comment: {} }, { body: ["can't be blank"] }],
        [{ comment: { body: '  \n\t ' } }, { body: ["can't be blank"] }],
        [{ comment: { body: '\u3000' } }, { body: ["can't be blank"] }],
        [{ comment: { body: 7 } }, { body: ['must be a string'] }],
        [{ comment: { body: null } }, { body: ["can't be blank"] }],
        [{ comment: 'text' }, { comment: ['must be an object'] }],
        [{ comment: { body: 'x'.repeat(20001) } }, { body: ['is too long (maximum is 20000 characters)'] }],
    ];
    for (const [body, errors] of cases) {
        const r = await api(svc.url, 'POST', path, { token: u.token, body });
        assert.equal(r.status, 422, JSON.stringify(body).slice(0, 80));
        assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
        assert.equal(r.json.status, 422);
        assert.deepEqual(r.json.errors, errors);
    }
    assert.equal((await api(svc.url, 'POST', path, { token: u.token, raw: '{"comment":', headers: { 'content-type': 'application/json' } })).status, 400);
    assert.equal((await api(svc.url, 'POST', path, { token: u.token, raw: 'hello', headers: { 'content-type': 'text/plain' } })).status, 415);
    assert.equal((await comment(a.slug, u, 'x'.repeat(20000))).body.length, 20000);
    assert.equal((await list(a.slug)).json.comments.length, 1, 'nothing refused was stored');
});

test('unicode and metacharacters are data', async () => {
    const u = await register(users.url, 'uni');
    const a = await publishArticle(u, `uni-${process.pid}`);
    const body = `🐉 𝄞 "quoted" \\ back'slash <script>alert(1)</script> '; DROP TABLE comments; -- \u0007 end`;
    const c = await comment(a.slug, u, body);
    assert.equal(c.body, body);
    assert.equal((await list(a.slug)).json.comments[0].body, body);
    fake.hits = [];
    const odd = `ünïcödé slug/with?odd#chars`;
    const r = await api(svc.url, 'GET', `/api/articles/${encodeURIComponent(odd)}/comments`);
    assert.equal(r.status, 404);
    assert.equal(fake.hits.length, 1);
    assert.equal(decodeURIComponent(fake.hits[0].url.replace('/internal/articles/', '')), odd);
    assert.equal((await api(svc.url, 'GET', `/api/articles/${'x'.repeat(300)}/comments`)).status, 404);
    assert.equal(fake.hits.length, 1, 'a slug longer than any article\'s is not looked up');
    for (const bad of ['%FF', 'caf%E9', '%C0%AF', '%ED%A0%80']) { // not UTF-8: PostgreSQL refuses it
        assert.equal((await api(svc.url, 'GET', `/api/articles/${bad}/comments`)).status, 404, bad);
        const post = await api(svc.url, 'POST', `/api/articles/${bad}/comments`, { token: u.token, body: { comment: { body: 'x' } } });
        assert.equal(post.status, 404, bad);
    }
    assert.equal(fake.hits.length, 1, 'a slug that is not UTF-8 is not looked up');
});

test('DELETE: the author only (403), 204 once, then 404; ids that name no comment of the article 404', async () => {
    const jake = await register(users.url, 'del');
    const anna = await register(users.url, 'dela');
    const a = await publishArticle(jake, `del-${process.pid}`);
    const b = await publishArticle(jake, `del2-${process.pid}`);
    const c = await comment(a.slug, jake, 'to delete');
    const other = await comment(b.slug, jake, 'on b');
    const path = `/api/articles/${a.slug}/comments`;
    const forbidden = await api(svc.url, 'DELETE', `${path}/${c.id}`, { token: anna.token });
    assert.equal(forbidden.status, 403);
    assert.match(forbidden.headers.get('content-type'), /^application\/problem\+json/);
    assert.equal((await api(svc.url, 'DELETE', `${path}/${other.id}`, { token: jake.token })).status, 404, "another article's comment");
    for (const id of ['abc', '0', '-1', '01', '1.5', '99999999999', '9'.repeat(30)]) {
        const r = await api(svc.url, 'DELETE', `${path}/${id}`, { token: jake.token });
        assert.equal(r.status, 404, id);
    }
    assert.equal((await api(svc.url, 'DELETE', `/api/articles/nope-${process.pid}/comments/${c.id}`, { token: jake.token })).status, 404);
    const ok = await api(svc.url, 'DELETE', `${path}/${c.id}`, { token: jake.token });
    assert.equal(ok.status, 204);
    assert.equal(ok.text, '');
    assert.equal((await api(svc.url, 'DELETE', `${path}/${c.id}`, { token: jake.token })).status, 404);
    assert.deepEqual((await list(a.slug)).json.comments, []);
    assert.equal((await list(b.slug)).json.comments.length, 1);
    await waitFor(() => eventOf('comment.deleted', c.id), 'comment.deleted of the route');
    const ev = eventOf('comment.deleted', c.id);
    assert.equal(ev.key, String(a.id));
    assert.equal(ev.h.ce_subject, ev.key);
    assert.deepEqual(Object.keys(ev.data).sort(), ['articleId', 'at', 'id', 'v', 'version']);
    assert.equal(ev.data.articleId, a.id);
    assert.equal(ev.data.version, 2);
    assert.match(ev.data.at, ISO_MS);
});

test('events: comment.added with its exact payload, keyed by the article, CloudEvents headers', async () => {
    const u = await register(users.url, 'ev');
    const a = await publishArticle(u, `ev-${process.pid}`);
    const c = await comment(a.slug, u, 'an event');
    await waitFor(() => eventOf('comment.added', c.id), 'comment.added');
    const ev = eventOf('comment.added', c.id);
    assert.equal(ev.key, String(a.id));
    assert.equal(ev.h.ce_subject, ev.key);
    assert.equal(ev.h.ce_specversion, '1.0');
    assert.equal(ev.h.ce_source, '/comments');
    assert.equal(ev.h.ce_type, 'comment.added');
    assert.equal(ev.h['content-type'], 'application/json');
    assert.match(ev.h.traceparent, TRACEPARENT);
    assert.match(ev.h.ce_id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.match(ev.h.ce_time, ISO_MS);
    assert.deepEqual(ev.data, { id: c.id, articleId: a.id, authorId: userId(u.token), body: 'an event', createdAt: c.createdAt, version: 1, v: 1 });
    // every comment.added so far is unique by id (ids are never given twice)
    const ids = published.filter((e) => e.h.ce_type === 'comment.added').map((e) => e.data.id);
    assert.equal(new Set(ids).size, ids.length);
});

test('a slug not heard of: one call to articles, stored; later events of the same version change nothing', async () => {
    const u = await register(users.url, 'new');
    const slug = `fresh-${process.pid}`;
    const art = { id: nextArticle++, slug, authorId: userId(u.token), version: 1 };
    fake.articles.set(slug, art);
    fake.hits = [];
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const r = await api(svc.url, 'POST', `/api/articles/${slug}/comments`, { token: u.token, body: { comment: { body: 'first!' } }, headers: { traceparent: tp } });
    assert.equal(r.status, 200, r.text);
    assert.equal(fake.hits.length, 1);
    assert.equal(fake.hits[0].url, `/internal/articles/${slug}`);
    assert.match(fake.hits[0].traceparent, /^00-4bf92f3577b34da6a3ce929d0e0e4736-/, 'the trace is continued');
    await comment(slug, u, 'second');
    assert.equal((await list(slug)).json.comments.length, 2);
    assert.equal(fake.hits.length, 1, 'stored: not asked again');
    await waitFor(() => eventOf('comment.added', r.json.comment.id), 'comment.added');
    assert.equal(eventOf('comment.added', r.json.comment.id).data.articleId, art.id);

    // a GET of a slug not heard of is looked up and stored the same way
    const other = `fresh2-${process.pid}`;
    fake.articles.set(other, { id: nextArticle++, slug: other, authorId: art.authorId, version: 4 });
    assert.deepEqual((await list(other)).json, { comments: [] });
    assert.deepEqual((await list(other)).json, { comments: [] });
    assert.equal(fake.hits.length, 2);

    // articles says 404: every route 404
    fake.hits = [];
    const ghost = `ghost-${process.pid}`;
    assert.equal((await list(ghost)).status, 404);
    assert.equal((await api(svc.url, 'POST', `/api/articles/${ghost}/comments`, { token: u.token, body: { comment: { body: 'x' } } })).status, 404);
    assert.equal((await api(svc.url, 'DELETE', `/api/articles/${ghost}/comments/1`, { token: u.token })).status, 404);
    assert.equal(fake.hits.length, 3);

    // the article's own event arrives later, same version, another slug: nothing moves
    await articleEvent('article.published', { ...articleData(u, `${slug}-late`, 1, art.id) });
    await barrier();
    fake.articles.clear();
    fake.hits = [];
    assert.equal((await list(slug)).json.comments.length, 2);
    assert.equal((await list(`${slug}-late`)).status, 404);
    // a newer version (a new title: a new slug) moves it
    await articleEvent('article.updated', { ...articleData(u, `${slug}-renamed`, 2, art.id) });
    await waitFor(async () => (await list(`${slug}-renamed`)).status === 200, 'the renamed slug');
    assert.equal((await list(`${slug}-renamed`)).json.comments.length, 2);
    assert.equal((await list(slug)).status, 404);
});

test('out-of-order and redelivered article events: a lower version or a known id changes nothing', async () => {
    const u = await register(users.url, 'ooo');
    const a = await publishArticle(u, `ooo1-${process.pid}`);
    const c = await comment(a.slug, u, 'stays');
    const v3 = await articleEvent('article.updated', articleData(u, `ooo3-${process.pid}`, 3, a.id));
    await articleEvent('article.updated', articleData(u, `ooo2-${process.pid}`, 2, a.id));
    await articleEvent('article.updated', articleData(u, `ooo-bogus-${process.pid}`, 9, a.id), { id: v3 });
    await articleEvent('article.published', articleData(u, `ooo0-${process.pid}`, 1, a.id));
    await barrier();
    fake.hits = [];
    const now = await list(`ooo3-${process.pid}`);
    assert.equal(now.status, 200);
    assert.deepEqual(now.json.comments.map((x) => x.id), [c.id]);
    for (const s of [`ooo1-${process.pid}`, `ooo2-${process.pid}`, `ooo-bogus-${process.pid}`, `ooo0-${process.pid}`]) {
        assert.equal((await list(s)).status, 404, s);
    }
    assert.equal(fake.hits.length, 4, 'only the unknown slugs were looked up');
    // an event the consumer cannot read is dead-lettered, and consumption goes on
    await producer.send({ topic: 'articles', messages: [{ key: '1', value: 'not json', headers: { ce_specversion: '1.0', ce_id: randomUUID(), ce_source: '/articles', ce_type: 'article.published', 'content-type': 'application/json' } }] });
    await barrier();
});

test('article deleted: its comments deleted with comment.deleted each, every route 404, older news ignored', async () => {
    const jake = await register(users.url, 'gone');
    const anna = await register(users.url, 'gonea');
    const a = await publishArticle(jake, `gone-${process.pid}`);
    const keep = await publishArticle(jake, `kept-${process.pid}`);
    const c1 = await comment(a.slug, jake, 'one');
    const c2 = await comment(a.slug, anna, 'two');
    const k = await comment(keep.slug, anna, 'kept');
    const published1 = await articleEvent('article.published', a);
    const tp = newTraceparent();
    await articleEvent('article.deleted', { id: a.id, slug: a.slug, authorId: a.authorId, version: 2, at: new Date().toISOString() }, { traceparent: tp });
    await waitFor(async () => (await list(a.slug)).status === 404, 'the deletion');
    assert.equal((await api(svc.url, 'POST', `/api/articles/${a.slug}/comments`, { token: jake.token, body: { comment: { body: 'late' } } })).status, 404);
    assert.equal((await api(svc.url, 'DELETE', `/api/articles/${a.slug}/comments/${c1.id}`, { token: jake.token })).status, 404);
    await waitFor(() => eventOf('comment.deleted', c1.id) && eventOf('comment.deleted', c2.id), 'comment.deleted for each');
    for (const c of [c1, c2]) {
        const ev = eventOf('comment.deleted', c.id);
        assert.equal(ev.key, String(a.id));
        assert.deepEqual(Object.keys(ev.data).sort(), ['articleId', 'at', 'id', 'v', 'version']);
        assert.deepEqual({ ...ev.data, at: 'x' }, { id: c.id, articleId: a.id, version: 2, v: 1, at: 'x' });
        assert.equal(ev.h.ce_source, '/comments');
        assert.equal(ev.h.ce_subject, ev.key);
        assert.equal(ev.h.traceparent, tp, 'in the trace of the deletion');
    }
    assert.deepEqual((await list(keep.slug)).json.comments.map((x) => x.id), [k.id]);
    // older news of the deleted article, redelivered or not, does not bring it back
    await articleEvent('article.published', a, { id: published1 });
    await articleEvent('article.updated', articleData(jake, a.slug, 1, a.id));
    await articleEvent('article.updated', articleData(jake, `${a.slug}-back`, 7, a.id));
    await barrier();
    fake.articles.set(a.slug, { id: a.id, slug: a.slug, authorId: a.authorId, version: 1 });
    assert.equal((await list(a.slug)).status, 404, 'a stale answer of articles does not revive it');
    assert.equal((await list(`${a.slug}-back`)).status, 404);
    fake.articles.delete(a.slug);
    assert.equal(published.filter((e) => e.h.ce_type === 'comment.deleted' && e.data.articleId === a.id).length, 2);
});

test('comments racing their article\'s deletion: every comment answered 200 is deleted with its event', async () => {
    const u = await register(users.url, 'race');
    const a = await publishArticle(u, `race-${process.pid}`);
    const accepted = [];
    let gone = false;
    const writer = async () => {
        while (!gone) {
            const r = await api(svc.url, 'POST', `/api/articles/${a.slug}/comments`, { token: u.token, body: { comment: { body: 'racing' } } });
            if (r.status === 200) accepted.push(r.json.comment.id);
            else if (r.status === 404) gone = true;
            else assert.fail(`${r.status} ${r.text}`);
        }
    };
    const writers = Array.from({ length: 8 }, writer);
    await sleep(100);
    await articleEvent('article.deleted', { id: a.id, slug: a.slug, authorId: a.authorId, version: 2, at: new Date().toISOString() });
    await Promise.all(writers);
    assert.ok(accepted.length > 0);
    await waitFor(() => accepted.every((id) => eventOf('comment.deleted', id)), 'comment.deleted for every accepted comment');
});

test('articles failing, slow or down: 503 with Retry-After, never a hang; the breaker; known articles keep working', async () => {
    const u = await register(users.url, 'down');
    const known = await publishArticle(u, `known-${process.pid}`);
    const deleted = await publishArticle(u, `deleted-${process.pid}`);
    await articleEvent('article.deleted', { id: deleted.id, slug: deleted.slug, authorId: deleted.authorId, version: 2, at: new Date().toISOString() });
    await waitFor(async () => (await list(deleted.slug)).status === 404, 'the deletion');
    const unknown = `unknown-${process.pid}`;
    const timed = async (fn) => {
        const t0 = Date.now();
        const r = await fn();
        return { r, ms: Date.now() - t0 };
    };

    fake.mode = 'error'; // 500: one failed attempt (500 is not retried)
    let { r, ms } = await timed(() => list(unknown));
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('retry-after'), '1');
    assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
    assert.ok(ms < 1500, `${ms} ms`);
    fake.mode = 'ok';
    assert.equal((await list(unknown)).status, 404); // an answer: the breaker's count starts over

    fake.mode = 'slow'; // every attempt times out: the deadline ends the call
    ({ r, ms } = await timed(() => api(svc.url, 'POST', `/api/articles/${unknown}/comments`, { token: u.token, body: { comment: { body: 'x' } } })));
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('retry-after'), '1');
    assert.ok(ms >= 800 && ms < 2500, `${ms} ms`);
    fake.mode = 'ok';
    assert.equal((await list(unknown)).status, 404);

    await fake.stop(); // down: refused connections, retried, then the breaker opens
    fake.hits = [];
    ({ r } = await timed(() => list(unknown)));
    assert.equal(r.status, 503);
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
    ({ r } = await timed(() => list(unknown)));
    assert.equal(r.status, 503);
    ({ r, ms } = await timed(() => list(unknown)));
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('retry-after'), '3', 'the breaker is open: its cool-down');
    assert.ok(ms < 300, `the open breaker fails fast (${ms} ms)`);
    // known articles need no call: they keep working; a slug known as deleted stays 404
    const c = await comment(known.slug, u, 'while articles is down');
    assert.deepEqual((await list(known.slug)).json.comments.map((x) => x.id), [c.id]);
    assert.equal((await list(deleted.slug)).status, 404);
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    assert.match(metrics, /tandem_http_client_breaker_state\{upstream="http:\/\/127\.0\.0\.1:\d+"\} 1/);

    await fake.start(); // back, but the breaker is still open: nothing is sent
    fake.articles.set(unknown, { id: nextArticle++, slug: unknown, authorId: userId(u.token), version: 1 });
    assert.equal((await list(unknown)).status, 503);
    assert.equal(fake.hits.length, 0);
    await sleep(3200); // the cool-down: one probe goes out, succeeds, closes the breaker
    const back = await list(unknown);
    assert.equal(back.status, 200);
    assert.equal(fake.hits.length, 1);
    assert.equal((await comment(unknown, u, 'after the outage')).body, 'after the outage');
    fake.articles.clear();
});

test('authors: a rename shows in comments, following is the viewer\'s, a user not yet known comes from the token', async () => {
    const jake = await register(users.url, 'ren');
    const anna = await register(users.url, 'rena');
    const a = await publishArticle(jake, `ren-${process.pid}`);
    await comment(a.slug, jake, 'by jake');
    const renamed = `${jake.username}-new`;
    const up = await api(users.url, 'PUT', '/api/user', { token: jake.token, body: { user: { username: renamed, bio: 'I write', image: 'https://example.com/j.png' } } });
    assert.equal(up.status, 200);
    await waitFor(async () => (await list(a.slug)).json.comments[0].author.username === renamed, 'the new name');
    assert.deepEqual((await list(a.slug)).json.comments[0].author, { username: renamed, bio: 'I write', image: 'https://example.com/j.png', following: false });
    assert.equal((await api(users.url, 'POST', `/api/profiles/${renamed}/follow`, { token: anna.token })).status, 200);
    await waitFor(async () => (await list(a.slug, anna.token)).json.comments[0].author.following === true, 'following');
    assert.equal((await list(a.slug)).json.comments[0].author.following, false, 'anonymous: never following');
    assert.equal((await list(a.slug, jake.token)).json.comments[0].author.following, false);
    // a token for a user whose user.registered has not arrived: the claims make the author
    const priv = fs.readFileSync(sys.privateKey, 'utf8');
    const ghost = { token: jwt({ alg: 'ES256', typ: 'JWT' }, claimsFor('987654321', `ghost${process.pid}`), es256(priv)) };
    const g = await comment(a.slug, ghost, 'from the claims');
    assert.deepEqual(g.author, { username: `ghost${process.pid}`, bio: '', image: '', following: false });
    assert.equal((await list(a.slug)).json.comments[0].author.username, `ghost${process.pid}`);
});

test('restart: events produced while comments is stopped are applied from the committed offsets', async () => {
    const jake = await register(users.url, 'rs');
    const anna = await register(users.url, 'rsa');
    const doomed = await publishArticle(jake, `doomed-${process.pid}`);
    const stays = await publishArticle(jake, `stays-${process.pid}`);
    const d1 = await comment(doomed.slug, anna, 'doomed one');
    const d2 = await comment(doomed.slug, jake, 'doomed two');
    const s1 = await comment(stays.slug, jake, 'survives');
    await sys.stop(svc.entry);

    await articleEvent('article.deleted', { id: doomed.id, slug: doomed.slug, authorId: doomed.authorId, version: 2, at: new Date().toISOString() });
    const renamed = `${jake.username}-2`;
    assert.equal((await api(users.url, 'PUT', '/api/user', { token: jake.token, body: { user: { username: renamed } } })).status, 200);
    const later = articleData(anna, `later-${process.pid}`);
    await articleEvent('article.published', later);

    await startComments(1);
    fake.hits = [];
    await waitFor(async () => (await list(later.slug)).status === 200, 'the article published meanwhile');
    await waitFor(async () => (await list(stays.slug)).json.comments[0].author.username === renamed, 'the rename');
    assert.deepEqual((await list(stays.slug)).json.comments.map((x) => x.id), [s1.id], 'state kept');
    assert.equal((await list(doomed.slug)).status, 404);
    await waitFor(() => eventOf('comment.deleted', d1.id) && eventOf('comment.deleted', d2.id), 'comment.deleted after the restart');
    const c = await comment(later.slug, anna, 'after the restart');
    assert.ok(c.id > s1.id, 'ids keep growing');
    assert.equal(published.filter((e) => e.h.ce_type === 'comment.deleted' && e.data.articleId === doomed.id).length, 2);
});

test('every event comments published follows docs/asyncapi.yaml', () => {
    assert.ok(published.length > 0);
    assert.deepEqual(invalid, []);
});
