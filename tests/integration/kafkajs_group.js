// kafkajs consumer groups against tandem-broker (kafkajs has only group consumers): a consumer
// in group g1 subscribed fromBeginning must receive every record of kafkajs_produce's model
// (topic js-group, N records, 3 partitions) exactly once and in order per partition, commit,
// leave; a second consumer of the same group must then see only the records produced after the
// commit.
//   node kafkajs_group.js HOST:PORT [N]
'use strict';
const { Kafka, logLevel, Partitioners } = require('kafkajs');

const broker = process.argv[2];
const N = parseInt(process.argv[3] || '1000', 10);
const PARTS = 3;
const TOPIC = 'js-group';

function fail(msg) {
  console.error(`kafkajs_group: FAIL: ${msg}`);
  process.exit(1);
}

const kafka = new Kafka({
  clientId: 'tandem-it-kafkajs-group',
  brokers: [broker],
  logLevel: logLevel.WARN,
  connectionTimeout: 5000,
  requestTimeout: 20000,
  retry: { retries: 3, initialRetryTime: 200 },
});

async function send(producer, from, to) {
  const messages = [];
  for (let i = from; i < to; i++)
    messages.push({ key: `key-${i}`, value: `js-${i}`, partition: i % PARTS, headers: { seq: String(i), tag: 'js' } });
  await producer.send({ topic: TOPIC, acks: -1, messages });
}

// Runs one group consumer until it has seen want records (seq from..to-1), checking each.
async function consumeRange(from, to, label) {
  const consumer = kafka.consumer({ groupId: 'g1', sessionTimeout: 10000, heartbeatInterval: 1000 });
  consumer.on(consumer.events.CRASH, e => fail(`${label}: consumer crashed: ${e.payload.error}`));
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  const next = {};
  for (let p = 0; p < PARTS; p++) {
    let s = from;
    while (s % PARTS !== p) s++;
    next[p] = s;
  }
  let got = 0;
  const want = to - from;
  let problem = null;
  const done = new Promise(resolve => {
    consumer.run({
      autoCommit: true,
      autoCommitInterval: 200,
      eachMessage: async ({ partition, message }) => {
        const key = message.key && message.key.toString();
        const value = message.value && message.value.toString();
        const i = next[partition];
        if (i >= to) problem = problem || `${label}: extra record partition ${partition} offset ${message.offset}: ${value}`;
        else if (key !== `key-${i}` || value !== `js-${i}`)
          problem = problem || `${label}: partition ${partition} offset ${message.offset}: ${key}/${value}, want key-${i}/js-${i}`;
        next[partition] = i + PARTS;
        got++;
        if (got >= want || problem) resolve();
      },
    });
  });
  await done;
  await new Promise(r => setTimeout(r, 1000)); // any extra record shows up in the meantime
  await consumer.disconnect(); // commits and leaves the group
  if (problem) fail(problem);
  if (got !== want) fail(`${label}: ${got} records, want ${want}`);
  console.error(`kafkajs_group: ${label}: ${got} records as expected`);
}

async function main() {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: TOPIC, numPartitions: PARTS }] });
  const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  await send(producer, 0, N);
  await consumeRange(0, N, 'first consumer');
  const offsets = await admin.fetchOffsets({ groupId: 'g1', topics: [TOPIC] });
  const committed = offsets[0].partitions.reduce((a, p) => a + Number(p.offset), 0);
  if (committed !== N) fail(`committed offsets sum to ${committed}, want ${N}: ${JSON.stringify(offsets)}`);
  await send(producer, N, N + 30);
  await consumeRange(N, N + 30, 'second consumer');
  await producer.disconnect();
  await admin.disconnect();
  console.error('kafkajs_group: ok');
}

const timer = setTimeout(() => fail('timed out after 45 s'), 45000);
main().then(() => {
  clearTimeout(timer);
  process.exit(0);
}, e => fail(e && e.stack ? e.stack : String(e)));
