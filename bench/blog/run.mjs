#!/usr/bin/env node
// bench/blog/run.mjs: the blog as a system, measured through the gateway (bench/blog/run.sh
// builds and calls it; make bench-blog).
//
//   node bench/blog/run.mjs [BUILD_DIR (default build)]
//       ROUNDS=3 SECS=10 CONNS=32 ARTICLES=1000 READ_RATE=5000 LAG_N=200
//
// The system is the repository's tandem.yaml as `make run` starts it (tests/blog/tandem.mjs
// moves it to free ports and this build's binaries; no gateway cache), under BUILD_DIR/blog-bench
// (the work tree's disk: fsyncs are real). Seeded through the gateway: 10 authors, ARTICLES
// articles of 2.4 KB with 3 tags each, a reader who follows the authors and favorited 50 of them.
// Then ROUNDS rounds of, each with build/bin/tandem-load (keep-alive, closed loop unless a
// rate is given), SECS seconds, CONNS connections:
//
//   article   GET /api/articles/{slug} with the reader's token          target >= 15,000/s
//   list      GET /api/articles?limit=20 with the token (20 articles, authors, tags)  >= 5,000/s
//   comment   POST /api/articles/{slug}/comments (each committed, synchronous=FULL, before its
//             200)                                                        target >= 3,000/s
//   login     reads at READ_RATE/s (GET article) alone, then beside 50 logins/s
//             (POST /api/users/login): the reads' p99 with logins <= 2x without
//   lag       LAG_N renames of an author (PUT /api/user) while `article` load runs; for each, the
//             time from the rename's 200 until GET /api/articles/{slug} (articles' read model,
//             fed by user.updated) shows the new name, polled every ms      p99 <= 50 ms
//
// Beside each measurement: the machine's CPU pressure during it (Linux PSI: the share of the time
// in which some runnable task waited for a CPU; on a machine shared with other work it says how
// much of a latency is queueing for a core), and for the reads beside logins the p99 nginx itself
// logged (from its first read of a request to its answer's end).
//
// Prints a Markdown table (command, medians, target), writes the raw rows to
// bench/results/blog-<UTC time>.csv and the table to .md.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const BUILD = path.resolve(process.argv[2] || path.join(ROOT, 'build'));
process.env.TANDEM_TEST_BIN = path.join(BUILD, 'bin');
const WORK = path.join(BUILD, 'blog-bench');
fs.mkdirSync(WORK, { recursive: true });
process.env.TMPDIR = WORK;
const { api, sleep } = await import(path.join(ROOT, 'tests', 'blog', 'lib.mjs'));
const { Blog } = await import(path.join(ROOT, 'tests', 'blog', 'tandem.mjs'));

const ROUNDS = Number(process.env.ROUNDS || 3);
const SECS = Number(process.env.SECS || 10);
const CONNS = Number(process.env.CONNS || 32);
const ARTICLES = Number(process.env.ARTICLES || 1000);
const READ_RATE = Number(process.env.READ_RATE || 5000);
const LAG_N = Number(process.env.LAG_N || 200);
const LOAD = path.join(BUILD, 'bin', 'tandem-load');
let renames = 0; // the lag's new usernames
const run = promisify(execFile);
const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const quantile = (xs, q) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

// ---- the data ---------------------------------------------------------------------------------

async function must(method, p, opts, status) {
    const r = await api(base, method, p, opts);
    if (r.status !== status) throw new Error(`${method} ${p}: ${r.status} ${r.text.slice(0, 200)}`);
    return r.json;
}

async function user(name) {
    const u = { username: name, email: `${name}@example.com`, password: 'password123' };
    u.token = (await must('POST', '/api/users', { body: { user: u } }, 201)).user.token;
    return u;
}

async function seed() {
    const t0 = Date.now();
    const authors = await Promise.all(Array.from({ length: 10 }, (_, i) => user(`author${i}`)));
    const reader = await user('reader');
    const text = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(42); // ~2.4 KB
    const slugs = [];
    for (let i = 0; i < ARTICLES; i += 20) {
        const batch = await Promise.all(Array.from({ length: Math.min(20, ARTICLES - i) }, (_, k) => {
            const a = authors[(i + k) % authors.length];
            const n = i + k;
            return must('POST', '/api/articles', {
                token: a.token,
                body: { article: { title: `Article number ${n}`, description: `What article ${n} is about`, body: text, tagList: [`tag${n % 7}`, `topic${n % 11}`, 'blog'] } },
            }, 201);
        }));
        slugs.push(...batch.map((b) => b.article.slug));
    }
    for (const a of authors) await must('POST', `/api/profiles/${a.username}/follow`, { token: reader.token }, 200);
    for (const s of slugs.slice(-50)) await must('POST', `/api/articles/${s}/favorite`, { token: reader.token }, 200);
    console.error(`bench/blog: seeded ${authors.length} authors, ${slugs.length} articles in ${Date.now() - t0} ms`);
    return { authors, reader, slugs };
}

// ---- tandem-load ------------------------------------------------------------------------------

// The machine's CPU pressure (Linux PSI, /proc/pressure/cpu "some": the share of time in which
// at least one runnable task waited for a CPU), between two readings: [total µs, at ms].
const psiNow = () => {
    try {
        const m = /some .*total=(\d+)/.exec(fs.readFileSync('/proc/pressure/cpu', 'utf8'));
        return [Number(m[1]), performance.now()];
    } catch {
        return null;
    }
};
const psiSince = (a) => {
    const b = psiNow();
    return a && b ? (100 * (b[0] - a[0])) / ((b[1] - a[1]) * 1000) : NaN;
};

// One tandem-load run; resolves its JSON summary and the command line as a user would type it.
async function load(p, { method = 'GET', body, token, conns = CONNS, secs = SECS, rate } = {}) {
    const args = ['-c', String(conns), '-d', String(secs), '--json', '--allow-failures'];
    if (rate) args.push('-r', String(rate));
    if (method !== 'GET') args.push('-m', method);
    if (body) args.push('-b', body);
    if (token) args.push('-H', `Authorization: Token ${token}`);
    args.push(`${base}${p}`);
    const psi = psiNow();
    const { stdout } = await run(LOAD, args, { maxBuffer: 1 << 20 });
    const pressure = psiSince(psi);
    const cmd = `tandem-load ${args.filter((a) => a !== '--json' && a !== '--allow-failures')
        .map((a) => (a.startsWith('Authorization') ? "'Authorization: Token $TOKEN'" : /[ {"?&]/.test(a) ? `'${a}'` : a)).join(' ')}`
        .replace(base, 'http://GATEWAY');
    return { ...JSON.parse(stdout), cmd, pressure };
}

// A tandem-load run in the background; stop() ends it (SIGINT: it prints its summary).
function loadInBackground(p, { token, conns = 16 } = {}) {
    const args = ['-c', String(conns), '-d', '3600', '--json', '--allow-failures', '-H', `Authorization: Token ${token}`, `${base}${p}`];
    const child = spawn(LOAD, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    return {
        stop: () => new Promise((resolve) => {
            child.on('exit', () => resolve(JSON.parse(out)));
            child.kill('SIGINT');
        }),
    };
}

// The gateway's access log: logAt() is its size now; gatewayP99(at, uri) the p99 of the request
// times nginx logged since then (µs: from its first read of a request to the last byte of the
// answer) for uri: what the gateway and the service took, without the client's and the kernel's
// queues before nginx read the request.
const accessLog = () => path.join(blog.dir, 'var', 'gateway', 'access.log');
const logAt = () => fs.statSync(accessLog()).size;
function gatewayP99(at, uri) {
    const fd = fs.openSync(accessLog(), 'r');
    const buf = Buffer.alloc(fs.fstatSync(fd).size - at);
    fs.readSync(fd, buf, 0, buf.length, at);
    fs.closeSync(fd);
    const times = buf.toString('utf8').split('\n').filter((l) => l.includes(`"uri":"${uri}"`))
        .map((l) => Number(JSON.parse(l).duration_s) * 1e6);
    return times.length ? quantile(times, 0.99) : NaN;
}

// ---- the event lag ----------------------------------------------------------------------------

// n renames of author a (whose article is slug) while reads load the system: for each, ms from
// the rename's answer until an articles instance answers the article with the new name.
async function lag(a, slug, n) {
    const lags = [];
    const direct = blog.instanceUrl('articles', 0); // polled directly: the gateway adds nothing to the lag
    for (let i = 0; i < n; i++) {
        const name = `renamed${++renames}`;
        const r = await api(base, 'PUT', '/api/user', { token: a.token, body: { user: { username: name } } });
        if (r.status !== 200) throw new Error(`rename: ${r.status} ${r.text}`);
        const t0 = performance.now();
        a.token = r.json.user.token;
        a.username = name;
        for (;;) {
            const g = await fetch(`${direct}/api/articles/${slug}`);
            const j = await g.json();
            if (j.article.author.username === name) break;
            if (performance.now() - t0 > 10000) throw new Error(`rename ${name} not seen within 10 s`);
            await sleep(1);
        }
        lags.push(performance.now() - t0);
        await sleep(20);
    }
    return lags;
}

// ---- the measurements -------------------------------------------------------------------------

async function main() {
    const { authors, reader, slugs } = await seed();
    const slug = slugs[slugs.length - 1];
    const commented = slugs[0];
    const loginBody = JSON.stringify({ user: { email: 'reader@example.com', password: 'password123' } });
    const rows = [];
    const add = (kind, round, s, extra = {}) => {
        rows.push({ kind, round, rps: s.rps, p50: s.latency_us.p50, p99: s.latency_us.p99, failed: s.failed, requests: s.requests, cmd: s.cmd, pressure: s.pressure, ...extra });
        console.error(`  ${kind} round ${round}: ${Math.round(s.rps)}/s p50 ${s.latency_us.p50} us p99 ${s.latency_us.p99} us failed ${s.failed} ${JSON.stringify(s.status)} cpu pressure ${s.pressure.toFixed(0)}%`);
    };
    // warm-up: caches, connections, prepared statements
    await load(`/api/articles/${slug}`, { token: reader.token, secs: 2 });
    await load('/api/articles?limit=20', { token: reader.token, secs: 2 });
    for (let round = 1; round <= ROUNDS; round++) {
        add('article', round, await load(`/api/articles/${slug}`, { token: reader.token }));
        add('list', round, await load('/api/articles?limit=20', { token: reader.token }));
        add('comment', round, await load(`/api/articles/${commented}/comments`, {
            method: 'POST', token: reader.token, body: '{"comment":{"body":"Thank you for this article, it was a good read."}}', conns: 64,
        }));
        let from = logAt();
        const idle = await load(`/api/articles/${slug}`, { token: reader.token, rate: READ_RATE, conns: 32 });
        const idleGw = gatewayP99(from, `/api/articles/${slug}`);
        add('reads idle', round, idle, { gw_p99: idleGw });
        from = logAt();
        const [busy, logins] = await Promise.all([
            load(`/api/articles/${slug}`, { token: reader.token, rate: READ_RATE, conns: 32 }),
            load('/api/users/login', { method: 'POST', body: loginBody, rate: 50, conns: 32 }),
        ]);
        const busyGw = gatewayP99(from, `/api/articles/${slug}`);
        add('reads with logins', round, busy, { ratio: busy.latency_us.p99 / idle.latency_us.p99, gw_p99: busyGw, gw_ratio: busyGw / idleGw });
        add('logins', round, logins);
        const bg = loadInBackground(`/api/articles/${slug}`, { token: reader.token });
        const psi = psiNow();
        let lags, during;
        try {
            await sleep(500);
            lags = await lag(authors[0], slugs[0], Math.ceil(LAG_N / ROUNDS)); // slugs[0] is authors[0]'s
        } finally {
            during = await bg.stop();
        }
        rows.push({ kind: 'lag', round, p50: quantile(lags, 0.5) * 1000, p99: quantile(lags, 0.99) * 1000, max: Math.max(...lags) * 1000, requests: lags.length, rps: during.rps, failed: during.failed, pressure: psiSince(psi) });
        console.error(`  lag round ${round}: ${lags.length} renames, p50 ${quantile(lags, 0.5).toFixed(1)} ms p99 ${quantile(lags, 0.99).toFixed(1)} ms max ${Math.max(...lags).toFixed(1)} ms (reads meanwhile ${Math.round(during.rps)}/s)`);
        if (round === ROUNDS) rows.lagAll = lags;
    }
    report(rows);
}

function report(rows) {
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    const dir = path.join(ROOT, 'bench', 'results');
    fs.mkdirSync(dir, { recursive: true });
    const csv = path.join(dir, `blog-${stamp}.csv`);
    const cols = ['kind', 'round', 'rps', 'p50', 'p99', 'max', 'failed', 'requests', 'ratio', 'gw_p99', 'gw_ratio', 'pressure', 'cmd'];
    fs.writeFileSync(csv, `${cols.join(',')}\n${rows.map((r) => cols.map((c) => (r[c] === undefined ? '' : c === 'cmd' ? `"${r[c].replace(/"/g, '""')}"` : r[c])).join(',')).join('\n')}\n`);
    const of = (kind) => rows.filter((r) => r.kind === kind);
    const med = (kind, f) => median(of(kind).map((r) => r[f]));
    const fmt = (n) => Math.round(n).toLocaleString('en-US');
    const failed = (kind) => of(kind).reduce((s, r) => s + (r.failed || 0), 0);
    const verdict = (ok) => (ok ? 'met' : '**missed**');
    const cmd = (kind) => `\`${of(kind)[0].cmd}\``;
    const pct = (kind) => `${Math.round(med(kind, 'pressure'))} %`;
    const lines = [
        `The blog through the gateway (${path.relative(ROOT, csv)}; ${ROUNDS} rounds of ${SECS} s, medians; load ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]} at the end; ` +
        'CPU pressure: the share of the run in which some runnable task of the machine waited for a CPU, /proc/pressure/cpu)',
        '',
        '| measurement | command | median | p50 / p99 | failed | CPU pressure | target |',
        '|---|---|---:|---:|---:|---:|---|',
        `| \`GET /api/articles/{slug}\`, token | ${cmd('article')} | ${fmt(med('article', 'rps'))}/s | ${fmt(med('article', 'p50'))} / ${fmt(med('article', 'p99'))} µs | ${failed('article')} | ${pct('article')} | >= 15,000/s: ${verdict(med('article', 'rps') >= 15000)} |`,
        `| \`GET /api/articles?limit=20\`, token | ${cmd('list')} | ${fmt(med('list', 'rps'))}/s | ${fmt(med('list', 'p50'))} / ${fmt(med('list', 'p99'))} µs | ${failed('list')} | ${pct('list')} | >= 5,000/s: ${verdict(med('list', 'rps') >= 5000)} |`,
        `| \`POST /api/articles/{slug}/comments\`, durable | ${cmd('comment')} | ${fmt(med('comment', 'rps'))}/s | ${fmt(med('comment', 'p50'))} / ${fmt(med('comment', 'p99'))} µs | ${failed('comment')} | ${pct('comment')} | >= 3,000/s: ${verdict(med('comment', 'rps') >= 3000)} |`,
        `| reads at ${fmt(READ_RATE)}/s, alone | ${cmd('reads idle')} | ${fmt(med('reads idle', 'rps'))}/s | ${fmt(med('reads idle', 'p50'))} / ${fmt(med('reads idle', 'p99'))} µs | ${failed('reads idle')} | ${pct('reads idle')} | |`,
        `| the same reads beside 50 logins/s | ${cmd('logins')} | ${fmt(med('reads with logins', 'rps'))}/s | ${fmt(med('reads with logins', 'p50'))} / ${fmt(med('reads with logins', 'p99'))} µs | ${failed('reads with logins')} | ${pct('reads with logins')} | p99 <= 2x alone: ${med('reads with logins', 'ratio').toFixed(2)}x, ${verdict(med('reads with logins', 'ratio') <= 2)} (at the gateway: p99 ${fmt(med('reads idle', 'gw_p99'))} µs alone, ${fmt(med('reads with logins', 'gw_p99'))} µs beside logins, ${med('reads with logins', 'gw_ratio').toFixed(2)}x) |`,
        `| the logins themselves | | ${fmt(med('logins', 'rps'))}/s | ${fmt(med('logins', 'p50'))} / ${fmt(med('logins', 'p99'))} µs | ${failed('logins')} | | |`,
        `| rename -> articles' author (event lag), beside \`article\` load | PUT /api/user, then GET the article every ms | ${of('lag').reduce((s, r) => s + r.requests, 0)} renames | ${(med('lag', 'p50') / 1000).toFixed(1)} / ${(med('lag', 'p99') / 1000).toFixed(1)} ms | | ${pct('lag')} | p99 <= 50 ms: ${verdict(med('lag', 'p99') <= 50000)} |`,
    ];
    const md = lines.join('\n');
    fs.writeFileSync(csv.replace(/\.csv$/, '.md'), `${md}\n`);
    console.log(md);
}

// ---- the run ----------------------------------------------------------------------------------

const blog = new Blog('bench');
await blog.up();
const base = blog.url;
console.error(`bench/blog: ${blog.upLine} (${blog.dir})`);
let ok = false;
try {
    await main();
    ok = true;
} finally {
    if (!ok) blog.failed = true;
    await blog.down();
}
