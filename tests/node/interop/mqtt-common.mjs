// Helpers shared by the MQTT.js interop scripts (mqtt-vendor.mjs, mqtt-bad-alarm.mjs).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The version of the mqtt package in tests/node/node_modules, for the summary. */
export const mqttJsVersion = JSON.parse(readFileSync(
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', 'mqtt', 'package.json'), 'utf8')).version;

/** Rejects when the promise has not settled within ms milliseconds. */
export const withTimeout = (promise, what, ms) => Promise.race([
  promise,
  new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms).unref()),
]);

/**
 * Publishes at QoS 1 and resolves with the PUBACK outcome instead of rejecting, so refusals (MQTT 5 reason codes
 * >= 0x80 arrive as an error carrying the code) are reported, not thrown.
 */
export function publishOutcome(client, topic, payload) {
  return new Promise((resolve) => {
    client.publish(topic, payload, { qos: 1 }, (err, packet) => {
      resolve({
        acked: !err || typeof err.code === 'number',
        reasonCode: err?.code ?? packet?.reasonCode ?? 0,
        reasonString: packet?.properties?.reasonString ?? '',
        error: err ? String(err.message) : '',
      });
    });
  });
}
