// tests/blog/pg.mjs: a real PostgreSQL 15 (Debian's postgresql-15) for a test, in a temporary
// directory: the JavaScript counterpart of tests/integration/pg_lib.sh.
//
//   const pg = await startPostgres();          // initdb + postgres on 127.0.0.1:<free port>
//   const url = await pg.database('users');    // CREATE DATABASE "users": its postgres:// URL
//   const rows = await pg.sql(url, 'SELECT 1'); // [['1']]: rows of column texts (psql -At)
//   await pg.stop();                           // fast shutdown, then SIGQUIT, SIGKILL; rm -r dir
//
// Model (the same as pg_lib.sh's). PostgreSQL refuses to run as root, and CI runs as root: then
// initdb and postgres run as an unprivileged user (TANDEM_PG_USER, default postgres when that user
// exists, else nobody) through setpriv, in a directory made with mktemp under /tmp and chowned to
// that user. Authentication is trust (the superuser is "tandem") on 127.0.0.1 and on the unix
// socket, which lives in the temporary directory: a throwaway cluster nobody else can reach. fsync
// is off (the tests do not survive power cuts) unless TANDEM_PG_FSYNC=on (pg_lib.sh's PG_FSYNC:
// bench/blog turns it on, so a commit is as durable as SQLite's synchronous=FULL). The server's run time is bounded twice: stop() by
// the test, and a watchdog (a detached shell loop) that SIGQUITs then SIGKILLs the postmaster and
// removes the directory once the test's process (or the node --test runner above it) is gone,
// even when it was SIGKILLed (a CTest timeout) and ran no exit handler.
import { execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const PG_BIN = process.env.PG_BIN || '/usr/lib/postgresql/15/bin';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Whether this machine has PostgreSQL 15's server (scripts/deps.sh installs postgresql-15).
export function postgresAvailable() {
    return fs.existsSync(path.join(PG_BIN, 'postgres')) && fs.existsSync(path.join(PG_BIN, 'initdb'));
}

// The uid and gid the server runs as, or null when this process is not root (then it runs as us).
function serverUser() {
    if (process.getuid() !== 0) return null;
    let name = process.env.TANDEM_PG_USER;
    if (!name) {
        const passwd = fs.readFileSync('/etc/passwd', 'utf8');
        name = /^postgres:/m.test(passwd) ? 'postgres' : 'nobody';
    }
    const id = (flag) => Number(execFileSync('id', [flag, name]).toString().trim());
    return { name, uid: id('-u'), gid: id('-g') };
}

// argv run as the server's user (setpriv) when we are root.
function as(user, argv) {
    if (!user) return argv;
    return ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--', ...argv];
}

// A database name as a quoted SQL identifier (the names the harness makes: letters, digits, - _).
function ident(name) {
    if (!/^[A-Za-z0-9_-]{1,63}$/.test(name)) throw new Error(`not a database name the harness makes: ${name}`);
    return `"${name}"`;
}

export class Postgres {
    constructor({ dir, port, user, proc, watchdog, log }) {
        this.dir = dir;
        this.port = port;
        this.user = user;
        this.proc = proc;
        this.pid = proc.pid;
        this.watchdog = watchdog;
        this.log = log;
        this.exited = null;
        this.databases = new Map(); // name -> its URL (a promise)
        proc.on('exit', (code, signal) => (this.exited = { code, signal }));
    }

    // The URL of database name on this server (as the trust superuser "tandem").
    url(name) {
        return `postgres://tandem@127.0.0.1:${this.port}/${name}`;
    }

    // Creates database name (once: a later or concurrent call answers the same URL); resolves
    // its URL.
    database(name) {
        if (!this.databases.has(name)) {
            const made = this.sql(this.url('postgres'), `CREATE DATABASE ${ident(name)}`).then(() => this.url(name));
            made.catch(() => this.databases.delete(name));
            this.databases.set(name, made);
        }
        return this.databases.get(name);
    }

    // Runs sql on the database at url with psql (-At: bare values, tab-separated, NULL as "");
    // resolves the rows, each an array of column texts (they must not hold tabs or newlines:
    // ids, counts, names). Throws with psql's message when the statement fails.
    async sql(url, sql) {
        let stdout;
        try {
            ({ stdout } = await run(path.join(PG_BIN, 'psql'), ['-X', '-q', '-At', '-F', '\t', '-v', 'ON_ERROR_STOP=1',
                '-d', url, '-c', sql], { timeout: 60000, maxBuffer: 64 << 20, env: { ...process.env, PGCONNECT_TIMEOUT: '10' } }));
        } catch (e) {
            throw new Error(`psql ${url}: ${sql.slice(0, 200)}: ${(e.stderr || String(e)).trim()}`);
        }
        return stdout.split('\n').filter(Boolean).map((l) => l.split('\t'));
    }

    // The last lines of the server's log, for a failure's message.
    tail(n = 20) {
        try {
            return fs.readFileSync(this.log, 'utf8').split('\n').slice(-n).join('\n');
        } catch {
            return '';
        }
    }

    // Fast shutdown (SIGINT), SIGQUIT after timeout ms, SIGKILL 2 s later; then the directory is
    // removed (kept with keep: true, or TANDEM_KEEP=1) and the watchdog ended.
    async stop({ timeout = 20000, keep = false } = {}) {
        if (!this.stopped) {
            this.stopped = true;
            const wait = async (ms) => {
                const end = Date.now() + ms;
                while (!this.exited && Date.now() < end) await sleep(20);
                return this.exited;
            };
            if (!this.exited) {
                this.proc.kill('SIGINT');
                if (!(await wait(timeout))) {
                    this.proc.kill('SIGQUIT');
                    if (!(await wait(2000))) {
                        this.proc.kill('SIGKILL');
                        await wait(10000);
                    }
                }
            }
            try {
                process.kill(-this.watchdog.pid, 'SIGKILL'); // its own process group (detached)
            } catch {
                // already gone: it ends by itself once the postmaster has exited
            }
            if (keep || process.env.TANDEM_KEEP) {
                console.error(`kept the PostgreSQL directory ${this.dir}`);
            } else {
                fs.rmSync(this.dir, { recursive: true, force: true });
            }
        }
        return this.exited;
    }
}

// Starts a PostgreSQL 15 on 127.0.0.1 and a free port; resolves a Postgres once it accepts
// connections. log: where the server's stderr goes (default <dir>/postgres.log; a test can put it
// beside its other logs, kept when it fails).
export async function startPostgres({ log, timeout = 30000 } = {}) {
    if (!postgresAvailable()) throw new Error(`no ${PG_BIN}/postgres (apt-get install postgresql-15)`);
    const user = serverUser();
    const dir = fs.mkdtempSync('/tmp/tandem-blogpg.');
    fs.chmodSync(dir, 0o700);
    if (user) fs.chownSync(dir, user.uid, user.gid);
    const data = path.join(dir, 'data');
    log = log || path.join(dir, 'postgres.log');
    try {
        // cwd: the server's user may not enter ours (initdb warns, postgres refuses)
        const initdb = as(user, [path.join(PG_BIN, 'initdb'), '-D', data, '-U', 'tandem', '--auth=trust',
            '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
        await run(initdb[0], initdb.slice(1), { cwd: dir, timeout: 120000 });
    } catch (e) {
        fs.rmSync(dir, { recursive: true, force: true });
        throw new Error(`initdb failed: ${e.stdout || ''}${e.stderr || e}`);
    }
    const port = Number(execFileSync(path.join(ROOT, 'scripts', 'free-ports')).toString().trim());
    const fd = fs.openSync(log, 'a');
    const argv = as(user, [path.join(PG_BIN, 'postgres'), '-D', data, '-c', 'listen_addresses=127.0.0.1',
        '-c', `port=${port}`, '-c', `unix_socket_directories=${dir}`, '-c', 'max_connections=100',
        '-c', `fsync=${process.env.TANDEM_PG_FSYNC === 'on' ? 'on' : 'off'}`, '-c', 'shared_buffers=64MB', '-c', 'log_min_messages=warning',
        '-c', 'log_line_prefix=%m [%p] %a ']);
    const proc = spawn(argv[0], argv.slice(1), { cwd: dir, stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    // The watchdog: while this process, the runner above it and the postmaster live, sleep; then
    // (this process gone) SIGQUIT, SIGKILL the postmaster and remove the directory. Detached: a
    // session of its own, so neither our death nor a signal to our process group ends it first.
    // Alive is "in /proc" (kill -0 fails with EPERM on another user's process: a runner that is
    // root when the test is not).
    const script = `
        alive() { [ -d "/proc/$1" ]; }
        while alive "$1" && alive "$2" && alive "$3"; do
            sleep 0.5
        done
        alive "$3" || exit 0
        kill -QUIT "$3" 2>/dev/null
        for i in 1 2 3 4 5 6; do alive "$3" || break; sleep 0.5; done
        kill -KILL "$3" 2>/dev/null
        sleep 0.5
        [ "$5" = 1 ] || rm -rf "$4"`;
    const runner = process.ppid > 1 ? process.ppid : process.pid; // pid 1 is no runner
    const watchdog = spawn('sh', ['-c', script, 'tandem-pg-watchdog', String(process.pid), String(runner),
        String(proc.pid), dir, process.env.TANDEM_KEEP ? '1' : '0'], { detached: true, stdio: 'ignore' });
    watchdog.unref();
    const pg = new Postgres({ dir, port, user, proc, watchdog, log });
    const end = Date.now() + timeout;
    for (;;) {
        if (pg.exited) {
            const why = pg.tail();
            await pg.stop();
            throw new Error(`postgres exited before it was ready (${JSON.stringify(pg.exited)}):\n${why}`);
        }
        try {
            await run(path.join(PG_BIN, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(port), '-U', 'tandem', '-d', 'postgres'], { timeout: 10000 });
            break;
        } catch {
            // not yet
        }
        if (Date.now() > end) {
            const why = pg.tail();
            await pg.stop();
            throw new Error(`postgres not ready within ${timeout} ms:\n${why}`);
        }
        await sleep(100);
    }
    return pg;
}
