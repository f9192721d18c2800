// kafkajs admin against tandem-broker's config and record APIs (see t_kafkajs_admin.sh):
//   node kafkajs_admin.js HOST:PORT before|after
// before: createTopics with a config entry; describeConfigs of a topic (names, values,
//   configSource, isDefault, readOnly, synonyms) and of broker 0 (read-only settings);
//   alterConfigs (validateOnly changes nothing; retention.ms and segment.bytes take effect:
//   segments roll at 4 KiB and old ones are deleted by retention; cleanup.policy=compact and an
//   unknown name are refused with INVALID_CONFIG); deleteTopicRecords (low watermark moves to the
//   offset asked, then to the high watermark with -1).
// after (a restart later): the altered configs and the low watermark are still there.
'use strict';
const { Kafka, logLevel, ConfigResourceTypes } = require('kafkajs');

const broker = process.argv[2];
const phase = process.argv[3];
let failures = 0;

function check(ok, msg) {
  if (ok) {
    console.log(`OK ${msg}`);
  } else {
    console.log(`FAIL ${msg}`);
    failures++;
  }
}

const kafka = new Kafka({
  clientId: 'tandem-it-kafkajs-admin',
  brokers: [broker],
  logLevel: logLevel.NOTHING,
  connectionTimeout: 5000,
  requestTimeout: 20000,
  retry: { retries: 2, initialRetryTime: 200 },
});

async function topicConfigs(admin, topic) {
  const r = await admin.describeConfigs({
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }],
    includeSynonyms: true,
  });
  const res = r.resources[0];
  const byName = {};
  for (const e of res.configEntries) byName[e.configName] = e;
  return { res, byName };
}

async function expectRefused(admin, entries, what) {
  try {
    await admin.alterConfigs({
      resources: [{ type: ConfigResourceTypes.TOPIC, name: 'js-cfg', configEntries: entries }],
    });
    check(false, `${what} was accepted`);
  } catch (e) {
    check(e.type === 'INVALID_CONFIG', `${what} refused with ${e.type} (${e.message})`);
  }
}

async function before(admin, producer) {
  await admin.createTopics({
    topics: [
      { topic: 'js-cfg', numPartitions: 1, configEntries: [{ name: 'retention.bytes', value: '-1' }] },
      { topic: 'js-rec', numPartitions: 1 },
    ],
  });
  let { res, byName } = await topicConfigs(admin, 'js-cfg');
  check(res.errorCode === 0, `describeConfigs js-cfg: error ${res.errorCode}`);
  const rb = byName['retention.bytes'];
  check(rb && rb.configValue === '-1' && rb.configSource === 1 && !rb.isDefault,
    `retention.bytes -1 DYNAMIC_TOPIC_CONFIG: ${JSON.stringify(rb)}`);
  const rm = byName['retention.ms'];
  check(rm && rm.configValue === '604800000' && rm.configSource === 5 && rm.isDefault,
    `retention.ms default: ${JSON.stringify(rm)}`);
  check(rm && rm.configSynonyms.some(s => s.configName === 'log.retention.ms' && s.configSource === 5),
    `retention.ms synonym log.retention.ms: ${JSON.stringify(rm && rm.configSynonyms)}`);
  check(byName['cleanup.policy'] && byName['cleanup.policy'].configValue === 'delete',
    'cleanup.policy delete');
  check(!rm.readOnly && !rm.isSensitive, 'retention.ms is writable and not sensitive');

  const b = await admin.describeConfigs({
    resources: [{ type: ConfigResourceTypes.BROKER, name: '0' }],
    includeSynonyms: false,
  });
  const bl = b.resources[0].configEntries.find(e => e.configName === 'log.retention.check.interval.ms');
  check(bl && bl.configValue === '300' && bl.readOnly && bl.configSource === 4,
    `broker log.retention.check.interval.ms 300 read-only STATIC_BROKER_CONFIG: ${JSON.stringify(bl)}`);

  await admin.alterConfigs({
    validateOnly: true,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: 'js-cfg',
      configEntries: [{ name: 'segment.bytes', value: '4096' }] }],
  });
  ({ byName } = await topicConfigs(admin, 'js-cfg'));
  check(byName['segment.bytes'].configValue === '1073741824', 'validateOnly changed nothing');
  await expectRefused(admin, [{ name: 'cleanup.policy', value: 'compact' }], 'cleanup.policy=compact');
  await expectRefused(admin, [{ name: 'no.such.config', value: '1' }], 'an unknown config name');
  await expectRefused(admin, [{ name: 'retention.ms', value: 'soon' }], 'retention.ms=soon');

  await admin.alterConfigs({
    resources: [{ type: ConfigResourceTypes.TOPIC, name: 'js-cfg',
      configEntries: [{ name: 'segment.bytes', value: '4096' }, { name: 'retention.ms', value: '1500' }] }],
  });
  ({ byName } = await topicConfigs(admin, 'js-cfg'));
  check(byName['segment.bytes'].configValue === '4096' && byName['segment.bytes'].configSource === 1,
    'segment.bytes 4096 after alterConfigs');
  check(byName['retention.ms'].configValue === '1500', 'retention.ms 1500 after alterConfigs');

  // 12 sends of 10 records of 500 bytes: each batch is over 4 KiB, so each rolls a segment.
  for (const topic of ['js-cfg', 'js-rec']) {
    for (let round = 0; round < 12; round++) {
      const messages = [];
      for (let i = 0; i < 10; i++) messages.push({ value: 'x'.repeat(500), partition: 0 });
      await producer.send({ topic, acks: -1, messages });
    }
  }
  // retention.ms 1500: the old segments go within a few retention passes.
  let low = '0';
  for (let i = 0; i < 100 && low === '0'; i++) {
    await new Promise(r => setTimeout(r, 200));
    low = (await admin.fetchTopicOffsets('js-cfg'))[0].low;
  }
  check(low !== '0', `retention deleted js-cfg's old segments (low watermark ${low})`);

  // kafkajs looks the leader up in its metadata cache: load the topic's metadata first.
  await admin.fetchTopicMetadata({ topics: ['js-rec'] });
  await admin.deleteTopicRecords({ topic: 'js-rec', partitions: [{ partition: 0, offset: '45' }] });
  let o = (await admin.fetchTopicOffsets('js-rec'))[0];
  check(o.low === '45' && o.high === '120', `deleteTopicRecords 45: low ${o.low} high ${o.high}`);
  await admin.deleteTopicRecords({ topic: 'js-rec', partitions: [{ partition: 0, offset: '-1' }] });
  o = (await admin.fetchTopicOffsets('js-rec'))[0];
  check(o.low === '120', `deleteTopicRecords -1: low ${o.low}`);
}

async function after(admin) {
  const { byName } = await topicConfigs(admin, 'js-cfg');
  check(byName['segment.bytes'].configValue === '4096' && byName['retention.ms'].configValue === '1500',
    'the altered configs survived the restart');
  check(byName['retention.bytes'].configSource === 5,
    'retention.bytes back to the default (alterConfigs replaced the set)');
  const o = (await admin.fetchTopicOffsets('js-rec'))[0];
  check(o.low === '120', `the low watermark survived the restart: ${o.low}`);
}

(async () => {
  const admin = kafka.admin();
  const producer = kafka.producer();
  await admin.connect();
  await producer.connect();
  if (phase === 'before') await before(admin, producer);
  else await after(admin);
  await producer.disconnect();
  await admin.disconnect();
  process.exit(failures ? 1 : 0);
})().catch(e => {
  console.log(`FAIL ${e.stack || e} ${JSON.stringify(e.partitions || '')}`);
  process.exit(1);
});
