// kafkajs (an independent Kafka client) sharing a topic inside one consumer group on
// tandem-broker: two consumers of group js2-group join, split the 4 partitions of topic js2
// disjointly (GROUP_JOIN assignments), each consumes only its own partitions, together every
// record exactly once, and they commit (autoCommit) and leave; the committed offsets are the
// end offsets (admin.fetchOffsets); a third consumer of the same group then sees no record left
// (fromBeginning is ignored once offsets are committed), and exactly the records produced after.
//   node kafkajs_group2.js HOST:PORT [N]
'use strict';
const { Kafka, logLevel } = require('kafkajs');

const broker = process.argv[2];
const N = parseInt(process.argv[3] || '2000', 10);
const PARTS = 4;
const TOPIC = 'js2';
const GROUP = 'js2-group';

function fail(msg) {
  console.error(`kafkajs_group2: FAIL: ${msg}`);
  process.exit(1);
}
function say(msg) {
  console.error(`kafkajs_group2: ${msg}`);
}
const sleep = ms => new Promise(r => setTimeout(r, ms));

const kafka = new Kafka({
  clientId: 'tandem-it-kafkajs-group2',
  brokers: [broker],
  logLevel: logLevel.WARN,
  connectionTimeout: 5000,
  requestTimeout: 20000,
  retry: { retries: 5, initialRetryTime: 200 },
});

async function until(what, secs, cond) {
  const deadline = Date.now() + secs * 1000;
  while (!cond()) {
    if (Date.now() > deadline) fail(`timed out after ${secs} s waiting for ${what}`);
    await sleep(50);
  }
}

// A group member: its latest assignment (from GROUP_JOIN) and every record it processed.
async function member(name) {
  const m = { name, assigned: null, seen: [], parts: new Set() };
  m.consumer = kafka.consumer({ groupId: GROUP, sessionTimeout: 6000, heartbeatInterval: 500, rebalanceTimeout: 10000, maxWaitTimeInMs: 500 });
  m.consumer.on(m.consumer.events.CRASH, e => fail(`${name}: consumer crashed: ${e.payload.error}`));
  m.consumer.on(m.consumer.events.GROUP_JOIN, e => {
    m.assigned = (e.payload.memberAssignment[TOPIC] || []).slice().sort((a, b) => a - b);
    say(`${name}: joined as ${e.payload.memberId}${e.payload.isLeader ? ' (leader)' : ''}, partitions ${m.assigned}`);
  });
  await m.consumer.connect();
  await m.consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  await m.consumer.run({
    autoCommit: true,
    autoCommitInterval: 200,
    eachMessage: async ({ partition, message }) => {
      m.seen.push(Number(message.value.toString()));
      m.parts.add(partition);
    },
  });
  return m;
}

// True when the members' latest assignments are non-empty, disjoint and cover every partition.
function split(members) {
  const all = [];
  for (const m of members) {
    if (!m.assigned || m.assigned.length === 0) return false;
    all.push(...m.assigned);
  }
  all.sort((a, b) => a - b);
  return all.length === PARTS && all.every((p, i) => p === i);
}

async function produce(producer, from, to) {
  const messages = [];
  for (let i = from; i <= to; i++) messages.push({ key: String(i), value: String(i), partition: i % PARTS });
  await producer.send({ topic: TOPIC, acks: -1, messages });
}

async function main() {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: TOPIC, numPartitions: PARTS }] });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();

  const c1 = await member('c1');
  const c2 = await member('c2');
  await until('c1 and c2 to split the partitions', 30, () => split([c1, c2]));
  await sleep(1000);
  if (!split([c1, c2])) fail(`the split did not last: c1 ${c1.assigned}, c2 ${c2.assigned}`);
  say(`c1 holds ${c1.assigned}, c2 holds ${c2.assigned}`);

  await produce(producer, 1, N);
  const union = () => new Set([...c1.seen, ...c2.seen]).size;
  await until(`c1 and c2 to consume 1..${N}`, 30, () => union() >= N);
  await sleep(1000); // a duplicate, if any, shows up meanwhile
  const s1 = new Set(c1.seen);
  const both = c2.seen.filter(v => s1.has(v)).length;
  say(`c1 got ${c1.seen.length}, c2 got ${c2.seen.length}, both ${both}, union ${union()}`);
  if (union() !== N) fail(`union ${union()}, want ${N}`);
  if (c1.seen.length + c2.seen.length !== N) fail(`${c1.seen.length + c2.seen.length} records handled for ${N} values`);
  if (both !== 0 || c1.seen.length === 0 || c2.seen.length === 0) fail('c1 and c2 did not split the records');
  for (const m of [c1, c2])
    for (const p of m.parts) if (!m.assigned.includes(p)) fail(`${m.name} consumed partition ${p}, assigned ${m.assigned}`);
  await c1.consumer.disconnect();
  await c2.consumer.disconnect();

  const offsets = await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] });
  const committed = offsets[0].partitions.map(p => `${p.partition}:${p.offset}`).sort().join(' ');
  const want = [...Array(PARTS).keys()].map(p => `${p}:${N / PARTS}`).join(' ');
  say(`committed ${committed}`);
  if (committed !== want) fail(`committed offsets ${committed}, want ${want}`);

  const c3 = await member('c3');
  await until('c3 to hold every partition', 30, () => split([c3]));
  await sleep(2000);
  if (c3.seen.length !== 0) fail(`c3 got ${c3.seen.length} records though everything was committed (first ${c3.seen[0]})`);
  say('c3 sees no record left');
  await produce(producer, N + 1, N + 40);
  await until(`c3 to consume ${N + 1}..${N + 40}`, 20, () => c3.seen.length >= 40);
  await sleep(500);
  const sorted = c3.seen.slice().sort((a, b) => a - b);
  if (sorted.length !== 40 || sorted[0] !== N + 1 || sorted[39] !== N + 40)
    fail(`c3 got ${sorted.length} records ${sorted[0]}..${sorted[sorted.length - 1]}, want ${N + 1}..${N + 40}`);
  say(`c3 got exactly ${N + 1}..${N + 40}`);
  await c3.consumer.disconnect();
  await producer.disconnect();
  await admin.disconnect();
  say('ok');
}

const timer = setTimeout(() => fail('timed out after 70 s'), 70000);
main().then(() => {
  clearTimeout(timer);
  process.exit(0);
}, e => fail(e && e.stack ? e.stack : String(e)));
