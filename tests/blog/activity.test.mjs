// The activity service (services/activity/README.md): beacons published fire-and-forget, and the
// analytics it keeps from every topic. The real users service makes the tokens and the users
// events; the articles and comments events are produced here with kafkajs, exactly as
// docs/blog.md and the owners' READMEs give them (CloudEvents binary headers, key = entity id,
// "v":1 and "version" in the data), including redeliveries, older versions and cross-topic
// reorderings.
//
// Each topic has one partition, so "settle" (a test.marker event on every topic, then waiting
// until all of them are counted) proves that everything produced before has been applied (the
// one test with four partitions runs a system of its own).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';

import { BIN, System, api, freePort, register, waitFor } from './lib.mjs';
import { forgedTokens } from './tokens.mjs';
import { checkResponses, validateEvent } from './schemas.mjs';

checkResponses();

const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const ACTIVITY = 'activity';
const TOPICS = ['users', 'articles', 'comments', ACTIVITY];
const DAY = 86400 * 1000;
const run = `${process.pid}`;
let sys, users, act, kafka, producer, admin;
let markers = 0; // test.marker events produced (one per topic per settle)
let accepted = 0; // beacons answered 202 by an instance of this system (on its broker)

const subOf = (token) => Number(JSON.parse(Buffer.from(token.split('.')[1], 'base64url')).sub);
const iso = (ms = Date.now()) => new Date(ms).toISOString();
const day = (ms) => iso(ms).slice(0, 10);

before(async () => {
    sys = new System('activity');
    await sys.broker();
    kafka = new Kafka({ brokers: [sys.brokers], clientId: 'activity-test', logLevel: logLevel.NOTHING });
    // The topics exist before the consumer subscribes: librdkafka finds a topic created after
    // its subscription only at its next metadata refresh (5 minutes).
    admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: TOPICS.map((topic) => ({ topic, numPartitions: 1 })), waitForLeaders: true });
    producer = kafka.producer();
    await producer.connect();
    users = await sys.service('users');
    act = await sys.service('activity');
});

after(async () => {
    await producer?.disconnect();
    await admin?.disconnect();
    await sys.close();
});

// Produces one CloudEvent (binary mode, the headers docs/asyncapi.yaml gives every event) and
// resolves its id. data gets "v":1 first.
async function emit(topic, type, key, data, { id } = {}) {
    const ceId = id || randomUUID();
    await producer.send({
        topic,
        messages: [{
            key: String(key),
            value: JSON.stringify({ v: 1, ...data }),
            headers: {
                ce_specversion: '1.0', ce_id: ceId, ce_source: `/${topic}`, ce_type: type,
                'content-type': 'application/json', ce_subject: String(key), ce_time: iso(),
                traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`,
            },
        }],
    });
    return ceId;
}

const get = async (p) => {
    const r = await api(act.url, 'GET', p);
    assert.equal(r.status, 200, `${p}: ${r.text}`);
    return r.json;
};

// Resolves the totals once every event produced before the call has been applied. Beacons are
// published by the service after its 202 (fire-and-forget): first wait until they are all in the
// topic, so that the marker comes after them.
async function settle() {
    const inLog = async () => (await admin.fetchTopicOffsets(ACTIVITY)).reduce((s, p) => s + Number(p.offset), 0);
    const expected = accepted + markers / TOPICS.length;
    await waitFor(async () => (await inLog()) >= expected, 'the beacons in the topic');
    assert.equal(await inLog(), expected, 'each beacon published once');
    markers += TOPICS.length;
    for (const t of TOPICS) await emit(t, 'test.marker', 'marker', { at: iso() });
    await waitFor(async () => ((await get('/api/activity/totals')).events['test.marker'] ?? 0) >= markers,
        'the markers', { timeout: 30000 });
    const totals = await get('/api/activity/totals');
    assert.equal(totals.events['test.marker'], markers, 'each marker counted once');
    return totals;
}

// POSTs a batch of beacons to an instance (act by default), counting those accepted.
async function beacons(body, token, url = act.url) {
    const r = await api(url, 'POST', '/api/activity/events', { body, token });
    if (r.status === 202) accepted += r.json.accepted;
    return r;
}

const article = (id, slug, title, authorId, version, updatedAt = iso()) => ({
    id, slug, title, description: `about ${title}`, tagList: ['test'], authorId,
    createdAt: updatedAt, updatedAt, version,
});

test('beacons: 202 at once, one event each on topic activity (headers, key, payload)', async () => {
    const u = await register(users.url, 'reader');
    const uid = subOf(u.token);
    const at = iso(Date.now() - 60000);
    const mine = await beacons({
        anonymousId: `mine-${run}`,
        events: [
            { type: 'page_view', path: `/article/b-${run}`, slug: `b-${run}` },
            { type: 'click', path: `/click-${run}`, at },
            { type: 'article_read', path: `/article/b-${run}`, slug: `b-${run}` },
        ],
    }, u.token);
    assert.equal(mine.status, 202, mine.text);
    assert.deepEqual(mine.json, { accepted: 3 });
    const anon = await beacons({ anonymousId: `anon-${run}`, events: [{ type: 'page_view', path: `/anon-${run}` }] });
    assert.equal(anon.status, 202, anon.text);
    const both = await beacons({ anonymousId: `both-${run}`, events: [{ type: 'click', path: `/both-${run}` }] }, u.token);
    assert.equal(both.status, 202);

    const consumer = kafka.consumer({ groupId: `t-${run}-${Date.now()}` });
    const seen = [];
    await consumer.connect();
    await consumer.subscribe({ topic: 'activity', fromBeginning: true });
    await consumer.run({
        eachMessage: async ({ message }) => {
            const h = Object.fromEntries(Object.entries(message.headers).map(([k, v]) => [k, v.toString()]));
            let invalid;
            try {
                validateEvent('activity', message); /* docs/asyncapi.yaml */
            } catch (e) {
                invalid = String(e);
            }
            seen.push({ key: message.key.toString(), h, data: JSON.parse(message.value.toString()), invalid });
        },
    });
    try {
        await waitFor(() => seen.filter((e) => String(e.data.path).endsWith(run)).length >= 5, 'the five beacons');
    } finally {
        await consumer.disconnect();
    }
    const ours = seen.filter((e) => String(e.data.path).endsWith(run));
    assert.deepEqual(ours.map((e) => e.invalid).filter(Boolean), []);
    assert.deepEqual(ours.map((e) => e.h.ce_type), ['activity.page_viewed', 'activity.clicked',
        'activity.article_read', 'activity.page_viewed', 'activity.clicked']);
    for (const e of ours) {
        assert.equal(e.h.ce_specversion, '1.0');
        assert.equal(e.h.ce_source, '/activity');
        assert.match(e.h.ce_id, /^[0-9a-f-]{36}$/);
        assert.equal(e.h['content-type'], 'application/json');
        assert.match(e.h.ce_time, ISO_MS);
        assert.match(e.h.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
        assert.deepEqual(Object.keys(e.data), ['v', 'userId', 'anonymousId', 'path', 'slug', 'at']);
        assert.equal(e.data.v, 1);
        assert.match(e.data.at, ISO_MS);
    }
    assert.equal(new Set(ours.map((e) => e.h.ce_id)).size, 5, 'every beacon its own id');
    const [view, click, read, anonView, bothClick] = ours;
    assert.equal(view.key, String(uid));
    assert.deepEqual({ ...view.data, at: 0 }, { v: 1, userId: uid, anonymousId: `mine-${run}`, path: `/article/b-${run}`, slug: `b-${run}`, at: 0 });
    assert.equal(click.data.at, at, 'the client\'s time is kept');
    assert.equal(click.data.slug, null);
    assert.equal(read.data.slug, `b-${run}`);
    assert.equal(anonView.key, `anon-${run}`);
    assert.equal(anonView.data.userId, null);
    assert.equal(anonView.data.anonymousId, `anon-${run}`);
    assert.equal(bothClick.key, String(uid), 'a token wins over the anonymous id for the key');
    assert.equal(bothClick.data.anonymousId, `both-${run}`);
    assert.ok(Date.now() - Date.parse(view.data.at) < 60000, 'the server\'s time when none is sent');
    await settle();
});

test('beacons: bad bodies are 422 field by field, bad JSON 400, not JSON 415, a bad token 401', async () => {
    const ok = { type: 'page_view', path: '/' };
    const cases = [
        [{ anonymousId: 'a1' }, { events: ["can't be blank"] }],
        [{ anonymousId: 'a1', events: [] }, { events: ["can't be blank"] }],
        [{ anonymousId: 'a1', events: {} }, { events: ['must be an array of objects'] }],
        [{ anonymousId: 'a1', events: Array(51).fill(ok) }, { events: ['is too long (maximum is 50 events)'] }],
        [{ events: [ok] }, { anonymousId: ["can't be blank"] }],
        [{ anonymousId: '', events: [ok] }, { anonymousId: ["can't be blank"] }],
        [{ anonymousId: 'has space', events: [ok] }, { anonymousId: ['can only hold letters, digits and -._~'] }],
        [{ anonymousId: 'x'.repeat(65), events: [ok] }, { anonymousId: ['is too long (maximum is 64 characters)'] }],
        [{ anonymousId: 7, events: [ok] }, { anonymousId: ['must be a string'] }],
        [{ anonymousId: 'a1', events: [ok, 'x'] }, { 'events[1]': ['must be an object'] }],
        [{ anonymousId: 'a1', events: [{ path: '/' }] }, { 'events[0].type': ["can't be blank"] }],
        [{ anonymousId: 'a1', events: [{ type: 'scroll', path: '/' }] }, { 'events[0].type': ['must be one of page_view, click, article_read'] }],
        [{ anonymousId: 'a1', events: [{ type: 'click' }] }, { 'events[0].path': ["can't be blank"] }],
        [{ anonymousId: 'a1', events: [{ type: 'click', path: 'relative' }] }, { 'events[0].path': ['must be a path starting with /'] }],
        [{ anonymousId: 'a1', events: [{ type: 'click', path: '/a\nb' }] }, { 'events[0].path': ['must be a path starting with /'] }],
        [{ anonymousId: 'a1', events: [{ type: 'click', path: `/${'p'.repeat(2000)}` }] }, { 'events[0].path': ['is too long (maximum is 2000 characters)'] }],
        [{ anonymousId: 'a1', events: [{ type: 'article_read', path: '/' }] }, { 'events[0].slug': ["can't be blank"] }],
        [{ anonymousId: 'a1', events: [{ type: 'page_view', path: '/', slug: 'a/b' }] }, { 'events[0].slug': ['is invalid'] }],
        [{ anonymousId: 'a1', events: [{ type: 'page_view', path: '/', slug: 3 }] }, { 'events[0].slug': ['must be a string'] }],
        [{ anonymousId: 'a1', events: [{ ...ok, at: 'yesterday' }] }, { 'events[0].at': ['is invalid'] }],
        [{ anonymousId: 'a1', events: [{ ...ok, at: '2026-02-30T00:00:00.000Z' }] }, { 'events[0].at': ['is invalid'] }],
        [{ anonymousId: 'a1', events: [{ ...ok, at: '2020-01-01T00:00:00.000Z' }] }, { 'events[0].at': ['is out of range (at most 7 days ago, 5 minutes ahead)'] }],
        [{ anonymousId: 'a1', events: [{ ...ok, at: iso(Date.now() + 3600000) }] }, { 'events[0].at': ['is out of range (at most 7 days ago, 5 minutes ahead)'] }],
        [{ anonymousId: 'a1', events: [ok, ok, { type: 'click', path: 'x', slug: '' }] },
            { 'events[2].path': ['must be a path starting with /'], 'events[2].slug': ["can't be blank"] }],
        [[ok], { body: ['must be a JSON object'] }],
    ];
    for (const [body, errors] of cases) {
        const r = await beacons(body);
        assert.equal(r.status, 422, JSON.stringify(body).slice(0, 200));
        assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
        assert.deepEqual(r.json.errors, errors, JSON.stringify(body).slice(0, 200));
    }
    const bad = await api(act.url, 'POST', '/api/activity/events', { raw: '{"events":[', headers: { 'content-type': 'application/json' } });
    assert.equal(bad.status, 400);
    const text = await api(act.url, 'POST', '/api/activity/events', { raw: '{}', headers: { 'content-type': 'text/plain' } });
    assert.equal(text.status, 415);
    const u = await register(users.url, 'forger');
    for (const [why, token] of Object.entries(forgedTokens(sys, String(subOf(u.token)), u.username))) {
        const r = await beacons({ anonymousId: 'a1', events: [ok] }, token);
        assert.equal(r.status, 401, why);
        assert.equal(r.headers.get('www-authenticate'), 'Token', why);
    }
    const signedIn = await beacons({ events: [ok] }, u.token);
    assert.equal(signedIn.status, 422, 'the anonymous id is required with a token too');
    assert.deepEqual(signedIn.json.errors, { anonymousId: ["can't be blank"] });
    const unicode = await beacons({ anonymousId: 'a1', events: [{ type: 'click', path: `/tag/🐉'"<b>-${run}` }] });
    assert.equal(unicode.status, 202, 'any printable path, 4-byte characters included');
    await settle();
});

test('fire-and-forget: no broker at all, still 202 at once; a full producer queue is 503 with Retry-After', async () => {
    const lone = await sys.service('activity', {
        instance: 1,
        env: { TANDEM_BROKERS: `127.0.0.1:${freePort()}`, TANDEM_DATA_DIR: `${sys.dir}/activity-lone` },
    });
    const batch = { anonymousId: 'lone', events: Array.from({ length: 50 }, (_, i) => ({ type: 'click', path: `/lone/${i}` })) };
    const t0 = Date.now();
    const first = await api(lone.url, 'POST', '/api/activity/events', { body: batch });
    assert.equal(first.status, 202);
    assert.ok(Date.now() - t0 < 2000, `answered without waiting for a broker (${Date.now() - t0} ms)`);
    // librdkafka queues 100,000 records at most: 2,000 batches of 50 fill it
    let full;
    for (let sent = 1; !full && sent < 2200; sent += 8) {
        const rs = await Promise.all(Array.from({ length: 8 }, () => api(lone.url, 'POST', '/api/activity/events', { body: batch })));
        full = rs.find((r) => r.status !== 202);
        if (!full) assert.ok(rs.every((r) => r.json.accepted === 50));
    }
    assert.ok(full, 'the queue filled up');
    assert.equal(full.status, 503, full.text);
    assert.equal(full.headers.get('retry-after'), '1');
    assert.match(full.headers.get('content-type'), /^application\/problem\+json/);
    assert.ok(Number.isInteger(full.json.accepted) && full.json.accepted >= 0 && full.json.accepted < 50, full.text);
    lone.entry.killed = true; // its queue can never drain: no graceful stop to wait for
    await sys.stop(lone.entry, { kill: true });
});

test('analytics: a scripted sequence with redeliveries, older versions and cross-topic reordering', async () => {
    const base = await settle();
    const alice = await register(users.url, 'alice');
    const bob = await register(users.url, 'bob');
    const carol = await register(users.url, 'c🐉');
    const [a, b, c] = [alice, bob, carol].map((u) => subOf(u.token));
    // follows: alice -> bob stays, carol -> bob comes and goes
    assert.equal((await api(users.url, 'POST', `/api/profiles/${bob.username}/follow`, { token: alice.token })).status, 200);
    assert.equal((await api(users.url, 'POST', `/api/profiles/${bob.username}/follow`, { token: carol.token })).status, 200);
    assert.equal((await api(users.url, 'DELETE', `/api/profiles/${bob.username}/follow`, { token: carol.token })).status, 200);
    // bob renames himself twice (user.updated v2, v3); a stale user.updated v2 changes nothing
    const bob1 = `${bob.username}-r1`, bob2 = `${bob.username}-r2`;
    let token = bob.token;
    for (const username of [bob1, bob2]) {
        const r = await api(users.url, 'PUT', '/api/user', { token, body: { user: { username } } });
        assert.equal(r.status, 200);
        token = r.json.user.token;
    }
    await waitFor(async () => (await api(act.url, 'GET', `/api/activity/users/${bob2}`)).status === 200, 'the renames');
    await emit('users', 'user.updated', b, { id: b, username: bob1, bio: 'stale', image: '', version: 2, at: iso() });

    const n = 1000 + (process.pid % 1000) * 10; // article ids of this run
    const [A1, A2, A3, A4, UNKNOWN] = [n + 1, n + 2, n + 3, n + 4, n + 9];
    const s1 = `first-${run}`, s1b = `first-renamed-${run}`, s3 = `third-${run}`, s4 = `future-${run}`;
    // a read of a slug no article has yet, and of A1 by the slug it will leave behind
    assert.equal((await beacons({ anonymousId: `alice-${run}`, events: [{ type: 'article_read', path: `/article/${s4}`, slug: s4 }] }, alice.token)).status, 202);
    const published1 = await emit('articles', 'article.published', A1, article(A1, s1, 'First', a, 1));
    await emit('articles', 'article.published', A1, article(A1, s1, 'First', a, 1), { id: published1 }); // redelivered
    await settle();
    assert.equal((await beacons({ anonymousId: `alice-${run}`, events: [{ type: 'article_read', path: `/article/${s1}`, slug: s1 }] }, alice.token)).status, 202);
    await emit('articles', 'article.updated', A1, article(A1, s1b, 'First, renamed', a, 2));
    await emit('articles', 'article.updated', A1, article(A1, s1b, 'First, final', a, 3));
    await emit('articles', 'article.updated', A1, article(A1, s1, 'Stale', a, 2)); // older version
    await emit('articles', 'article.published', A2, article(A2, `second-${run}`, 'Second', b, 1));
    await emit('articles', 'article.favorited', A2, { articleId: A2, userId: a, favoritesCount: 1, version: 1, at: iso() });
    await emit('articles', 'article.deleted', A2, { id: A2, slug: `second-${run}`, authorId: b, version: 2, at: iso() });
    await emit('articles', 'article.updated', A2, article(A2, `second-${run}`, 'Back?', b, 2)); // cannot undelete
    await emit('articles', 'article.published', A3, article(A3, s3, 'Third 🐉 "quoted"', c, 1));
    // favorites of A1: bob, carol, carol again no more (count 1, version 3); a stale count 5 v2
    await emit('articles', 'article.favorited', A1, { articleId: A1, userId: b, favoritesCount: 1, version: 1, at: iso() });
    await emit('articles', 'article.favorited', A1, { articleId: A1, userId: c, favoritesCount: 2, version: 2, at: iso() });
    await emit('articles', 'article.unfavorited', A1, { articleId: A1, userId: c, favoritesCount: 1, version: 3, at: iso() });
    await emit('articles', 'article.favorited', A1, { articleId: A1, userId: c, favoritesCount: 5, version: 2, at: iso() });
    await emit('articles', 'article.favorited', A3, { articleId: A3, userId: a, favoritesCount: 1, version: 1, at: iso() });
    // comments: C1 kept (and redelivered), C2 added then deleted, C3 deleted before it was added,
    // C4 on an article never published, C5 on the deleted A2
    const C = n * 10;
    const comment = (id, articleId, authorId) => ({ id, articleId, authorId, body: `body of ${id}`, createdAt: iso(), version: 1 });
    const c1 = await emit('comments', 'comment.added', A1, comment(C + 1, A1, b));
    await emit('comments', 'comment.added', A1, comment(C + 2, A1, c));
    await emit('comments', 'comment.deleted', A1, { id: C + 2, articleId: A1, version: 2, at: iso() });
    await emit('comments', 'comment.deleted', A3, { id: C + 3, articleId: A3, version: 2, at: iso() });
    await emit('comments', 'comment.added', A3, comment(C + 3, A3, a));
    await emit('comments', 'comment.added', UNKNOWN, comment(C + 4, UNKNOWN, a));
    await emit('comments', 'comment.added', A2, comment(C + 5, A2, c));
    await emit('comments', 'comment.added', A1, comment(C + 1, A1, b), { id: c1 }); // redelivered
    // beacons: the old slug of A1 still counts for A1; A3 read anonymously; A4 published last
    const yesterday = Date.now() - DAY;
    assert.equal((await beacons({
        anonymousId: `alice-${run}`,
        events: [
            { type: 'page_view', path: `/article/${s1b}`, slug: s1b },
            { type: 'article_read', path: `/article/${s1}`, slug: s1 },
            { type: 'click', path: '/', at: iso(yesterday) },
        ],
    }, alice.token)).status, 202);
    assert.equal((await beacons({ anonymousId: `anon-${run}`, events: [{ type: 'page_view', path: `/article/${s3}`, slug: s3 }] })).status, 202);
    await emit('articles', 'article.published', A4, article(A4, s4, 'Fourth', b, 1));
    const t = await settle();

    const delta = (k) => t[k] - base[k];
    assert.deepEqual(['users', 'articles', 'comments', 'favorites', 'follows'].map((k) => [k, delta(k)]),
        [['users', 3], ['articles', 3], ['comments', 3], ['favorites', 2], ['follows', 1]]);
    const events = (k) => (t.events[k] ?? 0) - (base.events[k] ?? 0);
    assert.deepEqual(Object.fromEntries(Object.keys(t.events).filter((k) => k !== 'test.marker').map((k) => [k, events(k)])), {
        'user.registered': 3, 'user.followed': 2, 'user.unfollowed': 1, 'user.updated': 3,
        'article.published': 4, 'article.updated': 4, 'article.deleted': 1,
        'article.favorited': 5, 'article.unfavorited': 1,
        'comment.added': 5, 'comment.deleted': 2,
        'activity.article_read': 3, 'activity.page_viewed': 2, 'activity.clicked': 1,
    });

    // top articles: A1 read three times (under both slugs), A3 and A4 once; A2 deleted, UNKNOWN never published
    const top = (await get('/api/activity/top-articles?limit=100')).articles;
    const mine = top.filter((x) => x.slug.endsWith(run));
    assert.deepEqual(mine, [
        { slug: s1b, title: 'First, final', reads: 3, favorites: 1, comments: 1 },
        { slug: s3, title: 'Third 🐉 "quoted"', reads: 1, favorites: 1, comments: 0 },
        { slug: s4, title: 'Fourth', reads: 1, favorites: 0, comments: 0 },
    ]);
    for (let i = 1; i < top.length; i++) assert.ok(top[i - 1].reads >= top[i].reads, 'most read first');
    assert.equal((await get('/api/activity/top-articles?limit=1')).articles.length, 1);

    // alice's recent activity, newest first: the articles as they are now
    const r = await get(`/api/activity/users/${alice.username}`);
    assert.equal(r.username, alice.username);
    for (let i = 1; i < r.activity.length; i++) assert.ok(r.activity[i - 1].at >= r.activity[i].at, 'newest first');
    for (const it of r.activity) assert.match(it.at, ISO_MS);
    const summary = r.activity.map((it) => [it.type, it.article ? it.article.slug : it.profile.username, it.article ? it.article.deleted : null]);
    assert.deepEqual(summary.sort(), [
        ['activity.article_read', s1b, false],
        ['activity.article_read', s1b, false],
        ['activity.article_read', s4, false],
        ['article.favorited', `second-${run}`, true],
        ['article.favorited', s3, false],
        ['article.published', s1b, false],
        ['comment.added', null, false],
        ['user.followed', bob2, null],
    ].sort());
    const onUnknown = r.activity.find((it) => it.type === 'comment.added');
    assert.deepEqual(onUnknown, { type: 'comment.added', at: onUnknown.at, article: { slug: null, title: null, deleted: false }, commentId: C + 4 });
    assert.deepEqual(r.activity.find((it) => it.type === 'article.published').article, { slug: s1b, title: 'First, final', deleted: false });
    const carols = await get(`/api/activity/users/${encodeURIComponent(carol.username)}`);
    assert.deepEqual(carols.activity.map((it) => [it.type, it.commentId ?? it.article?.slug ?? it.profile.username]).sort(), [
        ['article.favorited', s1b], ['article.published', s3], ['comment.added', C + 2], ['comment.added', C + 5],
        ['user.followed', bob2],
    ].sort(), 'C2 was added (its deletion leaves the history as it is); the unfavorite adds nothing');
    for (const old of [bob.username, bob1]) {
        assert.equal((await api(act.url, 'GET', `/api/activity/users/${old}`)).status, 404, `${old}: the stale rename did not apply`);
    }
    assert.equal((await get(`/api/activity/users/${bob2}?limit=1`)).activity.length, 1);

    // daily: the click of yesterday is counted yesterday; the days add up to the totals
    const daily = (await get('/api/activity/daily?days=90')).days;
    assert.equal(daily.length, 90);
    assert.equal(daily.at(-1).day, day(Date.now()));
    const y = daily.find((d) => d.day === day(yesterday));
    assert.ok(y.counts['activity.clicked'] >= 1);
    for (const d of daily) assert.equal(d.total, Object.values(d.counts).reduce((s, v) => s + v, 0));
    for (const [type, count] of Object.entries(t.events)) {
        assert.equal(daily.reduce((s, d) => s + (d.counts[type] ?? 0), 0), count, type);
    }
    assert.deepEqual((await get('/api/activity/daily?days=1')).days.map((d) => d.day), [day(Date.now())]);
    assert.equal((await get('/api/activity/daily')).days.length, 7);
});

test('sync=1: beacons applied before the answer by the consumer\'s code, nothing published', async () => {
    const u = await register(users.url, 'syncreader');
    const id = 5000 + (process.pid % 1000);
    const slug = `sync-${run}`;
    await emit('articles', 'article.published', id, article(id, slug, 'Read at once', 1, 1));
    const before = await settle(); // the reader and the article are known
    const batch = {
        anonymousId: `sync-${run}`,
        events: [
            { type: 'page_view', path: `/article/${slug}`, slug },
            { type: 'article_read', path: `/article/${slug}`, slug },
            { type: 'click', path: `/sync-${run}` },
        ],
    };
    const r = await api(act.url, 'POST', '/api/activity/events?sync=1', { body: batch, token: u.token });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { applied: 3 });
    // visible at once: no settle, no consumer
    const t = await get('/api/activity/totals');
    for (const type of ['activity.page_viewed', 'activity.article_read', 'activity.clicked']) {
        assert.equal((t.events[type] ?? 0) - (before.events[type] ?? 0), 1, type);
    }
    assert.equal((await get('/api/activity/top-articles?limit=100')).articles.find((x) => x.slug === slug).reads, 2);
    const mine = (await get(`/api/activity/users/${u.username}`)).activity;
    assert.equal(mine[0].type, 'activity.article_read');
    assert.equal(mine[0].article.slug, slug);
    // checked as the 202 route checks; a bad sync value is 422; nothing applied then
    const bad = await api(act.url, 'POST', '/api/activity/events?sync=2', { body: batch });
    assert.equal(bad.status, 422);
    assert.deepEqual(bad.json.errors, { sync: ['must be 0 or 1'] });
    const invalid = await api(act.url, 'POST', '/api/activity/events?sync=1',
        { body: { anonymousId: 'a1', events: [{ type: 'scroll', path: '/' }] } });
    assert.equal(invalid.status, 422);
    const forged = Object.values(forgedTokens(sys, String(subOf(u.token)), u.username))[0];
    assert.equal((await api(act.url, 'POST', '/api/activity/events?sync=1', { body: batch, token: forged })).status, 401);
    // sync=0 is the 202 route
    const zero = await api(act.url, 'POST', '/api/activity/events?sync=0', { body: { anonymousId: 'a1', events: [batch.events[2]] } });
    assert.equal(zero.status, 202);
    accepted += zero.json.accepted;
    // settle checks the topic holds exactly the 202 beacons: the synchronous ones were never published
    const after = await settle();
    assert.equal(after.events['activity.clicked'] - before.events['activity.clicked'], 2);
    assert.equal(after.events['activity.page_viewed'] - before.events['activity.page_viewed'], 1);
});

test('reads: parameters are checked (422), an unknown user is 404', async () => {
    for (const p of ['/api/activity/daily?days=0', '/api/activity/daily?days=91', '/api/activity/daily?days=abc',
        '/api/activity/daily?days=-1', '/api/activity/daily?days=07', '/api/activity/top-articles?limit=0',
        '/api/activity/top-articles?limit=101', '/api/activity/users/x?limit=51', `/api/activity/daily?days=${'9'.repeat(40)}`]) {
        const r = await api(act.url, 'GET', p);
        assert.equal(r.status, 422, p);
        assert.equal(Object.keys(r.json.errors).length, 1, p);
    }
    const r = await api(act.url, 'GET', '/api/activity/users/nobody-at-all');
    assert.equal(r.status, 404);
    assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
    assert.equal((await api(act.url, 'POST', '/api/activity/totals', { unchecked: true })).status, 405);
});

test('restart: totals kept, consumption resumes from the committed offsets', async () => {
    const before = await settle();
    await sys.stop(act.entry);
    // while it is down: a new article with a comment and a favorite
    const id = 3000 + (process.pid % 1000);
    await emit('articles', 'article.published', id, article(id, `down-${run}`, 'Written while it was down', 1, 1));
    await emit('comments', 'comment.added', id, { id: id * 10, articleId: id, authorId: 1, body: 'hi', createdAt: iso(), version: 1 });
    await emit('articles', 'article.favorited', id, { articleId: id, userId: 1, favoritesCount: 1, version: 1, at: iso() });
    act = await sys.service('activity', { instance: 2 }); // a log of its own
    const t = await settle();
    assert.deepEqual(['users', 'articles', 'comments', 'favorites', 'follows'].map((k) => t[k] - before[k]),
        [0, 1, 1, 1, 0]);
    // only what came after the stop was handed to the handler: 3 events and 4 markers
    const metrics = (await api(act.url, 'GET', '/metrics', { unchecked: true })).text;
    const consumed = Number(/^tandem_events_consumed_total\{group="activity"\} (\d+)/m.exec(metrics)?.[1]);
    assert.equal(consumed, 3 + TOPICS.length, metrics.split('\n').filter((l) => l.includes('consumed')).join('\n'));
    const top = (await get('/api/activity/top-articles?limit=100')).articles;
    assert.ok(top.some((x) => x.slug === `down-${run}` && x.comments === 1 && x.favorites === 1));
});

test('two instances on one database (one with --consumer-sync normal): each event applied once', async () => {
    const second = await sys.service('activity', { instance: 3, env: { TANDEM_CONSUMER_SYNC: 'normal' } });
    const before = await settle();
    const id = 4000 + (process.pid % 1000);
    await emit('articles', 'article.published', id, article(id, `pair-${run}`, 'Seen by two', 1, 1));
    for (let k = 1; k <= 3; k++) {
        await emit('comments', 'comment.added', id, { id: id * 10 + k, articleId: id, authorId: 1, body: `c${k}`, createdAt: iso(), version: 1 });
    }
    await emit('comments', 'comment.deleted', id, { id: id * 10 + 1, articleId: id, version: 2, at: iso() });
    for (const inst of [act, second]) {
        const r = await beacons({ anonymousId: `pair-${run}`, events: [{ type: 'article_read', path: '/', slug: `pair-${run}` }] }, undefined, inst.url);
        assert.equal(r.status, 202);
    }
    const t = await settle();
    assert.deepEqual(['users', 'articles', 'comments', 'favorites', 'follows'].map((k) => t[k] - before[k]), [0, 1, 2, 0, 0]);
    assert.equal(t.events['activity.article_read'] - before.events['activity.article_read'], 2);
    assert.deepEqual((await api(second.url, 'GET', '/api/activity/totals')).json, t, 'both answer from the one database');
    const top = (await api(second.url, 'GET', '/api/activity/top-articles?limit=100')).json.articles;
    assert.deepEqual(top.find((x) => x.slug === `pair-${run}`), { slug: `pair-${run}`, title: 'Seen by two', reads: 2, favorites: 0, comments: 2 });
    await sys.stop(second.entry);
});

// A system of its own: four partitions a topic and two instances, so that an article's claim of
// its slug (topic articles) and reads of that slug (topic activity) are applied at the same time
// by different instances. On PostgreSQL they write at once (READ COMMITTED): without apply.c's
// per-slug lock a read could miss a claim not yet committed and wait as a pending read for ever
// (without it this test failed in about half of its runs, a few articles short of reads), and
// that lock is taken before the article's row by an update as by a read (else they deadlocked:
// PostgreSQL fails one after a second, logged). On SQLite the instances take turns: it holds.
test('two instances, four partitions: articles claim their slugs while these are read, no read lost', async () => {
    const N = 100, R = 6; // reads a round: above any other article's, these lead the top (a shared database)
    const race = new System('activity-race');
    let radmin, rproducer;
    try {
        await race.broker();
        const rk = new Kafka({ brokers: [race.brokers], clientId: 'activity-race', logLevel: logLevel.NOTHING });
        radmin = rk.admin();
        await radmin.connect();
        await radmin.createTopics({ topics: TOPICS.map((topic) => ({ topic, numPartitions: 4 })), waitForLeaders: true });
        rproducer = rk.producer();
        await rproducer.connect();
        const a = await race.service('activity', { instance: 0 });
        const b = await race.service('activity', { instance: 1 });
        // both in the group, its partitions shared out, before anything is sent
        await waitFor(async () => {
            const [g] = (await radmin.describeGroups([ACTIVITY])).groups;
            return g.state === 'Stable' && g.members.length === 2;
        }, 'two members in the group', { timeout: 30000 });
        const count = async () => {
            const t = (await api(a.url, 'GET', '/api/activity/totals')).json;
            return ['activity.article_read', 'article.published', 'article.updated'].reduce((n, k) => n + (t.events[k] ?? 0), 0);
        };
        const before = await count(); // 0, unless the database is shared with the other system
        const slug = (i) => `race-${run}-${i}`;
        const publish = (i, version) => rproducer.send({
            topic: 'articles',
            messages: [{
                key: String(100000 + i),
                value: JSON.stringify({ v: 1, ...article(100000 + i, slug(i), `Race ${i}`, 1, version) }),
                headers: {
                    ce_specversion: '1.0', ce_id: randomUUID(), ce_source: '/articles',
                    ce_type: version === 1 ? 'article.published' : 'article.updated',
                    'content-type': 'application/json', ce_subject: String(100000 + i), ce_time: iso(),
                },
            }],
        });
        const read = async (i, k) => {
            const r = await api((k % 2 ? a : b).url, 'POST', '/api/activity/events', {
                body: { anonymousId: `race-${i}-${k}`, events: [{ type: 'article_read', path: `/article/${slug(i)}`, slug: slug(i) }] },
            });
            assert.equal(r.status, 202, r.text);
        };
        // published while read (the claim), then updated while read (the claim again)
        for (const version of [1, 2]) {
            for (let i = 1; i <= N; i++) {
                await Promise.all([publish(i, version), ...Array.from({ length: R }, (_, k) => read(i, k + version * R))]);
            }
        }
        await waitFor(async () => (await count()) - before >= N * (2 * R + 2), 'every event applied', { timeout: 60000 });
        const top = (await api(b.url, 'GET', '/api/activity/top-articles?limit=100')).json.articles
            .filter((x) => x.slug.startsWith(`race-${run}-`));
        assert.equal(top.length, N, 'every article listed');
        assert.deepEqual(top.filter((x) => x.reads !== 2 * R), [], `each article read ${2 * R} times`);
        // no event failed on the way and was retried (on PostgreSQL: a deadlock broken, say)
        const failed = [a, b].flatMap((s) => race.logLines(s.entry))
            .filter((l) => l.level === 'warn' && /^activity: a (read model|slug lock)/.test(l.msg));
        assert.deepEqual(failed, [], 'no statement failed');
    } finally {
        await rproducer?.disconnect();
        await radmin?.disconnect();
        await race.close();
    }
});

test('--consumer-sync other than full or normal: the service refuses to start', () => {
    const r = spawnSync(path.join(BIN, 'tandem-activity'), [], {
        env: {
            ...process.env, TANDEM_CONSUMER_SYNC: 'sometimes', TANDEM_LISTEN: `127.0.0.1:${freePort()}`,
            TANDEM_BROKERS: sys.brokers, TANDEM_DATA_DIR: `${sys.dir}/activity-refused`, TANDEM_JWT_PUBLIC_KEY: sys.publicKey,
        },
        timeout: 20000,
        encoding: 'utf8',
    });
    assert.equal(r.status, 1, r.stderr);
    const lines = r.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    assert.ok(lines.some((l) => l.level === 'error' && /consumer-sync/.test(l.msg)), r.stderr);
});
