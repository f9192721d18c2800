// The blog on an external three-broker Kafka cluster (broker.external, docs/scale-out.md):
// tandem-mock-cluster (librdkafka's mock cluster as a process of its own, three brokers on
// 127.0.0.1; tests/integration/mock_cluster.c says what it is and is not) with the blog's topics
// made as an operator would on a cluster without the admin API, and the repository's tandem.yaml
// with broker: { external: <its bootstrap list>, replication_factor: 3, topics: [...] }, the
// services whose events matter only (users, articles, comments, activity). `tandem up` starts no
// broker, finds the topics with the replication factor asked for, and points the services at the
// cluster.
//
// Then a workload through the gateway (registrations, articles and their retitles, comments and
// their deletions, favorites, follows, renames) by clients that retry 5xx answers and lost
// connections, during which every partition leader of the blog's topics moves to another broker
// twice, and the broker leading most of them goes down for 5 s and comes back (its partitions
// have no leader meanwhile: the mock cluster elects none, as a cluster whose in-sync replicas
// are all on that broker). Afterwards nothing is lost: every write the clients saw acknowledged
// is in its owner's data, every read model equals the owners' data (the checks of
// system-chaos.test.mjs, in convergence.mjs), and every event of the owners' outboxes is in its
// topic, read back from the cluster. Bounded in time; no service may restart.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { after, before, test } from 'node:test';

import { differences, topicEventsMatch } from './convergence.mjs';
import { BIN, api, sleep } from './lib.mjs';
import { checkResponses } from './schemas.mjs';
import { Blog } from './tandem.mjs';

checkResponses();

const TOPICS = ['users', 'articles', 'comments', 'activity'];
const OPS = Number(process.env.TANDEM_CLUSTER_OPS || 1000); // at least; more while disturbed
const CLIENTS = 6;
let cluster, blog, base, upLog;

// ---- the cluster: tandem-mock-cluster, one command a line on its stdin, one answer a line --------

class MockCluster {
    async start() {
        this.proc = spawn(path.join(BIN, 'tandem-mock-cluster'), ['--brokers', '3', '--max-seconds', '290'],
            { stdio: ['pipe', 'pipe', 'inherit'] });
        this.lines = readline.createInterface({ input: this.proc.stdout });
        this.waiting = [];
        this.lines.on('line', (l) => this.waiting.shift()?.(l));
        const first = await this.next(10000);
        const m = /^bootstrap (\S+)$/.exec(first);
        if (!m) throw new Error(`tandem-mock-cluster said: ${first}`);
        this.bootstrap = m[1];
        return this;
    }

    next(timeout = 10000) {
        return new Promise((resolve, reject) => {
            const t = setTimeout(() => reject(new Error('tandem-mock-cluster did not answer')), timeout);
            this.waiting.push((l) => {
                clearTimeout(t);
                resolve(l);
            });
        });
    }

    // One command; resolves its answer's words after "ok", throws on "error".
    async cmd(line) {
        const answer = this.next();
        this.proc.stdin.write(`${line}\n`);
        const a = await answer;
        if (!a.startsWith('ok')) throw new Error(`mock cluster: ${line}: ${a}`);
        return a.split(' ').slice(1);
    }

    // {partitions, replicas, leaders[]} of a topic, from the cluster's metadata.
    async describe(topic) {
        const w = await this.cmd(`describe ${topic}`);
        return { partitions: Number(w[2]), replicas: Number(w[4]), leaders: w[6].split(',').map(Number) };
    }

    async stop() {
        if (!this.proc || this.proc.exitCode !== null) return;
        const exited = new Promise((r) => this.proc.once('exit', r));
        this.proc.stdin.end('quit\n');
        const t = setTimeout(() => this.proc.kill('SIGKILL'), 10000);
        await exited;
        clearTimeout(t);
    }
}

before(async () => {
    cluster = await new MockCluster().start();
    // the topics, made beforehand: the mock cluster answers no CreateTopics (as some managed
    // clusters do not for applications); `up` finds them and reports their replication factor
    for (const t of TOPICS) await cluster.cmd(`create ${t} 4`);
    blog = new Blog('cluster', {
        edit: (doc) => {
            doc.broker = { external: cluster.bootstrap, replication_factor: 3, topics: TOPICS };
            for (const svc of Object.keys(doc.services)) {
                if (!['users', 'articles', 'comments', 'activity'].includes(svc)) delete doc.services[svc];
            }
        },
    });
    blog.brokers = cluster.bootstrap.split(',')[0];
    // blog.up(), keeping what the supervisor logged before it detached (the topics it found)
    const r = await blog.cli('up', '--detach', { ok: [0, 1] });
    if (r.code !== 0) {
        blog.failed = true;
        throw new Error(`tandem up failed (${blog.dir}):\n${r.stdout}${r.stderr}\n${blog.tail()}`);
    }
    upLog = r.stderr;
    base = blog.url;
});

after(async () => {
    try {
        if (blog) await blog.down();
    } finally {
        await cluster?.stop();
    }
});

// ---- the client: retries 5xx and lost connections, like a browser app would -------------------

const stats = { requests: 0, retries: 0, byStatus: {} };

async function call(method, p, opts = {}) {
    const end = Date.now() + 60000;
    let retried = false;
    for (let wait = 50; ; wait = Math.min(wait * 2, 1000)) {
        let r;
        try {
            stats.requests++;
            r = await api(base, method, p, opts);
        } catch (e) {
            if (e.name === 'SchemaError') throw e;
            r = { status: 0, text: String(e) };
        }
        stats.byStatus[r.status] = (stats.byStatus[r.status] || 0) + 1;
        if (r.status !== 0 && r.status < 500) return { ...r, retried };
        if (Date.now() > end) throw new Error(`${method} ${p}: still ${r.status} after 60 s: ${r.text}`);
        stats.retries++;
        retried = true;
        await sleep(wait);
    }
}

// ---- the workload (system-chaos's operations, no deletions of articles) ------------------------

const model = { users: [], articles: [], comments: [] };
let serial = 0;
const unexpected = [];
const counts = {};

function expect(what, r, ok) {
    counts[what] = (counts[what] || 0) + 1;
    if (!ok.includes(r.status)) unexpected.push(`${what}: ${r.status} ${r.text?.slice(0, 200)}`);
    return ok.includes(r.status) && r.status < 300;
}

async function registerUser() {
    const n = `cl${process.pid}u${++serial}`;
    const user = { username: n, email: `${n}@example.com`, password: 'password123' };
    for (;;) {
        const r = await call('POST', '/api/users', { body: { user } });
        if (r.status === 201) {
            user.token = r.json.user.token;
            break;
        }
        expect('register', r, [201, 422]); // 422: an earlier attempt registered it
        const l = await call('POST', '/api/users/login', { body: { user: { email: user.email, password: user.password } } });
        if (l.status === 200) {
            user.token = l.json.user.token;
            break;
        }
        if (!r.retried) return null;
    }
    counts.register = (counts.register || 0) + 1;
    model.users.push(user);
    return user;
}

function rng(seed) { // mulberry32
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}
const pick = (r, xs) => xs[Math.floor(r() * xs.length)];

const OPERATIONS = [
    [4, async () => { if (model.users.length < 40) await registerUser(); }],
    [14, async (r) => {
        const u = pick(r, model.users);
        const res = await call('POST', '/api/articles', { token: u.token, body: { article: { title: `Cluster ${process.pid} ${++serial}`, description: 'd', body: 'b', tagList: [`t${Math.floor(r() * 5)}`] } } });
        if (expect('publish', res, [201])) model.articles.push({ slug: res.json.article.slug, author: u });
    }],
    [6, async (r) => {
        const a = pick(r, model.articles);
        if (a.busy) return; // one retitle of an article at a time: the last answer is its slug
        a.busy = true;
        try {
            const res = await call('PUT', `/api/articles/${a.slug}`, { token: a.author.token, body: { article: { title: `Retitled ${process.pid} ${++serial}` } } });
            if (expect('retitle', res, [200])) a.slug = res.json.article.slug;
        } finally {
            a.busy = false;
        }
    }],
    [14, async (r) => {
        const a = pick(r, model.articles);
        const u = pick(r, model.users);
        a.fans = a.fans || new Set();
        const un = a.fans.has(u) && r() < 0.6;
        if (un) a.fans.delete(u);
        else a.fans.add(u);
        const res = await call(un ? 'DELETE' : 'POST', `/api/articles/${a.slug}/favorite`, { token: u.token });
        expect('favorite', res, [200, 404]); // 404: retitled meanwhile by another client
    }],
    [18, async (r) => {
        const a = pick(r, model.articles);
        const u = pick(r, model.users);
        const res = await call('POST', `/api/articles/${a.slug}/comments`, { token: u.token, body: { comment: { body: `c${++serial}` } } });
        if (expect('comment', res, [200, 404])) model.comments.push({ article: a, id: res.json.comment.id, author: u });
    }],
    [5, async (r) => {
        const c = pick(r, model.comments);
        if (!c) return;
        model.comments.splice(model.comments.indexOf(c), 1);
        const res = await call('DELETE', `/api/articles/${c.article.slug}/comments/${c.id}`, { token: c.author.token });
        expect('delete comment', res, [204, 404]);
    }],
    [10, async (r) => {
        const a = pick(r, model.users);
        const b = pick(r, model.users);
        if (a === b) return;
        a.follows = a.follows || new Set();
        const un = a.follows.has(b) && r() < 0.6;
        if (un) a.follows.delete(b);
        else a.follows.add(b);
        const res = await call(un ? 'DELETE' : 'POST', `/api/profiles/${b.username}/follow`, { token: a.token });
        expect('follow', res, [200, 404]);
    }],
    [7, async (r) => {
        const u = pick(r, model.users);
        if (u.busy) return; // one rename of a user at a time: the last answer is the name
        u.busy = true;
        try {
            const username = `cl${process.pid}r${++serial}`;
            const res = await call('PUT', '/api/user', { token: u.token, body: { user: { username, bio: `bio ${serial}` } } });
            if (expect('rename', res, [200])) {
                u.username = username;
                u.token = res.json.user.token;
            }
        } finally {
            u.busy = false;
        }
    }],
];
const TOTAL_WEIGHT = OPERATIONS.reduce((s, [w]) => s + w, 0);
let done = 0;
const stop = { done: false }; // the disturbances are over

// Operations until the disturbances are over and OPS were made in all.
async function client(r) {
    while (!stop.done || done < OPS) {
        let x = r() * TOTAL_WEIGHT;
        const op = OPERATIONS.find(([w]) => (x -= w) < 0) || OPERATIONS[0];
        await op[1](r);
        done++;
    }
}

// ---- the disturbances -----------------------------------------------------------------------

const events = [];

// Every partition of the owners' topics to the next broker (1 -> 2 -> 3 -> 1).
async function moveLeaders() {
    let moved = 0;
    for (const t of ['users', 'articles', 'comments']) {
        const d = await cluster.describe(t);
        for (let p = 0; p < d.partitions; p++) {
            await cluster.cmd(`leader ${t} ${p} ${(d.leaders[p] % 3) + 1}`);
            moved++;
        }
    }
    events.push(`${moved} leaders moved at op ${done}`);
}

// While the clients write: leaders move, 2 s later the broker leading most partitions goes down
// for 5 s, 2 s after it is back the leaders move again, and the clients go on 2 s more.
async function disturb() {
    while (done < OPS * 0.15) await sleep(50);
    await moveLeaders();
    await sleep(2000);
    // the broker that leads most partitions goes down for 5 s
    const lead = new Map();
    for (const t of TOPICS) for (const l of (await cluster.describe(t)).leaders) lead.set(l, (lead.get(l) || 0) + 1);
    const [victim, n] = [...lead].sort((a, b) => b[1] - a[1])[0];
    await cluster.cmd(`down ${victim}`);
    events.push(`broker ${victim} (leader of ${n} partitions) down at op ${done}`);
    await sleep(5000);
    await cluster.cmd(`up ${victim}`);
    events.push(`broker ${victim} up at op ${done}`);
    await sleep(2000);
    await moveLeaders();
    await sleep(2000);
    stop.done = true;
}

test('cluster: the blog through leader moves and a broker restart loses nothing', async () => {
    const t0 = Date.now();
    // up made nothing and found the topics with the replication factor asked for
    assert.equal((await blog.ps()).filter((r) => r.name === 'broker').length, 0, 'ps shows no broker');
    assert.match(upLog, new RegExp(`broker: external ${cluster.bootstrap}: 3 broker\\(s\\); topics get 4 partition\\(s\\), replication factor 3`));
    for (const t of TOPICS) assert.match(upLog, new RegExp(`broker: topic ${t} exists: 4 partition\\(s\\), replication factor 3\n`));
    for (const t of TOPICS) {
        const d = await cluster.describe(t);
        assert.equal(d.replicas, 3, `${t}: replication factor`);
        assert.equal(d.partitions, 4, `${t}: partitions`);
    }
    const r = rng(Number(process.env.TANDEM_CLUSTER_SEED || 1));
    await Promise.all(Array.from({ length: 8 }, () => registerUser()));
    assert.equal(model.users.length, 8);
    for (let i = 0; i < 4; i++) await OPERATIONS[1][1](r);
    const disturbing = disturb().finally(() => (stop.done = true));
    const seeds = Array.from({ length: CLIENTS }, () => Math.floor(r() * 2 ** 31));
    await Promise.all(seeds.map((s) => client(rng(s))));
    await disturbing;
    console.log(`workload: ${done} operations by ${CLIENTS} clients in ${Date.now() - t0} ms, ${stats.requests} requests, ${stats.retries} retried; statuses ${JSON.stringify(stats.byStatus)}`);
    console.log(`operations: ${JSON.stringify(counts)}`);
    console.log(`cluster: ${events.join('; ')}`);
    assert.deepEqual(unexpected, []);
    assert.equal(events.length, 4);

    // every acknowledged write is in its owner's data
    const names = new Set((await blog.query('users', 'SELECT username FROM users')).map((x) => x[0]));
    const lostUsers = model.users.filter((u) => !names.has(u.username));
    assert.deepEqual(lostUsers.map((u) => u.username), [], 'acknowledged users missing');
    const slugs = new Set((await blog.query('articles', 'SELECT slug FROM articles')).map((x) => x[0]));
    assert.deepEqual(model.articles.filter((a) => !slugs.has(a.slug)).map((a) => a.slug), [], 'acknowledged articles missing');
    const ids = new Set((await blog.query('comments', 'SELECT id FROM comments')).map((x) => x[0]));
    assert.deepEqual(model.comments.filter((c) => !ids.has(String(c.id))).map((c) => c.id), [], 'acknowledged comments missing');

    // the read models converge on the owners' data
    await blog.ready(30000);
    const t1 = Date.now();
    let last;
    for (;;) {
        last = await differences(blog);
        if (last.diffs.length === 0 || Date.now() - t1 > 90000) break;
        await sleep(1000);
    }
    const converged = Date.now() - t1;
    assert.deepEqual(last.diffs, [], `not converged ${converged} ms after the workload`);
    console.log(`converged ${converged} ms after the workload; totals ${JSON.stringify(last.totals)}`);

    // every event of the outboxes is in its topic, read back from the cluster
    const read = await topicEventsMatch(blog, last, TOPICS);
    console.log(`topics: ${read.records} records read back, ${read.distinct} distinct events; whole test ${Date.now() - t0} ms`);
});
