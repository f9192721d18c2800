#!/usr/bin/env node
// bench/activity/run.mjs: how fast the activity service takes beacons and applies events.
//
//   node bench/activity/run.mjs [BUILD_DIR (default build)]     (REPEAT=3 N_FULL=5000 N_NORMAL=20000 SECS=5)
//
// Two measurements, each on a fresh broker and database (under BUILD_DIR/activity-bench: the
// work tree's disk, never a tmpfs), repeated REPEAT times, medians printed as the table of
// services/activity/README.md; raw rows go to bench/results/activity-<time>.csv.
//
// consume  N activity.page_viewed events (keyed by 1,000 users, reading 100 published articles)
//          are produced with kafkajs while the service is down; the service is started and
//          /api/activity/totals polled every 50 ms: events/s = events applied between the first
//          poll that saw some and the one that saw all, over that time. Once with
//          --consumer-sync full (the default: one fsync per event) and once with normal.
// beacons  POST /api/activity/events with 50 page views a batch from 16 concurrent clients for
//          SECS seconds: batches and events answered 202 per second, latency p50/p99 (the
//          request path only: publish and answer, no database).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const BUILD = path.resolve(process.argv[2] || path.join(ROOT, 'build'));
process.env.TANDEM_TEST_BIN = path.join(BUILD, 'bin');
const WORK = path.join(BUILD, 'activity-bench');
fs.mkdirSync(WORK, { recursive: true });
process.env.TMPDIR = WORK; // the System's directory: the work tree's disk
const require = createRequire(path.join(ROOT, 'tests', 'blog', 'package.json'));
const { Kafka, logLevel } = require('kafkajs');
const { System, api, waitFor, sleep } = await import(path.join(ROOT, 'tests', 'blog', 'lib.mjs'));

const REPEAT = Number(process.env.REPEAT || 3);
const N = { full: Number(process.env.N_FULL || 5000), normal: Number(process.env.N_NORMAL || 20000) };
const SECS = Number(process.env.SECS || 5);
const TOPICS = ['users', 'articles', 'comments', 'activity'];

function ce(type, source, i) {
    return { ce_specversion: '1.0', ce_id: `bench-${i}`, ce_source: source, ce_type: type, 'content-type': 'application/json' };
}

async function system(label) {
    const sys = new System(`bench-${label}`);
    await sys.broker();
    const kafka = new Kafka({ brokers: [sys.brokers], clientId: 'activity-bench', logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: TOPICS.map((topic) => ({ topic, numPartitions: 1 })), waitForLeaders: true });
    await admin.disconnect();
    return { sys, kafka };
}

const pageViews = async (url) => (await api(url, 'GET', '/api/activity/totals')).json.events['activity.page_viewed'] ?? 0;

async function consume(sync) {
    const { sys, kafka } = await system(`consume-${sync}`);
    const n = N[sync];
    try {
        const p = kafka.producer();
        await p.connect();
        const now = new Date().toISOString();
        const articles = Array.from({ length: 100 }, (_, i) => ({
            key: String(i + 1),
            value: JSON.stringify({ v: 1, id: i + 1, slug: `article-${i + 1}`, title: `Article ${i + 1}`, description: '', tagList: [], authorId: 1, createdAt: now, updatedAt: now, version: 1 }),
            headers: ce('article.published', '/articles', `a${i}`),
        }));
        await p.send({ topic: 'articles', messages: articles });
        for (let i = 0; i < n; i += 1000) {
            const messages = [];
            for (let k = i; k < Math.min(n, i + 1000); k++) {
                const user = (k % 1000) + 1;
                const slug = `article-${(k % 100) + 1}`;
                messages.push({
                    key: String(user),
                    value: JSON.stringify({ v: 1, userId: user, anonymousId: `visitor-${user}`, path: `/article/${slug}`, slug, at: now }),
                    headers: ce('activity.page_viewed', '/activity', k),
                });
            }
            await p.send({ topic: 'activity', messages });
        }
        await p.disconnect();
        const svc = await sys.service('activity', { env: { TANDEM_CONSUMER_SYNC: sync } });
        let first;
        await waitFor(async () => {
            const c = await pageViews(svc.url);
            if (c > 0 && !first) first = { t: performance.now(), c };
            return c >= n;
        }, 'every event applied', { timeout: 600000, interval: 50 });
        const t = performance.now();
        return { sync, n, rate: ((n - first.c) * 1000) / (t - first.t) };
    } finally {
        await sys.close();
    }
}

async function beacons() {
    const { sys } = await system('beacons');
    try {
        const svc = await sys.service('activity');
        const body = { anonymousId: 'bench', events: Array.from({ length: 50 }, (_, i) => ({ type: 'page_view', path: `/article/a-${i}`, slug: `a-${i}` })) };
        const lat = [];
        let failed = 0;
        const end = performance.now() + SECS * 1000;
        await Promise.all(Array.from({ length: 16 }, async () => {
            while (performance.now() < end) {
                const t0 = performance.now();
                const r = await api(svc.url, 'POST', '/api/activity/events', { body });
                if (r.status === 202) lat.push(performance.now() - t0);
                else failed++;
            }
        }));
        lat.sort((a, b) => a - b);
        await sleep(100);
        return { batches: lat.length / SECS, events: (lat.length * 50) / SECS, p50: lat[Math.floor(lat.length / 2)], p99: lat[Math.floor(lat.length * 0.99)], failed };
    } finally {
        await sys.close();
    }
}

const LOAD_AT_START = os.loadavg()[0].toFixed(2);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
for (let r = 0; r < REPEAT; r++) {
    for (const sync of ['full', 'normal']) rows.push({ kind: 'consume', rep: r, ...(await consume(sync)) });
    rows.push({ kind: 'beacons', rep: r, ...(await beacons()) });
}
fs.mkdirSync(path.join(ROOT, 'bench', 'results'), { recursive: true });
const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
const csv = path.join(ROOT, 'bench', 'results', `activity-${stamp}.csv`);
fs.writeFileSync(csv, ['kind,rep,sync,n,events_per_s,batches_per_s,p50_ms,p99_ms,failed',
    ...rows.map((x) => [x.kind, x.rep, x.sync ?? '', x.n ?? '', (x.rate ?? x.events).toFixed(0), x.batches?.toFixed(0) ?? '',
        x.p50?.toFixed(2) ?? '', x.p99?.toFixed(2) ?? '', x.failed ?? ''].join(','))].join('\n') + '\n');
console.log(`machine: ${os.cpus().length} x ${os.cpus()[0].model}, load at the start ${LOAD_AT_START}; ${REPEAT} repetitions, medians; raw: ${path.relative(ROOT, csv)}`);
console.log('| measurement | events/s | batches/s | p50 ms | p99 ms |');
console.log('|---|---|---|---|---|');
for (const sync of ['full', 'normal']) {
    const xs = rows.filter((x) => x.sync === sync);
    console.log(`| consumer, --consumer-sync ${sync} (${N[sync]} page views) | ${median(xs.map((x) => x.rate)).toFixed(0)} | | | |`);
}
const bs = rows.filter((x) => x.kind === 'beacons');
console.log(`| POST /api/activity/events, 50 a batch, 16 clients | ${median(bs.map((x) => x.events)).toFixed(0)} | ${median(bs.map((x) => x.batches)).toFixed(0)} | ${median(bs.map((x) => x.p50)).toFixed(2)} | ${median(bs.map((x) => x.p99)).toFixed(2)} |`);
