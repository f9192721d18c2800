// ingest_replay.mjs BROKER GATEWAY_URL: what a replay of the topic vehicle-positions implies,
// against what the fleet answers (ingest_fleet.sh). Reads every record of the topic up to the
// high watermarks seen at the start with kafkajs (an independent Kafka client), keeps the newest
// position of each vehicle as the fleet's stale rule does (docs/fleet.md: a ts not newer than the
// vehicle's is not applied), then reads each of those vehicles through the gateway and compares
// the integers (lat/lon 1e-7 degrees, speed mm/s, heading centidegrees, ts ms).
// Prints one JSON line {"records","vehicles","match","differ","missing"} and exits 0 when every
// vehicle matches. It holds when the last mode that wrote the vehicles was the events one (a REST
// write newer than every record would be a legitimate difference).
import kafkajs from 'kafkajs';

const { Kafka, logLevel } = kafkajs;
const [broker, gateway] = process.argv.slice(2);
const TOPIC = 'vehicle-positions';
const kafka = new Kafka({ clientId: 'ingest-replay', brokers: [broker], logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const ends = new Map();
for (const p of await admin.fetchTopicOffsets(TOPIC)) {
    if (Number(p.high) > Number(p.low)) {
        ends.set(p.partition, Number(p.high));
    }
}
await admin.disconnect();

const newest = new Map(); // id -> [lat, lon, speed, heading, ts]
let records = 0;
const consumer = kafka.consumer({ groupId: `ingest-replay-${process.pid}`, maxWaitTimeInMs: 50 });
await consumer.connect();
await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('replay: not done within 60 s')), 60000);
    if (ends.size === 0) {
        clearTimeout(timer);
        resolve();
        return;
    }
    consumer.run({
        eachBatch: async ({ batch }) => {
            const end = ends.get(batch.partition);
            for (const m of batch.messages) {
                if (end === undefined || Number(m.offset) >= end) {
                    continue;
                }
                records++;
                const b = m.value;
                const id = Number(b.readBigUInt64LE(8));
                const v = [b.readInt32LE(16), b.readInt32LE(20), b.readUInt32LE(4), b.readUInt16LE(2),
                    Number(b.readBigInt64LE(24))];
                const have = newest.get(id);
                if (have === undefined || v[4] > have[4]) {
                    newest.set(id, v);
                }
                if (Number(m.offset) + 1 >= end) {
                    ends.delete(batch.partition);
                }
            }
            if (ends.size === 0) {
                clearTimeout(timer);
                resolve();
            }
        },
    }).catch(reject);
});
await consumer.disconnect();

let match = 0;
let differ = 0;
let missing = 0;
for (const [id, v] of newest) {
    const r = await fetch(`${gateway}/api/fleet/vehicles/${id}`);
    if (r.status !== 200) {
        missing++;
        continue;
    }
    const j = await r.json();
    const got = [Math.round(j.lat * 1e7), Math.round(j.lon * 1e7), Math.round(j.speed * 1000),
        Math.round(j.heading * 100), j.ts];
    if (got.every((x, i) => x === v[i])) {
        match++;
    } else {
        differ++;
        if (differ <= 3) {
            process.stderr.write(`vehicle ${id}: replay ${JSON.stringify(v)}, fleet ${JSON.stringify(got)}\n`);
        }
    }
}
console.log(JSON.stringify({ records, vehicles: newest.size, match, differ, missing }));
process.exit(differ === 0 && missing === 0 && newest.size > 0 ? 0 : 1);
