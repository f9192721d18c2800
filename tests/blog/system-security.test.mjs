// The blog as `make run` starts it, attacked through the gateway: another user's article or
// comment (403), tokens that must be refused on every service (missing, expired, alg none,
// HS256 keyed with the system's public key, tampered, bad signature, a stranger's key: 401, the
// key being the one tandem made in var/keys), hostile and odd input (SQL metacharacters, HTML,
// emoji and other 4-byte UTF-8, a body at and just above 1 MiB, malformed, truncated and
// mistyped JSON, missing fields: 400/413/415/422 problem documents, and nothing changed, read
// back), unique usernames and e-mails under concurrent registration (one winner), and CORS
// preflights. Every answer is validated against the OpenAPI documents (schemas.mjs).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { api, register } from './lib.mjs';
import { checkResponses } from './schemas.mjs';
import { Blog } from './tandem.mjs';
import { forgedTokens } from './tokens.mjs';

checkResponses();

const MIB = 1024 * 1024;
let blog, base;

before(async () => {
    blog = new Blog('security');
    await blog.up();
    base = blog.url;
});

after(async () => {
    await blog.down();
});

let serial = 0;
const fresh = (extra = {}) => ({ title: `Sec ${process.pid} ${++serial}`, description: 'about it', body: 'the text', ...extra });
const subOf = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url')).sub;
const problem = (r, status) => {
    assert.equal(r.status, status, r.text);
    assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
    assert.equal(r.json.status, status);
};

async function publish(token, article) {
    const r = await api(base, 'POST', '/api/articles', { token, body: { article } });
    assert.equal(r.status, 201, r.text);
    return r.json.article;
}

async function articleCount(username) {
    return (await api(base, 'GET', `/api/articles?author=${encodeURIComponent(username)}`)).json.articlesCount;
}

test('another user\'s article and comment: 403, and both unchanged', async () => {
    const owner = await register(base, 'so');
    const intruder = await register(base, 'si');
    const a = await publish(owner.token, fresh());
    const c = (await api(base, 'POST', `/api/articles/${a.slug}/comments`, { token: owner.token, body: { comment: { body: 'mine' } } })).json.comment;
    problem(await api(base, 'PUT', `/api/articles/${a.slug}`, { token: intruder.token, body: { article: { title: 'Owned', body: 'owned' } } }), 403);
    problem(await api(base, 'DELETE', `/api/articles/${a.slug}`, { token: intruder.token }), 403);
    problem(await api(base, 'DELETE', `/api/articles/${a.slug}/comments/${c.id}`, { token: intruder.token }), 403);
    assert.deepEqual((await api(base, 'GET', `/api/articles/${a.slug}`)).json.article, a);
    assert.deepEqual((await api(base, 'GET', `/api/articles/${a.slug}/comments`)).json.comments, [c]);
});

test('tokens: missing, expired, alg none, HS256 with the public key, tampered, bad signature, a stranger\'s key: 401 everywhere', async () => {
    const u = await register(base, 'st');
    const a = await publish(u.token, fresh());
    const c = (await api(base, 'POST', `/api/articles/${a.slug}/comments`, { token: u.token, body: { comment: { body: 'x' } } })).json.comment;
    // forgedTokens reads the system's key pair: var/keys/jwt.key and jwt.pub, made by tandem up
    const forged = forgedTokens(blog, subOf(u.token), u.username);
    // [method, path, body, a token is required (a missing one is 401 too)]
    const calls = [
        ['GET', '/api/user', undefined, true],
        ['PUT', '/api/user', { user: { bio: 'x' } }, true],
        ['POST', `/api/profiles/${u.username}/follow`, undefined, true],
        ['GET', `/api/profiles/${u.username}`, undefined, false],
        ['POST', '/api/articles', { article: fresh() }, true],
        ['GET', '/api/articles', undefined, false],
        ['GET', '/api/articles/feed', undefined, true],
        ['GET', `/api/articles/${a.slug}`, undefined, false],
        ['PUT', `/api/articles/${a.slug}`, { article: { body: 'forged' } }, true],
        ['DELETE', `/api/articles/${a.slug}`, undefined, true],
        ['POST', `/api/articles/${a.slug}/favorite`, undefined, true],
        ['POST', `/api/articles/${a.slug}/comments`, { comment: { body: 'forged' } }, true],
        ['GET', `/api/articles/${a.slug}/comments`, undefined, false],
        ['DELETE', `/api/articles/${a.slug}/comments/${c.id}`, undefined, true],
        ['POST', '/api/activity/events', { anonymousId: 'x', events: [{ type: 'click', path: '/' }] }, false],
    ];
    for (const [method, p, body, required] of calls) {
        if (required) problem(await api(base, method, p, { body }), 401);
        for (const [why, token] of Object.entries(forged)) {
            const r = await api(base, method, p, { token, body });
            assert.equal(r.status, 401, `${method} ${p} with ${why}: ${r.status} ${r.text}`);
            problem(r, 401);
        }
    }
    // nothing changed
    assert.deepEqual((await api(base, 'GET', `/api/articles/${a.slug}`)).json.article, a);
    assert.deepEqual((await api(base, 'GET', `/api/articles/${a.slug}/comments`)).json.comments, [c]);
    assert.equal(await articleCount(u.username), 1);
    assert.equal((await api(base, 'GET', '/api/user', { token: u.token })).json.user.bio, '');
});

test('SQL metacharacters, HTML, emoji and 4-byte UTF-8 are data: stored and returned exactly', async () => {
    const nasty = [
        "Robert'); DROP TABLE articles;--",
        '" OR 1=1 --',
        '%_\\\'"`;',
        '<script>alert(1)</script><img src=x onerror=alert(1)>',
        '🐉 dragons 𝕏 𠜎 👩‍👩‍👧‍👦',
        'nul-free\ttabs\nnewlines\r\u2028\u2029',
    ];
    const u = await register(base, 'sn');
    for (const s of nasty) {
        const a = await publish(u.token, fresh({ title: `${s} ${++serial}`, description: s, body: s, tagList: [s] }));
        const back = (await api(base, 'GET', `/api/articles/${a.slug}`)).json.article;
        assert.equal(back.description, s);
        assert.equal(back.body, s);
        assert.deepEqual(back.tagList, [s.trim()]);
        assert.match(a.slug, /^[a-z0-9-]+$/);
        const tagged = await api(base, 'GET', `/api/articles?tag=${encodeURIComponent(s.trim())}`);
        assert.ok(tagged.json.articles.some((x) => x.slug === a.slug), `the tag filter finds ${JSON.stringify(s)}`);
        const c = await api(base, 'POST', `/api/articles/${a.slug}/comments`, { token: u.token, body: { comment: { body: s } } });
        assert.equal(c.status, 200);
        assert.equal(c.json.comment.body, s);
        assert.deepEqual((await api(base, 'GET', `/api/articles/${a.slug}/comments`)).json.comments.map((x) => x.body), [s]);
    }
    const bio = nasty.join(' | ');
    const put = await api(base, 'PUT', '/api/user', { token: u.token, body: { user: { bio } } });
    assert.equal(put.json.user.bio, bio);
    assert.equal((await api(base, 'GET', `/api/profiles/${u.username}`)).json.profile.bio, bio);
    // a username with metacharacters is either refused (422) or stored as given
    const odd = `o'r"1${process.pid}`;
    const r = await api(base, 'POST', '/api/users', { body: { user: { username: odd, email: `odd${process.pid}@example.com`, password: 'password123' } } });
    if (r.status === 201) {
        assert.equal(r.json.user.username, odd);
        assert.equal((await api(base, 'GET', `/api/profiles/${encodeURIComponent(odd)}`)).json.profile.username, odd);
    } else {
        problem(r, 422);
    }
    // the tables are all there: the lists still answer
    assert.equal((await api(base, 'GET', '/api/articles')).status, 200);
    assert.equal((await api(base, 'GET', '/api/tags')).status, 200);
});

test('bodies: 1 MiB passes the gateway and the service, one byte more is 413 from the gateway, nothing created', async () => {
    const u = await register(base, 'sb');
    const wrap = (n) => {
        const head = '{"article":{"title":"Big ' + process.pid + '","description":"d","body":"';
        const tail = '"}}';
        return head + 'x'.repeat(n - head.length - tail.length) + tail;
    };
    const exact = wrap(MIB);
    assert.equal(Buffer.byteLength(exact), MIB);
    const ok = await api(base, 'POST', '/api/articles', { token: u.token, raw: exact, headers: { 'content-type': 'application/json' } });
    assert.equal(ok.status, 201, ok.text.slice(0, 300));
    assert.equal((await api(base, 'GET', `/api/articles/${ok.json.article.slug}`)).json.article.body.length, ok.json.article.body.length);
    const before = await articleCount(u.username);
    const over = await api(base, 'POST', '/api/articles', { token: u.token, raw: wrap(MIB + 1), headers: { 'content-type': 'application/json' } });
    problem(over, 413);
    await blog.logged((l) => l.status === 413 && l.upstream === '', 1, 'the gateway\'s own 413 in the access log');
    // chunked (no Content-Length): the same limit, counted as it arrives
    const stream = new ReadableStream({
        start(ctl) {
            for (let i = 0; i < 17; i++) ctl.enqueue(new TextEncoder().encode('x'.repeat(65536)));
            ctl.close();
        },
    });
    const res = await fetch(`${base}/api/articles`, {
        method: 'POST', body: stream, duplex: 'half',
        headers: { 'content-type': 'application/json', authorization: `Token ${u.token}` },
    });
    assert.equal(res.status, 413);
    assert.match(res.headers.get('content-type'), /^application\/problem\+json/);
    await res.text();
    const comment = await api(base, 'POST', `/api/articles/${ok.json.article.slug}/comments`, {
        token: u.token, raw: `{"comment":{"body":"${'y'.repeat(MIB)}"}}`, headers: { 'content-type': 'application/json' },
    });
    problem(comment, 413);
    assert.equal(await articleCount(u.username), before);
    assert.deepEqual((await api(base, 'GET', `/api/articles/${ok.json.article.slug}/comments`)).json.comments, []);
});

test('malformed, truncated and mistyped JSON, missing fields, other media types: 400/415/422, nothing changed', async () => {
    const u = await register(base, 'sm');
    const a = await publish(u.token, fresh());
    const json = { 'content-type': 'application/json' };
    const posts = [
        ['/api/users', { token: undefined }],
        ['/api/users/login', { token: undefined }],
        ['/api/articles', { token: u.token }],
        [`/api/articles/${a.slug}/comments`, { token: u.token }],
        ['/api/activity/events', { token: u.token }],
    ];
    for (const [p, { token }] of posts) {
        for (const raw of ['{"user":', '{"article":{"title":"t"', '{]', 'not json', '{"a":1}}', '\u0000', '{"x":"\ud800"}'.replace('\\ud800', '\udc00')]) {
            const r = await api(base, 'POST', p, { token, raw, headers: json });
            assert.ok([400, 422].includes(r.status), `${p} ${JSON.stringify(raw)}: ${r.status}`);
            problem(r, r.status);
        }
        const text = await api(base, 'POST', p, { token, raw: 'a=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
        problem(text, 415);
    }
    // invalid UTF-8 inside a JSON string
    const badUtf8 = Buffer.concat([Buffer.from('{"comment":{"body":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}}')]);
    const r8 = await fetch(`${base}/api/articles/${a.slug}/comments`, { method: 'POST', body: badUtf8, headers: { ...json, authorization: `Token ${u.token}` } });
    assert.ok([400, 422].includes(r8.status), `invalid UTF-8: ${r8.status}`);
    await r8.text();
    const typed = [
        ['POST', '/api/users', { user: { username: 7, email: [], password: {} } }, ['username', 'email', 'password']],
        ['POST', '/api/users', { user: { email: 'x@example.com' } }, ['username', 'password']],
        ['POST', '/api/users', { user: 'jake' }, ['user']],
        ['PUT', '/api/user', { user: { bio: 7 } }, ['bio']],
        ['POST', '/api/articles', { article: { title: ['t'], description: 1, body: true } }, ['title', 'description', 'body']],
        ['POST', '/api/articles', { article: { title: 't' } }, ['description', 'body']],
        ['PUT', `/api/articles/${a.slug}`, { article: { tagList: 'dragons' } }, ['tagList']],
        ['POST', `/api/articles/${a.slug}/comments`, { comment: { body: 7 } }, ['body']],
        ['POST', `/api/articles/${a.slug}/comments`, {}, ['body']],
    ];
    for (const [method, p, body, fields] of typed) {
        const r = await api(base, method, p, { token: u.token, body });
        problem(r, 422);
        for (const f of fields) assert.ok(Array.isArray(r.json.errors[f]), `${method} ${p} ${JSON.stringify(body)}: errors.${f} (${r.text})`);
    }
    // read back: nothing of the above changed anything
    assert.deepEqual((await api(base, 'GET', `/api/articles/${a.slug}`)).json.article, a);
    assert.deepEqual((await api(base, 'GET', `/api/articles/${a.slug}/comments`)).json.comments, []);
    assert.equal(await articleCount(u.username), 1);
    const me = (await api(base, 'GET', '/api/user', { token: u.token })).json.user;
    assert.deepEqual([me.bio, me.image, me.username, me.email], ['', '', u.username, u.email]);
});

test('usernames and e-mails stay unique under concurrent registration through the gateway: one winner', async () => {
    const name = `race${process.pid}`;
    const sameName = await Promise.all(Array.from({ length: 12 }, (_, i) => api(base, 'POST', '/api/users', {
        body: { user: { username: name, email: `${name}.${i}@example.com`, password: 'password123' } },
    })));
    assert.deepEqual(sameName.map((r) => r.status).sort(), [201, ...Array(11).fill(422)]);
    for (const r of sameName.filter((x) => x.status === 422)) assert.deepEqual(r.json.errors, { username: ['has already been taken'] });
    const email = `mail${process.pid}@example.com`;
    const sameMail = await Promise.all(Array.from({ length: 12 }, (_, i) => api(base, 'POST', '/api/users', {
        body: { user: { username: `mail${process.pid}x${i}`, email: i % 2 ? email.toUpperCase() : email, password: 'password123' } },
    })));
    assert.deepEqual(sameMail.map((r) => r.status).sort(), [201, ...Array(11).fill(422)]);
    const winner = sameMail.find((r) => r.status === 201).json.user;
    const login = await api(base, 'POST', '/api/users/login', { body: { user: { email, password: 'password123' } } });
    assert.equal(login.json.user.username, winner.username);
});

test('CORS: preflights answered by the gateway for every route; answers carry the allowed origin', async () => {
    for (const [p, method] of [['/api/users/login', 'POST'], ['/api/user', 'PUT'], ['/api/articles/x/comments/1', 'DELETE'],
        ['/api/articles', 'POST'], ['/api/profiles/x/follow', 'DELETE'], ['/api/activity/events', 'POST'], ['/api/tags', 'GET']]) {
        const r = await fetch(base + p, {
            method: 'OPTIONS',
            headers: { origin: 'http://localhost:3000', 'access-control-request-method': method, 'access-control-request-headers': 'authorization, content-type' },
        });
        assert.equal(r.status, 204, p);
        assert.equal(r.headers.get('access-control-allow-origin'), '*');
        assert.ok(r.headers.get('access-control-allow-methods').split(', ').includes(method), p);
        assert.match(r.headers.get('access-control-allow-headers'), /Authorization/);
        assert.match(r.headers.get('access-control-allow-headers'), /Content-Type/);
        assert.equal(r.headers.get('access-control-allow-credentials'), null);
    }
    const g = await api(base, 'GET', '/api/tags', { headers: { origin: 'https://conduit.example' } });
    assert.equal(g.headers.get('access-control-allow-origin'), '*');
    assert.match(g.headers.get('access-control-expose-headers'), /Retry-After/);
    const e = await api(base, 'GET', '/api/user', { headers: { origin: 'https://conduit.example' } });
    problem(e, 401);
    assert.equal(e.headers.get('access-control-allow-origin'), '*');
    // no preflight reached a service
    const preflights = await blog.logged((l) => l.method === 'OPTIONS', 7, 'the 7 preflights in the access log');
    assert.ok(preflights.every((l) => l.upstream === '' && l.status === 204), JSON.stringify(preflights));
});
