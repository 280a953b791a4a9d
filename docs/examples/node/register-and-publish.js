// Registers one camera with a SharpEyes gateway over gRPC, then publishes one alarm for it over MQTT at QoS 1 and
// prints the PUBACK. Node 18 or later; run `npm install` in this directory once, then:
//
//   SHARPEYES_SERVER=http://127.0.0.1:50051 SHARPEYES_MQTT_URL=mqtt://127.0.0.1:1883 \
//   SHARPEYES_VENDOR_ID=acme SHARPEYES_API_KEY=se_... node register-and-publish.js
//
// Optional: SHARPEYES_DEVICE_ID (default 13012700001320000001) and SHARPEYES_PROTOS, the directory that holds
// sharpeyes/v1/*.proto (default: protos/ of the SharpEyes repository this file is in).
// Exits 0 when the gateway accepted the alarm, 1 when it refused it, 2 on any other failure.
'use strict';

const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const mqtt = require('mqtt');

function setting(name, fallback) {
  const value = process.env[name] || fallback;
  if (!value) {
    throw new Error(`set ${name}`);
  }
  return value;
}

const server = new URL(setting('SHARPEYES_SERVER', 'http://127.0.0.1:50051'));
const mqttUrl = setting('SHARPEYES_MQTT_URL', 'mqtt://127.0.0.1:1883');
const vendorId = setting('SHARPEYES_VENDOR_ID');
const apiKey = setting('SHARPEYES_API_KEY');
const deviceId = setting('SHARPEYES_DEVICE_ID', '13012700001320000001');
const protoDir = setting('SHARPEYES_PROTOS', path.resolve(__dirname, '..', '..', '..', 'protos'));

// keepCase: fields keep their .proto names (device_id, azimuth_deg), as in docs/api.md and in error messages.
const definition = protoLoader.loadSync('sharpeyes/v1/devices.proto', {
  keepCase: true, longs: String, enums: String, defaults: true, includeDirs: [protoDir],
});
const { DeviceRegistry } = grpc.loadPackageDefinition(definition).sharpeyes.v1;

async function registerCamera() {
  // The gateway serves gRPC over plain HTTP/2 (no TLS yet), so the channel is insecure.
  const registry = new DeviceRegistry(server.host, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${apiKey}`);
  const request = {
    device_id: deviceId,
    kind: 'DEVICE_KIND_CAMERA',
    name: '东门枪机',
    model: 'DS-2CD2T47',
    position: { lon: 114.603, lat: 37.606, datum: 'DATUM_WGS84' },
    camera: {
      azimuth_deg: 90, // facing east
      hfov_deg: 90,
      range_m: 60,
      mount_height_m: 6,
      rtsp_url: 'rtsp://192.0.2.10:554/Streaming/Channels/101',
      rtsp_username: 'viewer', // stored apart from the URL, never returned
      rtsp_password: 'change-me',
      streams: [
        { role: 'STREAM_ROLE_MAIN', codec: 'H.265', width: 2560, height: 1440, frame_rate: 25, bitrate_kbps: 4096 },
        { role: 'STREAM_ROLE_SUB', codec: 'H.264', width: 640, height: 360, frame_rate: 15, bitrate_kbps: 512 },
      ],
    },
  };
  try {
    const answer = await new Promise((resolve, reject) => {
      registry.RegisterDevice(request, metadata, { deadline: Date.now() + 10_000 },
        (err, response) => (err ? reject(err) : resolve(response)));
    });
    const device = answer.device;
    console.log(`registered ${device.device_id} (created: ${answer.created}, changed: ${answer.changed}) ` +
      `in region ${device.region_code}; rtsp_url ${device.camera.rtsp_url}, ` +
      `has_rtsp_credentials ${device.has_rtsp_credentials}`);
  } finally {
    registry.close();
  }
}

async function publishAlarm() {
  const client = await mqtt.connectAsync(mqttUrl, {
    protocolVersion: 5,
    username: vendorId, // must equal the key's vendor id
    password: apiKey,
    clientId: `${vendorId}-example-node`,
    clean: true,
    keepalive: 60,
    connectTimeout: 10_000,
    reconnectPeriod: 0,
  });
  try {
    // mqtt.js resolves a publish without showing the PUBACK itself; watch the packets for it.
    const pubacks = [];
    client.on('packetreceive', (packet) => {
      if (packet.cmd === 'puback') {
        pubacks.push(packet);
      }
    });
    const alarm = {
      eventId: `example-${Date.now()}`, // unique per vendor: a repeat is acknowledged as a duplicate
      occurredAt: new Date().toISOString(), // RFC 3339 with an offset ("Z"; "+08:00" works too)
      priority: 2,
      method: 5, // video analytics
      type: 6, // intrusion
      description: '东门区域入侵',
      position: { lon: 114.60334, lat: 37.606, datum: 'WGS84' }, // 30 m east of the camera, in its view
    };
    try {
      await client.publishAsync(`sharpeyes/v1/alarms/${deviceId}`, JSON.stringify(alarm), { qos: 1 });
    } catch (err) {
      // A reason code of 0x80 or more: not stored; the dead letter says why.
    }
    const puback = pubacks[0];
    if (!puback) {
      throw new Error('no PUBACK');
    }
    const code = puback.reasonCode ?? 0;
    const reason = puback.properties?.reasonString ?? (code === 0 ? 'Success' : '');
    console.log(`PUBACK for ${alarm.eventId}: reason code 0x${code.toString(16).padStart(2, '0')} (${reason})`);
    return code === 0;
  } finally {
    await client.endAsync();
  }
}

(async () => {
  await registerCamera();
  process.exitCode = (await publishAlarm()) ? 0 : 1;
})().catch((err) => {
  console.error(`failed: ${err.code !== undefined ? `code ${err.code}: ` : ''}${err.details ?? err.message}`);
  process.exitCode = 2;
});
