// kafkajs (an independent Kafka client implementation) against tandem-broker: admin
// createTopics / listTopics / fetchTopicOffsets and producer.send with acks -1 (gzip) and acks 1.
// Records follow kafka-check's model (kafka_check.h) with tag "js" and no null header, so that
// `kafka-check consume --tag js --no-null-header` verifies them byte for byte afterwards.
//   node kafkajs_produce.js HOST:PORT [N]
'use strict';
const { Kafka, logLevel, CompressionTypes } = require('kafkajs');

const broker = process.argv[2];
const N = parseInt(process.argv[3] || '3000', 10);
const PARTS = 3;

function fail(msg) {
  console.error(`kafkajs_produce: FAIL: ${msg}`);
  process.exit(1);
}

const kafka = new Kafka({
  clientId: 'tandem-it-kafkajs',
  brokers: [broker],
  logLevel: logLevel.WARN,
  connectionTimeout: 5000,
  requestTimeout: 20000,
  retry: { retries: 3, initialRetryTime: 200 },
});

function record(i) {
  return {
    key: `key-${i}`,
    value: `js-${i}`,
    partition: i % PARTS,
    headers: { seq: String(i), tag: 'js' },
  };
}

async function produce(producer, topic, acks, compression) {
  const t0 = Date.now();
  for (let start = 0; start < N; start += 500) {
    const messages = [];
    for (let i = start; i < Math.min(N, start + 500); i++) messages.push(record(i));
    const meta = await producer.send({ topic, acks, compression, timeout: 15000, messages });
    if (acks !== 0) {
      for (const m of meta) {
        if (m.errorCode !== 0) fail(`${topic} partition ${m.partition}: errorCode ${m.errorCode}`);
        if (!(Number(m.baseOffset) >= 0)) fail(`${topic}: bad baseOffset ${JSON.stringify(m)}`);
      }
    }
  }
  console.error(`kafkajs_produce: sent ${N} records to ${topic} (acks ${acks}) in ${Date.now() - t0} ms`);
}

async function main() {
  const admin = kafka.admin();
  await admin.connect();
  const created = await admin.createTopics({
    waitForLeaders: true,
    timeout: 10000,
    topics: [
      { topic: 'js-all', numPartitions: PARTS, configEntries: [{ name: 'retention.ms', value: '86400000' }] },
      { topic: 'js-one', numPartitions: PARTS },
    ],
  });
  if (created !== true) fail(`createTopics returned ${created}, want true`);
  const again = await admin.createTopics({ topics: [{ topic: 'js-all', numPartitions: PARTS }] });
  if (again !== false) fail(`createTopics of an existing topic returned ${again}, want false`);
  const topics = await admin.listTopics();
  for (const t of ['js-all', 'js-one']) if (!topics.includes(t)) fail(`listTopics lacks ${t}: ${topics}`);

  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  await produce(producer, 'js-all', -1, CompressionTypes.GZIP);
  await produce(producer, 'js-one', 1, CompressionTypes.None);
  await producer.disconnect();

  for (const t of ['js-all', 'js-one']) {
    const offs = await admin.fetchTopicOffsets(t);
    const byPart = offs.map(o => [o.partition, Number(o.low), Number(o.high)]).sort((a, b) => a[0] - b[0]);
    const want = [...Array(PARTS).keys()].map(p => [p, 0, Math.floor(N / PARTS) + (p < N % PARTS ? 1 : 0)]);
    if (JSON.stringify(byPart) !== JSON.stringify(want))
      fail(`fetchTopicOffsets(${t}) = ${JSON.stringify(byPart)}, want ${JSON.stringify(want)}`);
  }
  const now = Date.now();
  const byTime = await admin.fetchTopicOffsetsByTimestamp('js-one', now + 3600000);
  for (const o of byTime)
    if (Number(o.offset) !== Math.floor(N / PARTS) + (o.partition < N % PARTS ? 1 : 0))
      fail(`fetchTopicOffsetsByTimestamp(future) partition ${o.partition} = ${o.offset}, want the end`);
  await admin.disconnect();
  console.error('kafkajs_produce: ok');
}

const timer = setTimeout(() => fail('timed out after 60 s'), 60000);
main().then(() => {
  clearTimeout(timer);
  process.exit(0);
}, e => fail(e && e.stack ? e.stack : String(e)));
