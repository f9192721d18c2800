// tests/blog/lib.mjs: the harness of the blog's tests.
//
// A System is a temporary directory with the processes a test starts in it: a tandem-broker, the
// blog's services (build/bin/tandem-NAME), each on a free 127.0.0.1 port, and the ES256 key pair
// the services share (users signs, everyone verifies). Every process's stderr (JSON lines) is
// kept in the directory; close() stops them all (SIGTERM, then SIGKILL after 10 s), fails when a
// sanitizer report or a non-JSON line appears in any log, and removes the directory unless the
// test failed (TANDEM_KEEP=1 keeps it always).
//
// On PostgreSQL (TANDEM_TEST_PG set, e.g. TANDEM_TEST_PG=1): the System starts one PostgreSQL 15
// (pg.mjs) at its first service, and gives each of the blog's services that keep data (users,
// articles, comments, activity) a database of its own, named after its data directory (instances
// of one service share it, as they share the directory), in TANDEM_DATABASE_URL; close() checks
// that each of those databases holds its service's tables (the run really used PostgreSQL) and
// stops the server. query(name, sql) reads a service's data on either engine.
//
// api() is a small fetch wrapper answering {status, headers, json, text}; onResponse(fn) makes
// every answer go through fn(method, path, answer) first (which throws to fail the request).
import { execFile, execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { startPostgres } from './pg.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = process.env.TANDEM_TEST_BIN || path.join(ROOT, 'build-asan', 'bin');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Whether the blog's services run on PostgreSQL in this test (TANDEM_TEST_PG set and not 0).
export const ON_PG = Boolean(process.env.TANDEM_TEST_PG) && process.env.TANDEM_TEST_PG !== '0';

// The services that keep their data through tandem_sql, with a table of their own each (the proof
// that a database was really used: it holds that table and libtandem's outbox).
export const DATA_TABLES = { users: 'users', articles: 'articles', comments: 'comments', activity: 'activity_daily' };

// Whether the database at url (on pg) holds the tables of service svc: a list of what is missing.
export async function pgTablesMissing(pg, url, svc) {
    const missing = [];
    for (const table of ['tandem_outbox', DATA_TABLES[svc]]) {
        try {
            await pg.sql(url, `SELECT COUNT(*) FROM ${table}`);
        } catch (e) {
            missing.push(`${svc}: no table ${table} in ${url} (${e.message.split('\n')[0]})`);
        }
    }
    return missing;
}

// The rows a query answers from an SQLite file, opened read-only (the sqlite3 command-line shell,
// Debian `sqlite3`): an array of rows, each an array of column texts (the columns must not hold
// tabs or newlines: ids, counts, names).
export async function sqlite(file, sql) {
    const { stdout } = await promisify(execFile)('sqlite3', ['-readonly', '-batch', '-noheader', '-separator', '\t',
        file, sql], { timeout: 30000, maxBuffer: 64 << 20 });
    return stdout.split('\n').filter(Boolean).map((l) => l.split('\t'));
}

// One free port, or the first of n consecutive ones (scripts/free-ports).
export function freePort(n = 1) {
    return Number(execFileSync(path.join(ROOT, 'scripts', 'free-ports'), [String(n)]).toString().trim());
}

// Polls fn until it returns a truthy value; throws with what after timeout ms.
export async function waitFor(fn, what, { timeout = 15000, interval = 50 } = {}) {
    const end = Date.now() + timeout;
    let last;
    for (;;) {
        try {
            last = await fn();
            if (last) return last;
        } catch (e) {
            last = e;
        }
        if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${last})`);
        await sleep(interval);
    }
}

// The check every api() answer goes through, when one is installed (schemas.mjs's
// checkResponses installs the API's contracts: RealWorld's openapi.yml and ours).
let responseCheck = null;
export function onResponse(fn) {
    responseCheck = fn;
}

// One HTTP request; body (an object) is sent as JSON; token as RealWorld's "Token <jwt>".
// unchecked: true skips the installed check (a request outside the API: /metrics, /health).
export async function api(base, method, p, { body, token, headers = {}, raw, unchecked = false } = {}) {
    const h = { ...headers };
    if (token) h.authorization = `Token ${token}`;
    let payload = raw;
    if (body !== undefined) {
        h['content-type'] = h['content-type'] || 'application/json';
        payload = JSON.stringify(body);
    }
    const res = await fetch(base + p, { method, headers: h, body: payload });
    const text = await res.text();
    let json;
    try {
        json = text ? JSON.parse(text) : undefined;
    } catch {
        json = undefined;
    }
    const answer = { status: res.status, headers: res.headers, json, text };
    if (responseCheck && !unchecked) responseCheck(method, p, answer);
    return answer;
}

// A reaper: a detached shell loop (a session of its own) that waits while this test process and
// the node --test runner above it live, then runs script (sh; args are $1...) to stop what the
// test started. A test killed by CTest's timeout is SIGKILLed and runs no exit handler: without
// this its services (and a `tandem up` supervisor with them) would run on, with nobody to stop
// them. cancel() ends the loop once the test stopped everything itself.
export function reaper(script, args = []) {
    const loop = `alive() { [ -d "/proc/$1" ]; }
        while alive "$1" && alive "$2"; do sleep 0.5; done
        shift 2
        ${script}`;
    const runner = process.ppid > 1 ? process.ppid : process.pid; // pid 1 is no runner
    const p = spawn('sh', ['-c', loop, 'tandem-test-reaper', String(process.pid), String(runner), ...args],
        { detached: true, stdio: 'ignore' });
    p.unref();
    return {
        cancel() {
            try {
                process.kill(-p.pid, 'SIGKILL');
            } catch {
                // already gone
            }
        },
    };
}

export class System {
    constructor(name) {
        this.name = name;
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `tandem-blog-${name}-`));
        this.procs = [];
        this.failed = false;
        this.databases = new Map(); // on PostgreSQL: database name -> { url, svc }
        const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        this.privateKey = path.join(this.dir, 'jwt.key');
        this.publicKey = path.join(this.dir, 'jwt.pub');
        fs.writeFileSync(this.privateKey, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
        fs.writeFileSync(this.publicKey, publicKey.export({ type: 'spki', format: 'pem' }));
    }

    // Starts argv with env, its stderr into <dir>/<label>.log; resolves once a JSON line with
    // "msg":"ready" appeared (the broker's and every service's ready line).
    async #start(label, argv, env) {
        const log = path.join(this.dir, `${label}.log`);
        const fd = fs.openSync(log, 'a');
        const proc = spawn(argv[0], argv.slice(1), {
            env: { ...process.env, ...env },
            stdio: ['ignore', fd, fd],
        });
        fs.closeSync(fd);
        // every process started, for the reaper (SIGKILL if the test dies without close())
        const pids = path.join(this.dir, 'pids');
        fs.appendFileSync(pids, `${proc.pid}\n`);
        this.reaper ||= reaper('kill -KILL $(cat "$1") 2>/dev/null; exit 0', [pids]);
        const entry = { label, proc, log, exited: null };
        proc.on('exit', (code, signal) => (entry.exited = { code, signal }));
        this.procs.push(entry);
        await waitFor(() => {
            if (entry.exited) throw new Error(`${label} exited: ${JSON.stringify(entry.exited)}\n${fs.readFileSync(log, 'utf8')}`);
            return /"msg":"ready"/.test(fs.readFileSync(log, 'utf8'));
        }, `${label} ready`, { timeout: 20000 });
        return entry;
    }

    async broker() {
        const port = freePort();
        this.brokers = `127.0.0.1:${port}`;
        this.brokerEntry = await this.#start('broker', [
            path.join(BIN, 'tandem-broker'), '--listen', this.brokers, '--data-dir', path.join(this.dir, 'broker'),
        ], {});
        return this.brokers;
    }

    // On PostgreSQL: the server (started at the first call) and database `db` for service svc
    // (created at its first call); resolves its URL.
    async database(db, svc) {
        if (!this.pg) {
            this.pg = startPostgres({ log: path.join(this.dir, 'postgres.log') });
            this.pg.catch(() => {}); // awaited below, by this call and any other
        }
        const pg = await this.pg;
        const url = await pg.database(db);
        this.databases.set(db, { url, svc });
        return url;
    }

    // The rows query sql answers from service name's data (the database of data directory
    // <dir>/<name>): its SQLite file read-only, or its PostgreSQL database. Rows are arrays of
    // column texts, NULL as "" on both.
    async query(name, sql, { db = name } = {}) {
        if (ON_PG) return (await this.pg).sql(this.databases.get(db).url, sql);
        return sqlite(path.join(this.dir, db, `${name}.db`), sql);
    }

    // Starts instance `instance` of service name (its data under <dir>/<name>, shared by its
    // instances; on PostgreSQL, the database named after that directory); resolves
    // { url, port, entry }.
    async service(name, { instance = 0, env = {} } = {}) {
        const port = freePort();
        const e = {
            TANDEM_LISTEN: `127.0.0.1:${port}`,
            TANDEM_BROKERS: this.brokers,
            TANDEM_DATA_DIR: path.join(this.dir, name),
            TANDEM_JWT_PUBLIC_KEY: this.publicKey,
            TANDEM_LOG_LEVEL: 'info',
            ...env,
        };
        if (ON_PG && DATA_TABLES[name] && !e.TANDEM_DATABASE_URL) {
            e.TANDEM_DATABASE_URL = await this.database(path.basename(e.TANDEM_DATA_DIR), name);
        }
        if (name === 'users') e.TANDEM_JWT_PRIVATE_KEY = this.privateKey;
        const entry = await this.#start(`${name}.${instance}`, [path.join(BIN, `tandem-${name}`)], e);
        const svc = { name, instance, port, url: `http://127.0.0.1:${port}`, entry };
        entry.svc = svc;
        return svc;
    }

    // SIGTERM (SIGKILL with kill true), then wait for the exit.
    async stop(entry, { kill = false } = {}) {
        if (entry.exited) return entry.exited;
        entry.proc.kill(kill ? 'SIGKILL' : 'SIGTERM');
        const end = Date.now() + 10000;
        while (!entry.exited && Date.now() < end) await sleep(20);
        if (!entry.exited) {
            entry.proc.kill('SIGKILL');
            while (!entry.exited) await sleep(20);
            throw new Error(`${entry.label} did not stop within 10 s of SIGTERM`);
        }
        return entry.exited;
    }

    // The JSON lines of a process's log (throws on a line that is not JSON).
    logLines(entry) {
        return fs.readFileSync(entry.log, 'utf8').split('\n').filter(Boolean).map((l) => {
            try {
                return JSON.parse(l);
            } catch {
                throw new Error(`${entry.label}: a log line that is not JSON: ${l}`);
            }
        });
    }

    async close() {
        const problems = [];
        for (const entry of [...this.procs].reverse()) {
            try {
                const ex = await this.stop(entry);
                if (ex.code !== 0 && ex.signal !== 'SIGKILL' && !entry.killed) {
                    problems.push(`${entry.label} exited ${JSON.stringify(ex)}`);
                }
            } catch (e) {
                problems.push(String(e));
            }
            const text = fs.readFileSync(entry.log, 'utf8');
            if (/AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer/.test(text)) {
                problems.push(`${entry.label}: a sanitizer report in ${entry.log}`);
            }
            try {
                this.logLines(entry);
            } catch (e) {
                if (!/Sanitizer|runtime error/.test(text)) problems.push(String(e));
            }
        }
        if (this.pg) {
            try {
                const pg = await this.pg;
                for (const [db, { url, svc }] of this.databases) {
                    const missing = await pgTablesMissing(pg, url, svc);
                    if (missing.length) problems.push(`database ${db}: ${missing.join('; ')}`);
                }
                await pg.stop(); // its log is <dir>/postgres.log, kept with the directory
            } catch (e) {
                problems.push(`PostgreSQL: ${e.message}`);
            }
        }
        this.reaper?.cancel(); // every process is stopped
        if (problems.length || this.failed || process.env.TANDEM_KEEP) {
            console.error(`kept ${this.dir}`);
        } else {
            fs.rmSync(this.dir, { recursive: true, force: true });
        }
        if (problems.length) throw new Error(problems.join('\n'));
    }
}

// Registers a user through users at base; resolves { username, email, password, token }.
let serial = 0;
export async function register(base, prefix = 'u') {
    const n = `${prefix}${process.pid}x${++serial}`;
    const user = { username: n, email: `${n}@example.com`, password: 'correct horse battery' };
    const r = await api(base, 'POST', '/api/users', { body: { user } });
    if (r.status !== 201) throw new Error(`register ${n}: ${r.status} ${r.text}`);
    return { ...user, token: r.json.user.token };
}
