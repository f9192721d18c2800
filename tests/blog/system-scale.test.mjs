// The blog scaled and broken under load, through the gateway (the repository's tandem.yaml):
// `tandem scale users=3` and back to 1 while registrations and logins run, with every request
// answered (resent once, as browsers do, when it met a keep-alive connection nginx closed at a
// reload: docs/tandem-cli.md, scale) and the work spread over the three instances (their access
// logs); and a `kill -9` of
// an articles instance while readers read, with not one failed GET (nginx retries an idempotent
// request on the other instance; tandem restarts the killed one).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { api, register, sleep, waitFor } from './lib.mjs';
import { checkResponses } from './schemas.mjs';
import { Blog } from './tandem.mjs';

checkResponses();

let blog, base;

before(async () => {
    blog = new Blog('scale');
    await blog.up();
    base = blog.url;
});

after(async () => {
    await blog.down();
});

// A request the way a browser sends it on a keep-alive connection: when the connection closes
// or is reset before any byte of the answer ("other side closed": nginx's old workers close idle keep-alive
// connections at a reload, and the request was sent at that instant; nginx never read it, so it
// is not in its access log), it is sent again, whatever its method (at most 3 times: the next
// idle connection the client picks may be closing too). resent counts these.
let resent = 0;
async function send(method, p, opts) {
    for (let attempt = 1; ; attempt++) {
        try {
            return await api(base, method, p, opts);
        } catch (e) {
            /* "other side closed" (a FIN) or a reset: nginx's old worker closed the idle
             * connection the request was written to (the reset when it came with unread data) */
            if (!['UND_ERR_SOCKET', 'ECONNRESET'].includes(e.cause?.code) || attempt === 3) throw e;
            resent++;
        }
    }
}

// Runs n loops of step(i, k) until stop() is called; resolves {ok, failures: [...]} from done().
function loops(n, step) {
    const state = { running: true, ok: 0, failures: [] };
    const runs = Array.from({ length: n }, async (_, i) => {
        for (let k = 0; state.running; k++) {
            try {
                const why = await step(i, k);
                if (why) state.failures.push(why);
                else state.ok++;
            } catch (e) {
                state.failures.push(`loop ${i} at ${new Date().toISOString()}: ${e.message} (${e.cause?.code || ''} ${e.cause?.message || ''})`);
            }
        }
    });
    state.done = async () => {
        state.running = false;
        await Promise.all(runs);
        return state;
    };
    return state;
}

// The access-log lines ("msg":"request") of a process's log, as objects.
function requests(name) {
    const f = path.join(blog.dir, 'var', 'tandem', 'logs', `${name}.log`);
    if (!fs.existsSync(f)) return [];
    return fs.readFileSync(f, 'utf8').split('\n').filter((l) => l.includes('"msg":"request"')).map((l) => JSON.parse(l));
}

test('tandem scale users=3 (and back to 1) while registrations and logins run: none fails, all three serve', async () => {
    const tag = `sc${process.pid}`;
    const load = loops(4, async (i, k) => {
        const user = { username: `${tag}x${i}x${k}`, email: `${tag}x${i}x${k}@example.com`, password: 'password123' };
        const r = await send('POST', '/api/users', { body: { user } });
        if (r.status !== 201) return `register ${user.username}: ${r.status} ${r.text}`;
        const l = await send('POST', '/api/users/login', { body: { user: { email: user.email, password: user.password } } });
        if (l.status !== 200) return `login ${user.username}: ${l.status} ${l.text}`;
        return null;
    });
    await sleep(1500);
    const up = await blog.cli('scale', 'users=3');
    assert.match(up.stdout, /users: 1 -> 3 instance\(s\)/);
    const rows = (await blog.ps()).filter((r) => r.service === 'users');
    assert.deepEqual(rows.map((r) => [r.instance, r.state, r.in_upstream]), [[0, 'ready', true], [1, 'ready', true], [2, 'ready', true]]);
    await sleep(4000);
    const down = await blog.cli('scale', 'users=1');
    assert.match(down.stdout, /users: 3 -> 1 instance\(s\)/);
    await sleep(1000);
    const result = await load.done();
    assert.deepEqual(result.failures, []);
    assert.ok(result.ok >= 20, `only ${result.ok} registrations and logins`);
    // the spread: every instance served registrations and logins while there were three
    await sleep(200); // a worker's log buffer is written within 50 ms
    const served = [0, 1, 2].map((i) => requests(`users.${i}`).filter((r) => r.path.startsWith('/api/users')).length);
    console.log(`users: ${result.ok} registration+login pairs, requests served per instance ${served.join(', ')}; ` +
        `${resent} sent again after nginx closed an idle keep-alive connection at a reload`);
    // each was resent once and answered: never applied twice (a second registration would be 422)
    assert.ok(resent <= 8, `${resent} requests met a closing connection`);
    for (const [i, n] of served.entries()) assert.ok(n >= 3, `users.${i} served ${n} requests`);
    // every registration is there, once
    const last = await api(base, 'POST', '/api/users/login', { body: { user: { email: `${tag}x0x0@example.com`, password: 'password123' } } });
    assert.equal(last.status, 200);
});

test('kill -9 of an articles instance under read load: not one failed GET', async () => {
    const u = await register(base, 'kr');
    const slugs = [];
    for (let i = 0; i < 20; i++) {
        const r = await api(base, 'POST', '/api/articles', { token: u.token, body: { article: { title: `Read me ${process.pid} ${i}`, description: 'd', body: 'b', tagList: ['x'] } } });
        assert.equal(r.status, 201);
        slugs.push(r.json.article.slug);
    }
    const load = loops(8, async (i, k) => {
        const p = k % 2 ? `/api/articles/${slugs[(i + k) % slugs.length]}` : '/api/articles?limit=20';
        const r = await api(base, 'GET', p, { token: u.token });
        return r.status === 200 ? null : `GET ${p}: ${r.status} ${r.text}`;
    });
    await sleep(1500);
    const pid = await blog.kill('articles', 1);
    await sleep(1500);
    const back = await waitFor(async () => {
        const r = await blog.row('articles.1');
        return r.state === 'ready' && r.pid !== pid && r;
    }, 'articles.1 restarted', { timeout: 20000 });
    await sleep(2500); // reads go to the restarted instance again once nginx's fail_timeout passed
    const result = await load.done();
    assert.deepEqual(result.failures, []);
    assert.equal(back.restarts, 1);
    const after = requests('articles.1').filter((r) => r.ts > new Date(Date.now() - 2000).toISOString());
    console.log(`articles: ${result.ok} GETs, 0 failed; articles.1 killed (pid ${pid}), restarted as ${back.pid}, serving again: ${after.length} requests in its last 2 s`);
    assert.ok(result.ok >= 200, `only ${result.ok} GETs`);
    assert.ok(after.length > 0, 'the restarted instance serves again');
});
