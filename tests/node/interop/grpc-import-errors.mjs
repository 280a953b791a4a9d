// A planner's grpc-js client importing a GeoJSON file with thousands of bad features: what it sees of the rejection
// (status, message, trailers) and of the validate-only report. Driven by
// tests/SharpEyes.Gateway.Tests/Interop/NodeImportErrorsTests.cs, which makes the assertions.
//
// Usage: node grpc-import-errors.mjs <host:port> <planner or admin key> <file.geojson>
//
// Prints one JSON summary on stdout. The import's deadline is DEADLINE_MS: a trailer block too large for the
// client (above Node's 64 KiB maxHeaderListSize) shows up as DEADLINE_EXCEEDED rather than INVALID_ARGUMENT.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const here = path.dirname(fileURLToPath(import.meta.url));
const protoRoot = path.resolve(here, '..', '..', '..', 'protos');
const [address, key, file] = process.argv.slice(2);
if (!address || !key || !file) {
  process.stderr.write('usage: node grpc-import-errors.mjs <host:port> <key> <file.geojson>\n');
  process.exit(64);
}

const DEADLINE_MS = 20_000;
const definition = protoLoader.loadSync(['sharpeyes/v1/geography.proto'],
  { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [protoRoot] });
const v1 = grpc.loadPackageDefinition(definition).sharpeyes.v1;
// The validate-only report of a big file exceeds grpc-js's default 4 MB receive limit.
const geo = new v1.Geography(address, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 256 * 1024 * 1024 });
const md = new grpc.Metadata();
md.set('authorization', `Bearer ${key}`);
const geojson = readFileSync(file, 'utf8');

const call = (request) => new Promise((resolve) => {
  const started = Date.now();
  geo.ImportGrids(request, md, { deadline: new Date(started + DEADLINE_MS) }, (err, response) =>
    resolve({ err, response, elapsedMs: Date.now() - started }));
});

const imported = await call({ geojson, datum: 'DATUM_WGS84' });
const rejection = { elapsedMs: imported.elapsedMs, deadlineMs: DEADLINE_MS };
if (imported.err) {
  const trailers = imported.err.metadata ?? new grpc.Metadata();
  const bin = trailers.get('feature-errors-bin')[0];
  rejection.code = grpc.status[imported.err.code];
  rejection.details = imported.err.details;
  rejection.errorsTotal = trailers.get('feature-errors-total')[0] ?? null;
  rejection.listed = bin ? JSON.parse(Buffer.from(bin).toString('utf8')) : null;
} else {
  rejection.code = 'OK';
  rejection.imported = imported.response.imported;
}

const validated = await call({ geojson, datum: 'DATUM_WGS84', validate_only: true });
const report = validated.err
  ? { code: grpc.status[validated.err.code], details: validated.err.details }
  : { code: 'OK', imported: validated.response.imported, errors: validated.response.errors.map((e) => [e.feature_index, e.reason]) };

process.stdout.write(JSON.stringify({ rejection, report }));
geo.close();
