// RealWorld's own acceptance test, its Postman collection (tests/postman/realworld, unchanged),
// run by newman against the blog as `make run` starts it, through the gateway, as upstream's
// api/run-api-tests.sh runs it (the globals APIURL, USERNAME, EMAIL, PASSWORD): every request
// answered and every one of the collection's assertions passing. Run twice, with two users, so
// the second run meets a database that is not empty (the collection's lists and filters then
// see other users' articles).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';

import { ROOT } from './lib.mjs';
import { gitBlobHash } from './schemas.mjs';
import { Blog } from './tandem.mjs';

const run = promisify(execFile);
const DIR = path.join(ROOT, 'tests', 'postman');
const COLLECTION = path.join(DIR, 'realworld', 'Conduit.postman_collection.json');
const NEWMAN = path.join(DIR, 'node_modules', '.bin', 'newman');
const COLLECTION_BLOB = '417b5622364f433051c5b81d05401076fe879de9'; // realworld/README.md

// The names of the collection's requests that have a test script (the two DELETEs have none).
const TESTED = new Set();
(function walk(items) {
    for (const it of items) {
        if (it.item) walk(it.item);
        else if ((it.event || []).some((e) => e.listen === 'test')) TESTED.add(it.name);
    }
})(JSON.parse(fs.readFileSync(COLLECTION, 'utf8')).item);

let blog;

before(async () => {
    assert.ok(fs.existsSync(NEWMAN), `${NEWMAN} is missing: scripts/deps.sh installs it (npm ci in tests/postman)`);
    blog = new Blog('postman');
    await blog.up();
});

after(async () => {
    await blog.down();
});

// One newman run; resolves its JSON report's run member.
async function newman(user) {
    const report = path.join(blog.dir, `newman-${user}.json`);
    const args = ['run', COLLECTION, '--reporters', 'json', '--reporter-json-export', report,
        '--global-var', `APIURL=${blog.url}/api`, '--global-var', `USERNAME=${user}`,
        '--global-var', `EMAIL=${user}@mail.com`, '--global-var', 'PASSWORD=password'];
    let out = '';
    try {
        const r = await run(NEWMAN, args, { timeout: 120000 });
        out = r.stdout + r.stderr;
    } catch (e) {
        out = `${e.stdout || ''}${e.stderr || ''}`; // exit 1 on a failed assertion: the report says which
    }
    assert.ok(fs.existsSync(report), `newman wrote no report:\n${out}`);
    return JSON.parse(fs.readFileSync(report, 'utf8')).run;
}

// A response's body as text, for a failure's message (newman's JSON report keeps it as a Buffer).
function body(res) {
    const data = res?.stream?.data;
    return Array.isArray(data) ? Buffer.from(data).toString('utf8').slice(0, 500) : '';
}

function verdict(r) {
    const failures = r.failures.map((f) => `${f.source?.name}: ${f.error?.test || ''} ${f.error?.message}`);
    assert.deepEqual(failures, [], 'failed assertions');
    const s = r.stats;
    assert.equal(s.assertions.failed, 0);
    assert.equal(s.requests.failed, 0);
    assert.equal(s.testScripts.failed, 0);
    assert.equal(s.prerequestScripts.failed, 0);
    // the collection at 747190e: 32 requests; every one asserted something
    assert.equal(s.requests.total, 32);
    assert.ok(s.assertions.total >= 300, `only ${s.assertions.total} assertions ran`);
    for (const e of r.executions) {
        assert.ok(e.response && e.response.code >= 200 && e.response.code < 300, `${e.item.name}: ${e.response?.code} ${body(e.response)}`);
        if (TESTED.has(e.item.name)) assert.ok((e.assertions || []).length > 0, `${e.item.name}: no assertion ran`);
    }
    return s;
}

test('the collection is upstream\'s, unchanged', () => {
    assert.equal(gitBlobHash(COLLECTION), COLLECTION_BLOB);
});

test('RealWorld\'s Postman collection through the gateway: every assertion passes, twice', async () => {
    const first = verdict(await newman(`pm${process.pid}a`));
    const second = verdict(await newman(`pm${process.pid}b`));
    console.log(`newman: ${first.requests.total} requests, ${first.assertions.total} and ${second.assertions.total} assertions, 0 failed`);
    // every request went through the gateway and none was refused
    const log = await blog.logged((l) => l.uri.startsWith('/api/'), 64, 'the 64 requests in the access log');
    assert.equal(log.length, 64);
    assert.deepEqual(log.filter((l) => l.status >= 300), []);
});
