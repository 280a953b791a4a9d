// A vendor's MQTT.js publisher that keeps its session across dropped connections. Driven by
// tests/SharpEyes.Gateway.Tests/Delivery/MqttSessionTests.cs, which drops its TCP connections mid-burst.
//
// Usage: node burst-publisher.mjs <mqtt port> <vendor id> <vendor key> <client id> <device id>[,<device id>...] <count>
// Env:   MQTT_HOST (default 127.0.0.1), OCCURRED_AT (default 2026-11-22T16:00:00+08:00)
//
// Connects over MQTT 5 with clean start off and a one-hour session expiry, and once connected publishes <count> QoS 1
// alarms (event ids burst-00000.., round-robin over the devices) all at once, without waiting for any PUBACK.
// reconnectPeriod 100 ms: after a dropped connection MQTT.js reconnects and resends every QoS 1 publish still in its
// outgoing store (node_modules/mqtt/build/lib/client.js: _onConnect -> startStreamProcess, one at a time, each after
// the previous one's PUBACK), whatever the CONNACK's session-present flag says.
//
// Prints one JSON line on stdout: acked (publish callbacks without error), errors, reconnects, offline, closes,
// connacks, sessionsResumed (CONNACKs with session present), sends (PUBLISH packets written), resent (event ids
// written more than once), ackedAfterResend (of those, acked after the resend), firstAckAt / allAckedAt (epoch ms),
// mqttJsVersion. Exit code 0 when all <count> were acked, 1 after the deadline (the optional seventh argument, in ms;
// 40 s by default), 64 on bad usage.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import mqtt from 'mqtt';

const [portText, vendorId, vendorKey, clientId, deviceList, countText, deadlineText] = process.argv.slice(2);
const count = Number(countText);
const DEADLINE_MS = deadlineText === undefined ? 40_000 : Number(deadlineText);
if (!portText || !vendorId || !vendorKey || !clientId || !deviceList || !Number.isInteger(count) || count <= 0 || !Number.isInteger(DEADLINE_MS) || DEADLINE_MS <= 0) {
  process.stderr.write('usage: node burst-publisher.mjs <mqtt port> <vendor id> <vendor key> <client id> <device id>[,...] <count> [deadline ms]\n');
  process.exit(64);
}

const host = process.env.MQTT_HOST ?? '127.0.0.1';
const occurredAt = process.env.OCCURRED_AT ?? '2026-11-22T16:00:00+08:00';
const devices = deviceList.split(',');
const mqttJsVersion = JSON.parse(readFileSync(
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', 'mqtt', 'package.json'), 'utf8')).version;

let acked = 0;
let errors = 0;
let reconnects = 0;
let offline = 0;
let closes = 0;
let sends = 0;
let connacks = 0;
let sessionsResumed = 0;
let firstAckAt = 0;
let allAckedAt = 0;
const errorSamples = [];
const sendsByEvent = new Map(); // eventId -> PUBLISH packets written for it
const ackedAfterResend = new Set();
let finished = false;

const client = mqtt.connect({
  host,
  port: Number(portText),
  protocolVersion: 5,
  clientId,
  username: vendorId,
  password: vendorKey,
  clean: false,
  properties: { sessionExpiryInterval: 3600 },
  reconnectPeriod: 100,
  connectTimeout: 5_000,
  keepalive: 30,
});

function finish(code) {
  if (finished) {
    return;
  }
  finished = true;
  const resent = [...sendsByEvent.values()].filter((n) => n > 1).length;
  process.stdout.write(JSON.stringify({
    acked, errors, reconnects, offline, closes, connacks, sessionsResumed, sends, resent, ackedAfterResend: ackedAfterResend.size,
    firstAckAt, allAckedAt, mqttJsVersion, errorSamples,
  }) + '\n');
  // end(true): no DISCONNECT wait; the session stays on the broker, as a crashed publisher's would.
  client.end(true, () => process.exit(code));
  setTimeout(() => process.exit(code), 2_000).unref();
}

const deadline = setTimeout(() => {
  process.stderr.write(`burst-publisher.mjs: ${acked}/${count} acked after ${DEADLINE_MS} ms\n`);
  finish(1);
}, DEADLINE_MS);

client.on('reconnect', () => { reconnects++; });
client.on('offline', () => { offline++; });
client.on('close', () => { closes++; });
client.on('error', (err) => { process.stderr.write(`burst-publisher.mjs: client error: ${err.message}\n`); });
client.on('packetreceive', (packet) => {
  if (packet.cmd === 'connack') {
    connacks++;
    if (packet.sessionPresent) {
      sessionsResumed++;
    }
  }
});
client.on('packetsend', (packet) => {
  if (packet.cmd !== 'publish') {
    return;
  }
  sends++;
  const eventId = JSON.parse(packet.payload.toString()).eventId;
  sendsByEvent.set(eventId, (sendsByEvent.get(eventId) ?? 0) + 1);
});

const alarm = (eventId) => JSON.stringify({
  eventId, occurredAt, priority: 2, method: 5, type: 6, description: `burst ${eventId}`,
});

client.once('connect', (connack) => {
  process.stderr.write(`burst-publisher.mjs: connected (session present: ${connack.sessionPresent}), publishing ${count}\n`);
  for (let i = 0; i < count; i++) {
    const eventId = `burst-${String(i).padStart(5, '0')}`;
    const deviceId = devices[i % devices.length];
    client.publish(`sharpeyes/v1/alarms/${deviceId}`, alarm(eventId), { qos: 1 }, (err) => {
      if (err) {
        errors++;
        if (errorSamples.length < 5) {
          errorSamples.push(`${eventId}: ${err.message} (code ${err.code ?? '-'})`);
        }
        return;
      }
      acked++;
      if (firstAckAt === 0) {
        firstAckAt = Date.now();
      }
      if ((sendsByEvent.get(eventId) ?? 0) > 1) {
        ackedAfterResend.add(eventId);
      }
      if (acked === count) {
        allAckedAt = Date.now();
        clearTimeout(deadline);
        finish(0);
      }
    });
  }
});
