// A comprehensive-governance centre written independently of SharpEyes: the CentreSink gRPC service
// (protos/sharpeyes/v1/centre.proto) in grpc-js + proto-loader, loading the repository's .proto files (no generated
// code), with an in-memory store keeping the contract in centre.proto's comments (the same semantics as
// src/SharpEyes.CentreSink/SinkStore.Apply). Driven by tests/SharpEyes.Gateway.Tests/Interop/NodeCentreSinkTests.cs.
//
// Usage: node centre-sink.mjs        Env: CENTRE_KEY (optional; when set, every call must carry
//                                         "authorization: Bearer <CENTRE_KEY>", else UNAUTHENTICATED)
//
// Per source_id: held (the highest sequence up to which every event is held), the events by sequence, duplicates
// (events skipped because their sequence was already held), gaps (batches refused because after_sequence > held) and
// calls. A batch with after_sequence above held stores nothing and answers held; otherwise events with sequence <= held
// are skipped as duplicates, the rest stored, and held = max(held, through_sequence, last event's sequence). Bad
// sequences (after < 0, through < after, events not strictly ascending within (after, through]) → INVALID_ARGUMENT.
//
// Binds 127.0.0.1 on a free port and prints "READY <port>" on stdout. Then reads commands on stdin, one a line:
//   dump → one JSON line: {"sources": {<id>: {held, sequences, kinds, regionCodes, alarmEventIds, duplicates, calls,
//          gaps, invalid}}, "unauthenticated": n, "grpcJsVersion": "..."}
//          (sequences ascending; kinds and regionCodes per stored event in that order; alarmEventIds the
//          incident.alarms[].event_id of the stored events in that order; unauthenticated: calls refused for the key)
//   exit → exits 0.
// Exits 0 when stdin closes (the test process went away) and 3 after LIFETIME_MS whatever happens.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const LIFETIME_MS = 120_000;

const here = path.dirname(fileURLToPath(import.meta.url));
const protoRoot = path.resolve(here, '..', '..', '..', 'protos');
const grpcJsVersion = JSON.parse(readFileSync(path.resolve(here, '..', 'node_modules', '@grpc', 'grpc-js', 'package.json'), 'utf8')).version;
const requiredKey = process.env.CENTRE_KEY ?? '';

const lifetime = setTimeout(() => {
  process.stderr.write(`centre-sink.mjs: exiting after ${LIFETIME_MS} ms\n`);
  process.exit(3);
}, LIFETIME_MS);

// keepCase: fields by their .proto (snake_case) names; longs as decimal strings (int64 is exact); enums by name.
const definition = protoLoader.loadSync(
  ['sharpeyes/v1/centre.proto'],
  { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [protoRoot] },
);
const v1 = grpc.loadPackageDefinition(definition).sharpeyes.v1;

/** source_id → { held: bigint, events: Map<bigint, FeedEvent>, duplicates, calls, gaps, invalid } */
const sources = new Map();
let unauthenticated = 0;

function sourceOf(id) {
  let s = sources.get(id);
  if (!s) {
    s = { held: 0n, events: new Map(), duplicates: 0, calls: 0, gaps: 0, invalid: 0 };
    sources.set(id, s);
  }
  return s;
}

function authorized(metadata) {
  if (requiredKey === '') return true;
  const values = metadata.get('authorization');
  if (values.length !== 1 || typeof values[0] !== 'string') return false;
  const got = Buffer.from(values[0], 'utf8');
  const want = Buffer.from(`Bearer ${requiredKey}`, 'utf8');
  return got.length === want.length && timingSafeEqual(got, want);
}

const invalid = (message) => ({ code: grpc.status.INVALID_ARGUMENT, details: message });

// The batch's sequences against the contract, before anything is stored; a message naming the field, or null.
function validate(after, through, sequences) {
  if (after < 0n) return `after_sequence: ${after} is negative`;
  if (through < after) return `through_sequence: ${through} is below after_sequence ${after}`;
  let previous = after;
  for (let i = 0; i < sequences.length; i++) {
    const seq = sequences[i];
    if (seq <= previous) {
      return i === 0
        ? `events[0].sequence: ${seq} is not above after_sequence ${after}`
        : `events[${i}].sequence: ${seq} is not above events[${i - 1}].sequence ${previous}`;
    }
    if (seq > through) return `events[${i}].sequence: ${seq} is above through_sequence ${through}`;
    previous = seq;
  }
  return null;
}

function deliver(call, callback) {
  if (!authorized(call.metadata)) {
    unauthenticated++;
    callback({ code: grpc.status.UNAUTHENTICATED, details: 'a valid "authorization: Bearer <key>" is required' });
    return;
  }

  const request = call.request;
  const sourceId = request.source_id;
  if (sourceId === '') {
    callback(invalid('source_id: required'));
    return;
  }

  const source = sourceOf(sourceId);
  source.calls++;
  let after;
  let through;
  let sequences;
  try {
    after = BigInt(request.after_sequence);
    through = BigInt(request.through_sequence);
    sequences = request.events.map((e) => BigInt(e.sequence));
  } catch (err) {
    source.invalid++;
    callback(invalid(`not an int64: ${err.message}`));
    return;
  }

  const problem = validate(after, through, sequences);
  if (problem !== null) {
    source.invalid++;
    callback(invalid(problem));
    return;
  }

  if (after > source.held) {
    // A gap: this centre is missing (held, after]. Store nothing; the gateway resends after held.
    source.gaps++;
    callback(null, { acked_sequence: source.held.toString() });
    return;
  }

  request.events.forEach((e, i) => {
    const seq = sequences[i];
    if (seq <= source.held || source.events.has(seq)) {
      source.duplicates++;
    } else {
      source.events.set(seq, e);
    }
  });
  let held = source.held > through ? source.held : through;
  if (sequences.length > 0 && sequences[sequences.length - 1] > held) held = sequences[sequences.length - 1];
  source.held = held;
  callback(null, { acked_sequence: held.toString() });
}

function dump() {
  const out = {};
  for (const [id, s] of sources) {
    const ordered = [...s.events.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const events = ordered.map((seq) => s.events.get(seq));
    out[id] = {
      held: Number(s.held),
      sequences: ordered.map(Number),
      kinds: events.map((e) => e.kind),
      regionCodes: events.map((e) => e.region_code),
      alarmEventIds: events.flatMap((e) => (e.data === 'incident' && e.incident ? e.incident.alarms.map((a) => a.event_id) : [])),
      duplicates: s.duplicates,
      calls: s.calls,
      gaps: s.gaps,
      invalid: s.invalid,
    };
  }
  return JSON.stringify({ sources: out, unauthenticated, grpcJsVersion });
}

const server = new grpc.Server();
server.addService(v1.CentreSink.service, { Deliver: deliver });

function shutdown(code) {
  clearTimeout(lifetime);
  server.forceShutdown();
  process.exit(code);
}

server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    process.stderr.write(`centre-sink.mjs: cannot bind: ${err.message}\n`);
    process.exit(2);
  }
  process.stdout.write(`READY ${port}\n`);

  const commands = createInterface({ input: process.stdin, terminal: false });
  commands.on('line', (line) => {
    const command = line.trim();
    if (command === 'dump') {
      process.stdout.write(dump() + '\n');
    } else if (command === 'exit') {
      shutdown(0);
    } else if (command !== '') {
      process.stderr.write(`centre-sink.mjs: unknown command '${command}'\n`);
    }
  });
  commands.on('close', () => shutdown(0));
});
