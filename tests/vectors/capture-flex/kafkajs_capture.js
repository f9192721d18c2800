// kafkajs 2.2.4 traffic for the capture (capture-flex/capture.sh): admin (create a topic, list,
// describe and delete groups, fetch offsets), a producer, and a group consumer that reads what
// was produced, commits and leaves. Only ever talks to the bootstrap address given.
//   node kafkajs_capture.js HOST:PORT TOPIC
'use strict';
const { Kafka, logLevel, Partitioners } = require('kafkajs');

const [broker, topic] = process.argv.slice(2);
const kafka = new Kafka({ clientId: 'tandem-capture-kafkajs', brokers: [broker],
                          logLevel: logLevel.WARN, retry: { retries: 3 } });

async function main() {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: [0, 1, 2, 3].map(i => ({ key: `k${i}`, value: `v${i}` })) });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: 'capture-js', sessionTimeout: 10000, heartbeatInterval: 500 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let got = 0;
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), 20000);
    consumer.run({ eachMessage: async () => { if (++got === 4) { clearTimeout(timer); resolve(); } } });
  });
  await consumer.commitOffsets([{ topic, partition: 0, offset: '1' }]);
  await consumer.disconnect();
  await admin.fetchOffsets({ groupId: 'capture-js', topics: [topic] });
  await admin.listGroups();
  await admin.describeGroups(['capture-js']);
  await admin.deleteGroups(['capture-js']);
  await admin.deleteTopics({ topics: [topic] });
  await admin.disconnect();
}

main().then(() => process.exit(0), e => { console.error(`kafkajs_capture: ${e}`); process.exit(1); });
