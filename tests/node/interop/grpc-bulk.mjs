// A vendor registering a large batch over one RegisterDevices stream with @grpc/grpc-js at its defaults (the 4 MB
// receive limit included), as a county's inventory upload would. Driven by
// tests/SharpEyes.Gateway.Tests/Interop/NodeBulkRegistrationTests.cs.
//
// Usage: node grpc-bulk.mjs <host:port> <vendor key> <count> [<first serial> [<county code>]]
//
// Streams <count> alarm devices (GB/T 28181 type 134, serials from <first serial>, 0 by default, ids in <county code>,
// 130127 高邑县 by default: another county makes every device a rejected one) and prints one JSON
// line: what the answer said and how many bytes it was on the wire (measured in the response deserializer), or the
// error grpc-js gave. The C# test makes the assertions. Exits non-zero only when it could not run at all.
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const here = path.dirname(fileURLToPath(import.meta.url));
const protoRoot = path.resolve(here, '..', '..', '..', 'protos');

const [address, vendorKey, countText, firstText, county = '130127'] = process.argv.slice(2);
if (!address || !vendorKey || !countText) {
  process.stderr.write('usage: node grpc-bulk.mjs <host:port> <vendor key> <count> [<first serial> [<county code>]]\n');
  process.exit(64);
}

const count = Number.parseInt(countText, 10);
const first = Number.parseInt(firstText ?? '0', 10);
const SEAT = { lon: 114.603, lat: 37.606 }; // 高邑镇, WGS-84
const DEADLINE_MS = 120_000;

const definition = protoLoader.loadSync(['sharpeyes/v1/devices.proto'],
  { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [protoRoot] });
// The answer's size on the wire: wrap proto-loader's deserializer, which grpc-js hands the received message bytes.
let answerBytes = -1;
const method = definition['sharpeyes.v1.DeviceRegistry'].RegisterDevices;
const deserialize = method.responseDeserialize;
method.responseDeserialize = (buffer) => {
  answerBytes = buffer.length;
  return deserialize(buffer);
};
const v1 = grpc.loadPackageDefinition(definition).sharpeyes.v1;
const registry = new v1.DeviceRegistry(address, grpc.credentials.createInsecure());

const md = new grpc.Metadata();
md.set('authorization', `Bearer ${vendorKey}`);
const alarmId = (serial) => `${county}00001340${String(serial).padStart(6, '0')}`;

const started = Date.now();
const outcome = await new Promise((resolve) => {
  const call = registry.RegisterDevices(md, { deadline: new Date(Date.now() + DEADLINE_MS) }, (err, response) => resolve({ err, response }));
  let i = 0;
  // Honour back-pressure: write while the stream takes more, resume on 'drain'.
  const pump = () => {
    while (i < count) {
      const serial = first + i;
      const ok = call.write({
        device_id: alarmId(serial),
        kind: 'DEVICE_KIND_ALARM_DEVICE',
        name: `bulk alarm ${serial}`,
        model: 'grpc-js',
        position: { lon: SEAT.lon + (serial % 200) * 0.0001, lat: SEAT.lat + Math.floor(serial / 200) % 200 * 0.0001, datum: 'DATUM_WGS84' },
      });
      i++;
      if (!ok) {
        call.once('drain', pump);
        return;
      }
    }
    call.end();
  };
  pump();
});
registry.close();

const summary = { count, elapsedMs: Date.now() - started, answerBytes };
if (outcome.err) {
  summary.error = { code: outcome.err.code, codeName: grpc.status[outcome.err.code], details: outcome.err.details };
} else {
  const r = outcome.response;
  summary.response = {
    accepted: r.accepted,
    rejected: r.rejected,
    created: r.created ?? null,
    changed: r.changed ?? null,
    rejectedResults: (r.rejected_results ?? []).length,
    rejectedNotListed: r.rejected_not_listed ?? null,
    results: (r.results ?? []).length,
  };
}
process.stdout.write(JSON.stringify(summary));
