// A console or curl user of the JSON API written in Node with nothing but the built-in fetch: no gRPC, no generated
// code, no package. A vendor registers a camera, reads it back, another vendor and a caller without a key try to
// read it, and an operator reads the coverage report. Driven by
// tests/SharpEyes.Gateway.Tests/Http/NodeFetchClientTests.cs, which makes the assertions.
//
// Usage: node http-json.mjs <http://host:port> <vendor key> <other vendor's key> <operator key> <device id>
//
// Prints one JSON summary on stdout: each call's HTTP status and parsed body.
const [base, vendorKey, otherKey, operatorKey, deviceId] = process.argv.slice(2);
if (!base || !vendorKey || !otherKey || !operatorKey || !deviceId) {
  process.stderr.write('usage: node http-json.mjs <http://host:port> <vendor key> <other key> <operator key> <device id>\n');
  process.exit(64);
}

async function call(method, path, key, body) {
  const headers = {};
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: response.status, contentType: response.headers.get('content-type'), body: await response.json() };
}

const camera = {
  deviceId,
  kind: 'DEVICE_KIND_CAMERA',
  name: 'Node 东门',
  position: { lon: 114.6031, lat: 37.6061, datum: 'DATUM_WGS84' },
  camera: { azimuthDeg: 45, hfovDeg: 80, rangeM: 70 },
};

const summary = {
  registered: await call('POST', '/api/v1/devices', vendorKey, camera),
  read: await call('GET', `/api/v1/devices/${deviceId}`, vendorKey),
  otherVendor: await call('GET', `/api/v1/devices/${deviceId}`, otherKey),
  noKey: await call('GET', `/api/v1/devices/${deviceId}`, null),
  invalid: await call('POST', '/api/v1/devices', vendorKey, { ...camera, camera: { ...camera.camera, rangeM: 6000 } }),
  report: await call('GET', '/api/v1/coverage/report?regionPrefix=130127', operatorKey),
};
process.stdout.write(JSON.stringify(summary));
