// A persistent MQTT.js publisher (clean session off, reconnecting) that sends two bad alarms and a valid one behind
// them. Driven by tests/SharpEyes.Gateway.Tests/Interop/MqttJsClientTests.cs.
//
// Usage: node mqtt-bad-alarm.mjs <mqtt port> <vendor id> <vendor key> <client id> <device id> <protocol 4|5>
// Env:   MQTT_HOST (default 127.0.0.1), OCCURRED_AT (default 2026-11-22T16:00:00+08:00)
//
// Subscribes to its dead-letter topic, then publishes at once, at QoS 1: an alarm whose eventId holds the byte 0xFF
// (not UTF-8), an alarm whose eventId is the JSON escape "\udc00" (a lone surrogate), and a valid alarm. A gateway that
// dropped the connection on a bad alarm would see it again after every reconnect (MQTT.js resends what is not
// acknowledged) and never acknowledge the valid one. Prints one JSON line on stdout: acks (per alarm), deadLetters
// (reason, detail, payloadBase64), closes, offline, reconnects, connacks, sends (PUBLISH packets written per alarm),
// mqttJsVersion. Exit code 0 when all three were acknowledged and both dead letters arrived, 1 after a 20 s deadline.
import mqtt from 'mqtt';
import { mqttJsVersion, publishOutcome } from './mqtt-common.mjs';

const [portText, vendorId, vendorKey, clientId, deviceId, protocolText] = process.argv.slice(2);
const protocolVersion = Number(protocolText);
if (!portText || !vendorId || !vendorKey || !clientId || !deviceId || ![4, 5].includes(protocolVersion)) {
  process.stderr.write('usage: node mqtt-bad-alarm.mjs <mqtt port> <vendor id> <vendor key> <client id> <device id> <4|5>\n');
  process.exit(64);
}

const DEADLINE_MS = 20_000;
const occurredAt = process.env.OCCURRED_AT ?? '2026-11-22T16:00:00+08:00';
const deadLetterTopic = `sharpeyes/v1/deadletter/${vendorId}`;
const alarmTopic = `sharpeyes/v1/alarms/${deviceId}`;
const rest = `"occurredAt":"${occurredAt}","priority":2,"method":5,"type":6,"description":"MQTT.js bad alarm test"}`;
const alarms = [
  { name: 'invalid-utf8', payload: Buffer.concat([Buffer.from('{"eventId":"bad-'), Buffer.from([0xff]), Buffer.from(`",${rest}`)]) },
  { name: 'lone-surrogate', payload: Buffer.from(`{"eventId":"bad-\\udc00",${rest}`) },
  { name: 'valid', payload: Buffer.from(`{"eventId":"good-${protocolVersion}",${rest}`) },
];

const counts = { closes: 0, offline: 0, reconnects: 0, connacks: 0 };
const sends = Object.fromEntries(alarms.map((a) => [a.name, 0]));
const deadLetters = [];
const acks = {};
let finished = false;

const client = mqtt.connect({
  host: process.env.MQTT_HOST ?? '127.0.0.1',
  port: Number(portText),
  protocolVersion,
  clientId,
  username: vendorId,
  password: vendorKey,
  clean: false,
  ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {}),
  reconnectPeriod: 100,
  connectTimeout: 5_000,
});
client.on('close', () => { counts.closes++; });
client.on('offline', () => { counts.offline++; });
client.on('reconnect', () => { counts.reconnects++; });
client.on('error', (err) => { process.stderr.write(`mqtt-bad-alarm.mjs: client error: ${err.message}\n`); });
client.on('packetreceive', (packet) => { counts.connacks += packet.cmd === 'connack' ? 1 : 0; });
client.on('packetsend', (packet) => {
  const sent = packet.cmd === 'publish' && alarms.find((a) => a.payload.equals(packet.payload));
  if (sent) {
    sends[sent.name]++;
  }
});
client.on('message', (topic, payload) => {
  const letter = JSON.parse(payload.toString('utf8'));
  deadLetters.push({ reason: letter.reason, detail: letter.detail, payloadBase64: letter.payloadBase64 });
  finishIfDone();
});

function finishIfDone() {
  if (Object.keys(acks).length === alarms.length && deadLetters.length >= 2) {
    finish(0);
  }
}

function finish(code) {
  if (finished) {
    return;
  }
  finished = true;
  clearTimeout(deadline);
  process.stdout.write(JSON.stringify({ acks, deadLetters, ...counts, sends, mqttJsVersion }) + '\n');
  // end(true): no DISCONNECT wait; the process is done.
  client.end(true, () => process.exit(code));
  setTimeout(() => process.exit(code), 2_000).unref();
}

const deadline = setTimeout(() => {
  process.stderr.write(`mqtt-bad-alarm.mjs: not done after ${DEADLINE_MS} ms\n`);
  finish(1);
}, DEADLINE_MS);

client.once('connect', async () => {
  await client.subscribeAsync(deadLetterTopic, { qos: 1 });
  const outcomes = await Promise.all(alarms.map((a) => publishOutcome(client, alarmTopic, a.payload)));
  alarms.forEach((a, i) => { acks[a.name] = outcomes[i]; });
  finishIfDone();
});
