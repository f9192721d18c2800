// tests/blog/tandem.mjs: the whole blog run by `tandem up`, for the system tests.
//
// A Blog is the repository's tandem.yaml (what `make run` starts) moved into a temporary project
// directory: the broker, the gateway and every service get free 127.0.0.1 ports (a service a
// range of SPAN consecutive ones from scripts/free-ports, room to scale), the binaries are this
// build's (TANDEM_TEST_BIN), and any "127.0.0.1:PORT" in a service's env that named a service's
// or the gateway's port in the original (comments' TANDEM_ARTICLES_URL, web's TANDEM_GATEWAY)
// names the new one. Nothing else changes but web's demo data (off unless {demo: true}): routes,
// CORS, cache, jwt, depends_on are the real manifest's, so the tests judge the system users get.
// `instances` overrides a service's count.
//
//   const blog = new Blog('conformance', { instances: { articles: 2 } });
//   await blog.up();                    // tandem -f MANIFEST up --detach; blog.url is the gateway
//   await blog.cli('stop', 'comments'); // any tandem command: {code, stdout, stderr}
//   await blog.ps();                    // the rows of `ps --json`
//   await blog.kill('articles', 1);     // kill -9 of an instance, counted as a restart we caused
//   await blog.down();                  // tandem down, then the checks below
//
// down() fails on a sanitizer report in any log of var/tandem/logs, on a service's log line that
// is not JSON, and on an automatic restart the test did not cause: every row of `ps --json` taken
// just before `down` must have restarted exactly as often as the test killed that process
// (kill()), or at most as often for a process the test said may restart (allowRestarts(): the
// services whose broker the test killed may or may not be restarted). The project directory is
// removed unless the test failed or TANDEM_KEEP=1.
//
// On PostgreSQL (TANDEM_TEST_PG set: lib.mjs's ON_PG), up() first starts one PostgreSQL 15
// (pg.mjs; its log is the project's postgres.log) and gives each of the blog's services that keep
// data (users, articles, comments, activity) a database of its own, named after the service,
// through TANDEM_DATABASE_URL in the manifest's env; down() then checks that each database holds
// its service's tables (the run really used PostgreSQL) and stops the server. query(svc, sql)
// reads an owner's data on either engine (the SQLite file read-only, or its database).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';

import { BIN, DATA_TABLES, ON_PG, ROOT, freePort, pgTablesMissing, reaper, sleep, sqlite, waitFor } from './lib.mjs';
import { startPostgres } from './pg.mjs';

const run = promisify(execFile);
export const MANIFEST = path.join(ROOT, 'tandem.yaml');
export const TANDEM = path.join(BIN, 'tandem');
const SPAN = 8; // ports per service: instances 0..7

export class Blog {
    constructor(name, { instances = {}, manifest = MANIFEST, edit, demo = false } = {}) {
        this.name = name;
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `tandem-sys-${name}-`));
        this.manifest = path.join(this.dir, 'tandem.yaml');
        this.kills = new Map(); // ps row name -> kills the test made
        this.mayRestart = new Map(); // ps row name -> restarts allowed beyond the kills
        this.failed = false;
        this.ports = {};
        const doc = YAML.parse(fs.readFileSync(manifest, 'utf8'));
        const moved = new Map(); // "127.0.0.1:old" -> "127.0.0.1:new"
        if (doc.broker) {
            const port = freePort();
            doc.broker.listen = `127.0.0.1:${port}`;
            doc.broker.binary = path.join(BIN, 'tandem-broker');
            this.ports.broker = port;
        }
        doc.gateway = doc.gateway || {};
        this.ports.gateway = freePort();
        moved.set(doc.gateway.listen || '127.0.0.1:8080', `127.0.0.1:${this.ports.gateway}`);
        doc.gateway.listen = `127.0.0.1:${this.ports.gateway}`;
        // one range for all the services: ranges probed one by one may overlap (each is free
        // when probed, none is held until up), which failed an up now and then
        let next = freePort(SPAN * Object.keys(doc.services).length);
        for (const [svc, s] of Object.entries(doc.services)) {
            const base = next;
            next += SPAN;
            for (let i = 0; i < SPAN; i++) moved.set(`127.0.0.1:${s.port + i}`, `127.0.0.1:${base + i}`);
            s.port = base;
            s.binary = path.join(BIN, path.basename(s.binary));
            if (instances[svc] !== undefined) s.instances = instances[svc];
            this.ports[svc] = base;
        }
        for (const s of Object.values(doc.services)) {
            for (const [k, v] of Object.entries(s.env || {})) {
                s.env[k] = String(v).replace(/127\.0\.0\.1:\d+/g, (hp) => moved.get(hp) || hp);
            }
        }
        // the web service's demo blog (docs/web.md) would land in the tests' systems while they
        // run: off unless asked for
        if (!demo && doc.services.web) doc.services.web.env = { ...doc.services.web.env, TANDEM_DEMO_DATA: 'off' };
        if (edit) edit(doc);
        this.doc = doc;
        fs.writeFileSync(this.manifest, YAML.stringify(doc));
        this.url = `http://127.0.0.1:${this.ports.gateway}`;
        this.brokers = `127.0.0.1:${this.ports.broker}`;
        this.publicKey = path.join(this.dir, 'var', 'keys', 'jwt.pub');
        this.privateKey = path.join(this.dir, 'var', 'keys', 'jwt.key');
    }

    // A service instance's own address (not through the gateway).
    instanceUrl(svc, i = 0) {
        return `http://127.0.0.1:${this.ports[svc] + i}`;
    }

    // The SQLite file a service owns (var/services/NAME/NAME.db).
    db(svc) {
        return path.join(this.dir, 'var', 'services', svc, `${svc}.db`);
    }

    // The rows query sql answers from service svc's data: its SQLite file read-only, or on
    // PostgreSQL its database. Rows are arrays of column texts, NULL as "" on both (the columns
    // must not hold tabs or newlines: ids, counts, names).
    async query(svc, sql) {
        if (this.pg) return this.pg.sql(this.databases[svc], sql);
        return sqlite(this.db(svc), sql);
    }

    // Runs `tandem -f MANIFEST ...args`; resolves {code, stdout, stderr}; throws unless the exit
    // code is one of ok.
    async cli(...args) {
        let ok = [0];
        if (typeof args[args.length - 1] === 'object') ok = args.pop().ok;
        let code = 0, stdout = '', stderr = '';
        try {
            ({ stdout, stderr } = await run(TANDEM, ['-f', this.manifest, ...args], { timeout: 90000 }));
        } catch (e) {
            code = typeof e.code === 'number' ? e.code : -1;
            stdout = e.stdout || '';
            stderr = e.stderr || String(e);
        }
        if (!ok.includes(code)) {
            throw new Error(`tandem ${args.join(' ')}: exit ${code}\n${stdout}${stderr}`);
        }
        return { code, stdout, stderr };
    }

    // On PostgreSQL: the server, a database per service that keeps data, their URLs in the
    // manifest (once; a second up reuses them).
    async #postgres() {
        if (this.pg) return;
        this.pg = await startPostgres({ log: path.join(this.dir, 'postgres.log') });
        this.databases = {};
        for (const [svc, s] of Object.entries(this.doc.services)) {
            if (!DATA_TABLES[svc]) continue;
            this.databases[svc] = await this.pg.database(svc);
            s.env = { ...s.env, TANDEM_DATABASE_URL: this.databases[svc] };
        }
        fs.writeFileSync(this.manifest, YAML.stringify(this.doc));
    }

    async up() {
        if (ON_PG) await this.#postgres();
        // `tandem down` if this test dies before down() (a CTest timeout SIGKILLs it)
        this.reaper ||= reaper('timeout 60 "$1" -f "$2" down >/dev/null 2>&1; exit 0', [TANDEM, this.manifest]);
        const r = await this.cli('up', '--detach', { ok: [0, 1] });
        if (r.code !== 0) {
            this.failed = true;
            throw new Error(`tandem up failed (${this.dir}):\n${r.stdout}${r.stderr}\n${this.tail()}`);
        }
        this.upLine = r.stdout.trim();
        return this;
    }

    // The last lines of every log, for a failure's message.
    tail(n = 15) {
        const dir = path.join(this.dir, 'var', 'tandem', 'logs');
        if (!fs.existsSync(dir)) return '';
        return fs.readdirSync(dir).map((f) => {
            const lines = fs.readFileSync(path.join(dir, f), 'utf8').split('\n').slice(-n).join('\n');
            return `--- ${f}\n${lines}`;
        }).join('\n');
    }

    // The rows of `tandem ps --json`.
    async ps() {
        const { stdout } = await this.cli('ps', '--json');
        return stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    }

    async row(name) {
        const r = (await this.ps()).find((x) => x.name === name);
        if (!r) throw new Error(`no process ${name} in tandem ps`);
        return r;
    }

    // kill -9 of a process ("articles.1", "broker", or service + instance); resolves its pid.
    async kill(svc, instance) {
        const name = instance === undefined ? svc : `${svc}.${instance}`;
        const r = await this.row(name);
        if (!r.pid) throw new Error(`${name} has no process to kill (${r.state})`);
        process.kill(r.pid, 'SIGKILL');
        this.kills.set(name, (this.kills.get(name) || 0) + 1);
        return r.pid;
    }

    // name (a ps row name) may restart up to n more times than the test killed it.
    allowRestarts(name, n = 1) {
        this.mayRestart.set(name, (this.mayRestart.get(name) || 0) + n);
    }

    // Resolves once every process of ps is ready (after kills: restarted and probed).
    async ready(timeout = 30000) {
        const end = Date.now() + timeout;
        let rows;
        for (;;) {
            rows = await this.ps();
            if (rows.every((r) => r.state === 'ready' || r.state === 'stopped')) return rows;
            if (Date.now() > end) {
                throw new Error(`not ready within ${timeout} ms: ${rows.map((r) => `${r.name}=${r.state}`).join(' ')}`);
            }
            await sleep(100);
        }
    }

    // The restart counts against the kills, then `tandem down`, then the logs.
    async down() {
        const problems = [];
        let rows = [];
        try {
            rows = await this.ps();
        } catch (e) {
            problems.push(`ps before down: ${e.message}`);
        }
        for (const r of rows) {
            const killed = this.kills.get(r.name) || 0;
            const extra = this.mayRestart.get(r.name) || 0;
            if (r.restarts < killed || r.restarts > killed + extra) {
                problems.push(`${r.name} restarted ${r.restarts} time(s); the test killed it ${killed} time(s)` +
                    (extra ? ` and allowed ${extra} more` : ''));
            }
        }
        for (const [name] of this.kills) {
            if (rows.length && !rows.some((r) => r.name === name)) problems.push(`${name} killed but no longer in ps`);
        }
        try {
            await this.cli('down');
            this.reaper?.cancel();
        } catch (e) {
            problems.push(e.message);
        }
        problems.push(...this.logProblems());
        if (this.pg) {
            try {
                for (const [svc, url] of Object.entries(this.databases)) problems.push(...await pgTablesMissing(this.pg, url, svc));
                await this.pg.stop(); // its log is <dir>/postgres.log, kept with the directory
            } catch (e) {
                problems.push(`PostgreSQL: ${e.message}`);
            }
        }
        if (problems.length || this.failed || process.env.TANDEM_KEEP) {
            console.error(`kept ${this.dir}`);
        } else {
            fs.rmSync(this.dir, { recursive: true, force: true });
        }
        if (problems.length) throw new Error(`${this.name}: ${problems.join('\n')}`);
    }

    // Sanitizer reports anywhere in var/tandem/logs; a line of a service or the broker that is
    // not JSON (nginx's own stderr, gateway.log, is nginx's format).
    logProblems() {
        const problems = [];
        const dir = path.join(this.dir, 'var', 'tandem', 'logs');
        if (!fs.existsSync(dir)) return problems;
        for (const f of fs.readdirSync(dir)) {
            const text = fs.readFileSync(path.join(dir, f), 'utf8');
            if (/AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer/.test(text)) {
                problems.push(`a sanitizer report in ${path.join(dir, f)}`);
                continue;
            }
            if (f === 'gateway.log') continue;
            for (const line of text.split('\n')) {
                if (!line) continue;
                try {
                    JSON.parse(line);
                } catch {
                    problems.push(`${f}: a log line that is not JSON: ${line.slice(0, 200)}`);
                    break;
                }
            }
        }
        return problems;
    }

    // The gateway's access log (JSON lines).
    accessLog() {
        const f = path.join(this.dir, 'var', 'gateway', 'access.log');
        return fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    }

    // The access-log lines that match pred, once there are at least `count` of them. nginx writes
    // a request's line in its log phase, after the answer went out, so a client that has its
    // answer may read the log before the line is there: a check of the latest requests' lines
    // waits for them (5 s at most) rather than reading the file once.
    async logged(pred, count = 1, what = `${count} access-log line(s)`) {
        return waitFor(() => {
            const lines = this.accessLog().filter(pred);
            return lines.length >= count && lines;
        }, what, { timeout: 5000 });
    }

    // One instance's /metrics sample (a Prometheus text line's value), by metric name and an
    // optional label filter (a substring of the label set).
    async metric(svc, instance, name, labels = '') {
        const res = await fetch(`${this.instanceUrl(svc, instance)}/metrics`);
        const text = await res.text();
        let sum = 0, seen = false;
        for (const line of text.split('\n')) {
            if (!line.startsWith(name)) continue;
            const m = /^([a-z_:]+)(\{[^}]*\})?\s+([0-9.eE+-]+)$/.exec(line);
            if (!m || m[1] !== name || (labels && !(m[2] || '').includes(labels))) continue;
            sum += Number(m[3]);
            seen = true;
        }
        return seen ? sum : undefined;
    }
}

// sqlite(file, sql): the rows of a query on an SQLite file, read-only (lib.mjs's; Blog.query reads
// an owner's data on either engine).
export { sqlite };

// Reads topics from the beginning in the background (kafkajs, a group of its own) and validates
// every record against docs/asyncapi.yaml (schemas.mjs's validateEvent); events holds what was
// read ({topic, type, key, data}), errors what did not validate. stop() disconnects and throws
// when any record failed its schema.
export async function watchEvents(brokers, topics) {
    const { Kafka, logLevel } = await import('kafkajs');
    const { validateEvent } = await import('./schemas.mjs');
    const kafka = new Kafka({ brokers: [brokers], clientId: 'system-test', logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: `sys${process.pid}${Date.now()}${Math.random()}` });
    const w = { events: [], errors: [] };
    await consumer.connect();
    for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
        eachMessage: async ({ topic, message }) => {
            try {
                w.events.push({ topic, ...validateEvent(topic, message) });
            } catch (e) {
                w.errors.push(`${topic}: ${e.message}`);
            }
        },
    });
    w.stop = async () => {
        await consumer.disconnect();
        if (w.errors.length) throw new Error(`${w.errors.length} event(s) failed docs/asyncapi.yaml:\n${w.errors.slice(0, 10).join('\n')}`);
    };
    return w;
}

// Every record of topics, from the beginning up to the end they have now (the high watermarks
// when called), each validated against docs/asyncapi.yaml: resolves [{topic, type, key,
// headers, data}]; throws on a record that fails its schema.
export async function readAll(brokers, topics, { timeout = 60000 } = {}) {
    const { Kafka, logLevel } = await import('kafkajs');
    const { validateEvent } = await import('./schemas.mjs');
    const kafka = new Kafka({ brokers: [brokers], clientId: 'system-test-read', logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    const ends = new Map(); // "topic/partition" -> high watermark
    try {
        for (const topic of topics) {
            for (const p of await admin.fetchTopicOffsets(topic)) ends.set(`${topic}/${p.partition}`, Number(p.high));
        }
    } finally {
        await admin.disconnect();
    }
    const left = new Set([...ends].filter(([, high]) => high > 0).map(([k]) => k));
    const out = [];
    const errors = [];
    if (left.size === 0) return out;
    const consumer = kafka.consumer({ groupId: `read${process.pid}${Date.now()}${Math.random()}`, maxBytes: 16 << 20 });
    await consumer.connect();
    for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
    let done;
    const finished = new Promise((r) => (done = r));
    await consumer.run({
        eachMessage: async ({ topic, partition, message }) => {
            const k = `${topic}/${partition}`;
            if (Number(message.offset) >= ends.get(k)) return;
            try {
                out.push({ topic, ...validateEvent(topic, message) });
            } catch (e) {
                errors.push(`${topic}/${partition}@${message.offset}: ${e.message}`);
            }
            if (Number(message.offset) + 1 >= ends.get(k)) {
                left.delete(k);
                if (left.size === 0) done();
            }
        },
    });
    const timer = setTimeout(done, timeout);
    await finished;
    clearTimeout(timer);
    await consumer.disconnect();
    if (left.size) throw new Error(`readAll: ${[...left].join(', ')} not read to the end within ${timeout} ms`);
    if (errors.length) throw new Error(`${errors.length} record(s) failed docs/asyncapi.yaml:\n${errors.slice(0, 10).join('\n')}`);
    return out;
}
