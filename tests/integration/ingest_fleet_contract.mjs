#!/usr/bin/env node
// ingest_fleet_contract.mjs: a stand-in for the fleet service (services/fleet), written from its
// contract (docs/fleet.md, "The contract") alone, so that `tandem bench ingest`'s integration
// tests (ingest_fleet.sh) judge the benchmark's own accounting against a service whose every
// answer is known: the simulator's ledger against the state, lost and retried updates, the
// outage, the JSON and SVG outputs. It is not the fleet: no spatial index, no trail, no stream, no
// dead-letter topic, one instance. The real service's figures come from the real service
// (docs/benchmarks.md); the test runs against it too once it is built (ingest_fleet.sh, FLEET_BIN).
//
// What it keeps of the contract, exactly:
//   - topic vehicle-positions, key the id in decimal, value the 32-byte binary position v1
//     (little-endian: version, flags, heading cd, speed mm/s, id, lat, lon 1e-7 deg, ts ms); a
//     record of another length, version, flags, a field out of range or a key that is not the id
//     is rejected (counted, never applied);
//   - POST /api/fleet/positions (204) and /api/fleet/positions/batch (200 {"applied","stale"}),
//     answered once applied; 400 not JSON, 415 not application/json, 422 out of range;
//   - GET /api/fleet/vehicles/{id} (200 the position, 404);
//   - the stale rule: a position whose ts is not newer than the vehicle's is counted, not applied;
//   - /metrics: fleet_visible_latency_seconds{source} (the contract's buckets; observed when a
//     position becomes visible: now - ts), fleet_positions_{applied,stale,rejected}_total{source},
//     fleet_vehicles, and tandem_consumer_lag{group,topic,partition} as libtandem's consumer
//     exports it.
// Restarts: SIGTERM writes the state to TANDEM_INSTANCE_DIR/state.json; a start loads it and then
// replays the whole topic from the beginning (the stale rule makes the replay change nothing but
// what the state has not seen: the outage's records), in the consumer group `fleet`, committing
// as it goes (the bench reads the group's lag at the broker). /readyz answers 200 once the
// consumer has joined its group.
// Environment (from `tandem up`): TANDEM_LISTEN, TANDEM_BROKERS, TANDEM_INSTANCE_DIR.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import kafkajs from 'kafkajs';

const { Kafka, logLevel } = kafkajs;
const TOPIC = 'vehicle-positions';
const [host, port] = (process.env.TANDEM_LISTEN ?? '127.0.0.1:8161').split(':');
const brokers = (process.env.TANDEM_BROKERS ?? '127.0.0.1:9092').split(',');
const dir = process.env.TANDEM_INSTANCE_DIR ?? process.env.TANDEM_DATA_DIR ?? '.';
const snapshot = path.join(dir, 'state.json');
const LE = [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03,
    0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60];
const SOURCES = ['events', 'rest', 'rest-batch'];
const TS_MIN = 946684800000; // 2000-01-01
const TS_MAX = 4102444800000; // 2100-01-01

const vehicles = new Map(); // id -> [lat, lon, speed_mm, heading_cd, ts] (integers)
const counts = {};
for (const s of SOURCES) {
    counts[s] = { applied: 0, stale: 0, rejected: 0, buckets: new Array(LE.length + 1).fill(0), sum: 0 };
}
const next = new Map(); // partition -> the next offset to apply
const high = new Map(); // partition -> its high watermark
let ready = false;
let group = '';

function log(msg) {
    process.stderr.write(`${JSON.stringify({ ts: new Date().toISOString(), msg })}\n`);
}

if (fs.existsSync(snapshot)) {
    for (const [id, v] of JSON.parse(fs.readFileSync(snapshot, 'utf8'))) {
        vehicles.set(id, v);
    }
    log(`loaded ${vehicles.size} vehicles from ${snapshot}`);
}

// THE apply: the stale rule, then the latency at the moment it becomes visible.
function apply(id, v, source) {
    const c = counts[source];
    const have = vehicles.get(id);
    if (have !== undefined && v[4] <= have[4]) {
        c.stale++;
        return false;
    }
    vehicles.set(id, v);
    c.applied++;
    const lat = Math.max(0, (Date.now() - v[4]) / 1000);
    let i = 0;
    while (i < LE.length && lat > LE[i]) {
        i++;
    }
    c.buckets[i]++;
    c.sum += lat;
    return true;
}

function inRange(id, lat, lon, speed, heading, ts) {
    return Number.isSafeInteger(id) && id >= 1 && lat >= -900000000 && lat <= 900000000 &&
        lon >= -1800000000 && lon <= 1800000000 && speed >= 0 && speed <= 1000000 &&
        heading >= 0 && heading <= 36000 && Number.isSafeInteger(ts) && ts >= TS_MIN && ts <= TS_MAX;
}

// ---- events -------------------------------------------------------------------------------------

function decode(key, b) {
    if (b === null || b.length !== 32 || b[0] !== 1 || b[1] !== 0) {
        return null;
    }
    const id = Number(b.readBigUInt64LE(8));
    const v = [b.readInt32LE(16), b.readInt32LE(20), b.readUInt32LE(4), b.readUInt16LE(2),
        Number(b.readBigInt64LE(24))];
    if (!inRange(id, ...v) || key === null || key.toString() !== String(id)) {
        return null;
    }
    return [id, v];
}

const kafka = new Kafka({ clientId: 'fleet-contract', brokers, logLevel: logLevel.NOTHING });
const admin = kafka.admin();
let consumer = null;

async function watermarks() {
    for (const p of await admin.fetchTopicOffsets(TOPIC)) {
        high.set(p.partition, Number(p.high));
        if (!next.has(p.partition)) {
            next.set(p.partition, Number(p.low));
        }
    }
}

async function consume() {
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 4 }] }).catch(() => {});
    await watermarks();
    group = 'fleet';
    consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 20 });
    consumer.on(consumer.events.GROUP_JOIN, () => {
        ready = true;
        log('joined the group');
    });
    await consumer.connect();
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    const replay = () => {
        for (const [p, low] of next) {
            consumer.seek({ topic: TOPIC, partition: p, offset: String(low) });
        }
    };
    await consumer.run({
        eachBatch: async ({ batch }) => {
            for (const m of batch.messages) {
                const d = decode(m.key, m.value);
                if (d === null) {
                    counts.events.rejected++;
                } else {
                    apply(d[0], d[1], 'events');
                }
                next.set(batch.partition, Number(m.offset) + 1);
            }
        },
    });
    replay(); // the whole topic again, whatever the group committed before
    setInterval(() => watermarks().catch(() => {}), 200).unref();
}

// ---- REST ---------------------------------------------------------------------------------------

function problem(res, status, title, errors) {
    res.writeHead(status, { 'content-type': 'application/problem+json' });
    res.end(JSON.stringify({ type: 'about:blank', title, status, ...(errors ? { errors } : {}) }));
}

// A JSON position into [id, v], or the name of its bad member.
function fromJson(p) {
    if (typeof p !== 'object' || p === null) {
        return 'position';
    }
    for (const k of ['id', 'lat', 'lon', 'speed', 'heading', 'ts']) {
        if (typeof p[k] !== 'number') {
            return k;
        }
    }
    const v = [Math.round(p.lat * 1e7), Math.round(p.lon * 1e7), Math.round(p.speed * 1000),
        Math.round(p.heading * 100), p.ts];
    if (!inRange(p.id, ...v)) {
        return 'position';
    }
    return [p.id, v];
}

function metrics() {
    const out = ['# TYPE fleet_visible_latency_seconds histogram'];
    for (const s of SOURCES) {
        const c = counts[s];
        let acc = 0;
        LE.forEach((le, i) => {
            acc += c.buckets[i];
            out.push(`fleet_visible_latency_seconds_bucket{source="${s}",le="${le}"} ${acc}`);
        });
        acc += c.buckets[LE.length];
        out.push(`fleet_visible_latency_seconds_bucket{source="${s}",le="+Inf"} ${acc}`);
        out.push(`fleet_visible_latency_seconds_sum{source="${s}"} ${c.sum}`);
        out.push(`fleet_visible_latency_seconds_count{source="${s}"} ${acc}`);
    }
    for (const k of ['applied', 'stale', 'rejected']) {
        out.push(`# TYPE fleet_positions_${k}_total counter`);
        for (const s of SOURCES) {
            out.push(`fleet_positions_${k}_total{source="${s}"} ${counts[s][k]}`);
        }
    }
    out.push('# TYPE fleet_vehicles gauge', `fleet_vehicles ${vehicles.size}`);
    out.push('# TYPE tandem_consumer_lag gauge');
    for (const [p, h] of high) {
        const lag = Math.max(0, h - (next.get(p) ?? 0));
        out.push(`tandem_consumer_lag{group="${group}",topic="${TOPIC}",partition="${p}"} ${lag}`);
    }
    return `${out.join('\n')}\n`;
}

function post(req, res, url, body) {
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
        return problem(res, 415, 'Unsupported Media Type');
    }
    const source = url === '/api/fleet/positions' ? 'rest' : 'rest-batch';
    let doc;
    try {
        doc = JSON.parse(body);
    } catch {
        counts[source].rejected++;
        return problem(res, 400, 'Bad Request');
    }
    const list = source === 'rest' ? [doc] : doc?.positions;
    if (!Array.isArray(list) || list.length < 1 || list.length > 1000) {
        counts[source].rejected++;
        return problem(res, 422, 'Unprocessable Content', { positions: ['must hold 1 to 1000'] });
    }
    const parsed = list.map(fromJson);
    const bad = parsed.findIndex((p) => !Array.isArray(p));
    if (bad >= 0) {
        counts[source].rejected += list.length;
        const name = source === 'rest' ? parsed[bad] : `positions[${bad}].${parsed[bad]}`;
        return problem(res, 422, 'Unprocessable Content', { [name]: ['is out of range'] });
    }
    let applied = 0;
    for (const [id, v] of parsed) {
        applied += apply(id, v, source) ? 1 : 0;
    }
    if (source === 'rest') {
        res.writeHead(204);
        return res.end();
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ applied, stale: parsed.length - applied }));
}

const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
        const url = req.url;
        if (req.method === 'GET' && (url === '/readyz' || url === '/healthz')) {
            res.writeHead(url === '/healthz' || ready ? 200 : 503);
            return res.end();
        }
        if (req.method === 'GET' && url === '/metrics') {
            res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
            return res.end(metrics());
        }
        if (req.method === 'POST' && (url === '/api/fleet/positions' || url === '/api/fleet/positions/batch')) {
            return post(req, res, url, Buffer.concat(chunks).toString());
        }
        const m = /^\/api\/fleet\/vehicles\/([0-9]{1,16})$/.exec(url);
        if (req.method === 'GET' && m) {
            const id = Number(m[1]);
            const v = vehicles.get(id);
            if (v === undefined) {
                return problem(res, 404, 'Not Found');
            }
            res.writeHead(200, { 'content-type': 'application/json' });
            return res.end(JSON.stringify({ id, lat: v[0] / 1e7, lon: v[1] / 1e7, speed: v[2] / 1000,
                heading: v[3] / 100, ts: v[4] }));
        }
        return problem(res, 404, 'Not Found');
    });
});
server.keepAliveTimeout = 65000;
server.headersTimeout = 66000;

async function stop() {
    ready = false;
    server.close();
    server.closeIdleConnections();
    const quit = setTimeout(() => process.exit(1), 5000);
    await consumer?.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
    fs.writeFileSync(`${snapshot}.tmp`, JSON.stringify([...vehicles]));
    fs.renameSync(`${snapshot}.tmp`, snapshot);
    log(`saved ${vehicles.size} vehicles`);
    clearTimeout(quit);
    process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

server.listen(Number(port), host, () => log(`listening on ${host}:${port}`));
consume().catch((e) => {
    log(`consumer: ${e.message}`);
    process.exit(1);
});
