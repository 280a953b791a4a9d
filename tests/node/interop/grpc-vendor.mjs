// A vendor and a centre as an independent gRPC client (grpc-js + proto-loader, loading the repository's .proto files)
// would see SharpEyes. Driven by tests/SharpEyes.Gateway.Tests/Interop/NodeGrpcClientTests.cs.
//
// Usage: node grpc-vendor.mjs <host:port> <vendor key> <centre key>
//    or: SHARPEYES_GRPC=host:port SHARPEYES_VENDOR_KEY=... SHARPEYES_CENTRE_KEY=... node grpc-vendor.mjs
//
// Steps: (a) RegisterDevice for a camera with a GCJ-02 position and an alarm device; (b) the client-streaming
// RegisterDevices with BULK_COUNT devices, one of them invalid (the answer: counts and the rejected one); (c) a bad device → INVALID_ARGUMENT naming the field;
// (d) Feeds.Subscribe from after_sequence 0 until every DEVICE_REGISTERED event of ours is seen, then again from a
// sequence in the middle. Prints one JSON summary on stdout; the C# test makes the assertions. Exits non-zero (with
// the reason on stderr) only when something could not be done at all (connection, unexpected error, timeout).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import gcoord from 'gcoord';

const here = path.dirname(fileURLToPath(import.meta.url));
const protoRoot = path.resolve(here, '..', '..', '..', 'protos');

const address = process.argv[2] ?? process.env.SHARPEYES_GRPC;
const vendorKey = process.argv[3] ?? process.env.SHARPEYES_VENDOR_KEY;
const centreKey = process.argv[4] ?? process.env.SHARPEYES_CENTRE_KEY;
if (!address || !vendorKey || !centreKey) {
  process.stderr.write('usage: node grpc-vendor.mjs <host:port> <vendor key> <centre key>\n');
  process.exit(64);
}

const CALL_DEADLINE_MS = 10_000;
const OVERALL_TIMEOUT_MS = 25_000;
const BULK_COUNT = 100;
const BULK_INVALID_INDEX = 37;
const SEAT = { lon: 114.603, lat: 37.606 }; // 高邑镇, WGS-84

const overall = setTimeout(() => {
  process.stderr.write(`grpc-vendor.mjs: gave up after ${OVERALL_TIMEOUT_MS} ms\n`);
  process.exit(3);
}, OVERALL_TIMEOUT_MS);

// keepCase: true everywhere: fields are read and written with their .proto (snake_case) names.
const definition = protoLoader.loadSync(
  ['sharpeyes/v1/devices.proto', 'sharpeyes/v1/feeds.proto'],
  { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [protoRoot] },
);
const v1 = grpc.loadPackageDefinition(definition).sharpeyes.v1;
const registry = new v1.DeviceRegistry(address, grpc.credentials.createInsecure());
const feeds = new v1.Feeds(address, grpc.credentials.createInsecure());

const auth = (key) => {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${key}`);
  return md;
};
const deadline = () => new Date(Date.now() + CALL_DEADLINE_MS);

const unary = (client, method, request, key) =>
  new Promise((resolve, reject) => {
    client[method](request, auth(key), { deadline: deadline() }, (err, response) => (err ? reject(err) : resolve(response)));
  });

const cameraId = (serial) => `13012700001320${String(serial).padStart(6, '0')}`;
const alarmId = (serial) => `13012700001340${String(serial).padStart(6, '0')}`;

const summary = {
  protoRoot,
  grpcJsVersion: JSON.parse(readFileSync(path.resolve(here, '..', 'node_modules', '@grpc', 'grpc-js', 'package.json'), 'utf8')).version,
  single: [],
  bulk: null,
  badDevice: null,
  feed: null,
  resume: null,
};

// (a) Single registrations: a camera whose position is given in GCJ-02 (converted by gcoord), an alarm device in WGS-84.
const wgsCamera = { lon: SEAT.lon + 0.0011, lat: SEAT.lat + 0.0007 };
const [gcjLon, gcjLat] = gcoord.transform([wgsCamera.lon, wgsCamera.lat], gcoord.WGS84, gcoord.GCJ02);
const singles = [
  {
    wgs84: wgsCamera,
    request: {
      device_id: cameraId(900001),
      kind: 'DEVICE_KIND_CAMERA',
      name: 'Node 摄像机',
      model: 'grpc-js',
      position: { lon: gcjLon, lat: gcjLat, datum: 'DATUM_GCJ02' },
      camera: { azimuth_deg: 45, hfov_deg: 70, range_m: 90, mount_height_m: 5, resolution_width: 2560, resolution_height: 1440,
        rtsp_url: 'rtsp://viewer:node-secret@127.0.0.1:8554/node1' },
    },
  },
  {
    wgs84: { lon: SEAT.lon - 0.0005, lat: SEAT.lat - 0.0004 },
    request: {
      device_id: alarmId(900002),
      kind: 'DEVICE_KIND_ALARM_DEVICE',
      name: 'Node 一键报警',
      model: 'grpc-js',
      position: { lon: SEAT.lon - 0.0005, lat: SEAT.lat - 0.0004, datum: 'DATUM_WGS84' },
    },
  },
];
for (const { wgs84, request } of singles) {
  const response = await unary(registry, 'RegisterDevice', request, vendorKey);
  summary.single.push({
    deviceId: request.device_id,
    kind: request.kind,
    sent: request.position,
    wgs84,
    created: response.created,
    changed: response.changed,
    returned: {
      vendorId: response.device.vendor_id,
      position: response.device.position,
      regionCode: response.device.region_code,
      rtspUrl: response.device.camera?.rtsp_url ?? '',
      rtspPassword: response.device.camera?.rtsp_password ?? '',
      hasRtspCredentials: response.device.has_rtsp_credentials,
    },
  });
}

// (b) Bulk registration over the client stream: BULK_COUNT devices; the one at BULK_INVALID_INDEX has latitude 95.
const bulkRequests = [];
for (let i = 0; i < BULK_COUNT; i++) {
  const lon = SEAT.lon + (i % 10) * 0.0004 - 0.002;
  const lat = SEAT.lat + Math.floor(i / 10) * 0.0004 - 0.002;
  const request = i % 2 === 0
    ? { device_id: cameraId(910000 + i), kind: 'DEVICE_KIND_CAMERA', name: `bulk camera ${i}`, model: 'grpc-js',
      position: { lon, lat, datum: 'DATUM_WGS84' }, camera: { azimuth_deg: (i * 37) % 360, hfov_deg: 60, range_m: 50 } }
    : { device_id: alarmId(910000 + i), kind: 'DEVICE_KIND_ALARM_DEVICE', name: `bulk alarm ${i}`, model: 'grpc-js',
      position: { lon, lat, datum: 'DATUM_WGS84' } };
  if (i === BULK_INVALID_INDEX) {
    request.position.lat = 95;
  }
  bulkRequests.push(request);
}
const bulkResponse = await new Promise((resolve, reject) => {
  const call = registry.RegisterDevices(auth(vendorKey), { deadline: deadline() }, (err, response) => (err ? reject(err) : resolve(response)));
  for (const r of bulkRequests) {
    call.write(r);
  }
  call.end();
});
summary.bulk = {
  sent: bulkRequests.map((r) => r.device_id),
  invalidIndex: BULK_INVALID_INDEX,
  accepted: bulkResponse.accepted,
  rejected: bulkResponse.rejected,
  created: bulkResponse.created,
  changed: bulkResponse.changed,
  rejectedNotListed: bulkResponse.rejected_not_listed,
  rejectedResults: bulkResponse.rejected_results.map((r) => ({
    index: r.index, deviceId: r.device_id, code: r.code, message: r.message, created: r.created, changed: r.changed,
  })),
};

// (c) A bad device on the unary call: a 19-digit id.
try {
  const response = await unary(registry, 'RegisterDevice', {
    device_id: '1301270000134000001', kind: 'DEVICE_KIND_ALARM_DEVICE', name: 'too short',
    position: { lon: SEAT.lon, lat: SEAT.lat, datum: 'DATUM_WGS84' },
  }, vendorKey);
  summary.badDevice = { code: 0, codeName: 'OK', details: '', unexpected: response };
} catch (err) {
  summary.badDevice = { code: err.code, codeName: grpc.status[err.code], details: err.details };
}

// (d) The feed, from the beginning, then resumed from the middle.
const rejectedIds = new Set(bulkResponse.rejected_results.map((r) => r.device_id));
const ours = new Set([...singles.map((s) => s.request.device_id),
  ...bulkRequests.map((r) => r.device_id).filter((id) => !rejectedIds.has(id))]);

// Reads Subscribe(after) until done(events) holds; resolves with every event received, in order.
function readFeed(after, done) {
  return new Promise((resolve, reject) => {
    const events = [];
    let finished = false;
    const call = feeds.Subscribe({ region_prefix: '', after_sequence: String(after) }, auth(centreKey));
    const timer = setTimeout(() => finish(new Error(`feed after ${after}: condition not met within ${CALL_DEADLINE_MS} ms, got ${events.length} events`)), CALL_DEADLINE_MS);
    function finish(err) {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      call.cancel();
      if (err) reject(err); else resolve(events);
    }
    call.on('data', (e) => {
      events.push({
        sequence: e.sequence, // int64 as a decimal string (longs: String)
        kind: e.kind,
        regionCode: e.region_code,
        deviceId: e.device?.device_id ?? '',
        datum: e.device?.position?.datum ?? '',
        dataCase: e.data ?? '',
      });
      if (done(events)) finish();
    });
    call.on('error', (err) => {
      if (err.code !== grpc.status.CANCELLED) finish(err);
    });
    call.on('end', () => finish(new Error(`feed after ${after} ended early after ${events.length} events`)));
  });
}

const registeredOf = (events) => new Set(events.filter((e) => e.kind === 'FEED_EVENT_KIND_DEVICE_REGISTERED' && ours.has(e.deviceId)).map((e) => e.deviceId));
const full = await readFeed(0, (events) => registeredOf(events).size === ours.size);
const mine = full.filter((e) => e.kind === 'FEED_EVENT_KIND_DEVICE_REGISTERED' && ours.has(e.deviceId));
const resumeAfter = BigInt(mine[Math.floor(mine.length / 2)].sequence);
const lastSeen = BigInt(full[full.length - 1].sequence);
const resumed = await readFeed(resumeAfter, (events) => events.length > 0 && BigInt(events[events.length - 1].sequence) >= lastSeen);

summary.feed = {
  expectedDevices: [...ours],
  events: full,
};
summary.resume = {
  afterSequence: resumeAfter.toString(),
  events: resumed,
};

clearTimeout(overall);
registry.close();
feeds.close();
process.stdout.write(JSON.stringify(summary));
