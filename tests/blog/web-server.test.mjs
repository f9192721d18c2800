// tandem-web over HTTP: the app's files with their types and caching (immutable fingerprinted
// assets, index.html revalidated by ETag), gzip twins by Accept-Encoding, the app's pages as
// index.html, paths that try to leave the directory refused; and the demo-data loader: once,
// by one instance, never on a system that has data.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import zlib from 'node:zlib';
import { api, BIN, ROOT, System, waitFor } from './lib.mjs';
import { blog } from './web.mjs';

const BUILT = path.join(BIN, '..', 'share', 'tandem', 'web');

// One raw HTTP/1.1 request (the path sent exactly as given: fetch would normalise it).
function raw(port, target) {
    return new Promise((resolve, reject) => {
        const sock = net.connect(port, '127.0.0.1');
        const chunks = [];
        sock.on('connect', () => sock.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
        sock.on('data', (c) => chunks.push(c));
        sock.on('end', () => {
            const text = Buffer.concat(chunks).toString('latin1');
            resolve({ status: Number(text.split(' ')[1]), text });
        });
        sock.on('error', reject);
    });
}

describe('the files', () => {
    let sys, web, base, index, assets;

    before(async () => {
        sys = new System('web-server');
        web = await sys.service('web', { env: { TANDEM_BROKERS: '127.0.0.1:9' } });
        base = web.url;
        index = fs.readFileSync(path.join(BUILT, 'index.html'), 'utf8');
        assets = [...index.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]);
    });
    after(async () => sys?.close());

    test('index.html: no-cache, an ETag that revalidates (304), the security headers', async () => {
        const r = await fetch(`${base}/`, { headers: { 'accept-encoding': 'identity' } });
        assert.equal(r.status, 200);
        assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
        assert.equal(r.headers.get('cache-control'), 'no-cache');
        assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
        assert.match(r.headers.get('content-security-policy'), /default-src 'self'; script-src 'self'; style-src 'self'/);
        assert.equal(await r.text(), index);
        const etag = r.headers.get('etag');
        assert.match(etag, /^"[0-9a-f]{16}"$/);
        const again = await fetch(`${base}/`, { headers: { 'if-none-match': etag, 'accept-encoding': 'identity' } });
        assert.equal(again.status, 304);
        assert.equal(again.headers.get('etag'), etag);
        assert.equal(await again.text(), '');
        assert.equal((await fetch(`${base}/`, { headers: { 'if-none-match': '"0000000000000000"' } })).status, 200);
    });

    test('the fingerprinted assets: their types, immutable for a year, the bytes of the build', async () => {
        assert.ok(assets.some((a) => /^\/assets\/app\.[A-Z0-9]{8}\.js$/.test(a)), assets.join(' '));
        assert.ok(assets.some((a) => /^\/assets\/app\.[A-Z0-9]{8}\.css$/.test(a)), assets.join(' '));
        const chunks = fs.readdirSync(path.join(BUILT, 'assets')).filter((f) => !f.endsWith('.gz'));
        assert.ok(chunks.some((f) => /^markdown\.[A-Z0-9]{8}\.js$/.test(f)), 'the Markdown chunk');
        const types = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', svg: 'image/svg+xml', txt: 'text/plain; charset=utf-8' };
        for (const f of chunks) {
            const r = await fetch(`${base}/assets/${f}`, { headers: { 'accept-encoding': 'identity' } });
            assert.equal(r.status, 200, f);
            assert.equal(r.headers.get('content-type'), types[f.split('.').pop()], f);
            assert.equal(r.headers.get('cache-control'), 'public, max-age=31536000, immutable', f);
            assert.ok(r.headers.get('etag'), f);
            assert.ok(Buffer.from(await r.arrayBuffer()).equals(fs.readFileSync(path.join(BUILT, 'assets', f))), f);
        }
        const missing = await api(base, 'GET', '/assets/app.AAAAAAAA.js');
        assert.equal(missing.status, 404);
        assert.equal(missing.headers.get('content-type'), 'application/problem+json');
    });

    test('gzip twins by Accept-Encoding, with Vary and their own ETag', async () => {
        const js = assets.find((a) => a.endsWith('.js'));
        const plain = fs.readFileSync(path.join(BUILT, js));
        const cases = [
            ['gzip, deflate, br', true], ['br;q=1, gzip;q=0.5', true], ['*', true], ['x-gzip', true], ['GZIP', true],
            ['gzip;q=0', false], ['gzip;q=0, *', false], ['br', false], ['identity', false], ['*;q=0', false], ['gzip;q=2', false], ['', false],
        ];
        const tags = new Set();
        for (const [ae, gz] of cases) {
            const sock = await rawGet(web.port, js, { 'Accept-Encoding': ae });
            assert.equal(sock.status, 200, ae);
            assert.equal(sock.headers['vary'], 'Accept-Encoding', ae);
            assert.equal(sock.headers['content-encoding'], gz ? 'gzip' : undefined, ae);
            const body = gz ? zlib.gunzipSync(sock.body) : sock.body;
            assert.ok(body.equals(plain), ae);
            tags.add(sock.headers.etag);
        }
        assert.equal(tags.size, 2, 'one ETag per variant');
        // HEAD: the headers and length of GET, no body.
        const head = await fetch(`${base}${js}`, { method: 'HEAD', headers: { 'accept-encoding': 'gzip' } });
        assert.equal(head.status, 200);
        assert.equal(Number(head.headers.get('content-length')), fs.statSync(path.join(BUILT, `${js}.gz`)).size);
    });

    test('the app\'s pages answer index.html; other paths 404 with it; /api is not here', async () => {
        for (const p of ['/login', '/register', '/settings', '/editor', '/editor/a-slug', '/article/a-slug', '/article/%C3%A9t%C3%A9-%F0%9F%9A%B2',
            '/profile/jake', '/profile/jake/favorites', '/profile/j%20k', '/console', '/console/services', '/?tag=x&page=2']) {
            const r = await fetch(`${base}${p}`, { headers: { 'accept-encoding': 'identity' } });
            assert.equal(r.status, 200, p);
            assert.equal(r.headers.get('cache-control'), 'no-cache', p);
            assert.equal(await r.text(), index, p);
        }
        for (const p of ['/nothing', '/articles/x', '/index.htm', '/favicon.ico']) {
            const r = await fetch(`${base}${p}`, { headers: { 'accept-encoding': 'identity' } });
            assert.equal(r.status, 404, p);
            assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8', p);
            assert.equal(await r.text(), index, p);
        }
        const r = await api(base, 'GET', '/api/articles');
        assert.equal(r.status, 404);
        assert.equal(r.headers.get('content-type'), 'application/problem+json');
        const post = await api(base, 'POST', '/login', { body: {} });
        assert.equal(post.status, 405);
        assert.match(post.headers.get('allow'), /GET/);
    });

    test('no way out of the directory: dot segments, encodings, encoded slashes, backslashes, NUL', async () => {
        const targets = [
            '/../../../../etc/passwd', '/assets/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/%2E%2E/%2E%2E/etc/passwd',
            '/.%2e/.%2e/etc/passwd', '/assets/%2e%2e%2f%2e%2e%2fetc%2fpasswd', '/assets%2f..%2f..%2fetc%2fpasswd',
            '/assets/..%5c..%5cetc%5cpasswd', '/assets\\..\\..\\etc\\passwd', '/%00', '/index.html%00.js', '/assets/%00/../x',
            '/article/%2e%2e', '/profile/..', '/profile/%2e', '/./index.html', '/%252e%252e/etc/passwd', '/%c0%ae%c0%ae/etc/passwd',
            '/assets/app.%', '/assets/app.%zz.js', '//etc/passwd', '/proc/self/environ', '/etc/passwd',
        ];
        for (const t of targets) {
            const r = await raw(web.port, t);
            assert.ok([400, 404].includes(r.status), `${t}: ${r.status}`);
            assert.doesNotMatch(r.text, /root:|TANDEM_|PATH=/, t);
        }
        // What the service itself answers for those (the log names a 400 for the attacks).
        assert.equal((await raw(web.port, '/%2e%2e/%2e%2e/etc/passwd')).status, 400);
        assert.equal((await raw(web.port, '/assets/..%5cx')).status, 400);
        assert.equal((await raw(web.port, '/index.html%00.js')).status, 400);
    });

    test('a web root: symbolic links and dot-files are not served; a directory without index.html is refused', async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-web-root-'));
        try {
            fs.cpSync(BUILT, dir, { recursive: true });
            fs.symlinkSync('/etc/passwd', path.join(dir, 'assets', 'passwd.txt'));
            fs.symlinkSync('/etc', path.join(dir, 'etc'));
            fs.writeFileSync(path.join(dir, '.secret'), 'nope');
            fs.writeFileSync(path.join(dir, 'assets', 'note.txt'), 'a note');
            const s = await sys.service('web', { instance: 1, env: { TANDEM_BROKERS: '127.0.0.1:9', TANDEM_WEB_ROOT: dir } });
            assert.equal((await fetch(`${s.url}/assets/note.txt`).then((r) => r.text())), 'a note');
            assert.equal((await fetch(`${s.url}/assets/passwd.txt`)).status, 404);
            assert.equal((await fetch(`${s.url}/etc/passwd`)).status, 404);
            assert.equal((await fetch(`${s.url}/.secret`)).status, 404);
            await sys.stop(s.entry);
            fs.rmSync(path.join(dir, 'index.html'));
            const run = spawnSync(path.join(BIN, 'tandem-web'), [], {
                env: { ...process.env, TANDEM_LISTEN: '127.0.0.1:0', TANDEM_WEB_ROOT: dir, TANDEM_DATA_DIR: dir },
                timeout: 20000,
                encoding: 'utf8',
            });
            assert.equal(run.status, 1);
            assert.match(run.stderr, /"msg":"web files not loaded".*"error":"no such entity"/);
            assert.doesNotMatch(run.stderr, /"msg":"ready"/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

// A GET with the given headers over a raw socket: {status, headers (lower-case names), body}.
function rawGet(port, target, headers) {
    return new Promise((resolve, reject) => {
        const sock = net.connect(port, '127.0.0.1');
        const chunks = [];
        const lines = Object.entries(headers).filter(([, v]) => v !== '').map(([k, v]) => `${k}: ${v}\r\n`).join('');
        sock.on('connect', () => sock.write(`GET ${target} HTTP/1.1\r\nHost: x\r\n${lines}Connection: close\r\n\r\n`));
        sock.on('data', (c) => chunks.push(c));
        sock.on('end', () => {
            const all = Buffer.concat(chunks);
            const split = all.indexOf('\r\n\r\n');
            const head = all.subarray(0, split).toString('latin1').split('\r\n');
            const h = {};
            for (const l of head.slice(1)) h[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
            resolve({ status: Number(head[0].split(' ')[1]), headers: h, body: all.subarray(split + 4) });
        });
        sock.on('error', reject);
    });
}

describe('the demo data', () => {
    const DOC = JSON.parse(fs.readFileSync(path.join(ROOT, 'services', 'web', 'demo.json'), 'utf8'));
    let b;

    before(async () => {
        b = await blog('web-demo', { services: ['users', 'articles', 'comments'] });
        await b.stop('web'); // started with --demo-data off: no load
    });
    after(async () => b?.close());

    const done = () => path.join(b.sys.dir, 'web', 'demo-data.done');
    const loads = () => b.sys.procs.filter((p) => p.label.startsWith('web.')).flatMap((p) => b.sys.logLines(p)).filter((l) => l.msg === 'demo data: loading');

    test('two instances on an empty system: one loads it all, through the public API', async () => {
        assert.equal((await api(b.url, 'GET', '/api/articles')).json.articlesCount, 0);
        const env = { TANDEM_DEMO_DATA: 'on', TANDEM_GATEWAY: b.url };
        const [one, two] = await Promise.all([b.start('web', env), b.sys.service('web', { instance: 99, env })]);
        await waitFor(() => fs.existsSync(done()), 'demo-data.done', { timeout: 150000, interval: 500 });
        assert.equal(fs.readFileSync(done(), 'utf8'), 'loaded\n');
        assert.equal(loads().length, 1, 'one instance loaded');
        await b.sys.stop(two.entry);
        assert.ok(one);

        const all = await api(b.url, 'GET', '/api/articles?limit=100');
        assert.equal(all.json.articlesCount, DOC.articles.length);
        assert.deepEqual(all.json.articles.map((a) => a.title).reverse(), DOC.articles.map((a) => a.title), 'newest first');
        for (const u of DOC.users) {
            const p = await api(b.url, 'GET', `/api/profiles/${u.username}`);
            assert.equal(p.json.profile.bio, u.bio);
        }
        const favs = (key) => DOC.favorites.filter(([, k]) => k === key).length;
        for (const a of all.json.articles) {
            const src = DOC.articles.find((x) => x.title === a.title);
            assert.equal(a.favoritesCount, favs(src.key), a.title);
            assert.deepEqual(a.tagList, [...src.tagList].sort(), a.title);
            assert.equal(a.author.username, src.author);
            const c = await api(b.url, 'GET', `/api/articles/${a.slug}/comments`);
            assert.equal(c.json.comments.length, DOC.comments.filter((x) => x.article === src.key).length, a.title);
        }
        const one1 = await api(b.url, 'GET', `/api/articles/${all.json.articles.at(-1).slug}`);
        assert.equal(one1.json.article.body, DOC.articles[0].body.join('\n') + '\n');
        // Follows: maya's feed is what tomas and ingrid wrote.
        const maya = await api(b.url, 'POST', '/api/users/login', { body: { user: { email: 'maya@example.com', password: DOC.password } } });
        const followed = DOC.follows.filter(([f]) => f === 'maya').map(([, t]) => t);
        await waitFor(async () => {
            const feed = await api(b.url, 'GET', '/api/articles/feed?limit=100', { token: maya.json.user.token });
            return feed.json.articlesCount === DOC.articles.filter((a) => followed.includes(a.author)).length;
        }, 'maya\'s feed');
    });

    test('never twice: a restart does nothing; without the marker, a system with data is left alone', async () => {
        const env = { TANDEM_DEMO_DATA: 'on', TANDEM_GATEWAY: b.url };
        await b.stop('web');
        let s = await b.start('web', env);
        await waitFor(() => b.sys.logLines(s.entry).some((l) => l.msg === 'demo data: loaded or skipped before'), 'skipped');
        fs.rmSync(done());
        await b.stop('web');
        s = await b.start('web', env);
        await waitFor(() => b.sys.logLines(s.entry).some((l) => l.msg === 'demo data: the system has data, none loaded'), 'left alone');
        await waitFor(() => fs.existsSync(done()), 'the marker again');
        assert.equal(fs.readFileSync(done(), 'utf8'), 'skipped: the system had articles\n');
        assert.equal(loads().length, 1);
        assert.equal((await api(b.url, 'GET', '/api/articles')).json.articlesCount, DOC.articles.length);
    });
});
