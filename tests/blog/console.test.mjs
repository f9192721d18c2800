// The live console (docs/console.md) on the real blog run by `tandem up`: broker, users, articles,
// comments, the web pages and the console, behind the gateway, in a temporary project on free
// ports. Judged through the API and in chromium (playwright-core, Debian's browser):
//
//   - `up` names the console and its key file; the key file is 0600 and only the console gets the
//     control socket and the key's path;
//   - actions without the key (none, wrong) are refused (401, 403) and change nothing, at the API
//     and from the page (which asks for the key instead);
//   - from the page, with the key: comments stopped (its instances leave, its row and map node say
//     so, the blog keeps answering and its comments answer 503), events published meanwhile pile
//     up as comments' lag, comments started again (ready, lag back to 0, its route answers);
//   - a live tail shows records as they are published, key, CloudEvents attributes and JSON value
//     readable; the map draws the routes, publishes and subscriptions that flowed;
//   - a group's offsets reset only when the group is empty (409 while it has members);
//   - the fleet page draws the vehicles the fleet service holds, follows them as they move, and
//     shows only those of a box the reader sets;
//   - axe-core finds no serious or critical violation on the console's pages (light and dark);
//     none is wider than the screen; screenshots at desktop and phone size in
//     <build>/screenshots-console/ (web-pages.test.mjs owns <build>/screenshots/).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { api, BIN, freePort, register, sleep, waitFor } from './lib.mjs';
import { axeViolations, launchChromium, watch } from './web.mjs';

const run = promisify(execFile);
const TANDEM = path.join(BIN, 'tandem');

let dir, manifest, url, key, browser, user;
const ports = {};
let failed = false;
const SHOTS = path.join(BIN, '..', 'screenshots-console');

// A test that marks the run failed (the project directory is then kept).
function check(name, fn) {
    test(name, async (t) => {
        try {
            await fn(t);
        } catch (e) {
            failed = true;
            throw e;
        }
    });
}

async function tandem(...args) {
    try {
        const { stdout, stderr } = await run(TANDEM, ['-f', manifest, ...args], { timeout: 90000 });
        return { code: 0, stdout, stderr };
    } catch (e) {
        return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout || '', stderr: e.stderr || String(e) };
    }
}

async function ps() {
    const r = await tandem('ps', '--json');
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

const rowsOf = async (svc) => (await ps()).filter((r) => r.service === svc);

before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-console-'));
    manifest = path.join(dir, 'tandem.yaml');
    for (const k of ['broker', 'gateway']) ports[k] = freePort();
    for (const k of ['users', 'articles', 'comments', 'web', 'console', 'fleet']) ports[k] = freePort(4);
    const bin = (n) => path.join(BIN, n);
    // JSON is YAML: the manifest as the blog's (tandem.yaml), on this test's ports
    const doc = {
        broker: { listen: `127.0.0.1:${ports.broker}`, binary: bin('tandem-broker'), args: ['--num-partitions', '2'] },
        gateway: { listen: `127.0.0.1:${ports.gateway}` },
        jwt: {},
        services: {
            users: {
                binary: bin('tandem-users'), port: ports.users, jwt: 'sign', depends_on: ['broker'],
                routes: [{ path: '/api/users' }, { path: '/api/user', exact: true }, { path: '/api/profiles' }],
            },
            articles: { binary: bin('tandem-articles'), port: ports.articles, depends_on: ['broker'], routes: [{ path: '/api/articles' }, { path: '/api/tags' }] },
            comments: {
                binary: bin('tandem-comments'), port: ports.comments, depends_on: ['broker', 'articles'],
                env: { TANDEM_ARTICLES_URL: `http://127.0.0.1:${ports.articles}` },
                routes: [{ path: '/api/articles/*/comments' }],
            },
            web: { binary: bin('tandem-web'), port: ports.web, routes: [{ path: '/' }] },
            console: { binary: bin('tandem-console'), port: ports.console, control: true, depends_on: ['broker'], routes: [{ path: '/api/console' }] },
            fleet: { binary: bin('tandem-fleet'), port: ports.fleet, depends_on: ['broker'], routes: [{ path: '/api/fleet' }] },
        },
    };
    fs.writeFileSync(manifest, JSON.stringify(doc, null, 1));
    const up = await tandem('up', '--detach');
    assert.equal(up.code, 0, `${up.stdout}${up.stderr}`);
    url = `http://127.0.0.1:${ports.gateway}`;
    assert.match(up.stdout, new RegExp(`tandem: console: ${url}/console \\(actions need the key in var/tandem/console\\.secret\\)`));
    key = fs.readFileSync(path.join(dir, 'var/tandem/console.secret'), 'utf8').trim();
    browser = await launchChromium();
    user = await register(url, 'con');
});

after(async () => {
    await browser?.close();
    if (!dir) return;
    const rows = await ps().catch(() => []);
    const down = await tandem('down');
    const problems = [];
    if (down.code !== 0) problems.push(`tandem down: ${down.stderr}`);
    for (const r of rows) if (r.restarts !== 0) problems.push(`${r.name} restarted ${r.restarts} time(s)`);
    const logs = path.join(dir, 'var/tandem/logs');
    for (const f of fs.existsSync(logs) ? fs.readdirSync(logs) : []) {
        const text = fs.readFileSync(path.join(logs, f), 'utf8');
        if (/AddressSanitizer|LeakSanitizer|runtime error:/.test(text)) problems.push(`a sanitizer report in ${f}`);
        if (f.startsWith('gateway')) continue; // nginx's own stderr
        for (const l of text.split('\n').filter(Boolean)) {
            try {
                JSON.parse(l);
            } catch {
                problems.push(`${f}: a line that is not JSON: ${l.slice(0, 200)}`);
                break;
            }
        }
    }
    if (problems.length || failed || process.env.TANDEM_KEEP) console.error(`kept ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(problems, []);
});

// The newest status, through the gateway.
async function status() {
    const r = await api(url, 'GET', '/api/console/status', { unchecked: true });
    assert.equal(r.status, 200, r.text);
    return r.json;
}

const groupOf = (st, g) => st.groups.find((x) => x.group === g);

check('the key: its file is 0600, and only the console gets it and the control socket', async () => {
    const st = fs.statSync(path.join(dir, 'var/tandem/console.secret'));
    assert.equal(st.mode & 0o777, 0o600);
    assert.match(key, /^[0-9a-f]{64}$/);
    const environ = (pid) => fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    const [con] = await rowsOf('console');
    const env = environ(con.pid);
    assert.ok(env.includes(`TANDEM_CONSOLE_SECRET_FILE=${path.join(dir, 'var/tandem/console.secret')}`));
    assert.ok(env.includes(`TANDEM_CONTROL_SOCKET=${path.join(dir, 'var/tandem/ctl.sock')}`));
    for (const svc of ['users', 'articles', 'comments', 'web']) {
        const [r] = await rowsOf(svc);
        assert.ok(!environ(r.pid).some((v) => /^TANDEM_(CONSOLE_SECRET_FILE|CONTROL_SOCKET)=/.test(v)), `${svc} got the console's variables`);
    }
    // a valid key is accepted; nothing else is
    assert.equal((await api(url, 'POST', '/api/console/key', { headers: { 'x-console-key': key }, unchecked: true })).status, 204);
    assert.equal((await api(url, 'POST', '/api/console/key', { unchecked: true })).status, 401);
    assert.equal((await api(url, 'POST', '/api/console/key', { headers: { 'x-console-key': key.replace(/.$/, (c) => (c === '0' ? '1' : '0')) }, unchecked: true })).status, 403);
});

check('actions without the key change nothing (API)', async () => {
    // comments caught up with what before() made (a user registered): its offsets stay put now
    const st = await waitFor(async () => {
        const s = await status();
        const g = groupOf(s, 'comments');
        return g?.state === 'Stable' && g.lag === 0 && g.partitions.some((p) => p.committed !== null) && s;
    }, 'the comments group caught up', { timeout: 20000, interval: 200 });
    const before = await ps();
    const offsetsBefore = JSON.stringify(groupOf(st, 'comments').partitions.map((p) => p.committed));
    const attempts = [
        ['POST', '/api/console/services/comments/stop'],
        ['POST', '/api/console/services/comments/start'],
        ['POST', '/api/console/services/articles/scale', { instances: 0 }],
        ['POST', '/api/console/services/users/stop'],
        ['POST', '/api/console/groups/comments/reset', { to: 'earliest' }],
    ];
    for (const [method, p, body] of attempts) {
        const none = await api(url, method, p, { body, unchecked: true });
        assert.equal(none.status, 401, `${p} without a key: ${none.text}`);
        assert.equal(none.headers.get('www-authenticate'), 'ConsoleKey');
        const wrong = await api(url, method, p, { body, headers: { 'x-console-key': 'f'.repeat(64) }, unchecked: true });
        assert.equal(wrong.status, 403, `${p} with a wrong key: ${wrong.text}`);
        const empty = await api(url, method, p, { body, headers: { 'x-console-key': '' }, unchecked: true });
        assert.equal(empty.status, 401);
    }
    await sleep(1500); // anything asked would have started by now
    const after = await ps();
    assert.deepEqual(after.map((r) => [r.name, r.state, r.pid]), before.map((r) => [r.name, r.state, r.pid]));
    const recent = await api(url, 'GET', '/api/console/actions', { unchecked: true });
    assert.deepEqual(recent.json.actions, []);
    const stNow = await status();
    assert.equal(JSON.stringify(groupOf(stNow, 'comments').partitions.map((p) => p.committed)), offsetsBefore);
    // and with the key, what is not allowed still is not
    const self = await api(url, 'POST', '/api/console/services/console/stop', { headers: { 'x-console-key': key }, unchecked: true });
    assert.equal(self.status, 409);
    const broker = await api(url, 'POST', '/api/console/services/broker/stop', { headers: { 'x-console-key': key }, unchecked: true });
    assert.equal(broker.status, 404);
    const bad = await api(url, 'POST', '/api/console/services/comments/scale', { body: { instances: 65 }, headers: { 'x-console-key': key }, unchecked: true });
    assert.equal(bad.status, 422);
    const stable = await api(url, 'POST', '/api/console/groups/comments/reset', { body: { to: 'earliest' }, headers: { 'x-console-key': key }, unchecked: true });
    assert.equal(stable.status, 409);
    assert.match(stable.json.detail, /only while the group is empty/);
});

async function consolePage(opts = {}) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...opts });
    const page = watch(await context.newPage(), url);
    page.setDefaultTimeout(20000);
    return page;
}

function noProblems(page) {
    assert.deepEqual(page.problems, [], 'page errors, console errors, dialogs or foreign requests');
}

const row = (page, svc) => page.locator(`tr[data-service="${svc}"]`);

async function publishArticle(title) {
    const r = await api(url, 'POST', '/api/articles', { token: user.token, body: { article: { title, description: 'd', body: 'b', tagList: ['console'] } }, unchecked: true });
    assert.equal(r.status, 201, r.text);
    return r.json.article;
}

check('from the page: the key asked for; comments stopped, lag rising, started, lag back to 0', async () => {
    const page = await consolePage();
    await page.goto(`${url}/console`);
    await row(page, 'comments').locator('.chip.state-ready').waitFor();
    await page.locator('.live-badge[data-state="live"]').waitFor();

    // Without the key: the page asks for it, and nothing changes.
    const pid = (await rowsOf('comments'))[0].pid;
    await page.getByRole('button', { name: 'Stop comments' }).click();
    await page.locator('#console-key').waitFor();
    assert.equal((await rowsOf('comments'))[0].pid, pid);
    // a wrong key is refused in the form
    await page.locator('#console-key').fill('0'.repeat(64));
    await page.getByRole('button', { name: 'Unlock', exact: true }).click();
    await page.locator('#console-key-error', { hasText: 'not the key' }).waitFor();
    await page.locator('#console-key').fill(key);
    await page.getByRole('button', { name: 'Unlock', exact: true }).click();
    await page.getByText('Actions unlocked').waitFor();

    // An article, and comments caught up with it (so its group has offsets of the topic articles:
    // a group's lag is known for the partitions it committed or is assigned).
    const article = await publishArticle(`Before the stop ${process.pid}`);
    await waitFor(async () => {
        const g = groupOf(await status(), 'comments');
        return g?.lag === 0 && g.partitions.some((p) => p.topic === 'articles' && p.committed > 0);
    }, 'comments consumed the article', { timeout: 20000, interval: 200 });

    // Stop comments: its instance leaves, the blog keeps answering, its routes answer 503.
    await page.getByRole('button', { name: 'Stop comments' }).click();
    await row(page, 'comments').locator('.chip.state-stopped').waitFor({ timeout: 30000 });
    await page.locator('.map .node.down[data-id="svc:comments"]').waitFor();
    await page.getByRole('button', { name: 'Start comments' }).waitFor();
    assert.deepEqual((await rowsOf('comments')).map((r) => [r.state, r.pid, r.in_upstream]), [['stopped', 0, false]]);
    assert.equal((await api(url, 'GET', '/api/articles', { unchecked: true })).status, 200);
    assert.equal((await api(url, 'GET', `/api/articles/${article.slug}`, { unchecked: true })).status, 200);
    const gone = await api(url, 'GET', `/api/articles/${article.slug}/comments`, { unchecked: true });
    assert.equal(gone.status, 503);

    // Events published meanwhile wait for comments: its lag rises, on the page too.
    for (let i = 0; i < 3; i++) await publishArticle(`While comments sleeps ${process.pid} ${i}`);
    let shown = '';
    await waitFor(async () => {
        shown = (await row(page, 'comments').locator('td[data-label="Lag"]').textContent()).trim();
        return Number(shown) >= 3;
    }, 'comments lag of 3 or more on the page', { timeout: 20000, interval: 200 }).catch(async (e) => {
        throw new Error(`${e.message}; the page shows "${shown}"; the status: ${JSON.stringify(groupOf(await status(), 'comments'))}`);
    });
    const st = await status();
    assert.ok(groupOf(st, 'comments').lag >= 3);
    assert.equal(groupOf(st, 'comments').state, 'Empty');

    // Start it: ready again, the lag back to 0, its route answers.
    await page.getByRole('button', { name: 'Start comments' }).click();
    await row(page, 'comments').locator('.chip.state-ready').waitFor({ timeout: 40000 });
    await waitFor(async () => (await row(page, 'comments').locator('td[data-label="Lag"]').textContent()).trim() === '0',
        'comments lag back to 0', { timeout: 30000, interval: 200 });
    await page.getByRole('button', { name: 'Stop comments' }).waitFor();
    await waitFor(async () => (await api(url, 'GET', `/api/articles/${article.slug}/comments`, { unchecked: true })).status === 200,
        'comments answering again', { timeout: 15000, interval: 200 });
    const actions = (await api(url, 'GET', '/api/console/actions', { unchecked: true })).json.actions;
    assert.deepEqual(actions.map((a) => [a.request, a.state]), [['stop comments', 'done'], ['start comments', 'done']]);
    noProblems(page);
    await page.context().close();
});

check('the map: routes, publishes and subscriptions that flowed', async () => {
    await publishArticle(`For the map ${process.pid}`);
    const st = await waitFor(async () => {
        const s = await status();
        const has = (kind, from, to) => s.map.edges.some((e) => e.kind === kind && e.from === from && e.to === to);
        return has('route', 'gateway', 'svc:articles') && has('publish', 'svc:articles', 'topic:articles') &&
            has('subscribe', 'topic:articles', 'group:comments') && has('publish', 'svc:users', 'topic:users') && s;
    }, 'the edges in the map', { timeout: 20000, interval: 300 });
    assert.equal(st.map.nodes.find((n) => n.id === 'group:comments').service, 'comments');
    const page = await consolePage();
    await page.goto(`${url}/console`);
    // (attached: a straight arrow has an empty box, which playwright calls hidden)
    const arrow = (kind, from, to) => page.locator(`.map path[data-kind="${kind}"][data-from="${from}"][data-to="${to}"]`).waitFor({ state: 'attached' });
    await arrow('publish', 'svc:articles', 'topic:articles');
    await arrow('subscribe', 'topic:articles', 'group:comments');
    await arrow('route', 'gateway', 'svc:articles');
    await arrow('publish', 'svc:users', 'topic:users');
    noProblems(page);
    await page.context().close();
});

check('a live tail shows records as they are published, readably', async () => {
    const page = await consolePage();
    await page.goto(`${url}/console/topics/articles`);
    await page.locator('.records .record').first().waitFor(); // the newest, read at once
    await page.getByRole('button', { name: 'Tail live' }).click();
    await page.getByText('Live: new records appear at the top.').waitFor();
    const title = `Tailed ${process.pid}`;
    const a = await publishArticle(title);
    const rec = page.locator('section[aria-labelledby="tail-h"] .record', { hasText: 'article.published' }).first();
    await rec.waitFor();
    await rec.locator('summary').click();
    const value = await rec.locator('pre.value').textContent();
    const data = JSON.parse(value);
    assert.equal(data.slug, a.slug);
    assert.equal(data.title, title);
    assert.match(await rec.locator('.kv').first().textContent(), /source\/articles/);
    await page.getByRole('button', { name: 'Stop tailing' }).click();
    // the API: the same record by offset
    const p = await rec.getAttribute('data-partition');
    const o = await rec.getAttribute('data-offset');
    const r = await api(url, 'GET', `/api/console/topics/articles/records?partition=${p}&from=offset&offset=${o}&limit=1`, { unchecked: true });
    assert.equal(r.status, 200);
    assert.equal(r.json.records[0].ce.type, 'article.published');
    assert.equal(r.json.records[0].value.slug, a.slug);
    noProblems(page);
    await page.context().close();
});

check('a group resets only when empty; the reset shows as lag', async () => {
    const h = { 'x-console-key': key };
    const stop = await api(url, 'POST', '/api/console/services/comments/stop', { headers: h, unchecked: true });
    assert.equal(stop.status, 202);
    assert.equal(stop.json.state, 'running');
    await waitFor(async () => groupOf(await status(), 'comments')?.state === 'Empty', 'the comments group empty', { timeout: 30000, interval: 300 });
    const reset = await api(url, 'POST', '/api/console/groups/comments/reset', { body: { to: 'earliest', topic: 'articles' }, headers: h, unchecked: true });
    assert.equal(reset.status, 200, reset.text);
    assert.ok(reset.json.offsets.every((o) => o.offset === 0));
    const lagged = await waitFor(async () => {
        const g = groupOf(await status(), 'comments');
        const parts = g.partitions.filter((p) => p.topic === 'articles');
        return parts.length > 0 && parts.every((p) => p.committed === 0) && g;
    }, 'the reset seen in the status', { timeout: 10000, interval: 300 });
    const articles = lagged.partitions.filter((p) => p.topic === 'articles');
    assert.equal(lagged.topics.find((t) => t.topic === 'articles').lag, articles.reduce((n, p) => n + p.end, 0));
    const start = await api(url, 'POST', '/api/console/services/comments/start', { headers: h, unchecked: true });
    assert.equal(start.status, 202);
    await waitFor(async () => {
        const g = groupOf(await status(), 'comments');
        return g?.state === 'Stable' && g.lag === 0;
    }, 'comments caught up again', { timeout: 40000, interval: 300 });
});

// The fleet's page: vehicles posted over REST (once the fleet holds the partitions of its topic,
// which the test creates as an operator would: docs/fleet.md) are drawn on the canvas and counted
// under it; the page follows them as they move.
const FLEET_N = 60;
const READY_FLEET = `.fleet p[aria-live]:has-text("${FLEET_N} vehicles in view")`;
let fleetMoves = 0;

async function postFleet() {
    fleetMoves++;
    const positions = [];
    for (let i = 1; i <= FLEET_N; i++) {
        const a = (i * 2 * Math.PI) / FLEET_N + fleetMoves * 0.05;
        positions.push({ id: i, lat: 48.85 + 0.05 * Math.sin(a) * (1 + (i % 3) / 3), lon: 2.35 + 0.08 * Math.cos(a), speed: (i % 30) + 1, heading: (i * 37) % 360, ts: Date.now() });
    }
    return api(url, 'POST', '/api/fleet/positions/batch', { body: { positions }, unchecked: true });
}

check('the fleet page draws the vehicles the fleet holds, and follows them', async () => {
    await run(path.join(BIN, 'group-check'), ['create', '-b', `127.0.0.1:${ports.broker}`, '-t', 'vehicle-positions', '-p', '4'], { timeout: 30000 });
    const first = await waitFor(async () => {
        const r = await postFleet();
        return r.status === 200 && r;
    }, 'the fleet applies a batch (it holds its partitions)', { timeout: 30000, interval: 500 });
    assert.equal(first.json.applied + first.json.stale, FLEET_N);
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = watch(await context.newPage(), url);
    await page.goto(`${url}/console/fleet`);
    await page.locator(READY_FLEET).waitFor({ timeout: 20000 });
    // something is drawn: pixels that are not the canvas's background
    const drawn = () => page.evaluate(() => {
        const c = document.querySelector('.fleet-canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
        return n;
    });
    assert.ok((await drawn()) > FLEET_N, 'the canvas shows the vehicles');
    // they move: a new batch reaches the page through the stream (the rate line counts it)
    const updates = async () => Number(await page.locator('.fleet-canvas').getAttribute('data-updates'));
    const before = await updates();
    assert.ok(before >= FLEET_N, `${before} updates at first`);
    assert.equal((await postFleet()).status, 200);
    await waitFor(async () => (await updates()) >= before + FLEET_N, 'the new positions on the page', { timeout: 10000, interval: 200 });
    // a box of the reader's own: the vehicles outside it are not drawn
    await page.fill('#fleet-box', '2.35,48.80,2.45,48.90');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.waitForURL(/bbox=2\.35%2C48\.8/);
    await postFleet();
    // the stream of the box sends only the vehicles inside it (the line under the canvas is
    // rewritten once a second)
    const inView = await waitFor(async () => {
        const m = (await page.locator('.fleet p[aria-live]').textContent()).match(/^(\d+) vehicles in view, (\d+) heard of/);
        return m && Number(m[2]) < FLEET_N && Number(m[1]);
    }, 'only the vehicles of the box', { timeout: 10000, interval: 200 });
    assert.ok(inView > 0 && inView < FLEET_N, `${inView} of ${FLEET_N} in the east half of the ring`);
    await page.fill('#fleet-box', 'not a box');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.getByText('A box is four numbers').waitFor();
    noProblems(page);
    await context.close();
});

const PAGES = [
    ['console-overview', '/console', 'tr[data-service="comments"] .chip.state-ready'],
    ['console-topics', '/console/topics', 'tr[data-topic="articles"]'],
    ['console-topic', '/console/topics/articles', '.records .record', async (page) => page.locator('.records .record summary').first().click()],
    ['console-groups', '/console/groups', 'tr[data-group="comments"]'],
    ['console-group', '/console/groups/comments', '.reset-form'],
    ['console-fleet', '/console/fleet', READY_FLEET, async () => postFleet()],
];

async function open(context, [, p, ready, action]) {
    const page = watch(await context.newPage(), url);
    page.setDefaultTimeout(20000);
    await page.goto(`${url}${p}`);
    await page.locator(ready).first().waitFor();
    if (action) await action(page);
    await sleep(300);
    return page;
}

// Each page is opened once per set: its screenshot first, then axe-core on the desktop sets
// (which bypass the pages' Content-Security-Policy to inject it; the phone set keeps the policy).
check('every console page, desktop and phone in the light scheme, desktop in the dark: screenshots, no wider than the screen, no serious or critical axe-core violation', async () => {
    fs.rmSync(SHOTS, { recursive: true, force: true });
    fs.mkdirSync(SHOTS, { recursive: true });
    const sets = [
        ['desktop', { width: 1280, height: 800 }, 'light', true],
        ['desktop', { width: 1280, height: 800 }, 'dark', true],
        ['phone', { width: 390, height: 844 }, 'light', false],
    ];
    const found = [];
    for (const [size, viewport, scheme, axe] of sets) {
        const context = await browser.newContext({ viewport, colorScheme: scheme, bypassCSP: axe });
        for (const p of PAGES) {
            const page = await open(context, p);
            const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
            assert.ok(overflow <= 0, `${p[0]} at ${size}: ${overflow}px wider than the screen`);
            await page.screenshot({ path: path.join(SHOTS, `${p[0]}-${size}-${scheme}.png`), fullPage: true });
            if (axe) found.push(...(await axeViolations(page, `${p[0]} (${scheme})`)));
            noProblems(page);
            await page.close();
        }
        await context.close();
    }
    assert.deepEqual(found, []);
    assert.equal(fs.readdirSync(SHOTS).length, PAGES.length * sets.length);
});
