// The users service on its own (broker + two users instances on one database): registration,
// login, the current user, updates, profiles and follows, the events it publishes, and every way
// a request must be refused. Every answer is validated against RealWorld's openapi.yml and
// docs/blog-openapi.yaml (strict: no member the schema does not name), every event against
// docs/asyncapi.yaml (schemas.mjs); the assertions here are about values.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';

import { System, api, register, waitFor } from './lib.mjs';
import { checkResponses, validateEvent } from './schemas.mjs';
import { forgedTokens } from './tokens.mjs';

checkResponses();
let sys, a, b;

// The user id a token was signed for (its sub claim).
const subOf = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url')).sub;

before(async () => {
    sys = new System('users');
    await sys.broker();
    a = await sys.service('users', { instance: 0 });
    b = await sys.service('users', { instance: 1 });
});

after(async () => {
    await sys.close();
});

test('registration answers 201 with the user and a token that both instances accept', async () => {
    const u = await register(a.url);
    for (const inst of [a, b]) {
        const r = await api(inst.url, 'GET', '/api/user', { token: u.token });
        assert.equal(r.status, 200);
        assert.equal(r.json.user.username, u.username);
        assert.equal(r.json.user.email, u.email);
        assert.equal(r.json.user.token, u.token);
    }
});

test('an e-mail is case-insensitive; a taken username or e-mail is 422 on either instance', async () => {
    const u = await register(a.url);
    const again = await api(b.url, 'POST', '/api/users', {
        body: { user: { username: u.username, email: u.email.toUpperCase(), password: 'whatever123' } },
    });
    assert.equal(again.status, 422);
    assert.deepEqual(again.json.errors, { username: ['has already been taken'], email: ['has already been taken'] });
    const login = await api(b.url, 'POST', '/api/users/login', {
        body: { user: { email: u.email.toUpperCase(), password: u.password } },
    });
    assert.equal(login.status, 200);
});

test('concurrent registrations of one username: exactly one wins', async () => {
    const name = `race${process.pid}`;
    const tries = await Promise.all(Array.from({ length: 8 }, (_, i) =>
        api(i % 2 ? a.url : b.url, 'POST', '/api/users', {
            body: { user: { username: name, email: `${name}.${i}@example.com`, password: 'password123' } },
        })));
    const statuses = tries.map((r) => r.status).sort();
    assert.deepEqual(statuses, [201, 422, 422, 422, 422, 422, 422, 422]);
});

test('login: a wrong password or an unknown e-mail is 401 with the errors member', async () => {
    const u = await register(a.url);
    for (const body of [{ email: u.email, password: 'wrong password' }, { email: 'nobody@example.com', password: 'whatever1' }]) {
        const r = await api(a.url, 'POST', '/api/users/login', { body: { user: body } });
        assert.equal(r.status, 401);
        assert.deepEqual(r.json.errors, { 'email or password': ['is invalid'] });
    }
});

test('validation: missing, blank, wrong types, bad e-mail, short password, not JSON', async () => {
    const cases = [
        [{ user: { email: 'x@example.com', password: 'password1' } }, { username: ["can't be blank"] }],
        [{ user: { username: ' ', email: 'x@example.com', password: 'password1' } }, { username: ["can't be blank"] }],
        [{ user: { username: 7, email: 'x@example.com', password: 'password1' } }, { username: ['must be a string'] }],
        [{ user: { username: 'ok', email: 'not-an-email', password: 'password1' } }, { email: ['is invalid'] }],
        [{ user: { username: 'ok', email: 'x@example.com', password: 'short' } }, { password: ['is too short (minimum is 8 characters)'] }],
    ];
    for (const [body, errors] of cases) {
        const r = await api(a.url, 'POST', '/api/users', { body });
        assert.equal(r.status, 422, JSON.stringify(body));
        assert.deepEqual(r.json.errors, errors);
    }
    const bad = await api(a.url, 'POST', '/api/users', { raw: '{"user":', headers: { 'content-type': 'application/json' } });
    assert.equal(bad.status, 400);
    const slash = await api(a.url, 'POST', '/api/users', { body: { user: { username: 'a/b', email: 'ab@example.com', password: 'password1' } } });
    assert.equal(slash.status, 422);
});

test('unicode and metacharacters are data: emoji usernames, quotes in the bio', async () => {
    const name = `dragon🐉${process.pid}`;
    const r = await api(a.url, 'POST', '/api/users', { body: { user: { username: name, email: `d${process.pid}@example.com`, password: 'password123' } } });
    assert.equal(r.status, 201);
    const bio = `'; DROP TABLE users; -- <script>alert(1)</script> 𝄞`;
    const up = await api(b.url, 'PUT', '/api/user', { token: r.json.user.token, body: { user: { bio } } });
    assert.equal(up.status, 200);
    assert.equal(up.json.user.bio, bio);
    const p = await api(a.url, 'GET', `/api/profiles/${encodeURIComponent(name)}`);
    assert.equal(p.status, 200);
    assert.equal(p.json.profile.bio, bio);
});

test('update: a new username gives a new token; e-mail and password change login', async () => {
    const u = await register(a.url);
    const renamed = `${u.username}r`;
    const r = await api(a.url, 'PUT', '/api/user', {
        token: u.token,
        body: { user: { username: renamed, email: `new.${u.email}`, password: 'a new password', image: 'https://example.com/me.png' } },
    });
    assert.equal(r.status, 200);
    assert.equal(r.json.user.username, renamed);
    assert.notEqual(r.json.user.token, u.token);
    assert.equal(r.json.user.image, 'https://example.com/me.png');
    const old = await api(a.url, 'POST', '/api/users/login', { body: { user: { email: u.email, password: u.password } } });
    assert.equal(old.status, 401);
    const now = await api(b.url, 'POST', '/api/users/login', { body: { user: { email: `new.${u.email}`, password: 'a new password' } } });
    assert.equal(now.status, 200);
    const cleared = await api(a.url, 'PUT', '/api/user', { token: now.json.user.token, body: { user: { image: null } } });
    assert.equal(cleared.json.user.image, '');
    const empty = await api(a.url, 'PUT', '/api/user', { token: now.json.user.token, body: { user: {} } });
    assert.equal(empty.status, 422);
});

test('profiles and follows', async () => {
    const fan = await register(a.url, 'fan');
    const star = await register(a.url, 'star');
    const anon = await api(b.url, 'GET', `/api/profiles/${star.username}`);
    assert.deepEqual(anon.json, { profile: { username: star.username, bio: '', image: '', following: false } });
    const f = await api(b.url, 'POST', `/api/profiles/${star.username}/follow`, { token: fan.token });
    assert.equal(f.status, 200);
    assert.equal(f.json.profile.following, true);
    const seen = await api(a.url, 'GET', `/api/profiles/${star.username}`, { token: fan.token });
    assert.equal(seen.json.profile.following, true);
    const again = await api(a.url, 'POST', `/api/profiles/${star.username}/follow`, { token: fan.token });
    assert.equal(again.json.profile.following, true);
    const un = await api(a.url, 'DELETE', `/api/profiles/${star.username}/follow`, { token: fan.token });
    assert.equal(un.json.profile.following, false);
    assert.equal((await api(a.url, 'GET', '/api/profiles/nobody-at-all')).status, 404);
    assert.equal((await api(a.url, 'POST', '/api/profiles/nobody-at-all/follow', { token: fan.token })).status, 404);
    for (const bad of ['%FF', 'caf%E9', '%C0%AF', '%ED%A0%80']) { // not UTF-8: PostgreSQL refuses it
        assert.equal((await api(a.url, 'GET', `/api/profiles/${bad}`)).status, 404, bad);
        assert.equal((await api(a.url, 'POST', `/api/profiles/${bad}/follow`, { token: fan.token })).status, 404, bad);
    }
    assert.equal((await api(a.url, 'POST', `/api/profiles/${fan.username}/follow`, { token: fan.token })).status, 422);
    assert.equal((await api(a.url, 'POST', `/api/profiles/${star.username}/follow`)).status, 401);
});

test('every forged, expired or malformed token is 401, also where a token is optional', async () => {
    const u = await register(a.url);
    const me = await api(a.url, 'GET', '/api/user', { token: u.token });
    const sub = subOf(u.token);
    assert.ok(me.status === 200 && sub);
    for (const [why, token] of Object.entries(forgedTokens(sys, sub, u.username))) {
        const r = await api(a.url, 'GET', '/api/user', { token });
        assert.equal(r.status, 401, why);
        assert.equal(r.headers.get('www-authenticate'), 'Token', why);
        const p = await api(a.url, 'GET', `/api/profiles/${u.username}`, { token });
        assert.equal(p.status, 401, `${why} (optional auth)`);
    }
    assert.equal((await api(a.url, 'GET', '/api/user')).status, 401);
    assert.equal((await api(a.url, 'GET', '/api/user', { headers: { authorization: 'Basic abc' } })).status, 401);
});

test('events: user.registered, user.updated, user.followed/unfollowed, in order, never the e-mail or hash', async () => {
    const u = await register(b.url, 'ev');
    const other = await register(b.url, 'evo');
    await api(a.url, 'PUT', '/api/user', { token: u.token, body: { user: { bio: 'hello' } } });
    await api(a.url, 'POST', `/api/profiles/${other.username}/follow`, { token: u.token });
    await api(b.url, 'DELETE', `/api/profiles/${other.username}/follow`, { token: u.token });
    const sub = subOf(u.token);
    const kafka = new Kafka({ brokers: [sys.brokers], clientId: 'blog-test', logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: `t${process.pid}${Date.now()}` });
    const raw = [];
    await consumer.connect();
    await consumer.subscribe({ topic: 'users', fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void raw.push(message) });
    try {
        await waitFor(() => raw.some((m) => m.key?.toString() === sub && m.headers.ce_type?.toString() === 'user.unfollowed'),
            'the unfollow event');
    } finally {
        await consumer.disconnect();
    }
    // Every event of the topic (this file's other tests' too) against docs/asyncapi.yaml.
    const seen = raw.map((m) => validateEvent('users', m));
    const reg = seen.find((e) => e.type === 'user.registered' && e.data.username === u.username);
    assert.ok(reg, 'user.registered');
    assert.equal(reg.key, sub);
    assert.equal(reg.data.version, 1);
    const upd = seen.find((e) => e.type === 'user.updated' && e.data.id === reg.data.id);
    assert.equal(upd.data.version, 2);
    assert.equal(upd.data.bio, 'hello');
    const edges = seen.filter((e) => e.key === sub && e.data.followerId !== undefined);
    assert.deepEqual(edges.map((e) => [e.type, e.data.followeeId, e.data.version, e.data.following]),
        [['user.followed', Number(subOf(other.token)), 1, true], ['user.unfollowed', Number(subOf(other.token)), 2, false]]);
    for (const e of seen) {
        assert.ok(!JSON.stringify(e.data).includes('argon2'), 'no password hash in events');
    }
});
