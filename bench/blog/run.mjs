#!/usr/bin/env node
// bench/blog/run.mjs: the blog as a system, measured through the gateway, on SQLite and on
// PostgreSQL (bench/blog/run.sh builds and calls it; make bench-blog).
//
//   node bench/blog/run.mjs [BUILD_DIR (default build)]
//       BACKENDS="sqlite postgres" ROUNDS=3 SECS=10 CONNS=32 ARTICLES=1000 READ_RATE=5000 LAG_N=200
//
// BACKENDS (default: both when Debian's postgresql-15 is installed, else sqlite) runs the whole
// benchmark once per backend, one after the other, each in a process of its own (BENCH_BACKEND set:
// it measures that one and hands its rows back), then prints the tables below for all of them.
// On postgres the services keep their data in PostgreSQL 15 (tests/blog/tandem.mjs with
// TANDEM_TEST_PG=1: one server, users, articles, comments and activity a database each in
// TANDEM_DATABASE_URL), started with fsync on (TANDEM_PG_FSYNC=on; checked with SHOW fsync before
// measuring) and synchronous_commit on: a comment's 200 means it is on disk, as SQLite's
// synchronous=FULL means on the other. PG_SET="name=value ..." changes server settings for an
// experiment before the seeding (ALTER SYSTEM and a reload; the tables name them), e.g.
// PG_SET=plan_cache_mode=force_generic_plan.
//
// The system is the repository's tandem.yaml as `make run` starts it (tests/blog/tandem.mjs
// moves it to free ports and this build's binaries; no gateway cache), under BUILD_DIR/blog-bench
// (the work tree's disk: fsyncs are real; PostgreSQL's directory is /tmp/tandem-blogpg.*, the
// same disk here). Seeded through the gateway: 10 authors, ARTICLES articles of 2.4 KB with 3 tags
// each, a reader who follows the authors and favorited 50 of them. Then ROUNDS rounds of, each with
// build/bin/tandem-load (keep-alive, closed loop unless a rate is given), SECS seconds, CONNS
// connections:
//
//   article   GET /api/articles/{slug} with the reader's token          target >= 15,000/s
//   list      GET /api/articles?limit=20 with the token (20 articles, authors, tags)  >= 5,000/s
//   comment   POST /api/articles/{slug}/comments (each committed, synchronous=FULL or fsync on,
//             before its 200)                                             target >= 3,000/s
//   login     reads at READ_RATE/s (GET article) alone, then beside 50 logins/s
//             (POST /api/users/login): the reads' p99 with logins <= 2x without
//   lag       LAG_N renames of an author (PUT /api/user) while `article` load runs; for each, the
//             time from the rename's 200 until GET /api/articles/{slug} (articles' read model,
//             fed by user.updated) shows the new name, polled every ms      p99 <= 50 ms
//
// CPU per request (issue 13's target: the PostgreSQL read path, `article` and `list`, at most 1.5x
// SQLite's CPU per request). For each measurement made by one tandem-load alone, over the window
// from just before it starts until it exited: the machine's busy CPU (/proc/stat: user + nice +
// system + irq + softirq + steal, all cores) minus the load generator's own (its user + system
// time, from bash's `times` around it), divided by the answers it got: what the serving side
// spent per request, in µs. Beside it, where that CPU went, from utime + stime in /proc/<pid>/stat
// at both ends of the window: nginx (the gateway's master and workers), each service (the pids of
// `tandem ps --json`, all instances), the broker, the supervisor, PostgreSQL (the postmaster and
// its children; a backend counted under the database its process title names), irq + softirq
// (/proc/stat: the kernel's loopback TCP work runs mostly there, charged to no process), and
// "unattributed": the rest of the machine's busy CPU (this driver, the kernel's other work, and
// anything else running on the machine: on a quiet machine a few µs; more says the figures are
// disturbed). The reads beside logins are two load generators at once: no CPU figures for them.
// Each round starts with 5 s without requests: what the system burns idle (ms of CPU a second;
// on PostgreSQL the outbox relays poll their database every 20 ms). Before each of these
// measurements the run waits (up to 2 minutes) until the system's processes are back under 3x
// the first idle figure: the events a measurement published (activity applying the comments)
// must not be charged to the next one.
//
// Beside each measurement: the machine's CPU pressure during it (Linux PSI: the share of the time
// in which some runnable task waited for a CPU; on a machine shared with other work it says how
// much of a latency is queueing for a core), and for the reads beside logins the p99 nginx itself
// logged (from its first read of a request to its answer's end).
//
// Prints Markdown tables (per backend: command, medians, target; then the backends side by side
// with CPU per request and the PostgreSQL/SQLite ratio; then where the CPU goes), writes the raw
// rows to bench/results/blog-<UTC time>.csv and the tables to .md.
import { execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const SELF = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SELF), '..', '..');
const BUILD = path.resolve(process.argv[2] || path.join(ROOT, 'build'));
const WORK = path.join(BUILD, 'blog-bench');
fs.mkdirSync(WORK, { recursive: true });
const PG_BIN = process.env.PG_BIN || '/usr/lib/postgresql/15/bin';
const ENGINES = { sqlite: 'SQLite', postgres: 'PostgreSQL' };
const BACKENDS = (process.env.BACKENDS || (fs.existsSync(path.join(PG_BIN, 'postgres')) ? 'sqlite postgres' : 'sqlite'))
    .split(/[\s,]+/).filter(Boolean);
for (const b of BACKENDS) {
    if (!ENGINES[b]) throw new Error(`bench/blog: BACKENDS: unknown backend ${b} (sqlite, postgres)`);
}
const BACKEND = process.env.BENCH_BACKEND; // set in the process that measures one backend

const ROUNDS = Number(process.env.ROUNDS || 3);
const SECS = Number(process.env.SECS || 10);
const CONNS = Number(process.env.CONNS || 32);
const ARTICLES = Number(process.env.ARTICLES || 1000);
const READ_RATE = Number(process.env.READ_RATE || 5000);
const LAG_N = Number(process.env.LAG_N || 200);
const IDLE_SECS = 5;
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

// In the measuring process only: lib.mjs and tandem.mjs read TANDEM_TEST_PG when loaded.
let api, sleep, Blog;
if (BACKEND) {
    process.env.TANDEM_TEST_BIN = path.join(BUILD, 'bin');
    process.env.TMPDIR = WORK;
    ({ api, sleep } = await import(path.join(ROOT, 'tests', 'blog', 'lib.mjs')));
    ({ Blog } = await import(path.join(ROOT, 'tests', 'blog', 'tandem.mjs')));
}

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
    const article = (n) => must('POST', '/api/articles', {
        token: authors[n % authors.length].token,
        body: { article: { title: `Article number ${n}`, description: `What article ${n} is about`, body: text, tagList: [`tag${n % 7}`, `topic${n % 11}`, 'blog'] } },
    }, 201);
    for (let i = 0; i < ARTICLES; i += 20) {
        const batch = await Promise.all(Array.from({ length: Math.min(20, ARTICLES - i) }, (_, k) => article(i + k)));
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

// ---- CPU --------------------------------------------------------------------------------------

const TICK_US = 1e6 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()); // /proc's unit

// The machine's busy and irq + softirq time so far (/proc/stat's first line, in ticks).
function machineTicks() {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest is inside user)
    return { busy: f[0] + f[1] + f[2] + f[5] + f[6] + f[7], irq: f[5] + f[6] };
}

// Every process's parent and user + system ticks so far (/proc/<pid>/stat: a process's figures
// cover all its threads, the ended ones too).
function processTicks() {
    const procs = new Map();
    for (const d of fs.readdirSync('/proc')) {
        if (!/^\d+$/.test(d)) continue;
        let stat;
        try {
            stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
        } catch {
            continue; // gone meanwhile
        }
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3, state
        procs.set(Number(d), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) });
    }
    return procs;
}

const snapshot = () => ({ machine: machineTicks(), procs: processTicks() });

// Who a process is for the CPU breakdown (cpu.pids: pid -> group from `tandem ps --json`), or null.
const pgTitles = new Map(); // pid -> the database its process title names, or "server"
function groupOf(pid, info) {
    const c = cpu.ctx;
    if (c.pids.has(pid)) return c.pids.get(pid);
    if (info.ppid === c.gateway) return 'gateway'; // nginx's workers
    if (pid === c.supervisor) return 'tandem';
    if (c.pg && (pid === c.pg || info.ppid === c.pg)) {
        if (!pgTitles.has(pid)) {
            let title = '';
            try {
                title = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
            } catch {
                // gone
            }
            // a backend: "postgres: USER DATABASE HOST(PORT) STATE"
            const m = /^postgres: \S+ (\S+) \S+\(\d+\)/.exec(title);
            pgTitles.set(pid, m ? m[1] : 'server');
        }
        return `pg:${pgTitles.get(pid)}`;
    }
    return null;
}

// The CPU (µs) spent since snapshot a: the machine's busy and irq time, and each group's.
function cpuSince(a) {
    const b = snapshot();
    const groups = {};
    for (const [pid, info] of b.procs) {
        const g = groupOf(pid, info);
        if (!g) continue;
        const before = a.procs.get(pid);
        const ticks = info.ticks - (before && before.ppid === info.ppid ? before.ticks : 0); // new: all its time
        groups[g] = (groups[g] || 0) + ticks * TICK_US;
    }
    return { busy: (b.machine.busy - a.machine.busy) * TICK_US, irq: (b.machine.irq - a.machine.irq) * TICK_US, groups };
}

// The pids the breakdown names (after `up`, before measuring): `tandem ps --json`'s rows by
// service, nginx's master (its workers by their parent), the supervisor (the broker's parent),
// PostgreSQL's postmaster.
const cpu = { ctx: null };
async function cpuContext() {
    const rows = await blog.ps();
    const pids = new Map(rows.filter((r) => r.pid).map((r) => [r.pid, r.service]));
    const broker = rows.find((r) => r.service === 'broker');
    const gateway = rows.find((r) => r.service === 'gateway');
    cpu.ctx = {
        pids,
        gateway: gateway && gateway.pid,
        supervisor: broker && processTicks().get(broker.pid).ppid,
        pg: blog.pg ? blog.pg.pid : null,
    };
}

// Waits until the system's processes are back near what they burn idle (at most 3x the first
// round's idle figure, or 50 ms a second), for up to limit ms: what a measurement wrote goes on
// costing CPU after it (activity applies 10 s of comments for tens of seconds), and would be
// charged to the next one. Resolves the ms it waited.
let baseline = null; // the system's processes' ms of CPU a second with no requests (round 1)
async function settle(limit = 120000) {
    const t0 = Date.now();
    while (baseline !== null && Date.now() - t0 < limit) {
        const before = snapshot();
        await sleep(1000);
        const c = cpuSince(before);
        const ms = Object.values(c.groups).reduce((a, b) => a + b, 0) / 1000; // over one second
        if (ms <= Math.max(3 * baseline, 50)) break;
    }
    return Date.now() - t0;
}

// The per-request figures of one measurement: µs of CPU per answer.
function perRequest(c, loadUs, answers) {
    const per = (us) => us / answers;
    const out = { cpu_us: per(c.busy - loadUs), load_us: per(loadUs), irq_us: per(c.irq) };
    let procs = 0;
    for (const [g, us] of Object.entries(c.groups)) {
        out[`cpu_${g}`] = per(us);
        procs += us;
    }
    out.procs_us = per(procs);
    out.unattributed_us = per(c.busy - loadUs - procs - c.irq);
    return out;
}

// One tandem-load run; resolves its JSON summary, the command line as a user would type it, and
// (unless cpu is false: another load runs beside it) the CPU per request (perRequest).
async function load(p, { method = 'GET', body, token, conns = CONNS, secs = SECS, rate, cpu: withCpu = true } = {}) {
    const args = ['-c', String(conns), '-d', String(secs), '--json', '--allow-failures'];
    if (rate) args.push('-r', String(rate));
    if (method !== 'GET') args.push('-m', method);
    if (body) args.push('-b', body);
    if (token) args.push('-H', `Authorization: Token ${token}`);
    args.push(`${base}${p}`);
    const settled = withCpu ? await settle() : 0;
    const psi = psiNow();
    const before = snapshot();
    // bash's `times` after it: the user and system time of its children, i.e. tandem-load's
    const { stdout, stderr } = await run('bash', ['-c', '"$@"; rc=$?; times >&2; exit $rc', 'tandem-load', LOAD, ...args],
        { maxBuffer: 1 << 20 });
    const used = cpuSince(before);
    const pressure = psiSince(psi);
    const lines = stderr.trimEnd().split('\n');
    const t = /^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/.exec(lines.pop());
    if (!t) throw new Error(`tandem-load: no times after it: ${stderr.slice(-300)}`);
    lines.pop(); // the shell's own times
    if (lines.length) process.stderr.write(`${lines.join('\n')}\n`);
    const loadUs = (Number(t[1]) * 60 + Number(t[2]) + Number(t[3]) * 60 + Number(t[4])) * 1e6;
    const summary = JSON.parse(stdout);
    const cmd = `tandem-load ${args.filter((a) => a !== '--json' && a !== '--allow-failures')
        .map((a) => (a.startsWith('Authorization') ? "'Authorization: Token $TOKEN'" : /[ {"?&]/.test(a) ? `'${a}'` : a)).join(' ')}`
        .replace(base, 'http://GATEWAY');
    return { ...summary, cmd, pressure, cpu: withCpu && summary.responses > 0 ? { ...perRequest(used, loadUs, summary.responses), settle_ms: settled } : {} };
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

// ---- the measurements (one backend) -----------------------------------------------------------

async function main() {
    const { authors, reader, slugs } = await seed();
    const slug = slugs[slugs.length - 1];
    const commented = slugs[0];
    const loginBody = JSON.stringify({ user: { email: 'reader@example.com', password: 'password123' } });
    const rows = [];
    const add = (kind, round, s, extra = {}) => {
        rows.push({ kind, round, rps: s.rps, p50: s.latency_us.p50, p99: s.latency_us.p99, failed: s.failed, requests: s.requests, cmd: s.cmd, pressure: s.pressure, ...s.cpu, ...extra });
        const c = s.cpu.cpu_us === undefined ? '' : ` cpu ${s.cpu.cpu_us.toFixed(0)} us/request (processes ${s.cpu.procs_us.toFixed(0)}, load generator ${s.cpu.load_us.toFixed(0)}; settled ${s.cpu.settle_ms} ms before)`;
        console.error(`  ${BACKEND} ${kind} round ${round}: ${Math.round(s.rps)}/s p50 ${s.latency_us.p50} us p99 ${s.latency_us.p99} us failed ${s.failed} ${JSON.stringify(s.status)} cpu pressure ${s.pressure.toFixed(0)}%${c}`);
    };
    await cpuContext();
    // warm-up: caches, connections, prepared statements
    await load(`/api/articles/${slug}`, { token: reader.token, secs: 2 });
    await load('/api/articles?limit=20', { token: reader.token, secs: 2 });
    for (let round = 1; round <= ROUNDS; round++) {
        const settled = await settle();
        rows.push({ kind: 'idle', round, ...(await idleCpu(IDLE_SECS)), settle_ms: settled });
        if (baseline === null) baseline = rows[rows.length - 1].procs_us;
        console.error(`  ${BACKEND} idle round ${round}: ${rows[rows.length - 1].procs_us.toFixed(0)} ms of CPU a second in the system's processes (after ${settled} ms settling)`);
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
            load(`/api/articles/${slug}`, { token: reader.token, rate: READ_RATE, conns: 32, cpu: false }),
            load('/api/users/login', { method: 'POST', body: loginBody, rate: 50, conns: 32, cpu: false }),
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
        console.error(`  ${BACKEND} lag round ${round}: ${lags.length} renames, p50 ${quantile(lags, 0.5).toFixed(1)} ms p99 ${quantile(lags, 0.99).toFixed(1)} ms max ${Math.max(...lags).toFixed(1)} ms (reads meanwhile ${Math.round(during.rps)}/s)`);
    }
    return rows;
}

// The system with no requests for secs: its CPU in ms a second (perRequest over the ms).
async function idleCpu(secs) {
    const before = snapshot();
    await sleep(secs * 1000);
    return perRequest(cpuSince(before), 0, secs * 1000);
}

// What the backend was: on PostgreSQL its version and durability settings (fsync must be on).
async function backendInfo() {
    if (!blog.pg) return { engine: 'SQLite (WAL, synchronous=FULL)' };
    const url = blog.databases.articles;
    const show = async (what) => (await blog.pg.sql(url, `SHOW ${what}`))[0][0];
    // PG_SET="name=value ...": server settings for an experiment (ALTER SYSTEM, then a reload:
    // every session takes them), e.g. PG_SET=plan_cache_mode=force_generic_plan
    const set = (process.env.PG_SET || '').split(/\s+/).filter(Boolean).map((kv) => {
        const m = /^([a-z_]+)=([A-Za-z0-9_.]+)$/.exec(kv);
        if (!m) throw new Error(`bench/blog: PG_SET: not name=value: ${kv}`);
        return m;
    });
    for (const [, name, value] of set) await blog.pg.sql(url, `ALTER SYSTEM SET ${name} = '${value}'`);
    if (set.length) await blog.pg.sql(url, 'SELECT pg_reload_conf()');
    const info = { fsync: await show('fsync'), synchronous_commit: await show('synchronous_commit'), version: await show('server_version') };
    if (info.fsync !== 'on') throw new Error(`bench/blog: PostgreSQL runs with fsync ${info.fsync} (TANDEM_PG_FSYNC=on not honoured)`);
    const extra = [];
    for (const [, name] of set) extra.push(`, ${name} ${await show(name)}`);
    info.engine = `PostgreSQL ${info.version} (fsync ${info.fsync}, synchronous_commit ${info.synchronous_commit}${extra.join('')})`;
    return info;
}

// ---- the report (all backends) ----------------------------------------------------------------

const fmt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
const verdict = (ok) => (ok ? 'met' : '**missed**');

// The medians of one backend's rows.
function stats(rows) {
    const of = (kind) => rows.filter((r) => r.kind === kind);
    const med = (kind, f) => {
        const xs = of(kind).map((r) => r[f]).filter((x) => x !== undefined && x !== '');
        return xs.length ? median(xs) : NaN;
    };
    const failed = (kind) => of(kind).reduce((s, r) => s + (r.failed || 0), 0);
    return { of, med, failed };
}

// One backend's table: what each measurement did, its medians and its target.
function backendTable(rows) {
    const { of, med, failed } = stats(rows);
    const cmd = (kind) => `\`${of(kind)[0].cmd}\``;
    const pct = (kind) => `${Math.round(med(kind, 'pressure'))} %`;
    return [
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
}

const MEASURED = [ // the rows of the side-by-side table: [kind, label, the CPU target applies]
    ['article', '`GET /api/articles/{slug}` (read)', true],
    ['list', '`GET /api/articles?limit=20` (read)', true],
    ['comment', '`POST /api/articles/{slug}/comments` (durable write)', false],
    ['reads idle', `\`GET /api/articles/{slug}\` at ${fmt(READ_RATE)}/s`, false],
    ['idle', `no requests for ${IDLE_SECS} s: CPU in ms a second, not µs a request`, false],
];

// The backends side by side: req/s, latency, CPU per request (the machine's less the load
// generator's, and the serving processes' alone); with both backends, PostgreSQL / SQLite of each.
// The target is judged on the machine's figure; a run where more than a quarter of it is
// unattributed (other work on the machine) says so.
function sideBySide(results) {
    const names = results.map((r) => ENGINES[r.backend]);
    const both = results.length === 2 && results[0].backend === 'sqlite' && results[1].backend === 'postgres';
    const head = ['measurement', ...names.flatMap((n) => [`${n} req/s`, `${n} p50 / p99 µs`, `${n} CPU µs/request`, `${n} of which processes`])];
    if (both) head.push('CPU PostgreSQL / SQLite', 'processes PostgreSQL / SQLite', 'target (reads: CPU <= 1.5x)');
    const lines = [`| ${head.join(' | ')} |`, `|---|${head.slice(1).map(() => '---:').join('|')}|`];
    const verdicts = [];
    let disturbed = false;
    for (const [kind, label, target] of MEASURED) {
        const cells = [label];
        const cpus = [];
        const procs = [];
        for (const r of results) {
            const { med } = stats(r.rows);
            cells.push(fmt(med(kind, 'rps')), `${fmt(med(kind, 'p50'))} / ${fmt(med(kind, 'p99'))}`, fmt(med(kind, 'cpu_us')), fmt(med(kind, 'procs_us')));
            cpus.push(med(kind, 'cpu_us'));
            procs.push(med(kind, 'procs_us'));
            if (kind !== 'idle' && med(kind, 'unattributed_us') > 0.25 * med(kind, 'cpu_us')) disturbed = true;
        }
        if (both) {
            const ratio = cpus[1] / cpus[0];
            cells.push(`${ratio.toFixed(2)}x`, `${(procs[1] / procs[0]).toFixed(2)}x`, target ? `<= 1.5x: ${verdict(ratio <= 1.5)}` : '');
            if (target) verdicts.push(ratio <= 1.5);
        }
        lines.push(`| ${cells.join(' | ')} |`);
    }
    const lagCells = ['rename -> articles\' author (event lag)'];
    const loginCells = [`logins beside reads at ${fmt(READ_RATE)}/s`];
    for (const r of results) {
        const { med } = stats(r.rows);
        lagCells.push(`${of(r, 'lag').reduce((s, x) => s + x.requests, 0)} renames`, `${(med('lag', 'p50') / 1000).toFixed(1)} / ${(med('lag', 'p99') / 1000).toFixed(1)} ms`, '', '');
        loginCells.push(fmt(med('logins', 'rps')), `${fmt(med('logins', 'p50'))} / ${fmt(med('logins', 'p99'))}`, '', '');
    }
    if (both) {
        lagCells.push('', '', '');
        loginCells.push('', '', '');
    }
    lines.push(`| ${loginCells.join(' | ')} |`, `| ${lagCells.join(' | ')} |`);
    return { lines, met: both ? verdicts.every(Boolean) : undefined, disturbed };
}
const of = (r, kind) => r.rows.filter((x) => x.kind === kind);

// Where the CPU of each measurement went: µs per request, medians of the rounds.
function breakdown(results) {
    const groups = new Set();
    for (const r of results) for (const row of r.rows) for (const k of Object.keys(row)) if (k.startsWith('cpu_') && k !== 'cpu_us') groups.add(k.slice(4));
    const order = ['gateway', 'articles', 'comments', 'users', 'activity', 'broker'];
    const named = order.filter((g) => groups.has(g));
    const others = [...groups].filter((g) => !order.includes(g) && !g.startsWith('pg:')).sort(); // tandem, web, console, fleet
    const pgs = [...groups].filter((g) => g.startsWith('pg:')).sort();
    const title = { gateway: 'nginx' };
    const head = ['measurement', 'backend', 'machine − load generator', ...named.map((g) => title[g] || g),
        `other processes (${others.join(', ')})`, 'PostgreSQL (by database)', 'irq + softirq', 'unattributed', 'the load generator'];
    const lines = [`| ${head.join(' | ')} |`, `|---|---|${head.slice(2).map(() => '---:').join('|')}|`];
    for (const [kind, label] of MEASURED) {
        for (const r of results) {
            const { med } = stats(r.rows);
            const m = (g) => (groups.has(g) ? med(kind, `cpu_${g}`) : NaN);
            const sum = (gs) => gs.reduce((s, g) => s + (Number.isFinite(m(g)) ? m(g) : 0), 0);
            const pgCell = pgs.some((g) => Number.isFinite(m(g)))
                ? `${fmt(sum(pgs))} (${pgs.map((g) => [g.slice(3), m(g)]).filter(([, v]) => Math.round(v) > 0).sort((a, b) => b[1] - a[1]).map(([g, v]) => `${g} ${fmt(v)}`).join(', ')})`
                : '';
            lines.push(`| ${label} | ${ENGINES[r.backend]} | ${fmt(med(kind, 'cpu_us'))} | ${named.map((g) => fmt(m(g))).join(' | ')} | ${fmt(sum(others))} | ${pgCell} | ${fmt(med(kind, 'irq_us'))} | ${fmt(med(kind, 'unattributed_us'))} | ${fmt(med(kind, 'load_us'))} |`);
        }
    }
    return lines;
}

function report(results) {
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    const dir = path.join(ROOT, 'bench', 'results');
    fs.mkdirSync(dir, { recursive: true });
    const csv = path.join(dir, `blog-${stamp}.csv`);
    const extra = new Set();
    for (const r of results) for (const row of r.rows) for (const k of Object.keys(row)) if (/^cpu_|_us$/.test(k)) extra.add(k);
    const cols = ['backend', 'kind', 'round', 'rps', 'p50', 'p99', 'max', 'failed', 'requests', 'ratio', 'gw_p99', 'gw_ratio', 'pressure', 'settle_ms', ...[...extra].sort(), 'cmd'];
    const cell = (r, c) => (r[c] === undefined ? '' : c === 'cmd' ? `"${r[c].replace(/"/g, '""')}"` : typeof r[c] === 'number' && !Number.isInteger(r[c]) ? r[c].toFixed(2) : r[c]);
    fs.writeFileSync(csv, `${cols.join(',')}\n${results.flatMap((r) => r.rows.map((row) => cols.map((c) => cell({ backend: r.backend, ...row }, c)).join(','))).join('\n')}\n`);
    const side = sideBySide(results);
    const lines = [
        `The blog through the gateway (${path.relative(ROOT, csv)}; ${ROUNDS} rounds of ${SECS} s per backend, medians; ` +
        'CPU pressure: the share of the run in which some runnable task of the machine waited for a CPU, /proc/pressure/cpu)',
        '',
    ];
    for (const r of results) {
        lines.push(`On ${r.info.engine} (load average ${r.loadBefore} before, ${r.loadAfter} at the end):`, '', ...backendTable(r.rows), '');
    }
    lines.push('Side by side (CPU µs/request: the machine\'s busy CPU over the run minus the load generator\'s, per answer; ' +
        'of which processes: the part spent in the system\'s own processes, nginx, services, broker, PostgreSQL; medians of the rounds)' +
        (side.met === undefined ? '' : `: the PostgreSQL read path at most 1.5x SQLite's CPU per request: ${verdict(side.met)}`) +
        (side.disturbed ? ' (DISTURBED: over a quarter of some CPU figure is unattributed, other work ran on the machine; the processes\' figures are the closer ones)' : ''),
    '', ...side.lines, '',
    'Where the CPU goes (µs per request, medians of the rounds; a process\'s user + system time from /proc)', '', ...breakdown(results));
    const md = lines.join('\n');
    fs.writeFileSync(csv.replace(/\.csv$/, '.md'), `${md}\n`);
    console.log(md);
}

// ---- the run ----------------------------------------------------------------------------------

const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
let blog, base;

if (BACKEND) {
    // one backend: measure, hand the rows to the parent in BENCH_OUT
    blog = new Blog(`bench-${BACKEND}`);
    const loadBefore = loadavg();
    await blog.up();
    base = blog.url;
    console.error(`bench/blog: ${BACKEND}: ${blog.upLine} (${blog.dir})`);
    let ok = false;
    try {
        const info = await backendInfo();
        console.error(`bench/blog: ${BACKEND}: ${info.engine}`);
        const rows = await main();
        fs.writeFileSync(process.env.BENCH_OUT, JSON.stringify({ backend: BACKEND, info, rows, loadBefore, loadAfter: loadavg() }));
        ok = true;
    } finally {
        if (!ok) blog.failed = true;
        await blog.down();
    }
} else {
    const results = [];
    for (const b of BACKENDS) {
        const out = path.join(WORK, `rows-${b}-${process.pid}.json`);
        const env = { ...process.env, BENCH_BACKEND: b, BENCH_OUT: out, TANDEM_TEST_PG: b === 'postgres' ? '1' : '0', TANDEM_PG_FSYNC: 'on' };
        const code = await new Promise((resolve) => {
            const child = spawn(process.execPath, [SELF, BUILD], { env, stdio: ['ignore', 'inherit', 'inherit'] });
            child.on('exit', (c, sig) => resolve(sig ? 128 : c));
        });
        if (code !== 0) {
            console.error(`bench/blog: the ${b} run failed (exit ${code})`);
            process.exit(1);
        }
        results.push(JSON.parse(fs.readFileSync(out, 'utf8')));
        fs.rmSync(out);
    }
    report(results);
}
