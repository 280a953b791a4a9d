// A vendor publishing alarms with MQTT.js, over MQTT 3.1.1 and MQTT 5 at once. Driven by
// tests/SharpEyes.Gateway.Tests/Interop/MqttJsClientTests.cs.
//
// Usage: node mqtt-vendor.mjs <mqtt port> <vendor id> <vendor key> <foreign device id> <device id>[,<device id>...]
// Env:   ALARM_COUNT (default 200), OCCURRED_AT (default 2026-11-22T16:00:00+08:00), MQTT_HOST (default 127.0.0.1)
//
// Publishes ALARM_COUNT alarms at QoS 1 (even ones over 3.1.1, odd ones over 5, round-robin over the devices) and
// awaits every PUBACK; then 3 duplicates (same eventId and payload) and one alarm for the foreign device (over MQTT 5,
// so the PUBACK carries a reason code). The MQTT 5 client subscribes to its dead-letter topic first and waits for the
// foreign device's dead letter. Prints one JSON summary on stdout; the C# test makes the assertions.
import mqtt from 'mqtt';
import { mqttJsVersion, publishOutcome, withTimeout as within } from './mqtt-common.mjs';

const [portText, vendorId, vendorKey, foreignDeviceId, deviceList] = process.argv.slice(2);
if (!portText || !vendorId || !vendorKey || !foreignDeviceId || !deviceList) {
  process.stderr.write('usage: node mqtt-vendor.mjs <mqtt port> <vendor id> <vendor key> <foreign device id> <device id>[,...]\n');
  process.exit(64);
}

const host = process.env.MQTT_HOST ?? '127.0.0.1';
const count = Number(process.env.ALARM_COUNT ?? 200);
const occurredAt = process.env.OCCURRED_AT ?? '2026-11-22T16:00:00+08:00';
const devices = deviceList.split(',');
const OVERALL_TIMEOUT_MS = 25_000;
const STEP_TIMEOUT_MS = 10_000;
const deadLetterTopic = `sharpeyes/v1/deadletter/${vendorId}`;

const overall = setTimeout(() => {
  process.stderr.write(`mqtt-vendor.mjs: gave up after ${OVERALL_TIMEOUT_MS} ms\n`);
  process.exit(3);
}, OVERALL_TIMEOUT_MS);

const withTimeout = (promise, what) => within(promise, what, STEP_TIMEOUT_MS);

function connect(protocolVersion) {
  const client = mqtt.connect({
    host,
    port: Number(portText),
    protocolVersion,
    clientId: `mqttjs-${protocolVersion}-${process.pid}`,
    username: vendorId,
    password: vendorKey,
    clean: true,
    reconnectPeriod: 0, // a refused or dropped connection must fail the run, not be retried
    connectTimeout: STEP_TIMEOUT_MS,
  });
  return withTimeout(new Promise((resolve, reject) => {
    client.once('connect', () => resolve(client));
    client.once('error', reject);
  }), `connect (protocol ${protocolVersion})`);
}

const publish = (client, topic, payload) => withTimeout(publishOutcome(client, topic, payload), `PUBACK for ${topic}`);

const alarm = (eventId, extra = {}) => JSON.stringify({
  eventId, occurredAt, priority: 2, method: 5, type: 6, description: `MQTT.js ${eventId}`, ...extra,
});
const topicOf = (deviceId) => `sharpeyes/v1/alarms/${deviceId}`;

const v311 = await connect(4);
const v5 = await connect(5);
const deadLetters = [];
v5.on('message', (topic, payload) => deadLetters.push({ topic, body: JSON.parse(payload.toString('utf8')) }));
const granted = await withTimeout(v5.subscribeAsync(deadLetterTopic, { qos: 1 }), 'SUBACK');

// The alarms: all in flight at once on both connections; every PUBACK awaited.
const sent = [];
for (let i = 0; i < count; i++) {
  const eventId = `mqttjs-${String(i).padStart(4, '0')}`;
  const protocol = i % 2 === 0 ? 'mqttv311' : 'mqttv5';
  const deviceId = devices[i % devices.length];
  const payload = alarm(eventId);
  sent.push({ eventId, protocol, deviceId, payload });
}
const acks = await Promise.all(sent.map((s) => publish(s.protocol === 'mqttv311' ? v311 : v5, topicOf(s.deviceId), s.payload)));
const published = sent.map((s, i) => ({ eventId: s.eventId, protocol: s.protocol, deviceId: s.deviceId, ...acks[i] }));

// Three duplicates, byte for byte, after their originals were acknowledged.
const duplicates = [];
for (const [i, client, protocol] of [[0, v311, 'mqttv311'], [1, v5, 'mqttv5'], [2, v5, 'mqttv5']]) {
  duplicates.push({ eventId: sent[i].eventId, protocol, ...(await publish(client, topicOf(sent[i].deviceId), sent[i].payload)) });
}

// One alarm for a device that belongs to another vendor.
const foreign = { eventId: 'mqttjs-foreign', deviceId: foreignDeviceId, protocol: 'mqttv5',
  ...(await publish(v5, topicOf(foreignDeviceId), alarm('mqttjs-foreign'))) };

// Its dead letter, on our own dead-letter topic.
await withTimeout(new Promise((resolve) => {
  const check = () => (deadLetters.length > 0 ? resolve() : setTimeout(check, 10));
  check();
}), 'the dead letter');

await Promise.all([v311.endAsync(), v5.endAsync()]);
clearTimeout(overall);
process.stdout.write(JSON.stringify({
  mqttJsVersion,
  subscribeGranted: granted.map((g) => g.qos),
  published,
  duplicates,
  foreign,
  deadLetters,
}));
