// kafkajs transactions against tandem-broker: a transaction committed and one aborted, both
// with sendOffsets; then a read_committed consumer (kafkajs's default) must see exactly the
// committed records, a readUncommitted one every record, and the group's offsets must be the
// committed transaction's, not the aborted one's.
//   node kafkajs_txn.js HOST:PORT
'use strict';
const { Kafka, logLevel, Partitioners } = require('kafkajs');

const broker = process.argv[2];
const TOPIC = 'js-txn';
const IN = 'js-txn-in';
const GROUP = 'js-txn-group';

function fail(msg) {
  console.error(`kafkajs_txn: FAIL: ${msg}`);
  process.exit(1);
}

const kafka = new Kafka({
  clientId: 'tandem-it-kafkajs-txn',
  brokers: [broker],
  logLevel: logLevel.WARN,
  connectionTimeout: 5000,
  requestTimeout: 20000,
  retry: { retries: 3, initialRetryTime: 200 },
});

async function readAll(groupId, readUncommitted, want) {
  const seen = [];
  const consumer = kafka.consumer({ groupId, readUncommitted, sessionTimeout: 10000 });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  let done;
  const finished = new Promise(r => (done = r));
  await consumer.run({
    eachMessage: async ({ message }) => {
      seen.push(message.value.toString());
      if (seen.length >= want) setTimeout(done, 1500); // then wait for anything extra
    },
  });
  const timer = setTimeout(done, 20000);
  await finished;
  clearTimeout(timer);
  await consumer.disconnect();
  return seen.sort();
}

async function main() {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 2 }, { topic: IN, numPartitions: 1 }] });

  const producer = kafka.producer({
    transactionalId: 'js-tx',
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();

  const committed = await producer.transaction();
  await committed.send({ topic: TOPIC, messages: [0, 1, 2, 3, 4].map(i => ({ key: `k${i}`, value: `c-${i}`, partition: i % 2 })) });
  await committed.sendOffsets({ consumerGroupId: GROUP, topics: [{ topic: IN, partitions: [{ partition: 0, offset: '5' }] }] });
  await committed.commit();

  const aborted = await producer.transaction();
  await aborted.send({ topic: TOPIC, messages: [0, 1, 2, 3, 4].map(i => ({ key: `k${i}`, value: `a-${i}`, partition: i % 2 })) });
  await aborted.sendOffsets({ consumerGroupId: GROUP, topics: [{ topic: IN, partitions: [{ partition: 0, offset: '10' }] }] });
  await aborted.abort();
  await producer.disconnect();

  const offsets = await admin.fetchOffsets({ groupId: GROUP, topics: [IN] });
  const off = offsets[0].partitions.find(p => p.partition === 0).offset;
  if (off !== '5') fail(`group offset ${off}, want 5 (the committed transaction's)`);

  const rc = await readAll('js-txn-rc', false, 5);
  const wantRc = ['c-0', 'c-1', 'c-2', 'c-3', 'c-4'];
  if (JSON.stringify(rc) !== JSON.stringify(wantRc)) fail(`read_committed saw ${JSON.stringify(rc)}`);
  const ru = await readAll('js-txn-ru', true, 10);
  if (ru.length !== 10 || ru.filter(v => v.startsWith('a-')).length !== 5)
    fail(`read_uncommitted saw ${JSON.stringify(ru)}`);
  await admin.disconnect();
  console.error(`kafkajs_txn: committed ${rc.length} visible, ${ru.length} uncommitted, group offset ${off}`);
}

main().then(() => process.exit(0), e => fail(e.stack || String(e)));
